"""ROUGE-L against the reference answer: a judge-free number beside the panel's grade.

A task graded against a reference answer (a clinical note section, an analyst's answer)
is scored by the judge panel; ROUGE-L is reported beside it (``rouge_l`` per item and
per category) because it needs no judge: it cannot be swayed by a judge's taste or
disagree with itself, so where the panel splits, a reader still has a fixed yardstick.
It rewards word overlap, not correctness, which is why it is never the compared score.

Computed as ``rouge-score`` computes ROUGE-L without stemming (Lin, 2004): lower-cased
alphanumeric tokens, the longest common subsequence of the two token lists, and the F1
of its precision (over the answer) and recall (over the reference). The tests check it
against ``rouge-score`` itself.
"""

from __future__ import annotations

import re

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
ROUGE_L = "rouge_l"


def tokens(text: str) -> list[str]:
    """Lower-cased runs of letters and digits (``rouge-score``'s default tokenizer)."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _lcs(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, one row of the table at a time."""
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[-1]))
        previous = current
    return previous[-1]


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F1 of ``answer`` against ``reference`` (0 when either has no words)."""
    said, wanted = tokens(answer), tokens(reference)
    common = _lcs(said, wanted) if said and wanted else 0
    if common == 0:
        return 0.0
    precision, recall = common / len(said), common / len(wanted)
    return 2 * precision * recall / (precision + recall)
