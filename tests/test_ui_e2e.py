"""The MLflow UI, seen: ``genspec ui`` opened in headless Chromium answers "who won?"
and shows every wrong answer. The parent run's page shows the verdict and the smoke
label; the runs list has the verdict's metrics; a model run's Traces tab marks a wrong
answer False and opens it; the experiment opens on its runs and nested model runs; a
per-example table and a plot render. Screenshots of each view go to
``$GENSPEC_UI_SHOTS`` (default ``.genspec/ui-shots/``) for review.

Skipped unless Python's ``playwright`` (``pip install "genspec[ui-test]"``) and a
Chromium (``apt-get install chromium``, or ``playwright install chromium``) are present.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, REPO, free_port, wait_healthy, write_roster
from genspec.cli import cli

sync_api = pytest.importorskip("playwright.sync_api", reason='needs "genspec[ui-test]"')
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM = next((path for name in BROWSERS if (path := shutil.which(name))), None)
WAIT_MS = 120_000  # the UI's first page load compiles a large bundle: slow on a busy machine


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
        except Exception as error:  # no browser playwright can drive
            pytest.skip(f"no headless Chromium: {str(error).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture
def ui(workdir: Path) -> Iterator[str]:
    """``genspec ui`` on the test's store, stopped with everything it started."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "genspec.cli", "ui", "--port", str(port)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the mlflow server it starts too
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)  # its workers take ~16 s to exit, longer under load
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _shot(page: Any, name: str) -> None:
    """A screenshot for review, in $GENSPEC_UI_SHOTS (default .genspec/ui-shots/)."""
    folder = Path(os.environ.get("GENSPEC_UI_SHOTS", REPO / ".genspec" / "ui-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


@dataclass(frozen=True)
class Logged:
    """The run the browser looks at, read from the store: the parent, the model run with
    the most wrong answers, one of its wrong answers and that answer's trace, the model
    run on the other side of the claim and its trace of the same item."""

    experiment: str
    parent: Any
    child: Any
    wrong: dict[str, Any]
    trace_id: str
    other: Any
    other_trace_id: str
    forest_width: int


def _logged(workdir: Path) -> Logged:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("genspec-legal").experiment_id
    runs = client.search_runs([experiment])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    child = min(runs, key=lambda r: r.data.metrics.get("hearsay.accuracy", 2.0))
    examples = client.download_artifacts(child.info.run_id, "examples/hearsay.json", str(workdir))
    document = json.loads(Path(examples).read_text(encoding="utf-8"))
    rows = [dict(zip(document["columns"], row, strict=True)) for row in document["data"]]
    wrong = next(row for row in rows if row["correct"] == 0.0)
    # the other side of the claim: the specialist against a generalist, and vice versa
    side = "specialist" if child.data.tags["genspec.role"] == "generalist" else "generalist"
    other = next(r for r in runs if r.data.tags.get("genspec.role") == side)

    def trace_of(run: Any) -> str:
        traces = client.search_traces(locations=[experiment], run_id=run.info.run_id)
        item = str(wrong["example_id"])
        return next(t.info.trace_id for t in traces if t.info.tags["genspec.item"] == item)

    png = Path(client.download_artifacts(parent.info.run_id, "plots/forest.png", str(workdir)))
    width = int.from_bytes(png.read_bytes()[16:20], "big")
    return Logged(experiment, parent, child, wrong, trace_of(child), other, trace_of(other), width)


def test_ui_answers_who_won_and_shows_wrong_answers(workdir: Path, ui: str, browser: Any) -> None:
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS, smoke=True)
    args = ["run", "domain=legal", "tasks=[hearsay]", "roster=dry", "limit=4"]
    result = CliRunner().invoke(cli, [*args, "--config-dir", str(conf)])
    assert result.exit_code == 0, result.output
    logged = _logged(workdir)
    page = browser.new_page(viewport={"width": 1920, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    try:
        _browse(page, f"{ui}/#/experiments/{logged.experiment}", logged)
    except Exception:
        _shot(page, "failed")
        raise


def _open(page: Any, url: str) -> None:
    """Load ``url`` afresh: moving from one run's artifacts to another's within the page
    shows "No Artifacts Recorded" in MLflow 3.17's UI."""
    page.goto("about:blank")
    page.goto(url)


def _browse(page: Any, experiment: str, logged: Logged) -> None:
    parent, child = logged.parent, logged.child
    verdict = parent.data.tags["genspec.verdict"].upper()
    # the parent run's page: its name and description give the verdict and the smoke label
    page.goto(f"{experiment}/runs/{parent.info.run_id}")
    page.get_by_text(f"{verdict} (smoke) · legal", exact=False).first.wait_for()
    page.get_by_text(f"Verdict · legal: {verdict}", exact=False).first.wait_for()
    page.get_by_text("Smoke run on tiny bundled", exact=False).first.wait_for()
    _shot(page, "1-parent-run")
    # the runs list (GenAI view: "Evaluation runs") has the verdict's metrics as columns
    page.goto(f"{experiment}/evaluation-runs")
    page.get_by_text("verdict.difference", exact=True).first.wait_for()
    page.get_by_text(parent.info.run_name, exact=True).first.wait_for()
    _shot(page, "2-runs-list")
    # the model run's traces: a wrong answer is marked False beside its gold answer;
    # opening it shows the whole prompt (not in the table) and the raw answer
    page.goto(f"{experiment}/runs/{child.info.run_id}/traces")
    page.get_by_text("expected_answer", exact=False).first.wait_for()
    page.get_by_text("False", exact=True).first.wait_for()
    _shot(page, "3-model-traces")
    # "compare to" another model's run: its answer to the same item on the same row
    page.get_by_text("baseline run", exact=True).last.click()
    page.get_by_role("option", name=logged.other.info.run_name).first.click()
    page.get_by_text(logged.other_trace_id[:10], exact=False).first.wait_for()
    _shot(page, "3b-compare-runs")
    page.get_by_text(logged.trace_id[:10], exact=False).first.click()
    trace = page.get_by_role("dialog").first
    trace.get_by_text(logged.wrong["prompt"][-30:], exact=False).first.wait_for()
    trace.get_by_text(logged.wrong["raw_output"], exact=False).first.wait_for()
    _shot(page, "4-wrong-answer")
    # the parent's plots, shown as images: one as wide as the logged PNG is drawn
    _open(page, f"{experiment}/runs/{parent.info.run_id}/artifacts")
    page.get_by_text("plots", exact=True).first.click()
    page.get_by_text("forest.png", exact=True).first.click()
    page.wait_for_function(
        "w => [...document.images].some(i => i.complete && i.naturalWidth === w)",
        arg=logged.forest_width,
    )
    _shot(page, "5-plot")
    # a model run's per-example table
    _open(page, f"{experiment}/runs/{child.info.run_id}/artifacts")
    page.get_by_text("examples", exact=True).first.click()
    page.get_by_text("hearsay.json", exact=True).first.click()
    page.get_by_text("raw_output", exact=True).first.wait_for()
    page.get_by_text("The answer is", exact=False).first.wait_for()
    _shot(page, "6-examples")
    # the experiment opened on its runs (the "Model training" view), model runs nested
    page.goto(f"{experiment}?workflowType=machine_learning")
    row = page.locator("[role=row]").filter(has_text=parent.info.run_name).first
    row.wait_for()
    row.locator("button[data-component-id*=runnamecellrenderer]").first.click()
    for model in MOCK_MODELS:
        page.get_by_text(model["name"], exact=True).first.wait_for()
    _shot(page, "7-experiment-runs")
