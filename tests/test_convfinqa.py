"""ConvFinQA: one turn of a conversation about a report, on fixtures in the hub's schema.

The fixture is a folder laid out like ``AdaptLLM/ConvFinQA`` (a card whose config names
``train_turn.json`` and ``dev_turn.json``, each one JSON array of turn rows as the official
release writes them), read by the real ``datasets`` library as ``data=full`` does, and the
same rows as a ``data=local`` file. Its rows are the bundled sample (both conversation
types, nested fields that differ from row to row) and one conversation whose last answer
is a text. No network.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from genspec.config.schema import DataConfig
from genspec.data import load_task_data
from genspec.errors import DataError
from genspec.plugins import registry
from genspec.task import Example, Task
from genspec_finance.convfinqa import number_text

Row = dict[str, Any]
SAMPLE = Path(__file__).resolve().parents[1] / "plugins/finance/genspec_finance/data/convfinqa"


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``datasets`` writes its Arrow cache here, not in the user's home."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def convfinqa() -> Task:
    return registry().tasks["convfinqa"]


def sample_rows(split: str) -> list[Row]:
    return [json.loads(line) for line in (SAMPLE / f"{split}.jsonl").read_text().splitlines()]


def text_answer_turns() -> list[Row]:
    """A two-turn conversation whose second answer is "yes" (a comparison turn)."""
    first = sample_rows("test")[0]
    annotation = {
        **first["annotation"],
        "dialogue_break": ["what were net sales in 2019?", "were they above 2,000?"],
        "turn_program": ["2480", "greater(2480, const_2000)"],
        "qa_split": [0, 0],
        "exe_ans_list": [2480, "yes"],
    }
    rows = []
    for turn, answer in enumerate([2480, "yes"]):
        rows.append(
            {
                **first,
                "id": f"Single_HLWD/2019/page_42.pdf-9_{turn}",
                "annotation": {
                    **annotation,
                    "cur_dial": annotation["dialogue_break"][: turn + 1],
                    "exe_ans": answer,
                    "turn_ind": turn,
                },
            }
        )
    return rows


def write_json_array(path: Path, rows: list[Row]) -> None:
    """A JSON array indented as ``json.dump(..., indent=4)`` writes the official files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=4))


def hub_copy(root: Path) -> Path:
    """``AdaptLLM/ConvFinQA``'s layout: the card's config and the two turn-level files."""
    card = {
        "configs": [
            {
                "config_name": "ConvFinQA",
                "data_files": [
                    {"split": "train", "path": "train_turn.json"},
                    {"split": "validation", "path": "dev_turn.json"},
                ],
            }
        ]
    }
    write_json_array(root / "dev_turn.json", sample_rows("test") + text_answer_turns())
    write_json_array(root / "train_turn.json", sample_rows("test")[4:10] + sample_rows("dev"))
    (root / "README.md").write_text(f"---\n{yaml.safe_dump(card)}---\n")
    return root


def via_hub(repo: Path) -> Task:
    task = convfinqa()
    assert task.hub is not None
    return replace(task, hub=replace(task.hub, path=str(repo)))


def test_the_hub_copy_is_its_dev_turn_file_read_on_its_own(tmp_path: Path) -> None:
    task = via_hub(hub_copy(tmp_path / "AdaptLLM-ConvFinQA"))
    data = load_task_data(task, DataConfig(source="full"))
    assert len(data.test) == 17
    assert [ex.target for ex in data.test[:4]] == ["2480", "2150", "330", "0.15349"]
    assert [ex.target for ex in data.test[-2:]] == ["2480", "yes"]
    assert data.test[5].id == "Double_QRTZ/2020/page_67.pdf_1"  # Type II: two FinQA questions
    assert len(data.dev) == 5 and data.dev[0].id.startswith("Single_ORCH")  # the bundled dev
    assert data.origin.startswith(f"hub {task.hub.path}")

    local = tmp_path / "local"
    write_json_array(local / "convfinqa.json", sample_rows("test") + text_answer_turns())
    from_disk = load_task_data(convfinqa(), DataConfig(source="local", dir=str(local)))
    assert from_disk.fingerprint == data.fingerprint

    as_parquet = tmp_path / "parquet"
    as_parquet.mkdir()
    pd.DataFrame(sample_rows("test")).to_parquet(as_parquet / "convfinqa.parquet")
    from_parquet = load_task_data(convfinqa(), DataConfig(source="local", dir=str(as_parquet)))
    assert from_parquet.fingerprint == load_task_data(convfinqa(), DataConfig()).fingerprint


def test_the_cards_config_cannot_read_both_files_as_one(tmp_path: Path) -> None:
    """Why the task reads one file: ``datasets`` casts every file of a config to one
    schema, and the two files' nested fields are inferred differently."""
    task = via_hub(hub_copy(tmp_path / "AdaptLLM-ConvFinQA"))
    assert task.hub is not None
    by_config = replace(task.hub, name="ConvFinQA", split="validation", data_files=None)
    with pytest.raises(DataError, match=r"cannot load .* split 'validation'"):
        load_task_data(replace(task, hub=by_config), DataConfig(source="full"))


def items() -> dict[str, Example]:
    return {ex.id: ex for ex in load_task_data(convfinqa(), DataConfig()).test}


def test_a_turn_is_asked_with_the_report_and_the_earlier_answers() -> None:
    first = items()["Single_HLWD/2019/page_42.pdf-1_0"]
    fourth = items()["Single_HLWD/2019/page_42.pdf-1_3"]
    assert first.question == "what were net sales in 2019?"
    assert "net sales | $ 2480 | $ 2150 | $ 1980" in first.context
    assert "Conversation so far" not in first.context
    assert fourth.question.startswith("and how much does that change represent")
    history = fourth.context.split("Conversation so far:\n", 1)[1]
    assert history.splitlines() == [
        "Q: what were net sales in 2019?",
        "A: 2480",
        "Q: and what were they in 2018?",
        "A: 2150",
        "Q: what was, then, the change over the year?",
        "A: 330",
    ]
    assert fourth.context.startswith(first.context)  # the same report on every turn


def test_turns_are_reported_by_place_and_clustered_by_report_page() -> None:
    task = convfinqa()
    assert (task.by_default, task.report_by_category, task.cluster) == (False, True, "filename")
    by_id = items()
    assert [by_id[f"Double_QRTZ/2020/page_67.pdf_{i}"].category for i in range(6)] == [
        "turn 1",
        "turn 2",
        "turn 3",
        "turn 4+",
        "turn 4+",
        "turn 4+",
    ]
    assert by_id["Double_QRTZ/2020/page_67.pdf_5"].extra["filename"] == "QRTZ/2020/page_67.pdf"


@pytest.mark.parametrize(
    ("item", "answer", "correct", "invalid"),
    [
        ("Single_HLWD/2019/page_42.pdf-1_3", "Answer: 15.3%", 1.0, False),  # 0.15349 as percent
        ("Single_HLWD/2019/page_42.pdf-1_3", "0.1535", 1.0, False),  # as a fraction, rounded
        ("Single_HLWD/2019/page_42.pdf-1_3", "Answer: 15%", 0.0, False),  # rounded too far
        ("Single_HLWD/2019/page_42.pdf-1_3", "15.35", 0.0, False),  # a percent without its sign
        ("Double_QRTZ/2020/page_67.pdf_5", "About 13.08 percent.", 1.0, False),
        ("Single_HLWD/2019/page_42.pdf-1_2", "The change was $330 million.", 1.0, False),
        ("Single_FNWK/2016/page_90.pdf-3_1", "Answer: (13.3)", 1.0, False),  # a decline
        ("Single_FNWK/2016/page_90.pdf-3_1", "Answer: 13.3", 0.0, False),
        ("Single_MRBK/2021/page_18.pdf-2_2", "1.2 x 45.50 = 54.60", 1.0, False),
        ("Single_MRBK/2021/page_18.pdf-2_2", "I cannot tell.", 0.0, True),
    ],
)
def test_answers_are_scored_with_finqas_numeric_tolerance(
    item: str, answer: str, correct: float, invalid: bool
) -> None:
    scorer = convfinqa().scorer
    assert scorer is not None
    judgement = scorer(answer, items()[item])
    assert (judgement.correct, judgement.invalid) == (correct, invalid)


def test_a_text_answer_turn_is_scored_as_yes_or_no(tmp_path: Path) -> None:
    write_json_array(tmp_path / "convfinqa.json", text_answer_turns())
    data = load_task_data(convfinqa(), DataConfig(source="local", dir=str(tmp_path)))
    turn = data.test[1]
    assert "A: 2480" in turn.context and turn.target == "yes"
    scorer = convfinqa().scorer
    assert scorer is not None
    assert scorer("Yes, 2,480 is above 2,000.", turn).correct == 1.0
    assert scorer("Answer: 2480", turn).invalid


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"exe_ans_list": [2480]}, "field 'annotation.exe_ans_list' has 1 answer(s) for 2"),
        ({"cur_dial": []}, "field 'annotation.cur_dial' has no question for this turn"),
        ({"exe_ans": None}, "field 'annotation.exe_ans' is missing or empty"),
    ],
)
def test_a_malformed_turn_is_one_line_naming_the_row(
    change: Row, message: str, tmp_path: Path
) -> None:
    rows = sample_rows("test")[:3]
    rows[2] = {**rows[2], "annotation": {**rows[2]["annotation"], **change}}
    write_json_array(tmp_path / "convfinqa.json", rows)
    with pytest.raises(DataError) as caught:
        load_task_data(convfinqa(), DataConfig(source="local", dir=str(tmp_path)))
    text = str(caught.value)
    assert "convfinqa.json line 3: " + message in text and "Fix the row" in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ("see dialogue_break", "field 'annotation' should hold the turn"),
        # the conversation-level files (dev.json) have the dialogue but no turn in it
        ({"dialogue_break": ["q?"], "exe_ans_list": [1]}, "field 'annotation.exe_ans' is missing"),
        ({"exe_ans": 1}, "field 'annotation.cur_dial' is missing"),
    ],
)
def test_a_row_that_is_not_a_turn_says_to_use_the_turn_files(
    annotation: Any, message: str, tmp_path: Path
) -> None:
    row = {**sample_rows("test")[0], "annotation": annotation}
    (tmp_path / "convfinqa.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=rf"line 1: {re.escape(message)}.*\*_turn\.json"):
        load_task_data(convfinqa(), DataConfig(source="local", dir=str(tmp_path)))


@pytest.mark.parametrize(
    ("stored", "text"),
    [
        (0.14136, "0.14136"),
        (0.15349000000000002, "0.15349"),  # as the hub's JSON reader gives 0.15349 back
        (25.0, "25"),
        (100.0, "100"),
        (1e-05, "0.00001"),
        (-13.3, "-13.3"),
        (np.int64(2480), "2480"),  # a parquet copy's numbers
        (np.float64(0.4), "0.4"),
        (" no ", "no"),
    ],
)
def test_stored_answers_are_written_as_plain_numbers(stored: Any, text: str) -> None:
    assert number_text(stored) == text
