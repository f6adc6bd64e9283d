"""DDXPlus (Fansi Tchango et al., NeurIPS 2022): ddx's diagnosis score at scale.

1.3 million synthetic patients of 49 pathologies, generated from a medical knowledge
base. The original release codes symptoms (``E_91``) and names some pathologies in
French; StreamBench's copy on the hub (config ``ddxplus``) adds an English narrative of
each patient, ``PATIENT_PROFILE``, and English pathology names, so a case can be posed
to a language model as written. Each case is asked as ddx asks its own: the five most
likely diagnoses, scored by :func:`genspec_medical.ddx.score` (top-1, top-5) against the
``PATHOLOGY`` and the synonyms below. Every case is a ``diagnostic`` case, ddx's category
for the diagnosis score; the pathology is kept beside it for review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from genspec.task import Example
from genspec.toolkit import HubSource, Task, const, free_text_fields
from genspec_medical import ddx

HUB = HubSource(
    "appier-ai-research/StreamBench",
    name="ddxplus",
    split="test",
    dev_split="validate",
    note="StreamBench's DDXPlus subset: English patient profiles; test (1,764) and validate.",
)
PATHOLOGY = "PATHOLOGY"
SYNONYMS = "synonyms"  # added to each row from the table below, never read from the data
# DDXPlus names a pathology once (some by abbreviation, one misspelt: "Larygospasm").
# These are genspec's own accepted names for the ones a physician writes otherwise; a
# name not listed is matched as the data spells it (after normalising case and accents).
PATHOLOGY_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "Acute COPD exacerbation / infection": (
        "COPD exacerbation",
        "exacerbation of COPD",
        "exacerbation of chronic obstructive pulmonary disease",
        "chronic obstructive pulmonary disease exacerbation",
    ),
    "Acute dystonic reactions": ("acute dystonic reaction", "acute dystonia", "dystonic reaction"),
    "Acute laryngitis": ("laryngitis",),
    "Acute otitis media": ("otitis media",),
    "Acute pulmonary edema": ("pulmonary edema", "pulmonary oedema"),
    "Acute rhinosinusitis": ("acute sinusitis",),
    "Allergic sinusitis": ("allergic rhinosinusitis", "allergic rhinitis"),
    "Anaphylaxis": ("anaphylactic reaction", "anaphylactic shock"),
    "Anemia": ("anaemia",),
    "Atrial fibrillation": ("afib",),
    "Boerhaave": ("esophageal rupture", "oesophageal rupture"),
    "Bronchospasm / acute asthma exacerbation": (
        "bronchospasm",
        "asthma exacerbation",
        "exacerbation of asthma",
        "acute asthma",
        "asthma attack",
    ),
    "Chagas": ("American trypanosomiasis",),
    "Chronic rhinosinusitis": ("chronic sinusitis",),
    "Croup": ("laryngotracheobronchitis",),
    "GERD": ("gastroesophageal reflux", "gastro-oesophageal reflux", "GORD"),
    "Guillain-Barré syndrome": ("acute inflammatory demyelinating polyneuropathy",),
    "HIV (initial infection)": (
        "acute HIV infection",
        "primary HIV infection",
        "acute HIV",
        "acute retroviral syndrome",
        "HIV seroconversion",
    ),
    "Larygospasm": ("laryngospasm",),
    "Localized edema": ("localised edema", "localized oedema", "localised oedema"),
    "Pancreatic neoplasm": ("pancreatic cancer", "pancreatic carcinoma", "pancreatic tumor"),
    "Possible NSTEMI / STEMI": ("NSTEMI", "STEMI", "myocardial infarction"),
    "PSVT": ("paroxysmal supraventricular tachycardia", "supraventricular tachycardia", "SVT"),
    "Pulmonary neoplasm": (
        "lung cancer",
        "lung carcinoma",
        "lung neoplasm",
        "bronchogenic carcinoma",
    ),
    "Panic attack": ("panic disorder",),
    "Scombroid food poisoning": ("scombroid", "histamine fish poisoning"),
    "SLE": ("systemic lupus erythematosus", "lupus"),
    "Spontaneous pneumothorax": ("pneumothorax",),
    "Spontaneous rib fracture": ("rib fracture",),
    "Tuberculosis": ("TB",),
    "URTI": ("upper respiratory tract infection", "upper respiratory infection", "common cold"),
    "Whooping cough": ("pertussis",),
}
_CASE_FIELDS = free_text_fields(
    context="PATIENT_PROFILE",
    question=const("What is the differential diagnosis?"),
    target=lambda row: ddx.answer_text(str(row[PATHOLOGY]).strip()),
    category=const(ddx.CATEGORIES[0]),  # "diagnostic"
    references={"diagnosis": [PATHOLOGY, SYNONYMS]},
    keep=(PATHOLOGY, "INITIAL_EVIDENCE_ENG"),
)


def to_example(row: Mapping[str, Any], row_number: int) -> Example:
    """One patient as one ddx case; the row's pathology and genspec's synonyms of it are
    the accepted diagnoses. Rows have no id field: ids are ``ddxplus-<row number>``."""
    pathology = str(row.get(PATHOLOGY) or "").strip()
    synonyms = list(PATHOLOGY_SYNONYMS.get(pathology, ()))
    example = _CASE_FIELDS({**row, SYNONYMS: synonyms}, row_number)
    return replace(example, id=f"ddxplus-{row_number}")


def task() -> Task:
    """The ``ddxplus`` task: DDXPlus's common conditions, ddx's diagnosis score."""
    return ddx.differential_task(
        name="ddxplus",
        description=(
            "DDXPlus (StreamBench's English profiles): top-5 differential of 49 common "
            "pathologies; ddx's diagnosis score (top-1, top-5) at scale."
        ),
        subject="primary care and emergency medicine",
        hub=HUB,
        fields=to_example,
        by_default=False,  # named runs only: the default medical run stays as it was
    )
