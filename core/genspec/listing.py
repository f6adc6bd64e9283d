"""``genspec list ...``: what is installed and configured.

Names are what users copy (a task name into ``tasks=[...]``, a hub id into a config),
so they are never cut: on a terminal they keep their full width and only the last
column (a description) wraps, or each entry takes two lines when the names alone fill
the width; into a pipe or a file every row is one tab-separated line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.markup import escape
from rich.table import Table

from genspec.config.compose import CONF_DIR, group_options
from genspec.config.yaml_guard import safe_load
from genspec.console import console, warning_line
from genspec.plugins import merge_roster, registry

MIN_WRAPPED = 24  # narrowest useful width of the wrapped last column
INDENT = "    "


def _line(text: str) -> None:
    """One line as it is: rich would expand tabs and read markup."""
    console.file.write(text + "\n")


def show_rows(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], wrap_last: bool = True
) -> None:
    """Print ``rows`` without cutting a cell: only the last column (a description) may
    wrap between words, and not even that with ``wrap_last=False`` (a hub id)."""
    if not console.is_terminal:
        for row in [headers, *rows]:
            _line("\t".join(" ".join(cell.split()) for cell in row))
        return
    widths = [max(len(c) for c in column) for column in zip(headers, *rows, strict=True)]
    gaps = 2 * (len(headers) - 1)
    last = min(widths[-1], MIN_WRAPPED) if wrap_last else widths[-1]
    if sum(widths[:-1]) + gaps + last <= console.width:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        table.show_edge = table.pad_edge = False
        for header, width in zip(headers[:-1], widths, strict=False):
            table.add_column(header, no_wrap=True, min_width=width)
        table.add_column(headers[-1], ratio=1, min_width=last)
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
        return
    console.print(title, style="italic", highlight=False)
    for row in rows:  # names on one line (soft-wrapped, never cut), the last cell below
        _line("  ".join(row[:-1]))
        width = max(console.width - len(INDENT), MIN_WRAPPED)
        for line in textwrap.wrap(row[-1], width, break_long_words=False, break_on_hyphens=False):
            _line(INDENT + line)


def show_plugins() -> None:
    reg = registry()
    rows = []
    for plugin in reg.plugins:
        count = sum(1 for t in reg.tasks.values() if t.sample.package == plugin.module)
        rows.append([plugin.name, plugin.module, plugin.version, str(count), plugin.distribution])
    headers = ["name", "module", "version", "tasks", "package"]
    show_rows("Plugins (entry-point group 'genspec')", headers, rows)
    for problem in reg.problems:
        warning_line(problem)


def show_tasks(domain: str | None) -> None:
    reg = registry()
    tasks = reg.tasks_for(domain) if domain else list(reg.tasks.values())
    rows = []
    for task in sorted(tasks, key=lambda t: (t.domain, t.name)):
        hub = "local files only" if task.local_only else "none (sample or local files)"
        if task.hub:
            hub = task.hub.path + (f" ({task.hub.name})" if task.hub.name else "")
            hub += f" [{task.hub.split}]"
        rows.append([task.domain, task.name, task.kind.value, hub, task.description])
    show_rows("Tasks", ["domain", "task", "kind", "hub (data=full)", "description"], rows)
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
    entries = [
        (f"model={n}", _yaml("model", n, config_dir)) for n in group_options("model", config_dir)
    ]
    for roster_name, roster in sorted(_rosters(config_dir).items()):
        where = f"roster={roster_name}"
        entries += [(where, m) for m in roster.get("models", [])]
        entries += [
            (f"{where} ({d})", m) for d, ms in roster.get("domains", {}).items() for m in ms
        ]
    rows = [
        [where, spec.get("name", ""), spec.get("role", ""), spec.get("backend", "hf"), spec["id"]]
        for where, spec in entries
        if spec.get("id")
    ]
    show_rows("Models", ["from", "name", "role", "backend", "id"], rows, wrap_last=False)


def show_rosters(config_dir: str | None) -> None:
    rows = []
    for name, roster in sorted(_rosters(config_dir).items()):
        count = len(roster.get("models", [])) + sum(
            len(v) for v in roster.get("domains", {}).values()
        )
        # a smoke roster checks the pipeline; its verdicts are not evidence
        use = "smoke" if roster.get("smoke") else "evidence"
        description = " ".join(str(roster.get("description", "")).split())
        rows.append([name, str(count), use, description])
    show_rows("Rosters", ["roster", "models", "use", "description"], rows)
