"""From constructed result tables to comparisons and verdicts."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from genspec.analysis import compare, cross_domain, summarize
from genspec.config.schema import ModelSpec, ReportedScore
from genspec.errors import ConfigError, UnknownNameError
from genspec.evidence import (
    GENERALIST_VS_SPECIALIST,
    POOLED,
    SPECIALIST_VS_BASE,
    CrossDomainVerdict,
    DomainEvidence,
)
from genspec.rendering import SMOKE_LABEL, cross_markdown, domain_markdown
from genspec.results import ExampleResult, to_frame
from genspec.stats.exact_power import binary_power
from genspec.stats.intervals import wilson_interval
from genspec.stats.verdict import Verdict

GEN = ModelSpec(name="gen", id="g", role="generalist")
SPEC = ModelSpec(name="spec", id="s", role="specialist", base="base")
BASE = ModelSpec(name="base", id="b", role="base")
LONE_SPEC = ModelSpec(name="spec", id="s", role="specialist")
ROSTER = [GEN, SPEC, BASE]


def row(task: str, item: int, model: ModelSpec, correct: float, **extra: object) -> ExampleResult:
    values = {
        "task": task,
        "example_id": f"{task}-{item}",
        "model": model.name,
        "role": model.role.value,
        "prediction": "A",
        "gold": "A" if correct == 1 else "B",
        "correct": correct,
        "invalid": False,
        "category": "",
        "prompt": "",
        "raw_output": "",
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": None,
        "latency_s": 0.0,
        "cached": False,
        "error": None,
        **extra,
    }
    return ExampleResult(**values)  # type: ignore[arg-type]


def table(
    accuracy: dict[str, float],
    *,
    models: list[ModelSpec] = ROSTER,
    tasks: tuple[str, ...] = ("qa", "exam"),
    n: int = 200,
    split: str = "test",
    seed: int = 0,
) -> list[ExampleResult]:
    """Rows where each model is right with its given probability, on the same items."""
    rng = np.random.default_rng(seed)
    return [
        row(task, i, model, float(rng.random() < accuracy[model.name]), split=split)
        for task in tasks
        for model in models
        for i in range(n)
    ]


def test_holds_when_the_generalist_is_clearly_better() -> None:
    frame = to_frame(table({"gen": 0.85, "spec": 0.6, "base": 0.5}))
    evidence = compare(frame, ROSTER, domain="medical")
    assert evidence.verdict is Verdict.HOLDS
    assert {c.verdict for c in evidence.comparisons if c.kind == GENERALIST_VS_SPECIALIST} == {
        Verdict.HOLDS
    }
    assert evidence.headline is not None and evidence.headline.result.n == 400
    assert "holds" in domain_markdown(evidence).lower()


def test_fails_when_the_specialist_is_clearly_better() -> None:
    frame = to_frame(table({"gen": 0.5, "spec": 0.8, "base": 0.5}))
    assert compare(frame, ROSTER).verdict is Verdict.FAILS


def test_inconclusive_reports_the_exact_mde_and_a_planning_n_never_the_observed_one() -> None:
    frame = to_frame(table({"gen": 0.62, "spec": 0.6, "base": 0.6}, n=40, seed=3))
    evidence = compare(frame, ROSTER, margin=0.05)
    assert evidence.verdict is Verdict.INCONCLUSIVE
    head = evidence.headline
    assert head is not None and head.mde is not None and head.n_for_margin is not None
    a, b = (frame[(frame["model"] == m)]["correct"].to_numpy() for m in ("gen", "spec"))
    discordance = float(np.mean(a != b))
    # the MDE is that of the test the verdict uses (Tango), by exact power
    power = binary_power(head.result.n, head.mde, discordance, alpha=0.05, test="tango")
    assert power == pytest.approx(0.8, abs=1e-3)
    assert binary_power(head.n_for_margin, 0.05, discordance, test="tango") >= 0.8
    assert f"{100 * head.mde:.1f} points" in evidence.reason
    assert f"about {head.n_for_margin} paired items to detect 5 points" in evidence.reason
    assert "observed" not in evidence.reason


def test_best_model_is_chosen_on_dev_never_on_test() -> None:
    other = ModelSpec(name="gen2", id="g2", role="generalist")
    models = [GEN, other, LONE_SPEC]
    # "gen" is best on dev with its best template; "gen2" would win on test, or on dev
    # averaged over templates: neither may decide.
    zero_shot = {"gen": 0.95, "gen2": 0.6, "spec": 0.6}
    few_shot = {"gen": 0.1, "gen2": 0.6, "spec": 0.6}
    dev = [
        replace(r, template=template)
        for template, accuracy in [("zero_shot", zero_shot), ("few_shot", few_shot)]
        for r in table(accuracy, models=models, split="dev", n=60, seed=len(template))
    ]
    test = table({"gen": 0.55, "gen2": 0.95, "spec": 0.6}, models=models, seed=1)
    evidence = compare(to_frame(dev + test), models)
    assert {c.model_a for c in evidence.comparisons} == {"gen"}
    generalist = [c for c in evidence.choices if c.role == "generalist"]
    assert {c.method for c in generalist} == {"dev"}
    assert "zero_shot" in generalist[0].detail and "gen2" in generalist[0].detail


def test_declared_choice_and_no_choice_without_dev() -> None:
    other = ModelSpec(name="gen2", id="g2", role="generalist")
    models = [GEN, other, LONE_SPEC]
    frame = to_frame(table({"gen": 0.6, "gen2": 0.9, "spec": 0.6}, models=models))
    undecided = compare(frame, models)
    assert undecided.comparisons == () and undecided.verdict is Verdict.INCONCLUSIVE
    assert any("declared_best" in note for note in undecided.notes)
    declared = compare(frame, models, declared_best={"generalist": "gen"})
    assert {c.model_a for c in declared.comparisons} == {"gen"}
    assert {c.method for c in declared.choices if c.role == "generalist"} == {"declared"}
    with pytest.raises(UnknownNameError):
        compare(frame, models, declared_best={"generalist": "spec"})
    with pytest.raises(ConfigError):
        compare(frame, models, correction="bonferroni")  # type: ignore[arg-type]


def test_each_specialist_is_compared_with_its_base() -> None:
    frame = to_frame(table({"gen": 0.6, "spec": 0.8, "base": 0.5}))
    evidence = compare(frame, ROSTER)
    base_rows = [c for c in evidence.comparisons if c.kind == SPECIALIST_VS_BASE]
    assert [(c.task, c.model_a, c.model_b) for c in base_rows] == [
        ("qa", "spec", "base"),
        ("exam", "spec", "base"),
    ]
    assert {c.family for c in base_rows} == {"specialist_vs_base:spec"}
    assert all(c.verdict is Verdict.HOLDS for c in base_rows)
    assert [c.task for c in evidence.pooled] == [POOLED, POOLED]


def test_pairing_is_an_inner_join_that_drops_unmatched_and_failed_items() -> None:
    rows = table({"gen": 0.7, "spec": 0.6, "base": 0.5}, tasks=("qa",), n=50)
    rows = [r for r in rows if not (r.model == "spec" and r.example_id in {"qa-0", "qa-1"})]
    rows.append(row("qa", 99, GEN, 1.0))  # only the generalist has this item
    rows = [
        row("qa", 5, SPEC, 0.0, error="timeout") if (r.model, r.example_id) == ("spec", "qa-5")
        else r
        for r in rows
    ]  # fmt: skip
    evidence = compare(to_frame(rows), ROSTER)
    (main,) = [c for c in evidence.comparisons if c.kind == GENERALIST_VS_SPECIALIST]
    assert main.result.n == 47  # 50 items, minus 2 missing and 1 failed for the specialist
    assert main.unpaired == 5  # gen's qa-0, qa-1, qa-5 and qa-99 rows; spec's failed qa-5
    assert any("no partner" in note for note in evidence.notes)


def test_corrections_and_reported_numbers() -> None:
    frame = to_frame(table({"gen": 0.7, "spec": 0.6, "base": 0.5}, tasks=("a", "b", "c")))
    holm = compare(frame, ROSTER)
    bh = compare(frame, ROSTER, correction="bh")
    holm_p = [c.p_adjusted for c in holm.comparisons]
    bh_p = [c.p_adjusted for c in bh.comparisons]
    assert all(q_bh <= q_holm for q_bh, q_holm in zip(bh_p, holm_p, strict=True))
    assert [c.result.p_value for c in holm.comparisons] == [
        c.result.p_value for c in bh.comparisons
    ]

    reported = [
        ReportedScore(model="Med-PaLM 2", task="a", score=0.865, role="generalist", source="x"),
        ReportedScore(model="Other", task="elsewhere", score=0.5, role="specialist", source="y"),
    ]
    with_reported = compare(frame, ROSTER, reported=reported)
    assert [r.model for r in with_reported.reported] == ["Med-PaLM 2"]
    assert with_reported.comparisons == holm.comparisons  # never enters a test
    assert "reported" in domain_markdown(with_reported)
    mapping = compare(frame, ROSTER, reported={("Med-PaLM 2", "b"): 0.8})
    assert mapping.reported[0].score == 0.8


def test_summaries_exclude_failed_calls_and_count_invalid_answers() -> None:
    rows = [row("qa", i, GEN, float(i < 6)) for i in range(10)]
    rows += [row("qa", 10 + i, GEN, 0.0, error="boom") for i in range(2)]
    rows += [row("qa", 20 + i, GEN, 0.0, invalid=True) for i in range(2)]
    rows += [row("qa", i, SPEC, 0.5 + i / 40) for i in range(10)]
    summaries = summarize(to_frame(rows))
    gen, spec = summaries
    assert (gen.model, gen.n, gen.errors) == ("gen", 12, 2)
    assert gen.invalid_rate == pytest.approx(2 / 12)
    expected = wilson_interval(6, 12)
    assert (gen.score, gen.ci_low, gen.ci_high) == (expected.estimate, expected.low, expected.high)
    assert spec.ci_low is not None and spec.ci_low < spec.score < spec.ci_high  # bootstrap


def test_evidence_round_trips_through_json() -> None:
    rows = table({"gen": 0.8, "spec": 0.6, "base": 0.55}, n=60)
    rows += [row("qa", 1000 + i, SPEC, 0.3 + i / 100) for i in range(5)]  # a non-binary tail
    evidence = compare(
        to_frame(rows), ROSTER, domain="medical", smoke=True, reported={("X", "qa"): 0.7}
    )
    restored = DomainEvidence.from_json(json.loads(json.dumps(evidence.to_json())))
    assert restored == evidence
    assert SMOKE_LABEL in domain_markdown(restored)
    verdict = cross_domain([evidence, replace(evidence, domain="finance")])
    assert CrossDomainVerdict.from_json(json.loads(json.dumps(verdict.to_json()))) == verdict
    assert verdict.smoke and "medical" in cross_markdown(verdict)
    with pytest.raises(ValueError, match="schema"):
        DomainEvidence.from_json({"schema": "other"})


def test_cross_domain_verdict_from_evidence() -> None:
    good = to_frame(table({"gen": 0.85, "spec": 0.6, "base": 0.5}))
    bad = to_frame(table({"gen": 0.5, "spec": 0.85, "base": 0.5}))
    medical = compare(good, ROSTER, domain="medical")
    finance = compare(good, ROSTER, domain="finance", seed=1)
    legal = compare(bad, ROSTER, domain="legal")
    assert cross_domain([medical, finance]).verdict is Verdict.HOLDS
    assert cross_domain([medical]).verdict is Verdict.INCONCLUSIVE
    assert cross_domain([medical, finance, legal]).verdict is Verdict.FAILS


def test_empty_table_gives_an_inconclusive_verdict() -> None:
    frame = pd.DataFrame(to_frame([]))
    assert summarize(frame) == []
    assert compare(frame, ROSTER).verdict is Verdict.INCONCLUSIVE
