"""genspec drift: re-asks an earlier run's items without the cache and finds the model
whose answers changed (the fake API's ``versions`` knob), and no change in the other."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from conftest import write_roster
from genspec.cli import cli
from genspec.fake_api import FakeOpenAIServer


def served(server: FakeOpenAIServer, name: str, role: str) -> dict[str, object]:
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    # an id per server: the engine's backend pool keys on identity, which omits api_base
    return {
        "name": name,
        "id": f"openai/drift-{name}-{port}",
        "role": role,
        "backend": "litellm",
        "params": {"api_base": server.url},
    }


def test_drift_finds_the_changed_model_and_no_change_in_the_other(workdir: Path) -> None:
    from mlflow.tracking import MlflowClient

    runner = CliRunner()
    with FakeOpenAIServer() as server:
        models = [served(server, "gen", "generalist"), served(server, "spec", "specialist")]
        conf = write_roster(workdir / "conf", "drifty", models)
        args = ["roster=drifty", "tasks=[medqa,pubmedqa]", "limit=5", "--config-dir", str(conf)]
        first = runner.invoke(cli, ["run", *args])
        assert first.exit_code == 0, first.output
        store = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
        experiment = store.get_experiment_by_name("genspec-medical").experiment_id
        (parent,) = [
            r for r in store.search_runs([experiment]) if "mlflow.parentRunId" not in r.data.tags
        ]
        asked = server.calls

        # the provider retrains the model behind one name, the other stays as it was
        server.versions[models[0]["id"].removeprefix("openai/")] = "v2"
        outcome = runner.invoke(cli, ["drift", "--run", parent.info.run_id, "--n", "8"])
        assert outcome.exit_code == 0, outcome.output
        assert server.calls - asked == 2 * 8  # both models asked again: no cache

        again = runner.invoke(cli, ["run", *args])  # the cache still replays the old answers
        assert again.exit_code == 0 and server.calls - asked == 2 * 8

    assert "Drift" in outcome.output and "unchanged" in outcome.output
    assert "changed" in outcome.output.replace("unchanged", "")
    (line,) = [x for x in outcome.output.splitlines() if x.startswith("gen: ")]
    then, now = line.split("→")
    assert "fp_genspec_fake" in then and "_v2" not in then and "fp_genspec_fake_v2" in now
    (drift_run,) = [
        r for r in store.search_runs([experiment]) if r.data.tags.get("genspec.kind") == "drift"
    ]
    assert drift_run.data.tags["genspec.drift_of"] == parent.info.run_id
    assert "genspec.domain" not in drift_run.data.tags  # never read by `genspec report`
    local = store.download_artifacts(drift_run.info.run_id, "drift.json", str(workdir))
    report = json.loads(Path(local).read_text())
    by_model = {m["model"]: m for m in report["models"]}
    assert report["sample"] == 8 and report["original_run"] == parent.info.run_id
    gen, spec = by_model["gen"], by_model["spec"]
    assert gen["n"] == spec["n"] == 8
    assert gen["changed"] > 0 and gen["status"] != "unchanged"
    assert any(f.endswith("_v2") for f in gen["new_fingerprints"])
    assert not any(f.endswith("_v2") for f in gen["old_fingerprints"])
    assert spec["changed"] == 0 and spec["status"] == "unchanged"
    assert spec["difference"] == 0 and spec["p_value"] == 1.0
    assert spec["old_fingerprints"] == spec["new_fingerprints"]
    rows = store.download_artifacts(drift_run.info.run_id, "drift_rows.json", str(workdir))
    assert len(json.loads(Path(rows).read_text())["data"]) == 16
    assert drift_run.data.metrics["gen.changed_share"] == gen["changed"] / 8

    unknown = runner.invoke(cli, ["drift", "--run", "0123456789abcdef"])
    assert unknown.exit_code != 0 and len(unknown.output.strip().splitlines()) == 1
    assert "No finished genspec run '0123456789abcdef'" in unknown.output


def test_drift_without_a_store_is_one_line(workdir: Path) -> None:
    outcome = CliRunner().invoke(cli, ["drift", "--run", "0123456789abcdef"])
    assert outcome.exit_code != 0
    assert "No genspec runs" in outcome.output and "genspec run" in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1
