"""Chance level beside every score: computed per task from its items' option counts,
named in the terminal's results table, drawn in the accuracy plot, and models below
it flagged."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from genspec.chance import below_chance, chance_caption, chance_levels
from genspec.console import results_table
from genspec.evidence import ModelTaskSummary
from genspec.plots import accuracy_plot


def _task(name: str, *option_counts: int) -> SimpleNamespace:
    examples = [SimpleNamespace(choices=tuple("x" * n)) for n in option_counts]
    return SimpleNamespace(task=SimpleNamespace(name=name), examples=examples)


def _summary(model: str, task: str, score: float, category: str = "") -> ModelTaskSummary:
    return ModelTaskSummary(
        model=model, role="generalist", task=task, n=10, score=score, ci_low=score - 0.1,
        ci_high=min(1.0, score + 0.1), invalid_rate=0.0, errors=0, category=category,
    )  # fmt: skip


def test_chance_level_is_the_mean_of_one_over_options() -> None:
    levels = chance_levels([_task("mcq", 4, 4), _task("mixed", 4, 2), _task("free", 0)])
    assert levels == {"mcq": 0.25, "mixed": 0.375}  # free text has no chance level


def test_models_below_chance_are_named() -> None:
    levels = {"mcq": 0.25, "yesno": 0.5}
    summaries = [
        _summary("good", "mcq", 0.6),
        _summary("bad", "mcq", 0.2),
        _summary("bad", "mcq", 0.1, category="cardiology"),  # categories are not flagged
        _summary("bad", "yesno", 0.5),  # at chance is not below it
    ]
    assert [(s.model, s.task) for s in below_chance(summaries, levels)] == [("bad", "mcq")]
    assert chance_caption(summaries, levels) == (
        "Chance: mcq 25%, yesno 50%. Below chance: bad on mcq (20.0%)."
    )
    assert chance_caption(summaries, {}) == ""


def test_results_table_names_chance_and_the_plot_draws_it(tmp_path: Path) -> None:
    summaries = [_summary("good", "mcq", 0.6), _summary("bad", "mcq", 0.2)]
    console = Console(width=80, record=True)
    console.print(results_table(summaries, "Results", {"mcq": 0.25}))
    assert "Chance: mcq 25%. Below chance: bad on mcq (20.0%)." in console.export_text()
    plain = accuracy_plot(summaries, tmp_path / "plain.png").read_bytes()
    drawn = accuracy_plot(summaries, tmp_path / "chance.png", chance={"mcq": 0.25}).read_bytes()
    assert plain != drawn
