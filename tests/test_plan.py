"""Pre-registration end to end: `genspec plan`, then `genspec run ... plan=FILE` held to it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, write_roster
from genspec.cli import cli
from genspec.plan import canonical, first_difference, register

OVERRIDES = ("domain=medical", "roster=planned", "tasks=[medqa]", "limit=6")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def planned(workdir: Path) -> tuple[Path, Path, str]:
    """A plan for a mock-backend roster: (config dir, plan file, printed sha256)."""
    conf = write_roster(workdir / "conf", "planned", [dict(m) for m in MOCK_MODELS])
    path = workdir / "plans" / "medical.json"
    code, output = invoke("plan", *OVERRIDES, "--config-dir", str(conf), "-o", str(path))
    assert code == 0, output
    digest = re.search(r"sha256 ([0-9a-f]{64})", output)
    assert digest, output
    return conf, path, digest.group(1)


def test_plan_writes_what_decides_the_result_and_calls_no_model(
    workdir: Path, planned: tuple[Path, Path, str]
) -> None:
    _, path, digest = planned
    document = json.loads(path.read_text())
    plan = document["plan"]
    assert document["sha256"] == digest == register(plan).sha256
    assert [(t["name"], t["n"]) for t in plan["tasks"]] == [("medqa", 6)]
    assert plan["tasks"][0]["mde"] is None  # 6 items: no difference reaches 80% power
    assert {m["name"]: m["scoring"] for m in plan["models"]} == {
        "generalist-a": "generate",
        "special-b": "generate",
        "base-c": "generate",
    }
    assert plan["statistics"] == {
        "alpha": 0.05,
        "correction": "holm",
        "margin": 0.03,
        "power": 0.8,
        "mde_test": "tango-score",
        "mde_assumes_discordance": 0.3,
    }
    assert plan["seed"] == 1234 and plan["prompt"]["policy"] == "zero_shot"
    assert plan["judges"] == [] and plan["agreement_floor"] == 0.667
    assert not (workdir / "mlflow.db").exists()
    assert not any(p.is_file() for p in (workdir / "cache").rglob("*"))  # no answer cached


def test_a_run_held_to_its_plan_logs_the_plan_and_hash(
    workdir: Path, planned: tuple[Path, Path, str]
) -> None:
    conf, path, digest = planned
    code, output = invoke("run", *OVERRIDES, f"plan={path}", "--config-dir", str(conf))
    assert code == 0, output
    from mlflow.tracking import MlflowClient

    store = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = store.get_experiment_by_name("genspec-medical")
    runs = store.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.params["plan_sha256"] == digest
    assert parent.data.params["margin"] == "0.03"
    assert parent.data.params["correction"] == "holm"
    logged = Path(store.download_artifacts(parent.info.run_id, "plan.json", str(workdir / "dl")))
    assert json.loads(logged.read_text())["sha256"] == digest


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("limit=5", "limit"),
        ("seed=7", "seed"),
        ("margin=0.05", "statistics.margin"),
        ("agreement_floor=0.8", "agreement_floor"),
        ("judges=[{id: mock-j, backend: mock, name: j}]", "judges"),
    ],
)
def test_a_changed_override_is_refused_naming_the_key(
    workdir: Path, planned: tuple[Path, Path, str], override: str, key: str
) -> None:
    conf, path, _ = planned
    overrides = [o for o in OVERRIDES if o.split("=")[0] != override.split("=")[0]]
    code, output = invoke("run", *overrides, override, f"plan={path}", "--config-dir", str(conf))
    assert code != 0
    assert f"at {key} (the plan has" in output and len(output.strip().splitlines()) == 1
    assert not (workdir / "mlflow.db").exists()  # refused before any work


def test_an_edited_or_missing_plan_is_refused(
    workdir: Path, planned: tuple[Path, Path, str]
) -> None:
    conf, path, _ = planned
    document = json.loads(path.read_text())
    document["plan"]["statistics"]["alpha"] = 0.1
    path.write_text(json.dumps(document))
    code, output = invoke("run", *OVERRIDES, f"plan={path}", "--config-dir", str(conf))
    assert code != 0 and "edited after it was written" in output
    code, output = invoke("run", *OVERRIDES, "plan=nowhere.json", "--config-dir", str(conf))
    assert code != 0 and "no such file" in output


def test_the_hash_is_over_a_canonical_form() -> None:
    one = {"b": [1, 2], "a": {"y": 1, "x": "é"}}
    other = {"a": {"x": "é", "y": 1}, "b": [1, 2]}
    assert canonical(one) == canonical(other) == '{"a":{"x":"é","y":1},"b":[1,2]}'.encode()
    assert register(one).sha256 == register(other).sha256
    assert register({**one, "b": [2, 1]}).sha256 != register(one).sha256


def test_first_difference_names_the_key() -> None:
    plan = {"seed": 1, "models": [{"name": "a", "id": "x"}, {"name": "b", "id": "y"}]}
    assert first_difference(plan, plan) is None
    changed = {"seed": 1, "models": [{"name": "a", "id": "x"}, {"name": "b", "id": "z"}]}
    assert first_difference(plan, changed) == "models[b].id (the plan has 'y', this run 'z')"
    fewer = {"seed": 1, "models": [{"name": "a", "id": "x"}]}
    assert first_difference(plan, fewer).startswith(
        "models (the plan has ['a', 'b'], this run ['a'])"
    )
