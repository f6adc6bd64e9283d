"""Contract review (CUAD): does a contract clause contain a given kind of provision?

CUAD (Hendrycks et al., 2021) labels 41 clause types in 510 commercial contracts.
LegalBench turns each type into a yes/no task over single clauses (``cuad_<type>``:
``text`` the clause, ``answer`` Yes or No), one task per type, so a clause type's
score is its own row. Read from the hub's parquet export like genspec's other
LegalBench tasks; run only when named (``tasks=[cuad_change_of_control, ...]``).
"""

from __future__ import annotations

from dataclasses import replace

from genspec.toolkit import Task, const
from genspec.toolkit.suites import YES_NO, legalbench_task

CLAUSE_TYPES = {
    "change_of_control": (
        "Does this clause give a party the right to terminate, or require its consent or "
        "notice, if the other party undergoes a change of control?"
    ),
    "anti-assignment": (
        "Does this clause require consent or notice of a party if the contract is assigned "
        "to a third party?"
    ),
}


def cuad_tasks() -> list[Task]:
    """One yes/no task per CUAD clause type (LegalBench's ``cuad_<type>`` configs)."""
    return [
        replace(
            legalbench_task(
                f"cuad_{kind}",
                const(question),
                YES_NO,
                f"CUAD {kind.replace('_', ' ')} (via LegalBench): does the contract clause "
                "contain this provision?",
                subject="contract review",
            ),
            by_default=False,
        )
        for kind, question in CLAUSE_TYPES.items()
    ]
