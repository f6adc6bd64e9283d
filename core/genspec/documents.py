"""The documents a run saves, with one owner: ``results.json``, ``rows.json`` and
``verdict.json``.

Each is a frozen model with its schema version and ``to_json`` / ``from_json``:

- :class:`ResultsDocument` (``results.json``): what ran (roster, tasks, data
  fingerprints, prompt hashes) and every model's score per task (and per category);
- :class:`RowsDocument` (``rows.json``): per-item scores keyed by the item's position
  in the unsharded selection, no text, so shards can be merged and re-analysed;
- ``verdict.json`` is :class:`genspec.evidence.DomainEvidence`.

:class:`RunDocuments` carries the three together from the runner (or the shard merge)
to tracking and the report. Tracking logs them as they are; nothing else builds or
re-shapes these documents field by field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from genspec.axes.records import AxisSummary
from genspec.config.schema import ModelSpec
from genspec.evidence import (
    GENERALIST_VS_SPECIALIST,
    DomainEvidence,
    ModelTaskSummary,
    check_schema,
)

if TYPE_CHECKING:
    import pandas as pd

    from genspec.analysis import Analysis
    from genspec.results import ExampleResult

# /2 (issue 16): results.json adds ``statistics`` (the verdict, its task-level estimate,
# heterogeneity, prediction interval, equivalence per task, margin and plan hash);
# rows.json adds ``key``, a digest of each item's text, so repeats across a domain's
# tasks are found again when shards are merged, and ``cluster``, a digest of the item's
# cluster where its task declares one. /1 documents still read.
RESULTS_SCHEMA = "genspec.results/2"
ROWS_SCHEMA = "genspec.rows/2"
ROW_COLUMNS = (
    "task", "item", "model", "role", "split", "template", "category", "prediction",
    "correct", "invalid", "failed", "metrics", "key", "cluster",
)  # fmt: skip
_LABELLED = (ROW_COLUMNS.index("category"), ROW_COLUMNS.index("prediction"))


@dataclass(frozen=True)
class ModelEntry:
    """A roster model as ``results.json`` records it, with what the provider reported."""

    name: str
    id: str
    role: str
    backend: str
    base: str | None
    provider_models: tuple[str, ...] = ()
    system_fingerprints: tuple[str, ...] = ()
    best: bool = False  # declared its role's pick (the analysis must choose it again)
    matched: str | None = None
    facts: Mapping[str, str] = field(default_factory=dict)  # ModelSpec.facts(): size, date ...

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "role": self.role,
            "backend": self.backend,
            "base": self.base,
            "provider_models": list(self.provider_models),
            "system_fingerprints": list(self.system_fingerprints),
            "best": self.best,
            "matched": self.matched,
            "facts": dict(self.facts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelEntry:
        return cls(
            name=data["name"],
            id=data["id"],
            role=data["role"],
            backend=data["backend"],
            base=data["base"],
            provider_models=tuple(data.get("provider_models", ())),
            system_fingerprints=tuple(data.get("system_fingerprints", ())),
            best=bool(data.get("best", False)),
            matched=data.get("matched"),
            facts=dict(data.get("facts", {})),
        )

    def spec(self) -> ModelSpec:
        """The roster entry again, as far as the analysis needs it (name, role, base, and
        the declared choices ``best`` and ``matched``)."""
        return ModelSpec(
            name=self.name,
            id=self.id,
            role=self.role,
            backend=self.backend,
            base=self.base,
            best=self.best,
            matched=self.matched,
        )


@dataclass(frozen=True)
class TaskEntry:
    """A task as run: its test items' count and fingerprint, and the prompt used."""

    name: str
    n: int
    fingerprint: str
    prompt_hash: str
    origin: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n": self.n,
            "fingerprint": self.fingerprint,
            "prompt_hash": self.prompt_hash,
            "origin": self.origin,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskEntry:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class ResultsDocument:
    """``results.json``: the documented, stable summary of a run (see README)."""

    genspec_version: str
    created: str  # ISO 8601, UTC, seconds
    domain: str
    roster: str
    smoke: bool
    data: str
    prompt: str
    models: tuple[ModelEntry, ...]
    tasks: tuple[TaskEntry, ...]
    results: tuple[ModelTaskSummary, ...]
    by_category: tuple[ModelTaskSummary, ...]
    axes: tuple[AxisSummary, ...] = ()  # metrics of the axes beside accuracy (genspec.axes)
    statistics: Mapping[str, Any] = field(default_factory=dict)  # :func:`statistics`

    def to_json(self) -> dict[str, Any]:
        axes = {"axes": [a.to_json() for a in self.axes]} if self.axes else {}
        return {
            "schema": RESULTS_SCHEMA,
            "genspec_version": self.genspec_version,
            "created": self.created,
            "domain": self.domain,
            "roster": self.roster,
            "smoke": self.smoke,
            "data": self.data,
            "prompt": self.prompt,
            "models": [m.to_json() for m in self.models],
            "tasks": [t.to_json() for t in self.tasks],
            "results": [s.to_json() for s in self.results],
            "by_category": [s.to_json() for s in self.by_category],
            **axes,
            "statistics": dict(self.statistics),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResultsDocument:
        check_schema(data, RESULTS_SCHEMA)
        return cls(
            genspec_version=data["genspec_version"],
            created=data["created"],
            domain=data["domain"],
            roster=data["roster"],
            smoke=data["smoke"],
            data=data["data"],
            prompt=data["prompt"],
            models=tuple(ModelEntry.from_json(m) for m in data["models"]),
            tasks=tuple(TaskEntry.from_json(t) for t in data["tasks"]),
            results=tuple(ModelTaskSummary.from_json(r) for r in data["results"]),
            by_category=tuple(ModelTaskSummary.from_json(r) for r in data.get("by_category", [])),
            axes=tuple(AxisSummary.from_json(a) for a in data.get("axes", [])),
            statistics=dict(data.get("statistics", {})),
        )

    def with_analysis(self, analysis: Analysis, counts: Mapping[str, int]) -> ResultsDocument:
        """The same run with scores from ``analysis`` and ``counts`` test items per task
        (the shard merge: one shard's document, every shard's items)."""
        return replace(
            self,
            tasks=tuple(replace(t, n=int(counts.get(t.name, 0))) for t in self.tasks),
            results=analysis.summaries,
            by_category=analysis.categories,
            statistics=statistics(analysis.evidence),
        )


@dataclass(frozen=True)
class RowsDocument:
    """``rows.json``: one list per result row, in :data:`ROW_COLUMNS` order.

    ``item`` is the item's position in its task's test or dev file (the same in every
    shard), not its id; the only text is the item's category and the predicted label
    (statistics count the items two models answered differently). ``key`` is a digest
    of the item's text (:func:`genspec.stats.overlap.item_key`; "" when unknown),
    ``cluster`` one of its cluster ("" when its task declares none).
    """

    data: tuple[tuple[Any, ...], ...]

    @classmethod
    def build(
        cls,
        rows: Iterable[ExampleResult],
        positions: Mapping[tuple[str, str, str], int],
        keys: Mapping[tuple[str, str], str] | None = None,
        clusters: Mapping[tuple[str, str], str] | None = None,
    ) -> RowsDocument:
        """From result rows; ``positions`` maps (task, split, example id) to the position,
        ``keys`` and ``clusters`` (task, example id) to the item's text and cluster digests."""
        keys, clusters = keys or {}, clusters or {}
        return cls(
            tuple(
                (
                    r.task,
                    positions[r.task, r.split, r.example_id],
                    r.model,
                    r.role,
                    r.split,
                    r.template,
                    r.category,
                    r.prediction,
                    r.correct,
                    r.invalid,
                    r.error is not None,
                    dict(r.metrics),
                    keys.get((r.task, r.example_id), ""),
                    clusters.get((r.task, r.example_id), ""),
                )
                for r in rows
            )
        )

    def relabelled(self, label: Callable[[str], str]) -> RowsDocument:
        """The rows with category and prediction passed through ``label`` (the redactor
        under ``tracking.examples=redacted``)."""
        return RowsDocument(
            tuple(
                tuple(label(v) if i in _LABELLED else v for i, v in enumerate(row))
                for row in self.data
            )
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": ROWS_SCHEMA,
            "columns": list(ROW_COLUMNS),
            "data": [list(row) for row in self.data],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RowsDocument:
        check_schema(data, ROWS_SCHEMA)
        columns = data["columns"]
        order = [columns.index(c) if c in columns else None for c in ROW_COLUMNS]
        return cls(tuple(tuple("" if i is None else row[i] for i in order) for row in data["data"]))

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([list(row) for row in self.data], columns=list(ROW_COLUMNS))


@dataclass(frozen=True)
class RunDocuments:
    """A run's three documents, handed from the analysis to tracking and the report."""

    results: ResultsDocument
    rows: RowsDocument
    verdict: DomainEvidence


def statistics(evidence: DomainEvidence) -> dict[str, Any]:
    """``results.json``'s summary of the verdict: what a reader needs to quote it (the
    full detail is ``verdict.json``)."""
    head = evidence.headline
    return {
        "verdict": evidence.verdict.value,
        "alpha": evidence.alpha,
        "correction": evidence.correction,
        "margin": evidence.margin,
        "plan_sha256": evidence.plan_sha256,
        "task_level": None if head is None or head.estimate is None else head.estimate.to_json(),
        "item_weighted": None if head is None else head.to_json(),
        "equivalence": {
            c.task: {"tost_p": c.tost_p, "equivalent": c.equivalent}
            for c in evidence.comparisons
            if c.kind == GENERALIST_VS_SPECIALIST
        },
    }
