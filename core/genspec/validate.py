"""Check a plugin's data files before a run: every bad row of every file in one pass.

A run stops at the first bad row (it cannot score half a task). An author fixing a
file, or a hospital preparing its own copy of a benchmark, wants the whole list at
once: every row that does not map, every gold answer the task's own parser cannot
read back, repeated ids, a missing dev file and few-shot items that are test items.
``genspec validate`` prints these; :func:`genspec.testing.check_plugin` asserts them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from genspec.config.schema import DataConfig
from genspec.data import LOCAL_SUFFIXES, _content, _find_local, _read_file, jsonl_row, provides
from genspec.errors import ConfigError, DataError
from genspec.prompting import gold_answer
from genspec.task import LETTERS, Example, Task, TaskKind
from genspec.toolkit.fields import RowError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem in a task's data; ``where`` is a file and line when there is one."""

    task: str
    message: str
    where: str = ""
    severity: Severity = "error"

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        return f"{self.severity}: [{self.task}] {place}{self.message}"


@dataclass(frozen=True)
class TaskCheck:
    """What one task's files hold and what is wrong with them."""

    task: Task
    test: tuple[Example, ...] = ()
    dev: tuple[Example, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")


@dataclass(frozen=True)
class _Item:
    line: int
    example: Example


class _Collector:
    """Findings of one task, in file order."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.found: list[Finding] = []

    def add(self, message: str, where: str | Path = "", severity: Severity = "error") -> None:
        self.found.append(Finding(self.task.name, message, str(where), severity))


def sample_file(task: Task, split: str) -> Path:
    """Where ``data=sample`` reads a split: ``<package>/<directory>/<split>.jsonl``."""
    return Path(str(files(task.sample.package))) / task.sample.directory / f"{split}.jsonl"


def _jsonl_rows(path: Path, out: _Collector) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Every JSON object line; a broken line is a finding and reading goes on."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, jsonl_row(path, number, line)
                except DataError as error:
                    out.add(str(error))


def _rows(path: Path, out: _Collector) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The file's rows; a file that cannot be read at all is one finding."""
    try:
        if path.suffix == ".jsonl":
            yield from _jsonl_rows(path, out)
        else:
            yield from _read_file(path)
    except (DataError, OSError, UnicodeDecodeError) as error:
        out.add(str(error), path)


def _item_problems(task: Task, example: Example) -> list[str]:
    """What is wrong with one mapped item: its options, or a gold answer that the task's
    own parser or scorer does not read back as correct (the model could never score)."""
    problems = []
    if task.kind.has_choices:
        texts = [" ".join(c.lower().split()) for c in example.choices]
        if len(texts) < 2:
            problems.append(f"needs at least 2 options, has {len(texts)}")
        if task.kind is TaskKind.MULTIPLE_CHOICE and len(texts) > len(LETTERS):
            problems.append(f"has {len(texts)} options; at most {len(LETTERS)} (A-Z)")
        repeated = sorted(t for t, n in Counter(texts).items() if n > 1)
        if repeated:
            problems.append(f"option '{repeated[0]}' appears twice, so answers are ambiguous")
    answer = gold_answer(task.kind, example)
    if task.panel_graded:  # judges grade it: no rule can read a gold answer back
        if not example.rubric:
            problems.append("has no rubric criteria for the judge panel to grade")
    elif task.scorer is not None:
        judgement = task.scorer(answer, example)
        if judgement.correct < 1:
            problems.append(
                f"the task's scorer gives the gold answer {answer!r} a score of "
                f"{judgement.correct:g}, not 1"
            )
    elif task.kind.has_choices:
        parsed = task.parse_answer(answer, example)
        if parsed != example.gold:
            read = "nothing" if parsed is None else repr(example.choices[parsed])
            problems.append(f"the task's parser reads the gold answer {answer!r} as {read}")
    return problems


def check_file(task: Task, path: Path, out: _Collector) -> list[_Item]:
    """Map every row of ``path``, recording each bad row and item (not just the first)."""
    items = []
    for line, row in _rows(path, out):
        if not task.keeps(row):  # not an item of a task that is a subset of its benchmark
            continue
        where = f"{path} line {line}"
        try:
            example = task.to_example(row, line)
        except RowError as error:
            out.add(str(error), where)
            continue
        except Exception as error:  # a plugin's own getter failing is still one finding
            out.add(f"the field mapper raised {type(error).__name__}: {error}", where)
            continue
        for problem in _item_problems(task, example):
            out.add(problem, where)
        items.append(_Item(line, example))
    lines_by_id: dict[str, list[int]] = {}
    for item in items:
        lines_by_id.setdefault(item.example.id, []).append(item.line)
    for item_id, lines in lines_by_id.items():
        if len(lines) > 1:
            out.add(
                f"id '{item_id}' is on lines {', '.join(map(str, lines))}: ids must be unique "
                "(results are paired by id)",
                path,
            )
    return items


def _check_overlap(test: Sequence[_Item], dev: Sequence[_Item], where: Path, out: _Collector):
    test_items = {_content(item.example) for item in test}
    repeats = [item for item in dev if _content(item.example) in test_items]
    if repeats:
        lines = ", ".join(str(item.line) for item in repeats[:10])
        out.add(
            f"{len(repeats)} few-shot item(s) are also test items (lines {lines}); remove them "
            "from the dev file",
            where,
        )


def _files(task: Task, data: DataConfig, out: _Collector) -> tuple[Path | None, Path | None]:
    """The test and dev files ``data`` would read, with a finding for each one missing."""
    if data.source == "sample":
        test, dev = sample_file(task, "test"), sample_file(task, "dev")
        if not test.exists():
            out.add(
                "bundled sample file is missing: add it, and data/*/*.jsonl to the plugin's "
                "package-data",
                test,
            )
            test = None
        if not dev.exists():
            out.add(
                "no dev file: few-shot prompts have no examples (prompt=few_shot is refused); "
                "add a few items that are not test items",
                dev,
            )
            dev = None
        return test, dev
    directory = Path(data.dir or "").expanduser()
    test = _find_local(directory, task.local_stem)
    if test is None:
        names = " or ".join(f"{task.local_stem}{s}" for s in LOCAL_SUFFIXES)
        out.add(f"no data file (looked for {names})", directory)
    dev = _find_local(directory, f"{task.local_stem}.dev")
    if dev is None:
        fallback = sample_file(task, "dev") if not task.local_only else None
        usable = fallback is not None and fallback.exists()
        out.add(
            f"no {task.local_stem}.dev file: few-shot examples come from "
            + ("the bundled sample" if usable else "nowhere (prompt=few_shot is refused)"),
            directory,
            "warning",
        )
        dev = fallback if usable else None
    return test, dev


def check_task(task: Task, data: DataConfig) -> TaskCheck:
    """Every problem in the files ``data`` would read for ``task``."""
    out = _Collector(task)
    test_file, dev_file = _files(task, data, out)
    test = check_file(task, test_file, out) if test_file else []
    dev = check_file(task, dev_file, out) if dev_file else []
    if test_file and not test and not out.found:
        out.add("no items", test_file)
    if dev_file:
        _check_overlap(test, dev, dev_file, out)
    return TaskCheck(
        task,
        tuple(item.example for item in test),
        tuple(item.example for item in dev),
        tuple(out.found),
    )


def check_tasks(tasks: Sequence[Task], data: DataConfig) -> list[TaskCheck]:
    """Check the tasks this data source can read (``data=full`` reads the hub at run time,
    which is checked row by row then)."""
    if data.source == "full":
        raise ConfigError(
            "genspec validate reads bundled samples (data=sample) or your files "
            "(data=local data.dir=DIR), not the hub."
        )
    return [
        check_task(t, data)
        if provides(data.source, t)
        else TaskCheck(t, findings=(Finding(t.name, _NOT_SAMPLED, severity="warning"),))
        for t in tasks
    ]


_NOT_SAMPLED = "licensed data with no bundled sample: check it with data=local data.dir=DIR"


def _named(overrides: Sequence[str], key: str) -> bool:
    return any(o.lstrip("+").partition("=")[0] == key for o in overrides)


def validate_command(overrides: Sequence[str], echo: Any = print) -> None:
    """``genspec validate [domain=X] [tasks=[...]] [data=local data.dir=DIR]``: print
    every finding of every task (all domains unless one is named); raise when any is an
    error, so the command exits non-zero."""
    from genspec.config.compose import compose
    from genspec.plugins import registry

    config, _ = compose(list(overrides))
    reg = registry()
    domains = [config.domain] if _named(overrides, "domain") else reg.domains
    tasks = [t for d in domains for t in reg.tasks_for(d)]
    if config.tasks:
        by_name = {t.name: t for t in tasks}
        missing = [n for n in config.tasks if n not in by_name]
        if missing:
            from genspec.errors import UnknownNameError

            raise UnknownNameError("task", missing[0], by_name, where=f"in {', '.join(domains)}")
        tasks = [by_name[n] for n in config.tasks]
    checks = check_tasks(tasks, config.data)
    for problem in reg.problems:
        echo(f"error: {problem}")
    for check in checks:
        name = f"{check.task.domain}/{check.task.name}"
        status = "ok" if not check.errors else f"{len(check.errors)} error(s)"
        echo(f"{name}: {len(check.test)} test, {len(check.dev)} dev items; {status}")
        for finding in check.findings:
            echo(f"  {finding}")
    bad = [c for c in checks if c.errors]
    errors = sum(len(c.errors) for c in bad) + len(reg.problems)
    if errors:
        raise DataError(
            f"{errors} error(s) in {len(bad)} of {len(checks)} task(s) (listed above); fix "
            "them and run genspec validate again."
        )
    echo(f"All {len(checks)} task(s) valid ({config.data.source} data).")
