"""Plots are written as real PNG files, headless."""

from __future__ import annotations

from pathlib import Path

from test_evidence import ROSTER, table

from genspec.analysis import compare, summarize
from genspec.evidence import ReportedRow
from genspec.plots import accuracy_plot, forest_plot
from genspec.results import to_frame

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(path: Path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE


def test_forest_and_accuracy_plots_are_png_files(tmp_path: Path) -> None:
    frame = to_frame(table({"gen": 0.8, "spec": 0.6, "base": 0.5}, n=40))
    evidences = [
        compare(frame, ROSTER, domain="medical", smoke=True),
        compare(frame, ROSTER, domain="legal"),
    ]
    forest = forest_plot(evidences, tmp_path / "plots" / "forest.png")
    reported = [ReportedRow("Med-PaLM 2", "qa", 0.86, "generalist", "paper")]
    accuracy = accuracy_plot(summarize(frame), tmp_path / "accuracy.png", reported)
    assert forest == tmp_path / "plots" / "forest.png"
    assert is_png(forest) and is_png(accuracy)


def test_plots_with_nothing_to_show_still_write_a_png(tmp_path: Path) -> None:
    assert is_png(forest_plot([], tmp_path / "forest.png"))
    assert is_png(accuracy_plot([], tmp_path / "accuracy.png"))
