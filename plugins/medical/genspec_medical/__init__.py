"""genspec's bundled medical plugin: the benchmarks behind the seed's medical claim.

Each task is a declaration: where the data is (hub id, config, splits — see
``data/SOURCES.md``), which fields hold what, and how the task is posed. Everything
else comes from :mod:`genspec.toolkit`.
"""

from __future__ import annotations

import genspec
from genspec.toolkit import (
    HubSource,
    Task,
    choice_fields,
    classification_task,
    corpus_hook,
    domain_hook,
    joined,
    label_fields,
    multiple_choice_task,
    optional,
    perturbations_hook,
    rosters_hook,
)
from genspec.toolkit.suites import mmlu_task
from genspec_medical import ddx, ddx_sources, interactions, medhallu, wording
from genspec_medical.graded import graded_tasks

DOMAIN = "medical"
JAMA_SCHEMA = (
    "case, question, options (list of 4 texts), answer (letter A-D), explanation; "
    "optional id, category, link"
)
MEDMCQA_HUB = HubSource(
    "openlifescienceai/medmcqa",
    split="validation",
    dev_split="train",
    note="The hub's test split has no answers, so validation is the test set.",
)
MMLU_MEDICAL = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)


@genspec.hookimpl
def genspec_tasks() -> list[Task]:
    return [
        multiple_choice_task(
            name="medqa",
            description="MedQA (USMLE), 4 options: clinical vignettes from licensing exams.",
            subject="medicine (USMLE)",
            hub=HubSource("GBaker/MedQA-USMLE-4-options-hf", split="test", dev_split="train"),
            fields=choice_fields(
                # The repo's own card lists no features; its MPNet-IR copy has "id", but a
                # copy without one should still load (ids then are row numbers).
                id=optional("id"),
                question="sent1",
                options=["ending0", "ending1", "ending2", "ending3"],
                answer="label",
            ),
        ),
        multiple_choice_task(
            name="medmcqa",
            description=(
                "MedMCQA: Indian medical entrance exam questions (validation split as test)."
            ),
            subject="medicine",
            hub=MEDMCQA_HUB,
            fields=choice_fields(
                id="id",
                question="question",
                options=["opa", "opb", "opc", "opd"],
                answer="cop",
                category="subject_name",
                keep=("exp",),
            ),
        ),
        classification_task(
            name="pubmedqa",
            description="PubMedQA (labeled): answer a research question from an abstract.",
            subject="biomedical research",
            hub=HubSource(
                "qiaojin/PubMedQA",
                name="pqa_labeled",
                split="train",
                note="pqa_labeled has one split of 1000 expert-labeled items; all are test.",
            ),
            fields=label_fields(
                id="pubid",
                question="question",
                context=joined("context", "contexts"),
                answer="final_decision",
                labels=("yes", "no", "maybe"),
                keep=("long_answer",),
            ),
        ),
        mmlu_task(
            "mmlu_medical",
            MMLU_MEDICAL,
            "MMLU's six medical subjects (anatomy ... professional medicine).",
            subject="medicine",
        ),
        multiple_choice_task(
            name="jama",
            description=(
                "JAMA Clinical Challenge (licensed, local file only): case, question, 4 options."
            ),
            subject="clinical medicine",
            # No hub copy and no bundled sample: data=local reads DIR/jama.jsonl.
            local_only=True,
            local_schema=JAMA_SCHEMA,
            fields=choice_fields(
                id=optional("id"),
                context="case",
                question="question",
                options="options",
                answer="answer",
                answer_format="letter",
                category=optional("category", "unspecified"),
                keep=("explanation", "link"),
            ),
        ),
        ddx.differential_task(
            name="ddx",
            description=(
                "Differential diagnosis: top-5 diagnoses (and next step) for clinical cases."
            ),
            subject="internal and emergency medicine",
            fields=ddx.FIELDS,
        ),
        *ddx_sources.tasks(),  # ddx at scale: DDXPlus, MedQA next steps, RareBench
        *graded_tasks(),
        medhallu.task(),
        interactions.task(),
    ]


genspec_domain = domain_hook(DOMAIN)
genspec_corpus = corpus_hook(DOMAIN, __file__)
genspec_rosters = rosters_hook(DOMAIN, __file__)
genspec_perturbations = perturbations_hook(DOMAIN, wording.perturbations)  # robustness axis
