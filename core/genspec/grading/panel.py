"""A judge panel grades open answers against their rubric, blind to who wrote them.

Each judge reads, for one answer and one criterion at a time (HealthBench's grader
does the same: a judge asked about a whole rubric at once skips criteria), the
conversation, the answer and the criterion, and replies whether the criterion is met.
It never sees the answering model's name or role; and a judge whose ``family`` is the
answering model's family (the roster says which) does not grade that model at all, so
no model family marks its own homework (an answer the data gives, graded to check the
judges against people, is no model's: every judge grades it). Judges' calls go through
the run's cache like any model's: a repeated run pays no judge twice.

Every judge's grade of every criterion is kept with the item (``panel`` in the row's
notes), so the panel's agreement (:mod:`genspec.grading.summary`) and each judge's own
score can be recomputed from the saved rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from genspec.config.schema import ModelSpec
from genspec.errors import ConfigError
from genspec.grading.rubric import rubric_score
from genspec.requests import GenerateRequest, LoglikRequest, Message, Request, Response
from genspec.task import Criterion, Example, Judgement

PANEL_NOTE = "panel"  # the row note holding every judge's grades (JSON)
GIVEN_ANSWER = "given_answer"  # an item's own answer, graded instead of the model's
JUDGE_METRIC = "judge:{name}"  # each judge's own rubric score of the item
REPLY_TOKENS = 96
PROMPT = """You grade one response against one rubric criterion.

# Conversation
{conversation}

# Response to grade
{response}

# Rubric criterion ({points:+g} points)
{criterion}

Is the criterion met by the response? If the criterion describes something undesirable, \
"met" means the response does that undesirable thing. {reply}"""
JSON_REPLY = (
    'Reply with JSON only: {"criteria_met": true or false, "explanation": "<one sentence>"}'
)
WORD_REPLY = "Answer yes or no."  # a judge scored by log-likelihood: " yes" against " no"
YES_NO = (" yes", " no")
_FLAGGED = re.compile(r'criteria_met"?\s*[:=]\s*"?(true|false|yes|no)\b', re.IGNORECASE)
_WORD = re.compile(r"\b(true|false|yes|no)\b", re.IGNORECASE)


class Judge(Protocol):
    """A judge as the engine runs it: a model entry, answered through the cache."""

    model: ModelSpec

    def answer(self, requests: Sequence[Request], bar: str) -> list[Response]: ...


class Bars(Protocol):
    def start(self, key: str, total: int) -> None: ...


def same_family(judge: ModelSpec, model: ModelSpec) -> bool:
    """Whether ``judge`` may not grade ``model``: both name the same family."""
    return bool(judge.family and model.family and judge.family.lower() == model.family.lower())


def check_panel(panel: Sequence[ModelSpec], models: Sequence[ModelSpec]) -> None:
    """Refuse a panel that leaves some model with no judge (all of its own family)."""
    if len({judge.name for judge in panel}) != len(panel):
        names = [judge.name for judge in panel]
        raise ConfigError(
            f"judges must have distinct names; got {names}. Give each a name: "
            "judges=[{id: ..., name: a}, {id: ..., name: b}]."
        )
    for model in models:
        if panel and all(same_family(judge, model) for judge in panel):
            raise ConfigError(
                f"No judge may grade model '{model.name}': every judge is of its family "
                f"'{model.family}'. Add a judge of another family to judges=[...]."
            )


def prompt(example: Example, response: str, criterion: Criterion, reply: str = JSON_REPLY) -> str:
    """What a judge reads: the conversation, the answer and one criterion; no names."""
    conversation = "\n\n".join(part for part in (example.context, example.question) if part)
    return PROMPT.format(
        conversation=conversation,
        response=response.strip() or "(no response)",
        points=criterion.points,
        criterion=criterion.text,
        reply=reply,
    )


def _request(judge: ModelSpec, text: str) -> Request:
    """A judge that scores by log-likelihood (a small local model, which rarely writes
    JSON) chooses between " yes" and " no"; any other writes its reply."""
    if judge.scoring_method == "loglik":
        return LoglikRequest(messages=(Message("user", text),), continuations=YES_NO)
    return GenerateRequest(messages=(Message("user", text),), max_tokens=REPLY_TOKENS)


def _read(reply: Response) -> bool | None:
    """The grade in a judge's reply: the likelier of yes / no, or its written verdict."""
    if reply.error:
        return None
    if reply.logprobs is not None:
        yes, no = reply.logprobs
        return None if yes != yes or no != no else yes > no  # NaN: unreadable
    return read_grade(reply.text or "")


def read_grade(reply: str) -> bool | None:
    """The judge's met / not met: its ``criteria_met`` value, else its first yes/no word."""
    found = _FLAGGED.search(reply) or _WORD.search(reply)
    if found is None:
        return None
    return found.group(1).lower() in ("true", "yes")


@dataclass(frozen=True)
class Ballot:
    """Every judge's grades of one answer: ``grades[c][j]`` for criterion c, judge j."""

    judges: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    grades: tuple[tuple[bool | None, ...], ...]
    cost_usd: tuple[float, ...]  # per judge, for this answer
    paid_usd: tuple[float, ...]  # the part not from the cache
    # the answer graded was the item's own (GIVEN_ANSWER), not the model's: the same for
    # every model, so a check of the judges rather than of the model (summary.py)
    given: bool = False

    def shares(self) -> list[float | None]:
        """Per criterion, the share of the judges that read it as met."""
        shares: list[float | None] = []
        for row in self.grades:
            read = [g for g in row if g is not None]
            shares.append(sum(read) / len(read) if read else None)
        return shares

    def judge_score(self, j: int) -> float | None:
        """Judge j's own rubric score of the answer (None: it did not grade it)."""
        votes = [None if g[j] is None else float(g[j]) for g in self.grades]
        return rubric_score(self.criteria, votes)

    def to_note(self) -> str:
        return json.dumps(
            {
                "judges": list(self.judges),
                "criteria": [
                    {
                        "kind": c.kind,
                        "points": c.points,
                        "human": c.human,
                        "grades": [None if g is None else int(g) for g in row],
                    }
                    for c, row in zip(self.criteria, self.grades, strict=True)
                ],
                "cost_usd": list(self.cost_usd),
                "paid_usd": list(self.paid_usd),
                "given": self.given,
            }
        )

    @classmethod
    def from_note(cls, note: str) -> Ballot:
        data = json.loads(note)
        criteria = tuple(
            Criterion("", float(c["points"]), c["kind"], c.get("human")) for c in data["criteria"]
        )
        grades = tuple(
            tuple(None if g is None else bool(g) for g in c["grades"]) for c in data["criteria"]
        )
        return cls(
            tuple(data["judges"]),
            criteria,
            grades,
            tuple(data["cost_usd"]),
            tuple(data["paid_usd"]),
            bool(data.get("given", False)),
        )


def grade(
    examples: Sequence[Example],
    responses: Sequence[Response],
    judgements: Sequence[Judgement],
    judges: Sequence[Judge],
    answered_by: ModelSpec,
    bar: str,
    bars: Bars,
) -> list[Judgement]:
    """Grade each answered item's rubric with every judge allowed to grade ``answered_by``.

    The item's score is its rubric score with each criterion counted by the share of
    judges that found it met; an item no judge's reply could be read for is invalid.
    """
    graded = list(judgements)
    pending = [i for i, r in enumerate(responses) if not r.error and examples[i].rubric]
    if not pending:
        return graded
    columns = [
        _judge_column(judge, pending, examples, responses, answered_by, bar, bars)
        for judge in judges
    ]
    names = tuple(judge.model.name for judge in judges)
    for slot, i in enumerate(pending):
        criteria = examples[i].rubric
        ballot = Ballot(
            judges=names,
            criteria=criteria,
            grades=tuple(
                tuple(column.grades[slot][c] for column in columns) for c in range(len(criteria))
            ),
            cost_usd=tuple(column.cost[slot] for column in columns),
            paid_usd=tuple(column.paid[slot] for column in columns),
            given=has_given_answer(examples[i]),
        )
        graded[i] = _judgement(graded[i], ballot)
    return graded


@dataclass(frozen=True)
class _Column:
    """One judge's grades, cost and paid cost per pending item."""

    grades: list[tuple[bool | None, ...]]
    cost: list[float]
    paid: list[float]


def _judge_column(
    judge: Judge,
    pending: Sequence[int],
    examples: Sequence[Example],
    responses: Sequence[Response],
    answered_by: ModelSpec,
    bar: str,
    bars: Bars,
) -> _Column:
    """Ask one judge about every criterion of every pending item, except the answering
    model's own answers when the judge is of its family (an item's given answer is no
    model's, so every judge grades it)."""
    own = same_family(judge.model, answered_by)
    asked = [i for i in pending if has_given_answer(examples[i]) or not own]
    reply = WORD_REPLY if judge.model.scoring_method == "loglik" else JSON_REPLY
    requests = [
        _request(
            judge.model, prompt(examples[i], _graded_text(examples[i], responses[i]), c, reply)
        )
        for i in asked
        for c in examples[i].rubric
    ]
    judge_bar = f"{bar} · judge {judge.model.name}"
    if requests:
        bars.start(judge_bar, len(requests))
    replies = iter(judge.answer(requests, judge_bar) if requests else ())
    grades, cost, paid = [], [], []
    for i in pending:
        if own and not has_given_answer(examples[i]):
            grades.append(tuple(None for _ in examples[i].rubric))
            cost.append(0.0)
            paid.append(0.0)
            continue
        mine = [next(replies) for _ in examples[i].rubric]
        grades.append(tuple(_read(r) for r in mine))
        cost.append(sum(r.cost_usd or 0.0 for r in mine))
        paid.append(sum(r.cost_usd or 0.0 for r in mine if not r.cached))
    return _Column(grades, cost, paid)


def has_given_answer(example: Example) -> bool:
    """Whether the panel grades the item's own (human-graded) answer, not the model's:
    then no model need be asked the item (the engine does not ask it)."""
    return bool(example.extra.get(GIVEN_ANSWER))


def _graded_text(example: Example, response: Response) -> str:
    """The answer the panel reads: the item's own (human-graded) answer, else the model's."""
    return example.extra.get(GIVEN_ANSWER) or response.text or ""


def _judgement(judgement: Judgement, ballot: Ballot) -> Judgement:
    score = rubric_score(ballot.criteria, ballot.shares())
    per_judge = {
        JUDGE_METRIC.format(name=name): s
        for j, name in enumerate(ballot.judges)
        if (s := ballot.judge_score(j)) is not None
    }
    return replace(
        judgement,
        correct=0.0 if score is None else score,
        invalid=score is None,
        undecided=False,
        metrics={**judgement.metrics, **per_judge},
        notes={**judgement.notes, PANEL_NOTE: ballot.to_note()},
    )


def require_panel(
    graded: Sequence[str], panel: Sequence[ModelSpec], models: Sequence[ModelSpec]
) -> None:
    """Before any call: tasks graded by rubric need a panel, and the panel must be able
    to grade every model of the roster."""
    if graded and not panel:
        raise ConfigError(
            f"Task(s) {', '.join(graded)} are graded by rubric and need a judge panel: "
            "add judges=[{id: openai/gpt-4o-mini}, {id: anthropic/claude-haiku-4-5}] "
            "(or judge.id=... for a panel of one; offline, as a pipeline check only: the "
            "bundled SmolLM2 with judge.backend=hf, see the README's 'Grading open answers')."
        )
    if graded:
        check_panel(panel, models)
