"""Medical term maps for the robustness axis: the same case told in a patient's words.

``lay`` swaps clinical terms for the words a patient uses; ``cultural`` swaps a few
symptoms for descriptions heard across cultures (chest pain as heaviness, burning,
"gas" or a heart that "hurts"), the brittleness the seed's risks section names.
Rewordings keep the finding, never add one.
"""

from __future__ import annotations

from genspec.axes.perturbations import Perturbation, term_rewording

LAY_TERMS: dict[str, list[str]] = {
    "myocardial infarction": ["heart attack"],
    "infarction": ["tissue death from a blocked blood supply"],
    "dyspnea": ["trouble breathing", "shortness of breath"],
    "tachycardia": ["a racing heartbeat"],
    "hypertension": ["high blood pressure"],
    "hypotension": ["low blood pressure"],
    "palpitations": ["a pounding or fluttering heartbeat"],
    "dysuria": ["pain when passing urine"],
    "epistaxis": ["a nosebleed"],
    "jaundice": ["yellow skin and eyes"],
    "anemia": ["low blood count"],
    "pneumonia": ["a chest infection"],
    "sepsis": ["a blood infection"],
    "intravenous": ["through a drip"],
    "fatigue": ["tiredness", "feeling worn out"],
    "vomiting": ["throwing up", "being sick"],
    "nausea": ["feeling sick to the stomach"],
    "abdominal pain": ["tummy ache", "belly pain"],
    "fever": ["a high temperature"],
    "stroke": ["a brain attack"],
}

CULTURAL_TERMS: dict[str, list[str]] = {
    "chest pain": [
        "a heavy weight on the chest",
        "a burning in the chest",
        "gas trapped in the chest",
        "a heart that hurts",
        "a tightness like a band around the chest",
    ],
    "dyspnea": ["a feeling that the air will not go in", "a closed-up chest"],
    "palpitations": ["a heart that jumps", "a nervous heart"],
    "dizziness": ["a spinning head", "a weak head"],
    "fatigue": ["no strength in the body", "a heavy body"],
    "headache": ["a heavy head", "pressure in the head"],
}


def perturbations() -> list[Perturbation]:
    return [
        term_rewording("lay", LAY_TERMS, "clinical terms in a patient's words"),
        term_rewording("cultural", CULTURAL_TERMS, "symptoms as described across cultures"),
    ]
