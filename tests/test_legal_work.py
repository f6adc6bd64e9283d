"""Legal professional work (issue 19): CUAD by clause type, and LegalBench's open rule_qa.

Both are read from LegalBench's parquet export on the hub (``refs/convert/parquet``: one
folder per config, ``<config>/<split>/0000.parquet``, every column a string). The
fixtures lay out a local copy of that tree, which the real ``datasets.load_dataset``
reads through ``load_task_data(data=full)``; the same rows are read as a user's local
file (``data=local``). rule_qa is then run through the real CLI against genspec's fake
OpenAI-compatible API with a judge panel, as tests/test_grading.py runs HealthBench.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import parent_run
from genspec.cli import cli
from genspec.config.schema import DataConfig
from genspec.data import load_task_data
from genspec.errors import DataError
from genspec.fake_api import FakeOpenAIServer
from genspec.plugins import registry
from genspec.prompting import build_request, prompt_text
from genspec.task import Task
from genspec_legal.contracts import CLAUSE_FIELD, CLAUSE_TYPES

Row = dict[str, Any]
# Three clause types: (answer, clause) per split; each config numbers its rows from 0,
# as LegalBench's do, so the index repeats across configs.
EXPORT: dict[str, dict[str, list[tuple[str, str]]]] = {
    "cuad_audit_rights": {
        "test": [
            ("Yes", "Buyer may inspect Seller's records once a year on notice."),
            ("No", "Seller shall ship within ten days of an order."),
        ],
        "train": [("Yes", "Licensor may audit Licensee's royalty books.")],
    },
    "cuad_governing_law": {
        "test": [
            ("No", "Notices shall be sent by courier."),
            ("Yes", "This Agreement is governed by the laws of Ohio."),
        ],
        "train": [("No", "Headings are for convenience only.")],
    },
    "cuad_anti-assignment": {
        "test": [("Yes", "Neither party may assign this Agreement without consent.")],
        "train": [("Yes", "Any assignment without the other party's consent is void.")],
    },
}


def task(name: str) -> Task:
    return registry().tasks[name]


def export_rows(pairs: list[tuple[str, str]], folder: str) -> list[Row]:
    """A split of one LegalBench cuad_* config as the parquet export holds it: every
    column a string, in alphabetical order, ``index`` from "0"."""
    return [
        {"answer": answer, "document_name": f"{folder}_doc", "index": str(i), "text": text}
        for i, (answer, text) in enumerate(pairs)
    ]


def write_export(repo: Path, folders: dict[str, dict[str, list[Row]]]) -> None:
    """The export's tree: ``<folder>/<split>/0000.parquet`` and, beside it for a while,
    the viewer's duckdb index, which the loader must skip; no card naming configs."""
    for folder, splits in folders.items():
        for split, rows in splits.items():
            where = repo / folder / split
            where.mkdir(parents=True)
            pd.DataFrame(rows).to_parquet(where / "0000.parquet")
            (where / "index.duckdb").write_bytes(b"DUCK not parquet")


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def cuad_export(tmp_path: Path) -> tuple[Task, dict[str, dict[str, list[Row]]]]:
    """The cuad task pointed at a local export of three of its clause types."""
    rows = {
        folder: {split: export_rows(pairs, folder) for split, pairs in splits.items()}
        for folder, splits in EXPORT.items()
    }
    repo = tmp_path / "hub" / "nguha" / "legalbench"
    write_export(repo, rows)
    cuad = task("cuad")
    assert cuad.hub is not None
    hub = replace(cuad.hub, path=str(repo), configs=tuple(EXPORT))
    return replace(cuad, hub=hub), rows


# --- CUAD ---------------------------------------------------------------------------------


def test_cuad_is_one_task_over_legalbenchs_38_clause_types_run_only_when_named() -> None:
    cuad = task("cuad")
    assert cuad.hub is not None
    assert cuad.hub.configs == tuple(CLAUSE_TYPES) and len(set(CLAUSE_TYPES)) == 38
    assert all(name.startswith("cuad_") and question for name, question in CLAUSE_TYPES.items())
    assert (cuad.hub.revision, cuad.hub.config_field) == ("refs/convert/parquet", CLAUSE_FIELD)
    assert (cuad.hub.split, cuad.hub.dev_split) == ("test", "train")
    assert cuad.report_by_category and not cuad.by_default
    assert not any(name.startswith("cuad_") for name in registry().tasks)  # the old per-type tasks


def test_cuad_reads_every_clause_type_folder_of_the_export(tmp_path: Path, hf_cache: None) -> None:
    cuad, rows = cuad_export(tmp_path)
    data = load_task_data(cuad, DataConfig(source="full"))
    expected = [(f, r) for f, splits in rows.items() for r in splits["test"]]
    # index repeats across configs ("0" in each), the id does not
    assert [ex.id for ex in data.test] == [f"{f}-{r['index']}" for f, r in expected]
    assert len({ex.id for ex in data.test}) == len(data.test)
    assert [ex.category for ex in data.test] == [f for f, _ in expected]
    assert [ex.question for ex in data.test] == [CLAUSE_TYPES[f] for f, _ in expected]
    assert [ex.context for ex in data.test] == [r["text"] for _, r in expected]
    assert [ex.gold_text for ex in data.test] == [r["answer"].lower() for _, r in expected]
    assert data.test[0].extra == {"document_name": "cuad_audit_rights_doc"}
    # the few-shot pool is every type's train split, with the same ids
    assert [ex.id for ex in data.dev] == [f"{f}-0" for f in EXPORT]
    assert cuad.hub is not None and data.origin.startswith(f"hub {cuad.hub.path}")


def test_each_cuad_item_is_asked_its_own_clause_types_question(
    tmp_path: Path, hf_cache: None
) -> None:
    cuad, _ = cuad_export(tmp_path)
    data = load_task_data(cuad, DataConfig(source="full"))
    template = cuad.prompts["zero_shot"]
    for example in data.test:
        text = prompt_text(
            build_request(
                cuad.kind, template, cuad.subject, example, [], method="generate", max_new_tokens=8
            )
        )
        assert f"{example.context}\nQuestion: {CLAUSE_TYPES[example.category or '']}" in text
        others = [q for t, q in CLAUSE_TYPES.items() if t != example.category]
        assert not any(q in text for q in others)
        assert "Options: yes, no" in text
        assert cuad.parse_answer("Yes, it does.", example) == 0


def test_each_cuad_items_few_shot_examples_are_of_its_own_clause_type(
    tmp_path: Path, hf_cache: None
) -> None:
    """shots_by_category: an item's solved examples come from its own clause type's
    train rows; a task without it draws from the whole pool (the old behaviour)."""
    from genspec.config.schema import ModelSpec, RosterConfig, RunConfig
    from genspec.engine import PreparedTask, _request

    cuad, _ = cuad_export(tmp_path)
    assert cuad.shots_by_category
    data = load_task_data(cuad, DataConfig(source="full"))
    model = ModelSpec(name="m", id="mock", role="generalist", backend="mock", shots=3)
    config = RunConfig(domain="legal", roster=RosterConfig(models=[model]))
    template = cuad.prompts["zero_shot"]
    for example in data.test:
        prepared = PreparedTask(data, data.test, {"zero_shot": template})
        text = prompt_text(_request(prepared, template, example, model, config))
        own = next(ex for ex in data.dev if ex.category == example.category)
        others = [ex for ex in data.dev if ex.category != example.category]
        assert own.context in text and not any(ex.context in text for ex in others)
        mixed = PreparedTask(replace(data, task=replace(cuad, shots_by_category=False)), (), {})
        text = prompt_text(_request(mixed, template, example, model, config))
        assert all(ex.context in text for ex in data.dev)  # 3 shots from a pool of 3


def test_cuad_local_file_holds_the_export_rows_with_their_clause_type(tmp_path: Path) -> None:
    """A local copy is the export's rows with ``clause_type`` added, as the loader adds it
    to hub rows: the same items either way."""
    test_rows = [
        {**r, CLAUSE_FIELD: folder}
        for folder, splits in EXPORT.items()
        for r in export_rows(splits["test"], folder)
    ]
    (tmp_path / "cuad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test_rows))
    data = load_task_data(task("cuad"), DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.id for ex in data.test] == [f"{r[CLAUSE_FIELD]}-{r['index']}" for r in test_rows]
    assert [ex.question for ex in data.test] == [CLAUSE_TYPES[r[CLAUSE_FIELD]] for r in test_rows]
    assert len(data.dev) == 4  # no local dev file: the bundled dev items


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({CLAUSE_FIELD: None}, "line 2: field 'clause_type' is missing: give each row the cuad_"),
        ({CLAUSE_FIELD: "audit_rights"}, "line 2: field 'clause_type' is 'audit_rights', not a"),
        ({"answer": "Maybe"}, "line 2: field 'answer' has an answer 'Maybe'"),
    ],
)
def test_a_bad_cuad_row_is_one_line_naming_it_and_the_fix(
    change: Row, message: str, tmp_path: Path
) -> None:
    good = {**export_rows([("Yes", "A clause.")], "x")[0], CLAUSE_FIELD: "cuad_insurance"}
    bad = {k: v for k, v in {**good, "index": "1", **change}.items() if v is not None}
    (tmp_path / "cuad.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=re.escape(message)) as raised:
        load_task_data(task("cuad"), DataConfig(source="local", dir=str(tmp_path)))
    assert "\n" not in str(raised.value)


def test_the_cuad_sample_asks_every_clause_type_both_ways() -> None:
    data = load_task_data(task("cuad"), DataConfig())
    per_type = Counter((ex.category, ex.gold_text) for ex in data.test)
    assert {ex.category for ex in data.test} == set(CLAUSE_TYPES)
    assert all(per_type[(t, "yes")] >= 1 and per_type[(t, "no")] >= 1 for t in CLAUSE_TYPES)
    assert Counter(ex.gold_text for ex in data.dev) == {"yes": 2, "no": 2}


# --- rule_qa ------------------------------------------------------------------------------

RULE_ROWS = [
    {"answer": "A duty, its breach, causation and damages.", "doctrine": "Torts",
     "index": "0", "text": "What are the elements of negligence?"},
    {"answer": "Fed. R. Civ. P. 12(b)(6).", "doctrine": "Civil Procedure",
     "index": "1", "text": "Which rule allows a motion to dismiss for failure to state a claim?"},
]  # fmt: skip


def test_rule_qa_reads_the_export_and_grades_against_the_reference(
    tmp_path: Path, hf_cache: None
) -> None:
    rule_qa = task("rule_qa")
    assert rule_qa.hub is not None and rule_qa.hub.data_dir == "rule_qa"
    assert rule_qa.panel_graded and not rule_qa.by_default and rule_qa.report_by_category
    repo = tmp_path / "hub" / "nguha" / "legalbench"
    write_export(repo, {"rule_qa": {"test": RULE_ROWS}})
    local = replace(rule_qa, hub=replace(rule_qa.hub, path=str(repo)))
    data = load_task_data(local, DataConfig(source="full"))
    assert [ex.question for ex in data.test] == [r["text"] for r in RULE_ROWS]
    assert [ex.target for ex in data.test] == [r["answer"] for r in RULE_ROWS]
    assert [ex.category for ex in data.test] == ["Torts", "Civil Procedure"]
    (criterion,) = data.test[1].rubric
    assert criterion.kind == "reference" and "Fed. R. Civ. P. 12(b)(6)." in criterion.text
    assert len(data.dev) == 2  # LegalBench has no train rows for rule_qa: the bundled dev


def test_rule_qa_local_file_and_a_row_without_its_answer(tmp_path: Path) -> None:
    rows = [*RULE_ROWS, {k: v for k, v in RULE_ROWS[0].items() if k != "answer"}]
    (tmp_path / "rule_qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    data = load_task_data(task("rule_qa"), DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.id for ex in data.test] == ["0", "1"]
    (tmp_path / "rule_qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"line 3: missing field 'answer' \(row has: doctrine"):
        load_task_data(task("rule_qa"), DataConfig(source="local", dir=str(tmp_path)))


def _sample_answers() -> dict[str, str]:
    """The bundled rule_qa test questions and their reference answers."""
    return {ex.question: ex.target for ex in load_task_data(task("rule_qa"), DataConfig()).test}


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def _knowing_generalist(body: dict[str, Any]) -> str:
    """The generalist states each reference answer; the other models do not know it.
    Judges (any name) say "met" exactly when the response is the quoted reference."""
    prompt = body["messages"][-1]["content"]
    if '"criteria_met"' in prompt:
        response = _between(prompt, "# Response to grade", "# Rubric criterion")
        criterion = prompt.split("# Rubric criterion", 1)[1]
        return json.dumps({"criteria_met": f'"{response}"' in criterion, "explanation": "."})
    if body["model"] == "genspec-fake-generalist":
        asked = prompt.rsplit("Question: ", 1)[1].split("\n", 1)[0]
        return _sample_answers()[asked]
    return "I am not sure which rule applies."


def _results(workdir: Path) -> list[dict[str, Any]]:
    client, parent = parent_run(workdir, "legal")
    local = client.download_artifacts(parent.info.run_id, "results.json", str(workdir / "art"))
    return json.loads(Path(local).read_text())["results"]


def test_rule_qa_is_graded_by_the_panel_against_the_reference_answer(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(policy=_knowing_generalist) as server:
        monkeypatch.setenv("GENSPEC_FAKE_API_BASE", server.url)
        judges = ",".join(
            f"{{id: openai/{name}, params: {{api_base: '{server.url}'}}}}"
            for name in ("judge-a", "judge-b")
        )
        args = ["run", "domain=legal", "roster=fake-api", "tasks=[rule_qa]", f"judges=[{judges}]"]
        result = CliRunner().invoke(cli, [*args, "limit=4", "tracking.traces=0"])
        bodies = [r.body for r in server.requests if r.body]
    assert result.exit_code == 0, result.output
    judged = [b["messages"][-1]["content"] for b in bodies if '"criteria_met"' in str(b)]
    # one criterion per item (agreement with its reference) per distinct answer per judge:
    # the specialist and base answer alike, and a blind judge's grade of it is cached
    assert len(judged) == 4 * 2 * 2
    answers = _sample_answers()
    assert all(any(f'"{a}"' in p for a in answers.values()) for p in judged)
    text = " ".join(result.output.split())
    assert "Krippendorff's alpha 1.00" in text and "the judges disagree" not in text
    scores = {r["model"]: r["accuracy"] for r in _results(workdir) if r["task"] == "rule_qa"}
    assert scores == {"fake-generalist": 1.0, "fake-specialist": 0.0, "fake-base": 0.0}
