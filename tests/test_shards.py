"""``shard=I/N``: a seeded, stable split of the items, and a report that merges the
shards into exactly the result of an unsharded run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, write_roster
from genspec.cli import cli
from genspec.config.shard import Shard
from genspec.documents import RowsDocument
from genspec.shards import merge_rows, shard_of
from genspec.tracking.reader import find_runs


def test_shard_form_is_checked() -> None:
    assert str(Shard.parse("2/3")) == "2/3"
    for bad in ("0/3", "4/3", "1-3", "a/b", "3"):
        with pytest.raises(ValueError, match="shard"):
            Shard.parse(bad)


def test_assignment_is_a_stable_partition() -> None:
    ids = [f"item-{i}" for i in range(300)]
    assigned = {i: shard_of(7, "medqa", i, 3) for i in ids}
    assert set(assigned.values()) == {1, 2, 3}
    assert min(list(assigned.values()).count(s) for s in (1, 2, 3)) > 60  # roughly even
    # adding items moves no existing item; another seed gives another split
    assert all(shard_of(7, "medqa", i, 3) == s for i, s in assigned.items())
    assert any(shard_of(8, "medqa", i, 3) != s for i, s in assigned.items())


def _rows(client: Any, run_id: str, workdir: Path) -> dict:
    local = client.download_artifacts(run_id, "rows.json", str(workdir))
    return json.loads(Path(local).read_text())


def test_three_shards_merge_into_the_unsharded_result(workdir: Path) -> None:
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    common = ["domain=medical", "roster=dry", "limit=12", "prompt=auto", "--config-dir", str(conf)]
    runner = CliRunner()
    sharded = runner.invoke(
        cli, ["run", "-m", "shard=1/3,2/3,3/3", "tracking.experiment=sharded", *common]
    )
    assert sharded.exit_code == 0, sharded.output
    assert "Shard 2/3" in sharded.output
    whole = runner.invoke(cli, ["run", "tracking.experiment=whole", *common])
    assert whole.exit_code == 0, whole.output

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    whole_runs = client.search_runs([client.get_experiment_by_name("whole").experiment_id])
    # the shards shared the answer cache: the unsharded run asked no model anything
    assert all(
        r.data.metrics["cached_fraction"] == 1.0
        for r in whole_runs
        if "mlflow.parentRunId" in r.data.tags
    )

    (merged,) = find_runs(uri, experiments=["sharded"])
    (unsharded,) = find_runs(uri, experiments=["whole"])
    assert len(merged.shards) == 3
    assert merged.verdict == unsharded.verdict
    assert merged.results is not None and unsharded.results is not None
    assert merged.results.results == unsharded.results.results
    assert merged.results.by_category == unsharded.results.by_category
    assert [t.n for t in merged.results.tasks] == [t.n for t in unsharded.results.tasks]

    # per-item rows: the shards' rows, merged, are the unsharded run's rows
    shard_rows = [_rows(client, run_id, workdir) for run_id in merged.shards]
    document = _rows(client, unsharded.run_id, workdir)
    expected = pd.DataFrame(document["data"], columns=document["columns"])
    documents = [RowsDocument.from_json(d) for d in shard_rows]
    pd.testing.assert_frame_equal(merge_rows(documents, unsharded.results), expected)
    sizes = [sum(1 for row in d["data"] if row[4] == "test") for d in shard_rows]
    assert all(size > 0 for size in sizes) and sum(sizes) == (expected["split"] == "test").sum()

    # and the report says the same for both
    reports = [
        json.loads(runner.invoke(cli, ["report", "--experiment", e, "--format", "json"]).output)
        for e in ("sharded", "whole")
    ]
    assert reports[0]["domains"] == reports[1]["domains"]


def test_a_missing_shard_is_named(workdir: Path) -> None:
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["run", "domain=legal", "roster=dry", "limit=6", "shard=2/3", "--config-dir", str(conf)],
    )
    assert result.exit_code == 0, result.output
    report = runner.invoke(cli, ["report"])
    assert report.exit_code != 0
    assert "shard(s) 1/3, 3/3" in report.output and "Traceback" not in report.output


def test_a_parallel_sweep_finds_the_local_store_already_created(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """joblib workers that all create a fresh SQLite store at once collide in MLflow's
    table migrations, and their runs land in the outbox; the store must exist first."""
    import sqlite3

    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    tables: set[str] = set()

    def launch(overrides: list[str], config_dir: str | None, configs: Any) -> list[dict[str, Any]]:
        with sqlite3.connect(workdir / "mlflow.db") as db:
            query = "SELECT name FROM sqlite_master WHERE type='table'"
            tables.update(name for (name,) in db.execute(query))
        return [{"domain": "medical", "ok": True, "run_id": None}] * 2

    monkeypatch.setattr("genspec.multirun.multirun", launch)
    args = ["run", "-m", "roster=dry", "limit=2", "shard=1/2,2/2", "--config-dir", str(conf)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert {"experiments", "runs", "alembic_version"} <= tables
