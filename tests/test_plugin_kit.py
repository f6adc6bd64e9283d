"""The plugin author's kit: validate, declarative tasks, new-plugin, and terminal output."""

from __future__ import annotations

import io
import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from conftest import REPO, fake_distribution, genspec
from genspec.errors import DataError, PluginError
from genspec.toolkit.declarative import load_tasks
from genspec.validate import validate_command

PUBMEDQA = REPO / "plugins" / "medical" / "genspec_medical" / "data" / "pubmedqa"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write(path: Path, rows: list[dict], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def test_validate_reports_every_bad_row_of_every_file(tmp_path: Path) -> None:
    rows = _rows(PUBMEDQA / "test.jsonl")
    rows[1]["final_decision"] = "perhaps"  # line 2: a label outside the set
    del rows[2]["question"]  # line 3: a missing field
    rows[4]["pubid"] = rows[3]["pubid"]  # lines 4 and 5 share an id
    _write(tmp_path / "pubmedqa.jsonl", rows, "{broken\n")
    dev = [*_rows(PUBMEDQA / "dev.jsonl"), rows[5]]  # a test item among the shots
    _write(tmp_path / "pubmedqa.dev.jsonl", dev)
    lines: list[str] = []
    overrides = ["domain=medical", "data=local", f"data.dir={tmp_path}", "tasks=[pubmedqa]"]
    with pytest.raises(DataError, match=r"^5 error\(s\) in 1 of 1 task"):
        validate_command(overrides, lines.append)
    text = "\n".join(lines)
    assert "line 2: field 'final_decision' has an answer 'perhaps'" in text
    assert "(allowed: one of 'yes', 'no', 'maybe')" in text
    assert "line 3: missing field 'question'" in text
    assert f"line {len(rows) + 1}: not valid JSON" in text
    assert f"id '{rows[3]['pubid']}' is on lines 4, 5" in text
    assert f"1 few-shot item(s) are also test items (lines {len(dev)})" in text


def test_validate_names_missing_files_and_passes_good_data(tmp_path: Path) -> None:
    lines: list[str] = []
    overrides = ["domain=medical", "data=local", f"data.dir={tmp_path}", "tasks=[medqa]"]
    with pytest.raises(DataError):
        validate_command(overrides, lines.append)
    assert "no data file (looked for medqa.jsonl or medqa.json" in lines[1]
    assert "warning: [medqa]" in lines[2] and "the bundled sample" in lines[2]
    lines.clear()
    validate_command(["domain=legal"], lines.append)
    assert lines[-1] == "All 9 task(s) valid (sample data)."  # 7 + 2 CUAD clause types


TASKS_YAML = """\
subject: agronomy
tasks:
  - name: soil_yes_no
    kind: classification
    description: Does the field need water?
    fields:
      question: {const: "Does the field need irrigation?"}
      context: {concat: [text, {format: "Soil: {soil}"}]}
      answer: label
      labels: [yes, no]
    synonyms: {yes: [irrigate]}
    parser: genspec.toolkit:parse_choice
  - name: pests
    description: Which pest?
    hub: {path: org/pests, split: test, configs: [a, b]}
    fields: {id: id, question: question, options: [opa, opb], answer: answer, answer_format: letter}
"""


def test_yaml_tasks_take_the_builders_keywords(tmp_path: Path) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text(TASKS_YAML)
    soil, pests = load_tasks(path, "gsp_pkg")
    example = soil.to_example({"text": "dry", "soil": "clay", "label": "Yes"}, 1)
    assert example.choices == ("yes", "no")  # words, not YAML 1.1 booleans
    assert example.context == "dry\nSoil: clay" and example.gold == 0
    assert soil.parse_answer.__name__ == "parse_choice"  # Python named from YAML
    assert soil.sample.package == "gsp_pkg" and soil.subject == "agronomy"
    assert pests.kind.value == "multiple_choice" and pests.hub.configs == ("a", "b")
    assert pests.to_example({"id": 7, "question": "Q", "opa": "x", "opb": "y", "answer": "B"}, 1)
    path.write_text(TASKS_YAML.replace("answer_format", "answer_fromat"))
    with pytest.raises(PluginError, match=r"task 'pests': unknown field key 'answer_fromat'\. "):
        load_tasks(path, "gsp_pkg")


def test_toml_tasks_and_a_missing_keyword(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    path.write_text(
        '[[tasks]]\nname = "t"\ndescription = "d"\n[tasks.fields]\n'
        'question = "q"\noptions = "choices"\nanswer = "a"\n'
    )
    with pytest.raises(PluginError, match=r"tasks.toml, task 't': needs subject \(missing\)"):
        load_tasks(path, "gsp_pkg")


def test_new_plugin_installs_passes_its_checks_and_runs_offline(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package installs without network, passes the check it ships (check_plugin: its
    rows, and every prompt run offline on mock models) and validate; a broken row fails.
    (tests/test_readme_plugin.py runs a YAML plugin through `genspec run`.)"""
    from genspec.errors import ConfigError
    from genspec.plugins import registry
    from genspec.scaffold import write_plugin

    made = genspec("new-plugin", "agri_tech", cwd=workdir)
    assert made.returncode == 0, made.stderr
    root = workdir / "genspec-agri-tech"
    target = workdir / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(root)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    installed = target / "genspec_agri_tech"
    assert (installed / "tasks.yaml").exists() and (installed / "corpus").is_dir()
    monkeypatch.syspath_prepend(str(target))
    registry.cache_clear()
    try:
        own_test = runpy.run_path(str(root / "tests" / "test_plugin.py"))
        own_test["test_plugin_passes_genspec_checks"]()  # the test the package ships
        lines: list[str] = []
        validate_command(["domain=agri_tech"], lines.append)
        assert lines[-1] == "All 2 task(s) valid (sample data)."
        data = installed / "data" / "agri_tech_quiz" / "test.jsonl"
        data.write_text(data.read_text().replace('"answer": 1}', '"answer": 9}', 1))
        with pytest.raises(DataError, match="1 error"):
            validate_command(["domain=agri_tech"], lines.append)
        assert "test.jsonl line 1: field 'answer' answer 9 is out of range" in "\n".join(lines)
    finally:
        registry.cache_clear()
        for name in [m for m in sys.modules if m.startswith("genspec_agri_tech")]:
            del sys.modules[name]
    with pytest.raises(ConfigError, match="already exists"):
        write_plugin("agri_tech", workdir)
    with pytest.raises(ConfigError, match="cannot name a package"):
        write_plugin("Agri-Tech", workdir)


NO_DEV = """
import genspec
from genspec.toolkit import choice_fields, multiple_choice_task

@genspec.hookimpl
def genspec_tasks():
    return [multiple_choice_task(
        name="nodev_quiz", domain="nodev", package="gsp_test_nodev_data", description="d",
        subject="s", fields=choice_fields(question="q", options="choices", answer="a"),
    )]
"""


def test_few_shot_without_dev_items_is_refused(site: Path) -> None:
    from genspec.config.schema import ModelSpec, RosterConfig, RunConfig
    from genspec.engine import prepare
    from genspec.plugins import registry

    fake_distribution(site, "gsp-nodev", "nodev", "gsp_test_nodev", NO_DEV)
    data = site / "gsp_test_nodev_data" / "data" / "nodev_quiz"
    data.mkdir(parents=True)
    (site / "gsp_test_nodev_data" / "__init__.py").write_text("")
    _write(data / "test.jsonl", [{"q": "Q?", "choices": ["a", "b"], "a": 0}])
    model = ModelSpec(name="a", id="mock-a", role="generalist", backend="mock")
    roster = RosterConfig(models=[model])
    registry.cache_clear()
    try:
        prepare(RunConfig(domain="nodev", roster=roster))  # zero-shot needs no dev items
        with pytest.raises(DataError, match=r"no dev items for the 3 few-shot examples"):
            prepare(RunConfig(domain="nodev", roster=roster, prompt="few_shot"))
    finally:
        registry.cache_clear()
        sys.modules.pop("gsp_test_nodev_data", None)


def test_list_never_cuts_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from genspec import listing

    out = io.StringIO()
    monkeypatch.setattr(listing, "console", Console(file=out, width=80, force_terminal=True))
    listing.show_tasks("legal")
    listing.show_rosters(None)
    text = out.getvalue()
    assert "personal_jurisdiction" in text and "nguha/legalbench" in text
    assert "…" not in text
    assert "smoke" in text and "True" not in text
    piped = genspec("list", "tasks", cwd=REPO)
    line = next(x for x in piped.stdout.splitlines() if "\tpersonal_jurisdiction\t" in x)
    assert line.split("\t")[3] == "nguha/legalbench [test]"


def test_help_keeps_whole_command_descriptions() -> None:
    shown = genspec("--help", cwd=REPO, env={"COLUMNS": "80"})
    assert "..." not in shown.stdout.partition("Commands:")[2]
    assert "from runs stored in MLflow." in " ".join(shown.stdout.split())


def test_plain_progress_lines_have_own_clocks_and_etas() -> None:
    from genspec.console import BarProgress

    out, now = io.StringIO(), [0.0]
    progress = BarProgress(out=Console(file=out, width=80), clock=lambda: now[0], every=10)
    with progress:
        progress.start("m · first", 4)
        progress.start("m · second", 2)  # added up front, starts later
        progress.advance("m · first", 0)  # none of its answers were cached
        for _ in range(4):
            now[0] += 6
            progress.advance("m · first")
        now[0] += 100
        progress.advance("m · second")
        now[0] += 3
        progress.advance("m · second")
    assert out.getvalue().splitlines() == [
        "m · first: started, 4 items",
        "m · first: 2/4 (50%), 0:12 elapsed, ETA 0:12",
        "m · first: 4/4 done in 0:24",
        "m · second: 1/2 (50%), 0:00 elapsed, ETA 0:00",
        "m · second: 2/2 done in 0:03",
    ]
