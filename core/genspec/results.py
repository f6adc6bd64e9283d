"""The per-example results table: one row per (task, example, model).

This is the single record every later part reads: statistics, tracking, the report.
Rows are plain dataclasses; :func:`to_frame` gives the pandas view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from genspec.config.schema import ModelSpec


@dataclass(frozen=True)
class ExampleResult:
    task: str
    example_id: str
    model: str
    role: str
    prediction: str  # the chosen option letter / label, "" when invalid
    gold: str
    correct: float  # 1.0 / 0.0 for choice tasks; a task metric in [0, 1] otherwise
    invalid: bool  # the answer could not be parsed (counted apart from wrong answers)
    category: str
    prompt: str
    raw_output: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_s: float
    cached: bool
    error: str | None
    split: str = "test"
    template: str = ""
    # secondary per-item scores (e.g. ddx top1/top5) and text kept for review: the
    # item's kept fields (an explanation) and the judge's rationale, when there is one
    metrics: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # what the provider says answered (API models): a changed value under the same
    # model name shows the model drifted between runs
    provider_model: str | None = None
    system_fingerprint: str | None = None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ExampleResult))


def to_frame(rows: Sequence[ExampleResult]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([asdict(r) for r in rows], columns=list(COLUMNS))


@dataclass(frozen=True)
class ModelCost:
    """What one model's test items cost, and on what basis (``PRICE_BASES``).

    ``paid_usd`` is the part this run paid for (answers not from the cache), so a
    resumed or repeated run shows it did not pay twice; ``accuracy_per_usd`` is the
    test accuracy divided by the cost of all its test items, and ``usd_per_correct``
    that cost over the items answered correctly: the figure that compares a cheap
    weak model with a dear strong one.
    """

    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    paid_usd: float
    accuracy: float | None
    accuracy_per_usd: float | None
    basis: str = "provider"
    usd_per_correct: float | None = None


#: provider: litellm's cost map; declared: the roster's price_in/price_out (US$ per
#: million tokens, for served models litellm has no price for); gpu time: measured
#: answer time × ``gpu_usd_per_hour`` (local models)
PRICE_BASES = ("provider", "declared", "gpu time")


def model_costs(
    frame: pd.DataFrame,
    models: Sequence[ModelSpec] = (),
    gpu_usd_per_hour: float | None = None,
) -> list[ModelCost]:
    """One :class:`ModelCost` per model that has a price, on the test split.

    A model is priced by its provider's answers, else by its declared price per million
    tokens, else (a local model, with ``gpu_usd_per_hour`` set) by its measured answer
    time. Models with none of these are left out rather than shown as free, so accuracy
    per dollar is never infinite.
    """
    by_name = {m.name: m for m in models}
    test = frame[frame["split"] == "test"]
    costs = []
    for model, rows in test.groupby("model", sort=False):
        priced = _priced(rows, by_name.get(str(model)), gpu_usd_per_hour)
        if priced is None:
            continue
        basis, per_row = priced
        answered = rows[rows["error"].isna()]
        accuracy = float(answered["correct"].mean()) if len(answered) else None
        cost = float(per_row.sum())
        correct = float(answered["correct"].sum())
        costs.append(
            ModelCost(
                model=str(model),
                input_tokens=int(rows["input_tokens"].sum()),
                output_tokens=int(rows["output_tokens"].sum()),
                cost_usd=cost,
                paid_usd=float(per_row[~rows["cached"]].sum()),
                accuracy=accuracy,
                accuracy_per_usd=accuracy / cost if accuracy is not None and cost > 0 else None,
                basis=basis,
                usd_per_correct=cost / correct if correct > 0 else None,
            )
        )
    return costs


def _priced(
    rows: pd.DataFrame, model: ModelSpec | None, gpu_usd_per_hour: float | None
) -> tuple[str, pd.Series] | None:
    """Each row's cost and the basis it was priced on, or None when nothing prices it."""
    if rows["cost_usd"].notna().any():
        return "provider", rows["cost_usd"].fillna(0.0)
    if model is not None and (model.price_in is not None or model.price_out is not None):
        per_token_in, per_token_out = (model.price_in or 0.0) / 1e6, (model.price_out or 0.0) / 1e6
        return "declared", rows["input_tokens"] * per_token_in + rows[
            "output_tokens"
        ] * per_token_out
    if model is not None and gpu_usd_per_hour is not None and model.backend != "litellm":
        return "gpu time", rows["latency_s"].fillna(0.0) * gpu_usd_per_hour / 3600
    return None


def failed_calls(frame: pd.DataFrame) -> list[str]:
    """One line per model whose calls failed: how many, and the most common error.

    The results table only counts failures; the message is what tells a user whether
    to wait (rate limits) or to fix something (a context window, a server).
    """
    failed = frame[frame["error"].notna()]
    lines = []
    for model, rows in failed.groupby("model", sort=False):
        top, times = _most_common_error(rows)
        total = int((frame["model"] == model).sum())
        lines.append(
            f"model '{model}': {len(rows)} of {total} calls failed (left out of n); "
            f"most often ({times}×): {top}. Failed calls are not cached: the same "
            "command retries them."
        )
    return lines


def unanswered(frame: pd.DataFrame) -> str | None:
    """The line that fails a run in which some model answered nothing at all.

    Such a run has no evidence about that model; ending it with exit code 0 (and an
    INCONCLUSIVE verdict) would pass for a finished run in a script or a CI job.
    """
    lines = []
    for model, rows in frame.groupby("model", sort=False):
        if rows["error"].notna().all():
            top, _ = _most_common_error(rows)
            lines.append(f"model '{model}' gave no answer: all {len(rows)} calls failed ({top})")
    if not lines:
        return None
    return (
        "; ".join(lines) + ". Fix the model's settings (see the error), then run the same "
        "command again (answers so far are cached)."
    )


def _most_common_error(rows: pd.DataFrame) -> tuple[str, int]:
    """The most frequent error of ``rows`` (cut to 200 characters) and how often it came."""
    messages = rows["error"].value_counts()
    top, times = str(messages.index[0]), int(messages.iloc[0])
    return (top if len(top) <= 200 else top[:199] + "…"), times
