"""Two hosts, two caches, one sweep: each host answers its part into its own cache
folder (one SQLite, one file store), the folders are merged into one shared cache that
holds every answer once, and a rerun of either host from it makes no calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from genspec.cache import open_store
from genspec.cli import cli
from genspec.fake_api import FakeOpenAIServer

SWEEP = ["run", "domain=medical", "roster=fake-api", "limit=3"]
# the sweep's three tasks, split between two hosts with pubmedqa on both (a job retried
# on another host): its answers are paid twice and must be kept once
HOSTS = {
    "a": ("tasks=[medqa,pubmedqa]", "cache.store=sqlite"),
    "b": ("tasks=[pubmedqa,mmlu_medical]", "cache.store=files"),
}


def test_per_host_caches_merge_into_one_that_answers_every_rerun(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer() as server:
        env = {**os.environ, "GENSPEC_FAKE_API_BASE": server.url}
        hosts = {
            name: subprocess.Popen(
                [sys.executable, "-m", "genspec.cli", *SWEEP, part, store, f"cache.dir={name}"],
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name, (part, store) in HOSTS.items()
        }  # the two hosts work at once, each on its own disk
        for host in hosts.values():
            output = host.communicate(timeout=300)[0]
            assert host.returncode == 0, output
        asked = {json.dumps(r.body, sort_keys=True) for r in server.requests if r.body}
        paid = server.calls
        assert paid > 0 and len(asked) < paid  # pubmedqa was answered on both hosts

        monkeypatch.setenv("GENSPEC_FAKE_API_BASE", server.url)
        merged = CliRunner().invoke(cli, ["cache", "merge", "a", "b", "--into", "shared"])
        assert merged.exit_code == 0, merged.output
        shared = open_store(workdir / "shared", "files")
        assert len({key for key, _, _ in shared.entries()}) == len(asked)  # each answer once
        assert f"Merged {len(asked)} new answer(s)" in merged.output

        for part, _ in HOSTS.values():  # a rerun of either host, from the shared cache
            rerun = CliRunner().invoke(cli, [*SWEEP, part, "cache.dir=shared", "cache.store=files"])
            assert rerun.exit_code == 0, rerun.output
        assert server.calls == paid
