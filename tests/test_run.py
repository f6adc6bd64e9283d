"""`genspec run` end to end on the dry-run backend, read back from a real MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, write_roster
from genspec.cli import cli

SECRET = "sk-genspec-test-SECRET123"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def dry(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    models = [dict(m) for m in MOCK_MODELS]
    models[0]["params"] = {"api_key_env": "OPENAI_API_KEY", "note": f"key {SECRET}"}
    return write_roster(workdir / "conf", "dry", models)


def client(workdir: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")


def test_run_logs_parent_and_nested_runs_with_tables(workdir: Path, dry: Path) -> None:
    code, output = run_cli(
        "run", "domain=medical", "roster=dry", "limit=6", "--config-dir", str(dry)
    )
    assert code == 0, output
    assert "medqa" in output and "score %" in output and "diff pp" in output

    mlflow = client(workdir)
    experiment = mlflow.get_experiment_by_name("genspec-medical")
    runs = mlflow.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert parent.data.params["domain"] == "medical"
    assert len(parent.data.params["task.medqa.fingerprint"]) == 16
    assert parent.data.params["task.medqa.prompt_hash"]

    local = Path(mlflow.download_artifacts(parent.info.run_id, "results.json", str(workdir)))
    results = json.loads(local.read_text())
    assert results["schema"] == "genspec.results/2"
    assert results["statistics"]["margin"] == 0.03 and results["statistics"]["plan_sha256"] is None
    row = results["results"][0]
    assert {"model", "task", "n", "accuracy", "ci_low", "ci_high", "invalid_rate"} <= set(row)
    assert row["ci_low"] <= row["accuracy"] <= row["ci_high"] and row["n"] == 6

    child = next(c for c in children if c.data.params["model.name"] == "generalist-a")
    assert child.data.params["model.role"] == "generalist"
    assert 0 <= child.data.metrics["medqa.accuracy"] <= 1
    table = Path(mlflow.download_artifacts(child.info.run_id, "examples/medqa.json", str(workdir)))
    content = json.loads(table.read_text())
    assert {"prediction", "gold", "correct", "prompt", "raw_output"} <= set(content["columns"])
    assert len(content["data"]) == 6


def test_a_smoke_roster_says_so_and_prints_the_real_run(workdir: Path) -> None:
    conf = write_roster(workdir / "conf", "tiny", MOCK_MODELS, smoke=True)
    code, output = run_cli(
        "run", "domain=legal", "roster=tiny", "limit=3", "--config-dir", str(conf)
    )
    assert code == 0, output
    flat = " ".join(output.split())
    assert "smoke run on tiny bundled models (roster 'tiny')" in flat
    assert "genspec run domain=legal roster=paper data=full" in flat


def test_secrets_never_reach_the_store(workdir: Path, dry: Path) -> None:
    code, output = run_cli(
        "run", "domain=medical", "roster=dry", "limit=3", "tasks=[medqa]", "--config-dir", str(dry)
    )
    assert code == 0, output
    leaked = [
        p
        for p in workdir.rglob("*")
        if p.is_file()
        and not p.is_relative_to(workdir / "conf")
        and SECRET.encode() in p.read_bytes()
    ]
    assert leaked == []
    assert SECRET not in output


def test_repeated_run_is_answered_from_the_cache(workdir: Path, dry: Path) -> None:
    args = ("run", "domain=legal", "roster=dry", "limit=4", "--config-dir", str(dry))
    assert run_cli(*args)[0] == 0
    assert run_cli(*args)[0] == 0
    mlflow = client(workdir)
    experiment = mlflow.get_experiment_by_name("genspec-legal")
    children = [
        r
        for r in mlflow.search_runs([experiment.experiment_id])
        if "mlflow.parentRunId" in r.data.tags
    ]
    fractions = sorted(r.data.metrics["cached_fraction"] for r in children)
    assert fractions[:3] == [0.0, 0.0, 0.0] and fractions[3:] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["domain=medicla"], "Unknown domain 'medicla'. Did you mean 'medical'?"),
        (["tasks=[medqa,pubmedq]"], "Did you mean 'pubmedqa'?"),
        (["tasks=[medqaa]"], "Unknown task 'medqaa' in domain 'medical'. Did you mean"),
        (["roster=nope"], "Unknown roster 'nope'"),
        (["limt=2"], "Did you mean 'limit'?"),
        (["prompt=fewshot"], "Unknown prompt 'fewshot' for task 'medqa'. Did you mean"),
        (["data=local", "data.dir=/nonexistent-dir"], "is not a folder"),
    ],
)
def test_bad_input_is_one_line_without_traceback(
    workdir: Path, args: list[str], message: str
) -> None:
    code, output = run_cli("run", *args)
    assert code != 0
    assert message in output
    assert "Traceback" not in output


def test_a_misspelt_domain_in_a_roster_is_named(workdir: Path) -> None:
    conf = write_roster(
        workdir / "conf", "typo", MOCK_MODELS[:1], domains={"medicl": MOCK_MODELS[1:]}
    )
    code, output = run_cli("run", "domain=medical", "roster=typo", "--config-dir", str(conf))
    assert code == 2
    assert "Unknown domain 'medicl' in roster 'typo'. Did you mean 'medical'?" in output
    assert not (workdir / "mlflow.db").exists()  # refused before any work


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("bogus://x", "MLflow has no store for 'bogus:'"),
        ("{workdir}/mlruns", "The filesystem tracking backend"),
    ],
)
def test_a_tracking_uri_no_store_can_serve_is_refused_before_any_model(
    workdir: Path, dry: Path, monkeypatch: pytest.MonkeyPatch, uri: str, message: str
) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = uri.format(workdir=workdir)
    code, output = run_cli(
        "run",
        "domain=legal",
        "roster=dry",
        "limit=2",
        f"tracking.uri={uri}",
        "--config-dir",
        str(dry),
    )
    assert code == 2
    assert f"error: Tracking URI '{uri}': {message}" in output
    assert not (workdir / ".genspec").exists()  # no run kept for a store that cannot be


def test_sync_refuses_an_outbox_folder_that_does_not_exist(workdir: Path) -> None:
    assert "Nothing to upload" in run_cli("sync")[1]  # the default folder: nothing kept yet
    code, output = run_cli("sync", "--outbox", str(workdir / "outbx"))
    assert code == 2 and "no folder" in output and "Nothing to upload" not in output
