"""Split one run's items across workers (``shard=I/N``) and merge the shards back.

Assignment hashes (seed, task, example id), so it is seeded, needs no coordination
between workers, and is stable: adding items to a file moves no other item to another
shard. Sharding happens after the ``limit`` sample, so N shards partition exactly the
items an unsharded run would use. Dev items (prompt choice, best-of-role choice) are
not sharded: every shard must make the same choices, and the shared answer cache
makes the repeats cheap.

Each shard logs ``rows.json`` (:class:`genspec.documents.RowsDocument`): its per-item
scores keyed by the item's position in the unsharded selection, with no text.
:func:`merge_rows` puts the shards' rows back in the order an unsharded run produces
them, so the statistics recomputed from them are identical to an unsharded run's
(the paired bootstrap depends on row order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from genspec.config.shard import Shard
from genspec.errors import GenspecError

if TYPE_CHECKING:
    import pandas as pd

    from genspec.documents import ResultsDocument, RowsDocument
    from genspec.evidence import DomainEvidence
    from genspec.task import Example

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
    "judges",
    "agreement_floor",
)


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


def merge_rows(documents: Sequence[RowsDocument], results: ResultsDocument) -> pd.DataFrame:
    """One results table from every shard's ``rows.json``, in unsharded-run order.

    The engine's order is: per model (roster order), per task (run order), the dev
    rows, then the test rows in selection order. Dev rows are the same in every shard,
    so they are taken once. ``results`` is one shard's ``results.json`` (the order of
    models and tasks). Raises if an item appears in two shards.
    """
    import pandas as pd

    frames = []
    for number, document in enumerate(documents):
        frame = document.frame()
        frames.append(frame if number == 0 else frame[frame["split"] == "test"])
    rows = pd.concat(frames, ignore_index=True)
    if rows.duplicated(["task", "item", "model", "split", "template"]).any():
        raise GenspecError("Shards overlap: an item was scored by two shards of one group.")
    model_order = {m.name: i for i, m in enumerate(results.models)}
    task_order = {t.name: i for i, t in enumerate(results.tasks)}
    rows["_model"] = rows["model"].map(model_order)
    rows["_task"] = rows["task"].map(task_order)
    rows["_split"] = (rows["split"] == "test").astype(int)
    # dev rows run template by template, in the same template order for every model
    templates = {name: i for i, name in enumerate(dict.fromkeys(rows["template"]))}
    rows["_template"] = rows["template"].map(templates)
    keys = ["_model", "_task", "_split", "_template", "item"]
    return rows.sort_values(keys, kind="stable").drop(columns=keys[:4]).reset_index(drop=True)


def as_results_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The columns statistics read (``example_id`` from the position, ``error`` a flag,
    the item's text and cluster digests)."""
    from genspec.analysis import CLUSTER, ITEM_KEY

    frame = rows.copy()
    frame["example_id"] = frame["item"].astype(str)
    frame["error"] = frame["failed"].map(lambda failed: "failed" if failed else None)
    frame[ITEM_KEY] = frame["key"]
    frame[CLUSTER] = frame["cluster"]
    # rows.json keeps no item text, so no judge ballots: a merged run has no panel summary
    frame["extra"] = [{} for _ in range(len(frame))]
    frame["cached"] = False
    return frame


def merge(
    documents: Sequence[RowsDocument], results: ResultsDocument, verdict: DomainEvidence
) -> tuple[ResultsDocument, DomainEvidence]:
    """``results.json`` and ``verdict.json`` of the whole run, from its shards.

    ``results`` and ``verdict`` are one shard's documents: they give the roster, task
    order and the statistics settings (seed, alpha, correction, bootstrap size); the
    scores and the verdict are recomputed from every shard's rows by the same
    :func:`genspec.analysis.analyse` an unsharded run uses.
    """
    from genspec.analysis import Settings, analyse

    rows = merge_rows(documents, results)
    categorised = {s.task for s in results.by_category}
    analysis = analyse(
        as_results_frame(rows),
        [m.spec() for m in results.models],
        Settings.of(verdict),
        by_category=categorised,
    )
    test = rows[rows["split"] == "test"]
    counts = test.drop_duplicates(["task", "item"]).groupby("task").size()
    return results.with_analysis(analysis, counts.to_dict()), analysis.evidence
