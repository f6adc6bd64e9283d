"""Tasks declared in a YAML (or TOML) file inside a plugin package, for authors who do
not write Python.

The file holds the same keywords as the toolkit's builders (``multiple_choice_task``,
``classification_task``, ``numeric_task``, ``free_text_task``) and, under ``fields``,
those of the matching field helper (``choice_fields``, ``label_fields``, ...)::

    tasks:
      - name: crop_pests
        kind: multiple_choice
        description: Identify the crop pest from its damage.
        subject: agronomy
        fields: {id: id, question: question, options: choices, answer: answer}

A field is a column name, or one of ``{const: TEXT}``, ``{format: "... {col} ..."}``,
``{optional: COL, default: ""}``, ``{first_of: [COL, ...]}``, ``{joined: COL, key: K,
sep: " "}``, ``{table: COL}``, ``{concat: [FIELD, ...], sep: "\\n"}`` or
``{python: "module:function"}``. Python stays available where a rule is code:
``parser``, ``scorer`` and ``python`` fields name a ``module:function``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from genspec.errors import PluginError, did_you_mean
from genspec.hookspecs import hookimpl
from genspec.task import HubSource, Task, TaskKind
from genspec.toolkit import fields as helpers
from genspec.toolkit.tasks import (
    Declared,
    classification_task,
    free_text_task,
    multiple_choice_task,
    numeric_task,
)

TASK_FILES = ("tasks.yaml", "tasks.yml", "tasks.toml")
BUILDERS: dict[TaskKind, tuple[Callable[..., Task], Callable[..., Any]]] = {
    TaskKind.MULTIPLE_CHOICE: (multiple_choice_task, helpers.choice_fields),
    TaskKind.CLASSIFICATION: (classification_task, helpers.label_fields),
    TaskKind.NUMERIC: (numeric_task, helpers.numeric_fields),
    TaskKind.FREE_TEXT: (free_text_task, helpers.free_text_fields),
}
# fields whose value is a column or a computed field (the others are lists and flags)
FIELD_REFS = ("question", "answer", "id", "context", "category", "target")
CODE_KEYS = ("parser", "scorer", "keep_row")  # a module:function each: rules that are code
REQUIRED = ("name", "description", "subject", "fields")  # the builders' required keywords


class _Where:
    """Names the file and task in every error, so a typo is found without a traceback."""

    def __init__(self, path: Path | str, task: str = "") -> None:
        self.path, self.task = path, task

    def error(self, message: str) -> PluginError:
        place = f"{self.path}" + (f", task '{self.task}'" if self.task else "")
        return PluginError(f"{place}: {message}")


def _known(where: _Where, what: str, given: Mapping[str, Any], known: list[str]) -> None:
    for key in given:
        if key not in known:
            hint = did_you_mean(key, known)
            raise where.error(f"unknown {what} '{key}'.{hint} Known: {', '.join(sorted(known))}.")


def _python(where: _Where, ref: Any) -> Any:
    """The object a ``module:function`` string names."""
    module, _, name = str(ref).partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise where.error(f"cannot import '{ref}' ({error}); write it as module:function") from None


def _field(where: _Where, value: Any) -> helpers.FieldRef:
    """A column name, or a helper spelled as a one-key mapping (plus its options)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping) or not value:
        raise where.error(
            f"a field is a column name or a mapping such as {{const: ...}}, not {value!r}"
        )
    kind, *_ = value
    arg = value[kind]
    options = {k: v for k, v in value.items() if k != kind}
    makers: dict[str, Callable[[], helpers.FieldRef]] = {
        "const": lambda: helpers.const(str(arg)),
        "format": lambda: helpers.formatted(str(arg)),
        "optional": lambda: helpers.optional(str(arg), **options),
        "first_of": lambda: helpers.first_of(*arg),
        "joined": lambda: helpers.joined(str(arg), **options),
        "table": lambda: helpers.table(str(arg)),
        "concat": lambda: helpers.concat(*(_field(where, part) for part in arg), **options),
        "python": lambda: _python(where, arg),
    }
    if kind not in makers:
        _known(where, "field helper", {kind: arg}, list(makers))
    try:
        return makers[kind]()
    except TypeError as error:
        raise where.error(f"field {{{kind}: ...}}: {error}") from None


def _keywords(builder: Callable[..., Any]) -> list[str]:
    return [
        name
        for name, p in inspect.signature(builder).parameters.items()
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]


def build_task(spec: Mapping[str, Any], where: _Where, defaults: Mapping[str, Any]) -> Task:
    """One declared task: the builder of its ``kind`` called with the file's keywords."""
    spec = {**defaults, **spec}
    where = _Where(where.path, str(spec.get("name", "")))
    kinds = [k.value for k in TaskKind]
    kind_name = spec.pop("kind", TaskKind.MULTIPLE_CHOICE.value)
    _known(where, "kind", {kind_name: None}, kinds)
    builder, field_helper = BUILDERS[TaskKind(kind_name)]
    code = {key: _python(where, spec.pop(key)) for key in CODE_KEYS if key in spec}
    if TaskKind(kind_name) is TaskKind.FREE_TEXT and "scorer" in code:
        spec["scorer"] = code.pop("scorer")
    if "keep_row" in code:  # a row predicate is a task keyword, not a rule set afterwards
        spec["keep_row"] = code.pop("keep_row")
    _known(where, "key", spec, [*Declared.__annotations__, *_keywords(builder)])
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise where.error(f"needs {', '.join(missing)} (missing)")
    raw_fields = spec.get("fields")
    if not isinstance(raw_fields, Mapping):
        raise where.error("needs fields: a mapping of the row's columns (question, answer, ...)")
    _known(where, "field key", raw_fields, _keywords(field_helper))
    mapped = {k: _field(where, v) if k in FIELD_REFS else v for k, v in raw_fields.items()}
    spec["fields"] = field_helper(**mapped)
    if isinstance(spec.get("hub"), Mapping):
        _known(where, "hub key", spec["hub"], [f.name for f in dataclass_fields(HubSource)])
        spec["hub"] = HubSource(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in spec["hub"].items()}
        )
    try:
        task = builder(**spec)
    except TypeError as error:  # a required keyword left out
        raise where.error(str(error).replace("()", "")) from None
    if "parser" in code:
        task = replace(task, parse_answer=code["parser"])
    return replace(task, scorer=code["scorer"]) if "scorer" in code else task


def _read_yaml(text: str) -> Any:
    """Safe YAML in which only true/false are booleans: labels such as yes, no, on and
    off stay words (YAML 1.1 would read ``labels: [yes, no]`` as two booleans)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        yaml_implicit_resolvers: ClassVar[dict[str, list[Any]]] = {
            first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    return yaml.load(text, Loader)  # a SafeLoader: no arbitrary objects


def _parse(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        return _read_yaml(text)
    except Exception as error:  # yaml.YAMLError, tomllib.TOMLDecodeError
        first = " ".join(str(error).split())[:200]
        raise _Where(path).error(f"cannot be read ({first})") from None


def load_tasks(path: Path | str, package: str = "") -> list[Task]:
    """The tasks a YAML or TOML file declares; ``package`` holds their sample data
    (``<package>/data/<name>/``). Top-level keys other than ``tasks`` (``domain``,
    ``subject``...) are defaults for every task."""
    path = Path(path)
    document = _parse(path)
    if not isinstance(document, Mapping) or not isinstance(document.get("tasks"), list):
        raise _Where(path).error("needs a top-level 'tasks:' list of task declarations")
    defaults = {key: value for key, value in document.items() if key != "tasks"}
    if package:
        defaults.setdefault("package", package)
    tasks = []
    for number, spec in enumerate(document["tasks"], start=1):
        if not isinstance(spec, Mapping):
            raise _Where(path, f"#{number}").error("each task is a mapping of keywords")
        tasks.append(build_task(spec, _Where(path), defaults))
    return tasks


def task_file(package: str) -> Path:
    """The package's ``tasks.yaml`` (or ``.yml``/``.toml``)."""
    folder = Path(str(files(package)))
    for name in TASK_FILES:
        if (folder / name).is_file():
            return folder / name
    raise PluginError(
        f"plugin package '{package}' has no {' or '.join(TASK_FILES)} in {folder}: add it, "
        f'and list it in [tool.setuptools.package-data] {package} = ["tasks.yaml", ...] of '
        "the plugin's pyproject.toml"
    )


def tasks_hook(package: str) -> Callable[[], list[Task]]:
    """The ``genspec_tasks`` hook reading ``tasks.yaml`` in ``package`` (a plugin module:
    ``genspec_tasks = tasks_hook(__name__)``)."""

    @hookimpl
    def genspec_tasks() -> list[Task]:
        return load_tasks(task_file(package), package)

    return genspec_tasks
