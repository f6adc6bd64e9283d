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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from genspec.config.schema import ModelSpec, ReportedScore, Role
from genspec.errors import ConfigError, UnknownNameError
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
    headline,
)
from genspec.fairness import MIXED
from genspec.rendering import ci_text, level, p_phrase, pct, pp
from genspec.stats.intervals import score_interval
from genspec.stats.multiple import CORRECTIONS, Correction, adjust
from genspec.stats.paired import PairedResult, paired_comparison
from genspec.stats.pooled import pooled_comparison
from genspec.stats.power import sensitivity
from genspec.stats.verdict import (
    Decision,
    DomainOutcome,
    Verdict,
    cross_domain_verdict,
    decide,
    domain_verdict,
)

if TYPE_CHECKING:
    import pandas as pd

TEST, DEV = "test", "dev"
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
    scoring: str = ""  # "mixed" when the sides were scored differently (genspec.fairness)
    size_matched: bool = False  # a specialist with ``matched:`` meets that generalist

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
            scoring=MIXED if MIXED_NOTE in evidence.notes else "",
        )


@dataclass(frozen=True)
class Analysis:
    """Everything the statistics say about one run's rows."""

    summaries: tuple[ModelTaskSummary, ...]
    categories: tuple[ModelTaskSummary, ...]  # per category of the tasks that ask for it
    evidence: DomainEvidence


def analyse(
    frame: pd.DataFrame,
    models: Sequence[ModelSpec],
    settings: Settings,
    by_category: Iterable[str] = (),
) -> Analysis:
    """Summaries, per-category summaries of ``by_category`` tasks, comparisons, verdict."""
    evidence = compare(
        frame,
        models,
        alpha=settings.alpha,
        correction=settings.correction,
        seed=settings.seed,
        n_boot=settings.n_boot,
        smoke=settings.smoke,
        domain=settings.domain,
        reported=settings.reported,
        scoring=settings.scoring,
        size_matched=settings.size_matched,
    )
    return Analysis(
        summaries=tuple(summarize(frame)),
        categories=tuple(summarize_by_category(frame, by_category)),
        evidence=evidence,
    )


# --- summaries ---------------------------------------------------------------------


def summarize(
    frame: pd.DataFrame, *, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> list[ModelTaskSummary]:
    """Score, interval, n, invalid rate and failed calls per task × model (test split).

    Wilson intervals for 0/1 scores, a seeded percentile bootstrap for other metrics.
    Ordered by task, then model, as they first appear in the table.
    """
    test = frame[frame["split"] == TEST]
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


def _pair(
    test: pd.DataFrame, kind: str, family: str, task: str, a: ModelSpec, b: ModelSpec
) -> _Pairing:
    """Inner join of two models' answered test rows on ``example_id``."""
    rows = test[test["task"] == task]
    sides = [rows[rows["model"] == m.name] for m in (a, b)]
    for model, side in zip((a, b), sides, strict=True):
        if side["example_id"].duplicated().any():
            raise ValueError(f"'{model.name}' has repeated example ids on task '{task}'")
    kept = ["example_id", "correct", *(["prediction"] if "prediction" in test else [])]
    answered = [side.loc[side["error"].isna(), kept] for side in sides]
    merged = answered[0].merge(answered[1], on="example_id", suffixes=("_a", "_b"))
    differ = merged["prediction_a"] != merged["prediction_b"] if "prediction" in test else None
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
    )


def _total(counts: Iterable[int | None]) -> int | None:
    """The sum, or None when any part is unknown."""
    values = list(counts)
    return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]


def _pool(pairings: Sequence[_Pairing]) -> _Pairing:
    """All of a family's pairs as one, for the pooled row (labels joined if they vary)."""
    first = pairings[0]
    return _Pairing(
        kind=first.kind,
        family=first.family,
        task=POOLED,
        model_a=" / ".join(dict.fromkeys(p.model_a for p in pairings)),
        role_a=first.role_a,
        model_b=" / ".join(dict.fromkeys(p.model_b for p in pairings)),
        role_b=first.role_b,
        a=np.concatenate([p.a for p in pairings]),
        b=np.concatenate([p.b for p in pairings]),
        unpaired=sum(p.unpaired for p in pairings),
        disagree=_total(p.disagree for p in pairings),
    )


def _comparison(
    pairing: _Pairing, result: PairedResult, p_adjusted: float, power_alpha: float, alpha: float
) -> Comparison:
    power = sensitivity(pairing.a, pairing.b, alpha=power_alpha)
    return Comparison(
        kind=pairing.kind,
        family=pairing.family,
        task=pairing.task,
        model_a=pairing.model_a,
        role_a=pairing.role_a,
        model_b=pairing.model_b,
        role_b=pairing.role_b,
        result=result,
        unpaired=pairing.unpaired,
        disagree=pairing.disagree,
        p_adjusted=p_adjusted,
        mde=power.mde,
        n_needed=power.n_needed,
        verdict=decide(result.difference, result.ci_low, result.ci_high, p_adjusted, alpha),
    )


def _family(
    pairings: Sequence[_Pairing], alpha: float, correction: Correction, seed: int, n_boot: int
) -> tuple[list[Comparison], Comparison]:
    """Per-task comparisons, p corrected across the family's tasks, and the pooled row.

    The interval level is 1 − α, so "CI above 0" and "p < α" speak of the same α.
    The per-task MDE is computed at α/m, the level the smallest of m p-values must
    clear under Holm (and Benjamini–Hochberg), so it promises no more than the
    corrected test delivers. The pooled row is one test per family: no correction.
    """
    options = {"confidence": 1 - alpha, "n_boot": n_boot, "seed": seed}
    results = [paired_comparison(p.a, p.b, **options) for p in pairings]
    adjusted = adjust([r.p_value for r in results], correction)
    rows = [
        _comparison(p, r, float(q), alpha / len(pairings), alpha)
        for p, r, q in zip(pairings, results, adjusted, strict=True)
    ]
    pooled = pooled_comparison([(p.a, p.b) for p in pairings], **options)
    return rows, _comparison(_pool(pairings), pooled, pooled.p_value, alpha, alpha)


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
    pairings: Sequence[_Pairing], alpha: float, correction: Correction, seed: int, n_boot: int
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
            rows, pooled_row = _family(usable, alpha, correction, seed, n_boot)
            comparisons += rows
            pooled.append(pooled_row)
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
    scoring: str = "",
    size_matched: bool = False,
) -> DomainEvidence:
    """Compare the roster's sides on every task of the test split, and decide.

    ``declared_best`` maps "generalist" / "specialist" to a roster model chosen
    before the run; otherwise the dev split (rows with ``split == "dev"``) chooses.
    ``reported`` published scores, as ``{(model, task): score}`` or the roster's
    ``ReportedScore`` entries, are kept for display only (tasks of this table only).
    """
    if correction not in CORRECTIONS:
        raise ConfigError(
            f"correction must be one of {', '.join(CORRECTIONS)}; got '{correction}'."
        )
    # a roster's ``best: true`` entries, unless the caller declares otherwise
    in_roster = {m.role.value: m.name for m in models if m.best}
    declared = _check_declared({**in_roster, **(declared_best or {})}, models)
    test = frame[frame["split"] == TEST]
    # a failed dev call scores 0 here as in the engine, so both rank alike
    dev = frame[frame["split"] == DEV]
    choices, pairings = _pairings(test, dev, models, declared, size_matched)
    comparisons, pooled, notes = _analyse(pairings, alpha, correction, seed, n_boot)
    unchosen = [f"{c.task}: no {c.role} chosen ({c.detail})" for c in choices if c.model is None]
    if scoring == MIXED:
        unchosen.insert(0, MIXED_NOTE)
    head = headline(pooled)
    decision = domain_verdict(
        head.verdict if head else None,
        {c.task: c.verdict for c in comparisons if c.kind == GENERALIST_VS_SPECIALIST},
    )
    return DomainEvidence(
        domain=domain,
        verdict=decision.verdict,
        reason=(f"{MIXED_NOTE} " if scoring == MIXED else "") + _explain(decision, head, alpha),
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
    )


def _explain(decision: Decision, head: Comparison | None, alpha: float) -> str:
    """The verdict's reason with the numbers behind it, and the MDE when inconclusive."""
    if head is None:
        return decision.reason
    result = head.result
    text = (
        f"{decision.reason}: generalist − specialist = {pp(result.difference)} points "
        f"({level(alpha)} CI {ci_text(result.ci_low, result.ci_high)}), "
        f"{p_phrase(result.p_value)}, "
        f"n = {result.n} paired items"
    )
    if decision.verdict is not Verdict.INCONCLUSIVE:
        return text
    if head.mde is None:
        return text + "; the two models never disagreed, so no detectable difference can be given"
    text += (
        f"; with this n only a difference of {100 * head.mde:.1f} points or more "
        "would be detected reliably (80% power)"
    )
    if head.n_needed is not None and head.n_needed > result.n:
        text += (
            f", and about {head.n_needed} paired items would be needed to detect the observed one"
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


def cross_domain(evidences: Sequence[DomainEvidence], *, alpha: float = 0.05) -> CrossDomainVerdict:
    """Does the generalist's advantage repeat across domains? One verdict for all."""
    lines = []
    for evidence in evidences:
        head = evidence.headline
        lines.append(
            DomainLine(
                domain=evidence.domain,
                verdict=evidence.verdict,
                smoke=evidence.smoke,
                n=head.result.n if head else None,
                difference=head.result.difference if head else None,
                ci_low=head.result.ci_low if head else None,
                ci_high=head.result.ci_high if head else None,
                p_value=head.result.p_value if head else None,
            )
        )
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
