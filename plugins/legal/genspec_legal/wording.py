"""A legal jargon map for the robustness axis: the same item in plain words (``plain``),
as a client would describe the matter to a lawyer."""

from __future__ import annotations

from genspec.axes.perturbations import Perturbation, term_rewording

PLAIN_TERMS: dict[str, list[str]] = {
    "plaintiff": ["the person who sued"],
    "defendant": ["the person being sued"],
    "jurisdiction": ["power to hear the case"],
    "breach": ["breaking"],
    "statute": ["law"],
    "appellee": ["the side that won below"],
    "indemnify": ["cover the losses of"],
    "licensee": ["the one allowed to use it"],
    "licensor": ["the owner granting use"],
    "testimony": ["what a witness said"],
    "declarant": ["the person who made the statement"],
    "injunction": ["court order"],
    "damages": ["money compensation"],
    "negligence": ["carelessness"],
    "counsel": ["the lawyer"],
    "summary judgment": ["a ruling without a trial"],
    "prima facie": ["at first sight"],
    "domicile": ["permanent home"],
    "hearsay": ["second-hand statements"],
}


def perturbations() -> list[Perturbation]:
    return [term_rewording("plain", PLAIN_TERMS, "legal jargon in plain words")]
