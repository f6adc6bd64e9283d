"""Plugin discovery: entry points, isolation of broken plugins, validation of tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import fake_distribution
from genspec.errors import UnknownNameError
from genspec.plugins import discover

GOOD_TASK = """
import genspec
from genspec.toolkit import classification_task, label_fields, const

@genspec.hookimpl
def genspec_tasks():
    return [classification_task(
        name="{name}", domain="{domain}", package=__name__, description="d", subject="s",
        fields=label_fields(question=const("Q?"), answer="label", labels=("yes", "no")),
    )]
"""


def test_bundled_plugins_are_found_through_entry_points() -> None:
    registry = discover()
    assert {"medical", "finance", "legal"} <= {p.name for p in registry.plugins}
    assert "medical" in registry.domains
    assert registry.problems == []


def test_broken_plugins_are_reported_and_skipped(site: Path) -> None:
    fake_distribution(
        site,
        "gsp-good",
        "agri",
        "gsp_test_good",
        GOOD_TASK.format(name="soil", domain="agriculture"),
    )
    fake_distribution(
        site, "gsp-import", "broken_import", "gsp_test_import", "import not_a_module_xyz\n"
    )
    fake_distribution(
        site,
        "gsp-raises",
        "raises",
        "gsp_test_raises",
        "import genspec\n@genspec.hookimpl\ndef genspec_tasks():\n    raise RuntimeError('boom')\n",
    )
    fake_distribution(
        site,
        "gsp-invalid",
        "invalid",
        "gsp_test_invalid",
        "import genspec\n@genspec.hookimpl\ndef genspec_tasks():\n    return ['not a task']\n",
    )
    registry = discover()
    assert "soil" in registry.tasks and "agriculture" in registry.domains
    problems = "\n".join(registry.problems)
    assert "plugin 'broken_import' skipped: ModuleNotFoundError" in problems
    assert "plugin 'raises' skipped: RuntimeError: boom" in problems
    assert "plugin 'invalid': 1 of 1 task(s) skipped: returned str, not a genspec Task" in problems
    assert all("\n" not in p for p in registry.problems)
    assert "medqa" in registry.tasks  # the others still run


def test_duplicate_task_names_are_refused(site: Path) -> None:
    fake_distribution(
        site, "gsp-dup", "dup", "gsp_test_dup", GOOD_TASK.format(name="medqa", domain="other")
    )
    registry = discover()
    assert any("already taken" in p for p in registry.problems)
    assert registry.tasks["medqa"].domain == "medical"


def test_unknown_domain_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'medical'"):
        discover().tasks_for("medicla")


def test_a_domain_with_no_task_for_the_data_source_is_refused(site: Path) -> None:
    """A plugin whose tasks have no hub dataset, under data=full, would run no task and
    log an empty table with exit 0 (the smoke run's hint suggests data=full)."""
    from genspec.config.schema import DataConfig, ModelSpec, RosterConfig, RunConfig
    from genspec.engine import prepare
    from genspec.errors import ConfigError
    from genspec.plugins import registry

    fake_distribution(
        site, "gsp-agri", "agri", "gsp_test_agri", GOOD_TASK.format(name="soil", domain="agri")
    )
    model = ModelSpec(name="a", id="mock-a", role="generalist", backend="mock")
    config = RunConfig(
        domain="agri", data=DataConfig(source="full"), roster=RosterConfig(models=[model])
    )
    registry.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"no task that data=full can read \(none of soil"):
            prepare(config)
    finally:
        registry.cache_clear()


PARTLY_VALID = """
import genspec
from genspec.toolkit import classification_task, corpus_hook, label_fields, const

@genspec.hookimpl
def genspec_tasks():
    good = classification_task(
        name="soil_ok", domain="agri", package=__name__, description="d", subject="s",
        fields=label_fields(question=const("Q?"), answer="label", labels=("yes", "no")),
    )
    return [good, "not a task", good]

genspec_corpus = corpus_hook("agri", __file__)
"""


def test_a_partly_valid_plugin_keeps_its_valid_tasks(site: Path) -> None:
    """Two bad tasks of three are "2 of 3 task(s) skipped", not the whole plugin; a
    corpus folder the package left out names the packaging fix, and costs no task."""
    fake_distribution(site, "gsp-part", "part", "gsp_test_part", PARTLY_VALID)
    registry = discover()
    assert registry.tasks["soil_ok"].domain == "agri"
    problems = [p for p in registry.problems if "plugin 'part'" in p]
    assert problems[0].startswith("plugin 'part': 2 of 3 task(s) skipped: returned str")
    assert "already taken" in problems[0]
    assert "plugin 'part': corpus ignored: PluginError: plugin package" in problems[1]
    assert '"corpus/*.txt" in [tool.setuptools.package-data]' in problems[1]
    assert not any("plugin 'part' skipped" in p for p in registry.problems)


@pytest.mark.parametrize("name", ["medical", "finance", "legal"])
def test_bundled_plugins_pass_check_plugin(name: str) -> None:
    """genspec's own plugins pass the check it ships for plugin authors: every sample
    row maps, every gold answer reads back, every prompt runs on mock models."""
    from genspec.testing import check_plugin

    check = check_plugin(name)
    assert check.tasks and all(t.domain == name for t in check.tasks)
    assert all(c.test and c.dev for c in check.data if not c.task.local_only)


def test_check_plugin_names_an_unknown_plugin() -> None:
    from genspec.testing import check_plugin

    with pytest.raises(AssertionError, match=r"No plugin 'agricultur'.*installed: .*medical"):
        check_plugin("agricultur")
