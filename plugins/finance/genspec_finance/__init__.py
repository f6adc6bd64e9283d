"""genspec's bundled finance plugin: sentiment, numeric reasoning and MMLU finance.

Each task is a declaration read by the core toolkit (the hub copies, including the
parquet mirrors used where the usual copy is a loading script, are listed with their
fields in ``data/SOURCES.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import genspec
from genspec.toolkit import (
    HubSource,
    RowError,
    Task,
    classification_task,
    const,
    corpus_hook,
    domain_hook,
    first_of,
    formatted,
    label_fields,
    numeric_fields,
    numeric_task,
    perturbations_hook,
    rosters_hook,
)
from genspec.toolkit.suites import mmlu_task, parquet_export
from genspec_finance import wording
from genspec_finance.convfinqa import convfinqa_task
from genspec_finance.graded import graded_tasks
from genspec_finance.reports import report_page

DOMAIN = "finance"
SENTIMENT = ("negative", "neutral", "positive")
# Defined for these sentiment tasks only (never global): market slang for the labels.
SENTIMENT_SYNONYMS = {"positive": ["bullish"], "negative": ["bearish"]}
FIQA_NEUTRAL_BAND = 0.1  # |score| at or below this counts as neutral
MMLU_FINANCE = ("professional_accounting", "high_school_macroeconomics")
FINQA_MIRROR = HubSource(
    "MothMalone/finqa",
    split="test",
    dev_split="train",
    note="Parquet mirror of FinQA (ibm/finqa is a loading script); same fields.",
)

sentiment = partial(classification_task, synonyms=SENTIMENT_SYNONYMS)


def fiqa_label(row: Mapping[str, Any]) -> str:
    """FiQA-SA gives a sentiment score in [-1, 1]; bin it into three labels."""
    try:
        score = float(row["score"])
    except (KeyError, TypeError, ValueError):
        raise RowError(f"field 'score' should be a number, got {row.get('score')!r}") from None
    if score > FIQA_NEUTRAL_BAND:
        return "positive"
    return "negative" if score < -FIQA_NEUTRAL_BAND else "neutral"


@genspec.hookimpl
def genspec_tasks() -> list[Task]:
    return [
        sentiment(
            name="phrasebank",
            description="Financial PhraseBank (all annotators agree): news sentence sentiment.",
            subject="financial news sentiment",
            hub=parquet_export(
                "takala/financial_phrasebank",
                "sentences_allagree",
                split="train",
                note="Only a train split exists; the main branch is a loading script, so the "
                "hub's parquet export is read. Few-shot items come from the samples.",
            ),
            fields=label_fields(
                question=const("What is the sentiment of this sentence for investors?"),
                context="sentence",
                answer="label",
                answer_format="index",
                labels=SENTIMENT,
            ),
        ),
        sentiment(
            name="fiqa_sa",
            description=(
                "FiQA sentiment: headlines and posts about a target company, 3 classes "
                "(an item is keyed by _id and target: one headline can name two companies)."
            ),
            subject="financial sentiment",
            hub=HubSource(
                "TheFinAI/fiqa-sentiment-classification", split="test", dev_split="train"
            ),
            fields=label_fields(
                # FiQA-2018 gives one row per (headline, target): id 49 is one row for
                # AstraZeneca and one for Teva. An item is keyed by both.
                id=formatted("{_id}:{target}"),
                question=formatted("What is the sentiment towards {target}?"),
                context="sentence",
                answer=fiqa_label,
                labels=SENTIMENT,
                category="type",
            ),
        ),
        numeric_task(
            name="finqa",
            description="FinQA: numeric reasoning over a report's text and table (1% tolerance).",
            subject="corporate finance",
            hub=FINQA_MIRROR,
            fields=numeric_fields(
                id="id",
                question="question",
                # "answer" is "" in some FinQA rows; "final_result" is the executed program's
                # result then. Comparison items ("greater") have "yes"/"no" as their answer.
                answer=first_of("answer", "final_result"),
                context=report_page,
            ),
        ),
        mmlu_task(
            "mmlu_finance",
            MMLU_FINANCE,
            "MMLU professional accounting and high-school macroeconomics.",
            subject="finance and economics",
        ),
        *graded_tasks(),
        convfinqa_task(),
    ]


genspec_domain = domain_hook(DOMAIN)
genspec_corpus = corpus_hook(DOMAIN, __file__)
genspec_rosters = rosters_hook(DOMAIN, __file__)
genspec_perturbations = perturbations_hook(DOMAIN, wording.perturbations)  # robustness axis
