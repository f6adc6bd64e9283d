"""RareBench (Chen et al., KDD 2024): ddx's rare-disease score from real patients.

Published rare-disease cases (RAMEDIS, MME, HMS, LIRICAL, PUMCH_ADM), each a list of
phenotypes as HPO codes and its diagnosis as OMIM, Orphanet or CCRD codes. The hub copy
(``chenxz/RareBench``) is read by a loading script and ships the code-to-name tables
(``mapping/phenotype_mapping.json``, ``mapping/disease_mapping.json``) as JSON objects,
which ``datasets`` cannot read as rows. So this task reads a local file in RareBench's
row schema with the codes already decoded (:func:`decode` does it with RareBench's own
tables; ``data/SOURCES.md`` has the steps), and ships original cases as its sample.
Each case is asked as ddx asks its own (five most likely diagnoses, scored by
:func:`genspec_medical.ddx.score`); every case is a ``rare_disease`` case, ddx's category
for the rare-disease score, and its sub-dataset is kept beside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from genspec.task import Example
from genspec.toolkit import RowError, Task, const, free_text_fields
from genspec_medical import ddx

PHENOTYPE, DISEASE, DEPARTMENT, DATASET = "Phenotype", "RareDisease", "Department", "dataset"
SUBSETS = ("RAMEDIS", "MME", "HMS", "LIRICAL", "PUMCH_ADM")
LOCAL_SCHEMA = (
    "Phenotype (list of phenotype names), RareDisease (list of disease names): RareBench's "
    "rows with their HPO and disease codes decoded by its mapping files; optional "
    "Department, dataset (RAMEDIS, MME, HMS, LIRICAL or PUMCH_ADM), id"
)
_CODE = re.compile(r"^(?:HP|OMIM|ORPHA|CCRD):\s*\S+$", re.IGNORECASE)
_TABLES = {PHENOTYPE: "phenotype_mapping.json", DISEASE: "disease_mapping.json"}
_ACCEPTED = "accepted"  # added to each row: the disease names, never read from the data


def _names(row: Mapping[str, Any], field: str) -> list[str]:
    """The names a list field holds; codes left undecoded are refused with the fix."""
    value = row.get(field)
    if value is None:
        raise RowError(f"missing field '{field}' (row has: {', '.join(map(str, row)) or 'none'})")
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise RowError(f"field '{field}' should be a list of names, got {type(value).__name__}")
    names = [str(v).strip() for v in value if v is not None and str(v).strip()]
    codes = [name for name in names if _CODE.match(name)]
    if codes:
        raise RowError(
            f"field '{field}' holds codes ({codes[0]}), not names: decode them with "
            f"RareBench's mapping/{_TABLES[field]} (see data/SOURCES.md, rarebench)"
        )
    if not names:
        raise RowError(f"field '{field}' is empty")
    return names


def disease_names(name: str) -> list[str]:
    """One disease's accepted names. RareBench's table joins a disease's Orphanet and
    OMIM names with "/" ("Spastic paraplegia type 25/Spastic paraplegia 25, autosomal
    recessive"); each is accepted, the first canonical. A "/" inside one name
    ("Split-hand/foot malformation") is not such a join: both sides of a join are names
    of several words."""
    parts = [part.strip() for part in name.split("/")]
    joined = len(parts) == 2 and all(" " in p and p[:1].isupper() for p in parts)
    return [*parts, name] if joined else [name]


def _context(row: Mapping[str, Any]) -> str:
    lines = [f"Phenotypes (HPO terms): {'; '.join(_names(row, PHENOTYPE))}."]
    if department := str(row.get(DEPARTMENT) or "").strip():
        lines.append(f"Department: {department}.")
    return "\n".join(lines)


_CASE_FIELDS = free_text_fields(
    context=_context,
    question=const("The findings suggest a rare disease. What is the differential diagnosis?"),
    target=lambda row: ddx.answer_text(row[_ACCEPTED][0]),
    category=const(ddx.CATEGORIES[2]),  # "rare_disease"
    references={"diagnosis": [_ACCEPTED]},
    keep=(DATASET, DEPARTMENT),
)


def to_example(row: Mapping[str, Any], row_number: int) -> Example:
    """One patient as one ddx case: every name of every listed disease is accepted (a
    case lists the same disease by its OMIM and its Orphanet code). Ids are the row's
    ``id``, else ``<dataset>-<row number>``."""
    accepted = [n for name in _names(row, DISEASE) for n in disease_names(name)]
    example = _CASE_FIELDS({**row, _ACCEPTED: list(dict.fromkeys(accepted))}, row_number)
    subset = str(row.get(DATASET) or "rarebench").strip()
    return replace(example, id=str(row.get("id") or f"{subset}-{row_number}"))


def decode(
    row: Mapping[str, Any],
    phenotypes: Mapping[str, str],
    diseases: Mapping[str, str],
    dataset: str,
) -> dict[str, Any]:
    """A hub row (codes) as this task's row (names), with the sub-dataset it came from.

    ``phenotypes`` and ``diseases`` are RareBench's ``mapping/*.json`` tables. Codes the
    tables lack are left out, as RareBench's own loader (``utils/mydataset.py``) does.
    """
    return {
        **row,
        PHENOTYPE: [phenotypes[c] for c in row.get(PHENOTYPE) or () if c in phenotypes],
        DISEASE: [diseases[c] for c in row.get(DISEASE) or () if c in diseases],
        DATASET: dataset,
    }


def task() -> Task:
    """The ``rarebench`` task: rare-disease cases, ddx's rare-disease score. No hub
    source (see the module docstring): ``data=local`` names the fields it needs."""
    declared = ddx.differential_task(
        name="rarebench",
        description=(
            "RareBench (local file, codes decoded): top-5 differential of published "
            "rare-disease cases from their HPO phenotypes; ddx's rare-disease score."
        ),
        subject="rare diseases and clinical genetics",
        fields=to_example,
        by_default=False,  # named runs only: the default medical run stays as it was
    )
    return replace(declared, local_schema=LOCAL_SCHEMA)
