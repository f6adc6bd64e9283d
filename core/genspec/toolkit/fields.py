"""Map raw benchmark rows (in the hub's schema) into :class:`genspec.task.Example`.

Plugins declare *which* fields hold what; these builders do the reading and give
one precise error per bad row (``RowError`` names the field; the loader adds the
file and line).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from string import Formatter
from typing import Any, Literal

from genspec.task import LETTERS, Example, RowMapper

Getter = Callable[[Mapping[str, Any]], Any]
FieldRef = str | Getter
"""A field name in the row, or a function computing a value from the row."""


class RowError(ValueError):
    """A row that does not fit the declared schema (the message names the field)."""


def const(value: str) -> Getter:
    """A field reference that always yields ``value`` (e.g. a fixed question)."""
    return lambda _row: value


def formatted(template: str) -> Getter:
    """A text built from the row's fields, e.g. ``formatted("Sentiment towards {target}?")``;
    a missing or null field is a :class:`RowError` naming it, like any declared field."""
    names = [name for _, name, _, _ in Formatter().parse(template) if name]
    return lambda row: template.format(**{name: _require(row, name) for name in names})


def optional(field: str, default: str = "") -> Getter:
    """A field that rows may leave out or null (e.g. a local file's id or category)."""
    return lambda row: default if row.get(field) is None else row[field]


def first_of(*fields: str) -> Getter:
    """The first of ``fields`` that is present and not blank: for benchmarks whose main
    field is empty in some rows while another holds the same answer (FinQA's ``answer``
    is ``""`` where its ``final_result`` has the executed result)."""

    def get(row: Mapping[str, Any]) -> Any:
        for field in fields:
            value = row.get(field)
            if value is not None and str(value).strip():
                return value
        raise RowError(f"fields {', '.join(repr(f) for f in fields)} are all missing or empty")

    return get


def joined(field: str, key: str | None = None, sep: str = "\n") -> Getter:
    """Join a list field (or ``row[field][key]`` for nested dicts such as PubMedQA's)."""

    def get(row: Mapping[str, Any]) -> str:
        value = _require(row, field)
        if key is not None:
            if not isinstance(value, Mapping) or key not in value:
                raise RowError(f"field '{field}' has no key '{key}'")
            value = value[key]
        if isinstance(value, str):
            return value
        return sep.join(str(v) for v in value)

    return get


def table(field: str) -> Getter:
    """Render a table field (a list of rows of cells) as pipe-separated lines."""

    def get(row: Mapping[str, Any]) -> str:
        return "\n".join(" | ".join(str(cell) for cell in r) for r in _list(row, field))

    return get


def concat(*parts: FieldRef, sep: str = "\n") -> Getter:
    """Several fields or getters joined into one text (e.g. text, table, text)."""
    return lambda row: sep.join(filter(None, (str(_read(row, p)).strip() for p in parts)))


def _kept(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, str]:
    """Fields copied for review (e.g. an explanation); a missing or null one is ""."""
    return {name: "" if row.get(name) is None else str(row[name]) for name in names}


def _require(row: Mapping[str, Any], field: str) -> Any:
    if field not in row:
        raise RowError(f"missing field '{field}' (row has: {', '.join(map(str, row)) or 'none'})")
    value = row[field]
    if value is None:
        raise RowError(f"field '{field}' is empty")
    return value


def _list(row: Mapping[str, Any], field: str) -> Sequence[Any]:
    """A list field (options, table rows). A text there is refused with the fix: a CSV
    cell cannot hold a list, and guessing how the writer spelled one could misread it."""
    value = _require(row, field)
    if isinstance(value, str):
        raise RowError(
            f"field '{field}' should be a list, got the text {value[:40]!r} (a CSV file "
            "cannot hold lists: save this task as .jsonl or .parquet)"
        )
    if not isinstance(value, Sequence):
        raise RowError(f"field '{field}' should be a list, got {type(value).__name__}")
    return value


def _read(row: Mapping[str, Any], ref: FieldRef | None, default: Any = "") -> Any:
    if ref is None:
        return default
    if callable(ref):
        return ref(row)
    return _require(row, ref)


def _text(row: Mapping[str, Any], ref: FieldRef | None) -> str:
    value = _read(row, ref)
    if not isinstance(value, str | int | float):
        raise RowError(f"field '{ref}' should be text, got {type(value).__name__}")
    return str(value).strip()


NO_CATEGORY = "(none)"


def _category(row: Mapping[str, Any], ref: FieldRef) -> str:
    """A row's category, or ``(none)`` where its field is null or blank (some MedMCQA
    exports have ``subject_name: null``): a category only drives the breakdown, so such
    a row is counted under "(none)" rather than refused."""
    if isinstance(ref, str) and ref in row and (row[ref] is None or not str(row[ref]).strip()):
        return NO_CATEGORY
    return _text(row, ref)


def _example_id(row: Mapping[str, Any], ref: FieldRef | None, row_number: int) -> str:
    """The row's id, or its row number when there is no id field (or it is empty)."""
    value = _read(row, ref) if ref is not None else None
    return str(row_number) if value is None or value == "" else str(value)


def _index(value: Any, names: Sequence[str], fmt: str, ref: FieldRef) -> int:
    """Decode a gold answer in its stored format into a 0-based index into ``names``.

    ``names`` are what the answer may be written as: the option or label texts, or the
    option letters. An ``index`` answer may also be one of them, because the hub stores
    such answers as a ClassLabel, which an export can write as its int or its name (MMLU
    ``"B"``, MedMCQA ``"b"``, Financial PhraseBank ``"negative"``).
    """
    field = ref if isinstance(ref, str) else "answer"
    try:
        index = _decode(value, names, fmt)
    except (ValueError, TypeError):
        raise RowError(
            f"field '{field}' has an answer '{value}' that is not a valid {fmt} "
            f"(allowed: {_allowed(names, fmt)})"
        ) from None
    if not 0 <= index < len(names):
        raise RowError(f"field '{field}' answer {value!r} is out of range for {len(names)} options")
    return index


def _allowed(names: Sequence[str], fmt: str) -> str:
    """The answers a row may hold, for the error that refuses one (a bad label lists the
    task's labels, so the fix is a look at the message, not at the plugin's code)."""
    count = len(names)
    if fmt == "one_based":
        return f"1-{count}"
    if fmt == "letter":
        return f"A-{LETTERS[count - 1]}"
    listed = ", ".join(repr(name) for name in names)
    return f"0-{count - 1} or one of {listed}" if fmt == "index" else f"one of {listed}"


def _decode(value: Any, names: Sequence[str], fmt: str) -> int:
    """The raw index an answer stands for; ``ValueError`` when it stands for none."""
    if fmt == "one_based":
        return int(value) - 1
    if fmt == "letter":
        return LETTERS.index(str(value).strip().upper()[:1])
    if fmt == "index":
        try:
            return int(value)
        except (ValueError, TypeError):
            pass  # a ClassLabel name: matched like a text below
    lowered = [name.lower() for name in names]
    return lowered.index(str(value).strip().lower())


@dataclass(frozen=True)
class _Shared:
    """The fields every kind of row has; each mapper adds its own answer fields."""

    question: FieldRef
    id: FieldRef | None
    context: FieldRef | None
    category: FieldRef | None
    keep: tuple[str, ...]

    def example(self, row: Mapping[str, Any], row_number: int, **answer: Any) -> Example:
        return Example(
            id=_example_id(row, self.id, row_number),
            question=_text(row, self.question),
            context=_text(row, self.context) if self.context is not None else "",
            category=_category(row, self.category) if self.category is not None else None,
            extra=_kept(row, self.keep),
            **answer,
        )


def choice_fields(
    *,
    question: FieldRef,
    options: Sequence[str] | str,
    answer: FieldRef,
    answer_format: Literal["index", "one_based", "letter", "text"] = "index",
    id: FieldRef | None = None,
    context: FieldRef | None = None,
    category: FieldRef | None = None,
    keep: Sequence[str] = (),
) -> RowMapper:
    """Mapper for multiple-choice rows.

    ``options`` is either a list of field names (``["opa", "opb", ...]``) or one field
    holding a list (``"choices"``). ``keep`` names fields copied into ``Example.extra``
    (e.g. an explanation kept for review).
    """

    shared = _Shared(question, id, context, category, tuple(keep))

    def to_example(row: Mapping[str, Any], row_number: int) -> Example:
        if isinstance(options, str):
            texts = tuple(str(o).strip() for o in _list(row, options))
        else:
            texts = tuple(_text(row, name) for name in options)
        if len(texts) < 2:
            raise RowError(f"needs at least 2 options, found {len(texts)}")
        names = texts if answer_format == "text" else LETTERS[: len(texts)]
        gold = _index(_read(row, answer), names, answer_format, answer)
        return shared.example(row, row_number, choices=texts, gold=gold)

    return to_example


def numeric_fields(
    *,
    question: FieldRef,
    answer: FieldRef,
    id: FieldRef | None = None,
    context: FieldRef | None = None,
    category: FieldRef | None = None,
    keep: Sequence[str] = (),
) -> RowMapper:
    """Mapper for free-form numeric rows: the gold answer is kept as text (``target``)."""

    shared = _Shared(question, id, context, category, tuple(keep))

    def to_example(row: Mapping[str, Any], row_number: int) -> Example:
        target = _text(row, answer)
        if not target:
            raise RowError(f"field '{answer if isinstance(answer, str) else 'answer'}' is empty")
        return shared.example(row, row_number, choices=(), gold=-1, target=target)

    return to_example


def label_fields(
    *,
    question: FieldRef,
    answer: FieldRef,
    labels: Sequence[str],
    answer_format: Literal["index", "text"] = "text",
    id: FieldRef | None = None,
    context: FieldRef | None = None,
    category: FieldRef | None = None,
    keep: Sequence[str] = (),
) -> RowMapper:
    """Mapper for classification rows with a fixed label set (yes/no, sentiment, ...).

    With ``answer_format="text"`` the stored answer is matched to ``labels``
    case-insensitively ("Yes" → "yes"); with ``"index"`` it is a 0-based position.
    """
    label_set = tuple(labels)

    shared = _Shared(question, id, context, category, tuple(keep))

    def to_example(row: Mapping[str, Any], row_number: int) -> Example:
        gold = _index(_read(row, answer), label_set, answer_format, answer)
        return shared.example(row, row_number, choices=label_set, gold=gold)

    return to_example


def _accepted(row: Mapping[str, Any], names: Sequence[str]) -> tuple[str, ...]:
    """The non-empty texts of ``names`` in order: each field is a text or a list of texts."""
    texts: list[str] = []
    for name in names:
        value = row.get(name)
        values = value if isinstance(value, list | tuple) else [value]
        texts += [str(v).strip() for v in values if v is not None and str(v).strip()]
    return tuple(texts)


def free_text_fields(
    *,
    question: FieldRef,
    target: FieldRef,
    references: Mapping[str, Sequence[str]],
    id: FieldRef | None = None,
    context: FieldRef | None = None,
    category: FieldRef | None = None,
    keep: Sequence[str] = (),
) -> RowMapper:
    """Mapper for free-text rows scored against accepted answers.

    ``target`` is the gold answer as a model should write it (shown in few-shot
    examples and the results table). ``references`` names sets of accepted answers,
    each read from fields holding a text or a list of texts, canonical first, e.g.
    ``{"diagnosis": ["diagnosis", "synonyms"]}``. The first set must not be empty.
    """
    first = next(iter(references))

    shared = _Shared(question, id, context, category, tuple(keep))

    def to_example(row: Mapping[str, Any], row_number: int) -> Example:
        accepted = {name: _accepted(row, fields) for name, fields in references.items()}
        if not accepted[first]:
            raise RowError(f"field '{references[first][0]}' is empty")
        return shared.example(
            row,
            row_number,
            choices=(),
            gold=-1,
            target=_text(row, target),
            references={name: texts for name, texts in accepted.items() if texts},
        )

    return to_example
