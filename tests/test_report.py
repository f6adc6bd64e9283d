"""`genspec report`: the cross-domain verdict read back from a real MLflow store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MOCK_MODELS, free_port, write_roster
from genspec.cli import cli


def test_a_multirun_over_domains_ends_with_the_cross_domain_verdict(workdir: Path) -> None:
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    args = ["run", "-m", "domain=medical,legal", "roster=dry", "limit=4", "--config-dir", str(conf)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = result.output[result.output.rindex("Across domains") :]
    assert "legal" in summary and "medical" in summary and "genspec report" in summary

    one_domain = CliRunner().invoke(cli, [*args[:2], "domain=finance", "seed=1,2", *args[3:]])
    assert one_domain.exit_code == 0, one_domain.output
    assert "Across domains" not in one_domain.output  # no cross-domain question to answer


def test_report_reads_every_domain_back_in_each_format(workdir: Path) -> None:
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    runner = CliRunner()
    for domain in ("medical", "finance", "legal"):
        result = runner.invoke(
            cli, ["run", f"domain={domain}", "roster=dry", "limit=5", "--config-dir", str(conf)]
        )
        assert result.exit_code == 0, result.output

    as_json = runner.invoke(cli, ["report", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert {d["domain"] for d in document["domains"]} == {"medical", "finance", "legal"}
    assert document["cross_domain"]["verdict"] in {"holds", "fails", "inconclusive"}
    assert len(document["cross_domain"]["domains"]) == 3

    as_csv = runner.invoke(cli, ["report", "--format", "csv", "--domain", "legal"])
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert rows and {r["domain"] for r in rows} == {"legal"}
    assert {"generalist_vs_specialist", "specialist_vs_base"} <= {r["kind"] for r in rows}

    plots = workdir / "plots"
    as_md = runner.invoke(cli, ["report", "--format", "markdown", "--plots", str(plots)])
    assert "Across domains" in as_md.output
    pngs = sorted(p.name for p in plots.glob("*.png"))
    assert pngs == [
        "accuracy-finance.png",
        "accuracy-legal.png",
        "accuracy-medical.png",
        "forest.png",
    ]
    assert all((plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in pngs)


def test_report_without_runs_says_what_to_do(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["report"])
    assert result.exit_code != 0
    assert "No genspec runs" in result.output and "Traceback" not in result.output


def test_report_on_a_store_that_does_not_exist_creates_none(workdir: Path) -> None:
    missing = workdir / "typo" / "mlflow.db"
    result = CliRunner().invoke(cli, ["report", "--uri", f"sqlite:///{missing}"])
    assert result.exit_code == 2
    assert f"no MLflow store at sqlite:///{missing} ({missing} does not exist)" in result.output
    assert not missing.parent.exists()


@pytest.mark.parametrize("uri", ["bogus://x", "http://127.0.0.1:{port}/"])
def test_report_on_an_unusable_store_is_one_line(workdir: Path, uri: str) -> None:
    result = CliRunner().invoke(cli, ["report", "--uri", uri.format(port=free_port())])
    assert result.exit_code == 2
    assert result.output.startswith("error: Cannot ") and "--uri" in result.output
    assert result.output.count("\n") == 1 and isinstance(result.exception, SystemExit)


def test_plots_to_a_folder_that_cannot_be_made_is_one_line_before_the_report(
    workdir: Path,
) -> None:
    conf = write_roster(workdir / "conf", "dry", MOCK_MODELS)
    run = CliRunner().invoke(
        cli, ["run", "domain=legal", "roster=dry", "limit=3", "--config-dir", str(conf)]
    )
    assert run.exit_code == 0, run.output
    (workdir / "a-file").write_text("")
    result = CliRunner().invoke(cli, ["report", "--plots", str(workdir / "a-file" / "plots")])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: --plots {workdir / 'a-file' / 'plots'}: cannot")
