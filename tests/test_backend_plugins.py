"""Backends are pluggable like domains: a plugin registers one with ``genspec_backends``.

A throwaway distribution, installed the way pip would leave it, registers an in-house
inference service as a lazy ``module:Class`` entry; a roster names it and the run uses
it. Its module is imported only when a roster entry needs it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import fake_distribution, write_roster
from genspec.backends.registry import backend_class
from genspec.config.compose import compose
from genspec.engine import prepare, run
from genspec.errors import BackendError, UnknownNameError
from genspec.plugins import registry

PLUGIN = """
import genspec

@genspec.hookimpl
def genspec_backends():
    return {
        "inhouse": "gsp_test_inhouse_impl:InHouseBackend",
        "missing": "gsp_test_inhouse_impl:NoSuchClass",
        "hf": "gsp_test_inhouse_impl:InHouseBackend",
        "bad name!": "gsp_test_inhouse_impl:InHouseBackend",
    }
"""

IMPLEMENTATION = '''
from genspec.backends.base import Backend
from genspec.requests import Response


class InHouseBackend(Backend):
    """Stands in for a company's inference service: always answers B."""

    def loglikelihood(self, requests):
        raise NotImplementedError

    def generate(self, requests):
        for i, _ in enumerate(requests):
            yield i, Response(text="The answer is B.", provider_model="inhouse-v1")
'''


@pytest.fixture
def inhouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugin installed on sys.path, and the process-wide registry rebuilt around it."""
    site = tmp_path / "site"
    site.mkdir()
    fake_distribution(site, "gsp-inhouse", "inhouse", "gsp_test_inhouse", PLUGIN)
    (site / "gsp_test_inhouse_impl.py").write_text(IMPLEMENTATION)
    monkeypatch.syspath_prepend(str(site))
    registry.cache_clear()
    yield tmp_path
    registry.cache_clear()
    for name in [m for m in sys.modules if m.startswith("gsp_test_inhouse")]:
        del sys.modules[name]


def test_a_plugin_backend_runs_in_the_engine_and_is_imported_only_when_used(
    inhouse: Path, workdir: Path
) -> None:
    assert "inhouse" in registry().backends
    assert "gsp_test_inhouse_impl" not in sys.modules  # lazy: nothing imported yet
    model = {"name": "service", "id": "inhouse/large", "role": "generalist", "backend": "inhouse"}
    conf = write_roster(workdir / "conf", "inhouse", [model])
    config, _ = compose(["roster=inhouse", "tasks=[medqa]", "limit=3"], str(conf))
    rows = run(config).rows
    assert "gsp_test_inhouse_impl" in sys.modules
    assert [r.prediction for r in rows] == ["B", "B", "B"]
    assert {r.provider_model for r in rows} == {"inhouse-v1"}


def test_a_plugin_cannot_take_a_builtin_or_unsafe_name(inhouse: Path) -> None:
    assert backend_class("hf").__name__ == "HFBackend"  # the built-in wins
    problems = " ".join(registry().problems)
    assert "backend name 'bad name!'" in problems
    with pytest.raises(BackendError, match="backend 'missing' of plugin 'inhouse' cannot be"):
        backend_class("missing")


def test_an_unknown_backend_is_one_line_with_the_closest_name(inhouse: Path, workdir: Path) -> None:
    model = {"name": "service", "id": "inhouse/large", "role": "generalist", "backend": "inhose"}
    conf = write_roster(workdir / "conf", "typo", [model])
    config, _ = compose(["roster=typo", "tasks=[medqa]", "limit=3"], str(conf))
    with pytest.raises(UnknownNameError) as caught:
        prepare(config)
    message = str(caught.value)
    assert "Unknown backend 'inhose'. Did you mean 'inhouse'?" in message and "\n" not in message
    assert "genspec_backends" in message
