"""``healthbench_meta``: HealthBench's physician-graded answers as a check of the judges.

The loader reads one file of a folder laid out like the ``openai/healthbench`` hub repo
(four JSONL files of different schemas, no ``configs``), through the real ``datasets``
library as ``data=full`` does, and the same rows as ``data=local``. A run against
genspec's fake OpenAI-compatible API has two judges, one that agrees with the
physicians and one that does not; each judge's accuracy and Cohen's kappa are checked
against scikit-learn on the physicians' majority computed here, in the live run, the
saved verdict and ``genspec report``. No network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from genspec.cli import cli
from genspec.config.schema import DataConfig
from genspec.data import load_task_data
from genspec.errors import DataError
from genspec.evidence import DomainEvidence
from genspec.fake_api import FakeOpenAIServer, default_answer
from genspec.grading.tasks import majority, rubric_fields
from genspec.plugins import registry
from genspec.task import Task
from genspec.toolkit.fields import RowError
from genspec_medical import healthbench_meta
from tests.conftest import parent_run, write_roster

SAMPLE = Path(healthbench_meta.__file__).parent / "data" / "healthbench_meta" / "test.jsonl"
CONSENSUS_FILE = "consensus_2025-05-09-20-00-46.jsonl"
HARD_FILE = "hard_2025-05-08-21-00-10.jsonl"
OSS_FILE = "2025-05-07-06-14-12_oss_eval.jsonl"


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``datasets`` writes its Arrow cache here, not in the user's home."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def sample_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]


def rubric_row(i: int) -> dict[str, Any]:
    """A row of the other three files (oss_eval, consensus, hard): another schema."""
    return {
        "prompt": [{"role": "user", "content": f"Question {i} about a rash?"}],
        "prompt_id": f"other-{i}",
        "rubrics": [{"criterion": "Asks about fever.", "points": 5, "tags": ["axis:accuracy"]}],
        "example_tags": ["theme:context_seeking"],
        "ideal_completions_data": None,
    }


def hub_repo(root: Path, meta_rows: list[dict[str, Any]]) -> Path:
    """``openai/healthbench`` as its tree shows it: a short card with no ``configs`` and
    four JSONL files whose schemas differ, so only ``data_files`` can read one."""
    root.mkdir(parents=True)
    (root / "README.md").write_text("---\nlicense: mit\n---\n\nHealthBench (OpenAI).\n")
    for name in (OSS_FILE, CONSENSUS_FILE, HARD_FILE):
        (root / name).write_text("".join(json.dumps(rubric_row(i)) + "\n" for i in range(3)))
    meta = root / healthbench_meta.META_FILE
    meta.write_text("".join(json.dumps(row) + "\n" for row in meta_rows))
    return root


def task() -> Task:
    return registry().tasks["healthbench_meta"]


def via_hub(repo: Path, **changes: Any) -> Task:
    original = task()
    assert original.hub is not None
    return replace(original, hub=replace(original.hub, path=str(repo), **changes))


def physicians(labels: list[bool]) -> bool | None:
    """The physicians' majority, counted here apart from genspec: a tie is no grade."""
    yes, no = labels.count(True), labels.count(False)
    return None if yes == no else yes > no


# --- the loader ---------------------------------------------------------------------------


def test_the_meta_evaluation_file_is_read_from_the_hub_layout_and_as_a_local_file(
    tmp_path: Path,
) -> None:
    rows = sample_rows()
    repo = hub_repo(tmp_path / "openai-healthbench", rows)
    hub = load_task_data(via_hub(repo), DataConfig(source="full"))
    assert len(hub.test) == len(rows)
    # the file has no dev split: few-shot items are the bundled sample's, never test items
    assert [ex.id for ex in hub.dev] == ["gs-hbm-c90:6a4bf55b"]
    for item, row in zip(hub.test, rows, strict=True):
        (criterion,) = item.rubric
        assert item.id.startswith(row["completion_id"] + ":")
        assert criterion.text == row["rubric"] and criterion.points == 1.0
        assert criterion.human is physicians(row["binary_labels"])
        assert item.extra["given_answer"] == row["completion"]
        assert item.category == row["category"] and item.question.startswith("user: ")
    assert len({item.id for item in hub.test}) == len(rows)

    local = tmp_path / "local"
    local.mkdir()
    (local / "healthbench_meta.jsonl").write_text(SAMPLE.read_text())
    from_disk = load_task_data(task(), DataConfig(source="local", dir=str(local)))
    assert from_disk.fingerprint == hub.fingerprint
    assert [i.rubric for i in from_disk.test] == [i.rubric for i in hub.test]


def test_the_repo_cannot_be_read_whole_so_the_task_names_its_file(tmp_path: Path) -> None:
    repo = hub_repo(tmp_path / "openai-healthbench", sample_rows())
    with pytest.raises(DataError, match="cannot load"):
        load_task_data(via_hub(repo, data_files=None), DataConfig(source="full"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"binary_labels": ["yes", True]}, "'binary_labels' should hold only true/false"),
        ({"binary_labels": []}, "'binary_labels' should be a non-empty list"),
        ({"rubric": None}, "field 'rubric' is empty"),
        ({"completion_id": None}, "field 'completion_id' is empty"),
    ],
)
def test_a_malformed_row_is_one_line_naming_the_row_and_the_fix(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    rows = sample_rows()
    rows[2] = {**rows[2], **change}
    (tmp_path / "healthbench_meta.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError) as error:
        load_task_data(task(), DataConfig(source="local", dir=str(tmp_path)))
    text = str(error.value)
    assert "healthbench_meta.jsonl line 3" in text and message in text
    assert "Fix the row or remove it" in text and "\n" not in text


@pytest.mark.parametrize(
    ("labels", "grade"),
    [
        ([True], True),
        ([True, True, False], True),
        ([False, True, False], False),
        ([True, False], None),  # a tie: no human grade, not a coin toss
        ([True, False, True, False], None),
    ],
)
def test_the_human_grade_is_the_physicians_majority_and_a_tie_is_none(
    labels: list[bool], grade: bool | None
) -> None:
    assert majority("binary_labels")({"binary_labels": labels}) is grade


def test_rubric_fields_takes_one_criterion_with_its_human_grade() -> None:
    fields = rubric_fields(question="q", criterion_text="c", human="graded", given_answer="a")
    item = fields(
        {"q": "Is it urgent?", "c": "Says call 911.", "a": "Call 911.", "graded": False}, 1
    )
    (criterion,) = item.rubric
    assert (criterion.text, criterion.points, criterion.human) == ("Says call 911.", 1.0, False)
    ungraded = fields({"q": "Is it urgent?", "c": "Says call 911.", "a": "Wait."}, 2)
    assert ungraded.rubric[0].human is None  # no grade in the row: graded, not held to one
    with pytest.raises(RowError, match="'graded' should be a true/false grade"):
        fields({"q": "?", "c": "x", "a": "y", "graded": "no"}, 3)
    with pytest.raises(ValueError, match="exactly one of rubric=, reference= and criterion_text="):
        rubric_fields(question="q", rubric="r", criterion_text="c")
    with pytest.raises(ValueError, match="each criterion carries its own 'human'"):
        rubric_fields(question="q", rubric="r", human="h")


# --- the panel's account of a check of the judges ------------------------------------------


def test_given_answers_count_once_and_a_split_panel_does_not_touch_the_verdict() -> None:
    """Two models' rows of the same given answers hold the same ballots: counted once.
    The judges split on every criterion (alpha below the floor), yet nothing is made
    inconclusive: the task was not compared."""
    import pandas as pd

    from genspec.grading.panel import PANEL_NOTE, Ballot
    from genspec.grading.summary import hold_to_panel, panel_summaries
    from genspec.stats.verdict import Verdict
    from genspec.task import Criterion

    def ballot(human: bool, a: bool) -> str:
        criteria = (Criterion("", 1.0, "criterion", human),)
        grades = ((a, not a),)
        return Ballot(("a", "b"), criteria, grades, (0.01, 0.01), (0.01, 0.0), True).to_note()

    items = [("1", True, True), ("2", False, False), ("3", True, False), ("4", False, True)]
    frame = pd.DataFrame(
        [
            {"task": "meta", "split": "test", "example_id": item, "model": model,
             "cached": False, "extra": {PANEL_NOTE: ballot(human, a)}}
            for model in ("gen", "spec")
            for item, human, a in items
        ]
    )  # fmt: skip
    (summary,) = panel_summaries(frame, floor=0.667)
    judge_a, judge_b = summary.judges
    assert summary.checks_judges and summary.disagree and summary.units == 4
    assert judge_a.answers == 4 and judge_a.cost_usd == pytest.approx(0.04)
    assert judge_a.human is not None and (judge_a.human.n, judge_a.human.accuracy) == (4, 0.5)
    assert judge_b.human is not None and judge_b.human.accuracy == 0.5

    evidence = DomainEvidence(
        "medical", Verdict.HOLDS, "the generalist leads", False, 0.05, "holm", 0, 100,
        (), (), (), (), (),
    )  # fmt: skip
    held = hold_to_panel(evidence, [summary])
    assert held.verdict is Verdict.HOLDS and held.reason == "the generalist leads"
    (note,) = held.notes
    assert note.startswith("meta: a check of the judges, not of the models")
    assert "the judges disagree" not in note and "accuracy 0.50, Cohen's kappa 0.00 (n=4)" in note


def _row(task: str, item: str, model: str, correct: float, extra: dict[str, Any]) -> Any:
    from genspec.results import ExampleResult

    role = "generalist" if model == "gen" else "specialist"
    return ExampleResult(
        task=task, example_id=item, model=model, role=role, prediction=str(correct),
        gold="", correct=correct, invalid=False, category="", prompt="", raw_output="",
        input_tokens=0, output_tokens=0, cost_usd=None, latency_s=0.0, cached=False,
        error=None, extra=extra,
    )  # fmt: skip


def test_a_check_of_the_judges_stays_out_of_the_comparison_even_without_its_ballots() -> None:
    """The live analysis finds the check from the ballots; a merge of shards, whose rows
    keep none, finds it in the shard's verdict notes (``Settings.of``)."""
    from genspec.analysis import Settings, analyse
    from genspec.config.schema import ModelSpec
    from genspec.grading.panel import PANEL_NOTE, Ballot
    from genspec.results import to_frame
    from genspec.task import Criterion

    models = [
        ModelSpec(name="gen", id="mock-a", role="generalist", backend="mock"),
        ModelSpec(name="spec", id="mock-b", role="specialist", backend="mock"),
    ]
    note = Ballot(
        ("a",), (Criterion("", 1.0, "criterion", True),), ((True,),), (0.0,), (0.0,), True
    )
    rows = [
        _row("qa", str(i), model, float((i + (model == "gen")) % 2), {})
        for i in range(12)
        for model in ("gen", "spec")
    ] + [
        _row("meta", str(i), model, 1.0, {PANEL_NOTE: note.to_note()})
        for i in range(6)
        for model in ("gen", "spec")
    ]
    live = analyse(to_frame(rows), models, Settings(domain="medical")).evidence
    assert {c.task for c in live.comparisons} == {"qa"}
    assert any(n.startswith("meta: a check of the judges") for n in live.notes)
    settings = Settings.of(live)
    assert settings.judge_checks == ("meta",)

    merged_rows = [replace(r, extra={}) for r in rows]  # a merge of shards keeps no ballots
    merged = analyse(to_frame(merged_rows), models, settings).evidence
    assert {c.task for c in merged.comparisons} == {"qa"}
    assert "meta: a check of the judges, not of the models" in " ".join(merged.notes)
    assert Settings.of(merged).judge_checks == ("meta",)
    assert merged.verdict == live.verdict


# --- a run: two judges against the physicians -------------------------------------------

_GRADED = re.compile(r"# Response to grade\n(.*?)\n\n# Rubric criterion[^\n]*\n(.*?)\n\n", re.S)


def majority_by_answer() -> dict[tuple[str, str], bool | None]:
    return {(r["completion"], r["rubric"]): physicians(r["binary_labels"]) for r in sample_rows()}


def judge_b(answer: str) -> bool:
    """The judge that does not follow the physicians: 'met' for any short answer."""
    return len(answer) < 150


def _physicians_or_not(body: dict[str, Any]) -> str:
    """judge-a grades as the physicians' majority (a tie: met), judge-b by length."""
    found = _GRADED.search(body["messages"][-1]["content"])
    if found is None:
        return default_answer(body)
    answer, criterion = found.groups()
    if body["model"] == "judge-a":
        met = majority_by_answer()[answer, criterion] is not False
    else:
        met = judge_b(answer)
    return json.dumps({"criteria_met": met, "explanation": "scripted"})


def expected(judge: str) -> tuple[float, float, int]:
    """Accuracy, kappa and n of a judge's grades against the physicians' majority, on the
    items that have one, computed here with scikit-learn."""
    grades, humans = [], []
    for row in sample_rows():
        human = physicians(row["binary_labels"])
        if human is None:
            continue
        grades.append(human if judge == "judge-a" else judge_b(row["completion"]))
        humans.append(human)
    accuracy = sum(g == h for g, h in zip(grades, humans, strict=True)) / len(humans)
    return accuracy, float(cohen_kappa_score(grades, humans)), len(humans)


@pytest.fixture
def api(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(policy=_physicians_or_not) as server:
        monkeypatch.setenv("GENSPEC_FAKE_API_BASE", server.url)
        yield server


def test_each_judge_is_held_against_the_physicians_and_the_models_are_not_compared(
    api: FakeOpenAIServer, workdir: Path
) -> None:
    url = api.url
    models = [
        {"name": "gen", "id": "openai/gen", "role": "generalist", "backend": "litellm",
         "scoring": "generate", "family": "acme", "params": {"api_base": url}},
        {"name": "spec", "id": "openai/spec", "role": "specialist", "backend": "litellm",
         "scoring": "generate", "family": "other", "params": {"api_base": url}},
    ]  # fmt: skip
    conf = write_roster(workdir / "conf", "meta", models)
    # judge-a shares gen's family: the answers it grades are the data's, so it grades all
    judges = (
        f"judges=[{{id: openai/judge-a, family: acme, params: {{api_base: '{url}'}}}},"
        f"{{id: openai/judge-b, params: {{api_base: '{url}'}}}}]"
    )
    args = ["run", "domain=medical", "roster=meta", "tasks=[healthbench_meta]", judges]
    result = CliRunner().invoke(cli, [*args, "tracking.traces=0", "--config-dir", str(conf)])
    assert result.exit_code == 0, result.output

    graded = [
        (r.body["model"], r.body["messages"][-1]["content"])
        for r in api.requests
        if r.body and '"criteria_met"' in r.body["messages"][-1]["content"]
    ]
    items = len(sample_rows())
    assert len(graded) == len(set(graded)) == 2 * items  # each item once per judge
    # the models are never asked: their answers would not be graded
    assert not [r for r in api.requests if r.body and r.body["model"] in ("gen", "spec")]
    answers = [answer for answer, _ in majority_by_answer()]
    assert all(any(a in prompt for a in answers) for _, prompt in graded)  # the data's answers

    text = " ".join(result.output.split())
    a, b = expected("judge-a"), expected("judge-b")
    assert a[0] == 1.0 and a[1] == pytest.approx(1.0) and b[0] < 1.0  # the fixture's point
    for name, (accuracy, kappa, n) in (("judge-a", a), ("judge-b", b)):
        line = f"accuracy {accuracy:.2f}, Cohen's kappa {kappa:.2f} (n={n})"
        assert f"judge {name}: {items} answers graded, " in text  # once per item, not per model
        assert f"judge {name} {line}" in text  # the verdict's note
        assert f"against human grades: {line}" in text  # the panel report
    assert "healthbench_meta: a check of the judges, not of the models" in text
    assert "no generalist–specialist comparison could be made" in text.lower()
    # no per-model score: every model's row would be the panel's grade of the same answer
    assert "Results · medical: no model is scored by the tasks of this run." in text

    saved = CliRunner().invoke(cli, ["report", "--format", "json"])
    assert saved.exit_code == 0, saved.output
    (domain,) = json.loads(saved.output)["domains"]
    assert not [c for c in domain["comparisons"] if c["task"] == "healthbench_meta"]
    notes = " ".join(domain["notes"])
    assert f"judge judge-b accuracy {b[0]:.2f}, Cohen's kappa {b[1]:.2f} (n={b[2]})" in notes
    table = " ".join(CliRunner().invoke(cli, ["report"]).output.split())
    assert f"judge judge-a accuracy {a[0]:.2f}, Cohen's kappa {a[1]:.2f} (n={a[2]})" in table
    # and as the parent run's MLflow metrics, to compare runs on in the UI
    logged = parent_run(workdir, "medical")[1].data.metrics
    for name, (accuracy, kappa, _) in (("judge-a", a), ("judge-b", b)):
        assert logged[f"panel.healthbench_meta.judge.{name}.human_accuracy"] == pytest.approx(
            accuracy
        )
        assert logged[f"panel.healthbench_meta.judge.{name}.human_kappa"] == pytest.approx(kappa)


def test_beside_a_compared_task_the_check_of_the_judges_stays_out_of_the_comparison(
    api: FakeOpenAIServer,
) -> None:
    judges = (
        f"judges=[{{id: openai/judge-a, params: {{api_base: '{api.url}'}}}},"
        f"{{id: openai/judge-b, params: {{api_base: '{api.url}'}}}}]"
    )
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "domain=medical",
            "roster=fake-api",
            "tasks=[medqa,healthbench_meta]",
            judges,
            "limit=4",
            "tracking.traces=0",
        ],
    )
    assert result.exit_code == 0, result.output
    saved = CliRunner().invoke(cli, ["report", "--format", "json"])
    (domain,) = json.loads(saved.output)["domains"]
    compared = {c["task"] for c in domain["comparisons"]}
    assert "medqa" in compared and "healthbench_meta" not in compared
    # the models answered medqa, and were never asked a conversation of healthbench_meta
    asked = [json.dumps(r.body["messages"]) for r in api.requests if _by_a_model(r.body)]
    conversations = {row["prompt"][0]["content"] for row in sample_rows()}
    assert asked and not [a for a in asked if any(json.dumps(c)[1:-1] in a for c in conversations)]
    assert all("healthbench_meta" not in c["task"] for c in domain["pooled"])
    # the results table scores the models on medqa only
    results = [line for line in result.output.splitlines() if line.startswith("healthbench_meta")]
    assert not results and any(line.startswith("medqa ") for line in result.output.splitlines())


def _by_a_model(body: dict[str, Any] | None) -> bool:
    """A request of the roster's models (the fake-api roster's ids), not of a judge."""
    return bool(body) and str(body["model"]).startswith("genspec-fake-")
