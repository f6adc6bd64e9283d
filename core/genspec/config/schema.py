"""The validated shape of a run's configuration.

Hydra composes YAML and overrides; these pydantic models then check every key and
value (``extra="forbid"``) before any model is loaded, so a typo fails in one line
naming the key.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genspec.config.shard import Shard


class Role(str, enum.Enum):
    GENERALIST = "generalist"
    SPECIALIST = "specialist"
    BASE = "base"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """One roster entry: what to run and which side of the comparison it is on.

    The facts (``params_b`` ... ``price_out``) are optional and never change a score:
    they let a reader see whether the bigger or newer model won (size and date plots)
    and price models litellm has no price for. ``best: true`` declares the model its
    role's pick before the run, so no dev data chooses it.
    """

    name: str = Field(min_length=1)
    id: str = Field(min_length=1)
    role: Role
    backend: str = "hf"
    base: str | None = None
    scoring: Literal["auto", "loglik", "generate"] = "auto"
    # few-shot examples this model always gets (base models that will not follow an
    # answer format zero-shot; Jeong et al. 2024); null: the template's own number
    shots: int | None = Field(default=None, ge=0)
    best: bool = False
    matched: str | None = None  # a generalist of this specialist's size, compared one-to-one
    params_b: float | None = Field(default=None, gt=0)  # size, billions of parameters
    estimated: bool = False  # params_b is an outside estimate (undisclosed sizes)
    released: dt.date | None = None
    family: str | None = None  # model family or the base it was trained from
    access: Literal["api", "open"] | None = None
    price_in: float | None = Field(default=None, ge=0)  # US$ per million input tokens
    price_out: float | None = Field(default=None, ge=0)  # US$ per million output tokens
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _estimate_needs_size(self) -> ModelSpec:
        if self.estimated and self.params_b is None:
            raise ValueError(f"model '{self.name}': estimated: true needs params_b")
        return self

    def facts(self) -> dict[str, str]:
        """The declared facts as text (MLflow params, results.json, the report); unset
        ones are left out so no reader mistakes "unknown" for a value."""
        values: dict[str, Any] = {
            "params_b": (
                None
                if self.params_b is None
                else f"{self.params_b:g}" + (" (estimated)" if self.estimated else "")
            ),
            "released": self.released.isoformat() if self.released else None,
            "family": self.family,
            "access": self.access,
            "price_in": self.price_in,
            "price_out": self.price_out,
        }
        return {key: str(value) for key, value in values.items() if value is not None}

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
    def _check_entries(self) -> RosterConfig:
        for domain in {None, *self.domains}:
            models = self.for_domain(domain) if domain else self.models
            names = [m.name for m in models]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"model names must be unique in a roster; repeated: {dupes}")
            for model in models:
                if model.base == model.name:  # compared with itself: a difference of 0
                    raise ValueError(
                        f"model '{model.name}' has itself as base; name the model it was "
                        "trained from (a separate roster entry with role: base)"
                    )
                if model.base is not None and model.base not in names:
                    raise ValueError(
                        f"model '{model.name}' has base '{model.base}', which is not in the roster"
                    )
            _check_best(models)
            _check_matched(models)
        return self


def _check_best(models: list[ModelSpec]) -> None:
    """``best: true`` picks one side of the headline: one per side, never a base."""
    for role in Role:
        best = [m.name for m in models if m.best and m.role is role]
        if best and role is Role.BASE:
            raise ValueError(f"best: true is for generalists and specialists, not base {best}")
        if len(best) > 1:
            raise ValueError(f"only one {role.value} may be best: true; marked: {best}")


def _check_matched(models: list[ModelSpec]) -> None:
    """``matched:`` names a generalist of the roster, set on a specialist."""
    generalists = [m.name for m in models if m.role is Role.GENERALIST]
    for model in models:
        if model.matched is None:
            continue
        if model.role is not Role.SPECIALIST:
            raise ValueError(f"model '{model.name}': matched: is for specialists")
        if model.matched not in generalists:
            raise ValueError(
                f"model '{model.name}' has matched '{model.matched}', which is not a "
                f"generalist of the roster (generalists: {generalists})"
            )


class JudgeConfig(_Strict):
    """An optional judge model for the answers a task's rules leave undecided (ddx).

    Off while ``id`` is None: a judge costs money and is less reproducible than a
    rule, so a run uses one only when asked (``judge.id=openai/gpt-4o-mini``).
    """

    id: str | None = None
    backend: str = "litellm"
    params: dict[str, Any] = Field(default_factory=dict)
    # a member of a judge panel (``judges=[...]``): its name in the report (default: the
    # last part of its id), and its family: it never grades a model of that family
    name: str | None = None
    family: str | None = None
    # generate (default): a written verdict; loglik: " yes" against " no", for small
    # local judges (hf) that rarely write the JSON a rubric grade asks for
    scoring: Literal["generate", "loglik"] = "generate"

    def model(self) -> ModelSpec | None:
        """The judge as a model entry, so backends, cache and preflight treat it alike.

        Its role is never used: judge calls are not rows of the comparison.
        """
        if not self.id:
            return None
        return ModelSpec(
            name=self.name or "judge",
            id=self.id,
            role=Role.GENERALIST,
            backend=self.backend,
            scoring=self.scoring,
            params=self.params,
            family=self.family,
        )


def _judge_name(judge: JudgeConfig) -> str:
    """A panel member's default name: the last part of its id (openai/gpt-4o: gpt-4o)."""
    return (judge.id or "judge").rsplit("/", 1)[-1]


class DataConfig(_Strict):
    """``data=sample`` (bundled), ``data=full`` (hub) or ``data=local`` (``data.dir``)."""

    source: Literal["sample", "full", "local"] = "sample"
    dir: str | None = None
    # The dev items split in two by a hash of each item (genspec.data.dev_parts): the
    # ``train`` share teaches adapters and encoders, the rest selects models and prompts.
    # Its own seed, not the run's: an adapter trained once serves runs of any seed.
    dev_train: float = Field(default=0.5, ge=0, lt=1)
    split_seed: int = 0

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
    # MLflow traces (per-item review) per model and task: the first N test items; 0: none.
    # The full per-item tables are logged whatever this is (genspec.tracking.traces).
    traces: int = Field(default=200, ge=0)


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
    # a panel of judges for open answers graded by rubric (genspec.grading); empty: the
    # panel is judge.id alone. Below agreement_floor (Krippendorff's alpha) a task's
    # comparison is "inconclusive: the judges disagree".
    judges: list[JudgeConfig] = Field(default_factory=list)
    agreement_floor: float = Field(default=0.667, gt=0, le=1)
    # fewer select items than this: no choice on data, declared choices are used
    min_select: int = Field(default=3, ge=1)
    allow_mixed_scoring: bool = False  # run a comparison whose sides score differently
    size_matched: bool = False  # each specialist meets the generalist its ``matched:`` names
    gpu_usd_per_hour: float | None = Field(default=None, ge=0)  # prices local models' time
    # statistics: level, correction across a domain's tasks, equivalence margin (a fraction
    # of accuracy: 0.03 is 3 points) and a pre-registered plan to hold the run to
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    correction: Literal["holm", "bh"] = "holm"
    margin: float = Field(default=0.03, gt=0, lt=1)
    plan: str | None = None  # a plan file from `genspec plan`: the run must match it
    # what is measured beside accuracy (genspec.axes): calibration, abstention, robustness,
    # contamination, or all; the default measures accuracy alone and sends nothing more
    axes: list[str] = Field(default_factory=lambda: ["accuracy"])

    def panel(self) -> list[ModelSpec]:
        """The judge panel as model entries: ``judges``, or ``judge.id`` as a panel of one."""
        if not self.judges:
            return [m for m in [self.judge.model()] if m is not None]
        named = [j.model_copy(update={"name": j.name or _judge_name(j)}) for j in self.judges]
        return [m for j in named if (m := j.model()) is not None]

    @field_validator("shard", mode="before")
    @classmethod
    def _shard_form(cls, value: Any) -> str | None:
        if value is None:
            return None
        return str(Shard.parse(str(value)))

    @field_validator("axes", mode="before")
    @classmethod
    def _axes_known(cls, value: Any) -> list[str]:
        from genspec.axes import resolve

        return resolve(value)

    @field_validator("tasks", mode="before")
    @classmethod
    def _tasks_as_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value
