"""The validated shape of a run's configuration.

Hydra composes YAML and overrides; these pydantic models then check every key and
value (``extra="forbid"``) before any model is loaded, so a typo fails in one line
naming the key.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Role(str, enum.Enum):
    GENERALIST = "generalist"
    SPECIALIST = "specialist"
    BASE = "base"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """One roster entry: what to run and which side of the comparison it is on."""

    name: str = Field(min_length=1)
    id: str = Field(min_length=1)
    role: Role
    backend: str = "hf"
    base: str | None = None
    scoring: Literal["auto", "loglik", "generate"] = "auto"
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def scoring_method(self) -> Literal["loglik", "generate"]:
        """``auto`` scores local models (and encoders, which cannot generate) by
        log-likelihood and API models by generation."""
        if self.scoring != "auto":
            return self.scoring
        return "loglik" if self.backend in ("hf", "encoder") else "generate"


class ReportedScore(_Strict):
    """A published number shown beside measured ones, marked "reported", never tested."""

    model: str
    task: str
    score: float = Field(ge=0, le=1)
    role: Role
    source: str
    domain: str | None = None


class RosterConfig(_Strict):
    """Models to compare. ``domains`` adds models that only make sense in one domain
    (a medical specialist has no place in a legal run)."""

    name: str = "custom"
    description: str = ""
    smoke: bool = False
    models: list[ModelSpec] = Field(default_factory=list)
    domains: dict[str, list[ModelSpec]] = Field(default_factory=dict)
    reported: list[ReportedScore] = Field(default_factory=list)

    def for_domain(self, domain: str) -> list[ModelSpec]:
        """The roster's shared models plus the ones declared for ``domain``."""
        return [*self.models, *self.domains.get(domain, [])]

    @model_validator(mode="after")
    def _names_unique_and_bases_known(self) -> RosterConfig:
        for domain in {None, *self.domains}:
            models = self.for_domain(domain) if domain else self.models
            names = [m.name for m in models]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"model names must be unique in a roster; repeated: {dupes}")
            for model in models:
                if model.base is not None and model.base not in names:
                    raise ValueError(
                        f"model '{model.name}' has base '{model.base}', which is not in the roster"
                    )
        return self


class JudgeConfig(_Strict):
    """An optional judge model for the answers a task's rules leave undecided (ddx).

    Off while ``id`` is None: a judge costs money and is less reproducible than a
    rule, so a run uses one only when asked (``judge.id=openai/gpt-4o-mini``).
    """

    id: str | None = None
    backend: str = "litellm"
    params: dict[str, Any] = Field(default_factory=dict)

    def model(self) -> ModelSpec | None:
        """The judge as a model entry, so backends, cache and preflight treat it alike.

        Its role is never used: judge calls are not rows of the comparison.
        """
        if not self.id:
            return None
        return ModelSpec(
            name="judge",
            id=self.id,
            role=Role.GENERALIST,
            backend=self.backend,
            scoring="generate",
            params=self.params,
        )


class DataConfig(_Strict):
    """``data=sample`` (bundled), ``data=full`` (hub) or ``data=local`` (``data.dir``)."""

    source: Literal["sample", "full", "local"] = "sample"
    dir: str | None = None

    @model_validator(mode="after")
    def _local_needs_dir(self) -> DataConfig:
        if self.source == "local" and not self.dir:
            raise ValueError("data=local needs data.dir=DIR (a folder of <task>.jsonl|csv|parquet)")
        return self


class CacheConfig(_Strict):
    mode: Literal["readwrite", "readonly", "writeonly", "off"] = "readwrite"
    dir: str = "~/.cache/genspec"
    # sqlite: one host's disk; files: one file per answer, safe on a folder hosts share (NFS)
    store: Literal["sqlite", "files"] = "sqlite"


class TrackingConfig(_Strict):
    uri: str | None = None
    experiment: str | None = None
    # full: per-example text (secrets masked); redacted: personal data masked too
    # (genspec.tracking.redact); none: no per-example text
    examples: Literal["full", "redacted", "none"] = "full"
    outbox: str = ".genspec/outbox"  # runs kept here while the store is unreachable


class RunConfig(_Strict):
    """Everything one ``genspec run`` needs, after composition and validation."""

    domain: str
    tasks: list[str] | None = None
    limit: int | None = Field(default=None, gt=0)
    seed: int = 1234
    prompt: str = "zero_shot"
    auto_prompts: list[str] = Field(default_factory=lambda: ["zero_shot", "few_shot"], min_length=1)
    dev_limit: int = Field(default=100, gt=0)
    shots: int = Field(default=3, ge=0)
    max_new_tokens: int = Field(default=16, gt=0)
    data: DataConfig = DataConfig()
    roster: RosterConfig
    cache: CacheConfig = CacheConfig()
    tracking: TrackingConfig = TrackingConfig()
    shard: str | None = None  # "I/N": this worker's share of the items (genspec.shards)
    judge: JudgeConfig = JudgeConfig()

    @field_validator("shard", mode="before")
    @classmethod
    def _shard_form(cls, value: Any) -> str | None:
        if value is None:
            return None
        from genspec.shards import Shard

        return str(Shard.parse(str(value)))

    @field_validator("tasks", mode="before")
    @classmethod
    def _tasks_as_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value
