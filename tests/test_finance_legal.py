"""Finance and legal plugins: loaders on fixtures in the hub schema, label parsing, rosters.

Every task is read twice from the same fixture rows (written in the hub's exact
columns and value types): as a user's local files (``data=local``), and through the
real ``datasets.load_dataset`` call of ``data=full``, pointed at a local copy of the
hub repository's file layout (parquet-export folders, or a card naming configs). A
wrong config, folder, split or field name fails here as it would against the hub.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from genspec.backends.registry import backend_class
from genspec.config.compose import compose
from genspec.config.schema import DataConfig, Role
from genspec.data import load_task_data
from genspec.engine import _judge
from genspec.plugins import registry
from genspec.requests import GenerateRequest, Message, Response
from genspec.task import HubSource, Task

Row = dict[str, Any]


def _mmlu(subject: str, answer: int) -> Row:
    return {
        "question": f"A {subject} question numbered {answer}?",
        "subject": subject,
        "choices": ["first", "second", "third", "fourth"],
        "answer": answer,
    }


def _legalbench(*rows: tuple[str, str, dict[str, str]]) -> list[Row]:
    """LegalBench's parquet export: every column a string (the script typed them so),
    in alphabetical order; ``rows`` are (answer, text, other columns)."""
    return [
        dict(sorted({"answer": answer, "index": str(i), "text": text, **more}.items()))
        for i, (answer, text, more) in enumerate(rows)
    ]


def _finqa(key: str, answer: str, result: str = "", program: str = "") -> Row:
    """A FinQA row as the ``ibm/finqa`` script (and its parquet mirror) writes it:
    ``final_result`` is the last step's result (``"20%"`` keeps its sign), and
    ``answer`` is ``""`` in some rows, which the script's own comment notes."""
    return {
        "id": f"ZED/2020/page_{key}.pdf-1",
        "pre_text": ["revenue grew in 2020 .", "costs were flat ."],
        "post_text": [],
        "table": [["", "2020", "2019"], ["revenue", "$ 120", "$ 100"]],
        "question": f"what was the change in revenue ({key})?",
        "answer": answer,
        "final_result": result or answer,
        "program_re": program or "subtract(120, 100), divide(#0, 100)",
        "gold_inds": ["the revenue of 2020 is $ 120 ;"],
    }


def _fiqa(key: str, score: float, kind: str) -> Row:
    return {
        "_id": key,
        "sentence": f"Shares of Zed Corp moved ({key})",
        "target": "Zed Corp",
        "aspect": "Stock/Price Action",
        "score": score,
        "type": kind,
    }


def _casehold(label: int, topic: str) -> Row:
    return {
        "context": f"The court considered {topic}. See Doe v. Roe, 1 F.4th 2 (9th Cir. 2021) "
        "(<HOLDING>).",
        "endings": [f"holding that {topic} rule {i} applies" for i in range(5)],
        "label": label,
    }


# task -> split -> rows, in the hub's schema; GOLD is what the test rows must map to.
HUB_ROWS: dict[str, dict[str, list[Row]]] = {
    "phrasebank": {
        "train": [
            {"sentence": "Net sales rose 12 % to EUR 40 mn .", "label": 2},
            {"sentence": "The plant will close and 80 jobs are lost .", "label": 0},
            {"sentence": "The annual meeting is held in Tampere .", "label": 1},
        ]
    },
    "fiqa_sa": {
        "test": [
            _fiqa("t1", 0.62, "headline"),
            _fiqa("t2", -0.48, "post"),
            _fiqa("t3", 0.05, "post"),
        ],
        "train": [_fiqa("d1", -0.7, "headline")],
    },
    "finqa": {
        "test": [
            _finqa("1", "20%"),
            _finqa("2", "1.2"),
            _finqa("4", "", result="20%"),  # blank answer: final_result holds it
            _finqa("5", "yes", program="greater(120, 100)"),  # a comparison item
        ],
        "train": [_finqa("3", "20")],
    },
    "mmlu_finance": {
        "test": [_mmlu("professional_accounting", 2), _mmlu("high_school_macroeconomics", 0)],
        "dev": [_mmlu("professional_accounting", 1), _mmlu("high_school_macroeconomics", 3)],
    },
    "hearsay": {
        "test": _legalbench(
            ("Yes", "A witness repeats what a bystander said.", {"slice": "Standard"}),
            ("No", "A letter offered to show notice.", {"slice": "Not for truth"}),
        ),
        "train": _legalbench(("No", "A nod seen in court.", {"slice": "In-court"})),
    },
    "abercrombie": {
        "test": _legalbench(
            ("fanciful", 'The mark "Zorvex" for soap.', {}),
            ("generic", 'The mark "Bread" for bread.', {}),
        ),
        "train": _legalbench(("arbitrary", 'The mark "Comet" for shoes.', {})),
    },
    "proa": {
        "test": _legalbench(
            ("Yes", "An injured buyer may sue the seller for damages.", {}),
            ("No", "The agency shall publish an annual report.", {}),
        ),
        "train": _legalbench(("No", "Violators shall be fined $50.", {})),
    },
    "personal_jurisdiction": {
        "test": _legalbench(
            ("Yes", "Ann lives in Ohio and is sued in Ohio.", {"slice": "Domicile."}),
            ("No", "Bo never visited Utah and is sued there.", {"slice": "No contacts."}),
        ),
        "train": _legalbench(("Yes", "Cy sells in Iowa, injures there.", {"slice": "Nexus."})),
    },
    "contract_qa": {
        "test": _legalbench(
            ("Yes", "Either party may end this deal.", {"question": "Termination?"}),
            ("No", "Prices are in dollars.", {"question": "Arbitration?"}),
        ),
        "train": _legalbench(
            ("No", "Headings are for convenience.", {"question": "Severability?"})
        ),
    },
    "casehold": {
        "test": [_casehold(3, "standing"), _casehold(0, "mootness")],
        "train": [_casehold(1, "ripeness")],
    },
    "mmlu_law": {
        "test": [
            _mmlu("professional_law", 1),
            _mmlu("international_law", 3),
            _mmlu("jurisprudence", 0),
        ],
        "dev": [
            _mmlu("professional_law", 2),
            _mmlu("international_law", 2),
            _mmlu("jurisprudence", 1),
        ],
    },
}
GOLD = {
    "phrasebank": ["positive", "negative", "neutral"],
    "fiqa_sa": ["positive", "negative", "neutral"],
    "finqa": ["20%", "1.2", "20%", "yes"],
    "mmlu_finance": ["third", "first"],
    "hearsay": ["yes", "no"],
    "abercrombie": ["fanciful", "generic"],
    "proa": ["yes", "no"],
    "personal_jurisdiction": ["yes", "no"],
    "contract_qa": ["yes", "no"],
    "casehold": ["holding that standing rule 3 applies", "holding that mootness rule 0 applies"],
    "mmlu_law": ["second", "fourth", "first"],
}
TASKS = sorted(HUB_ROWS)


def task(name: str) -> Task:
    return registry().tasks[name]


def split_rows(name: str) -> tuple[list[Row], list[Row]]:
    """(test rows, dev rows) of a task's fixture, by the splits its hub source names."""
    hub = task(name).hub
    assert hub is not None
    rows = HUB_ROWS[name]
    return rows[hub.split], rows[hub.dev_split] if hub.dev_split else []


def test_every_finance_and_legal_task_has_a_hub_fixture() -> None:
    # tasks run only when named have their mappers tested in tests/test_grading.py
    # (FinanceBench) and tests/test_legal_work.py (CUAD, rule_qa)
    tasks = registry().tasks_for("finance") + registry().tasks_for("legal")
    assert {t.name for t in tasks if t.by_default} == set(HUB_ROWS)


@pytest.mark.parametrize("name", TASKS)
def test_local_files_in_the_hub_schema(name: str, tmp_path: Path) -> None:
    test_rows, dev_rows = split_rows(name)
    pd.DataFrame(test_rows).to_parquet(tmp_path / f"{name}.parquet")
    if dev_rows:
        lines = "".join(json.dumps(r) + "\n" for r in dev_rows)
        (tmp_path / f"{name}.dev.jsonl").write_text(lines)
    data = load_task_data(task(name), DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.gold_text for ex in data.test] == GOLD[name]
    if dev_rows:
        assert len(data.dev) == len(dev_rows)


def write_hub_copy(root: Path, hub: HubSource, rows: dict[str, list[Row]]) -> None:
    """The repository's files as the hub serves them, for the split names used.

    A parquet export (``data_dir``) has ``<folder>/<split>/0000.parquet`` (and a duckdb
    index that the loader must skip) and no card;
    a repository with named configs has a card whose ``configs`` point at
    ``<config>/<split>-*.parquet``; a plain one has ``data/<split>-*.parquet``.
    """
    repo = root / hub.path
    if hub.data_dir:
        for split, split_rows in rows.items():
            folder = repo / hub.data_dir / split
            folder.mkdir(parents=True)
            pd.DataFrame(split_rows).to_parquet(folder / "0000.parquet")
            # The export kept the viewer's search index beside each split for a while.
            (folder / "index.duckdb").write_bytes(b"DUCK not parquet")
        return
    configs = hub.configs or ((hub.name,) if hub.name else ())
    cards = []
    for config in configs:
        files = []
        for split, split_rows in rows.items():
            chosen = [r for r in split_rows if hub.name or r["subject"] == config]
            (repo / config).mkdir(parents=True, exist_ok=True)
            pd.DataFrame(chosen).to_parquet(repo / config / f"{split}-00000-of-00001.parquet")
            files.append({"split": split, "path": f"{config}/{split}-*"})
        cards.append({"config_name": config, "data_files": files})
    if not configs:
        (repo / "data").mkdir(parents=True)
        for split, split_rows in rows.items():
            pd.DataFrame(split_rows).to_parquet(repo / "data" / f"{split}-00000-of-00001.parquet")
    (repo / "README.md").write_text(f"---\n{yaml.safe_dump({'configs': cards})}---\n")


@pytest.mark.parametrize("name", TASKS)
def test_hub_loader_reads_the_hub_layout(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    declared = task(name)
    assert declared.hub is not None
    write_hub_copy(tmp_path / "hub", declared.hub, HUB_ROWS[name])
    local_hub = replace(declared.hub, path=str(tmp_path / "hub" / declared.hub.path))
    data = load_task_data(replace(declared, hub=local_hub), DataConfig(source="full"))
    assert [ex.gold_text for ex in data.test] == GOLD[name]
    _, dev_rows = split_rows(name)
    assert len(data.dev) == (len(dev_rows) or 6)  # no dev split: the bundled dev items
    assert data.origin.startswith(f"hub {local_hub.path}")


@pytest.mark.parametrize(
    "name", ["phrasebank", "hearsay", "abercrombie", "proa", "personal_jurisdiction"]
)
def test_script_only_datasets_are_read_from_the_hub_parquet_export(name: str) -> None:
    hub = task(name).hub
    assert hub is not None
    assert (hub.revision, hub.name, hub.configs) == ("refs/convert/parquet", None, ())
    assert hub.data_dir


def test_a_config_named_instead_of_a_folder_fails_on_the_export_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the export is read by folder: the layout has no card naming configs."""
    import datasets

    from genspec.errors import DataError

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    proa = task("proa")
    assert proa.hub is not None
    write_hub_copy(tmp_path / "hub", proa.hub, HUB_ROWS["proa"])
    by_name = HubSource(str(tmp_path / "hub" / proa.hub.path), name="proa", split="test")
    with pytest.raises(DataError, match="cannot load"):
        load_task_data(replace(proa, hub=by_name), DataConfig(source="full"))


@pytest.mark.parametrize(
    ("name", "text", "label"),
    [
        ("fiqa_sa", "Bullish.", "positive"),
        ("phrasebank", "**BEARISH**", "negative"),
        ("fiqa_sa", "Answer: Neutral!", "neutral"),
        ("phrasebank", "The sentiment is positive for investors.", "positive"),
        ("hearsay", "YES.", "yes"),
        ("proa", "No, it only sets a fine.", "no"),
        ("contract_qa", '{"answer": "Yes"}', "yes"),
        ("personal_jurisdiction", "Reasoning: domicile... Final answer: no", "no"),
        ("abercrombie", "The mark is Suggestive.", "suggestive"),
    ],
)
def test_labels_are_read_whatever_their_case_and_punctuation(
    name: str, text: str, label: str
) -> None:
    example = load_task_data(task(name), DataConfig()).test[0]
    index = task(name).parse_answer(text, example)
    assert index is not None and example.choices[index] == label


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("hearsay", "bullish"),  # market synonyms belong to the sentiment tasks only
        ("proa", "positive"),
        ("fiqa_sa", "yes"),
        ("abercrombie", "Either generic or descriptive."),  # a hedge names no single label
        ("contract_qa", "I cannot tell from the clause."),
        ("mmlu_law", "E"),
    ],
)
def test_answers_outside_the_label_set_are_invalid(name: str, text: str) -> None:
    example = load_task_data(task(name), DataConfig()).test[0]
    assert task(name).parse_answer(text, example) is None


def test_invalid_answers_are_counted_apart_from_wrong_ones() -> None:
    hearsay = task("hearsay")
    example = next(ex for ex in load_task_data(hearsay, DataConfig()).test if ex.gold == 0)
    request = GenerateRequest(messages=(Message("user", "?"),))
    wrong = _judge(hearsay, example, request, Response(text="No."))
    unreadable = _judge(hearsay, example, request, Response(text="It depends."))
    assert (wrong.correct, wrong.invalid) == (0.0, False)
    assert (unreadable.correct, unreadable.invalid) == (0.0, True)


@pytest.mark.parametrize(
    ("name", "field", "stored", "gold"),
    [
        # A ClassLabel exported by name instead of int (``int2str``, or the PhraseBank
        # card's own example row, which shows ``"label": "negative"``).
        ("phrasebank", "label", ["negative", " Positive ", 1], ["negative", "positive", "neutral"]),
        ("mmlu_finance", "answer", ["C", "a"], GOLD["mmlu_finance"]),
        ("casehold", "label", ["3", 0], GOLD["casehold"]),  # its names are the digits
    ],
)
def test_class_labels_load_by_int_or_by_name(
    name: str, field: str, stored: list[Any], gold: list[str], tmp_path: Path
) -> None:
    test_rows, _ = split_rows(name)
    write_local(tmp_path, name, [{**r, field: v} for r, v in zip(test_rows, stored, strict=True)])
    data = load_task_data(task(name), DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.gold_text for ex in data.test] == gold


def test_a_label_outside_the_label_set_names_the_row(tmp_path: Path) -> None:
    from genspec.errors import DataError

    rows = [{**HUB_ROWS["hearsay"]["test"][0], "answer": "Maybe"}]
    write_local(tmp_path, "hearsay", rows)
    with pytest.raises(DataError, match="line 1: field 'answer' has an answer 'Maybe'"):
        load_task_data(task("hearsay"), DataConfig(source="local", dir=str(tmp_path)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"score": None}, "field 'score' should be a number, got None"),
        ({"target": None}, "field 'target' is empty"),
    ],
)
def test_fiqa_row_missing_a_value_names_the_field(
    change: Row, message: str, tmp_path: Path
) -> None:
    from genspec.errors import DataError

    write_local(tmp_path, "fiqa_sa", [{**_fiqa("t9", 0.3, "post"), **change}])
    with pytest.raises(DataError, match=f"line 1: {message}"):
        load_task_data(task("fiqa_sa"), DataConfig(source="local", dir=str(tmp_path)))


def _finqa_test_items(tmp_path: Path) -> dict[str, Any]:
    """The FinQA fixture's test rows read as a local file, by gold answer."""
    write_local(tmp_path, "finqa", HUB_ROWS["finqa"]["test"])
    data = load_task_data(task("finqa"), DataConfig(source="local", dir=str(tmp_path)))
    return {ex.id: ex for ex in data.test}


def write_local(folder: Path, name: str, rows: list[Row]) -> None:
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(
    ("answer", "correct", "invalid"),
    [
        ("Answer: Yes", 1.0, False),
        ("yes, revenue rose from 100 to 120.", 1.0, False),
        ("120 > 100, so the answer is no", 0.0, False),
        ("Answer: 20", 0.0, True),  # a number is no answer to a yes/no question
    ],
)
def test_finqa_comparison_items_are_scored_as_yes_or_no(
    answer: str, correct: float, invalid: bool, tmp_path: Path
) -> None:
    finqa = task("finqa")
    assert finqa.scorer is not None
    item = _finqa_test_items(tmp_path)["ZED/2020/page_5.pdf-1"]
    judgement = finqa.scorer(answer, item)
    assert (judgement.correct, judgement.invalid) == (correct, invalid)


def test_finqa_asks_for_yes_or_no_only_where_the_gold_is_one(tmp_path: Path) -> None:
    from genspec.prompting import answer_instruction

    finqa = task("finqa")
    items = _finqa_test_items(tmp_path)
    template = finqa.prompts["zero_shot"]
    comparison = answer_instruction(finqa.kind, items["ZED/2020/page_5.pdf-1"], template)
    number = answer_instruction(finqa.kind, items["ZED/2020/page_4.pdf-1"], template)
    assert "yes or no" in comparison and "single number" in number
    assert finqa.scorer is not None  # the blank answer's final_result is scored as a number
    assert finqa.scorer("Answer: 0.2", items["ZED/2020/page_4.pdf-1"]).correct == 1.0


def test_finqa_row_with_no_answer_anywhere_names_both_fields(tmp_path: Path) -> None:
    from genspec.errors import DataError

    write_local(tmp_path, "finqa", [_finqa("6", "", result=" ")])
    with pytest.raises(DataError, match="'answer', 'final_result' are all missing or empty"):
        load_task_data(task("finqa"), DataConfig(source="local", dir=str(tmp_path)))


def test_samples_cover_every_kind_of_scoring() -> None:
    kinds = {d: {t.kind.value for t in registry().tasks_for(d)} for d in ("finance", "legal")}
    assert kinds["finance"] == {"classification", "multiple_choice", "numeric", "free_text"}
    assert kinds["legal"] == {"classification", "multiple_choice", "free_text"}


PAIRS = {
    "finance": {
        "AdaptLLM/finance-chat": "meta-llama/Llama-2-7b-chat-hf",
        "ChanceFocus/finma-7b-full": "huggyllama/llama-7b",
    },
    "legal": {
        "Equall/Saul-7B-Instruct-v1": "mistralai/Mistral-7B-Instruct-v0.1",
        "AdaptLLM/law-chat": "meta-llama/Llama-2-7b-chat-hf",
    },
}


@pytest.mark.parametrize("roster", ["open", "paper"])
@pytest.mark.parametrize("domain", ["finance", "legal"])
def test_rosters_pair_each_specialist_with_its_base(
    roster: str, domain: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("GENSPEC_SPECIALIST_API_BASE", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9/v1")
    config, _ = compose([f"roster={roster}", f"domain={domain}"])
    models = config.roster.for_domain(domain)
    by_name = {m.name: m for m in models}
    hub_id = {m.name: m.id.removeprefix("openai/") for m in models}
    pairs = {hub_id[m.name]: hub_id[m.base or ""] for m in models if m.role is Role.SPECIALIST}
    assert pairs == PAIRS[domain]
    assert all(by_name[m.base or ""].role is Role.BASE for m in models if m.base)
    assert any(m.role is Role.GENERALIST for m in models)
    assert not config.roster.smoke
    for model in models:  # params and credentials checked as before a run; nothing loads
        backend_class(model.backend).preflight(model)
