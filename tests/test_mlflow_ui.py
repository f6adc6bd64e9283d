"""What the MLflow UI reads, checked in a real SQLite store without a browser: the
verdict as tag, metrics and description; model run descriptions; measured run times;
dataset inputs; the experiment's description and kind; per-item traces with their
assessments; and the parent's per-task review table (tests/test_ui_e2e.py looks at
the same in Chromium)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, write_roster
from genspec.cli import cli
from genspec.results import ExampleResult, to_frame
from genspec.tracking import ui
from genspec.tracking.outbox import Recorder, upload
from genspec.tracking.redact import protect
from genspec.tracking.traces import trace_records

LIMIT = 6


@dataclass(frozen=True)
class Logged:
    client: Any
    uri: str
    experiment: Any
    parent: Any
    models: dict[str, Any]
    folder: Path

    def artifact(self, run: Any, path: str) -> Any:
        local = self.client.download_artifacts(run.info.run_id, path, str(self.folder))
        return json.loads(Path(local).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    """One mock run of the legal domain (3 models, 6 items), logged to a fresh store."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("ui")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("GENSPEC_CACHE_DIR", str(folder / "cache"))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        conf = write_roster(folder / "conf", "dry", MOCK_MODELS)
        args = ["run", "domain=legal", "tasks=[hearsay]", "roster=dry", f"limit={LIMIT}"]
        result = CliRunner().invoke(cli, [*args, "--config-dir", str(conf)])
        assert result.exit_code == 0, result.output
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("genspec-legal")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    models = {r.info.run_name: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    yield Logged(client, uri, experiment, parent, models, folder)


def test_parent_run_shows_the_verdict(logged: Logged) -> None:
    verdict = logged.artifact(logged.parent, "verdict.json")
    markdown = Path(
        logged.client.download_artifacts(
            logged.parent.info.run_id, "verdict.md", str(logged.folder)
        )
    ).read_text(encoding="utf-8")
    tags, metrics = logged.parent.data.tags, logged.parent.data.metrics
    assert tags[ui.VERDICT_TAG] == verdict["verdict"]
    assert logged.parent.info.run_name.startswith(verdict["verdict"].upper() + " · legal")
    assert tags[ui.NOTE_TAG] == markdown
    pooled = next(c for c in verdict["pooled"] if c["kind"] == "generalist_vs_specialist")
    task = next(c for c in verdict["comparisons"] if c["kind"] == "generalist_vs_specialist")
    for stat in ("difference", "ci_low", "ci_high", "p_value", "mde"):
        for key, comparison in (("verdict", pooled), ("gen_vs_spec.0_pooled", pooled)):
            assert metrics.get(f"{key}.{stat}") == _approx(comparison[stat])
        assert metrics.get(f"gen_vs_spec.hearsay.{stat}") == _approx(task[stat])
    estimate = pooled.get("estimate") or {}
    for name, part in (
        ("task_mean", estimate.get("equal_weight") or {}),
        ("random_effects", (estimate.get("random_effects") or {}).get("pooled") or {}),
    ):
        assert metrics.get(f"verdict.{name}.estimate") == _approx(part.get("estimate"))
    base = next(c for c in verdict["comparisons"] if c["kind"] == "specialist_vs_base")
    assert metrics["spec_vs_base.special-b.hearsay.difference"] == pytest.approx(base["difference"])
    assert -1 <= metrics["verdict.difference"] <= 1  # fractions, not percent


def _approx(value: float | None) -> Any:
    """What a metric holds for a document's number: a number is logged, None is not."""
    return None if value is None else pytest.approx(value)


def test_model_runs_have_a_one_line_description(logged: Logged) -> None:
    for spec in MOCK_MODELS:
        run = logged.models[spec["name"]]
        note = run.data.tags[ui.NOTE_TAG]
        score = run.data.metrics["hearsay.accuracy"]
        invalid = run.data.metrics["hearsay.invalid_rate"]
        assert "\n" not in note
        assert note.startswith(f"{spec['role']} · pooled score {score:.1%} over {LIMIT} test")
        assert f"invalid answers {invalid:.1%}" in note


def test_runs_carry_measured_times(logged: Logged) -> None:
    parent = logged.parent.info
    for run in logged.models.values():
        info = run.info
        assert parent.start_time <= info.start_time <= info.end_time <= parent.end_time
    # the parent spans the engine's work: it starts before the first model run
    assert parent.start_time < min(r.info.start_time for r in logged.models.values())


def test_times_from_a_record_are_the_runs_times(tmp_path: Path) -> None:
    """25 minutes measured are 25 minutes in MLflow, however fast the upload is."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    recorder = Recorder(tmp_path / "record", "times", uri)
    start, end = 1_700_000_000_000, 1_700_000_000_000 + 25 * 60 * 1000
    with recorder.start_run(run_name="parent", tags={}):
        recorder.log_extra(ui.TIMES, [start, end])
        with recorder.start_run(run_name="model", tags={}, nested=True):
            recorder.log_extra(ui.TIMES, [start + 1000, end - 1000])
    recorder.seal()
    parent_id = upload(recorder.folder, uri)
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(parent_id).info
    assert (parent.start_time, parent.end_time) == (start, end)
    child = client.search_runs([parent.experiment_id], "tags.mlflow.parentRunId != ''")
    assert (child[0].info.start_time, child[0].info.end_time) == (start + 1000, end - 1000)


def test_each_run_lists_the_task_data(logged: Logged) -> None:
    results = logged.artifact(logged.parent, "results.json")
    task = next(t for t in results["tasks"] if t["name"] == "hearsay")
    for run in [logged.parent, *logged.models.values()]:
        inputs = logged.client.get_run(run.info.run_id).inputs.dataset_inputs
        assert [(d.dataset.name, d.dataset.digest) for d in inputs] == [
            ("hearsay", task["fingerprint"])
        ]
        assert json.loads(inputs[0].dataset.profile) == {"num_rows": LIMIT}


def test_experiment_opens_on_its_runs(logged: Logged) -> None:
    tags = logged.client.get_experiment(logged.experiment.experiment_id).tags
    assert tags[ui.KIND_TAG] == ui.RUNS_KIND
    assert "legal" in tags[ui.NOTE_TAG] and "fractions" in tags[ui.NOTE_TAG]


def test_traces_hold_each_answer_and_its_assessments(logged: Logged) -> None:
    import mlflow

    mlflow.set_tracking_uri(logged.uri)
    try:
        for name, run in logged.models.items():
            rows = logged.artifact(run, "examples/hearsay.json")
            table = pd.DataFrame(rows["data"], columns=rows["columns"])
            traces = mlflow.search_traces(
                locations=[logged.experiment.experiment_id],
                run_id=run.info.run_id,
                return_type="list",
            )
            assert len(traces) == LIMIT
            for trace in traces:
                item = trace.info.tags["genspec.item"]
                row = table[table["example_id"].astype(str) == item].iloc[0]
                request, response = json.loads(trace.data.request), json.loads(trace.data.response)
                assert request["prompt"] == row["prompt"]
                assert response["answer"] == row["raw_output"]
                found = {a.name: a.value for a in trace.info.assessments}
                assert found == {
                    "expected_answer": row["gold"],
                    "correct": bool(row["correct"]),
                    "valid": not row["invalid"],
                }
                assert trace.info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
                assert trace.info.tags["genspec.model"] == name
    finally:
        mlflow.set_tracking_uri(None)


def test_parent_table_puts_the_models_side_by_side(logged: Logged) -> None:
    document = logged.artifact(logged.parent, "items/hearsay.json")
    table = pd.DataFrame(document["data"], columns=document["columns"])
    assert len(table) == LIMIT
    assert {"item", "question"} <= set(table.columns)
    answers = []
    for spec in MOCK_MODELS:
        rows = logged.artifact(logged.models[spec["name"]], "examples/hearsay.json")
        own = pd.DataFrame(rows["data"], columns=rows["columns"]).set_index("example_id")
        for _, line in table.iterrows():
            assert line[f"{spec['name']} answer"] == own.at[line["item"], "prediction"]
            assert line[f"{spec['name']} correct"] == own.at[line["item"], "correct"]
        answers.append(table[f"{spec['name']} answer"])
    agree = [len(set(given)) == 1 for given in zip(*answers, strict=True)]
    if "agree" in table.columns:
        assert list(table["agree"]) == agree
    else:  # a constant column is left out
        assert len(set(agree)) == 1


def _rows(n: int, model: str = "m", wrong: Callable[[str, int], bool] = lambda t, i: True) -> Any:
    """Dev and test rows of tasks t1 and t2, items 0..n-1; ``wrong(task, item)`` says
    which answers are wrong."""
    rows = [
        ExampleResult(
            task=task,
            example_id=str(i),
            model=model,
            role="generalist",
            prediction="A",
            gold="B",
            correct=0.0 if wrong(task, i) else 1.0,
            invalid=False,
            category="",
            prompt=f"Patient John {i}?",
            raw_output="A",
            input_tokens=1,
            output_tokens=1,
            cost_usd=None,
            latency_s=0.5,
            cached=False,
            error=None,
            split=split,
        )
        for task in ("t1", "t2")
        for split in ("dev", "test")
        for i in range(n)
    ]
    return to_frame(rows)


def test_traces_are_capped_per_task_keeping_wrong_answers_first() -> None:
    # m1 is wrong on t1 item 3 only, m2 on t1 item 4 only: those two are traced first
    logged = pd.concat(
        [
            _rows(6, "m1", lambda task, i: (task, i) == ("t1", 3)),
            _rows(6, "m2", lambda task, i: (task, i) == ("t1", 4)),
        ]
    )
    for model in ("m1", "m2"):
        records = trace_records(logged, model, cap=3, start_ms=1000)
        assert [(r["tags"]["genspec.task"], r["tags"]["genspec.item"]) for r in records] == [
            ("t1", "0"), ("t1", "3"), ("t1", "4"), ("t2", "0"), ("t2", "1"), ("t2", "2"),
        ]  # fmt: skip
        assert {r["tags"]["genspec.model"] for r in records} == {model}
    assert records[0]["duration_ms"] == 500 and records[0]["start_ms"] == 1000
    assert trace_records(logged, "m1", cap=0, start_ms=0) == []


def test_traces_hold_no_text_under_none() -> None:
    masked = protect(_rows(2), "none")
    bare = trace_records(masked, "m", cap=10, start_ms=0)
    assert len(bare) == 4
    assert bare[0]["inputs"] == {"item": "t1/0"}
    assert bare[0]["outputs"] == {"prediction": masked["prediction"].iloc[0]}
    assert "Patient" not in json.dumps(bare)


def test_a_long_verdict_description_is_cut_to_mlflows_limit(logged: Logged) -> None:
    from genspec.evidence import DomainEvidence

    document = logged.artifact(logged.parent, "verdict.json")
    evidence = DomainEvidence.from_json(document)
    note = ui.parent_tags(evidence, "x" * 20_000)[ui.NOTE_TAG]
    assert len(note) == ui.MAX_NOTE and note.endswith("is in `verdict.md`)\n")
    assert ui.parent_tags(evidence, "short")[ui.NOTE_TAG] == "short"


def test_model_note_flags_a_score_below_chance() -> None:
    note = ui.model_note("specialist", _rows(4), {"t1": 0.25, "t2": 0.0})
    assert "pooled score 0.0% over 8 test items (2 tasks)" in note
    assert note.endswith("below chance: t1 0.0% < chance 25%")


def test_report_on_one_domain_names_its_run_and_shows_scores(logged: Logged) -> None:
    run_id = logged.parent.info.run_id
    day = logged.parent.data.tags["genspec.run_date"]
    for fmt in ("table", "markdown"):
        result = CliRunner().invoke(cli, ["report", "--uri", logged.uri, "--format", fmt])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())  # the terminal wraps long lines
        assert "Across domains" not in text and "do not agree" not in text
        assert f"legal: MLflow run {run_id} of {day}" in text
        assert "Results · legal" in text  # the accuracy table, in either format
    table = CliRunner().invoke(cli, ["report", "--uri", logged.uri]).output
    assert "Results · legal" in table
    for spec in MOCK_MODELS:
        assert spec["name"] in table.split("Verdict")[0]  # the accuracy table comes first


def test_review_table_drops_constant_columns_and_text_under_none() -> None:
    from genspec.tracking.tables import task_tables

    logged = pd.concat(
        [
            _rows(3, "m1", lambda task, i: i == 0),
            _rows(3, "m2", lambda task, i: False),
        ]
    )
    questions = {"t1": {str(i): f"Question {i}?" for i in range(3)}}
    tables = dict(task_tables(["t1", "t2"], questions, logged, "full"))
    t1 = tables["t1"]
    # every answer is "A" and every gold "B": constant, so gone, except each model's columns
    assert list(t1.columns) == ["item", "question", "m1 answer", "m1 correct", "m2 answer",
                                "m2 correct"]  # fmt: skip
    assert list(t1["m1 correct"]) == [0.0, 1.0, 1.0]
    assert "question" not in tables["t2"].columns  # no question text known for t2
    masked = dict(task_tables(["t1"], questions, protect(logged, "none"), "none"))["t1"]
    assert "question" not in masked.columns and "Question" not in masked.to_json()


def test_uploading_traces_leaves_mlflows_settings_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Traces are written through MLflow's global tracer: its URI and the process's
    environment come back afterwards, so a later run (multirun) logs where it should."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from genspec.tracking.traces import ASYNC
    from genspec.tracking.traces import upload as upload_traces

    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    monkeypatch.delenv(ASYNC, raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("traces")
    run = client.create_run(experiment)
    records = trace_records(_rows(2), "m", cap=1, start_ms=1000)
    upload_traces(uri, experiment, run.info.run_id, records)
    assert os.environ["MLFLOW_TRACKING_URI"] == elsewhere and ASYNC not in os.environ
    assert mlflow.get_tracking_uri() == elsewhere
    found = client.search_traces(locations=[experiment], run_id=run.info.run_id)
    assert sorted(t.info.tags["genspec.task"] for t in found) == ["t1", "t2"]
