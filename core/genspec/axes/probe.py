"""The engine's hook for the axes: the extra requests of one model on one task.

The engine lends a :class:`Probe`: the run's own request builder and answer reader
for the task (same template, shots and scoring method as the accuracy run), and its
way of asking the model, which goes through the answer cache. Every variant request
(stated confidence, "I don't know", a perturbed item, a guessing probe) is therefore
cached like any other, and a rerun makes no calls. The original items' answers are
asked again through the same path: they come from the run's memory or the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from genspec.axes import metrics
from genspec.axes.perturbations import OPTION_ORDER, Perturbation, seeded, shift_options
from genspec.axes.records import (
    ABSTENTION,
    CALIBRATION,
    CONTAMINATION,
    MIN_K_PROB,
    OPTION_PROBABILITIES,
    ROBUSTNESS,
    STATED_CONFIDENCE,
    TS_GUESSING,
    UNCHANGED,
    AxisItem,
)
from genspec.axes.variants import (
    abstention_item,
    abstention_request,
    exact_guess,
    guessing_probe,
    read_confidence,
    says_abstain,
    with_confidence,
)
from genspec.config.schema import ModelSpec
from genspec.prompting import answer_text
from genspec.requests import LoglikRequest, Request, Response, TokensRequest
from genspec.task import LETTERS, Example, Judgement, Task, TaskKind

NO_CONFIDENCE = "no stated confidence"
NO_PROBABILITIES = "no option probabilities"
NOTHING_TO_HIDE = "no wrong option to hide"


@dataclass(frozen=True)
class Probe:
    """What the engine lends the axes for one model on one task's test items."""

    model: ModelSpec
    task: Task
    examples: Sequence[Example]
    seed: int
    request: Callable[[Example], Request]  # the run's request for an item
    judge: Callable[[Example, Request, Response], Judgement]  # the run's reading of an answer
    ask: Callable[[Sequence[Request], str], list[Response]]  # through the answer cache
    start: Callable[[str, int], None]  # opens a progress bar
    perturbations: Sequence[Perturbation]
    bar: str  # "model · task"
    token_logprobs: bool = False  # the backend returns per-token log-probabilities

    def answers(self, axis: str, requests: Sequence[Request]) -> list[Response]:
        bar = f"{self.bar} · {axis}"
        self.start(bar, len(requests))
        return self.ask(requests, bar)

    def item(self, axis: str, example: Example, score: float, **fields: object) -> AxisItem:
        return AxisItem(
            axis=axis,
            task=self.task.name,
            example_id=example.id,
            model=self.model.name,
            role=self.model.role.value,
            score=score,
            **fields,  # type: ignore[arg-type]
        )


def measure(axes: Collection[str], probe: Probe) -> list[AxisItem]:
    """Every requested axis's items for this model and task (accuracy needs none)."""
    steps = {
        CALIBRATION: calibration,
        ABSTENTION: abstention,
        ROBUSTNESS: robustness,
        CONTAMINATION: contamination,
    }
    return [item for axis, step in steps.items() if axis in axes for item in step(probe)]


def _confidence(
    probe: Probe, example: Example, request: Request, response: Response
) -> tuple[Judgement, float | None, str]:
    """The answer's judgement, its confidence and how that was obtained."""
    if isinstance(request, LoglikRequest):
        judgement = probe.judge(example, request, response)
        if judgement.invalid or not response.logprobs:
            return judgement, None, OPTION_PROBABILITIES
        return judgement, max(metrics.softmax(response.logprobs)), OPTION_PROBABILITIES
    text, confidence = read_confidence(response.text or "")
    return (
        probe.judge(example, request, replace(response, text=text)),
        confidence,
        STATED_CONFIDENCE,
    )


def calibration(probe: Probe) -> list[AxisItem]:
    """Confidence against correctness: option probabilities where the model scores by
    log-likelihood (the run's own answers, no new call), else a stated confidence."""
    requests = [probe.request(ex) for ex in probe.examples]
    requests = [r if isinstance(r, LoglikRequest) else with_confidence(r) for r in requests]
    items = []
    for ex, req, resp in zip(
        probe.examples, requests, probe.answers(CALIBRATION, requests), strict=True
    ):
        judgement, confidence, method = _confidence(probe, ex, req, resp)
        missing = resp.error or (
            (NO_PROBABILITIES if method == OPTION_PROBABILITIES else NO_CONFIDENCE)
            if confidence is None
            else None
        )
        p = confidence if confidence is not None else 0.0
        items.append(
            probe.item(
                CALIBRATION,
                ex,
                1 - (p - judgement.correct) ** 2,
                correct=judgement.correct,
                confidence=confidence,
                method=method,
                error=missing,
            )
        )
    return items


def abstention(probe: Probe) -> list[AxisItem]:
    """The item with "I don't know" allowed: right 1, abstained ½, wrong 0."""
    kind = probe.task.kind
    variants = [abstention_item(kind, ex) for ex in probe.examples]
    requests = [abstention_request(kind, v, probe.request(v)) for v in variants]
    items = []
    for ex, req, resp in zip(variants, requests, probe.answers(ABSTENTION, requests), strict=True):
        judgement, confidence, method = _confidence(probe, ex, req, resp)
        idk = answer_text(kind, ex, len(ex.choices) - 1) if kind.has_choices else None
        text = read_confidence(resp.text or "")[0]
        abstained = judgement.prediction == idk or (resp.text is not None and says_abstain(text))
        correct = 0.0 if abstained else judgement.correct
        items.append(
            probe.item(
                ABSTENTION,
                ex,
                0.5 if abstained else correct,
                correct=correct,
                confidence=confidence,
                abstained=abstained,
                method=method,
                error=resp.error,
            )
        )
    return items


def _chosen(kind: TaskKind, example: Example, judgement: Judgement) -> str:
    """The text of the option a multiple-choice answer picked ("" when invalid)."""
    letter = judgement.prediction
    if kind is not TaskKind.MULTIPLE_CHOICE or len(letter) != 1 or letter not in LETTERS:
        return ""
    index = LETTERS.index(letter)
    return example.choices[index] if index < len(example.choices) else ""


def _originals(probe: Probe) -> list[tuple[Judgement, Response]]:
    """The unperturbed items as the run answered them (memory or cache: no new call)."""
    requests = [probe.request(ex) for ex in probe.examples]
    responses = probe.answers(f"{ROBUSTNESS} · original", requests)
    return [
        (probe.judge(ex, req, resp), resp)
        for ex, req, resp in zip(probe.examples, requests, responses, strict=True)
    ]


def kept(after: float, before: float) -> float:
    """Robustness's per-item score: ½(1 + after − before), 1 a gain, ½ no change, 0 a loss."""
    return (1 + after - before) / 2


def robustness(probe: Probe) -> list[AxisItem]:
    """Each perturbation's items, scored paired against the original answer."""
    originals = _originals(probe)
    items = []
    if probe.task.kind is TaskKind.MULTIPLE_CHOICE:
        items += _option_order(probe, originals)
    else:  # labels or free answers: no option order to shift, counted as unchanged
        axis = f"{ROBUSTNESS}:{OPTION_ORDER}"
        items += [probe.item(axis, ex, 0.0, error=UNCHANGED) for ex in probe.examples]
    for perturbation in probe.perturbations:
        items += _perturbed(probe, perturbation, originals)
    return items


def _perturbed(
    probe: Probe, perturbation: Perturbation, originals: Sequence[tuple[Judgement, Response]]
) -> list[AxisItem]:
    axis = f"{ROBUSTNESS}:{perturbation.name}"
    changed = [
        perturbation.apply(ex, seeded(probe.seed, perturbation.name, ex.id))
        for ex in probe.examples
    ]
    todo = [i for i, (ex, new) in enumerate(zip(probe.examples, changed, strict=True)) if ex != new]
    requests = [probe.request(changed[i]) for i in todo]
    answered = dict(
        zip(todo, zip(requests, probe.answers(axis, requests), strict=True), strict=True)
    )
    items = []
    for i, ex in enumerate(probe.examples):
        (before, original) = originals[i]
        if i not in answered:
            items.append(probe.item(axis, ex, 0.0, error=UNCHANGED))
            continue
        request, response = answered[i]
        after = probe.judge(changed[i], request, response)
        error = original.error or response.error
        items.append(
            probe.item(
                axis,
                ex,
                kept(after.correct, before.correct),
                correct=after.correct,
                original=before.correct,
                error=error,
            )
        )
    return items


def _option_order(probe: Probe, originals: Sequence[tuple[Judgement, Response]]) -> list[AxisItem]:
    """Every cyclic shift of the options; the item's score is its mean correctness over
    the shifts minus the original's, and it is consistent when every shift picks the
    same option text as the original."""
    axis = f"{ROBUSTNESS}:{OPTION_ORDER}"
    kind = probe.task.kind
    shifted = [[shift_options(ex, k) for k in range(1, len(ex.choices))] for ex in probe.examples]
    flat = [s for shifts in shifted for s in shifts]
    requests = [probe.request(s) for s in flat]
    replies = iter(zip(flat, requests, probe.answers(axis, requests), strict=True))
    items = []
    for ex, shifts, (before, original) in zip(probe.examples, shifted, originals, strict=True):
        answers = [next(replies) for _ in shifts]
        judged = [probe.judge(s, req, resp) for s, req, resp in answers]
        if not judged:
            items.append(probe.item(axis, ex, 0.0, error=UNCHANGED))
            continue
        error = original.error or next((resp.error for _, _, resp in answers if resp.error), None)
        mean = sum(j.correct for j in judged) / len(judged)
        picks = {_chosen(kind, s, j) for (s, _, _), j in zip(answers, judged, strict=True)}
        first = _chosen(kind, ex, before)
        items.append(
            probe.item(
                axis,
                ex,
                kept(mean, before.correct),
                correct=mean,
                original=before.correct,
                consistent=bool(first) and picks == {first},
                error=error,
            )
        )
    return items


def contamination(probe: Probe) -> list[AxisItem]:
    """Min-K% probability of each item's text where the backend gives token
    log-probabilities, else TS-Guessing."""
    return min_k(probe) if probe.token_logprobs else ts_guessing(probe)


def min_k(probe: Probe) -> list[AxisItem]:
    """Min-K% probability (Shi et al. 2023) of each item's context and question."""
    texts = [f"{ex.context}\n\n{ex.question}".strip() for ex in probe.examples]
    replies = probe.answers(CONTAMINATION, [TokensRequest(text) for text in texts])
    items = []
    for ex, reply in zip(probe.examples, replies, strict=True):
        logprobs = reply.logprobs or ()
        error = reply.error or (None if logprobs else "no token log-probabilities")
        score = metrics.min_k_prob(logprobs) if logprobs else 0.0
        items.append(probe.item(CONTAMINATION, ex, score, method=MIN_K_PROB, error=error))
    return items


def ts_guessing(probe: Probe) -> list[AxisItem]:
    """TS-Guessing: a hidden wrong option written exactly counts 1 (any model that can
    generate); an item with nothing to hide is counted, not dropped."""
    probes = [
        guessing_probe(probe.task.kind, ex, seeded(probe.seed, TS_GUESSING, ex.id))
        for ex in probe.examples
    ]
    todo = [i for i, p in enumerate(probes) if p is not None]
    requests: list[Request] = [probes[i][0] for i in todo]  # type: ignore[index]
    replies = dict(zip(todo, probe.answers(CONTAMINATION, requests), strict=True))
    items = []
    for i, ex in enumerate(probe.examples):
        if i not in replies:
            items.append(
                probe.item(CONTAMINATION, ex, 0.0, method=TS_GUESSING, error=NOTHING_TO_HIDE)
            )
            continue
        reply, hidden = replies[i], probes[i][1]  # type: ignore[index]
        hit = float(exact_guess(reply.text or "", hidden)) if not reply.error else 0.0
        items.append(
            probe.item(CONTAMINATION, ex, hit, correct=hit, method=TS_GUESSING, error=reply.error)
        )
    return items
