"""Training recipes: every field changes what is trained, so every field is in the key.

A recipe lives in a roster entry (``params.adapt`` for a LoRA specialist,
``params.train`` for an encoder) or comes from ``genspec adapt adapt.KEY=VALUE``.
Unknown keys fail before anything loads, like the rest of the config. ``domain`` and
``data`` are bound from the run when the entry leaves them out (:func:`.plan.bind`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genspec.config.schema import DataConfig
from genspec.errors import ConfigError


class HubCorpus(BaseModel):
    """A text dataset read with ``datasets.load_dataset(path, name, data_files, split)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    name: str | None = None
    data_files: list[str] | None = None
    split: str = "train"
    field: str = "text"
    limit: int = Field(default=2000, gt=0)  # rows read: a few steps never see more


class TrainSettings(BaseModel):
    """What every trainer here shares: optimisation, data selection and the seed.

    ``batch_size`` is sequences per optimiser step, whatever the device: on a GPU
    that runs out of memory the step is split into smaller micro-batches with the
    same gradient, so the recipe (and the adapter) does not depend on the card.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(default=16, gt=0)
    batch_size: int = Field(default=4, gt=0)
    seq_len: int = Field(default=256, ge=16)
    lr: float = Field(default=1e-3, gt=0)
    seed: int = 1234
    tasks: list[str] | None = None  # None: every choice task of the domain; []: none
    template: str = "zero_shot"  # supervised items are posed as the run poses them
    domain: str | None = None  # None: the run's domain
    data: DataConfig | None = None  # None: the run's data source
    key: str | None = None  # set by plan.bind: the trained folder, and part of the cache key


class AdaptSettings(TrainSettings):
    """A LoRA recipe: continued pre-training on domain text and/or supervised items."""

    rank: int = Field(default=8, gt=0)
    alpha: float = Field(default=16.0, gt=0)
    target_modules: list[str] | None = None  # None: peft's default for the architecture
    corpus: bool = True  # the plugins' bundled domain text
    files: list[str] = Field(default_factory=list)  # local .txt/.md files or folders
    hub: HubCorpus | None = None


class EncoderSettings(TrainSettings):
    """Full fine-tuning of an encoder's multiple-choice head (and body) on task items."""

    steps: int = Field(default=60, gt=0)
    batch_size: int = Field(default=8, gt=0)
    lr: float = Field(default=5e-5, gt=0)


def parse(kind: type[TrainSettings], raw: Any, where: str) -> Any:
    """Validate a recipe; the first problem becomes one line naming the key."""
    from pydantic import ValidationError

    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping of settings, got {type(raw).__name__}.")
    try:
        return kind.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "?"
        raise ConfigError(f"Bad value for '{where}.{key}': {first['msg']}.") from None
