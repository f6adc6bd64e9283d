"""Load a task's items: bundled sample, Hugging Face hub, or the user's local files.

All three read rows in the *hub's* schema and map them with the task's field mapper,
so a user's local copy of MedQA and the hub's MedQA go through the same code.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import os
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genspec.config.schema import DataConfig
from genspec.errors import DataError
from genspec.task import Example, Task
from genspec.toolkit.fields import RowError

LOCAL_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


@dataclass(frozen=True)
class TaskData:
    """The items of one task for one run: test items and the few-shot dev pool."""

    task: Task
    test: tuple[Example, ...]
    dev: tuple[Example, ...]
    origin: str

    @property
    def fingerprint(self) -> str:
        """Hash of the items used, logged so two runs can be checked for same data."""
        return items_fingerprint(self.test)


def items_fingerprint(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        item = [ex.id, ex.question, ex.context, ex.choices, ex.gold, ex.target]
        if ex.references:  # accepted synonyms change the scores, so they are part of the data
            item.append(sorted(ex.references.items()))
        digest.update(json.dumps(item).encode())
    return digest.hexdigest()[:16]


def provides(source: str, task: Task) -> bool:
    """Whether ``data=<source>`` has the task: licensed data only comes from local
    files, and ``full`` only reads tasks that have a hub dataset."""
    if source == "local":
        return True
    return not task.local_only and (source != "full" or task.hub is not None)


def load_task_data(task: Task, config: DataConfig) -> TaskData:
    """Read the task from the configured source and check test/dev do not overlap."""
    if task.local_only and config.source != "local":
        raise DataError(
            f"Task '{task.name}' is licensed data with no hub copy or bundled sample: save it "
            f"as DIR/{task.local_stem}.jsonl (fields: {task.local_schema}) and run with "
            f"data=local data.dir=DIR."
        )
    if config.source == "sample":
        test, dev, origin = _sample(task, "test"), _sample(task, "dev"), "bundled sample"
    elif config.source == "local":
        test, origin = _local(task, Path(config.dir or "").expanduser())
        dev_file = _find_local(Path(config.dir or "").expanduser(), f"{task.local_stem}.dev")
        dev = _examples(task, _read_file(dev_file), dev_file) if dev_file else ()
        dev = dev or _sample(task, "dev")
    else:
        test, dev, origin = _hub(task)
    _check_disjoint(task, test, dev)
    return TaskData(task=task, test=test, dev=dev, origin=origin)


def _map_rows(task: Task, rows: Iterator[tuple[int, Mapping[str, Any]]], where: Path | str):
    for line, row in rows:
        if not task.keeps(row):  # a task that is a subset of its benchmark
            continue
        try:
            yield task.to_example(row, line)
        except RowError as error:
            raise DataError(
                f"{where} line {line}: {error}. Fix the row or remove it "
                f"(task '{task.name}' expects the hub schema, see its SOURCES.md)."
            ) from None


def _examples(
    task: Task, rows: Iterator[tuple[int, Mapping[str, Any]]], where: Path | str
) -> tuple[Example, ...]:
    """The mapped items of one file or split, refused at load if two share an id."""
    examples = tuple(_map_rows(task, rows, where))
    _check_unique_ids(task, examples, where)
    return examples


def _check_unique_ids(task: Task, examples: Sequence[Example], where: Path | str) -> None:
    """An id names one item: answers, scores and the paired comparison are matched by it,
    so a repeated id would pair one model's answer to an item with another's to a
    different one. Found at load, before any call, naming the ids."""
    seen: set[str] = set()
    repeated = sorted({ex.id for ex in examples if ex.id in seen or seen.add(ex.id)})
    if repeated:
        shown = ", ".join(repeated[:5]) + (
            f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        )
        raise DataError(
            f"{where}: {len(repeated)} example id(s) repeated ({shown}); task '{task.name}' "
            "keys items by id. Give each row its own id, or remove the repeated rows."
        )


def _sample(task: Task, split: str) -> tuple[Example, ...]:
    spec = importlib.util.find_spec(task.sample.package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"Task '{task.name}': sample package '{task.sample.package}' not found.")
    path = (
        Path(next(iter(spec.submodule_search_locations))) / task.sample.directory / f"{split}.jsonl"
    )
    if not path.exists():
        if split == "dev":
            return ()
        raise DataError(f"Task '{task.name}': bundled sample file {path} is missing.")
    return _examples(task, _read_jsonl(path), path)


def _find_local(directory: Path, stem: str) -> Path | None:
    for suffix in LOCAL_SUFFIXES:
        candidate = directory / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
        if candidate.is_symlink():  # a link that leads nowhere: name it, not "no data file"
            raise DataError(f"{candidate}: {_broken_link(candidate)}. Point it at the data file.")
    return None


def _broken_link(link: Path) -> str:
    """Why a symbolic link cannot be followed: it loops, or its target is missing."""
    try:
        link.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop so
        return "a symbolic link loop"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
    return f"a symbolic link to {os.readlink(link)}, which does not exist"


def _local(task: Task, directory: Path) -> tuple[tuple[Example, ...], str]:
    if not directory.is_dir():
        raise DataError(
            f"data.dir '{directory}' is not a folder. Set data.dir=DIR to an existing folder."
        )
    path = _find_local(directory, task.local_stem)
    if path is None:
        names = " or ".join(f"{task.local_stem}{s}" for s in LOCAL_SUFFIXES)
        schema = f"with fields: {task.local_schema}" if task.local_schema else "in the hub schema"
        raise DataError(
            f"Task '{task.name}': no data file in {directory} (looked for {names}). "
            f"Add it {schema}, or select other tasks with tasks=[...]."
        )
    test = _examples(task, _read_file(path), path)
    if not test:  # else the run "succeeds" with n=0 and an inconclusive verdict
        raise DataError(
            f"{path}: no items. Add rows in the hub schema, or select other tasks with tasks=[...]."
        )
    return test, f"local file {path}"


def _read_file(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The rows of a local data file; a file that cannot be opened or decoded (a folder
    named like one, no permission, not UTF-8) is one line naming it, not a traceback."""
    try:
        yield from _read_rows(path)
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: not UTF-8 text (byte {error.start}: {error.reason}). "
            "Save it as UTF-8, or as parquet."
        ) from None
    except OSError as error:
        raise DataError(
            f"{path}: cannot be read ({error.strerror or error}). Make it a readable file."
        ) from None


def _read_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if path.suffix == ".json" and _holds_json_array(path):
        yield from _read_json_array(path)
        return
    if path.suffix in (".jsonl", ".json"):
        yield from _read_jsonl(path)
        return
    import pandas as pd

    try:
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except Exception as error:  # pandas raises many types for unreadable files
        raise DataError(f"{path}: cannot be read as {path.suffix[1:]} ({error}).") from None
    # Header is line 1 in a CSV, so data rows start at line 2; parquet rows count from 1.
    offset = 2 if path.suffix == ".csv" else 1
    for number, row in enumerate(frame.to_dict(orient="records")):
        yield number + offset, {k: _plain(v) for k, v in row.items()}


def _plain(value: Any) -> Any:
    """Parquet gives numpy arrays for list fields; make them plain lists."""
    return value.tolist() if hasattr(value, "tolist") and not isinstance(value, str) else value


def _holds_json_array(path: Path) -> bool:
    """Whether a ``.json`` file is one JSON array of rows (as ``json.dump`` writes a list,
    e.g. FinQA's own files) rather than JSON Lines (as ``Dataset.to_json`` writes)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                return line.lstrip().startswith("[")
    return False


def _read_json_array(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The rows of a JSON array, numbered from 1 in order (a row's "line" in errors)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path} line {error.lineno}: not valid JSON ({error.msg}).") from None
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise DataError(f"{path} item {number}: expected a JSON object per item.")
        yield number, row


def jsonl_row(path: Path, number: int, line: str) -> Mapping[str, Any]:
    """One JSON Lines row; a line that is not a JSON object is a :class:`DataError`
    naming the file and line (``genspec validate`` records it and reads on)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"{path} line {number}: not valid JSON ({error.msg}).") from None
    if not isinstance(row, dict):
        raise DataError(f"{path} line {number}: expected a JSON object per line.")
    return row


def _read_jsonl(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, jsonl_row(path, number, line)


def _hub(task: Task) -> tuple[tuple[Example, ...], tuple[Example, ...], str]:
    if task.hub is None:
        raise DataError(
            f"Task '{task.name}' has no hub dataset (it is local-only). "
            f"Use data=local data.dir=DIR with DIR/{task.local_stem}.jsonl."
        )
    hub = task.hub
    test = _hub_split(task, hub.split)
    dev = _hub_split(task, hub.dev_split) if hub.dev_split else _sample(task, "dev")
    dev, repeats = _without_test_items(test, dev)
    origin = f"hub {hub.path}" + (f" ({hub.name})" if hub.name else "")
    if repeats:
        origin += f"; {repeats} few-shot item(s) that repeat test items left out"
    return test, dev, origin


def _without_test_items(
    test: Sequence[Example], dev: Sequence[Example]
) -> tuple[tuple[Example, ...], int]:
    """The few-shot pool less the items that repeat a test item, and how many left.

    A hub's splits can share a question (large exam banks repeat theirs), and a user
    cannot fix the hub as they can a local dev file, so these items are left out of
    the pool instead of refusing the task; a few-shot item is still never a test item.
    """
    test_items = {_content(ex) for ex in test}
    kept = tuple(ex for ex in dev if _content(ex) not in test_items)
    return kept, len(dev) - len(kept)


def _hub_split(task: Task, split: str) -> tuple[Example, ...]:
    assert task.hub is not None
    names = task.hub.configs or (task.hub.name,)
    examples: list[Example] = []
    for name in names:
        # Row numbers run on across configs so items without an id field stay unique.
        part = name or task.hub.data_dir
        where = f"{task.hub.path}{'/' + part if part else ''}:{split}"
        examples += _map_rows(task, _hub_rows(task, name, split, len(examples) + 1), where)
    _check_unique_ids(task, examples, f"{task.hub.path}:{split}")
    return tuple(examples)


def _hub_rows(
    task: Task, name: str | None, split: str, first_row: int
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    assert task.hub is not None
    try:
        import datasets

        hub = task.hub
        dataset = datasets.load_dataset(
            hub.path,
            None if hub.by_folder else name,
            split=split,
            revision=hub.revision,
            data_dir=name if hub.by_folder and name else hub.data_dir,
            data_files=hub.data_files,
        )
    except Exception as error:  # network, auth, missing config: all end the same way
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        part = name or task.hub.data_dir
        raise DataError(
            f"Task '{task.name}': cannot load {task.hub.path}{'/' + part if part else ''} "
            f"split '{split}' from the hub ({reason}). Without hub access, save it in the "
            f"hub schema as DIR/{task.local_stem}.jsonl and run with data=local data.dir=DIR."
        ) from None
    if task.hub.config_field and name:
        field = task.hub.config_field
        yield from ((i, {**row, field: name}) for i, row in enumerate(dataset, start=first_row))
    else:
        yield from enumerate(dataset, start=first_row)


def _check_disjoint(task: Task, test: Sequence[Example], dev: Sequence[Example]) -> None:
    """Few-shot examples must never be test items. Compared by content, not id:
    splits number their rows independently (LegalBench, MMLU), so ids may repeat."""
    test_items = {_content(ex) for ex in test}
    overlap = [ex.id for ex in dev if _content(ex) in test_items]
    if overlap:
        raise DataError(
            f"Task '{task.name}': {len(overlap)} few-shot dev item(s) also appear in the test "
            f"items (e.g. '{overlap[0]}'). Remove them from the dev file."
        )


def _content(example: Example) -> tuple[str, str, tuple[str, ...]]:
    return (" ".join(example.context.split()), " ".join(example.question.split()), example.choices)


def select(examples: Sequence[Example], limit: int | None, seed: int) -> tuple[Example, ...]:
    """A seeded random subset of ``limit`` items, stratified by category.

    Not the first N rows: benchmark files are often sorted by topic or difficulty.
    Each category keeps its share (largest-remainder rounding); order is preserved.
    """
    if limit is None or limit >= len(examples):
        return tuple(examples)
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index, ex in enumerate(examples):
        groups[ex.category].append(index)
    quotas = {key: limit * len(idx) / len(examples) for key, idx in groups.items()}
    counts = {key: int(q) for key, q in quotas.items()}
    by_remainder = sorted(groups, key=lambda k: (quotas[k] - counts[k], str(k)), reverse=True)
    for key in by_remainder[: limit - sum(counts.values())]:
        counts[key] += 1
    rng = random.Random(seed)
    chosen: set[int] = set()
    for key in sorted(groups, key=str):
        chosen.update(rng.sample(groups[key], counts[key]))
    return tuple(examples[i] for i in sorted(chosen))


@dataclass(frozen=True)
class DevParts:
    """A task's dev items in two disjoint parts; the test split is the third part.

    ``train`` is what adapters and encoders learn from; ``select`` is what chooses a
    role's best model and each model's prompt, so no choice is made on items a model
    was trained on (in-sample accuracy would pick the most overfit model).
    """

    train: tuple[Example, ...]
    select: tuple[Example, ...]


def dev_parts(dev: Sequence[Example], share: float, seed: int) -> DevParts:
    """Split ``dev`` by a seeded hash of each item: ``share`` of it (rounded half up, so a
    lone item can still teach) to train.

    Ranking by hash, not by a shuffled index, makes an item's part depend on the item
    and the seed only, whatever file order it came in; order is kept within each part.
    """
    rank = sorted(
        range(len(dev)),
        key=lambda i: hashlib.sha256(f"{seed}:{_content(dev[i])}".encode()).hexdigest(),
    )
    train = set(rank[: int(len(dev) * share + 0.5)])
    return DevParts(
        train=tuple(ex for i, ex in enumerate(dev) if i in train),
        select=tuple(ex for i, ex in enumerate(dev) if i not in train),
    )
