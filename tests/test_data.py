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
        assert len(data.test) >= 30, task.name
        assert len(data.dev) >= 5, task.name
        assert len({ex.id for ex in data.test}) == len(data.test), task.name
        assert all(ex.gold_text for ex in data.test), task.name


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
