"""Nothing leaked (issue 20): credentials in URLs and, under ``tracking.examples=none``,
any per-example text, searched for in every byte genspec leaves behind (the MLflow
store, its artifacts, the outbox and Hydra's multirun folders)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, free_port, write_roster
from genspec.cli import cli

SECRET = "hunter2-in-the-url"
KEY = "sk-query-key-7731"


def left_behind(workdir: Path) -> bytes:
    """Every byte under the working folder but the answer cache (which holds prompts by
    design) and the test's own inputs."""
    skip = ("cache", "conf", "data")
    files = [
        p for p in workdir.rglob("*") if p.is_file() and p.relative_to(workdir).parts[0] not in skip
    ]
    assert files
    return b"\n".join(p.read_bytes() for p in files)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_credentials_in_urls_are_masked_in_the_terminal_outbox_store_and_multirun(
    workdir: Path,
) -> None:
    models = [dict(m) for m in MOCK_MODELS]
    models[0]["params"] = {
        "api_base": f"http://bob:{SECRET}@api.example.org/v1?api_key={KEY}&deployment=d1"
    }
    conf = write_roster(workdir / "conf", "dry", models)
    uri = f"http://alice:{SECRET}@127.0.0.1:{free_port()}"  # nothing listens: outbox
    args = ["domain=medical", "tasks=[medqa]", "roster=dry", "limit=2", f"tracking.uri={uri}"]
    output = invoke("run", *args, "--config-dir", str(conf))
    output += invoke("run", "-m", *args, "--config-dir", str(conf))
    assert "could not be reached" in output and "http://***@127.0.0.1" in output
    kept = [p for p in (workdir / ".genspec" / "outbox").iterdir() if p.name != ".pending"]
    assert len(kept) == 2
    assert list((workdir / ".genspec" / "multirun").rglob("multirun.yaml"))

    # the record keeps a masked URI: sync asks for the full one instead of guessing
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code != 0 and "needs its credentials" in result.output
    invoke("sync", "--uri", f"sqlite:///{workdir / 'mlflow.db'}")  # uploads both
    stored = left_behind(workdir)
    assert SECRET not in output and KEY not in output
    assert SECRET.encode() not in stored and KEY.encode() not in stored
    assert b"http://***@api.example.org/v1?api_key=***&deployment=d1" in stored


def _fragments(domain: str) -> list[str]:
    """Texts of every bundled test item of the domain's tasks: case text, options and
    free-text gold answers (a ddx diagnosis)."""
    from genspec.config.schema import DataConfig
    from genspec.data import load_task_data, provides
    from genspec.plugins import registry

    texts: list[str] = []
    for task in registry().tasks_for(domain):
        if not provides("sample", task):  # licensed data: no bundled sample to run
            continue
        for example in load_task_data(task, DataConfig()).test:
            case = " ".join((example.context or example.question).split())
            texts.append(case[:60])
            texts += [c for c in example.choices if len(c) >= 25]
            texts += [r for refs in example.references.values() for r in refs if len(r) >= 12]
    return [t for t in texts if len(t) >= 12]


def _answers(workdir: Path) -> list[str]:
    """The raw answers the models gave in this folder's runs (read from the cache)."""
    with sqlite3.connect(workdir / "cache" / "responses.sqlite") as db:
        rows = db.execute("SELECT response FROM responses").fetchall()
    texts = [json.loads(raw).get("text") or "" for (raw,) in rows]
    return [t for t in texts if len(t) >= 12]


@pytest.mark.parametrize("domain", ["medical", "finance", "legal"])
def test_none_stores_no_per_example_text_for_any_bundled_task(workdir: Path, domain: str) -> None:
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    args = [f"domain={domain}", "roster=dry", "limit=4", "--config-dir", str(conf)]
    invoke("run", *args, "tracking.examples=none")
    fragments = _fragments(domain)
    answers = _answers(workdir)
    assert len(fragments) >= 30 and answers  # mock models answer in words
    stored = left_behind(workdir)
    assert [f for f in fragments + answers if f.encode() in stored] == []
    if domain == "medical":  # the search finds such text when it is stored
        invoke("run", *args, "tracking.examples=full")
        stored = left_behind(workdir)
        assert sum(f.encode() in stored for f in fragments) >= 4  # 4 items of each task


def test_a_relative_data_dir_is_masked_as_a_path_not_as_a_word(tmp_path: Path) -> None:
    from genspec.tracking.redact import hide_data_dir

    document = {
        "data": {"dir": "quispe", "source": "local"},
        "origin": "local file quispe/medqa.jsonl",
        "resolved": f"{Path.cwd()}/quispe/dev.jsonl",
        "note": "quispeño and data_source stay",
    }
    assert hide_data_dir(document, "none", "quispe") == {
        "data": {"dir": "<DATA_DIR>", "source": "local"},
        "origin": "local file <DATA_DIR>/medqa.jsonl",
        "resolved": "<DATA_DIR>/dev.jsonl",
        "note": "quispeño and data_source stay",
    }
    assert hide_data_dir(document, "full", "quispe") == document
