"""The evidence model: what the statistics found, as frozen values with a JSON form.

These are the records :mod:`genspec.analysis` produces, :mod:`genspec.rendering`
prints and :mod:`genspec.documents` saves (``verdict.json`` is
:meth:`DomainEvidence.to_json`; each row of ``results.json`` is
:meth:`ModelTaskSummary.to_json`). Nothing here computes a statistic: reading a
document back never re-runs the analysis, and the analysis never formats text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from genspec.config.schema import ReportedScore
from genspec.stats.meta import Pooled, RandomEffects
from genspec.stats.paired import PairedResult
from genspec.stats.verdict import Verdict

# /2 (issue 16): Tango / t intervals, TOST against ``margin``, exact MDE, the planning n
# for a difference of ``margin`` (``n_for_margin`` replaces ``n_needed``), the
# task-level estimate of each pooled row and the plan's hash. /1 documents still read.
SCHEMA = "genspec.evidence/2"
CROSS_SCHEMA = "genspec.cross-domain/2"
_READABLE = {  # each document kind's current schema and the older ones still read
    SCHEMA: (SCHEMA, "genspec.evidence/1"),
    CROSS_SCHEMA: (CROSS_SCHEMA, "genspec.cross-domain/1"),
    "genspec.results/2": ("genspec.results/2", "genspec.results/1"),
    "genspec.rows/2": ("genspec.rows/2", "genspec.rows/1"),
}
GENERALIST_VS_SPECIALIST = "generalist_vs_specialist"
SPECIALIST_VS_BASE = "specialist_vs_base"
POOLED = "(pooled)"


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

    def to_json(self) -> dict[str, Any]:
        """One row of ``results.json`` (the score is named ``accuracy`` there; ``category``
        and ``metrics`` appear only when set)."""
        row = {
            "model": self.model,
            "role": self.role,
            "task": self.task,
            **({"category": self.category} if self.category else {}),
            "n": self.n,
            "accuracy": self.score,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "invalid_rate": self.invalid_rate,
            "errors": self.errors,
        }
        return {**row, "metrics": dict(self.metrics)} if self.metrics else row

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> ModelTaskSummary:
        """The inverse of :meth:`to_json`."""
        return cls(
            model=row["model"],
            role=row["role"],
            task=row["task"],
            n=row["n"],
            score=row["accuracy"],
            ci_low=row["ci_low"],
            ci_high=row["ci_high"],
            invalid_rate=row["invalid_rate"],
            errors=row["errors"],
            category=row.get("category", ""),
            metrics=dict(row.get("metrics", {})),
        )


@dataclass(frozen=True)
class Choice:
    """How the model on one side of the claim was chosen for one task."""

    task: str
    role: str
    model: str | None  # None: no choice could be made
    method: str  # "declared" | "dev" | "only" | "matched" | "none"
    detail: str


@dataclass(frozen=True)
class TaskEstimate:
    """A domain estimate over its k tasks, each task one unit (:mod:`genspec.stats.meta`).

    ``equal_weight`` carries the domain verdict (the average task); ``random_effects``
    is reported beside it with the heterogeneity (Q, I², τ²) and the 95% prediction
    interval for a new task. ``repeated`` items appeared in an earlier task of the
    domain and were left out before pooling.
    """

    k: int
    equal_weight: Pooled
    random_effects: RandomEffects
    repeated: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "equal_weight": asdict(self.equal_weight),
            "random_effects": asdict(self.random_effects),
            "repeated": self.repeated,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskEstimate:
        effects = dict(data["random_effects"])
        effects["pooled"] = Pooled(**effects["pooled"])
        effects["fixed"] = Pooled(**effects["fixed"])
        return cls(
            k=data["k"],
            equal_weight=Pooled(**data["equal_weight"]),
            random_effects=RandomEffects(**effects),
            repeated=data.get("repeated", 0),
        )


@dataclass(frozen=True)
class Comparison:
    """Model a against model b on one task (or all of them, ``task == POOLED``).

    ``result.difference = score_a - score_b``: a is the generalist (or the specialist
    when compared with its base). ``p_adjusted`` is corrected across the family's tasks.
    ``tost_p`` / ``equivalent``: the equivalence test against the run's margin. A pooled
    row (``task == POOLED``) is the item-weighted figure over the family's items, and
    carries the task-level ``estimate`` the domain verdict rests on.
    """

    kind: str  # GENERALIST_VS_SPECIALIST | SPECIALIST_VS_BASE
    family: str  # the set of tasks corrected together
    task: str
    model_a: str
    role_a: str
    model_b: str
    role_b: str
    result: PairedResult  # n, scores, difference, interval, test, p-value, discordant counts
    unpaired: int  # rows of either model without a partner (or with a failed call)
    p_adjusted: float
    mde: float | None  # smallest difference the test detects with 80% power (exact) at this n
    verdict: Verdict
    # items the two models answered differently (right or wrong): how far an adapter
    # moved its base, even where accuracy does not change (None in older documents)
    disagree: int | None = None
    tost_p: float | None = None
    equivalent: bool | None = None
    # planning: paired items the test needs to detect a difference of ``margin`` with
    # 80% power at this comparison's spread (never "to detect the observed difference")
    n_for_margin: int | None = None
    estimate: TaskEstimate | None = None  # pooled rows only

    def to_json(self) -> dict[str, Any]:
        """A flat JSON object: the paired result's fields sit beside the labels."""
        skip = ("result", "estimate")
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        estimate = {} if self.estimate is None else {"estimate": self.estimate.to_json()}
        return {**data, **_plain(self.result), "verdict": self.verdict.value, **estimate}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Comparison:
        """The inverse of :meth:`to_json`."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["result"] = _build(PairedResult, data)
        values["verdict"] = Verdict(data["verdict"])
        if data.get("estimate") is not None:
            values["estimate"] = TaskEstimate.from_json(data["estimate"])
        return cls(**values)


@dataclass(frozen=True)
class ReportedRow:
    """A published score, shown beside measured ones and never tested."""

    model: str
    task: str
    score: float
    role: str = ""
    source: str = ""

    @classmethod
    def of(cls, reported: ReportedScore) -> ReportedRow:
        """A roster's published score as a row of the evidence."""
        return cls(
            reported.model, reported.task, reported.score, reported.role.value, reported.source
        )


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
    margin: float | None = None  # equivalence margin, a fraction (None: a /1 document)
    plan_sha256: str | None = None  # the pre-registered plan the run was held to
    # the same analysis on each axis beside accuracy (genspec.axes), by axis name; saved
    # in verdict.json under "axes" only when a run measured one
    axes: Mapping[str, DomainEvidence] = field(default_factory=dict)

    @property
    def headline(self) -> Comparison | None:
        """The pooled generalist-vs-specialist comparison the verdict rests on."""
        return headline(self.pooled)

    def to_json(self) -> dict[str, Any]:
        """``verdict.json`` (``schema`` = ``genspec.evidence/2``); see :meth:`from_json`."""
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
            "comparisons": [c.to_json() for c in self.comparisons],
            "pooled": [c.to_json() for c in self.pooled],
            "reported": [_plain(r) for r in self.reported],
            "notes": list(self.notes),
            "margin": self.margin,
            "plan_sha256": self.plan_sha256,
            **({"axes": {k: v.to_json() for k, v in self.axes.items()}} if self.axes else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DomainEvidence:
        """Rebuild the evidence from :meth:`to_json` output (e.g. read back from MLflow)."""
        check_schema(data, SCHEMA)
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
            comparisons=tuple(Comparison.from_json(c) for c in data["comparisons"]),
            pooled=tuple(Comparison.from_json(c) for c in data["pooled"]),
            reported=tuple(_build(ReportedRow, r) for r in data["reported"]),
            notes=tuple(data["notes"]),
            margin=data.get("margin"),
            plan_sha256=data.get("plan_sha256"),
            axes={k: cls.from_json(v) for k, v in data.get("axes", {}).items()},
        )


@dataclass(frozen=True)
class DomainLine:
    """One domain's headline in the cross-domain verdict (None: no comparison made).

    ``difference`` .. ``p_value`` are the task-level estimate over ``tasks`` tasks that
    the domain verdict rests on; ``n`` the paired items.
    """

    domain: str
    verdict: Verdict
    smoke: bool
    n: int | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    tasks: int | None = None
    plan_sha256: str | None = None


@dataclass(frozen=True)
class CrossDomainVerdict:
    """Does the pattern repeat across domains? (rule: :mod:`genspec.stats.verdict`)"""

    verdict: Verdict
    reason: str
    smoke: bool  # any domain came from a smoke run
    alpha: float
    domains: tuple[DomainLine, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": CROSS_SCHEMA,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "smoke": self.smoke,
            "alpha": self.alpha,
            "domains": [_plain(d) for d in self.domains],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CrossDomainVerdict:
        check_schema(data, CROSS_SCHEMA)
        return cls(
            verdict=Verdict(data["verdict"]),
            reason=data["reason"],
            smoke=data["smoke"],
            alpha=data["alpha"],
            domains=tuple(_build(DomainLine, d) for d in data["domains"]),
        )


def headline(pooled: Iterable[Comparison]) -> Comparison | None:
    """The generalist-vs-specialist row among a domain's pooled comparisons."""
    return next((c for c in pooled if c.kind == GENERALIST_VS_SPECIALIST), None)


def check_schema(data: Mapping[str, Any], schema: str) -> None:
    """Refuse a document of another kind or version before reading any field of it."""
    if data.get("schema") not in _READABLE.get(schema, (schema,)):
        raise ValueError(f"expected a '{schema}' document, got schema {data.get('schema')!r}")


def _plain(row: Any) -> dict[str, Any]:
    """A flat dataclass as a JSON-able dict (verdicts as their string values)."""
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
