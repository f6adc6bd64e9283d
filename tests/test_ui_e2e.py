"""The MLflow UI, seen: ``genspec ui`` opened in headless Chromium shows the parent run,
its nested model runs, the per-example table and the plots.

Skipped unless Python's ``playwright`` (``pip install "genspec[ui-test]"``) and a
Chromium (``apt-get install chromium``, or ``playwright install chromium``) are present.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, free_port, wait_healthy, write_roster
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
        process.wait(timeout=30)


def test_ui_shows_runs_tables_and_plots(workdir: Path, ui: str, browser: Any) -> None:
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    args = ["run", "domain=legal", "tasks=[hearsay]", "roster=dry", "limit=3"]
    result = CliRunner().invoke(cli, [*args, "--config-dir", str(conf)])
    assert result.exit_code == 0, result.output
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("genspec-legal").experiment_id
    runs = client.search_runs([experiment])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    child = next(r for r in runs if r.info.run_name == "generalist-a")

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(WAIT_MS)
    # the experiment's runs: the parent, and its model runs once expanded
    page.goto(f"{ui}/#/experiments/{experiment}/runs")
    row = page.locator("[role=row]").filter(has_text=parent.info.run_name).first
    row.wait_for()
    row.locator("button[data-component-id*=runnamecellrenderer]").first.click()
    for model in MOCK_MODELS:
        page.get_by_text(model["name"], exact=True).first.wait_for()
    # a model run's per-example table
    page.goto(f"{ui}/#/experiments/{experiment}/runs/{child.info.run_id}/artifacts")
    page.get_by_text("examples", exact=True).first.click()
    page.get_by_text("hearsay.json", exact=True).first.click()
    page.get_by_text("raw_output", exact=True).first.wait_for()
    page.get_by_text("The answer is", exact=False).first.wait_for()
    # the parent's plots, shown as images
    page.goto(f"{ui}/#/experiments/{experiment}/runs/{parent.info.run_id}/artifacts")
    page.get_by_text("plots", exact=True).first.click()
    page.get_by_text("forest.png", exact=True).first.click()
    # the plot itself is drawn: an image as wide as the logged PNG
    png = Path(client.download_artifacts(parent.info.run_id, "plots/forest.png", str(workdir)))
    width = int.from_bytes(png.read_bytes()[16:20], "big")
    page.wait_for_function(
        "w => [...document.images].some(i => i.complete && i.naturalWidth === w)", arg=width
    )
