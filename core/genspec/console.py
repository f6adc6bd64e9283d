"""Terminal output: progress bars while the engine works, tables after."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBar
from rich.table import Table

from genspec.engine import Progress

console = Console(stderr=False, highlight=False)
errors = Console(stderr=True, highlight=False)


def error_line(message: str) -> None:
    """The one line a user sees for a problem they can fix (no traceback).

    The message is plain text, escaped: rich would take ``genspec[slurm]`` or
    ``tasks=[medqa]`` for markup and print ``genspec`` and ``tasks=``.
    """
    errors.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def warning_line(message: str) -> None:
    errors.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


LINE_EVERY_S = 15.0  # plain progress: at most one line per bar this often


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@dataclass
class _Count:
    """One bar's state for plain progress lines."""

    total: int
    done: int = 0
    started: float | None = None
    shown: float = -math.inf

    def line(self, key: str, now: float) -> str:
        elapsed = now - (self.started if self.started is not None else now)
        if self.done >= self.total:
            return f"{key}: {self.done}/{self.total} done in {_clock(elapsed)}"
        if not self.done:  # the cache was asked and had none of the answers
            return f"{key}: started, {self.total} items"
        left = elapsed / self.done * (self.total - self.done)
        return (
            f"{key}: {self.done}/{self.total} ({100 * self.done / self.total:.0f}%), "
            f"{_clock(elapsed)} elapsed, ETA {_clock(left)}"
        )


class BarProgress(Progress):
    """The run's progress per model × task: live bars on a terminal, plain lines into a
    pipe or log file (redrawn bars grew a long run's log to 36 MB).

    The engine adds every bar up front, so a bar's clock starts with its first answer,
    not with the run: elapsed time and ETA are the task's own. Plain lines come at
    most every ``every`` seconds per bar, plus one when a bar completes.
    """

    def __init__(
        self,
        out: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = LINE_EVERY_S,
    ) -> None:
        self.out = out or console
        self.clock, self.every = clock, every
        self.bar: RichBar | None = None
        if self.out.is_terminal:
            self.bar = RichBar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.out,
            )
        self._ids: dict[str, Any] = {}
        self._counts: dict[str, _Count] = {}

    def __enter__(self) -> BarProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, key: str, total: int) -> None:
        if self.bar is not None:
            self._ids[key] = self.bar.add_task(key, total=total, start=False)
        self._counts[key] = _Count(total)

    def advance(self, key: str, n: int = 1) -> None:
        count, now = self._counts[key], self.clock()
        if count.started is None:
            count.started = now
            if self.bar is not None:
                self.bar.start_task(self._ids[key])
        count.done += n
        if self.bar is not None:
            self.bar.advance(self._ids[key], n)
        elif count.done >= count.total or now - count.shown >= self.every:
            count.shown = now
            self.out.print(count.line(key, now), markup=False, highlight=False, soft_wrap=True)

    def status(self, message: str) -> None:
        self.out.print(f"[dim]{escape(message)}[/]", soft_wrap=True)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _compact_table(title: str) -> Table:
    """A table that fits 80 columns: light rules, no cell wrapping."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )


def results_table(
    summaries: Iterable[Any], title: str, chance: Mapping[str, float] | None = None
) -> Table:
    """Score with its interval and invalid rate per model × task; the ``err`` column
    (failed calls) appears only when some call failed, so the table fits 80 columns.
    ``chance`` (task → chance level) adds a caption naming it and any model below it."""
    summaries = list(summaries)
    columns = ["task", "model", "role", "n", "score %", "95% CI", "inv. %"]
    if any(s.errors for s in summaries):
        columns.append("err")
    table = _compact_table(title)
    for column in columns:
        justify = "left" if column in ("task", "model", "role") else "right"
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for s in summaries:
        cells = [
            s.task,
            s.model,
            s.role,
            str(s.n),
            _pct(s.score),
            f"{_pct(s.ci_low)}–{_pct(s.ci_high)}",
            _pct(s.invalid_rate),
            str(s.errors),
        ]
        table.add_row(*cells[: len(columns)])
    if chance:
        from genspec.chance import chance_caption

        table.caption, table.caption_justify = chance_caption(summaries, chance), "left"
    return table


def category_table(summaries: Iterable[Any], title: str) -> Table:
    """One task's scores per category, with its secondary metrics (ddx top1, top5...).

    A row without a category is the task's overall line ("all"). No interval column:
    with a handful of items per category it would span most of 0–100 and push three
    metric columns past 80 columns; MLflow and results.json have the intervals.
    """
    summaries = list(summaries)
    metric_names = list(dict.fromkeys(name for s in summaries for name in s.metrics))
    table = _compact_table(title)
    for column in ("category", "model", "n", "score %", *(f"{m} %" for m in metric_names)):
        justify = "left" if column in ("category", "model") else "right"
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for s in summaries:
        table.add_row(
            s.category or "all",
            s.model,
            str(s.n),
            _pct(s.score),
            *(_pct(s.metrics.get(name)) for name in metric_names),
        )
    return table


def _dollars(value: float) -> str:
    """Cents for run-sized sums; four decimals for what a short trial run costs."""
    return f"{value:,.2f}" if value >= 1 else f"{value:.4f}"


def cost_table(costs: Iterable[Any], title: str) -> Table | None:
    """Tokens, dollars and accuracy per dollar per priced model (None when none is).

    A table of its own rather than columns of the results table: with the paper
    roster's task and model names the results table already fills 80 columns.
    """
    costs = list(costs)
    if not costs:
        return None
    table = _compact_table(title)
    bases = ", ".join(sorted({c.basis for c in costs}))
    table.caption = (
        f"Test items. Priced by: {bases} (litellm's cost map, the roster's declared price, "
        "or answer time × gpu_usd_per_hour). paid: answers not from the cache. "
        "acc/$: accuracy (0–1) per dollar. $/ok: dollars per correct answer."
    )
    table.caption_justify = "left"
    for column in ("model", "tokens in", "out", "cost $", "paid $", "score %", "acc/$", "$/ok"):
        table.add_column(column, justify="left" if column == "model" else "right", no_wrap=True)
    for c in costs:
        per_dollar = c.accuracy_per_usd
        table.add_row(
            c.model,
            f"{c.input_tokens:,}",
            f"{c.output_tokens:,}",
            _dollars(c.cost_usd),
            _dollars(c.paid_usd),
            _pct(c.accuracy),
            "–" if per_dollar is None else f"{per_dollar:.3g}",
            "–" if c.usd_per_correct is None else _dollars(c.usd_per_correct),
        )
    return table


def evidence_view(evidence: Any) -> RenderableType:
    """The verdict for the terminal: Markdown prose around compact comparison tables."""
    from genspec.evidence import GENERALIST_VS_SPECIALIST, SPECIALIST_VS_BASE
    from genspec.rendering import comparison_table, markdown_head, markdown_tail

    parts: list[RenderableType] = [Markdown("\n".join(markdown_head(evidence)))]
    for kind in (GENERALIST_VS_SPECIALIST, SPECIALIST_VS_BASE):
        data = comparison_table(evidence, kind, compact=True)
        if data is None:
            continue
        table = _compact_table(data.title)
        table.caption, table.caption_justify = data.legend, "left"
        for header in data.headers:
            table.add_column(header, justify="left" if header == "task" else "right", no_wrap=True)
        for row in data.rows:
            table.add_row(*row)
        parts.append(table)
    tail = markdown_tail(evidence)
    if tail:
        parts.append(Markdown("\n".join(tail)))
    return Group(*parts)
