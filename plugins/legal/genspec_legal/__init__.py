"""genspec's bundled legal plugin: LegalBench tasks, CaseHOLD and MMLU's law subjects.

Nothing here reads data: the toolkit does, from the declarations below; where each
hub dataset lives and what its fields mean is in ``data/SOURCES.md``.
"""

from __future__ import annotations

import genspec
from genspec.toolkit import (
    HubSource,
    Task,
    choice_fields,
    const,
    corpus_hook,
    domain_hook,
    multiple_choice_task,
    perturbations_hook,
    rosters_hook,
)
from genspec.toolkit.suites import YES_NO, legalbench_task, mmlu_task
from genspec_legal import wording
from genspec_legal.contracts import cuad_task
from genspec_legal.graded import graded_tasks

DOMAIN = "legal"
ABERCROMBIE_LABELS = ("generic", "descriptive", "suggestive", "arbitrary", "fanciful")
MMLU_LAW = ("professional_law", "international_law", "jurisprudence")


@genspec.hookimpl
def genspec_tasks() -> list[Task]:
    return [
        legalbench_task(
            "hearsay",
            const("Is this evidence hearsay?"),
            YES_NO,
            "LegalBench hearsay: is the evidence an out-of-court statement offered for its truth?",
            category="slice",
        ),
        legalbench_task(
            "abercrombie",
            const("Which Abercrombie category fits this mark?"),
            ABERCROMBIE_LABELS,
            "LegalBench abercrombie: classify a trademark on the Abercrombie spectrum.",
        ),
        legalbench_task(
            "proa",
            const("Does this statute create a private right of action?"),
            YES_NO,
            "LegalBench proa: does a statute let a private person sue to enforce it?",
        ),
        legalbench_task(
            "personal_jurisdiction",
            const("Does the court have personal jurisdiction over the defendant?"),
            YES_NO,
            "LegalBench personal_jurisdiction: may the forum court hear a suit against "
            "the defendant (domicile, or contacts plus nexus)?",
            category="slice",
        ),
        legalbench_task(
            "contract_qa",
            "question",
            YES_NO,
            "LegalBench contract_qa: does a contract clause deal with a named issue?",
            subject="contract law",
        ),
        mmlu_task(
            "mmlu_law",
            MMLU_LAW,
            "MMLU professional law, international law and jurisprudence.",
            subject="law",
        ),
        multiple_choice_task(
            name="casehold",
            description="CaseHOLD: choose the holding a citing passage refers to (5 options).",
            subject="US case law",
            hub=HubSource("coastalcph/lex_glue", name="case_hold", split="test", dev_split="train"),
            fields=choice_fields(
                question=const("Which holding belongs in place of <HOLDING>?"),
                context="context",
                options="endings",
                answer="label",
            ),
        ),
        cuad_task(),
        *graded_tasks(),
    ]


genspec_domain = domain_hook(DOMAIN)
genspec_corpus = corpus_hook(DOMAIN, __file__)
genspec_rosters = rosters_hook(DOMAIN, __file__)
genspec_perturbations = perturbations_hook(DOMAIN, wording.perturbations)  # robustness axis
