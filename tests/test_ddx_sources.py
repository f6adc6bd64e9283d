"""ddx at scale: DDXPlus, MedQA's next-step questions and RareBench, scored as ddx scores.

Each hub fixture is a folder laid out like the hub repository (its README's ``configs``
and data files with the hub's types), read by the real ``datasets`` library as
``data=full`` does, and the same rows as ``data=local`` files. No network.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from genspec.config.schema import DataConfig
from genspec.data import load_task_data
from genspec.errors import DataError
from genspec.plugins import registry
from genspec.task import Example, Task
from genspec.toolkit import load_tasks
from genspec_medical import ddx, ddxplus, next_step, rarebench


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``datasets`` writes its Arrow cache here, not in the user's home."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def task(name: str) -> Task:
    return registry().tasks[name]


def via_hub(name: str, repo: Path) -> Task:
    """The registered task, pointed at a local copy of its hub repository."""
    original = task(name)
    assert original.hub is not None
    return replace(original, hub=replace(original.hub, path=str(repo)))


def write_card(repo: Path, config: str, splits: dict[str, str]) -> None:
    """The README's ``configs``, mapping each split to its files, as on the hub."""
    repo.mkdir(parents=True, exist_ok=True)
    files = [{"split": split, "path": path} for split, path in splits.items()]
    card = {"configs": [{"config_name": config, "data_files": files}]}
    (repo / "README.md").write_text(f"---\n{yaml.safe_dump(card)}---\n")


def parquet(path: Path, rows: list[dict], features: dict) -> None:
    """Rows written by ``datasets`` itself, so the file carries the hub's feature types."""
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    typed = datasets.Features.from_dict(features)
    datasets.Dataset.from_list(rows, features=typed).to_parquet(str(path))


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_the_three_tasks_report_the_seeds_three_scores_in_ddx_categories() -> None:
    """Named runs only, scored per category, each in the category ddx gives its score."""
    expected = {
        "ddxplus": "diagnostic",
        "medqa_next_step": "treatment",
        "rarebench": "rare_disease",
    }
    for name, category in expected.items():
        declared = task(name)
        assert not declared.by_default and declared.report_by_category
        data = load_task_data(declared, DataConfig(source="sample"))
        assert len(data.test) >= 8 and len(data.dev) >= 2
        assert {ex.category for ex in [*data.test, *data.dev]} == {category}
    assert set(expected.values()) == set(ddx.CATEGORIES)


# --- DDXPlus: appier-ai-research/StreamBench, config ddxplus (parquet) -------------

STRING = {"dtype": "string", "_type": "Value"}
DDXPLUS_FEATURES = {
    "AGE": {"dtype": "int64", "_type": "Value"},
    **{
        name: STRING
        for name in (
            "SEX",
            "INITIAL_EVIDENCE_ENG",
            "EVIDENCES_ENG",
            "PATIENT_PROFILE",
            "DIFFERENTIAL_DIAGNOSIS",
            "PATHOLOGY",
            "INITIAL_EVIDENCE",
            "EVIDENCES",
        )
    },
}


def ddxplus_row(i: int, pathology: str, split: str) -> dict:
    return {
        "AGE": 30 + i,
        "SEX": "F" if i % 2 else "M",
        "INITIAL_EVIDENCE_ENG": "cough",
        "EVIDENCES_ENG": "['cough']",
        "PATIENT_PROFILE": f"Age: {30 + i}\nSex: M\nChief complaint: cough ({split} patient {i})",
        "DIFFERENTIAL_DIAGNOSIS": f"[['{pathology}', 0.5]]",
        "PATHOLOGY": pathology,
        "INITIAL_EVIDENCE": "E_201",
        "EVIDENCES": "['E_201']",
    }


def test_ddxplus_hub_layout_and_local_file(tmp_path: Path) -> None:
    repo = tmp_path / "StreamBench"
    write_card(repo, "ddxplus", {"test": "ddxplus/test-*", "validate": "ddxplus/validate-*"})
    test_rows = [ddxplus_row(i, p, "test") for i, p in enumerate(["GERD", "Pneumonia", "PSVT"])]
    parquet(repo / "ddxplus" / "test-00000-of-00001.parquet", test_rows, DDXPLUS_FEATURES)
    dev_rows = [ddxplus_row(0, "Influenza", "validate")]
    parquet(repo / "ddxplus" / "validate-00000-of-00001.parquet", dev_rows, DDXPLUS_FEATURES)

    data = load_task_data(via_hub("ddxplus", repo), DataConfig(source="full"))
    assert [ex.id for ex in data.test] == ["ddxplus-1", "ddxplus-2", "ddxplus-3"]
    gerd = data.test[0]
    assert gerd.context.endswith("(test patient 0)") and gerd.category == "diagnostic"
    assert gerd.references["diagnosis"][:2] == ("GERD", "gastroesophageal reflux")
    assert data.test[1].references["diagnosis"] == ("Pneumonia",)  # no synonyms listed
    assert gerd.extra["PATHOLOGY"] == "GERD" and gerd.target == "1. GERD"
    assert [ex.references["diagnosis"][0] for ex in data.dev] == ["Influenza"]

    local = tmp_path / "local"
    local.mkdir()
    jsonl(local / "ddxplus.jsonl", test_rows)
    from_disk = load_task_data(task("ddxplus"), DataConfig(source="local", dir=str(local)))
    assert from_disk.fingerprint == data.fingerprint


def test_ddxplus_row_without_a_profile_is_one_line_naming_it(tmp_path: Path) -> None:
    rows = [ddxplus_row(0, "GERD", "test"), ddxplus_row(1, "Anemia", "test")]
    del rows[1]["PATIENT_PROFILE"]
    jsonl(tmp_path / "ddxplus.jsonl", rows)
    with pytest.raises(DataError, match=r"ddxplus.jsonl line 2: missing field 'PATIENT_PROFILE'"):
        load_task_data(task("ddxplus"), DataConfig(source="local", dir=str(tmp_path)))


def ddxplus_case(pathology: str) -> Example:
    return ddxplus.to_example(ddxplus_row(0, pathology, "test"), 1)


def test_ddxplus_answers_scored_by_ddx_with_its_synonyms() -> None:
    gerd = ddxplus_case("GERD")
    first = ddx.score("1. Gastroesophageal reflux disease\n2. Peptic ulcer", gerd)
    assert first.correct == 1 and first.metrics == {"top1": 1.0, "top5": 1.0}
    third = ddx.score(
        "1. Pneumonia\n2. Myocarditis\n3. Possible STEMI", ddxplus_case("Possible NSTEMI / STEMI")
    )
    assert third.metrics == {"top1": 0.0, "top5": 1.0} and not third.undecided
    missed = ddx.score("1. Pneumonia\n2. Bronchitis", ddxplus_case("Pulmonary embolism"))
    assert missed.correct == 0 and not missed.undecided
    # "Asthma" shares a distinctive word with the gold without naming it: the judge decides
    near = ddx.score(
        "1. Asthma\n2. Croup", ddxplus_case("Bronchospasm / acute asthma exacerbation")
    )
    assert near.correct == 0 and near.undecided


# --- MedQA's next-step questions: GBaker/MedQA-USMLE-4-options-hf (JSON files) ----

MANAGEMENT = "Which of the following is the most appropriate next step in management?"
OTHER = "Which of the following is the most likely diagnosis?"


def medqa_row(i: int, split: str, question: str, label: int = 1) -> dict:
    return {
        "id": f"{split}-{i:05d}",
        "sent1": f"A {40 + i}-year-old man collapses ({split} {i}). {question}",
        "sent2": "",
        "ending0": "Observation",
        "ending1": "Intravenous alteplase",
        "ending2": "Lumbar puncture",
        "ending3": "Oral aspirin",
        "label": label,
    }


def test_medqa_next_step_keeps_the_management_questions_of_hub_and_local(tmp_path: Path) -> None:
    repo = tmp_path / "GBaker-MedQA"
    repo.mkdir()
    asked = {
        "test": [MANAGEMENT, OTHER, "What is the best initial treatment?", OTHER],
        "train": [OTHER, MANAGEMENT],
        "dev": [MANAGEMENT],
    }
    for split, questions in asked.items():
        jsonl(repo / f"{split}.json", [medqa_row(i, split, q) for i, q in enumerate(questions)])
    data = load_task_data(via_hub("medqa_next_step", repo), DataConfig(source="full"))
    assert [ex.id for ex in data.test] == ["test-00000", "test-00002"]
    assert [ex.id for ex in data.dev] == ["train-00001"]  # few-shot from train, filtered too
    first = data.test[0]
    assert first.question.endswith("What is the most appropriate next step in management?")
    assert first.references == {"next_step": ("Intravenous alteplase",)}
    assert first.target == "Next step: Intravenous alteplase" and first.category == "treatment"

    local = tmp_path / "local"
    local.mkdir()
    (local / "medqa_next_step.jsonl").write_text((repo / "test.json").read_text())
    from_disk = load_task_data(task("medqa_next_step"), DataConfig(source="local", dir=str(local)))
    assert from_disk.fingerprint == data.fingerprint


def test_medqa_next_step_bad_rows_are_named_not_dropped(tmp_path: Path) -> None:
    """The row predicate drops questions of other kinds, never a malformed row."""
    jsonl(tmp_path / "medqa_next_step.jsonl", [medqa_row(0, "test", MANAGEMENT, label=7)])
    with pytest.raises(DataError, match="line 1: field 'label' answer 7 is out of range"):
        load_task_data(task("medqa_next_step"), DataConfig(source="local", dir=str(tmp_path)))
    no_stem = {k: v for k, v in medqa_row(0, "test", MANAGEMENT).items() if k != "sent1"}
    jsonl(tmp_path / "medqa_next_step.jsonl", [no_stem])
    with pytest.raises(DataError, match="line 1: missing field 'sent1'"):
        load_task_data(task("medqa_next_step"), DataConfig(source="local", dir=str(tmp_path)))
    jsonl(tmp_path / "medqa_next_step.jsonl", [medqa_row(0, "test", OTHER)])
    with pytest.raises(DataError, match="no items"):
        load_task_data(task("medqa_next_step"), DataConfig(source="local", dir=str(tmp_path)))


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        (MANAGEMENT, True),
        ("Which of the following is the most appropriate pharmacotherapy?", True),
        ("Which of the following is the most appropriate long-term treatment?", True),
        ("What is the best next step in the management of this patient?", True),
        (OTHER, False),
        ("Which of the following is the best initial test?", False),
        ("What is the mechanism of action of the most appropriate pharmacotherapy?", False),
        ("Which adverse effect is most likely with the most appropriate treatment?", False),
    ],
)
def test_which_medqa_questions_ask_for_management(question: str, asks: bool) -> None:
    assert next_step.asks_for_management({"sent1": f"A man is ill. {question}"}) is asks


def test_medqa_next_step_answers_scored_by_ddx_next_step_rule() -> None:
    case = next_step.to_example(medqa_row(0, "test", MANAGEMENT), 1)
    named = next_step.score("Next step: intravenous alteplase within 4.5 hours", case)
    assert named.correct == 1 and named.metrics == {"next_step": 1.0}
    assert named.prediction == "intravenous alteplase within 4.5 hours"
    other = next_step.score("Next step: lumbar puncture", case)
    assert other.correct == 0 and not other.undecided and not other.invalid
    near = next_step.score("Next step: give alteplase", case)  # the judge decides
    assert near.correct == 0 and near.undecided
    assert next_step.score("", case).invalid
    # the judge can find the step the rule missed; it never overrules a match
    judged = ddx_judge_reply(next_step.JUDGE, "Next step: give alteplase", case, 1)
    assert judged.correct == 1 and not judged.undecided and judged.notes["judge_rank"] == "1"


def ddx_judge_reply(judge, text: str, example: Example, rank: int):
    """What a judge step makes of a reply naming ``rank``."""
    ruled = next_step.score(text, example)
    reply = json.dumps({"rank": rank, "rationale": "same step"})
    assert "alteplase" in judge.prompt(text, example, ruled)
    return judge.apply(text, example, ruled, reply)


# --- RareBench: chenxz/RareBench rows (codes), decoded by its mapping tables -------

RAREBENCH_FEATURES = {
    "Phenotype": {"feature": STRING, "_type": "Sequence"},
    "RareDisease": {"feature": STRING, "_type": "Sequence"},
    "Department": STRING,
}
PHENOTYPES = {"HP:0001166": "Arachnodactyly", "HP:0001083": "Ectopia lentis"}
DISEASES = {
    "OMIM:154700": "Marfan syndrome",
    "ORPHA:101005": "Autosomal recessive spastic paraplegia type 25/Spastic paraplegia 25, "
    "autosomal recessive",
}


def test_rarebench_hub_rows_decoded_then_read_as_local_file(tmp_path: Path) -> None:
    """The conversion SOURCES.md describes: the hub's rows (read by ``datasets``) with
    their codes decoded by RareBench's tables, saved as the task's local file."""
    import datasets

    repo = tmp_path / "RareBench"
    write_card(repo, "LIRICAL", {"test": "LIRICAL/test-*"})
    hub_rows = [
        {
            "Phenotype": ["HP:0001166", "HP:0001083", "HP:9999999"],
            "RareDisease": ["OMIM:154700"],
            "Department": None,
        },
        {"Phenotype": ["HP:0001166"], "RareDisease": ["ORPHA:101005"], "Department": "Neurology"},
    ]
    parquet(repo / "LIRICAL" / "test-00000-of-00001.parquet", hub_rows, RAREBENCH_FEATURES)
    read = datasets.load_dataset(str(repo), "LIRICAL", split="test")
    decoded = [rarebench.decode(row, PHENOTYPES, DISEASES, "LIRICAL") for row in read]
    jsonl(tmp_path / "rarebench.jsonl", decoded)

    data = load_task_data(task("rarebench"), DataConfig(source="local", dir=str(tmp_path)))
    marfan, paraplegia = data.test
    assert marfan.id == "LIRICAL-1" and marfan.category == "rare_disease"
    assert marfan.context == "Phenotypes (HPO terms): Arachnodactyly; Ectopia lentis."
    assert marfan.extra["dataset"] == "LIRICAL" and marfan.target == "1. Marfan syndrome"
    assert paraplegia.context.endswith("Department: Neurology.")
    assert paraplegia.references["diagnosis"][:2] == (
        "Autosomal recessive spastic paraplegia type 25",
        "Spastic paraplegia 25, autosomal recessive",
    )
    good = ddx.score(
        "1. Friedreich ataxia\n2. Spastic paraplegia 25, autosomal recessive", paraplegia
    )
    assert good.metrics == {"top1": 0.0, "top5": 1.0}
    assert ddx.score("1. Marfan syndrome", marfan).correct == 1

    jsonl(tmp_path / "rarebench.jsonl", [{**decoded[0]}, hub_rows[1]])
    with pytest.raises(
        DataError, match=r"line 2: field 'RareDisease' holds codes \(ORPHA:101005\)"
    ):
        load_task_data(task("rarebench"), DataConfig(source="local", dir=str(tmp_path)))


def test_rarebench_phenotype_codes_name_the_phenotype_table(tmp_path: Path) -> None:
    row = {"Phenotype": ["HP:0001166"], "RareDisease": ["Marfan syndrome"], "dataset": "MME"}
    jsonl(tmp_path / "rarebench.jsonl", [row])
    with pytest.raises(DataError, match=r"line 1: .*mapping/phenotype_mapping\.json"):
        load_task_data(task("rarebench"), DataConfig(source="local", dir=str(tmp_path)))


def test_rarebench_without_a_local_file_names_its_fields(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Phenotype \\(list of phenotype names\\)"):
        load_task_data(task("rarebench"), DataConfig(source="local", dir=str(tmp_path)))


def test_a_slash_inside_one_disease_name_is_not_two_names() -> None:
    assert rarebench.disease_names("Split-Hand/foot malformation 6") == [
        "Split-Hand/foot malformation 6"
    ]
    assert rarebench.disease_names("Marfan syndrome") == ["Marfan syndrome"]


# --- the row predicate as a YAML task keyword ----------------------------------------


def test_keep_row_is_a_yaml_task_keyword(tmp_path: Path) -> None:
    spec = {
        "subject": "medicine",
        "tasks": [
            {
                "name": "only_management",
                "domain": "medical",
                "description": "MedQA's management questions, as multiple choice.",
                "keep_row": "genspec_medical.next_step:asks_for_management",
                "fields": {
                    "question": "sent1",
                    "options": list(next_step.OPTIONS),
                    "answer": "label",
                },
            }
        ],
    }
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(spec))
    (declared,) = load_tasks(tmp_path / "tasks.yaml", "genspec_medical")
    assert declared.keeps({"sent1": MANAGEMENT}) and not declared.keeps({"sent1": OTHER})
    jsonl(
        tmp_path / "only_management.jsonl",
        [medqa_row(0, "t", OTHER), medqa_row(1, "t", MANAGEMENT)],
    )
    data = load_task_data(declared, DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.id for ex in data.test] == ["2"]  # line 2: the management question


def test_validate_checks_only_the_rows_the_task_keeps(tmp_path: Path) -> None:
    """``genspec validate`` reads a subset task's file as the loader does: a question of
    another kind is not an item of it."""
    from genspec.validate import check_task

    rows = [medqa_row(0, "t", OTHER), medqa_row(1, "t", MANAGEMENT), medqa_row(2, "t", OTHER)]
    jsonl(tmp_path / "medqa_next_step.jsonl", rows)
    checked = check_task(task("medqa_next_step"), DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.id for ex in checked.test] == ["t-00001"] and not checked.errors


# --- a run: the seed's three scores side by side with ddx's own --------------------


def seed_policy(body: dict) -> str:
    """A model that writes the answer forms the tasks ask for."""
    prompt = body["messages"][-1]["content"]
    if "You are grading" in prompt:  # the judge: the listed step is the gold
        return '{"rank": 1, "rationale": "The same management."}'
    if "no options are given" in prompt:
        return "Next step: give alteplase"
    return "1. Gastroesophageal reflux disease\n2. Marfan syndrome\n3. Pneumonia"


def test_a_run_reports_diagnosis_treatment_and_rare_disease_in_ddx_categories(
    workdir: Path,
) -> None:
    from conftest import write_roster
    from genspec import engine
    from genspec.analysis import summarize_by_category
    from genspec.config.compose import compose
    from genspec.fake_api import FakeOpenAIServer
    from genspec.results import to_frame

    names = ["ddx", "ddxplus", "medqa_next_step", "rarebench"]
    with FakeOpenAIServer(policy=seed_policy) as server:
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        model = {
            "name": "served",
            "id": f"openai/seed-{port}",  # one id per server (the backend pool keys on it)
            "role": "generalist",
            "backend": "litellm",
            "params": {"api_base": server.url},
        }
        conf = write_roster(workdir / "conf", "served", [model])
        overrides = ["domain=medical", "roster=served", f"tasks=[{','.join(names)}]"]
        judged = [*overrides, "judge.id=openai/judge", f"+judge.params.api_base={server.url}"]
        result = engine.run(compose(judged, str(conf))[0])
    frame = to_frame(result.rows)
    summaries = {(s.task, s.category): s for s in summarize_by_category(frame, names)}
    assert set(summaries) == {
        *(("ddx", c) for c in ddx.CATEGORIES),
        ("ddxplus", "diagnostic"),
        ("medqa_next_step", "treatment"),
        ("rarebench", "rare_disease"),
    }
    diagnosis = summaries["ddxplus", "diagnostic"]
    assert diagnosis.metrics["top1"] == pytest.approx(0.1)  # the one GERD case of ten
    assert set(diagnosis.metrics) == {"top1", "top5"}
    treatment = summaries["medqa_next_step", "treatment"]
    assert set(treatment.metrics) == {"next_step"}
    assert treatment.score == pytest.approx(0.1)  # the judge settles the alteplase case
    rare = summaries["rarebench", "rare_disease"]
    assert rare.metrics["top5"] == pytest.approx(0.1)  # Marfan syndrome, second listed
