"""What a recipe trains on, proven apart from the test items, and the key it is cached by.

A :class:`Plan` is built before any model loads (no torch here): the domain text, the
supervised items posed exactly as the run will pose them, and two checks — no
supervised item has the content of a test item of any task in the domain (the
engine's dev/test rule, applied across tasks), and no corpus document quotes a test
question. The key hashes the base model's identity, the data, the recipe and the seed:
the same key is the same adapter, and a changed corpus or item is a new one.

:func:`bind` is how roster entries become concrete: ``adapter: auto`` (hf) and
``backend: encoder`` entries get the run's domain and data source and the key, so the
answer cache tells an adapter trained on other data apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genspec.adapt.corpus import Document, check_uncontaminated, gather
from genspec.adapt.settings import AdaptSettings, EncoderSettings, TrainSettings, parse
from genspec.config.schema import DataConfig, ModelSpec
from genspec.data import _content, dev_parts, load_task_data, provides
from genspec.errors import DataError, UnknownNameError
from genspec.prompting import build_request, gold_answer
from genspec.requests import LoglikRequest, Request
from genspec.task import Example, Task

AUTO = "auto"
#: bump when the trainer changes what a recipe produces, so stale adapters are not reused
FORMAT = 1
#: params that say how to run a model, not what it is (left out of the base identity)
RUNTIME_PARAMS = frozenset({"adapter", "adapt", "train", "batch_tokens", "package", "device"})


@dataclass(frozen=True)
class Supervised:
    """One training item: the request the run would send and the gold answer, written
    as the model is scored on it (`` B`` after ``Answer:``, or the generated text)."""

    task: str
    example: Example
    request: Request
    target: str


@dataclass(frozen=True)
class Plan:
    """Everything that determines a trained adapter or encoder (see the module doc)."""

    base: ModelSpec
    settings: TrainSettings
    domain: str
    documents: tuple[Document, ...]
    items: tuple[Supervised, ...]
    test_items: int  # test items of the domain the data was checked against
    skipped: tuple[str, ...]  # tasks whose data this source does not have

    @property
    def data_fingerprint(self) -> str:
        """Hash of the text and items trained on (not of where the files were)."""
        digest = hashlib.sha256()
        for document in self.documents:
            digest.update(b"doc\0" + document.text.encode() + b"\0")
        for item in self.items:
            raw = json.dumps([item.task, _content(item.example), item.example.gold], default=str)
            digest.update(b"item\0" + raw.encode() + b"\0")
        return digest.hexdigest()[:16]

    @property
    def key(self) -> str:
        """Cache folder name: readable prefix, hash of base + data + recipe + seed."""
        payload = {
            "format": FORMAT,
            "base": base_identity(self.base),
            "data": self.data_fingerprint,
            "recipe": self.settings.model_dump(mode="json", exclude={"key", "data"}),
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        return f"{_slug(self.base.id)}-{self.domain}-{digest[:16]}"

    def summary(self) -> dict[str, Any]:
        """What was trained on, for the adapter's metadata file and MLflow params."""
        tasks = sorted({item.task for item in self.items})
        return {
            "key": self.key,
            "domain": self.domain,
            "base": base_identity(self.base),
            "data_fingerprint": self.data_fingerprint,
            "documents": [d.source for d in self.documents],
            "corpus_chars": sum(len(d.text) for d in self.documents),
            "supervised_items": len(self.items),
            "supervised_tasks": tasks,
            "test_items_checked": self.test_items,
            "skipped_tasks": list(self.skipped),
            "recipe": self.settings.model_dump(mode="json", exclude={"key"}),
        }


def base_identity(spec: ModelSpec) -> dict[str, Any]:
    """The model trained from: id, backend and the params that change its weights."""
    params = {k: v for k, v in spec.params.items() if k not in RUNTIME_PARAMS}
    return {"id": spec.id, "backend": spec.backend, "params": params}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text.split("/")[-1].removeprefix("pkg:")).strip("-")


def build(base: ModelSpec, settings: TrainSettings) -> Plan:
    """Read the data a bound recipe names and check it against the domain's test items."""
    from genspec.plugins import registry

    if settings.domain is None or settings.data is None:
        raise DataError(
            f"model '{base.name}': a training recipe needs a domain and a data source "
            "(genspec run and genspec adapt bind them from the run)"
        )
    domain, data = settings.domain, settings.data
    every = registry().tasks_for(domain)
    tasks = _tasks(every, settings.tasks, domain)
    items: list[Supervised] = []
    dev_items: list[Supervised] = []  # every dev item, checked for leaks; ``items`` trains
    test: list[Example] = []
    skipped: list[str] = []
    method = "loglik" if isinstance(settings, EncoderSettings) else base.scoring_method
    for task in tasks:
        try:
            loaded = load_task_data(task, data)
        except DataError:
            if settings.tasks is not None:  # named on purpose: its absence is an error
                raise
            skipped.append(task.name)
            continue
        test += loaded.test
        template = task.prompts.get(settings.template)
        if template is None:
            raise UnknownNameError(
                "prompt", settings.template, task.prompts, where=f"for task '{task.name}'"
            )
        # train on the train part only: the select part chooses models and prompts
        train = {id(ex) for ex in dev_parts(loaded.dev, data.dev_train, data.split_seed).train}
        for ex in loaded.dev:
            request = build_request(
                task.kind, template, task.subject, ex, (), method=method, max_new_tokens=16
            )
            target = (
                request.continuations[ex.gold]
                if isinstance(request, LoglikRequest)
                else gold_answer(task.kind, ex)
            )
            dev_items.append(Supervised(task.name, ex, request, target))
            if id(ex) in train:
                items.append(dev_items[-1])
    # checked against every task of the domain, not only those trained on: MMLU and
    # MedQA share items, and a text-only recipe (tasks=[]) still reads a corpus
    test += _test_items([t for t in every if t not in tasks], data)
    _check_disjoint(dev_items, test)
    documents: list[Document] = []
    if isinstance(settings, AdaptSettings):
        documents = gather(domain, settings, registry().corpora.get(domain, []))
    checked = check_uncontaminated(documents, test)
    if not items and not documents:
        raise DataError(
            f"model '{base.name}': nothing to train on for domain '{domain}' "
            f"(no corpus text and no dev items in data={data.source})"
        )
    return Plan(base, settings, domain, tuple(documents), tuple(items), checked, tuple(skipped))


def _tasks(tasks: Sequence[Task], names: list[str] | None, domain: str) -> list[Task]:
    """The recipe's tasks: named ones, or every task whose answer is a choice."""
    if names is None:
        return [t for t in tasks if t.kind.has_choices]
    by_name = {t.name: t for t in tasks}
    for name in names:
        if name not in by_name or not by_name[name].kind.has_choices:
            known = [t.name for t in tasks if t.kind.has_choices]
            raise UnknownNameError("choice task", name, known, where=f"in domain '{domain}'")
    return [by_name[name] for name in names]


def _test_items(tasks: Sequence[Task], data: DataConfig) -> list[Example]:
    """The test items of ``tasks`` that this data source has (a missing local file or
    licensed task is no test item to guard)."""
    test: list[Example] = []
    for task in tasks:
        if provides(data.source, task):
            with contextlib.suppress(DataError):
                test += load_task_data(task, data).test
    return test


def _check_disjoint(items: Sequence[Supervised], test: Sequence[Example]) -> None:
    """No training item may be a test item of *any* task (MMLU and MedQA share items)."""
    test_content = {_content(ex) for ex in test}
    leaked = [item for item in items if _content(item.example) in test_content]
    if leaked:
        raise DataError(
            f"{len(leaked)} training item(s) are also test items (e.g. '{leaked[0].example.id}' "
            f"of task '{leaked[0].task}'); remove them from the dev/train split."
        )


# --- roster entries ----------------------------------------------------------------


@dataclass(frozen=True)
class Trained:
    """A kind of trained model: which param holds its recipe, the recipe's type, the cache
    folder it is kept in and the file that is there once training has finished."""

    field: str
    settings: type[TrainSettings]
    folder: str
    marker: str


LORA = Trained("adapt", AdaptSettings, "adapters", "adapter_config.json")
ENCODER = Trained("train", EncoderSettings, "encoders", "config.json")


def trained_kind(spec: ModelSpec) -> Trained | None:
    """Whether a roster entry is made here: an ``adapter: auto`` LM or an encoder."""
    if spec.backend == "encoder":
        return ENCODER
    if spec.backend == "hf" and spec.params.get("adapter") == AUTO:
        return LORA
    return None


def recipe(spec: ModelSpec, kind: Trained) -> Any:
    """The entry's validated recipe (``params.adapt`` or ``params.train``)."""
    return parse(
        kind.settings, spec.params.get(kind.field), f"model '{spec.name}' params.{kind.field}"
    )


def base_of(spec: ModelSpec) -> ModelSpec:
    """The entry without its recipe: what the adapter is trained from."""
    params = {k: v for k, v in spec.params.items() if k not in ("adapter", "adapt", "train")}
    return spec.model_copy(update={"params": params})


def bind(models: Sequence[ModelSpec], domain: str, data: DataConfig) -> list[ModelSpec]:
    """Give trained entries the run's domain and data (unless they name their own) and key."""
    return bind_plans(models, domain, data)[0]


def bind_plans(
    models: Sequence[ModelSpec], domain: str, data: DataConfig
) -> tuple[list[ModelSpec], dict[str, Plan]]:
    """:func:`bind`, and the plan of each trained entry by model name: built once, here,
    and handed to the run's training step (the data is read and checked only once)."""
    bound, built = [], {}
    for spec in models:
        kind = trained_kind(spec)
        if kind is None:
            bound.append(spec)
            continue
        settings = recipe(spec, kind)
        settings = settings.model_copy(
            update={"domain": settings.domain or domain, "data": settings.data or data}
        )
        plan = build(base_of(spec), settings)
        filled = {**settings.model_dump(mode="json"), "key": plan.key}
        bound.append(spec.model_copy(update={"params": {**spec.params, kind.field: filled}}))
        built[spec.name] = plan
    return bound, built


def cache_dir(kind: Trained, key: str) -> Path:
    """Where a trained adapter or encoder is kept: ``<genspec cache>/<folder>/<key>``."""
    from genspec.backends.locate import cache_root

    return cache_root() / kind.folder / key
