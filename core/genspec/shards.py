"""Split one run's items across workers (``shard=I/N``) and merge the shards back.

Assignment hashes (seed, task, example id), so it is seeded, needs no coordination
between workers, and is stable: adding items to a file moves no other item to another
shard. Sharding happens after the ``limit`` sample, so N shards partition exactly the
items an unsharded run would use. Dev items (prompt choice, best-of-role choice) are
not sharded: every shard must make the same choices, and the shared answer cache
makes the repeats cheap.

Each shard logs ``rows.json``: its per-item scores keyed by the item's position in
the unsharded selection, with no text. :func:`merge_rows` puts the shards' rows back
in the order an unsharded run produces them, so the statistics recomputed from them
are identical to an unsharded run's (the paired bootstrap depends on row order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genspec.errors import GenspecError

if TYPE_CHECKING:
    import pandas as pd

    from genspec.engine import DomainRun
    from genspec.task import Example

ROWS_SCHEMA = "genspec.rows/1"
ROW_COLUMNS = (
    "task", "item", "model", "role", "split", "template", "category", "prediction",
    "correct", "invalid", "failed", "metrics",
)  # fmt: skip
# Config keys that define *what* is measured; shards agree on all of them.
GROUP_KEYS = (
    "domain",
    "tasks",
    "limit",
    "seed",
    "prompt",
    "auto_prompts",
    "dev_limit",
    "shots",
    "max_new_tokens",
    "data",
    "roster",
    "judge",
)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/3"`` → ``Shard(2, 3)``; anything else is a ``ValueError`` naming the form."""
        left, sep, right = text.partition("/")
        if not (sep and left.strip().isdigit() and right.strip().isdigit()):
            raise ValueError("shard must look like I/N, e.g. shard=1/3")
        shard = cls(int(left), int(right))
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"shard {text}: I must be between 1 and N")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(seed: int, task: str, example_id: str, count: int) -> int:
    """The 1-based shard an item belongs to (a hash, so every worker agrees)."""
    digest = hashlib.sha256(f"{seed}\x00{task}\x00{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def take(examples: Sequence[Example], shard: Shard, seed: int, task: str) -> tuple[Example, ...]:
    """The items of ``shard``, in their original order."""
    return tuple(ex for ex in examples if shard_of(seed, task, ex.id, shard.count) == shard.index)


def group_key(plain_config: Mapping[str, Any], fingerprints: Mapping[str, str]) -> str:
    """Same for every shard of one measurement, different when anything measured differs.

    ``fingerprints`` (task → hash of its test items) tie the group to the data itself,
    not just to its configuration.
    """
    chosen = {k: plain_config.get(k) for k in GROUP_KEYS}
    blob = json.dumps([chosen, dict(sorted(fingerprints.items()))], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def rows_document(
    run: DomainRun,
    positions: Mapping[tuple[str, str, str], int],
    label: Callable[[str], str] = str,
) -> dict:
    """``rows.json``: per-item scores keyed by position in the unsharded selection.

    ``positions`` maps (task, split, example id) to that position. No example ids and
    no text but the item's category and the predicted label (statistics count the items
    two models answered differently), passed through ``label`` (the redactor under
    ``tracking.examples=redacted``).
    """
    data = [
        [
            r.task,
            positions[r.task, r.split, r.example_id],
            r.model,
            r.role,
            r.split,
            r.template,
            label(r.category),
            label(r.prediction),
            r.correct,
            r.invalid,
            r.error is not None,
            dict(r.metrics),
        ]
        for r in run.rows
    ]
    return {"schema": ROWS_SCHEMA, "columns": list(ROW_COLUMNS), "data": data}


def merge_rows(documents: Sequence[Mapping[str, Any]], results: Mapping[str, Any]) -> pd.DataFrame:
    """One results table from every shard's ``rows.json``, in unsharded-run order.

    The engine's order is: per model (roster order), per task (run order), the dev
    rows, then the test rows in selection order. Dev rows are the same in every shard,
    so they are taken once. ``results`` is one shard's ``results.json`` (the order of
    models and tasks). Raises if an item appears in two shards.
    """
    import pandas as pd

    frames = []
    for number, document in enumerate(documents):
        if document.get("schema") != ROWS_SCHEMA:
            raise GenspecError("A shard run has no readable rows.json; re-run that shard.")
        frame = pd.DataFrame(document["data"], columns=document["columns"])
        frames.append(frame if number == 0 else frame[frame["split"] == "test"])
    rows = pd.concat(frames, ignore_index=True)
    if rows.duplicated(["task", "item", "model", "split", "template"]).any():
        raise GenspecError("Shards overlap: an item was scored by two shards of one group.")
    model_order = {m["name"]: i for i, m in enumerate(results["models"])}
    task_order = {t["name"]: i for i, t in enumerate(results["tasks"])}
    rows["_model"] = rows["model"].map(model_order)
    rows["_task"] = rows["task"].map(task_order)
    rows["_split"] = (rows["split"] == "test").astype(int)
    # dev rows run template by template, in the same template order for every model
    templates = {name: i for i, name in enumerate(dict.fromkeys(rows["template"]))}
    rows["_template"] = rows["template"].map(templates)
    keys = ["_model", "_task", "_split", "_template", "item"]
    return rows.sort_values(keys, kind="stable").drop(columns=keys[:4]).reset_index(drop=True)


def as_results_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The columns statistics read (``example_id`` from the position, ``error`` a flag)."""
    frame = rows.copy()
    frame["example_id"] = frame["item"].astype(str)
    frame["error"] = frame["failed"].map(lambda failed: "failed" if failed else None)
    return frame


def merge(
    documents: Sequence[Mapping[str, Any]],
    results: Mapping[str, Any],
    verdict: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``results.json`` and ``verdict.json`` of the whole run, from its shards.

    ``results`` and ``verdict`` are one shard's documents: they give the roster, task
    order and the statistics settings (seed, alpha, correction, bootstrap size); the
    scores and the verdict are recomputed from every shard's rows.
    """
    from genspec.config.schema import ModelSpec, ReportedScore
    from genspec.evidence import compare, summarize, summarize_by_category
    from genspec.tracking.mlflow_log import _summary_row

    rows = merge_rows(documents, results)
    frame = as_results_frame(rows)
    models = [
        ModelSpec(name=m["name"], id=m["id"], role=m["role"], backend=m["backend"], base=m["base"])
        for m in results["models"]
    ]
    evidence = compare(
        frame,
        models,
        alpha=verdict["alpha"],
        correction=verdict["correction"],
        seed=verdict["seed"],
        n_boot=verdict["n_boot"],
        smoke=verdict["smoke"],
        domain=verdict["domain"],
        reported=[ReportedScore(**r) for r in verdict["reported"]],
    )
    test = rows[rows["split"] == "test"]
    counts = test.drop_duplicates(["task", "item"]).groupby("task").size()
    merged = dict(results)
    merged["tasks"] = [{**t, "n": int(counts.get(t["name"], 0))} for t in results["tasks"]]
    merged["results"] = [_summary_row(s) for s in summarize(frame)]
    if "by_category" in results:
        tasks = {r["task"] for r in results["by_category"]}
        merged["by_category"] = [_summary_row(s) for s in summarize_by_category(frame, tasks)]
    return merged, evidence.to_dict()
