"""The plugin toolkit: field mapping, prompts, answer parsing, sampling."""

from __future__ import annotations

import pytest

from genspec.data import select
from genspec.prompting import (
    build_request,
    choose_shots,
    render_body,
)
from genspec.requests import GenerateRequest, LoglikRequest
from genspec.task import Example, PromptTemplate, TaskKind
from genspec.toolkit import (
    RowError,
    choice_fields,
    joined,
    label_fields,
    label_parser,
    numeric_scorer,
    parse_choice,
    parse_number,
)

MC = Example(
    id="1",
    question="Which organ makes insulin?",
    choices=("Liver", "Pancreas", "Spleen", "Kidney"),
    gold=1,
)
YN = Example(id="2", question="Is it hearsay?", choices=("yes", "no"), gold=0)


@pytest.mark.parametrize(
    "text",
    [
        "B",
        "(B)",
        "**B**",
        "B.",
        "The answer is B.",
        "Answer: B) Pancreas",
        '{"answer": "B"}',
        "Pancreas",
        "I think the correct option is the pancreas.",
        "A is wrong because the liver stores glycogen; C is wrong. Final answer: B",
        "answer: **(B)**",
        "b",
        "the answer is b.",
        "answer: (b)",
        "b) pancreas",
        '{"answer": "b"}',
    ],
)
def test_parse_choice_reads_common_answer_shapes(text: str) -> None:
    assert parse_choice(text, MC) == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I am not sure.",
        "Liver or pancreas",
        "E",
        "Answer: Z",
        "a gland, I think",
        "The answer is a hard one.",
    ],
)
def test_parse_choice_unreadable_is_invalid(text: str) -> None:
    assert parse_choice(text, MC) is None


def test_label_parser_matches_labels_and_declared_synonyms_only() -> None:
    sentiment = Example(id="3", question="?", choices=("negative", "neutral", "positive"), gold=2)
    parse = label_parser({"positive": ["bullish"], "negative": ["bearish"]})
    assert parse("Positive.", sentiment) == 2
    assert parse("The sentiment is bullish", sentiment) == 2
    assert parse("Answer: NEUTRAL", sentiment) == 1
    assert parse("good news", sentiment) is None
    assert label_parser()("bullish", sentiment) is None
    assert label_parser()("Yes, this is hearsay.", YN) == 0


def test_choice_fields_maps_hub_rows_and_names_bad_fields() -> None:
    mapper = choice_fields(
        id="id", question="q", options=["a", "b", "c"], answer="cop", keep=("exp",)
    )
    ex = mapper({"id": 7, "q": "Q?", "a": "x", "b": "y", "c": "z", "cop": 2, "exp": "why"}, 1)
    assert (ex.id, ex.choices, ex.gold, ex.extra["exp"]) == ("7", ("x", "y", "z"), 2, "why")
    with pytest.raises(RowError, match="missing field 'cop'"):
        mapper({"id": 1, "q": "Q?", "a": "x", "b": "y", "c": "z"}, 1)
    with pytest.raises(RowError, match="out of range"):
        mapper({"id": 1, "q": "Q?", "a": "x", "b": "y", "c": "z", "cop": 5}, 1)
    letters = choice_fields(question="q", options="choices", answer="ans", answer_format="letter")
    assert letters({"q": "Q", "choices": ["x", "y"], "ans": "b"}, 4).gold == 1


def test_label_fields_reads_text_labels_case_insensitively_with_nested_context() -> None:
    mapper = label_fields(
        id="pubid",
        question="question",
        context=joined("context", "contexts"),
        answer="final_decision",
        labels=("yes", "no", "maybe"),
    )
    row = {
        "pubid": 5,
        "question": "Q?",
        "context": {"contexts": ["p1", "p2"]},
        "final_decision": "Maybe",
    }
    ex = mapper(row, 1)
    assert (ex.gold, ex.context) == (2, "p1\np2")
    with pytest.raises(RowError, match="not a valid text"):
        mapper({**row, "final_decision": "perhaps"}, 1)


def test_requests_follow_the_scoring_method() -> None:
    template = PromptTemplate("zero_shot", "Questions about {subject}.")
    loglik = build_request(
        TaskKind.MULTIPLE_CHOICE, template, "medicine", MC, [], method="loglik", max_new_tokens=8
    )
    assert isinstance(loglik, LoglikRequest)
    assert loglik.continuations == (" A", " B", " C", " D")
    assert "Questions about medicine." in loglik.messages[0].content
    generate = build_request(
        TaskKind.CLASSIFICATION, template, "law", YN, [], method="generate", max_new_tokens=8
    )
    assert isinstance(generate, GenerateRequest)
    assert "Reply with one of the options (yes or no) only." in generate.messages[0].content
    cot = PromptTemplate("cot", "Q.", chain_of_thought=True)
    assert isinstance(
        build_request(TaskKind.MULTIPLE_CHOICE, cot, "", MC, [], method="loglik", max_new_tokens=8),
        GenerateRequest,
    )


def test_few_shot_examples_are_seeded_and_answered() -> None:
    pool = [
        Example(id=f"d{i}", question=f"Dev {i}?", choices=("yes", "no"), gold=i % 2)
        for i in range(6)
    ]
    first = choose_shots(pool, 3, seed=1, example_id="x")
    assert first == choose_shots(pool, 3, seed=1, example_id="x")
    assert first != choose_shots(pool, 3, seed=2, example_id="x")
    body = render_body(TaskKind.CLASSIFICATION, PromptTemplate("few_shot", "I"), "", YN, first)
    assert body.count("Answer:") == 3 and body.endswith("Options: yes, no")


def test_limit_takes_a_seeded_stratified_sample_not_the_first_rows() -> None:
    items = [
        Example(
            id=str(i),
            question=str(i),
            choices=("a", "b"),
            gold=0,
            category="rare" if i < 10 else "common",
        )
        for i in range(100)
    ]
    chosen = select(items, 20, seed=3)
    assert len(chosen) == 20
    assert sum(ex.category == "rare" for ex in chosen) == 2
    assert chosen == select(items, 20, seed=3)
    assert [ex.id for ex in chosen] != [str(i) for i in range(20)]
    assert select(items, None, seed=3) == tuple(items)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("25%", 25.0),
        ("The change is 25.0%.", 25.0),
        ("$1,250 million", 1250.0),
        ("(3.5)", -3.5),
        ("-0.42", -0.42),
        ("Revenue rose from 100 to 125, so the answer is 25", 25.0),
        ("Step 1: 1250 - 1000 = 250. Step 2: 250 / 1000 = 0.25. Answer: 0.25", 0.25),
        ("no number here", None),
    ],
)
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


def test_numeric_scorer_accepts_equivalent_forms_within_tolerance() -> None:
    item = Example(id="f", question="?", choices=(), gold=-1, target="25%")
    score = numeric_scorer(rel_tol=0.01)
    assert score("25%", item).correct == 1.0
    assert score("0.25", item).correct == 1.0
    assert score("25.2", item).correct == 1.0
    assert score("27", item).correct == 0.0
    unreadable = score("I cannot tell", item)
    assert unreadable.invalid and unreadable.correct == 0.0
