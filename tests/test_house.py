"""The house rules of the code base: plugins declare their domain once and own their
domain's roster entries; genspec's modules import each other in one direction only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import fake_distribution
from genspec.config.compose import compose
from genspec.plugins import discover, merge_roster

PACKAGE = Path(__file__).resolve().parents[1] / "core" / "genspec"

DOMAIN_ONCE = """
import genspec
from genspec.toolkit import classification_task, label_fields, const

@genspec.hookimpl
def genspec_domain():
    return "agriculture"

@genspec.hookimpl
def genspec_tasks():
    return [classification_task(
        name="soil_once", description="d", subject="s",
        fields=label_fields(question=const("Q?"), answer="label", labels=("yes", "no")),
    )]
"""


def test_a_plugin_declares_its_domain_once(site: Path) -> None:
    fake_distribution(site, "gsp-once", "agri", "gsp_test_once", DOMAIN_ONCE)
    no_domain = DOMAIN_ONCE.replace("def genspec_domain", "def _unused").replace(
        "soil_once", "soil_lost"
    )
    fake_distribution(site, "gsp-lost", "lost", "gsp_test_lost", no_domain)
    registry = discover()
    task = registry.tasks["soil_once"]
    assert task.domain == "agriculture"
    assert task.sample.package == "gsp_test_once"  # samples come from the plugin's package
    assert "soil_lost" not in registry.tasks
    assert any("has no domain: add a genspec_domain hook" in p for p in registry.problems)


def test_plugins_own_their_domains_part_of_a_roster() -> None:
    shipped = (PACKAGE.parents[1] / "conf" / "roster" / "paper.yaml").read_text()
    assert "domains:" not in shipped and "meditron" not in shipped
    config, _ = compose(["domain=medical", "roster=paper"])
    medical = {m.name for m in config.roster.for_domain("medical")}
    assert {"gpt-4o", "meditron-70b", "llama-2-70b", "openbiollm-70b"} <= medical
    assert "saullm-7b" in {m.name for m in config.roster.for_domain("legal")}
    assert "meditron-70b" not in {m.name for m in config.roster.for_domain("legal")}
    reported = {r.model: r.domain for r in config.roster.reported}
    assert reported["Med-PaLM 2"] == "medical"


def test_a_roster_file_wins_over_a_plugins_part() -> None:
    mine = {"name": "paper", "domains": {"medical": [{"name": "x"}]}, "reported": []}
    part = {"domains": {"medical": [{"name": "y"}], "legal": [{"name": "z"}]}}
    merged = merge_roster(mine, part)
    assert merged["domains"] == {"medical": [{"name": "x"}], "legal": [{"name": "z"}]}


# --- the import graph ------------------------------------------------------------------

# Lower layers first; a module may import from its own layer or any layer below, never
# from one above. Names are module prefixes inside ``genspec``.
LAYERS: tuple[tuple[str, ...], ...] = (
    # contracts, statistics, and the axes' plain records and perturbations
    (
        "errors",
        "hookspecs",
        "requests",
        "task",
        "secrets",
        "formats",
        "stats",
        "axes",
        "axes.records",
        "axes.metrics",
        "axes.perturbations",
    ),
    # configuration and plugin discovery
    ("config", "plugins", "results"),
    # what the engine builds from tasks: data, prompts, request variants, judging, cache
    (
        "toolkit",
        "prompting",
        "prompt_size",
        "data",
        "cache",
        "axes.variants",
        "axes.probe",
        "grading",
    ),
    # models
    ("backends", "adapt"),
    # the run and its analysis
    (
        "engine",
        "fairness",
        "inference",
        "analysis",
        "evidence",
        "rendering",
        "documents",
        "shards",
        "plots",
        "chance",
        "axes.render",
        "axes.report",
        "axes.plots",
        "grading.summary",
    ),
    # what reads runs back, logs them, or checks plugins
    ("tracking", "console", "report", "drift", "plan", "testing", "validate", "scaffold"),
    # entry points
    ("runner", "multirun", "ray_request", "listing", "fake_api", "cli", "adapt.cli"),
)


def _layer(module: str) -> int:
    """The layer of the longest name in LAYERS that ``module`` starts with."""
    inner = module.removeprefix("genspec").removeprefix(".")
    if inner == "":
        return 0
    matches = [
        (len(name), index)
        for index, names in enumerate(LAYERS)
        for name in names
        if inner == name or inner.startswith(name + ".")
    ]
    assert matches, f"{module} is in no layer of tests/test_house.py: place it"
    return max(matches)[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path, module: str) -> set[str]:
    """The genspec modules ``path`` imports, at top level or inside functions."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("genspec")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.startswith("genspec"):
                # ``from genspec.toolkit import fields`` imports the module, not the package
                found |= {
                    f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base
                    for a in node.names
                }
    return {name for name in found if name.split(".")[0] == "genspec"}


def _graph() -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path, _module_name(path))
        for path in PACKAGE.rglob("*.py")
        if "conf" not in path.relative_to(PACKAGE).parts
    }


def test_no_import_runs_up_the_layers() -> None:
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(source)
    )
    assert upward == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop between modules (a package counts as its ``__init__``), if any."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            target = target if target in graph else target.rpartition(".")[0]
            if target == node or target not in graph:
                continue
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_loop() -> None:
    loop = _cycle(_graph())
    assert loop is None, " -> ".join(loop or [])


@pytest.mark.parametrize("graph", [{"genspec.a": {"genspec.b"}, "genspec.b": {"genspec.a"}}])
def test_the_loop_finder_finds_a_loop(graph: dict[str, set[str]]) -> None:
    assert _cycle(graph) == ["genspec.a", "genspec.b", "genspec.a"]
