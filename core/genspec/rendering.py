"""The evidence as text: Markdown for ``verdict.md`` and the report, and the cells of
the comparison tables that :mod:`genspec.console` draws in the terminal.

Formatting lives here and nowhere else: the numbers come from
:mod:`genspec.evidence` records, unchanged, and the same helpers print them in the
Markdown, the terminal and the verdict's reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from genspec.axes.render import markdown as axes_markdown
from genspec.evidence import (
    GENERALIST_VS_SPECIALIST,
    POOLED,
    SPECIALIST_VS_BASE,
    CrossDomainVerdict,
    DomainEvidence,
    ModelTaskSummary,
    TaskEstimate,
)
from genspec.formats import ci_text, level, p_text, pct, pp
from genspec.stats.verdict import Verdict

SMOKE_LABEL = (
    "Smoke run on tiny bundled or stand-in models: it checks the pipeline and is not "
    "evidence about the claim."
)


def _share(count: int | None, n: int) -> str:
    return "—" if count is None or not n else f"{100 * count / n:.0f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


# --- one domain ------------------------------------------------------------------------


def accuracy_markdown(summaries: Sequence[ModelTaskSummary], domain: str) -> str:
    """Each model's score per task with its 95% interval and invalid rate (percent)."""
    rows = [
        [s.task, s.model, s.role, str(s.n), pct(s.score), ci_range(s.ci_low, s.ci_high),
         pct(s.invalid_rate)]
        for s in summaries
    ]  # fmt: skip
    headers = ["task", "model", "role", "n", "score %", "95% CI %", "invalid %"]
    return "\n".join([f"### Results · {domain}", "", *_table(headers, rows)]).rstrip()


def ci_range(low: float | None, high: float | None) -> str:
    """A score interval in percent ("61.2–70.4")."""
    return "—" if low is None or high is None else f"{pct(low)}–{pct(high)}"


def domain_markdown(evidence: DomainEvidence) -> str:
    """``verdict.md``: the verdict, comparison tables, choices, reported numbers, notes."""
    lines = markdown_head(evidence)
    for kind in (GENERALIST_VS_SPECIALIST, SPECIALIST_VS_BASE):
        table = comparison_table(evidence, kind)
        if table is not None:
            lines += [f"### {table.title}", "", table.legend, ""]
            lines += _table(list(table.headers), [list(row) for row in table.rows])
    lines += markdown_tail(evidence)
    if evidence.axes:  # the axes beside accuracy
        lines += axes_markdown(evidence)
    return "\n".join(lines).rstrip() + "\n"


def registration(plan_sha256: str | None) -> str:
    """ "pre-registered" with the plan's short hash, or "not pre-registered"."""
    return f"pre-registered (plan {plan_sha256[:12]})" if plan_sha256 else "not pre-registered"


def markdown_head(evidence: DomainEvidence) -> list[str]:
    """Markdown lines: the verdict, whether it was pre-registered, the smoke label and
    the reason."""
    lines = [
        f"## Verdict · {evidence.domain}: **{evidence.verdict.value.upper()}** "
        f"({registration(evidence.plan_sha256)})",
        "",
    ]
    if evidence.smoke:
        lines += [f"> {SMOKE_LABEL}", ""]
    return [*lines, _sentence(evidence.reason), ""]


def markdown_tail(evidence: DomainEvidence) -> list[str]:
    """Markdown lines: how each side was chosen, published numbers and notes.

    A choice that is the same for every task (one model per role) is listed once.
    """
    lines: list[str] = []
    if evidence.choices:
        lines += ["### How each side was chosen (never on the test items)", ""]
        grouped: dict[tuple[str, str | None, str, str], list[str]] = {}
        for c in evidence.choices:
            grouped.setdefault((c.role, c.model, c.method, c.detail), []).append(c.task)
        tasks = {c.task for c in evidence.choices}
        for (role, model, method, detail), where in grouped.items():
            scope = "every task" if len(tasks) > 1 and set(where) == tasks else ", ".join(where)
            lines.append(f"- {scope} · {role}: {model or '—'} ({method}: {detail})")
        lines.append("")
    if evidence.reported:
        lines += ["### Published numbers (reported, not tested)", ""]
        lines += _table(
            ["model", "task", "role", "score %", "source"],
            [[r.model, r.task, r.role, pct(r.score), r.source] for r in evidence.reported],
        )
    if evidence.notes:
        lines += ["### Notes", "", *[f"- {note}" for note in evidence.notes], ""]
    return lines


# --- across domains --------------------------------------------------------------------


def cross_markdown(verdict: CrossDomainVerdict) -> str:
    """The cross-domain verdict and one line per domain."""
    lines = [f"## Across domains: **{verdict.verdict.value.upper()}**", ""]
    if verdict.smoke:
        lines += [f"> {SMOKE_LABEL}", ""]
    lines += [_sentence(verdict.reason), ""]
    lines += _table(
        [
            "domain",
            "verdict",
            "k",
            "n",
            "generalist − specialist (pp)",
            f"{level(verdict.alpha)} CI",
            "p",
            "smoke",
            "plan",
        ],
        [
            [
                d.domain,
                d.verdict.value,
                "—" if d.tasks is None else str(d.tasks),
                "—" if d.n is None else str(d.n),
                pp(d.difference),
                ci_text(d.ci_low, d.ci_high),
                p_text(d.p_value),
                "yes" if d.smoke else "no",
                "yes" if d.plan_sha256 else "no",
            ]
            for d in verdict.domains
        ],
    )
    lines += [
        "k: the domain's tasks (three or more: the figure is the task-level estimate; one "
        "or two: the items pooled). plan: the domain's run was pre-registered.",
        "",
    ]
    return "\n".join(lines).rstrip() + "\n"


# --- comparison tables -----------------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    title: str
    side_a: str
    side_b: str
    words: Mapping[Verdict, str]  # how a verdict reads in this table


_SECTIONS = {
    GENERALIST_VS_SPECIALIST: _Section(
        "Generalist vs specialist",
        "generalist",
        "specialist",
        {
            Verdict.HOLDS: "holds",
            Verdict.FAILS: "fails",
            Verdict.EQUIVALENT: "equivalent",
            Verdict.INCONCLUSIVE: "inconclusive",
        },
    ),
    SPECIALIST_VS_BASE: _Section(
        "Specialist vs its base model",
        "specialist",
        "base",
        {
            Verdict.HOLDS: "specialist better",
            Verdict.FAILS: "base better",
            Verdict.EQUIVALENT: "equivalent",
            Verdict.INCONCLUSIVE: "inconclusive",
        },
    ),
}
_SHORT_HEADERS = {"diff (pp)": "diff pp", "p adj.": "p adj", "MDE (pp)": "MDE pp"}
_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


@dataclass(frozen=True)
class ComparisonTable:
    """One kind of comparison as text cells, for Markdown here and rich in the terminal."""

    title: str
    legend: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def comparison_table(
    evidence: DomainEvidence, kind: str, compact: bool = False
) -> ComparisonTable | None:
    """The per-task and pooled rows of one kind of comparison (None when there are none).

    ``compact`` leaves out what an 80-column terminal cannot fit and the results table
    and choice list already show (model names, their scores, the test's name); the
    Markdown and MLflow copies keep every column.
    """
    rows = [c for c in evidence.comparisons if c.kind == kind]
    if not rows:
        return None
    section = _SECTIONS[kind]
    a, b = section.side_a, section.side_b
    legend = (
        f"Difference = {a} − {b} in percentage points, on paired items; p adjusted across "
        f"tasks ({_CORRECTION_NAMES[evidence.correction]}); α = {evidence.alpha}. "
        "MDE: the smallest difference the test detects with 80% power (exact power). "
        f"Equivalent: the two one-sided tests (TOST p) place the difference within "
        f"±{margin_text(evidence.margin)} points. "
        "(items pooled): the family's items as one sample; (task-level): the average of k "
        "tasks, which the domain verdict rests on; (random effects, RE): DerSimonian–Laird "
        "with the Hartung–Knapp interval." + _heterogeneity(evidence, kind)
    )
    if not compact:
        legend += " Differ: items the two models answered differently."
    else:  # no room for that column in 80 columns: the pooled share, in words
        legend += "".join(
            f" {c.model_a} and {c.model_b} answered {_share(c.disagree, c.result.n)}% of the "
            f"{c.result.n} items differently."
            for c in evidence.pooled
            if c.kind == kind == SPECIALIST_VS_BASE and c.disagree is not None
        )
    full = ("task", a, b, "n", f"{a} %", f"{b} %", "diff (pp)", f"{level(evidence.alpha)} CI",
            "test", "p", "p adj.", "TOST p", "MDE (pp)", "differ %", "verdict")  # fmt: skip
    cells = []
    for row in [*rows, *(c for c in evidence.pooled if c.kind == kind)]:
        pooled = row.task == POOLED
        label = ("(items)" if compact else "(items pooled)") if pooled else row.task
        cells.append(
            (
                f"**{label}**" if pooled and not compact else label,
                row.model_a,
                row.model_b,
                str(row.result.n),
                pct(row.result.score_a),
                pct(row.result.score_b),
                pp(row.result.difference),
                ci_text(row.result.ci_low, row.result.ci_high),
                row.result.test,
                p_text(row.result.p_value),
                "—" if pooled else p_text(row.p_adjusted),
                p_text(row.tost_p),
                pct(row.mde),
                _share(row.disagree, row.result.n),
                section.words[row.verdict],
            )
        )
        if pooled and row.estimate is not None:
            cells += _task_level_rows(row.estimate, len(full), evidence, kind, compact)
    keep = range(len(full))
    headers = full
    if compact:
        dropped = {a, b, f"{a} %", f"{b} %", "test", "differ %", "TOST p"}
        keep = [i for i, header in enumerate(full) if header not in dropped]
        headers = tuple(_SHORT_HEADERS.get(h, h) for h in full)
    return ComparisonTable(
        section.title,
        legend,
        tuple(headers[i] for i in keep),
        tuple(tuple(row[i] for i in keep) for row in cells),
    )


def margin_text(margin: float | None) -> str:
    """The equivalence margin in points ("—" in a document from before margins)."""
    return "—" if margin is None else f"{100 * margin:g}"


def _task_level_rows(
    estimate: TaskEstimate, width: int, evidence: DomainEvidence, kind: str, compact: bool
) -> list[tuple[str, ...]]:
    """The task-level (equal weight) and random-effects rows under a pooled row: the
    domain verdict's own figure, then the random-effects one beside it (short labels
    in 80 columns: "(tasks)", "(RE)")."""
    verdict = _SECTIONS[kind].words[evidence.verdict] if kind == GENERALIST_VS_SPECIALIST else "—"
    rows = []
    labels = ("(tasks)", "(RE)") if compact else ("(task-level)", "(random effects)")
    for label, pooled, test, word in (
        (labels[0], estimate.equal_weight, f"equal weight, t({estimate.k - 1})", verdict),
        (labels[1], estimate.random_effects.pooled, estimate.random_effects.method, "—"),
    ):
        cells = ["—"] * width
        cells[0], cells[3] = label, f"k={estimate.k}" if compact else f"{estimate.k} tasks"
        cells[6], cells[7] = pp(pooled.estimate), ci_text(pooled.ci_low, pooled.ci_high)
        cells[8], cells[9], cells[-1] = test, p_text(pooled.p_value), word
        rows.append(tuple(cells))
    return rows if estimate.k >= 2 else rows[:1]


def _heterogeneity(evidence: DomainEvidence, kind: str) -> str:
    """Q, I², τ², the prediction interval and the repeated items, in words."""
    pooled = next((c for c in evidence.pooled if c.kind == kind and c.estimate), None)
    if pooled is None or pooled.estimate is None:
        return ""
    estimate = pooled.estimate
    spread = estimate.random_effects
    text = ""
    if estimate.k >= 2:
        text += (
            f" Between tasks: Q = {spread.q:.1f} (p {p_text(spread.q_p_value)}), "
            f"I² = {100 * spread.i2:.0f}%, τ² = {spread.tau2:.4f}"
        )
        if spread.prediction_low is not None and spread.prediction_high is not None:
            text += (
                "; 95% prediction interval for a new task "
                f"{ci_text(spread.prediction_low, spread.prediction_high)}"
            )
        text += "."
    if estimate.k <= 2:
        text += (
            f" Only {estimate.k} task(s): an interval over tasks says little, so the domain "
            "verdict is what every task says, and it speaks for these benchmarks only."
        )
    if estimate.repeated:
        text += f" {estimate.repeated} repeated item(s) were left out of the pooled rows."
    return text
