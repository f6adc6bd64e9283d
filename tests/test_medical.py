"""The medical plugin: ddx scoring and judge, JAMA local files, prompts, the open roster."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conftest import write_roster
from genspec import engine
from genspec.backends.mock import MockBackend
from genspec.backends.registry import BACKENDS
from genspec.config.compose import compose
from genspec.config.schema import DataConfig, ModelSpec, Role
from genspec.data import items_fingerprint, load_task_data
from genspec.errors import DataError
from genspec.fake_api import FakeOpenAIServer, default_answer
from genspec.plugins import registry
from genspec.results import to_frame
from genspec_medical import ddx

JAMA_ROW = {
    "id": "jama-1",
    "case": "A 61-year-old man has a painless, enlarging violaceous nodule on the scalp.",
    "question": "What is your diagnosis?",
    "options": ["Angiosarcoma", "Pyogenic granuloma", "Cylindroma", "Merkel cell carcinoma"],
    "answer": "A",
    "explanation": "Angiosarcoma of the scalp in older men presents as a bruise-like nodule.",
}


def ddx_items() -> dict[str, Any]:
    data = load_task_data(registry().tasks["ddx"], DataConfig())
    return {ex.id: ex for ex in data.test}


@pytest.fixture(scope="module")
def cases() -> dict[str, Any]:
    return ddx_items()


# --- ddx scoring --------------------------------------------------------------------


def test_ddx_samples_cover_each_category_with_synonyms(cases: dict[str, Any]) -> None:
    categories = [ex.category for ex in cases.values()]
    assert {c: categories.count(c) for c in ddx.CATEGORIES} == dict.fromkeys(ddx.CATEGORIES, 10)
    for ex in cases.values():
        assert ex.references["diagnosis"][0] in ex.target
        assert ("next_step" in ex.references) == (ex.category == "treatment")


@pytest.mark.parametrize(
    ("answer", "top1", "top5"),
    [
        ("1. Giant cell arteritis\n2. Migraine", 1.0, 1.0),
        ("1. Migraine\n2. Temporal Arteritis (Horton's disease)", 0.0, 1.0),  # synonym, rank 2
        ("1. **GCA**", 1.0, 1.0),  # abbreviation, markdown
        ("- Polymyalgia rheumatica\n- Giant-cell arteritis", 0.0, 1.0),  # bullets, hyphen
        ("1. Migraine\n2. Tension headache\n3. Sinusitis\n4. Glaucoma\n5. Zoster\n6. GCA", 0, 0),
        ("Most likely giant cell arteritis.", 1.0, 1.0),  # no list: each line is an item
        ("Step by step: GCA is possible...\nAnswer:\n1. Migraine\n2. GCA", 0.0, 1.0),  # CoT
    ],
)
def test_ddx_top1_and_top5_against_gold_and_synonyms(
    cases: dict[str, Any], answer: str, top1: float, top5: float
) -> None:
    judgement = ddx.score(answer, cases["genspec-ddx-test-002"])  # giant cell arteritis
    assert (judgement.metrics["top1"], judgement.metrics["top5"]) == (top1, top5)
    assert judgement.correct == top5 and not judgement.invalid


def test_ddx_treatment_cases_need_the_next_step_too(cases: dict[str, Any]) -> None:
    tamponade = cases["genspec-ddx-test-012"]
    answer = "1. Cardiac tamponade\n2. Pericarditis\nNext step: pericardiocentesis"
    right = ddx.score(answer, tamponade)
    assert right.correct == 1.0 and right.metrics["next_step"] == 1.0
    assert "next step: pericardiocentesis" in right.prediction
    wrong = ddx.score("1. Cardiac tamponade\nNext step: IV furosemide", tamponade)
    assert (wrong.correct, wrong.metrics["top1"], wrong.metrics["next_step"]) == (0.0, 1.0, 0.0)


def test_ddx_unreadable_is_invalid_and_near_misses_are_undecided(cases: dict[str, Any]) -> None:
    assert ddx.score("", cases["genspec-ddx-test-002"]).invalid
    endocarditis = cases["genspec-ddx-test-001"]  # gold: tricuspid valve infective endocarditis
    near = ddx.score("1. Endocarditis\n2. Pneumonia", endocarditis)
    assert near.undecided and near.correct == 0.0  # wrong unless a judge says otherwise
    clear = ddx.score("1. Pneumonia\n2. Lung abscess", endocarditis)
    assert not clear.undecided


def test_judge_can_only_find_the_gold_earlier_and_unreadable_replies_are_noted(
    cases: dict[str, Any],
) -> None:
    endocarditis = cases["genspec-ddx-test-001"]
    answer = "1. Endocarditis\n2. Infective endocarditis"
    rule = ddx.score(answer, endocarditis)
    assert rule.undecided and (rule.metrics["top1"], rule.metrics["top5"]) == (0.0, 1.0)
    assert "1. Endocarditis\n2. Infective endocarditis" in ddx.JUDGE.prompt(
        answer, endocarditis, rule
    )
    none = ddx.JUDGE.apply(answer, endocarditis, rule, '{"rank": 0, "rationale": "too vague"}')
    assert none.metrics["top5"] == 1.0 and none.notes["judge_rationale"] == "too vague"
    first = ddx.JUDGE.apply(answer, endocarditis, rule, 'Sure: {"rank": 1, "rationale": "same"}')
    assert first.metrics["top1"] == 1.0 and not first.undecided
    garbled = ddx.JUDGE.apply(answer, endocarditis, rule, "rank one")
    assert garbled.metrics == rule.metrics
    assert garbled.notes["judge_rationale"].startswith("unreadable judge reply")


# --- ddx with a judge model (litellm to a local OpenAI-compatible server) ----------


def judge_policy(body: dict[str, Any]) -> str:
    """The model answers a near miss; the judge says rank 1 names the gold."""
    prompt = body["messages"][-1]["content"]
    if "You are grading" in prompt:
        return '{"rank": 1, "rationale": "Endocarditis here is the infective endocarditis."}'
    if "differential diagnosis" in prompt:
        return "1. Endocarditis\n2. Pneumonia\n3. Sepsis"
    return default_answer(body)


def ddx_run(workdir: Path, server: FakeOpenAIServer, *overrides: str) -> engine.DomainRun:
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    model = {
        "name": "served",
        # one id per server: the engine's backend pool keys on the model's identity,
        # which leaves out api_base, and would reuse a client of an earlier test's server
        "id": f"openai/model-{port}",
        "role": "generalist",
        "backend": "litellm",
        "params": {"api_base": server.url},
    }
    conf = write_roster(workdir / "conf", "served", [model])
    config, _ = compose(
        ["domain=medical", "roster=served", "tasks=[ddx]", "limit=6", *overrides], str(conf)
    )
    return engine.run(config)


def test_judge_is_off_by_default(workdir: Path) -> None:
    with FakeOpenAIServer(policy=judge_policy) as server:
        result = ddx_run(workdir, server)
        assert server.calls == 6  # the model's answers only
    assert all("judge_rationale" not in row.extra for row in result.rows)


def test_judge_settles_only_undecided_answers_and_its_rationale_is_kept(workdir: Path) -> None:
    with FakeOpenAIServer(policy=judge_policy) as server:
        plain = {r.example_id: r for r in ddx_run(workdir, server).rows}
        calls = server.calls
        judged = ddx_run(
            workdir,
            server,
            "judge.id=openai/judge-model",
            f"+judge.params.api_base={server.url}",
        ).rows
        undecided = [i for i, r in plain.items() if "endocarditis" in r.gold.lower()]
        assert server.calls - calls == len(undecided) >= 1  # model answers cached; judge only
    for row in judged:
        if row.example_id in undecided:
            assert row.extra["judge_rationale"].startswith("Endocarditis here")
            assert row.extra["judge_model"] == "openai/judge-model"
            assert row.metrics["top1"] == 1.0 and row.correct == 1.0
        else:
            assert "judge_rationale" not in row.extra
            assert row.correct == plain[row.example_id].correct


def test_ddx_limit_is_stratified_by_category(workdir: Path) -> None:
    with FakeOpenAIServer(policy=judge_policy) as server:
        result = ddx_run(workdir, server)
    categories = [row.category for row in result.rows]
    assert sorted(categories) == sorted([*ddx.CATEGORIES] * 2)
    frame = to_frame(result.rows)
    assert {"top1", "top5"} <= set(frame["metrics"].iloc[0])


# --- JAMA Clinical Challenge: local files only ----------------------------------------


def test_jama_reads_the_local_schema_and_keeps_the_explanation(tmp_path: Path) -> None:
    rows = [JAMA_ROW, {**JAMA_ROW, "id": "jama-2", "answer": "c", "explanation": None}]
    (tmp_path / "jama.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_task_data(registry().tasks["jama"], DataConfig(source="local", dir=str(tmp_path)))
    first = data.test[0]
    assert (first.id, first.gold, first.context) == ("jama-1", 0, JAMA_ROW["case"])
    assert first.extra["explanation"] == JAMA_ROW["explanation"]
    assert data.test[1].gold == 2 and data.test[1].extra["explanation"] == ""


def test_jama_explanation_reaches_the_per_example_results(workdir: Path) -> None:
    data_dir = workdir / "private"
    data_dir.mkdir()
    (data_dir / "jama.jsonl").write_text(json.dumps(JAMA_ROW) + "\n")
    model = {"name": "m", "id": "mock", "role": "generalist", "backend": "mock"}
    conf = write_roster(workdir / "conf", "one", [model])
    config, _ = compose(
        ["domain=medical", "roster=one", "tasks=[jama]", "data=local", f"data.dir={data_dir}"],
        str(conf),
    )
    (row,) = engine.run(config).rows
    assert row.extra["explanation"] == JAMA_ROW["explanation"]


@pytest.mark.parametrize("source", ["sample", "full", "local"])
def test_missing_jama_file_is_one_line_naming_path_and_schema(tmp_path: Path, source: str) -> None:
    config = DataConfig(source=source, dir=str(tmp_path) if source == "local" else None)
    with pytest.raises(DataError) as caught:
        load_task_data(registry().tasks["jama"], config)
    message = str(caught.value)
    assert "jama.jsonl" in message and "\n" not in message
    assert "case, question, options" in message and "answer (letter A-D), explanation" in message
    if source == "local":
        assert str(tmp_path) in message


def test_default_medical_run_has_no_jama_and_full_has_no_ddx(workdir: Path) -> None:
    model = {"name": "m", "id": "mock", "role": "generalist", "backend": "mock"}
    conf = write_roster(workdir / "conf", "one", [model])
    config, _ = compose(["domain=medical", "roster=one"], str(conf))
    names = [p.task.name for p in engine.prepare(config)[0]]
    assert "jama" not in names and "ddx" in names


# --- prompts ----------------------------------------------------------------------------


def test_medical_dev_items_never_overlap_test_items() -> None:
    for task in registry().tasks_for("medical"):
        if task.local_only:
            continue
        data = load_task_data(task, DataConfig())
        # by content: MMLU rows have no id, so row numbers repeat across splits
        assert not {ex.question + ex.context for ex in data.dev} & {
            ex.question + ex.context for ex in data.test
        }, task.name


def test_ddx_dev_item_copied_into_test_is_refused(tmp_path: Path) -> None:
    sample = Path(ddx.__file__).parent / "data" / "ddx"
    dev_line = (sample / "dev.jsonl").read_text().splitlines()[0]
    (tmp_path / "ddx.jsonl").write_text(dev_line + "\n")
    with pytest.raises(DataError, match="also appear in the test items"):
        load_task_data(registry().tasks["ddx"], DataConfig(source="local", dir=str(tmp_path)))


def test_few_shot_is_seeded_from_dev_and_cot_keeps_the_reasoning(workdir: Path) -> None:
    def reasoning(body: dict[str, Any]) -> str:
        return "The vignette points to option B because of the ECG.\nAnswer: B"

    with FakeOpenAIServer(policy=reasoning) as server:
        result = ddx_run(workdir, server, "tasks=[medqa]", "prompt=cot")
        rows = result.rows
        assert all(r.template == "cot" for r in rows)
        assert all("because of the ECG" in r.raw_output and r.prediction == "B" for r in rows)

        shots = [
            ddx_run(workdir, server, "tasks=[medqa]", "prompt=few_shot", f"seed={s}").rows
            for s in (1, 1, 2)
        ]
    dev = load_task_data(registry().tasks["medqa"], DataConfig()).dev
    assert [r.prompt for r in shots[0]] == [r.prompt for r in shots[1]]
    assert [r.prompt for r in shots[0]] != [r.prompt for r in shots[2]]
    for row in shots[0]:
        used = [ex for ex in dev if ex.question in row.prompt]
        assert len(used) == 3 and row.prompt.count("Answer:") == 3


def test_one_logged_run_has_prompt_choice_fingerprints_hashes_and_ddx_metrics(
    workdir: Path,
) -> None:
    """prompt=auto picks each model's template on dev and logs it; every task's data
    fingerprint and template hashes are params; ddx top-1/top-5 and categories are metrics."""
    from click.testing import CliRunner
    from mlflow.tracking import MlflowClient

    from genspec.cli import cli

    models = [
        {"name": "gen", "id": "mock-g", "role": "generalist", "backend": "mock"},
        {"name": "spec", "id": "mock-s", "role": "specialist", "backend": "mock"},
    ]
    conf = write_roster(workdir / "conf", "two", models)
    args = ["domain=medical", "roster=two", "tasks=[medqa,ddx]", "prompt=auto", "limit=3"]
    outcome = CliRunner().invoke(cli, ["run", *args, "--config-dir", str(conf)])
    assert outcome.exit_code == 0, outcome.output
    assert "ddx by category" in outcome.output

    store = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    runs = store.search_runs([store.get_experiment_by_name("genspec-medical").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    config, _ = compose(args, str(conf))
    for prepared in engine.prepare(config)[0]:
        name, prompts = prepared.task.name, prepared.task.prompts
        assert parent.data.params[f"task.{name}.fingerprint"] == prepared.data.fingerprint
        hashes = f"zero_shot:{prompts['zero_shot'].fingerprint()},few_shot:"
        assert parent.data.params[f"task.{name}.prompt_hash"].startswith(hashes)

    for child in (r for r in runs if "mlflow.parentRunId" in r.data.tags):
        params, metrics = child.data.params, child.data.metrics
        for task in ("medqa", "ddx"):
            dev = {t: metrics[f"{task}.dev.{t}.accuracy"] for t in ("zero_shot", "few_shot")}
            assert params[f"{task}.prompt"] == max(dev, key=dev.__getitem__)  # ties: first
        for key in ("ddx.top1", "ddx.top5", "ddx.treatment.accuracy", "ddx.rare_disease.n"):
            assert key in metrics, key
        table = Path(store.download_artifacts(child.info.run_id, "examples/ddx.json", str(workdir)))
        content = json.loads(table.read_text())
        rows = [dict(zip(content["columns"], row, strict=True)) for row in content["data"]]
        test_templates = {r["template"] for r in rows if r["split"] == "test"}
        assert test_templates == {params["ddx.prompt"]}
        assert all({"top1", "top5"} <= set(r["metrics"]) for r in rows)


def test_changed_synonyms_change_the_fingerprint(cases: dict[str, Any]) -> None:
    items = list(cases.values())
    edited = replace(items[0], references={"diagnosis": ("something else",)})
    assert items_fingerprint(items) != items_fingerprint([edited, *items[1:]])


# --- the open roster -----------------------------------------------------------------


def test_open_roster_composes_with_declared_medical_specialist_base_pairs() -> None:
    config, _ = compose(["domain=medical", "roster=open"])  # validated, nothing loaded
    models = {m.name: m for m in config.roster.for_domain("medical")}
    pairs = {
        m.id: models[m.base].id
        for m in models.values()
        if m.role is Role.SPECIALIST and m.base is not None
    }
    assert pairs == {
        "epfl-llm/meditron-7b": "meta-llama/Llama-2-7b-hf",
        "aaditya/Llama3-OpenBioLLM-8B": "meta-llama/Meta-Llama-3-8B",
        "BioMistral/BioMistral-7B": "mistralai/Mistral-7B-Instruct-v0.1",
    }
    generalists = [m.id for m in models.values() if m.role is Role.GENERALIST]
    assert "meta-llama/Llama-3.1-8B-Instruct" in generalists  # a general model of that size
    assert {m.backend for m in models.values()} == {"hf"}
    legal = {m.name for m in config.roster.for_domain("legal")}
    assert not {"meditron-7b", "openbiollm-8b"} & legal


class ExclusiveMock(MockBackend):
    """A mock that holds "device memory": the pool must close it before the next."""

    EXCLUSIVE = True
    closed: ClassVar[list[str]] = []

    def close(self) -> None:
        self.closed.append(self.spec.name)


def test_pool_keeps_one_exclusive_backend_so_a_gpu_roster_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(BACKENDS, "exclusive", f"{__name__}:ExclusiveMock")
    pool = engine.BackendPool()
    specs = [
        ModelSpec(name=n, id=f"id-{n}", role=Role.SPECIALIST, backend=b)
        for n, b in (("a", "exclusive"), ("api", "mock"), ("b", "exclusive"))
    ]
    first, api, _ = (pool.get(spec, lambda _message: None) for spec in specs)
    assert ExclusiveMock.closed == ["a"]  # loading b closed a; the mock API model stays
    assert pool.get(specs[1], lambda _message: None) is api
    assert pool.get(specs[0], lambda _message: None) is not first  # reloaded when needed


def test_pool_reuses_a_backend_only_for_the_same_server_and_name() -> None:
    pool, quiet = engine.BackendPool(), lambda _message: None
    local, remote, again = (
        ModelSpec(name=n, id="openai/m", role=Role.GENERALIST, backend="mock", params=p)
        for n, p in (
            ("m", {"api_base": "http://a/v1"}),
            ("m", {"api_base": "http://b/v1"}),
            ("m", {"api_base": "http://a/v1"}),
        )
    )
    assert pool.get(local, quiet) is pool.get(again, quiet)
    assert pool.get(remote, quiet) is not pool.get(local, quiet)  # requests go to its own server
    renamed = local.model_copy(update={"name": "other"})
    assert pool.get(renamed, quiet) is not pool.get(local, quiet)  # a mock answers by its name


def test_ddx_generation_is_capped_for_small_local_models(workdir: Path) -> None:
    model = {"name": "m", "id": "mock", "role": "generalist", "backend": "mock"}
    conf = write_roster(workdir / "conf", "one", [model])
    for prompt, cap in (("zero_shot", ddx.ANSWER_TOKENS), ("cot", 512)):
        config, _ = compose(["domain=medical", "roster=one", f"prompt={prompt}"], str(conf))
        prepared, models, _ = engine.prepare(config)
        task = next(p for p in prepared if p.task.name == "ddx")
        request = engine._request(task, task.templates[prompt], task.examples[0], models[0], config)
        assert request.max_tokens == cap
        assert "numbered list of the 5 most likely diagnoses" in request.messages[0].content
