"""A finance jargon map for the robustness axis: the same item in plain words
(``plain``), as a retail investor or a news reader would put it."""

from __future__ import annotations

from genspec.axes.perturbations import Perturbation, term_rewording

PLAIN_TERMS: dict[str, list[str]] = {
    "revenue": ["sales", "money coming in"],
    "net income": ["profit after all costs"],
    "earnings": ["profits"],
    "dividend": ["payout to shareholders"],
    "equity": ["owners' stake"],
    "liabilities": ["what the company owes"],
    "assets": ["what the company owns"],
    "shareholders": ["owners of the shares"],
    "operating income": ["profit from the business itself"],
    "operating margin": ["share of sales kept as operating profit"],
    "gross margin": ["share of sales left after production costs"],
    "cash flow": ["cash coming in and going out"],
    "depreciation": ["wear-and-tear charge"],
    "amortization": ["spread-out cost"],
    "impairment": ["write-down"],
    "interest rate": ["cost of borrowing"],
    "debt": ["borrowing"],
    "guidance": ["forecast"],
    "fiscal": ["financial"],
}


def perturbations() -> list[Perturbation]:
    return [term_rewording("plain", PLAIN_TERMS, "financial jargon in plain words")]
