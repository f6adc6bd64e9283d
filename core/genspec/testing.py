"""Test helpers for plugin authors: ``check_plugin("mydomain")`` in a plugin's own tests.

One call checks what a plugin author would otherwise learn from a failed run: that the
plugin is found through its entry point, that every task is valid and every bundled row
maps (with option and label counts, gold answers the task's parser reads back, unique
ids, dev items that are not test items), and that every prompt of every task runs end
to end on mock models (``backend: mock``: no model is loaded, nothing leaves the
machine). genspec's own plugins are checked with it in genspec's suite::

    from genspec.testing import check_plugin

    def test_plugin():
        check_plugin("agriculture")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genspec.config.schema import (
    CacheConfig,
    DataConfig,
    JudgeConfig,
    ModelSpec,
    RosterConfig,
    RunConfig,
)
from genspec.plugins import PluginInfo, Registry, discover, registry
from genspec.task import Task
from genspec.validate import TaskCheck, check_tasks

# Both request kinds: log-likelihood over the options, and generated text read by the
# task's parser or scorer (free-form tasks are generated either way).
DRY_RUN_MODELS = (
    ModelSpec(
        name="mock-generate", id="mock", role="generalist", backend="mock", scoring="generate"
    ),
    ModelSpec(name="mock-loglik", id="mock", role="specialist", backend="mock", scoring="loglik"),
)

MOCK_JUDGE = JudgeConfig(id="mock", backend="mock", name="mock-judge")


@dataclass(frozen=True)
class PluginCheck:
    """What :func:`check_plugin` looked at, for tests that want to assert more."""

    plugin: PluginInfo
    tasks: tuple[Task, ...]
    data: tuple[TaskCheck, ...]
    problems: tuple[str, ...]


def _plugin(reg: Registry, name: str) -> PluginInfo:
    for info in reg.plugins:
        if name in (info.name, info.module.partition(":")[0]):
            return info
    known = ", ".join(sorted(p.name for p in reg.plugins)) or "none"
    raise AssertionError(
        f"No plugin '{name}' in the entry-point group 'genspec' (installed: {known}). "
        "Install the plugin package (pip install -e .) and check [project.entry-points.genspec] "
        "in its pyproject.toml."
    )


def _dry_run(task: Task, items: int) -> list[str]:
    """Run every prompt of ``task`` on each mock model; what went wrong, if anything."""
    from genspec.engine import run

    if task.name not in registry().tasks:  # installed after this process first looked
        registry.cache_clear()
    problems = []
    for prompt in task.prompts:
        for model in DRY_RUN_MODELS:  # one at a time: a run never mixes scoring methods
            where = f"task '{task.name}' prompt {prompt} ({model.scoring})"
            config = RunConfig(
                domain=task.domain,
                tasks=[task.name],
                limit=items,
                prompt=prompt,
                roster=RosterConfig(name="dry-run", models=[model]),
                cache=CacheConfig(mode="off"),
                # a task graded by rubric needs a panel: a mock judge (its replies are
                # unread, so the items are invalid, but every step of the grading runs)
                judge=MOCK_JUDGE if task.panel_graded else JudgeConfig(),
            )
            try:
                result = run(config)
            except Exception as error:
                problems.append(f"{where}: {type(error).__name__}: {error}")
                continue
            rows = [r for r in result.rows if r.split == "test"]
            if not rows or len(rows) != len(result.tasks[0].examples):
                problems.append(f"{where}: {len(rows)} answered rows")
            problems += [f"{where}: {p}" for p in result.problems]
            problems += sorted({f"{where}: {r.error}" for r in rows if r.error})
    return problems


def check_plugin(name: str, *, items: int = 3, dry_run: bool = True) -> PluginCheck:
    """Check an installed plugin (its entry-point name or module); raise ``AssertionError``
    listing every problem found, not only the first.

    ``items`` test items of each task are answered in the mock dry run, once per prompt
    template (zero-shot, few-shot, chain-of-thought) and scoring method.
    """
    reg = discover()
    plugin = _plugin(reg, name)
    module = plugin.module.partition(":")[0]
    problems = [p for p in reg.problems if f"plugin '{plugin.name}'" in p]
    tasks = tuple(t for t in reg.tasks.values() if t.sample.package == module)
    if not tasks:
        problems.append(f"plugin '{plugin.name}' provides no task (genspec_tasks returned none)")
    data = tuple(check_tasks(tasks, DataConfig()))  # the bundled samples
    problems += [str(f) for check in data for f in check.errors]
    if dry_run:
        readable = {check.task.name for check in data if check.test and not check.errors}
        for task in tasks:
            if task.name in readable:
                problems += _dry_run(task, items)
    if problems:
        raise AssertionError(_report(plugin.name, problems))
    return PluginCheck(plugin, tasks, data, tuple(problems))


def _report(name: str, problems: Sequence[str]) -> str:
    return f"plugin '{name}': {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems)
