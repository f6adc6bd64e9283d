"""Pre-registration: a plan written before any model is called, and runs held to it.

A verdict is only as honest as the choices made before the data were seen. ``genspec
plan <overrides>`` resolves the same configuration as ``genspec run`` (tasks, data,
roster; no model is loaded or called) and writes down everything that decides the
result: roster (each model's id, role, backend, scoring method and parameters, secrets
masked), tasks with their n after ``limit`` and a fingerprint of the exact items,
seed, prompt policy, α, correction, equivalence margin, and the minimum detectable
effect each n gives. The file carries the SHA-256 of the plan's canonical JSON
(sorted keys, no whitespace), which is what a paper quotes.

``genspec run <overrides> plan=FILE`` rebuilds the plan from its own configuration and
refuses to start, naming the first difference, unless it is identical; the plan and
its hash are then logged to the MLflow parent run.

The MDE is planned without data, so it assumes a share of items on which the two
models disagree (``ASSUMED_DISCORDANCE``), written into the plan beside it; it is the
exact power of Tango's score test, the verdict's test (``stats.exact_power``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from genspec import __version__
from genspec.config.schema import RunConfig
from genspec.data import items_fingerprint
from genspec.errors import ConfigError
from genspec.secrets import redact
from genspec.stats.exact_power import POWER, binary_mde

if TYPE_CHECKING:
    from genspec.engine import Prepared

FORMAT = "genspec-plan/1"
# Share of items on which generalist and specialist disagree, assumed for the planned MDE
# (typical of two models of similar accuracy on 4-option questions).
ASSUMED_DISCORDANCE = 0.3


@dataclass(frozen=True)
class Registered:
    """A plan as written to disk: its content and the SHA-256 of its canonical form."""

    plan: dict[str, Any]
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "genspec_version": __version__,
            "sha256": self.sha256,
            "plan": self.plan,
        }


def canonical(plan: dict[str, Any]) -> bytes:
    """The bytes the hash is taken over: sorted keys, no whitespace, UTF-8."""
    return json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def register(plan: dict[str, Any]) -> Registered:
    """``plan`` with its hash."""
    return Registered(plan, hashlib.sha256(canonical(plan)).hexdigest())


def _mde(n: int, alpha: float) -> float | None:
    mde = binary_mde(n, ASSUMED_DISCORDANCE, alpha=alpha, power=POWER)
    return None if mde is None else round(mde, 4)


def build_plan(config: RunConfig, prepared: Prepared) -> dict[str, Any]:
    """Everything that decides this run's result, as plain JSON data (no model is called)."""
    prepared_tasks, bound_models, *_ = prepared  # the tasks and the models bound to them
    models = [
        {
            "name": m.name,
            "id": m.id,
            "role": m.role.value,
            "backend": m.backend,
            "base": m.base,
            "scoring": m.scoring_method,
            "shots": m.shots,
            "best": m.best,
            "matched": m.matched,
            "params": redact(dict(m.params)),
        }
        for m in bound_models
    ]
    tasks = [
        {
            "name": p.task.name,
            "n": len(p.examples),
            "items": items_fingerprint(p.examples),
            "mde": _mde(len(p.examples), config.alpha),
        }
        for p in prepared_tasks
    ]
    # settings first, then what they resolve to: a changed override is named as itself
    return {
        "domain": config.domain,
        "roster": config.roster.name,
        "data": config.data.source,
        "limit": config.limit,
        "shard": config.shard,
        "seed": config.seed,
        "prompt": {
            "policy": config.prompt,
            "auto_prompts": list(config.auto_prompts),
            "shots": config.shots,
            "max_new_tokens": config.max_new_tokens,
            "dev_limit": config.dev_limit,
            "min_select": config.min_select,
        },
        "statistics": {
            "alpha": config.alpha,
            "correction": config.correction,
            "margin": config.margin,
            "power": POWER,
            "mde_test": "tango-score",
            "mde_assumes_discordance": ASSUMED_DISCORDANCE,
        },
        # the panel that grades open answers and settles ddx near misses (judge.id alone
        # is a panel of one), and the agreement below which its tasks are inconclusive
        "judges": [
            {
                "name": j.name,
                "id": j.id,
                "backend": j.backend,
                "family": j.family,
                "scoring": j.scoring_method,
                "params": redact(dict(j.params)),
            }
            for j in config.panel()
        ],
        "agreement_floor": config.agreement_floor,
        "models": models,
        "tasks": tasks,
    }


def write_plan(registered: Registered, path: Path) -> None:
    """Write the plan file (JSON, indented for reading; the hash is over the canonical form)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(registered.to_json(), indent=2, ensure_ascii=False) + "\n")


def read_plan(path: str | Path) -> Registered:
    """A plan file, checked: readable, a genspec plan, and its hash matches its content."""
    file = Path(path).expanduser()
    try:
        document = json.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"plan={path}: no such file; write one with `genspec plan ...`") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"plan={path} cannot be read as a plan file ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(
            f"plan={path} is not a genspec plan file ({FORMAT}); write one with `genspec plan ...`"
        )
    registered = register(document.get("plan") or {})
    if registered.sha256 != document.get("sha256"):
        raise ConfigError(
            f"plan={path} was edited after it was written: its content no longer matches its "
            f"sha256 {document.get('sha256')}; write a new plan with `genspec plan ...`"
        )
    return registered


def _flat(value: Any, where: str = "") -> dict[str, Any]:
    """Dotted paths to leaf values; list entries with a ``name`` are keyed by it."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flat(inner, f"{where}.{key}" if where else str(key)))
        return flat
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and "name" in v for v in value)
    ):
        flat = {f"{where}": [v["name"] for v in value]}
        for inner in value:
            flat.update(_flat(inner, f"{where}[{inner['name']}]"))
        return flat
    return {where: value}


def first_difference(planned: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """The first key (dotted, in the plan's order) where two plans differ, with both values."""
    flat_planned, flat_actual = _flat(planned), _flat(actual)
    for path in [*flat_planned, *(p for p in flat_actual if p not in flat_planned)]:
        was, now = flat_planned.get(path, "(nothing)"), flat_actual.get(path, "(nothing)")
        if was != now:
            return f"{path} (the plan has {was!r}, this run {now!r})"
    return None


def hold_to_plan(config: RunConfig, prepared: Prepared) -> Registered | None:
    """The run's registered plan when ``plan=FILE`` is set and matches; a one-line
    ``ConfigError`` naming the first difference when it does not; None without a plan."""
    if not config.plan:
        return None
    registered = read_plan(config.plan)
    difference = first_difference(registered.plan, build_plan(config, prepared))
    if difference:
        raise ConfigError(
            f"this run differs from plan {config.plan} (sha256 {registered.sha256[:12]}) at "
            f"{difference}; run exactly the planned overrides, or write a new plan"
        )
    return registered


class _Logger(Protocol):
    def log_params(self, params: dict[str, Any]) -> None: ...
    def log_dict(self, dictionary: Any, artifact_file: str) -> None: ...


def log_registration(run: _Logger, config: RunConfig) -> None:
    """Log the statistics settings to the MLflow parent run, and the plan when there is one.

    ``plan_sha256`` is "none" for a run without a plan, so a reader (and the report) can
    tell "not pre-registered" from "not recorded".
    """
    registered = read_plan(config.plan) if config.plan else None
    run.log_params(
        {
            "alpha": config.alpha,
            "correction": config.correction,
            "margin": config.margin,
            "plan_sha256": registered.sha256 if registered else "none",
        }
    )
    if registered:
        run.log_dict(registered.to_json(), "plan.json")
