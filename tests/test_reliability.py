"""Nothing lost, nothing leaked (issue 20): read-only and full folders (real mounts),
killed and concurrent first runs against a real SQLite store, hostile names and YAML,
and the smaller traps. Each test reproduces its failure with real parts."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_plugins import GOOD_TASK

from conftest import MOCK_MODELS, fake_distribution, free_port, genspec, tmpfs, write_roster
from genspec.cli import cli
from genspec.errors import ConfigError, DataError, StorageError

BILLION_LAUGHS = """\
name: lol
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
models: *i
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def one_error(output: str) -> str:
    """The single ``error:`` line of a run that stopped; no traceback."""
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in output, output
    return " ".join(output[output.index("error: ") :].split())


def answers_cached(workdir: Path) -> int:
    path = workdir / "cache" / "responses.sqlite"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


@pytest.fixture
def dry(workdir: Path) -> Path:
    return write_roster(workdir / "conf", "dry", MOCK_MODELS)


# --- item 2: read-only or full folders, found before any model call ------------------


def test_a_read_only_working_folder_stops_the_run_before_any_call(
    workdir: Path, dry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmpfs(workdir / "readonly", "size=1m", "ro") as readonly:
        monkeypatch.chdir(readonly)
        code, output = run("run", "domain=medical", "roster=dry", "--config-dir", str(dry))
        assert code == 2
        line = one_error(output)
        assert ".genspec/outbox cannot be written (Read-only file system)" in line
        assert "tracking.outbox" in line
        assert answers_cached(workdir) == 0  # no model was asked anything


def test_a_nearly_full_outbox_folder_stops_the_run_before_any_call(
    workdir: Path, dry: Path
) -> None:
    with tmpfs(workdir / "full", "size=2m") as full:
        code, output = run(
            "run", "domain=medical", "roster=dry", "--config-dir", str(dry),
            f"tracking.outbox={full}/outbox",
        )  # fmt: skip
        assert code == 2
        line = one_error(output)
        assert f"{full}/outbox is nearly full" in line and "KiB free" in line
        assert answers_cached(workdir) == 0


def test_an_outbox_record_that_cannot_be_written_whole_is_not_kept(tmp_path: Path) -> None:
    """A full disk in the middle of a record: no half record is left for sync to find."""
    from genspec.tracking.outbox import PENDING, Recorder, new_folder, waiting

    with tmpfs(tmp_path / "tiny", "size=64k") as outbox:
        recorder = Recorder(new_folder(outbox), "genspec-medical", "sqlite:///x.db")
        with recorder.start_run("parent"):
            recorder.log_text("small", "ok.txt")
            with pytest.raises(StorageError, match=r"No space left on device.*nothing half"):
                recorder.log_text("x" * 400_000, "big.txt")
        assert list((outbox / PENDING).iterdir()) == []
        assert waiting(outbox) == []


# --- items 3 and 4: a killed first run, two first runs at once ----------------------


@pytest.fixture(scope="module")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One complete MLflow store (building one takes ~10 s), copied by the tests."""
    from genspec.tracking.store import create_store

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    create_store(f"sqlite:///{path}")
    return path


def test_a_first_run_killed_while_building_the_store_leaves_none_and_two_build_it_once(
    tmp_path: Path,
) -> None:
    from genspec.tracking.store import store_problem

    db = tmp_path / "mlflow.db"
    build = [
        sys.executable,
        "-c",
        f"from genspec.tracking.store import create_store; create_store('sqlite:///{db}')",
    ]
    first = subprocess.Popen(build)
    try:
        deadline = time.monotonic() + 120
        aside = tmp_path / ".mlflow.db.creating"
        while not (aside.exists() and aside.stat().st_size > 0):
            assert first.poll() is None and time.monotonic() < deadline, "nothing was built"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # in the middle of MLflow's migrations
    finally:
        first.kill()
        first.wait()
    assert not db.exists()  # no half-built store: the next run builds a whole one

    both = [subprocess.Popen(build, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in both]  # type: ignore[union-attr]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    assert store_problem(db) is None


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("DELETE FROM alembic_version", "its migration did not finish"),
        ("DROP TABLE runs", "half built"),
    ],
)
def test_a_half_built_store_is_named_with_its_fix_never_unreachable(
    workdir: Path, dry: Path, built_store: Path, damage: str, named: str
) -> None:
    db = workdir / "mlflow.db"
    shutil.copyfile(built_store, db)
    with contextlib.closing(sqlite3.connect(db)) as connection:
        connection.execute(damage)
        connection.commit()
    for args in (
        ["run", "domain=medical", "roster=dry", "limit=2", "--config-dir", str(dry)],
        ["report"],
    ):
        code, output = run(*args)
        assert code == 2
        line = one_error(output)
        assert named in line and f"mv {db} {db}.broken" in line, line
        assert "reach" not in line
    assert answers_cached(workdir) == 0


def test_sync_to_a_half_built_store_says_how_to_fix_it(workdir: Path, built_store: Path) -> None:
    from genspec.tracking.outbox import Recorder, new_folder

    db = workdir / "mlflow.db"
    shutil.copyfile(built_store, db)
    with contextlib.closing(sqlite3.connect(db)) as connection:
        connection.execute("DROP TABLE metrics")
        connection.commit()
    outbox = workdir / ".genspec" / "outbox"
    recorder = Recorder(new_folder(outbox), "genspec-medical", f"sqlite:///{db}")
    with recorder.start_run("parent"):
        recorder.log_params({"domain": "medical"})
    folder = recorder.seal()
    folder.rename(outbox / folder.name)  # kept, as a run whose upload failed
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 2
    assert f"mv {db} {db}.broken" in one_error(result.output)
    assert (outbox / folder.name / "record.json").is_file()  # still kept


def test_report_on_an_empty_database_file_creates_nothing_and_says_so(workdir: Path) -> None:
    db = workdir / "mlflow.db"
    db.touch()
    result = genspec("report", cwd=workdir)
    assert result.returncode != 0
    assert "is an empty file, not an MLflow store yet" in result.stderr
    assert "INFO" not in result.stderr + result.stdout
    assert db.stat().st_size == 0


# --- item 5 and item 13: data checked at load ---------------------------------------


def _medqa_rows(ids: list[str]) -> str:
    rows = [
        {"id": i, "sent1": f"Question {n}?", **{f"ending{j}": f"o{j}" for j in range(4)}}
        | {"label": n % 4}
        for n, i in enumerate(ids)
    ]
    return "\n".join(json.dumps(r) for r in rows)


def test_repeated_ids_in_a_local_file_stop_the_run_before_any_call(
    workdir: Path, dry: Path
) -> None:
    data = workdir / "data"
    data.mkdir()
    (data / "medqa.jsonl").write_text(_medqa_rows(["q1", "q2", "q1", "q3", "q3", "q4"]))
    code, output = run(
        "run", "domain=medical", "tasks=[medqa]", "roster=dry", "data=local",
        f"data.dir={data}", "--config-dir", str(dry),
    )  # fmt: skip
    assert code == 2
    line = one_error(output)
    assert f"{data / 'medqa.jsonl'}: 2 example id(s) repeated (q1, q3)" in line
    assert answers_cached(workdir) == 0


def test_fiqa_items_that_share_an_id_are_keyed_by_id_and_target(tmp_path: Path) -> None:
    """FiQA-2018 task 1: id 49 is one row for AstraZeneca and one for Teva."""
    from genspec.config.schema import DataConfig
    from genspec.data import load_task_data
    from genspec.plugins import registry

    sentence = "AstraZeneca to buy Teva's respiratory unit"
    rows = [
        {"_id": "49", "sentence": sentence, "target": "AstraZeneca", "score": 0.4},
        {"_id": "49", "sentence": sentence, "target": "Teva", "score": -0.2},
        {"_id": "50", "sentence": "Shell slumps", "target": "Shell", "score": -0.6},
    ]
    (tmp_path / "fiqa_sa.jsonl").write_text(
        "\n".join(json.dumps(r | {"type": "headline"}) for r in rows)
    )
    task = registry().tasks["fiqa_sa"]
    data = load_task_data(task, DataConfig(source="local", dir=str(tmp_path)))
    assert [ex.id for ex in data.test] == ["49:AstraZeneca", "49:Teva", "50:Shell"]
    assert "keyed by _id and target" in task.description


def test_a_symlink_loop_is_named_as_such(tmp_path: Path) -> None:
    from genspec.config.schema import DataConfig
    from genspec.data import load_task_data
    from genspec.plugins import registry

    (tmp_path / "medqa.jsonl").symlink_to("medqa.jsonl")
    with pytest.raises(DataError, match=r"medqa.jsonl: a symbolic link loop"):
        load_task_data(registry().tasks["medqa"], DataConfig(source="local", dir=str(tmp_path)))


def test_a_null_or_empty_category_counts_under_none(tmp_path: Path) -> None:
    from genspec.config.schema import DataConfig
    from genspec.data import load_task_data
    from genspec.plugins import registry

    options = {"opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 0}
    rows = [
        {"id": "m1", "question": "Q1?", "subject_name": None, **options},
        {"id": "m2", "question": "Q2?", "subject_name": " ", **options},
        {"id": "m3", "question": "Q3?", "subject_name": "Anatomy", **options},
    ]
    (tmp_path / "medmcqa.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    data = load_task_data(
        registry().tasks["medmcqa"], DataConfig(source="local", dir=str(tmp_path))
    )
    assert [ex.category for ex in data.test] == ["(none)", "(none)", "Anatomy"]


def test_a_specialist_whose_base_is_itself_is_refused(tmp_path: Path) -> None:
    from genspec.config.compose import compose

    models = [MOCK_MODELS[0], {**MOCK_MODELS[1], "base": MOCK_MODELS[1]["name"]}]
    write_roster(tmp_path, "selfbase", models)
    with pytest.raises(ConfigError, match="'special-b' has itself as base"):
        compose(["roster=selfbase"], str(tmp_path))


# --- item 10: names that become paths ------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("gsp_test_")]:
        del sys.modules[name]


def test_a_task_name_that_is_a_path_is_refused_and_never_written(
    site: Path, tmp_path: Path
) -> None:
    from genspec.plugins import discover
    from genspec.tracking.outbox import Recorder

    hostile = "../../../../tmp/x/PWNED"
    source = GOOD_TASK.format(name=hostile, domain="agriculture")
    fake_distribution(site, "gsp-hostile", "hostile", "gsp_test_hostile", source)
    registry = discover()
    assert hostile not in registry.tasks
    assert any(f"task name '{hostile}' may hold only" in p for p in registry.problems)

    # and the record itself never writes outside its folder, whatever a name says
    recorder = Recorder(tmp_path / "outbox" / "r", "e", "sqlite:///x.db")
    with recorder.start_run("parent"), pytest.raises(StorageError, match="outside the run"):
        recorder.log_text("x", f"examples/{hostile}.json")
    assert not list(tmp_path.rglob("PWNED*"))


# --- item 11: YAML that expands without end ------------------------------------------


def test_a_billion_laughs_roster_is_refused_at_once(workdir: Path) -> None:
    conf = workdir / "conf" / "roster"
    conf.mkdir(parents=True)
    (conf / "lol.yaml").write_text(BILLION_LAUGHS)
    started = time.monotonic()
    listed = genspec("list", "rosters", "--config-dir", str(conf.parent), cwd=workdir)
    assert time.monotonic() - started < 30  # was: minutes, then out of memory
    assert listed.returncode == 2 and "aliases expand to more than" in listed.stderr
    code, output = run("run", "roster=lol", "--config-dir", str(conf.parent))
    assert code == 2 and "lol.yaml: its YAML aliases expand" in one_error(output)


# --- item 12: the UI on the network ---------------------------------------------------


def test_ui_on_a_network_host_warns_that_it_has_no_authentication(workdir: Path) -> None:
    command = [sys.executable, "-m", "genspec.cli", "ui", "--host", "0.0.0.0"]
    command += ["--port", str(free_port()), "--uri", f"sqlite:///{workdir / 'm.db'}"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=workdir)
    try:
        warning = process.stderr.readline()  # type: ignore[union-attr]
    finally:
        process.kill()
        process.wait()
    assert "has no authentication" in warning and "ssh -L" in warning
    assert "reverse proxy" in warning


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("192.168.1.9", False), ("example.org", False)],
)  # fmt: skip
def test_only_loopback_hosts_are_private(host: str, loopback: bool) -> None:
    from genspec.cli import _loopback

    assert _loopback(host) is loopback


def test_a_store_creation_lock_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    """The lock create_store takes: a second holder waits until the first lets go."""
    from genspec.tracking.store import _locked

    db = tmp_path / "mlflow.db"
    waiter = [
        sys.executable,
        "-c",
        f"from pathlib import Path; from genspec.tracking.store import _locked\n"
        f"with _locked(Path('{db}')): print('got it', flush=True)",
    ]
    with _locked(db):
        second = subprocess.Popen(waiter, stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert second.poll() is None  # still waiting for the lock
    assert second.communicate(timeout=60)[0] == "got it\n"
    assert os.path.exists(tmp_path / ".mlflow.db.lock")


# --- item 13: few-shot examples beyond the dev pool, prompts beyond the context ------


def test_shots_beyond_the_dev_pool_are_said_and_logged_as_used(workdir: Path, dry: Path) -> None:
    from mlflow.tracking import MlflowClient

    code, output = run(
        "run", "domain=medical", "tasks=[medqa]", "roster=dry", "limit=2",
        "prompt=few_shot", "shots=1000", "--config-dir", str(dry),
    )  # fmt: skip
    assert code == 0, output
    said = " ".join(output.split())
    assert (
        "1000 few-shot examples asked for, but it has 6 dev item(s): prompts hold at most 6" in said
    )
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    (parent,) = client.search_runs(
        [client.get_experiment_by_name("genspec-medical").experiment_id],
        filter_string="tags.genspec.domain = 'medical' and params.shots = '1000'",
    )[:1]
    assert parent.data.params["task.medqa.shots"] == "6"


def test_a_prompt_longer_than_the_context_window_is_found_before_it_is_sent() -> None:
    from genspec.config.schema import ModelSpec
    from genspec.prompt_size import oversize_warning
    from genspec.requests import GenerateRequest, Message

    def ask(text: str) -> GenerateRequest:
        return GenerateRequest(messages=(Message("user", text),))

    gpt4o = ModelSpec(name="gpt", id="openai/gpt-4o", role="generalist", backend="litellm")
    row = "revenue grew " * 80_000  # a 1 MB row: ~160k tokens, past gpt-4o's 128k
    note = oversize_warning(gpt4o, [ask("Short question?"), ask(row)])
    assert note is not None
    assert "'gpt': its largest prompt has" in note and "context window of 128,000" in note
    assert oversize_warning(gpt4o, [ask("Short question?"), ask(row[:200_000])]) is None
    unknown = gpt4o.model_copy(update={"id": "openai/our-local-model"})
    assert oversize_warning(unknown, [ask(row)]) is None  # litellm does not know it: no guess
