"""Contract review (CUAD): does a contract clause contain a given kind of provision?

CUAD (Hendrycks et al., 2021) labels 41 clause types in 510 commercial contracts.
LegalBench recasts 38 of them as yes/no tasks over single clauses, one config per
type (``cuad_<type>``: ``text`` the clause, ``answer`` Yes or No, ``index`` numbered
within the config). genspec reads all 38 as ONE task, ``cuad``: each row is told the
config it came from (``clause_type``), which gives its question (LegalBench's own
question for that type), its category (so each type is scored apart with
``report_by_category``) and its id (``<clause_type>-<index>``, since every config
numbers its rows from 0). One task rather than 38 keeps the domain's pooling from
weighing contract review 38 times; run only when named (``tasks=[cuad]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genspec.task import PARQUET_EXPORT
from genspec.toolkit import HubSource, RowError, Task, classification_task, label_fields
from genspec.toolkit.suites import LEGALBENCH_HUB, YES_NO

CLAUSE_FIELD = "clause_type"  # set by the loader to the config (folder) each row came from

#: LegalBench's ``cuad_*`` configs and the question each asks, verbatim from the first
#: line of ``tasks/<config>/base_prompt.txt`` (the same as the question in the task's
#: README) in ``HazyResearch/legalbench``, typos included, so prompts match the benchmark.
CLAUSE_TYPES: dict[str, str] = {
    "cuad_affiliate_license-licensee": (
        "Does the clause describe a license grant to a licensee (incl. sublicensor) and"
        " the affiliates of such licensee/sublicensor?"
    ),
    "cuad_affiliate_license-licensor": (
        "Does the clause describe a license grant by affiliates of the licensor or that"
        " includes intellectual property of affiliates of the licensor?"
    ),
    "cuad_anti-assignment": (
        "Does the clause require consent or notice of a party if the contract is "
        "assigned to a third party?"
    ),
    "cuad_audit_rights": (
        "Does the clause give a party the right to audit the books, records, or "
        "physical locations of the counterparty to ensure compliance with the contract?"
    ),
    "cuad_cap_on_liability": (
        "Does the clause specify a cap on liability upon the breach of a party’s "
        "obligation? This includes time limitation for the counterparty to bring claims"
        " or maximum amount for recovery."
    ),
    "cuad_change_of_control": (
        "Does the clause give one party the right to terminate or is consent or notice "
        "required of the counterparty if such party undergoes a change of control, such"
        " as a merger, stock sale, transfer of all or substantially all of its assets "
        "or business, or assignment by operation of law?"
    ),
    "cuad_competitive_restriction_exception": (
        "Does the clause mention exceptions or carveouts to Non-Compete, Exclusivity "
        "and No-Solicit of Customers?"
    ),
    "cuad_covenant_not_to_sue": (
        "Is a party restricted from contesting the validity of the counterparty’s "
        "ownership of intellectual property or otherwise bringing a claim against the "
        "counterparty for matters unrelated to the contract?"
    ),
    "cuad_effective_date": (
        "Does the clause specify the date upon which the agreement becomes effective?"
    ),
    "cuad_exclusivity": (
        "Does the clause specify exclusive dealing commitment with the counterparty? "
        "This includes a commitment to procure all “requirements” from one party of "
        "certain technology, goods, or services or a prohibition on licensing or "
        "selling technology, goods or services to third parties, or a prohibition on "
        "collaborating or working with other parties), whether during the contract or "
        "after the contract ends (or both)."
    ),
    "cuad_expiration_date": (
        "Does the clause specify the date upon which the initial term expires?"
    ),
    "cuad_governing_law": (
        "Does the clause specify which state/country's law governs the contract?"
    ),
    "cuad_insurance": (
        "Is there a requirement for insurance that must be maintained by one party for "
        "the benefit of the counterparty?"
    ),
    "cuad_ip_ownership_assignment": (
        "Does intellectual property created by one party become the property of the "
        "counterparty, either per the terms of the contract or upon the occurrence of "
        "certain events?"
    ),
    "cuad_irrevocable_or_perpetual_license": (
        "Does the clause specify a license grant that is irrevocable or perpetual?"
    ),
    "cuad_joint_ip_ownership": (
        "Does the clause provide for joint or shared ownership of intellectual property"
        " between the parties to the contract?"
    ),
    "cuad_license_grant": (
        "Does the clause contain a license granted by one party to its counterparty?"
    ),
    "cuad_liquidated_damages": (
        "Does the clause award either party liquidated damages for breach or a fee upon"
        " the termination of a contract (termination fee)?"
    ),
    "cuad_minimum_commitment": (
        "Does the clause specify a minimum order size or minimum amount or units "
        "pertime period that one party must buy from the counterparty?"
    ),
    "cuad_most_favored_nation": (
        "Does the clause state that if a third party gets better terms on the licensing"
        " or sale of technology/goods/services described in the contract, the buyer of "
        "such technology/goods/services under the contract shall be entitled to those "
        "better terms?"
    ),
    "cuad_no-solicit_of_customers": (
        "Does the clause restrict a party from contracting or soliciting customers or "
        "partners of the counterparty, whether during the contract or after the "
        "contract ends (or both)?"
    ),
    "cuad_no-solicit_of_employees": (
        "Does the clause restrict a party’s soliciting or hiring employees and/or "
        "contractors from the counterparty, whether during the contract or after the "
        "contract ends (or both)?"
    ),
    "cuad_non-compete": (
        "Does the clause restrict the ability of a party to compete with the "
        "counterparty or operate in a certain geography or business or technology "
        "sector?"
    ),
    "cuad_non-disparagement": (
        "Does the clause require a party not to disparage the counterparty?"
    ),
    "cuad_non-transferable_license": (
        "Does the clause limit the ability of a party to transfer the license being "
        "granted to a third party?"
    ),
    "cuad_notice_period_to_terminate_renewal": (
        "Does the clause specify a notice period required to terminate renewal?"
    ),
    "cuad_post-termination_services": (
        "Does the clause subject a party to obligations after the termination or "
        "expiration of a contract, including any post-termination transition, payment, "
        "transfer of IP, wind-down, last-buy, or similar commitments?"
    ),
    "cuad_price_restrictions": (
        "Does the clause place a restriction on the ability of a party to raise or "
        "reduce prices of technology, goods, or services provided?"
    ),
    "cuad_renewal_term": "Does the clause specify a renewal term?",
    "cuad_revenue-profit_sharing": (
        "Does the clause require a party to share revenue or profit with the "
        "counterparty for any technology, goods, or services?"
    ),
    "cuad_rofr-rofo-rofn": (
        "Does the clause grant one party a right of first refusal, right of first offer"
        " or right of first negotiation to purchase, license, market, or distribute "
        "equity interest, technology, assets, products or services?"
    ),
    "cuad_source_code_escrow": (
        "Does the clause require one party to deposit its source code into escrow with "
        "a third party, which can be released to the counterparty upon the occurrence "
        "of certain events (bankruptcy, insolvency, etc.)?"
    ),
    "cuad_termination_for_convenience": (
        "Does the clause specify that one party can terminate this contract without "
        "cause (solely by giving a notice and allowing a waiting period to expire)?"
    ),
    "cuad_third_party_beneficiary": (
        "Does the clause specify that that there a non-contracting party who is a "
        "beneficiary to some or all of the clauses in the contract and therefore can "
        "enforce its rights against a contracting party?"
    ),
    "cuad_uncapped_liability": (
        "Does the clause specify that a party’s liability is uncapped upon the breach "
        "of its obligation in the contract? This also includes uncap liability for a "
        "particular type of breach such as IP infringement or breach of confidentiality"
        " obligation"
    ),
    "cuad_unlimited-all-you-can-eat-license": (
        "Does the clause grant one party an “enterprise,” “all you can eat” or "
        "unlimited usage license?"
    ),
    "cuad_volume_restriction": (
        "Does the clause specify a fee increase or consent requirement, etc. if one "
        "party’s use of the product/services exceeds certain threshold?"
    ),
    "cuad_warranty_duration": (
        "Does the clause specify a  duration of any warranty against defects or errors "
        "in technology, products, or services provided under the contract?"
    ),
}


def clause_type(row: Mapping[str, Any]) -> str:
    """The row's clause type (a ``cuad_*`` config name), refused with the fix when it is
    missing or not one of LegalBench's: a local file must say which type each row asks."""
    value = row.get(CLAUSE_FIELD)
    if not isinstance(value, str) or value not in CLAUSE_TYPES:
        found = "missing" if value is None else f"{value!r:.60}, not a LegalBench CUAD config"
        raise RowError(
            f"field '{CLAUSE_FIELD}' is {found}: give each row the cuad_* config it comes "
            "from (e.g. 'cuad_audit_rights'; genspec_legal.contracts.CLAUSE_TYPES lists all 38)"
        )
    return str(value)


def question(row: Mapping[str, Any]) -> str:
    """LegalBench's question for the row's clause type."""
    return CLAUSE_TYPES[clause_type(row)]


def item_id(row: Mapping[str, Any]) -> str:
    """``<clause_type>-<index>``: ``index`` restarts at 0 in every config."""
    if row.get("index") is None:
        raise RowError("missing field 'index' (the row number within its clause type)")
    return f"{clause_type(row)}-{row['index']}"


def cuad_task() -> Task:
    """All of LegalBench's CUAD clause types as one yes/no task, scored per type."""
    return classification_task(
        name="cuad",
        description=(
            "CUAD via LegalBench: does a contract clause contain a given kind of provision "
            "(38 clause types, yes/no, scored per type)?"
        ),
        subject="contract review",
        hub=HubSource(
            LEGALBENCH_HUB,
            split="test",
            dev_split="train",
            configs=tuple(CLAUSE_TYPES),
            revision=PARQUET_EXPORT,
            config_field=CLAUSE_FIELD,
            note="One parquet-export folder per clause type; main branch is a loading script.",
        ),
        fields=label_fields(
            id=item_id,
            question=question,
            context="text",
            answer="answer",
            labels=YES_NO,
            category=clause_type,
            keep=("document_name",),
        ),
        report_by_category=True,
        shots_by_category=True,
        by_default=False,
    )
