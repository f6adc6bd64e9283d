"""The verdict's statistics as the analysis uses them (issue 16): NaN scores, equivalence,
repeated items, the documents' new fields, and the verdict's error rates by simulation."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from test_evidence import ROSTER, row, table

from genspec.analysis import CLUSTER, ITEM_KEY, compare, cross_domain, summarize
from genspec.documents import RESULTS_SCHEMA, statistics
from genspec.errors import DataError, GenspecError
from genspec.evidence import GENERALIST_VS_SPECIALIST, DomainEvidence
from genspec.inference import family
from genspec.rendering import domain_markdown
from genspec.report import render
from genspec.results import to_frame
from genspec.stats.verdict import Verdict, domain_decision
from genspec.tracking.reader import StoredRun

GEN, SPEC, BASE = ROSTER


def tied(tasks: dict[str, int], discordant: float = 0.1) -> pd.DataFrame:
    """Both models at the same accuracy on every task: a share ``discordant`` of the
    items is right for one model only, half of them each way."""
    rows = []
    for task, n in tasks.items():
        each = round(n * discordant / 2)
        for i in range(n):
            gen = 1.0 if i < each or i >= 2 * each + n // 3 else 0.0
            spec = 1.0 if each <= i < 2 * each or i >= 2 * each + n // 3 else 0.0
            rows += [row(task, i, GEN, gen), row(task, i, SPEC, spec), row(task, i, BASE, spec)]
    return to_frame(rows)


def test_a_nan_score_is_refused_in_one_line_naming_model_task_and_item() -> None:
    rows = table({"gen": 0.7, "spec": 0.6, "base": 0.5}, tasks=("qa",), n=20)
    rows[5] = row("qa", 5, GEN, float("nan"))
    frame = to_frame(rows)
    for analysis in (lambda: compare(frame, ROSTER), lambda: summarize(frame)):
        with pytest.raises(
            DataError, match="model 'gen' has a NaN score on task 'qa', item 'qa-5'"
        ):
            analysis()
    failed = to_frame([*rows[:5], row("qa", 5, GEN, float("nan"), error="boom"), *rows[6:]])
    assert compare(failed, ROSTER).headline is not None  # a failed call is not an answer


def test_two_models_at_the_same_accuracy_on_3000_items_are_equivalent() -> None:
    one_task = compare(tied({"qa": 3000}), ROSTER, domain="medical", margin=0.03)
    (task,) = [c for c in one_task.comparisons if c.kind == GENERALIST_VS_SPECIALIST]
    assert task.equivalent and task.tost_p is not None and task.tost_p < 0.05
    assert task.verdict is Verdict.EQUIVALENT and one_task.verdict is Verdict.EQUIVALENT
    assert "only one task" in one_task.reason  # says what one task can and cannot show
    three = compare(tied({"a": 1000, "b": 1000, "c": 1000}), ROSTER, domain="law", margin=0.03)
    assert three.verdict is Verdict.EQUIVALENT
    assert cross_domain([one_task, three]).verdict is Verdict.EQUIVALENT
    # a margin the data cannot rule out leaves it inconclusive, never "holds"
    assert compare(tied({"qa": 3000}), ROSTER, margin=0.005).verdict is Verdict.INCONCLUSIVE


def test_items_repeated_across_tasks_are_counted_once_in_the_pooled_estimates() -> None:
    frame = to_frame(table({"gen": 0.8, "spec": 0.6, "base": 0.5}, tasks=("a", "b"), n=60))
    # the first 20 items of task b repeat items of task a (the same question text)
    frame[ITEM_KEY] = [
        f"{'a' if task == 'b' and int(item.split('-')[1]) < 20 else task}:{item.split('-')[1]}"
        for task, item in zip(frame["task"], frame["example_id"], strict=True)
    ]
    evidence = compare(frame, ROSTER)
    head = evidence.headline
    assert head is not None and head.estimate is not None
    assert [c.result.n for c in evidence.comparisons[:2]] == [60, 60]  # per task: all items
    assert head.result.n == 100 and head.estimate.repeated == 20
    assert any("b: 20 item(s) already asked" in note for note in evidence.notes)
    assert "20 repeated item(s)" in domain_markdown(evidence)


def test_verdict_json_and_results_json_carry_the_task_level_statistics() -> None:
    evidence = compare(
        to_frame(table({"gen": 0.8, "spec": 0.6, "base": 0.5}, tasks=("a", "b", "c"))),
        ROSTER,
        domain="medical",
        margin=0.04,
        plan_sha256="ab" * 32,
    )
    document = json.loads(json.dumps(evidence.to_json()))
    assert document["schema"] == "genspec.evidence/2" and document["margin"] == 0.04
    pooled = document["pooled"][0]
    assert {"tost_p", "equivalent", "n_for_margin", "mde"} <= set(pooled)
    spread = pooled["estimate"]["random_effects"]
    assert {"q", "i2", "tau2", "prediction_low", "prediction_high"} <= set(spread)
    assert DomainEvidence.from_json(document) == evidence
    summary = statistics(evidence)
    assert summary["plan_sha256"] == "ab" * 32 and summary["task_level"]["k"] == 3
    assert set(summary["equivalence"]) == {"a", "b", "c"}
    assert RESULTS_SCHEMA == "genspec.results/2"
    assert "pre-registered (plan abababababab)" in domain_markdown(evidence)
    # a document written before the bump still reads
    old = {**document, "schema": "genspec.evidence/1"}
    for key in ("margin", "plan_sha256"):
        old.pop(key)
    for comparison in [*old["comparisons"], *old["pooled"]]:
        for key in ("tost_p", "equivalent", "n_for_margin", "estimate"):
            comparison.pop(key, None)
    assert DomainEvidence.from_json(old).margin is None


def _domain(rng: np.random.Generator, effects: np.ndarray, sizes: tuple[int, ...]) -> Verdict:
    """One simulated domain through the analysis's own path: per-task Tango, Holm, TOST,
    the task-level estimate, and the domain rule."""
    pairs = {}
    for k, (effect, n) in enumerate(zip(effects, sizes, strict=True)):
        p_a, p_b = 0.6 + effect / 2, 0.6 - effect / 2
        pairs[f"t{k}"] = ((rng.random(n) < p_a).astype(float), (rng.random(n) < p_b).astype(float))
    found = family(
        pairs, dict.fromkeys(pairs), alpha=0.05, correction="holm", margin=0.03, with_power=False
    )
    verdicts = dict(zip(pairs, found.verdicts, strict=True))
    return domain_decision(verdicts, found.estimate.equal_weight).verdict


@pytest.mark.parametrize("spread", [0.0, 0.08], ids=["same-effect", "heterogeneous"])
def test_no_difference_holds_or_fails_at_most_alpha_over_two(spread: float) -> None:
    """One task of 1,000 items and three of 50 (where the item-weighted rule said
    "holds" 11.5% of the time): task effects drawn around 0 (sd ``spread``)."""
    rng = np.random.default_rng(16)
    reps = 300
    verdicts = [
        _domain(rng, rng.normal(0, spread, size=4), (1000, 50, 50, 50)) for _ in range(reps)
    ]
    bound = 0.025 + 2.5 * np.sqrt(0.025 * 0.975 / reps)  # α/2 plus simulation error
    for side in (Verdict.HOLDS, Verdict.FAILS):
        assert verdicts.count(side) / reps <= bound, (side, verdicts.count(side))


def test_the_same_rule_finds_a_real_difference() -> None:
    """The error-rate test is not passed by a rule that never decides: 12 points on
    every task is found (about half the time with three tasks of 50 items)."""
    rng = np.random.default_rng(17)
    verdicts = [_domain(rng, np.full(4, 0.12), (1000, 50, 50, 50)) for _ in range(40)]
    assert verdicts.count(Verdict.HOLDS) >= 12 and Verdict.FAILS not in verdicts


def test_a_task_with_clusters_gets_the_cluster_bootstrap_interval() -> None:
    """Five questions per case, answered alike within a case: the interval must count
    12 cases, not 60 independent items."""
    rows = []
    for case in range(12):
        gen, spec = float(case % 3 != 0), float(case % 2 == 0)
        for q in range(5):
            item = case * 5 + q
            rows += [row("qa", item, GEN, gen), row("qa", item, SPEC, spec)]
            rows += [row("qa", item, BASE, spec)]
    frame = to_frame(rows)
    independent = compare(frame, ROSTER).comparisons[0].result
    frame[CLUSTER] = [f"case{int(i.split('-')[1]) // 5}" for i in frame["example_id"]]
    clustered = compare(frame, ROSTER, seed=3).comparisons[0].result
    assert clustered.test == "cluster-bootstrap-percentile" and independent.test == "tango-score"
    assert clustered.difference == independent.difference
    width = clustered.ci_high - clustered.ci_low
    assert width > 1.5 * (independent.ci_high - independent.ci_low)
    assert compare(frame, ROSTER, seed=3).comparisons[0].result == clustered  # seeded


def test_clusters_that_all_moved_alike_do_not_collapse_the_interval() -> None:
    """Three cases, the generalist right and the specialist wrong on every item: a bare
    cluster bootstrap gives the point [1, 1] with p = 0; the item-level interval and test
    bound it instead."""
    rows = []
    for item in range(6):
        rows += [row("qa", item, GEN, 1.0), row("qa", item, SPEC, 0.0), row("qa", item, BASE, 0.0)]
    frame = to_frame(rows)
    frame[CLUSTER] = [f"case{int(i.split('-')[1]) // 2}" for i in frame["example_id"]]
    result = compare(frame, ROSTER, seed=3).comparisons[0].result
    assert result.test == "cluster-bootstrap-percentile"
    assert result.ci_high - result.ci_low > 0.3 and result.p_value > 0


def test_the_report_refuses_two_runs_of_one_domain_naming_them() -> None:
    evidence = compare(
        to_frame(table({"gen": 0.8, "spec": 0.6, "base": 0.5})), ROSTER, domain="legal"
    )
    runs = [
        StoredRun(run_id, "genspec-legal", "legal", dt.datetime(2026, 12, 6), evidence, None)
        for run_id in ("run-a", "run-b")
    ]
    with pytest.raises(GenspecError, match=r"legal: run-a, run-b.*one --run-id per domain"):
        render(runs, "json")


def test_a_new_tasks_prediction_interval_stays_within_the_possible_differences() -> None:
    """Three small tasks pointing opposite ways: the t_{k−2} prediction interval spans
    hundreds of points, but a difference of two accuracies lies in [−1, 1]."""
    from genspec.inference import paired, task_estimate

    right, wrong = np.array([1.0, 1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0, 0.0])
    tasks = [
        paired(a, b, alpha=0.05, margin=0.03, power_alpha=0.05, with_power=False)
        for a, b in ((right, wrong), (wrong, right), (right, right))
    ]
    spread = task_estimate(tasks, 0, alpha=0.05).random_effects
    assert spread.prediction_low == -1.0 and spread.prediction_high == 1.0


def test_two_tasks_intervals_stay_within_the_possible_differences_and_keep_their_test() -> None:
    """Two tasks that disagree: t with one degree of freedom gives an equal-weight interval
    of about ±250 points; it is cut to [−1, 1], and the p-value (the test) is untouched."""
    from genspec.inference import paired, task_estimate
    from genspec.stats.meta import equal_weight

    right, wrong = np.array([1.0, 1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0, 0.0])
    tasks = [
        paired(a, b, alpha=0.05, margin=0.03, power_alpha=0.05, with_power=False)
        for a, b in ((right, wrong), (right, right))
    ]
    estimate = task_estimate(tasks, 0, alpha=0.05)
    raw = equal_weight(
        [t.result.difference for t in tasks], [t.standard_error for t in tasks], confidence=0.95
    )
    assert raw.ci_low < -1 and raw.ci_high > 1  # what t_1 gives before the cut
    for pooled in (estimate.equal_weight, estimate.random_effects.pooled):
        assert (pooled.ci_low, pooled.ci_high) == (-1.0, 1.0)
    assert estimate.equal_weight.p_value == raw.p_value
    assert estimate.equal_weight.estimate == raw.estimate


def test_a_graded_mde_beyond_the_score_range_is_no_mde() -> None:
    """Scores lie in [0, 1]: at n = 2 with a wide spread the t-test's MDE is over one
    point of score, which no pair of models can differ by, so none is given; at n = 40
    the same spread gives a reachable MDE, and the two agree with t_mde itself."""
    from genspec.inference import sensitivity
    from genspec.stats.exact_power import t_mde
    from genspec.stats.graded import PAIRED_T

    small_a, small_b = np.array([0.9, 0.2]), np.array([0.3, 0.6])
    mde, planned = sensitivity(small_a, small_b, PAIRED_T, alpha=0.05, margin=0.05)
    assert t_mde(2, float(np.std(small_a - small_b, ddof=1))) > 1
    assert mde is None and planned is not None
    rng = np.random.default_rng(3)
    a, b = rng.uniform(size=40), rng.uniform(size=40)
    mde, _ = sensitivity(a, b, PAIRED_T, alpha=0.05, margin=0.05)
    assert mde == pytest.approx(t_mde(40, float(np.std(a - b, ddof=1))))
    assert 0 < mde < 1
