"""From the per-example results table to evidence about the claim.

:func:`analyse` is the one path from a run's rows to everything the statistics say
about it (summaries, per-category summaries, comparisons and verdict): ``genspec
run``, the shard merge and anything that re-analyses saved rows call it, so they
cannot drift apart.

:func:`summarize` gives each model's score per task with a 95% interval.
:func:`compare` makes the comparisons the roster's roles call for, corrects for
testing several tasks, pools them per domain and states a verdict:

- the best generalist against the best specialist on each task (the claim itself);
- every specialist against its declared ``base`` model (did domain training help?).

"Best" is never chosen on the test items: picking the winner on the items that then
measure it inflates its lead (the winner's curse). The choice is, in this order, the
one the user declared, the best on the dev split, or the only model of that role;
the evidence records which. With several candidates and neither, no comparison is
made and a note says how to fix that.

Rows whose model call failed (``error``) are not answers: they are left out of
scores and comparisons and counted apart. Invalid (unparseable) answers count as
wrong, and their rate is reported. Items are paired by ``example_id``.

Published numbers (``reported``) are shown beside the measured ones, flagged, and
never enter a test or a verdict.

This module knows the results table and roster entries; statistics live in
:mod:`genspec.stats`, the records it produces in :mod:`genspec.evidence`, and
nothing here knows MLflow, backends or the saved documents' layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from genspec import inference
from genspec.config.schema import ModelSpec, ReportedScore, Role
from genspec.errors import ConfigError, DataError, UnknownNameError
from genspec.evidence import (
    GENERALIST_VS_SPECIALIST,
    POOLED,
    SPECIALIST_VS_BASE,
    Choice,
    Comparison,
    CrossDomainVerdict,
    DomainEvidence,
    DomainLine,
    ModelTaskSummary,
    ReportedRow,
    TaskEstimate,
    headline,
)
from genspec.fairness import MIXED
from genspec.formats import ci_text, level, p_phrase, pct, pp
from genspec.grading.summary import (
    DEFAULT_FLOOR,
    JUDGE_CHECK,
    PanelSummary,
    hold_to_panel,
    judge_checks_in,
    panel_summaries,
)
from genspec.inference import Paired
from genspec.stats.intervals import score_interval
from genspec.stats.multiple import CORRECTIONS, Correction
from genspec.stats.verdict import (
    Decision,
    DomainOutcome,
    Verdict,
    cross_domain_verdict,
    domain_decision,
)

if TYPE_CHECKING:
    import pandas as pd

TEST, DEV = "test", "dev"
MARGIN = 0.03  # the equivalence margin when none is given (config key ``margin``)
ITEM_KEY = "item_key"  # optional column: the item's text key, to find repeats across tasks
CLUSTER = "cluster"  # optional column: the item's cluster (a case, an abstract), if declared
MIXED_NOTE = (
    "Scoring: MIXED. The sides of a comparison were scored by different methods "
    "(allow_mixed_scoring=true), so it compares two measurements as much as two models."
)
Reported = Mapping[tuple[str, str], float] | Iterable[ReportedScore | ReportedRow]


@dataclass(frozen=True)
class Settings:
    """What an analysis depends on besides the rows: saved in ``verdict.json``, so a
    merge or a re-read reproduces the run's numbers exactly."""

    domain: str = ""
    smoke: bool = False
    seed: int = 0
    alpha: float = 0.05
    correction: Correction = "holm"
    n_boot: int = 2000
    reported: tuple[ReportedRow, ...] = ()
    margin: float = MARGIN
    plan_sha256: str | None = None
    scoring: str = ""  # "mixed" when the sides were scored differently (genspec.fairness)
    size_matched: bool = False  # a specialist with ``matched:`` meets that generalist
    # a judge panel's Krippendorff alpha below this makes its task inconclusive
    agreement_floor: float = DEFAULT_FLOOR
    # tasks that check the judges, never compared: found from the rows' ballots, or (for
    # rows that keep none, such as a merge of shards) from the verdict's notes
    judge_checks: tuple[str, ...] = ()

    @classmethod
    def of(cls, evidence: DomainEvidence) -> Settings:
        """The settings a saved analysis was made with."""
        return cls(
            domain=evidence.domain,
            smoke=evidence.smoke,
            seed=evidence.seed,
            alpha=evidence.alpha,
            correction=evidence.correction,  # type: ignore[arg-type]
            n_boot=evidence.n_boot,
            reported=evidence.reported,
            margin=MARGIN if evidence.margin is None else evidence.margin,
            plan_sha256=evidence.plan_sha256,
            scoring=MIXED if MIXED_NOTE in evidence.notes else "",
            judge_checks=judge_checks_in(evidence.notes),
        )


@dataclass(frozen=True)
class Analysis:
    """Everything the statistics say about one run's rows."""

    summaries: tuple[ModelTaskSummary, ...]
    categories: tuple[ModelTaskSummary, ...]  # per category of the tasks that ask for it
    evidence: DomainEvidence
    panels: tuple[PanelSummary, ...] = ()  # the judge panel of each task graded by rubric


def analyse(
    frame: pd.DataFrame,
    models: Sequence[ModelSpec],
    settings: Settings,
    by_category: Iterable[str] = (),
) -> Analysis:
    """Summaries, per-category summaries of ``by_category`` tasks, comparisons, verdict.

    A task that checks the judges (the panel graded the data's own answers, the same
    for every model) is neither summarised per model nor compared: its numbers are the
    judges', reported by their panel (:mod:`genspec.grading.summary`).
    """
    panels = tuple(panel_summaries(frame, settings.agreement_floor))
    checks = {p.task for p in panels if p.checks_judges} | set(settings.judge_checks)
    # every model's row of a check of the judges holds the panel's grade of the same given
    # answer: no model's score, so no per-model summary either (the panel reports it)
    models_rows = frame[~frame["task"].isin(list(checks))] if checks else frame
    evidence = compare(
        models_rows,
        models,
        alpha=settings.alpha,
        correction=settings.correction,
        seed=settings.seed,
        n_boot=settings.n_boot,
        smoke=settings.smoke,
        domain=settings.domain,
        reported=settings.reported,
        margin=settings.margin,
        plan_sha256=settings.plan_sha256,
        scoring=settings.scoring,
        size_matched=settings.size_matched,
    )
    evidence = hold_to_panel(evidence, panels)
    unseen = sorted(checks - {p.task for p in panels})  # no ballots: named, not measured
    if unseen:
        notes = tuple(f"{task}: {JUDGE_CHECK}." for task in unseen)
        evidence = replace(evidence, notes=(*evidence.notes, *notes))
    return Analysis(
        summaries=tuple(summarize(models_rows)),
        categories=tuple(summarize_by_category(models_rows, by_category)),
        evidence=evidence,
        panels=panels,
    )


# --- summaries ---------------------------------------------------------------------


def _test_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The test split, refusing a NaN score of an answered item.

    A NaN is a scorer's bug, not a wrong answer: counting it as 0 or as invalid would
    hide it, and left in it would turn every statistic of its task into NaN. So the run
    stops and names the first one (failed calls are not answers and are not checked).
    """
    test = frame[frame["split"] == TEST]
    bad = test[test["error"].isna() & test["correct"].isna()]
    if not bad.empty:
        first = bad.iloc[0]
        raise DataError(
            f"model '{first['model']}' has a NaN score on task '{first['task']}', item "
            f"'{first['example_id']}' ({len(bad)} NaN score(s) in all): the task's scorer "
            "must return a number in [0, 1]; fix the scorer or its metric and re-run."
        )
    return test


def summarize(
    frame: pd.DataFrame, *, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> list[ModelTaskSummary]:
    """Score, interval, n, invalid rate and failed calls per task × model (test split).

    Wilson intervals for 0/1 scores, a seeded percentile bootstrap for other metrics.
    Ordered by task, then model, as they first appear in the table.
    """
    test = _test_rows(frame)
    summaries = []
    for task in test["task"].unique():
        task_rows = test[test["task"] == task]
        for model in task_rows["model"].unique():
            rows = task_rows[task_rows["model"] == model]
            summaries.append(_summary(rows, "", confidence=confidence, n_boot=n_boot, seed=seed))
    return summaries


def summarize_by_category(
    frame: pd.DataFrame,
    tasks: Iterable[str],
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> list[ModelTaskSummary]:
    """Like :func:`summarize`, per category of the named tasks (e.g. ddx's diagnostic,
    treatment and rare-disease cases): a pooled score can hide where a model fails."""
    test = frame[(frame["split"] == TEST) & frame["task"].isin(list(tasks))]
    summaries = []
    for task in test["task"].unique():
        task_rows = test[test["task"] == task]
        for category in sorted(c for c in task_rows["category"].unique() if c):
            in_category = task_rows[task_rows["category"] == category]
            for model in in_category["model"].unique():
                rows = in_category[in_category["model"] == model]
                summaries.append(
                    _summary(rows, category, confidence=confidence, n_boot=n_boot, seed=seed)
                )
    return summaries


def _summary(
    rows: pd.DataFrame, category: str, *, confidence: float, n_boot: int, seed: int
) -> ModelTaskSummary:
    """One model's rows of one task (or category): score, interval, secondary metrics."""
    model, task, role = (str(rows[c].iloc[0]) for c in ("model", "task", "role"))
    failed = rows["error"].notna()
    answered = rows[~failed]
    errors = int(failed.sum())
    if answered.empty:
        return ModelTaskSummary(model, role, task, 0, None, None, None, None, errors, category)
    interval = score_interval(
        answered["correct"].to_numpy(dtype=float), confidence=confidence, n_boot=n_boot, seed=seed
    )
    import pandas as pd

    # an item without a metric (next step of a diagnostic case) does not count for it
    secondary = pd.DataFrame(list(answered["metrics"])) if "metrics" in answered else None
    metrics = {} if secondary is None else {k: float(v) for k, v in secondary.mean().items()}
    return ModelTaskSummary(
        model=model,
        role=role,
        task=task,
        n=len(answered),
        score=interval.estimate,
        ci_low=interval.low,
        ci_high=interval.high,
        invalid_rate=float(answered["invalid"].mean()),
        errors=errors,
        category=category,
        metrics=metrics,
    )


# --- choosing the sides ------------------------------------------------------------


def _check_declared(declared: Mapping[str, str], models: Sequence[ModelSpec]) -> dict[str, str]:
    """``{"generalist": name, "specialist": name}``, each a roster model of that role."""
    sides = (Role.GENERALIST.value, Role.SPECIALIST.value)
    for role, name in declared.items():
        if role not in sides:
            raise ConfigError(f"declared_best keys must be {' or '.join(sides)}; got '{role}'.")
        names = [m.name for m in models if m.role.value == role]
        if name not in names:
            raise UnknownNameError(f"declared best {role}", name, names)
    return dict(declared)


def _dev_scores(rows: pd.DataFrame) -> dict[str, tuple[float, str, int]]:
    """Each model's dev accuracy with its best prompt template: (score, template, n).

    Under ``prompt=auto`` that is the template the model answers the test items with,
    so models are ranked as they will be compared.
    """
    by_template = rows.groupby(["model", "template"])["correct"].agg(["mean", "size"])
    scores: dict[str, tuple[float, str, int]] = {}
    for (model, template), (mean, size) in by_template.iterrows():
        if model not in scores or mean > scores[model][0]:
            scores[model] = (float(mean), str(template), int(size))
    return scores


def _choose(
    task: str, role: str, models: Sequence[ModelSpec], dev: pd.DataFrame, declared: dict[str, str]
) -> Choice:
    """Pick one side's model for ``task``: declared, else best on dev, else the only one."""
    candidates = [m.name for m in models if m.role.value == role]
    if role in declared:
        return Choice(task, role, declared[role], "declared", "declared before the run")
    rows = dev[(dev["task"] == task) & dev["model"].isin(candidates)]
    if not rows.empty:
        scores = _dev_scores(rows)
        ranked = [name for name in candidates if name in scores]
        best = max(ranked, key=lambda name: scores[name][0])  # ties: roster order
        detail = "best on the dev split: " + ", ".join(
            f"{name} {pct(scores[name][0])}% ({scores[name][1]}, n={scores[name][2]})"
            for name in ranked
        )
        return Choice(task, role, best, "dev", detail)
    if len(candidates) == 1:
        return Choice(task, role, candidates[0], "only", f"the only {role} in the roster")
    detail = (
        f"{len(candidates)} {role}s, no dev rows and none declared; "
        "declare one (declared_best) or score the dev split"
        if candidates
        else f"no {role} in the roster"
    )
    return Choice(task, role, None, "none", detail)


# --- comparisons -------------------------------------------------------------------


@dataclass(frozen=True)
class _Pairing:
    """Both models' scores on the items they both answered, in the same order."""

    kind: str
    family: str
    task: str
    model_a: str
    role_a: str
    model_b: str
    role_b: str
    a: np.ndarray
    b: np.ndarray
    unpaired: int
    disagree: int | None  # None: the table has no predictions (e.g. merged shards)
    keys: tuple[str, ...] | None = None  # each paired item's text key (None: not known)
    clusters: tuple[str, ...] | None = None  # each paired item's cluster (None: independent)


def _pair(
    test: pd.DataFrame, kind: str, family: str, task: str, a: ModelSpec, b: ModelSpec
) -> _Pairing:
    """Inner join of two models' answered test rows on ``example_id``."""
    rows = test[test["task"] == task]
    sides = [rows[rows["model"] == m.name] for m in (a, b)]
    for model, side in zip((a, b), sides, strict=True):
        if side["example_id"].duplicated().any():
            raise ValueError(f"'{model.name}' has repeated example ids on task '{task}'")
    optional = [c for c in ("prediction", ITEM_KEY, CLUSTER) if c in test]
    kept = ["example_id", "correct", *optional]
    answered = [side.loc[side["error"].isna(), kept] for side in sides]
    merged = answered[0].merge(answered[1], on="example_id", suffixes=("_a", "_b"))
    differ = merged["prediction_a"] != merged["prediction_b"] if "prediction" in test else None
    keys = merged[f"{ITEM_KEY}_a"] if ITEM_KEY in test else None
    clusters = merged[f"{CLUSTER}_a"] if CLUSTER in test else None
    return _Pairing(
        kind=kind,
        family=family,
        task=task,
        model_a=a.name,
        role_a=a.role.value,
        model_b=b.name,
        role_b=b.role.value,
        a=merged["correct_a"].to_numpy(dtype=float),
        b=merged["correct_b"].to_numpy(dtype=float),
        unpaired=len(sides[0]) + len(sides[1]) - 2 * len(merged),
        disagree=None if differ is None else int(differ.sum()),
        keys=None if keys is None or not all(keys) else tuple(keys),
        clusters=None if clusters is None or not all(clusters) else tuple(clusters),
    )


def _total(counts: Iterable[int | None]) -> int | None:
    """The sum, or None when any part is unknown."""
    values = list(counts)
    return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]


def _pool(pairings: Sequence[_Pairing], n: int) -> _Pairing:
    """The labels of a family's pooled row (joined where they vary); its scores are the
    ``n`` items left once repeats are dropped, computed by :func:`genspec.inference.family`."""
    first = pairings[0]
    return _Pairing(
        kind=first.kind,
        family=first.family,
        task=POOLED,
        model_a=" / ".join(dict.fromkeys(p.model_a for p in pairings)),
        role_a=first.role_a,
        model_b=" / ".join(dict.fromkeys(p.model_b for p in pairings)),
        role_b=first.role_b,
        a=np.empty(n),
        b=np.empty(n),
        unpaired=sum(p.unpaired for p in pairings),
        disagree=_total(p.disagree for p in pairings),
    )


def _comparison(
    pairing: _Pairing,
    found: Paired,
    p_adjusted: float,
    verdict: Verdict,
    estimate: TaskEstimate | None = None,
) -> Comparison:
    return Comparison(
        kind=pairing.kind,
        family=pairing.family,
        task=pairing.task,
        model_a=pairing.model_a,
        role_a=pairing.role_a,
        model_b=pairing.model_b,
        role_b=pairing.role_b,
        result=found.result,
        unpaired=pairing.unpaired,
        disagree=pairing.disagree,
        p_adjusted=p_adjusted,
        mde=found.mde,
        verdict=verdict,
        tost_p=found.equivalence.p_value,
        equivalent=found.equivalence.equivalent,
        n_for_margin=found.n_for_margin,
        estimate=estimate,
    )


def _family(
    pairings: Sequence[_Pairing],
    alpha: float,
    correction: Correction,
    margin: float,
    resampling: inference.Resampling,
) -> tuple[list[Comparison], Comparison, list[str]]:
    """Per-task comparisons, p corrected across the family's tasks, the pooled row (the
    item-weighted figure, a secondary line, carrying the task-level estimate the domain
    verdict rests on), and a note per task that lost repeated items
    (:func:`genspec.inference.family` computes the numbers)."""
    found = inference.family(
        {p.task: (p.a, p.b) for p in pairings},
        {p.task: p.keys for p in pairings},
        alpha=alpha,
        correction=correction,
        margin=margin,
        clusters={p.task: p.clusters for p in pairings},
        resampling=resampling,
    )
    rows = [
        _comparison(p, f, q, v)
        for p, f, q, v in zip(pairings, found.tasks, found.adjusted, found.verdicts, strict=True)
    ]
    pooled = _comparison(
        _pool(pairings, found.pooled.result.n),
        found.pooled,
        found.pooled.result.p_value,
        found.pooled_verdict,
        found.estimate,
    )
    notes = [
        f"{task}: {count} item(s) already asked in an earlier task of the domain were left "
        "out of the pooled estimates"
        for task, count in found.repeated.items()
        if count
    ]
    return rows, pooled, notes


def _pairings(
    test: pd.DataFrame,
    dev: pd.DataFrame,
    models: Sequence[ModelSpec],
    declared: dict[str, str],
    size_matched: bool = False,
) -> tuple[list[Choice], list[_Pairing]]:
    """The comparisons the roster's roles call for, with how each side was chosen.

    With ``size_matched`` the chosen specialist meets the generalist its ``matched:``
    names (one of its own size, often built on its own base) instead of the best one.
    """
    by_name = {m.name: m for m in models}
    tasks = list(test["task"].unique())
    choices: list[Choice] = []
    pairings: list[_Pairing] = []
    for task in tasks:
        generalist = _choose(task, Role.GENERALIST.value, models, dev, declared)
        specialist = _choose(task, Role.SPECIALIST.value, models, dev, declared)
        matched = by_name[specialist.model].matched if specialist.model else None
        if size_matched and matched:
            detail = f"size-matched to {specialist.model} (size_matched=true)"
            generalist = Choice(task, Role.GENERALIST.value, matched, "matched", detail)
        choices += [generalist, specialist]
        if generalist.model and specialist.model:
            a, b = by_name[generalist.model], by_name[specialist.model]
            kind = GENERALIST_VS_SPECIALIST
            pairings.append(_pair(test, kind, kind, task, a, b))
    for model in models:
        if model.role is Role.SPECIALIST and model.base:
            family = f"{SPECIALIST_VS_BASE}:{model.name}"
            base = by_name[model.base]
            pairings += [
                _pair(test, SPECIALIST_VS_BASE, family, task, model, base) for task in tasks
            ]
    return choices, pairings


def _analyse(
    pairings: Sequence[_Pairing],
    alpha: float,
    correction: Correction,
    margin: float,
    resampling: inference.Resampling,
) -> tuple[list[Comparison], list[Comparison], list[str]]:
    """Per-task and pooled comparisons for every family, and notes on what was left out."""
    comparisons: list[Comparison] = []
    pooled: list[Comparison] = []
    notes: list[str] = []
    for family in dict.fromkeys(p.family for p in pairings):
        members = [p for p in pairings if p.family == family]
        usable = [p for p in members if p.a.size > 0]
        notes += [
            f"{p.task}: {p.model_a} and {p.model_b} have no answered items in common"
            for p in members
            if p.a.size == 0
        ]
        if usable:
            rows, pooled_row, repeated = _family(usable, alpha, correction, margin, resampling)
            comparisons += rows
            pooled.append(pooled_row)
            notes += repeated
    notes += [
        f"{c.task}: {c.unpaired} rows of {c.model_a} or {c.model_b} had no partner "
        "(a missing item or a failed call) and were left out"
        for c in comparisons
        if c.unpaired
    ]
    return comparisons, pooled, notes


def compare(
    frame: pd.DataFrame,
    models: Sequence[ModelSpec],
    *,
    alpha: float = 0.05,
    correction: Correction = "holm",
    seed: int = 0,
    n_boot: int = 2000,
    smoke: bool = False,
    declared_best: Mapping[str, str] | None = None,
    reported: Reported | None = None,
    domain: str = "",
    margin: float = MARGIN,
    plan_sha256: str | None = None,
    scoring: str = "",
    size_matched: bool = False,
) -> DomainEvidence:
    """Compare the roster's sides on every task of the test split, and decide.

    ``declared_best`` maps "generalist" / "specialist" to a roster model chosen
    before the run; otherwise the dev split (rows with ``split == "dev"``) chooses.
    ``reported`` published scores, as ``{(model, task): score}`` or the roster's
    ``ReportedScore`` entries, are kept for display only (tasks of this table only).
    ``margin`` is the equivalence margin (a fraction: 0.03 is 3 points);
    ``plan_sha256`` the pre-registered plan the run was held to, if any.
    """
    if correction not in CORRECTIONS:
        raise ConfigError(
            f"correction must be one of {', '.join(CORRECTIONS)}; got '{correction}'."
        )
    # a roster's ``best: true`` entries, unless the caller declares otherwise
    in_roster = {m.role.value: m.name for m in models if m.best}
    declared = _check_declared({**in_roster, **(declared_best or {})}, models)
    test = _test_rows(frame)
    # a failed dev call scores 0 here as in the engine, so both rank alike
    dev = frame[frame["split"] == DEV]
    choices, pairings = _pairings(test, dev, models, declared, size_matched)
    resampling = inference.Resampling(n_boot=n_boot, seed=seed)
    comparisons, pooled, notes = _analyse(pairings, alpha, correction, margin, resampling)
    unchosen = [f"{c.task}: no {c.role} chosen ({c.detail})" for c in choices if c.model is None]
    if scoring == MIXED:
        unchosen.insert(0, MIXED_NOTE)
    head = headline(pooled)
    decision = domain_decision(
        {c.task: c.verdict for c in comparisons if c.kind == GENERALIST_VS_SPECIALIST},
        head.estimate.equal_weight if head and head.estimate else None,
    )
    return DomainEvidence(
        domain=domain,
        verdict=decision.verdict,
        reason=(f"{MIXED_NOTE} " if scoring == MIXED else "")
        + _explain(decision, head, alpha, margin),
        smoke=smoke,
        alpha=alpha,
        correction=correction,
        seed=seed,
        n_boot=n_boot,
        choices=tuple(choices),
        comparisons=tuple(comparisons),
        pooled=tuple(pooled),
        reported=_reported_rows(reported, list(test["task"].unique())),
        notes=tuple(unchosen + notes),
        margin=margin,
        plan_sha256=plan_sha256,
    )


def _explain(decision: Decision, head: Comparison | None, alpha: float, margin: float) -> str:
    """The verdict's reason with the numbers behind it: the task-level estimate first,
    random effects and heterogeneity beside it, the item-weighted figure last, and,
    when inconclusive, what this n could detect and what a planned run would need."""
    if head is None or head.estimate is None:
        return decision.reason
    equal, spread = head.estimate.equal_weight, head.estimate.random_effects
    result, k = head.result, head.estimate.k
    text = (
        f"{decision.reason}. Task-level estimate (the average of {k} task(s)): "
        f"generalist − specialist = {pp(equal.estimate)} points "
        f"({level(alpha)} CI {ci_text(equal.ci_low, equal.ci_high)}), {p_phrase(equal.p_value)}"
    )
    if k >= 2:
        text += (
            f"; random effects {pp(spread.pooled.estimate)} "
            f"({ci_text(spread.pooled.ci_low, spread.pooled.ci_high)}), "
            f"Q = {spread.q:.1f}, I² = {100 * spread.i2:.0f}%"
        )
    if spread.prediction_low is not None and spread.prediction_high is not None:
        text += (
            f", 95% prediction interval for a new task "
            f"{ci_text(spread.prediction_low, spread.prediction_high)}"
        )
    text += (
        f"; item-weighted {pp(result.difference)} points "
        f"({ci_text(result.ci_low, result.ci_high)}) over n = {result.n} paired items"
    )
    if decision.verdict is not Verdict.INCONCLUSIVE:
        return text
    if head.mde is None and head.disagree == 0:
        return text + "; the two models never disagreed, so no detectable difference can be given"
    if head.mde is None:
        return text + "; on so few items no difference of any size is detectable with 80% power"
    text += f"; on these items the test detects {100 * head.mde:.1f} points or more with 80% power"
    if head.n_for_margin is not None:
        text += (
            f", and a planned run needs about {head.n_for_margin} paired items to detect "
            f"{100 * margin:g} points (the equivalence margin)"
        )
    return text


def _reported_rows(reported: Reported | None, tasks: Sequence[str]) -> tuple[ReportedRow, ...]:
    if reported is None:
        return ()
    if isinstance(reported, Mapping):
        rows = [ReportedRow(model, task, float(score)) for (model, task), score in reported.items()]
    else:
        rows = [r if isinstance(r, ReportedRow) else ReportedRow.of(r) for r in reported]
    return tuple(r for r in rows if r.task in tasks)


# --- across domains ----------------------------------------------------------------


def _domain_line(evidence: DomainEvidence) -> DomainLine:
    """One domain's figure for the cross-domain table and its Bonferroni check: the
    task-level estimate with three or more tasks; with one or two, whose domain verdict
    is what every task says, the item-weighted figure over their items (an interval
    over one or two tasks says almost nothing), as in ``/1`` documents."""
    head = evidence.headline
    if head is None:
        return DomainLine(
            evidence.domain, evidence.verdict, evidence.smoke, None, None, None, None, None,
            plan_sha256=evidence.plan_sha256,
        )  # fmt: skip
    k = head.estimate.k if head.estimate else None
    figure = head.estimate.equal_weight if head.estimate and head.estimate.k >= 3 else None
    result = head.result
    return DomainLine(
        domain=evidence.domain,
        verdict=evidence.verdict,
        smoke=evidence.smoke,
        n=result.n,
        difference=figure.estimate if figure else result.difference,
        ci_low=figure.ci_low if figure else result.ci_low,
        ci_high=figure.ci_high if figure else result.ci_high,
        p_value=figure.p_value if figure else result.p_value,
        tasks=k,
        plan_sha256=evidence.plan_sha256,
    )


def cross_domain(evidences: Sequence[DomainEvidence], *, alpha: float = 0.05) -> CrossDomainVerdict:
    """Does the generalist's advantage repeat across domains? One verdict for all."""
    lines = [_domain_line(evidence) for evidence in evidences]
    decision = cross_domain_verdict(
        [DomainOutcome(d.domain, d.verdict, d.p_value) for d in lines], alpha
    )
    return CrossDomainVerdict(
        verdict=decision.verdict,
        reason=decision.reason,
        smoke=any(e.smoke for e in evidences),
        alpha=alpha,
        domains=tuple(lines),
    )
