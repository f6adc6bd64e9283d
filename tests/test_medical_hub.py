"""The medical loaders on fixtures in exactly the hub's schema, through both paths.

Each fixture is a folder laid out like the hub repository (its README's ``configs``
and its data files, with the hub's feature types), read by the real ``datasets``
library as ``data=full`` does, and the same rows as ``data=local`` files. No network.
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
from genspec.task import Task

MMLU_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``datasets`` writes its Arrow cache here, not in the user's home."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def task(name: str) -> Task:
    return registry().tasks[name]


def hub_repo(root: Path, configs: dict[str, dict[str, str]]) -> Path:
    """A README whose ``configs`` map each config's splits to files, as on the hub."""
    root.mkdir(parents=True, exist_ok=True)
    card = {
        "configs": [
            {
                "config_name": name,
                "data_files": [{"split": s, "path": p} for s, p in splits.items()],
            }
            for name, splits in configs.items()
        ]
    }
    (root / "README.md").write_text(f"---\n{yaml.safe_dump(card)}---\n")
    return root


def parquet(path: Path, rows: list[dict], features: dict) -> None:
    """Rows written by ``datasets`` itself, so the file carries the hub's feature types."""
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=datasets.Features(features)).to_parquet(str(path))


def via_hub(name: str, repo: Path) -> Task:
    """The registered task, pointed at a local copy of its hub repository."""
    original = task(name)
    assert original.hub is not None
    return replace(original, hub=replace(original.hub, path=str(repo)))


# --- MedQA: GBaker/MedQA-USMLE-4-options-hf (JSON files train/dev/test) -------------


def medqa_row(i: int, split: str) -> dict:
    return {
        "id": f"{split}-{i:05d}",
        "sent1": f"A {30 + i}-year-old man has crushing chest pain ({split} {i}). Next step?",
        "sent2": "",
        "ending0": "ECG",
        "ending1": "Discharge",
        "ending2": "MRI of the knee",
        "ending3": "Colonoscopy",
        "label": i % 4,
    }


def test_medqa_hub_layout_and_local_file(tmp_path: Path) -> None:
    repo = tmp_path / "GBaker-MedQA"
    repo.mkdir()
    for split, n in (("train", 4), ("dev", 2), ("test", 5)):
        rows = [medqa_row(i, split) for i in range(n)]
        (repo / f"{split}.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_task_data(via_hub("medqa", repo), DataConfig(source="full"))
    assert [ex.id for ex in data.test] == [f"test-{i:05d}" for i in range(5)]
    assert [ex.gold for ex in data.test] == [0, 1, 2, 3, 0]
    assert data.test[1].choices == ("ECG", "Discharge", "MRI of the knee", "Colonoscopy")
    assert {ex.id[:5] for ex in data.dev} == {"train"}  # few-shot from train, not dev/test

    local = tmp_path / "local"
    local.mkdir()
    (local / "medqa.jsonl").write_text((repo / "test.json").read_text())
    from_disk = load_task_data(task("medqa"), DataConfig(source="local", dir=str(local)))
    assert from_disk.fingerprint == data.fingerprint


# --- MedMCQA: openlifescienceai/medmcqa (parquet, data/<split>-*) ------------------

MEDMCQA_FEATURES = {
    "id": {"dtype": "string", "_type": "Value"},
    "question": {"dtype": "string", "_type": "Value"},
    "opa": {"dtype": "string", "_type": "Value"},
    "opb": {"dtype": "string", "_type": "Value"},
    "opc": {"dtype": "string", "_type": "Value"},
    "opd": {"dtype": "string", "_type": "Value"},
    "cop": {"names": ["a", "b", "c", "d"], "_type": "ClassLabel"},
    "choice_type": {"dtype": "string", "_type": "Value"},
    "exp": {"dtype": "string", "_type": "Value"},
    "subject_name": {"dtype": "string", "_type": "Value"},
    "topic_name": {"dtype": "string", "_type": "Value"},
}


def medmcqa_row(i: int, split: str, cop: int) -> dict:
    return {
        "id": f"0000{i}-{split}",
        "question": f"Nerve supply of muscle {i} ({split}) is:",
        "opa": "Radial",
        "opb": "Ulnar",
        "opc": "Median",
        "opd": "Axillary",
        "cop": cop,
        "choice_type": "single",
        "exp": None if i == 0 else f"Explanation {i}",  # the hub has null explanations
        "subject_name": "Anatomy" if i % 2 else "Physiology",
        "topic_name": None,  # and null topics
    }


def medmcqa_hub(root: Path, splits: dict[str, list[dict]]) -> Path:
    """A copy of the MedMCQA repository: its card's configs and one parquet per split."""
    from datasets import Features

    repo = hub_repo(root, {"default": {s: f"data/{s}-*" for s in ("train", "validation", "test")}})
    for split, rows in splits.items():
        path = repo / "data" / f"{split}-00000-of-00001.parquet"
        parquet(path, rows, Features.from_dict(MEDMCQA_FEATURES))
    return repo


def test_medmcqa_uses_validation_as_test_and_keeps_explanations(tmp_path: Path) -> None:
    repo = medmcqa_hub(
        tmp_path / "medmcqa",
        {
            "train": [medmcqa_row(i, "train", i % 4) for i in range(3)],
            "validation": [medmcqa_row(i, "validation", (i + 1) % 4) for i in range(4)],
            "test": [medmcqa_row(i, "test", -1) for i in range(2)],  # the hub's: no answers
        },
    )
    data = load_task_data(via_hub("medmcqa", repo), DataConfig(source="full"))
    assert [ex.id for ex in data.test] == [f"0000{i}-validation" for i in range(4)]
    assert [ex.gold for ex in data.test] == [1, 2, 3, 0]
    assert [ex.category for ex in data.test] == ["Physiology", "Anatomy"] * 2
    assert data.test[0].extra["exp"] == "" and data.test[1].extra["exp"] == "Explanation 1"
    assert len(data.dev) == 3


def test_hub_train_rows_repeating_test_items_leave_the_few_shot_pool(tmp_path: Path) -> None:
    """Exam banks repeat questions across splits; the hub cannot be fixed by the user,
    so such rows are dropped from the few-shot pool (and said so), not a refusal."""
    validation = [medmcqa_row(i, "validation", i % 4) for i in range(3)]
    repeat = {**validation[1], "id": "0000-train-copy", "exp": "Another explanation"}
    repo = medmcqa_hub(
        tmp_path / "medmcqa",
        {
            "train": [medmcqa_row(0, "train", 0), repeat],
            "validation": validation,
            "test": [medmcqa_row(0, "test", -1)],
        },
    )
    data = load_task_data(via_hub("medmcqa", repo), DataConfig(source="full"))
    assert [ex.id for ex in data.dev] == ["00000-train"]
    assert data.origin.endswith("; 1 few-shot item(s) that repeat test items left out")


def test_medmcqa_local_file_with_cop_names_and_hub_test_rows(tmp_path: Path) -> None:
    """``cop`` is a ClassLabel named a-d: an export may write the name instead of the
    int. A copy of the hub's test split (``cop`` -1, no answers) is refused by row."""
    rows = [medmcqa_row(i, "validation", cop) for i, cop in enumerate(["b", "D", 2])]
    (tmp_path / "medmcqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_task_data(task("medmcqa"), DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.gold for ex in data.test] == [1, 3, 2]

    unanswered = [medmcqa_row(0, "test", -1)]
    (tmp_path / "medmcqa.jsonl").write_text(json.dumps(unanswered[0]) + "\n")
    with pytest.raises(DataError, match="line 1: field 'cop' answer -1 is out of range"):
        load_task_data(task("medmcqa"), DataConfig(source="local", dir=str(tmp_path)))


# --- PubMedQA: qiaojin/PubMedQA, config pqa_labeled (parquet, train only) ------------

PUBMEDQA_FEATURES = {
    "pubid": {"dtype": "int32", "_type": "Value"},
    "question": {"dtype": "string", "_type": "Value"},
    "context": {
        "feature": {
            "contexts": {"dtype": "string", "_type": "Value"},
            "labels": {"dtype": "string", "_type": "Value"},
            "meshes": {"dtype": "string", "_type": "Value"},
            "reasoning_required_pred": {"dtype": "string", "_type": "Value"},
            "reasoning_free_pred": {"dtype": "string", "_type": "Value"},
        },
        "_type": "Sequence",
    },
    "long_answer": {"dtype": "string", "_type": "Value"},
    "final_decision": {"dtype": "string", "_type": "Value"},
}


def test_pubmedqa_labeled_nested_context_and_bundled_few_shot(tmp_path: Path) -> None:
    from datasets import Features

    repo = hub_repo(
        tmp_path / "PubMedQA",
        {
            "pqa_labeled": {"train": "pqa_labeled/train-*"},
            "pqa_unlabeled": {"train": "pqa_unlabeled/train-*"},
        },
    )
    decisions = ["yes", "no", "maybe"]
    rows = [
        {
            "pubid": 21645374 + i,
            "question": f"Does treatment {i} help?",
            "context": {
                "contexts": [f"Background {i}.", f"Results {i}."],
                "labels": ["BACKGROUND", "RESULTS"],
                "meshes": ["Humans"],
                "reasoning_required_pred": list(decisions[i % 3]),
                "reasoning_free_pred": list(decisions[i % 3]),
            },
            "long_answer": f"Conclusion {i}.",
            "final_decision": decisions[i % 3],
        }
        for i in range(3)
    ]
    parquet(
        repo / "pqa_labeled" / "train-00000-of-00001.parquet",
        rows,
        Features.from_dict(PUBMEDQA_FEATURES),
    )
    data = load_task_data(via_hub("pubmedqa", repo), DataConfig(source="full"))
    assert [ex.id for ex in data.test] == ["21645374", "21645375", "21645376"]
    assert [ex.gold_text for ex in data.test] == decisions
    assert data.test[0].context == "Background 0.\nResults 0."
    assert data.test[2].extra["long_answer"] == "Conclusion 2."
    bundled = load_task_data(task("pubmedqa"), DataConfig())
    assert data.dev == bundled.dev  # the hub has no few-shot split


# --- MMLU: cais/mmlu, one config per subject (parquet <subject>/<split>-*) ----------

MMLU_FEATURES = {
    "question": {"dtype": "string", "_type": "Value"},
    "subject": {"dtype": "string", "_type": "Value"},
    "choices": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    "answer": {"names": ["A", "B", "C", "D"], "_type": "ClassLabel"},
}


def test_mmlu_reads_the_six_medical_configs_with_dev_for_few_shot(tmp_path: Path) -> None:
    from datasets import Features

    features = Features.from_dict(MMLU_FEATURES)
    repo = hub_repo(
        tmp_path / "mmlu",
        {s: {sp: f"{s}/{sp}-*" for sp in ("test", "validation", "dev")} for s in MMLU_SUBJECTS},
    )
    for n, subject in enumerate(MMLU_SUBJECTS):
        for split, count in (("test", 2), ("validation", 1), ("dev", 1)):
            rows = [
                {
                    "question": f"{subject} {split} question {i}?",
                    "subject": subject,
                    "choices": ["w", "x", "y", "z"],
                    "answer": (n + i) % 4,
                }
                for i in range(count)
            ]
            parquet(repo / subject / f"{split}-00000-of-00001.parquet", rows, features)
    data = load_task_data(via_hub("mmlu_medical", repo), DataConfig(source="full"))
    assert len(data.test) == 12 and len(data.dev) == 6
    assert [ex.category for ex in data.test[::2]] == list(MMLU_SUBJECTS)
    assert len({ex.id for ex in data.test}) == 12  # no id field: row numbers run on
    assert data.test[2].gold == 1 and data.test[2].choices == ("w", "x", "y", "z")


@pytest.mark.parametrize(
    ("name", "hub_id"),
    [
        ("medqa", "GBaker/MedQA-USMLE-4-options-hf"),
        ("medmcqa", "openlifescienceai/medmcqa"),
        ("pubmedqa", "qiaojin/PubMedQA/pqa_labeled"),
        ("mmlu_medical", "cais/mmlu/anatomy"),
    ],
)
def test_unreachable_hub_is_one_line_saying_how_to_use_local_files(name: str, hub_id: str) -> None:
    with pytest.raises(DataError) as caught:
        load_task_data(task(name), DataConfig(source="full"))
    message = str(caught.value)
    assert hub_id in message and f"DIR/{name}.jsonl" in message
    assert "data=local data.dir=DIR" in message and "\n" not in message
