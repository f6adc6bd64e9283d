"""The axes' metrics as pure functions of small vectors (tested against hand-computed values).

Calibration follows HELM (Liang et al. 2022): a model's confidence is the probability
it gives its own answer; the Brier score is the mean squared gap between that
confidence and the 0/1 outcome; the expected calibration error (ECE) bins items by
confidence into ``bins`` equal-mass bins (each about n/bins items, ordered by
confidence) and averages |accuracy − mean confidence| weighted by bin size. Equal-mass
bins are used because a model's confidences crowd near 1: equal-width bins would leave
most bins empty and the estimate would rest on one or two of them.

Selective prediction follows Geifman & El-Yaniv (2017): items are answered in order of
confidence, and the risk at coverage k/n is the error rate of the first k; the area
under that risk-coverage curve (AURC) is the mean of those n risks. Items of equal
confidence have no order, so the expected risk over their random orders is used.

Min-K% probability (Shi et al. 2023) is the mean log-probability of the k% least
likely tokens of a text: text seen in training has fewer very unlikely tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

ECE_BINS = 10
CONFIDENT = 0.8  # a wrong answer given with at least this confidence is "confidently wrong"
MIN_K = 0.2  # Min-K%: the 20% least likely tokens (Shi et al.'s best setting)


def _pair(confidence: ArrayLike, correct: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p, y = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(
            f"confidence and correct must be 1-d of one length: {p.shape} vs {y.shape}"
        )
    if p.size and (np.any(p < 0) | np.any(p > 1) | ~np.all(np.isfinite(p))):
        raise ValueError("confidences must be probabilities in [0, 1]")
    return p, y


def softmax(logprobs: Sequence[float]) -> list[float]:
    """Option log-likelihoods as probabilities over the options (they sum to 1)."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def brier(confidence: ArrayLike, correct: ArrayLike) -> float:
    """Mean of (confidence − correct)²: 0 is perfect, 0.25 is always saying 50%."""
    p, y = _pair(confidence, correct)
    return float(np.mean((p - y) ** 2)) if p.size else math.nan


@dataclass(frozen=True)
class Bin:
    """One equal-mass bin of a reliability diagram."""

    n: int
    confidence: float  # mean confidence of its items
    accuracy: float  # share of them answered correctly


def reliability_bins(confidence: ArrayLike, correct: ArrayLike, bins: int = ECE_BINS) -> list[Bin]:
    """Items sorted by confidence and cut into ``bins`` runs of equal size (the first
    ``n % bins`` one item larger); fewer items than bins gives one bin per item."""
    p, y = _pair(confidence, correct)
    order = np.argsort(p, kind="stable")
    return [
        Bin(int(part.size), float(p[part].mean()), float(y[part].mean()))
        for part in np.array_split(order, min(bins, p.size))
        if part.size
    ]


def ece(confidence: ArrayLike, correct: ArrayLike, bins: int = ECE_BINS) -> float:
    """Expected calibration error over equal-mass bins: Σ (n_b / n) |acc_b − conf_b|."""
    parts = reliability_bins(confidence, correct, bins)
    n = sum(b.n for b in parts)
    return sum(b.n / n * abs(b.accuracy - b.confidence) for b in parts) if n else math.nan


def confident_wrong_rate(
    confidence: ArrayLike, correct: ArrayLike, threshold: float = CONFIDENT
) -> float:
    """Share of all items answered wrongly with confidence ≥ ``threshold``: the
    plausible-sounding but incorrect answer, as a number."""
    p, y = _pair(confidence, correct)
    return float(np.mean((p >= threshold) & (y < 1))) if p.size else math.nan


def selective(answered: ArrayLike, correct: ArrayLike) -> tuple[float, float]:
    """(coverage, selective accuracy): the share of items answered, and the accuracy on
    those (NaN when nothing was answered)."""
    a, y = np.asarray(answered, dtype=bool), np.asarray(correct, dtype=float)
    if not a.size:
        return math.nan, math.nan
    coverage = float(a.mean())
    return coverage, float(y[a].mean()) if a.any() else math.nan


def aurc(confidence: ArrayLike, correct: ArrayLike) -> float:
    """Area under the risk-coverage curve: mean over k = 1..n of the error rate of the
    k most confident items, ties taken in expectation over their order."""
    p, y = _pair(confidence, correct)
    n = p.size
    if not n:
        return math.nan
    errors_before, covered, total = 0.0, 0, 0.0
    for level in sorted(set(p.tolist()), reverse=True):
        group = p == level
        size, rate = int(group.sum()), float(1 - y[group].mean())
        for j in range(1, size + 1):
            total += (errors_before + j * rate) / (covered + j)
        errors_before += size * rate
        covered += size
    return total / n


def min_k_prob(token_logprobs: Sequence[float], k: float = MIN_K) -> float:
    """Mean log-probability of the ``ceil(k·n)`` least likely tokens (at least one)."""
    if not token_logprobs:
        return math.nan
    count = max(1, math.ceil(k * len(token_logprobs)))
    return float(np.mean(sorted(token_logprobs)[:count]))
