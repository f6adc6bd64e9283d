"""``genspec list ...``: what is installed and configured, as rich tables."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from genspec.config.compose import CONF_DIR, group_options
from genspec.config.yaml_guard import safe_load
from genspec.console import console, warning_line
from genspec.plugins import merge_roster, registry


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    return table


def show_plugins() -> None:
    reg = registry()
    table = _table(
        "Plugins (entry-point group 'genspec')", "name", "module", "package", "version", "tasks"
    )
    for plugin in reg.plugins:
        count = sum(1 for t in reg.tasks.values() if t.sample.package == plugin.module)
        table.add_row(plugin.name, plugin.module, plugin.distribution, plugin.version, str(count))
    console.print(table)
    for problem in reg.problems:
        warning_line(problem)


def show_tasks(domain: str | None) -> None:
    reg = registry()
    tasks = reg.tasks_for(domain) if domain else list(reg.tasks.values())
    table = _table("Tasks", "domain", "task", "kind", "hub (data=full)", "description")
    for task in sorted(tasks, key=lambda t: (t.domain, t.name)):
        hub = "local files only"
        if task.hub:
            hub = task.hub.path + (f" ({task.hub.name})" if task.hub.name else "")
            hub += f" [{task.hub.split}]"
        table.add_row(task.domain, task.name, task.kind.value, hub, task.description)
    console.print(table)
    for problem in reg.problems:
        warning_line(problem)


def _yaml(group: str, name: str, config_dir: str | None) -> dict:
    for root in ([Path(config_dir)] if config_dir else []) + [CONF_DIR]:
        path = root / group / f"{name}.yaml"
        if path.exists():
            return safe_load(path) or {}
    return {}


def _rosters(config_dir: str | None) -> dict[str, dict]:
    rosters = dict(registry().rosters)
    for name in group_options("roster", config_dir):
        rosters[name] = merge_roster(_yaml("roster", name, config_dir), rosters.get(name, {}))
    return rosters


def show_models(config_dir: str | None) -> None:
    table = _table("Models", "from", "name", "role", "backend", "id")
    for name in group_options("model", config_dir):
        spec = _yaml("model", name, config_dir)
        table.add_row(
            f"model={name}",
            spec.get("name", ""),
            spec.get("role", ""),
            spec.get("backend", "hf"),
            spec.get("id", ""),
        )
    for roster_name, roster in sorted(_rosters(config_dir).items()):
        entries = [(None, m) for m in roster.get("models", [])]
        entries += [(d, m) for d, ms in roster.get("domains", {}).items() for m in ms]
        for domain, spec in entries:
            where = f"roster={roster_name}" + (f" ({domain})" if domain else "")
            table.add_row(
                where,
                spec.get("name", ""),
                spec.get("role", ""),
                spec.get("backend", "hf"),
                spec.get("id", ""),
            )
    console.print(table)


def show_rosters(config_dir: str | None) -> None:
    table = _table("Rosters", "roster", "models", "smoke", "description")
    for name, roster in sorted(_rosters(config_dir).items()):
        count = len(roster.get("models", [])) + sum(
            len(v) for v in roster.get("domains", {}).values()
        )
        description = " ".join(str(roster.get("description", "")).split())
        table.add_row(name, str(count), str(bool(roster.get("smoke"))), description)
    console.print(table)
