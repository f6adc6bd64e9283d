"""Loading items: bundled samples, local files in the hub schema, the hub (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genspec.config.schema import DataConfig
from genspec.data import load_task_data
from genspec.errors import DataError
from genspec.plugins import registry

MEDQA_ROW = {
    "id": "x1",
    "sent1": "A 30-year-old man has crushing chest pain. What is the next step?",
    "sent2": "",
    "ending0": "ECG",
    "ending1": "Discharge",
    "ending2": "MRI of the knee",
    "ending3": "Colonoscopy",
    "label": 0,
}


def medqa():
    return registry().tasks["medqa"]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("domain", ["medical", "finance", "legal"])
def test_every_bundled_sample_loads_with_test_and_dev_parts(domain: str) -> None:
    tasks = registry().tasks_for(domain)
    assert len(tasks) >= 2
    for task in (t for t in tasks if not t.local_only):  # licensed data ships no sample
        data = load_task_data(task, DataConfig())
        # a task run only when named (judged open answers) ships a pipeline check's worth
        assert len(data.test) >= (30 if task.by_default else 5), task.name
        assert len(data.dev) >= (5 if task.by_default else 1), task.name
        assert len({ex.id for ex in data.test}) == len(data.test), task.name
        assert all(ex.gold_text or ex.rubric for ex in data.test), task.name  # rubric: graded


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_local_files_in_the_hub_schema(tmp_path: Path, suffix: str) -> None:
    rows = [{**MEDQA_ROW, "id": f"x{i}", "label": i % 4} for i in range(5)]
    if suffix == "jsonl":
        write_jsonl(tmp_path / "medqa.jsonl", rows)
    elif suffix == "csv":
        pd.DataFrame(rows).to_csv(tmp_path / "medqa.csv", index=False)
    else:
        pd.DataFrame(rows).to_parquet(tmp_path / "medqa.parquet")
    data = load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.gold for ex in data.test] == [0, 1, 2, 3, 0]
    assert data.test[0].choices[0] == "ECG"
    assert data.dev  # few-shot pool falls back to the bundled dev items
    assert str(tmp_path) in data.origin


def test_malformed_row_names_file_line_and_field(tmp_path: Path) -> None:
    bad = {k: v for k, v in MEDQA_ROW.items() if k != "label"}
    write_jsonl(tmp_path / "medqa.jsonl", [MEDQA_ROW, bad])
    with pytest.raises(DataError) as caught:
        load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))
    assert f"{tmp_path / 'medqa.jsonl'} line 2: missing field 'label'" in str(caught.value)


def test_invalid_json_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "medqa.jsonl").write_text(json.dumps(MEDQA_ROW) + "\n{oops\n")
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))


@pytest.mark.parametrize(("name", "text"), [("medqa.jsonl", "\n"), ("medqa.json", "[]")])
def test_a_local_file_without_items_is_refused(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=rf"{name}: no items"):
        load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "medqa.jsonl").write_bytes(b"\xff\xfe" + json.dumps(MEDQA_ROW).encode())
    with pytest.raises(DataError, match=r"medqa.jsonl: not UTF-8 text .*Save it as UTF-8"):
        load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))


def test_a_folder_named_like_a_data_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "medqa.jsonl").mkdir()
    with pytest.raises(DataError, match=r"medqa.jsonl: cannot be read \(Is a directory\)"):
        load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))


def test_missing_local_file_says_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"looked for medqa.jsonl or medqa.json or medqa.csv"):
        load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))


def test_dev_items_overlapping_test_items_are_refused(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "medqa.jsonl", [MEDQA_ROW])
    write_jsonl(tmp_path / "medqa.dev.jsonl", [MEDQA_ROW])
    with pytest.raises(DataError, match="also appear in the test items"):
        load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))


def test_unreachable_hub_says_how_to_use_local_files() -> None:
    with pytest.raises(DataError) as caught:
        load_task_data(medqa(), DataConfig(source="full"))
    message = str(caught.value)
    assert "GBaker/MedQA-USMLE-4-options-hf" in message
    assert "data=local data.dir=DIR" in message
    assert "\n" not in message


def test_a_json_file_may_hold_one_array_of_rows(tmp_path: Path) -> None:
    """``.json`` is JSON Lines when ``Dataset.to_json`` wrote it, an array when
    ``json.dump`` did (FinQA's own files): both load, in order."""
    rows = [{**MEDQA_ROW, "id": f"x{i}", "label": i % 4} for i in range(3)]
    (tmp_path / "medqa.json").write_text(json.dumps(rows, indent=2))
    data = load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))
    assert [(ex.id, ex.gold) for ex in data.test] == [("x0", 0), ("x1", 1), ("x2", 2)]


def test_an_array_item_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    (tmp_path / "medqa.json").write_text(json.dumps([MEDQA_ROW, ["not", "a", "row"]]))
    with pytest.raises(DataError, match="item 2: expected a JSON object"):
        load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))


def test_medqa_rows_without_an_id_are_numbered(tmp_path: Path) -> None:
    rows = [{k: v for k, v in MEDQA_ROW.items() if k != "id"}]
    write_jsonl(tmp_path / "medqa.jsonl", rows)
    data = load_task_data(medqa(), DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.id for ex in data.test] == ["1"]


def test_a_list_field_in_a_csv_says_to_use_jsonl_or_parquet(tmp_path: Path) -> None:
    """A CSV cell holds text, never a list, so MMLU's ``choices`` cannot round-trip."""
    row = {"question": "Q?", "subject": "anatomy", "choices": ["w", "x", "y", "z"], "answer": 1}
    pd.DataFrame([row]).to_csv(tmp_path / "mmlu_medical.csv", index=False)
    mmlu = registry().tasks["mmlu_medical"]
    with pytest.raises(DataError, match=r"line 2: field 'choices' should be a list.*\.jsonl"):
        load_task_data(mmlu, DataConfig(source="local", dir=str(tmp_path)))
