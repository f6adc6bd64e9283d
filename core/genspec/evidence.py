"""From the per-example results table to evidence about the claim.

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
:mod:`genspec.stats`, and nothing here knows MLflow or backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from genspec.config.schema import ModelSpec, ReportedScore, Role
from genspec.errors import ConfigError, UnknownNameError
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

SCHEMA = "genspec.evidence/1"
CROSS_SCHEMA = "genspec.cross-domain/1"
TEST, DEV = "test", "dev"
GENERALIST_VS_SPECIALIST = "generalist_vs_specialist"
SPECIALIST_VS_BASE = "specialist_vs_base"
POOLED = "(pooled)"
SMOKE_LABEL = (
    "Smoke run on tiny bundled or stand-in models: it checks the pipeline and is not "
    "evidence about the claim."
)


@dataclass(frozen=True)
class ModelTaskSummary:
    """One model's score on one task's test items (None when it answered none).

    ``category`` is set for a per-category breakdown (empty: all the task's items);
    ``metrics`` are the means of the task's secondary per-item scores (ddx top-1).
    """

    model: str
    role: str
    task: str
    n: int  # answered items (failed calls excluded)
    score: float | None
    ci_low: float | None
    ci_high: float | None
    invalid_rate: float | None
    errors: int  # failed calls, left out of n
    category: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    """How the model on one side of the claim was chosen for one task."""

    task: str
    role: str
    model: str | None  # None: no choice could be made
    method: str  # "declared" | "dev" | "only" | "none"
    detail: str


@dataclass(frozen=True)
class Comparison:
    """Model a against model b on one task (or all of them, ``task == POOLED``).

    ``difference = score_a - score_b``: a is the generalist (or the specialist when
    compared with its base). ``p_adjusted`` is corrected across the family's tasks.
    """

    kind: str  # GENERALIST_VS_SPECIALIST | SPECIALIST_VS_BASE
    family: str  # the set of tasks corrected together
    task: str
    model_a: str
    role_a: str
    model_b: str
    role_b: str
    n: int  # paired items
    unpaired: int  # rows of either model without a partner (or with a failed call)
    score_a: float
    score_b: float
    difference: float
    ci_low: float
    ci_high: float
    test: str
    p_value: float
    p_adjusted: float
    a_only: int | None  # 0/1 scores: items only a got right
    b_only: int | None
    mde: float | None  # minimum detectable difference at 80% power for this n
    n_needed: int | None  # paired items needed to detect the observed difference
    verdict: Verdict
    # items the two models answered differently (right or wrong): how far an adapter
    # moved its base, even where accuracy does not change (None in older documents)
    disagree: int | None = None


@dataclass(frozen=True)
class ReportedRow:
    """A published score, shown beside measured ones and never tested."""

    model: str
    task: str
    score: float
    role: str = ""
    source: str = ""


@dataclass(frozen=True)
class DomainEvidence:
    """Everything the statistics found for one domain, and its verdict."""

    domain: str
    verdict: Verdict
    reason: str
    smoke: bool
    alpha: float
    correction: str
    seed: int
    n_boot: int
    choices: tuple[Choice, ...]
    comparisons: tuple[Comparison, ...]
    pooled: tuple[Comparison, ...]
    reported: tuple[ReportedRow, ...]
    notes: tuple[str, ...]

    @property
    def headline(self) -> Comparison | None:
        """The pooled generalist-vs-specialist comparison the verdict rests on."""
        return _headline(self.pooled)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``schema`` = ``genspec.evidence/1``); see :meth:`from_dict`."""
        return {
            "schema": SCHEMA,
            "domain": self.domain,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "smoke": self.smoke,
            "alpha": self.alpha,
            "correction": self.correction,
            "seed": self.seed,
            "n_boot": self.n_boot,
            "choices": [_plain(c) for c in self.choices],
            "comparisons": [_plain(c) for c in self.comparisons],
            "pooled": [_plain(c) for c in self.pooled],
            "reported": [_plain(r) for r in self.reported],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DomainEvidence:
        """Rebuild the evidence from :meth:`to_dict` output (e.g. read back from MLflow)."""
        _check_schema(data, SCHEMA)
        return cls(
            domain=data["domain"],
            verdict=Verdict(data["verdict"]),
            reason=data["reason"],
            smoke=data["smoke"],
            alpha=data["alpha"],
            correction=data["correction"],
            seed=data["seed"],
            n_boot=data["n_boot"],
            choices=tuple(_build(Choice, c) for c in data["choices"]),
            comparisons=tuple(_build(Comparison, c) for c in data["comparisons"]),
            pooled=tuple(_build(Comparison, c) for c in data["pooled"]),
            reported=tuple(_build(ReportedRow, r) for r in data["reported"]),
            notes=tuple(data["notes"]),
        )

    def to_markdown(self) -> str:
        """The verdict, comparison tables, choices, reported numbers and notes."""
        lines = self.markdown_head()
        for kind in (GENERALIST_VS_SPECIALIST, SPECIALIST_VS_BASE):
            table = comparison_table(self, kind)
            if table is not None:
                lines += [f"### {table.title}", "", table.legend, ""]
                lines += _table(list(table.headers), [list(row) for row in table.rows])
        lines += self.markdown_tail()
        return "\n".join(lines).rstrip() + "\n"

    def markdown_head(self) -> list[str]:
        """Markdown lines: the verdict, the smoke label and the reason."""
        lines = [f"## Verdict · {self.domain}: **{self.verdict.value.upper()}**", ""]
        if self.smoke:
            lines += [f"> {SMOKE_LABEL}", ""]
        return [*lines, self.reason[:1].upper() + self.reason[1:] + ".", ""]

    def markdown_tail(self) -> list[str]:
        """Markdown lines: how each side was chosen, published numbers and notes.

        A choice that is the same for every task (one model per role) is listed once.
        """
        lines: list[str] = []
        if self.choices:
            lines += ["### How each side was chosen (never on the test items)", ""]
            grouped: dict[tuple[str, str | None, str, str], list[str]] = {}
            for c in self.choices:
                grouped.setdefault((c.role, c.model, c.method, c.detail), []).append(c.task)
            tasks = {c.task for c in self.choices}
            for (role, model, method, detail), where in grouped.items():
                scope = "every task" if len(tasks) > 1 and set(where) == tasks else ", ".join(where)
                lines.append(f"- {scope} · {role}: {model or '—'} ({method}: {detail})")
            lines.append("")
        if self.reported:
            lines += ["### Published numbers (reported, not tested)", ""]
            lines += _table(
                ["model", "task", "role", "score %", "source"],
                [[r.model, r.task, r.role, _pct(r.score), r.source] for r in self.reported],
            )
        if self.notes:
            lines += ["### Notes", "", *[f"- {note}" for note in self.notes], ""]
        return lines


@dataclass(frozen=True)
class DomainLine:
    """One domain's headline in the cross-domain verdict (None: no comparison made)."""

    domain: str
    verdict: Verdict
    smoke: bool
    n: int | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


@dataclass(frozen=True)
class CrossDomainVerdict:
    """Does the pattern repeat across domains? (rule: :mod:`genspec.stats.verdict`)"""

    verdict: Verdict
    reason: str
    smoke: bool  # any domain came from a smoke run
    alpha: float
    domains: tuple[DomainLine, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CROSS_SCHEMA,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "smoke": self.smoke,
            "alpha": self.alpha,
            "domains": [_plain(d) for d in self.domains],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrossDomainVerdict:
        _check_schema(data, CROSS_SCHEMA)
        return cls(
            verdict=Verdict(data["verdict"]),
            reason=data["reason"],
            smoke=data["smoke"],
            alpha=data["alpha"],
            domains=tuple(_build(DomainLine, d) for d in data["domains"]),
        )

    def to_markdown(self) -> str:
        lines = [f"## Across domains: **{self.verdict.value.upper()}**", ""]
        if self.smoke:
            lines += [f"> {SMOKE_LABEL}", ""]
        lines += [self.reason[:1].upper() + self.reason[1:] + ".", ""]
        lines += _table(
            [
                "domain",
                "verdict",
                "n",
                "generalist − specialist (pp)",
                f"{_level(self.alpha)} CI",
                "p",
                "smoke",
            ],
            [
                [
                    d.domain,
                    d.verdict.value,
                    "—" if d.n is None else str(d.n),
                    _pp(d.difference),
                    _ci(d.ci_low, d.ci_high),
                    _p(d.p_value),
                    "yes" if d.smoke else "no",
                ]
                for d in self.domains
            ],
        )
        return "\n".join(lines).rstrip() + "\n"


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
            f"{name} {_pct(scores[name][0])}% ({scores[name][1]}, n={scores[name][2]})"
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
        unpaired=pairing.unpaired,
        disagree=pairing.disagree,
        **asdict(result),  # n, scores, difference, interval, test, p-value, discordant counts
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
) -> tuple[list[Choice], list[_Pairing]]:
    """The comparisons the roster's roles call for, with how each side was chosen."""
    by_name = {m.name: m for m in models}
    tasks = list(test["task"].unique())
    choices: list[Choice] = []
    pairings: list[_Pairing] = []
    for task in tasks:
        generalist = _choose(task, Role.GENERALIST.value, models, dev, declared)
        specialist = _choose(task, Role.SPECIALIST.value, models, dev, declared)
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


def _headline(pooled: Iterable[Comparison]) -> Comparison | None:
    return next((c for c in pooled if c.kind == GENERALIST_VS_SPECIALIST), None)


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
    reported: Mapping[tuple[str, str], float] | Iterable[ReportedScore] | None = None,
    domain: str = "",
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
    declared = _check_declared(declared_best or {}, models)
    test = frame[frame["split"] == TEST]
    dev = frame[(frame["split"] == DEV) & frame["error"].isna()]
    choices, pairings = _pairings(test, dev, models, declared)
    comparisons, pooled, notes = _analyse(pairings, alpha, correction, seed, n_boot)
    unchosen = [f"{c.task}: no {c.role} chosen ({c.detail})" for c in choices if c.model is None]
    headline = _headline(pooled)
    decision = domain_verdict(
        headline.verdict if headline else None,
        {c.task: c.verdict for c in comparisons if c.kind == GENERALIST_VS_SPECIALIST},
    )
    return DomainEvidence(
        domain=domain,
        verdict=decision.verdict,
        reason=_explain(decision, headline, alpha),
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


def _explain(decision: Decision, headline: Comparison | None, alpha: float) -> str:
    """The verdict's reason with the numbers behind it, and the MDE when inconclusive."""
    if headline is None:
        return decision.reason
    text = (
        f"{decision.reason}: generalist − specialist = {_pp(headline.difference)} points "
        f"({_level(alpha)} CI {_ci(headline.ci_low, headline.ci_high)}), "
        f"{_p_phrase(headline.p_value)}, "
        f"n = {headline.n} paired items"
    )
    if decision.verdict is not Verdict.INCONCLUSIVE:
        return text
    if headline.mde is None:
        return text + "; the two models never disagreed, so no detectable difference can be given"
    text += (
        f"; with this n only a difference of {100 * headline.mde:.1f} points or more "
        "would be detected reliably (80% power)"
    )
    if headline.n_needed is not None and headline.n_needed > headline.n:
        text += (
            f", and about {headline.n_needed} paired items would be needed to detect "
            "the observed one"
        )
    return text


def _reported_rows(
    reported: Mapping[tuple[str, str], float] | Iterable[ReportedScore] | None,
    tasks: Sequence[str],
) -> tuple[ReportedRow, ...]:
    if reported is None:
        return ()
    if isinstance(reported, Mapping):
        rows = [ReportedRow(model, task, float(score)) for (model, task), score in reported.items()]
    else:
        rows = [ReportedRow(r.model, r.task, r.score, r.role.value, r.source) for r in reported]
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
                n=head.n if head else None,
                difference=head.difference if head else None,
                ci_low=head.ci_low if head else None,
                ci_high=head.ci_high if head else None,
                p_value=head.p_value if head else None,
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


# --- serialisation and markdown ----------------------------------------------------


def _plain(row: Any) -> dict[str, Any]:
    """A dataclass as a JSON-able dict (verdicts as their string values)."""
    return {
        f.name: (value.value if isinstance(value, Verdict) else value)
        for f in fields(row)
        for value in [getattr(row, f.name)]
    }


def _build(cls: type, data: Mapping[str, Any]) -> Any:
    """The inverse of :func:`_plain`: strings back to verdicts where the field is one."""
    values = {f.name: data[f.name] for f in fields(cls) if f.name in data}  # new: defaults
    if "verdict" in values:
        values["verdict"] = Verdict(values["verdict"])
    return cls(**values)


def _check_schema(data: Mapping[str, Any], schema: str) -> None:
    if data.get("schema") != schema:
        raise ValueError(f"expected a '{schema}' document, got schema {data.get('schema')!r}")


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _total(counts: Iterable[int | None]) -> int | None:
    """The sum, or None when any part is unknown."""
    values = list(counts)
    return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]


def _share(count: int | None, n: int) -> str:
    return "—" if count is None or not n else f"{100 * count / n:.0f}"


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}"


def _ci(low: float | None, high: float | None) -> str:
    return "—" if low is None or high is None else f"{_pp(low)} to {_pp(high)}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _p_phrase(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


@dataclass(frozen=True)
class _Section:
    title: str
    side_a: str
    side_b: str
    words: Mapping[Verdict, str]  # how a verdict reads in this table


_SECTIONS = {
    GENERALIST_VS_SPECIALIST: _Section(
        "Generalist vs specialist",
        "generalist",
        "specialist",
        {Verdict.HOLDS: "holds", Verdict.FAILS: "fails", Verdict.INCONCLUSIVE: "inconclusive"},
    ),
    SPECIALIST_VS_BASE: _Section(
        "Specialist vs its base model",
        "specialist",
        "base",
        {
            Verdict.HOLDS: "specialist better",
            Verdict.FAILS: "base better",
            Verdict.INCONCLUSIVE: "inconclusive",
        },
    ),
}
_SHORT_HEADERS = {"diff (pp)": "diff pp", "p adj.": "p adj", "MDE (pp)": "MDE pp"}
_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


@dataclass(frozen=True)
class ComparisonTable:
    """One kind of comparison as text cells, for Markdown here and rich in the terminal."""

    title: str
    legend: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def comparison_table(
    evidence: DomainEvidence, kind: str, compact: bool = False
) -> ComparisonTable | None:
    """The per-task and pooled rows of one kind of comparison (None when there are none).

    ``compact`` leaves out what an 80-column terminal cannot fit and the results table
    and choice list already show (model names, their scores, the test's name); the
    Markdown and MLflow copies keep every column.
    """
    rows = [c for c in evidence.comparisons if c.kind == kind]
    if not rows:
        return None
    section = _SECTIONS[kind]
    a, b = section.side_a, section.side_b
    legend = (
        f"Difference = {a} − {b} in percentage points, on paired items; p adjusted across "
        f"tasks ({_CORRECTION_NAMES[evidence.correction]}); α = {evidence.alpha}. "
        "MDE: the smallest difference this n detects with 80% power."
    )
    if not compact:
        legend += " Differ: items the two models answered differently."
    else:  # no room for that column in 80 columns: the pooled share, in words
        legend += "".join(
            f" {c.model_a} and {c.model_b} answered {_share(c.disagree, c.n)}% of the "
            f"{c.n} items differently."
            for c in evidence.pooled
            if c.kind == kind == SPECIALIST_VS_BASE and c.disagree is not None
        )
    full = ("task", a, b, "n", f"{a} %", f"{b} %", "diff (pp)", f"{_level(evidence.alpha)} CI",
            "test", "p", "p adj.", "MDE (pp)", "differ %", "verdict")  # fmt: skip
    cells = []
    for row in [*rows, *(c for c in evidence.pooled if c.kind == kind)]:
        pooled = row.task == POOLED
        cells.append(
            (
                f"**{row.task}**" if pooled and not compact else row.task,
                row.model_a,
                row.model_b,
                str(row.n),
                _pct(row.score_a),
                _pct(row.score_b),
                _pp(row.difference),
                _ci(row.ci_low, row.ci_high),
                row.test,
                _p(row.p_value),
                "—" if pooled else _p(row.p_adjusted),
                _pct(row.mde),
                _share(row.disagree, row.n),
                section.words[row.verdict],
            )
        )
    keep = range(len(full))
    headers = full
    if compact:
        dropped = {a, b, f"{a} %", f"{b} %", "test", "differ %"}
        keep = [i for i, header in enumerate(full) if header not in dropped]
        headers = tuple(_SHORT_HEADERS.get(h, h) for h in full)
    return ComparisonTable(
        section.title,
        legend,
        tuple(headers[i] for i in keep),
        tuple(tuple(row[i] for i in keep) for row in cells),
    )
