"""genspec against a real shared ``mlflow server``: parallel workers, a flaky network,
a server that is down (outbox, then ``genspec sync``), and a report over many workers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, FaultProxy, mlflow_server, write_roster
from genspec.cli import cli

DOMAINS = ("medical", "finance", "legal")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture
def conf(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # quick retries keep the test short; the policy (which errors, backoff) is MLflow's
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0.2")
    return write_roster(workdir / "conf", "dry", MOCK_MODELS)


def _parents(uri: str, experiment: str) -> tuple[list, list, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"experiment {experiment} missing"
    runs = client.search_runs([found.experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags], runs, client


def _check_complete(uri: str, experiment: str, domains: tuple[str, ...]) -> None:
    """Every run, metric, table and file of every domain's run is on the server."""
    parents, runs, client = _parents(uri, experiment)
    assert sorted(p.data.tags["genspec.domain"] for p in parents) == sorted(domains)
    for parent in parents:
        assert parent.info.status == "FINISHED"
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == len(MOCK_MODELS)
        files = {a.path for a in client.list_artifacts(parent.info.run_id)}
        assert {"config.yaml", "results.json", "rows.json", "verdict.json", "verdict.md"} <= files
        plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
        assert plots == {"plots/accuracy.png", "plots/forest.png"}
        tasks = parent.data.params["tasks"].split(",")
        for child in children:
            assert child.info.status == "FINISHED"
            assert {f"{t}.accuracy" for t in tasks} <= set(child.data.metrics)
            tables = {a.path for a in client.list_artifacts(child.info.run_id, "examples")}
            assert tables == {f"examples/{t}.json" for t in tasks}


def _kept(workdir: Path) -> list[Path]:
    outbox = workdir / ".genspec" / "outbox"
    return [p for p in outbox.iterdir() if p.name != ".pending"] if outbox.exists() else []


def test_parallel_joblib_multirun_on_a_shared_server_through_a_flaky_network(
    workdir: Path, conf: Path, server: str
) -> None:
    """Three domains in three joblib worker processes, logging at once to one server
    through a network that drops every sixth request: nothing may be lost."""
    proxy = FaultProxy(server, fail_every=6).start()
    try:
        command = [
            "run", "-m", "launcher=joblib", "hydra.launcher.n_jobs=3",
            "domain=medical,finance,legal", "roster=dry", "limit=4",
            f"tracking.uri={proxy.url}", "tracking.experiment=shared", "--config-dir", str(conf),
        ]  # fmt: skip
        sweep = subprocess.Popen(
            [sys.executable, "-m", "genspec.cli", *command],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = sweep.communicate(timeout=400)[0]
    finally:
        proxy.stop()
    assert sweep.returncode == 0, output
    # each worker's tables are in its job folder; the driver lists the three runs at the end
    assert output[output.rindex("Jobs (3)") :].count(" · logged, run ") == 3, output
    assert "Across domains" in output  # read back from the server after the sweep
    statuses = [json.loads(p.read_text()) for p in workdir.glob(".genspec/multirun/*/*/*.json")]
    assert sorted(s["domain"] for s in statuses) == sorted(DOMAINS)
    assert all(s["ok"] and s["pid"] != sweep.pid for s in statuses)  # ran in joblib workers
    assert proxy.failed >= 10  # the network really failed, and every failure was retried
    assert _kept(workdir) == []
    _check_complete(server, "shared", DOMAINS)

    # one report over the runs the three workers made
    report = CliRunner().invoke(
        cli, ["report", "--uri", server, "--experiment", "shared", "--format", "json"]
    )
    assert report.exit_code == 0, report.output
    document = json.loads(report.output)
    assert {d["domain"] for d in document["domains"]} == set(DOMAINS)
    assert len(document["cross_domain"]["domains"]) == 3


def test_server_down_keeps_the_run_and_sync_uploads_it(
    workdir: Path, conf: Path, server: str
) -> None:
    proxy = FaultProxy(server)  # not started: the "server" is down
    args = ["run", "domain=legal", "roster=dry", "limit=4", f"tracking.uri={proxy.url}"]
    down = CliRunner().invoke(cli, [*args, "tracking.experiment=outage", "--config-dir", str(conf)])
    assert down.exit_code == 0, down.output
    assert "could not be reached" in down.output and "genspec sync" in down.output
    kept = _kept(workdir)
    assert len(kept) == 1 and (kept[0] / "record.json").is_file()

    still_down = CliRunner().invoke(cli, ["sync"])
    assert still_down.exit_code != 0 and "still kept" in still_down.output
    assert kept[0].is_dir()

    back_at_ms = time.time() * 1000
    proxy.start()  # the server is back
    try:
        synced = CliRunner().invoke(cli, ["sync"])
    finally:
        proxy.stop()
    assert synced.exit_code == 0, synced.output
    assert "uploaded" in synced.output and not kept[0].exists()
    assert "View run" not in synced.output  # MLflow's own links: genspec names the run
    _check_complete(server, "outage", ("legal",))
    parent = _parents(server, "outage")[0][0]
    assert parent.info.start_time < back_at_ms  # when it was computed, not uploaded
