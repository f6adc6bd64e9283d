"""The drug-drug interaction task (``ddi``, DDI-2013 from ``bigbio/ddi_corpus``).

The loader is read on a folder laid out like the hub's parquet export of the corpus
(``ddi_corpus_source/<split>/0000.parquet``, written by ``datasets`` with the loading
script's features) as ``data=full`` reads it, and on the same rows as local files;
answers go through the real prompt, HTTP call, parser and per-category scoring against
genspec's fake OpenAI-compatible API. No network.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from genspec.cli import cli
from genspec.config.schema import DataConfig
from genspec.data import load_task_data
from genspec.errors import DataError
from genspec.fake_api import FakeOpenAIServer
from genspec.plugins import registry
from genspec.task import Example, Task
from genspec_medical.interactions import LABELS, to_example

Row = dict[str, Any]
MENTION = re.compile(r"\[\[(DRUG|BRAND|GROUP|DRUG_N)\|([^\]]+)\]\]")
# ddi_corpus.py's source features (bigscience-workshop/biomedical, hub_repos/ddi_corpus)
SOURCE_FEATURES = {
    "document_id": {"dtype": "string", "_type": "Value"},
    "text": {"dtype": "string", "_type": "Value"},
    "entities": [
        {
            "offsets": {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "Sequence"},
            "text": {"dtype": "string", "_type": "Value"},
            "type": {"dtype": "string", "_type": "Value"},
            "id": {"dtype": "string", "_type": "Value"},
        }
    ],
    "relations": [
        {
            "id": {"dtype": "string", "_type": "Value"},
            "head": {
                "ref_id": {"dtype": "string", "_type": "Value"},
                "role": {"dtype": "string", "_type": "Value"},
            },
            "tail": {
                "ref_id": {"dtype": "string", "_type": "Value"},
                "role": {"dtype": "string", "_type": "Value"},
            },
            "type": {"dtype": "string", "_type": "Value"},
        }
    ],
}


def document(document_id: str, marked: str, relations: list[tuple[int, int, str]]) -> Row:
    """A row in the source schema from text with mentions written ``[[TYPE|name]]``;
    ``relations`` join mentions by their 1-based order, as BRAT's T1, T2... do."""
    text, entities, last = "", [], 0
    for match in MENTION.finditer(marked):
        text += marked[last : match.start()]
        start, text = len(text), text + match.group(2)
        entities.append(
            {
                "offsets": [start, len(text)],
                "text": match.group(2),
                "type": match.group(1),
                "id": f"T{len(entities) + 1}",
            }
        )
        last = match.end()
    links = [
        {
            "id": f"R{n}",
            "head": {"ref_id": f"T{a}", "role": "Arg1"},
            "tail": {"ref_id": f"T{b}", "role": "Arg2"},
            "type": kind,
        }
        for n, (a, b, kind) in enumerate(relations, start=1)
    ]
    return {
        "document_id": document_id,
        "text": text + marked[last:],
        "entities": entities,
        "relations": links,
    }


TEST_ROWS = [
    document(
        "Fictolol_ddi",
        "[[DRUG|Fictolol]] levels doubled with [[DRUG|quinidine]], which blocks CYP2D6.",
        [(1, 2, "MECHANISM")],
    ),
    document(
        "Placebrin_ddi",
        "[[BRAND|Placebrin]] must not be combined with [[GROUP|MAO inhibitors]].",
        [(1, 2, "ADVISE")],
    ),
    document(
        "11111111",
        "[[DRUG|Drug A]] is renally cleared. [[DRUG|Drug B]] was given on other days.",
        [],
    ),
    document("Solonex_ddi", "No interaction studies were done with [[BRAND|Solonex]].", []),
    document("22222222", "Interaction studies were not done.", []),
]
TRAIN_ROWS = [
    document(
        "Trainol_ddi",
        "[[DRUG|Trainol]] adds to the sedation of [[GROUP|benzodiazepines]].",
        [(1, 2, "EFFECT")],
    ),
    document("Devex_ddi", "[[DRUG|Devex]] interacts with [[DRUG|warfarin]].", [(1, 2, "INT")]),
]
GOLD = ["mechanism", "advice", "none", "none", "none"]


def task() -> Task:
    return registry().tasks["ddi"]


def export_copy(root: Path, splits: dict[str, list[Row]]) -> Path:
    """The hub's parquet export of bigbio/ddi_corpus: one folder per config and split."""
    import datasets

    hub = task().hub
    assert hub is not None and hub.data_dir
    repo = root / hub.path
    for split, rows in splits.items():
        folder = repo / hub.data_dir / split
        folder.mkdir(parents=True)
        features = datasets.Features.from_dict(SOURCE_FEATURES)
        datasets.Dataset.from_list(rows, features=features).to_parquet(folder / "0000.parquet")
        (folder / "index.duckdb").write_bytes(b"DUCK not parquet")  # the viewer's index
    return repo


def test_the_hub_export_and_local_copies_give_the_same_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    declared = task()
    assert declared.hub is not None and not declared.by_default and declared.report_by_category
    assert (declared.hub.path, declared.hub.data_dir) == ("bigbio/ddi_corpus", "ddi_corpus_source")
    repo = export_copy(tmp_path / "hub", {"test": TEST_ROWS, "train": TRAIN_ROWS})
    hub = replace(declared, hub=replace(declared.hub, path=str(repo)))
    full = load_task_data(hub, DataConfig(source="full"))
    assert [ex.id for ex in full.test] == [row["document_id"] for row in TEST_ROWS]
    assert [ex.gold_text for ex in full.test] == GOLD == [ex.category for ex in full.test]
    assert [ex.gold_text for ex in full.dev] == ["effect", "unspecified"]  # few-shot: train
    first = full.test[0]
    assert first.choices == LABELS and first.extra["drugs"] == "Fictolol | quinidine"
    assert first.context.startswith("<<Fictolol>> levels doubled with <<quinidine>>, which")
    assert "<<Drug A>>" in full.test[2].context and "<<Drug B>>" in full.test[2].context
    assert full.test[3].question.endswith("between <<Solonex>> and another drug?")
    assert full.test[4].question.endswith("between one drug and another drug?")

    local = tmp_path / "local"
    local.mkdir()
    (local / "ddi.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TEST_ROWS))
    from_jsonl = load_task_data(declared, DataConfig(source="local", dir=str(local)))
    assert from_jsonl.fingerprint == full.fingerprint
    (local / "ddi.jsonl").unlink()
    # pandas reads the nested lists back as numpy arrays
    pd.DataFrame(TEST_ROWS).to_parquet(local / "ddi.parquet")
    from_parquet = load_task_data(declared, DataConfig(source="local", dir=str(local)))
    assert from_parquet.fingerprint == full.fingerprint


def marked(example: Example) -> list[str]:
    return re.findall(r"<<([^>]+)>>", example.context)


def test_the_marked_mentions_decide_the_gold_where_a_text_types_two_pairs() -> None:
    """Lithium with thiazides is an effect in one sentence and advice in the next: the
    item marks the two mentions of the relation it asks about, whichever it is."""
    text = (
        "[[DRUG|lithium]] with [[GROUP|thiazides]] causes toxicity. With a [[GROUP|thiazide]]"
        " lower the [[DRUG|lithium]] dose."
    )
    relations = [(1, 2, "EFFECT"), (3, 4, "ADVISE")]
    seen = {}
    for n in range(12):  # the relation asked about is chosen by the document id's hash
        example = to_example(document(f"doc-{n}", text, relations), 0)
        seen[example.gold_text] = marked(example)
        assert example == to_example(document(f"doc-{n}", text, relations), 7)  # row number
    assert seen == {"effect": ["lithium", "thiazides"], "advice": ["thiazide", "lithium"]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda row: row["relations"][0]["tail"].update(ref_id="T9"),
            "relation 'R1' names entity 'T9', which is not in 'entities'",
        ),
        (
            lambda row: row["relations"][0].update(type="SYNERGY"),
            "relation type 'SYNERGY' is not one of MECHANISM, EFFECT, ADVISE, INT",
        ),
        (
            lambda row: row["entities"][1].update(offsets=[40, 400]),
            "entity 'T2' has offsets [40, 400]; they must be [start, end] within the text",
        ),
        (lambda row: row.pop("relations"), "missing field 'relations'"),
        (lambda row: row.update(entities="quinidine"), "field 'entities' must be a list"),
    ],
)
def test_a_malformed_row_is_one_line_naming_the_row_and_the_fix(
    tmp_path: Path, change: Any, message: str
) -> None:
    bad = json.loads(json.dumps(TEST_ROWS[0]))
    change(bad)
    path = tmp_path / "ddi.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (TEST_ROWS[1], bad)))
    with pytest.raises(DataError) as caught:
        load_task_data(task(), DataConfig(source="local", dir=str(tmp_path)))
    error = str(caught.value)
    assert f"{path} line 2: {message}" in error and "Fix the row or remove it" in error
    assert "\n" not in error


# How a model might say each label: the parser must read every one.
SAID = {
    "mechanism": "Mechanism.",
    "effect": "The answer is: effect",
    "advice": "advise",
    "unspecified": '{"answer": "unspecified"}',
    "none": "No interaction between them is stated.",
}


def test_answers_go_through_the_real_prompt_and_parser_and_are_scored_per_type(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = load_task_data(task(), DataConfig()).test
    assert len(items) >= 8 and {ex.gold_text for ex in items} == set(LABELS)

    def oracle(body: dict[str, Any]) -> str:
        """Says each item's gold label, in one of the shapes above."""
        prompt = body["messages"][-1]["content"]
        item = max(items, key=lambda ex: prompt.rfind(ex.context))
        return SAID[item.gold_text]

    with FakeOpenAIServer(policy=oracle) as server:
        monkeypatch.setenv("GENSPEC_FAKE_API_BASE", server.url)
        result = CliRunner().invoke(
            cli, ["run", "domain=medical", "roster=fake-api", "tasks=[ddi]", "tracking.traces=0"]
        )
        prompts = [r.body["messages"][-1]["content"] for r in server.requests if r.body]
    assert result.exit_code == 0, result.output
    assert prompts and all("Options: " + ", ".join(LABELS) in p for p in prompts)
    assert all("drug mentions marked <<like this>>" in p for p in prompts)
    scored = re.findall(rf"^ddi\s+fake-\S+\s+\S+\s+{len(items)}\s+(\S+)", result.output, re.M)
    assert scored == ["100.0"] * 3, result.output
    for label in LABELS:  # each type has its own row of the per-category table
        assert re.search(rf"^{label}\s+fake-generalist\s+\d+\s+100\.0", result.output, re.M)
