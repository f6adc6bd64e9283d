"""Discover domain plugins through the ``genspec`` entry-point group (pluggy).

The bundled medical, finance and legal plugins are found exactly like third-party
ones. Each plugin is loaded and called in isolation: one that fails to import, raises
in a hook or returns an invalid task is reported in one line and skipped, and the
others still run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pluggy

from genspec import hookspecs
from genspec.axes.perturbations import BUILT_IN, OPTION_ORDER, Perturbation
from genspec.errors import UnknownNameError
from genspec.task import Task, TaskKind

ENTRY_POINT_GROUP = "genspec"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str


@dataclass
class Registry:
    """What the installed plugins provide, plus the problems met while loading them."""

    plugins: list[PluginInfo] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)
    rosters: dict[str, dict[str, Any]] = field(default_factory=dict)
    corpora: dict[str, list[Path]] = field(default_factory=dict)  # domain -> text files/folders
    #: backend name -> (plugin, "module:Class" or the class), from genspec_backends
    backends: dict[str, tuple[str, str | type]] = field(default_factory=dict)
    #: domain -> robustness perturbations its plugins add (genspec_perturbations)
    perturbations: dict[str, list[Perturbation]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def domains(self) -> list[str]:
        return sorted({task.domain for task in self.tasks.values()})

    def tasks_for(self, domain: str) -> list[Task]:
        if domain not in self.domains:
            raise UnknownNameError(
                "domain",
                domain,
                self.domains,
                "Install a plugin that provides it (see `genspec list plugins`).",
            )
        return [task for task in self.tasks.values() if task.domain == domain]


# A task's name becomes a file name (examples/<task>.json) and part of MLflow keys.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _validate_task(task: Any) -> str | None:
    """Why ``task`` is unusable, or ``None`` when it is fine."""
    if not isinstance(task, Task):
        return f"returned {type(task).__name__}, not a genspec Task"
    if not task.name:
        return "a task needs a name"
    if not SAFE_NAME.fullmatch(task.name):  # it names files and MLflow keys
        return (
            f"task name {task.name!r} may hold only letters, digits and _ . - "
            "(starting with a letter or digit)"
        )
    if not task.domain:
        return (
            f"task '{task.name}' has no domain: add a genspec_domain hook to the plugin "
            "(or domain= to the task)"
        )
    if "zero_shot" not in task.prompts:
        return f"task '{task.name}' has no 'zero_shot' prompt"
    if not isinstance(task.kind, TaskKind):
        return f"task '{task.name}' has an unknown kind {task.kind!r}"
    if not callable(task.to_example) or not callable(task.parse_answer):
        return f"task '{task.name}' needs a field mapper and an answer parser"
    return None


def _with_plugin_defaults(task: Task, domain: str | None, module: str | None) -> Task:
    """A task that names no domain or package takes its plugin's (``genspec_domain``)."""
    if not task.domain and domain:
        task = replace(task, domain=domain)
    if not task.sample.package and module:
        task = replace(task, sample=replace(task.sample, package=module))
    return task


def merge_roster(base: Mapping[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with a plugin's part of the same roster added (the base wins).

    A domain that ``base`` already lists keeps its models (a user's copy of a roster file
    overrides the plugin's entries), and a published score already there is not repeated.
    """
    merged = {**part, **base}
    domains = dict(part.get("domains") or {})
    domains.update(base.get("domains") or {})
    if domains:
        merged["domains"] = domains
    reported = list(base.get("reported") or [])
    seen = {(r.get("model"), r.get("task")) for r in reported if isinstance(r, Mapping)}
    reported += [
        r
        for r in part.get("reported") or []
        if not isinstance(r, Mapping) or (r.get("model"), r.get("task")) not in seen
    ]
    if reported:
        merged["reported"] = reported
    return merged


def _detail(error: Exception | str) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


def _call_each(
    hook: Any, on_error: Callable[[str, Exception], None], **kwargs: Any
) -> Iterable[tuple[str, Any]]:
    """Call every implementation of ``hook`` separately, so one failure stays local."""
    for impl in hook.get_hookimpls():
        try:
            yield impl.plugin_name, impl.function(**kwargs)
        except Exception as error:
            on_error(impl.plugin_name, error)


def _bundled_first(entries: Iterable[EntryPoint]) -> list[EntryPoint]:
    """genspec's own plugins first, then the others by name: on a task-name clash the
    earlier plugin keeps the name, so the outcome never depends on sys.path order."""
    return sorted(entries, key=lambda e: (e.dist is None or e.dist.name != "genspec", e.name))


def discover() -> Registry:
    """Load every plugin from the entry points and collect its tasks and rosters."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry()

    def problem(plugin: str, error: Exception | str) -> None:
        registry.problems.append(f"plugin '{plugin}' skipped: {_detail(error)}")

    def hook_problem(hook: str) -> Callable[[str, Exception | str], None]:
        """A failing optional hook loses only what that hook adds, not the plugin's tasks."""

        def record(plugin: str, error: Exception | str) -> None:
            registry.problems.append(f"plugin '{plugin}': {hook} ignored: {_detail(error)}")

        return record

    for entry in _bundled_first(entry_points(group=ENTRY_POINT_GROUP)):
        try:
            module = entry.load()
            manager.register(module, name=entry.name)
        except Exception as error:
            problem(entry.name, error)
            continue
        dist = entry.dist
        registry.plugins.append(
            PluginInfo(
                name=entry.name,
                module=entry.value,
                distribution=dist.metadata["Name"] if dist else "?",
                version=dist.version if dist else "?",
            )
        )

    domains = {
        plugin: domain
        for plugin, domain in _call_each(manager.hook.genspec_domain, problem)
        if isinstance(domain, str) and domain
    }
    modules = {info.name: info.module.partition(":")[0] for info in registry.plugins}
    for plugin, tasks in _call_each(manager.hook.genspec_tasks, problem):
        reasons, tasks = [], list(tasks or ())
        for task in tasks:
            if isinstance(task, Task):
                task = _with_plugin_defaults(task, domains.get(plugin), modules.get(plugin))
            reason = _validate_task(task)
            if reason is None and task.name in registry.tasks:
                reason = f"task name '{task.name}' is already taken by another plugin"
            if reason:
                reasons.append(reason)
                continue
            registry.tasks[task.name] = task
        if reasons:  # the plugin's valid tasks still run
            registry.problems.append(
                f"plugin '{plugin}': {len(reasons)} of {len(tasks)} task(s) skipped: "
                + "; ".join(reasons)
            )

    rosters_problem = hook_problem("rosters")
    for plugin, rosters in _call_each(manager.hook.genspec_rosters, rosters_problem):
        if not isinstance(rosters, dict):
            rosters_problem(plugin, "genspec_rosters must return a dict of name -> roster")
            continue
        for name, roster in rosters.items():
            registry.rosters[name] = merge_roster(registry.rosters.get(name, {}), roster)

    for domain in registry.domains:
        corpus_problem = hook_problem("corpus")
        for plugin, paths in _call_each(manager.hook.genspec_corpus, corpus_problem, domain=domain):
            if not isinstance(paths, list | tuple):
                corpus_problem(plugin, "genspec_corpus must return a list of files or folders")
                continue
            registry.corpora.setdefault(domain, []).extend(Path(p) for p in paths)
    _collect_backends(manager, registry, hook_problem("backends"))
    _collect_perturbations(manager, registry, hook_problem("perturbations"))
    return registry


def _collect_perturbations(
    manager: pluggy.PluginManager,
    registry: Registry,
    problem: Callable[[str, Exception | str], None],
) -> None:
    """Each domain's ``genspec_perturbations``: Perturbation values with unique names."""
    for domain in registry.domains:
        hook = manager.hook.genspec_perturbations
        for plugin, found in _call_each(hook, problem, domain=domain):
            kept = registry.perturbations.setdefault(domain, [])
            for perturbation in found or ():
                if not isinstance(perturbation, Perturbation):
                    problem(plugin, f"{perturbation!r} is not a Perturbation")
                elif perturbation.name in {OPTION_ORDER, *(p.name for p in (*BUILT_IN, *kept))}:
                    problem(plugin, f"perturbation '{perturbation.name}' is already taken")
                else:
                    kept.append(perturbation)


def _collect_backends(
    manager: pluggy.PluginManager,
    registry: Registry,
    problem: Callable[[str, Exception | str], None],
) -> None:
    """Each plugin's ``genspec_backends``: a name and a lazy ``module:Class`` or a class.
    Only the shape is checked here; the class is imported when a roster uses it."""
    for plugin, backends in _call_each(manager.hook.genspec_backends, problem):
        if not isinstance(backends, dict):
            problem(plugin, "genspec_backends must return a dict of name -> 'module:Class'")
            continue
        for name, target in backends.items():
            lazy = isinstance(target, str) and target.count(":") == 1
            if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
                problem(plugin, f"backend name {name!r} may hold only letters, digits and _ . -")
            elif not (lazy or isinstance(target, type)):
                problem(plugin, f"backend '{name}' must be 'module:Class' or a class")
            elif name in registry.backends:
                problem(plugin, f"backend '{name}' is already taken by another plugin")
            else:
                registry.backends[name] = (plugin, target)


@functools.lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry (plugins are discovered once per process)."""
    return discover()
