"""The run's training step: the adapters and encoders a roster needs, found in the cache
or trained now — before any scoring, each with its own progress bar (opened through
``bar``: the engine draws it with the run's other bars).

Backends never train: they receive the trained folder (:func:`loadable`). The plans come
from :func:`genspec.adapt.plan.bind_plans`, built once when the run is prepared, so
the data trained on is the data the cache key was computed from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from genspec.adapt.plan import ENCODER, LORA, Plan, cache_dir, trained_kind
from genspec.config.schema import ModelSpec

if TYPE_CHECKING:
    from genspec.adapt.train import Step

#: opens a progress bar (description, steps) and returns what each finished step calls
OpenBar = Callable[[str, int], Callable[["Step"], None]]


def ready(spec: ModelSpec, plan: Plan, bar: OpenBar) -> Path:
    """The trained folder of a bound entry: from the cache, or trained now."""
    kind = trained_kind(spec)
    assert kind is not None, f"model '{spec.name}' has a plan, so it is trained here"
    folder = cache_dir(kind, plan.key)
    if (folder / kind.marker).is_file():
        return folder
    if kind is LORA:
        from genspec.adapt.lora import train_entry

        description = f"adapting {spec.name} to {plan.domain}"
    else:
        from genspec.adapt.encoders import train_entry

        description = f"fine-tuning {spec.name} on {plan.domain}"
    return train_entry(spec, plan, bar(description, plan.settings.steps))


def loadable(spec: ModelSpec, folder: Path) -> ModelSpec:
    """The entry as its backend loads it: the adapter's folder (``hf``), or the fine-tuned
    encoder's folder as its id. The bound entry keeps its own identity for the cache key."""
    if trained_kind(spec) is ENCODER:
        return spec.model_copy(update={"id": str(folder)})
    return spec.model_copy(update={"params": {**spec.params, "adapter": str(folder)}})


def train_missing(
    models: Sequence[ModelSpec], plans: Mapping[str, Plan], bar: OpenBar
) -> dict[str, ModelSpec]:
    """Every planned entry, trained if its folder is missing, as its backend loads it."""
    return {m.name: loadable(m, ready(m, plans[m.name], bar)) for m in models if m.name in plans}
