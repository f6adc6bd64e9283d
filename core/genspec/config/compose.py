"""Compose the Hydra config from ``conf/`` plus overrides, then validate it.

Composition and validation happen before any model is loaded, for every job of a
multirun sweep, so a typo in the third domain of a sweep fails in one line at once
rather than after an hour of work.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

from genspec.config.schema import RunConfig
from genspec.config.yaml_guard import check_folder
from genspec.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    import yaml

CONF_DIR = Path(str(files("genspec.conf")))
GROUPS = ("roster", "model", "data", "launcher")
# launcher=NAME → the Hydra launcher plugin it needs and the extra that installs it
LAUNCHERS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "joblib"),
    "slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "ray": ("hydra_plugins.hydra_ray_launcher", "ray"),
}


def group_options(group: str, config_dir: str | None = None) -> list[str]:
    """Names selectable for a config group (``roster=NAME``), from conf/ and --config-dir."""
    roots = [CONF_DIR] + ([Path(config_dir)] if config_dir else [])
    return sorted({p.stem for root in roots for p in (root / group).glob("*.yaml")})


def expand_shorthands(overrides: Sequence[str]) -> list[str]:
    """``cache=readonly`` means ``cache.mode=readonly`` (the mode is what people switch)."""
    return [
        f"cache.mode={o.partition('=')[2]}" if o.partition("=")[0] == "cache" else o
        for o in overrides
    ]


def expand_sweep(overrides: Sequence[str]) -> list[list[str]]:
    """Turn multirun overrides (``domain=a,b``) into one override list per job."""
    parsed = _parse(overrides)
    choices = []
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override():
            values = list(override.sweep_string_iterator())
        else:
            values = [override.get_value_element_as_str()]
        choices.append([f"{key}={value}" for value in values])
    return [list(job) for job in itertools.product(*choices)] or [[]]


def _parse(overrides: Sequence[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except OverrideParseException as error:
        first = " ".join(str(error).split("See https")[0].split())
        raise ConfigError(f"Bad override: {first}. Overrides look like key=value.") from None


def compose(overrides: Sequence[str], config_dir: str | None = None) -> tuple[RunConfig, dict]:
    """The validated run config and the plain resolved dict (for logging) of one job."""
    import yaml
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    _parse(overrides)
    if config_dir:  # before Hydra expands a "billion laughs" alias in a user's file
        check_folder(Path(config_dir))
    overrides, plugin_roster = _plugin_roster(list(overrides), config_dir)
    search = [f"hydra.searchpath=[file://{Path(config_dir).resolve()}]"] if config_dir else []
    _check_group_choices(overrides, config_dir)
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="genspec"):
            cfg = hydra_compose("config", overrides=[*overrides, *search])
        plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    except HydraException as error:
        raise _translate(error) from None
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    except Exception as error:  # omegaconf interpolation and type errors
        raise _resolution_error(error) from None
    if plugin_roster is not None:
        plain["roster"] = plugin_roster
    elif isinstance(plain.get("roster"), dict):
        if "name" not in plain["roster"]:
            # a user's roster file without name: is called by its file name in every message
            chosen = [o.partition("=")[2] for o in overrides if o.lstrip("+").startswith("roster=")]
            plain["roster"]["name"] = chosen[-1] if chosen else "custom"
        plain["roster"] = _with_plugin_parts(plain["roster"])
    return validate(plain), plain


def _with_plugin_parts(roster: dict[str, Any]) -> dict[str, Any]:
    """A roster file plus the domain parts plugins add to a roster of its name (the
    medical plugin's specialists in roster=paper)."""
    from genspec.plugins import merge_roster, registry

    part = registry().rosters.get(roster["name"])
    return roster if part is None else merge_roster(roster, part)


def _plugin_roster(overrides: list[str], config_dir: str | None) -> tuple[list[str], dict | None]:
    """A ``roster=NAME`` that no YAML file defines may come from a plugin's hook."""
    for i, override in enumerate(overrides):
        key, _, value = override.partition("=")
        if key == "roster" and value and value not in group_options("roster", config_dir):
            from genspec.plugins import registry

            rosters = registry().rosters
            if value in rosters:
                return overrides[:i] + overrides[i + 1 :], {"name": value, **rosters[value]}
            raise UnknownNameError(
                "roster",
                value,
                [*group_options("roster", config_dir), *rosters],
                "Add DIR/roster/NAME.yaml and pass --config-dir DIR.",
            )
    return overrides, None


def _check_group_choices(overrides: Sequence[str], config_dir: str | None) -> None:
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key in GROUPS and value and value != "null":
            options = group_options(key, config_dir)
            if value not in options:
                raise UnknownNameError(
                    key, value, options, f"Add DIR/{key}/{value}.yaml and pass --config-dir DIR."
                )
            if key == "launcher" and value in LAUNCHERS:
                _check_launcher(value)


def _check_launcher(name: str) -> None:
    """A launcher is an optional extra: say how to install it, not what Hydra misses."""
    import importlib.util

    module, extra = LAUNCHERS[name]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f'launcher={name} needs its Hydra plugin: pip install "genspec[{extra}]".'
        )


def _translate(error: Exception) -> ConfigError:
    """Hydra's messages, reduced to one line that names the key."""
    text = " ".join(str(error).split())
    if "not in struct" in text or "Could not override" in text or "Could not append" in text:
        key = text.split("'")[1] if "'" in text else "?"
        parent, _, _leaf = key.rpartition(".")
        mapping = next((p for p in (key, parent) if p and _is_mapping(p)), None)
        if mapping:  # e.g. judge.params.x=1: a free-form mapping takes new keys with "+"
            marker = "To append to your config use "
            fix = text.split(marker, 1)[1] if marker in text else f"+{key}=VALUE"
            return ConfigError(
                f"Cannot set '{key}': '{mapping}' takes new keys only with a leading +. Write {fix}"
            )
        known = _known_keys(parent)
        if parent and not known:  # limit.x=1: limit holds a value, not keys
            return ConfigError(
                f"Unknown config key '{key}': '{parent}' takes a value, not keys "
                f"(write {parent}=VALUE)."
            )
        return UnknownNameError(
            "config key", key, [f"{parent}.{k}" if parent else k for k in known]
        )
    return ConfigError(f"Bad config: {text[:300]}")


def _resolution_error(error: Exception) -> ConfigError:
    """An interpolation that cannot be resolved; ``${oc.env:NAME}`` gets its fix."""
    import re

    first = str(error).splitlines()[0]
    missing = re.search(r"Environment variable '([^']+)' not found", first)
    if missing:
        name = missing.group(1)
        return ConfigError(
            f"The config reads environment variable {name}, which is not set: "
            f"export {name}=... (or give a default: ${{oc.env:{name},DEFAULT}})."
        )
    return ConfigError(f"Bad config: {first}")


def _yaml_error(error: yaml.YAMLError) -> ConfigError:
    """A YAML syntax error in a config file (a roster under --config-dir), with the file
    and line: the parser's first line alone ("while parsing a flow node") names neither."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is None:
        return ConfigError(f"Bad YAML in a config file: {problem}.")
    return ConfigError(
        f"{mark.name} line {mark.line + 1}, column {mark.column + 1}: not valid YAML "
        f"({problem}). Fix the file."
    )


def _known_keys(path: str) -> list[str]:
    """Field names under a dotted path of :class:`RunConfig` (for "did you mean")."""
    parts = path.split(".") if path else []
    return [*_fields_at(parts), *(GROUPS if not path else ())]


def _is_mapping(path: str) -> bool:
    """Whether a dotted path of :class:`RunConfig` is a free-form mapping (``params``)."""
    return get_origin(_type_at(path.split("."))) is dict


def validate(plain: dict[str, Any]) -> RunConfig:
    """Check every key and value; the first problem becomes a one-line error naming it."""
    from pydantic import ValidationError

    data = {k: v for k, v in plain.items() if k not in ("hydra", "model")}
    model = plain.get("model")
    if model:  # a preset is a one-model roster, checked with the rest of the config
        data["roster"] = {"name": f"model:{model.get('name', '?')}", "models": [model]}
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(first["loc"])
        if model and loc[:3] == ("roster", "models", 0):
            loc = ("model", *loc[3:])  # name the preset the user chose, not its roster
        where = ".".join(str(p) for p in loc) or "config"
        if first["type"] == "extra_forbidden":
            parent = ".".join(str(p) for p in loc[:-1])
            raise UnknownNameError(
                "key",
                str(loc[-1]),
                _fields_at(first["loc"][:-1]),
                "Fix or remove it in the config file.",
                where=f"in '{parent}'" if parent else "",
            ) from None
        got = first.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        raise ConfigError(f"Bad value for '{where}': {first['msg']}{shown}.") from None


def _fields_at(loc: Sequence[str | int]) -> list[str]:
    """Field names of the :class:`RunConfig` part at a pydantic error location such as
    ``("roster", "models", 0)``, or none where that part is not a model."""
    return list(getattr(_type_at(loc), "model_fields", {}))


def _type_at(loc: Sequence[str | int]) -> Any:
    """The annotation at a location of :class:`RunConfig`; list indices and dict keys
    step into the item type. None where the location does not exist."""
    kind: Any = RunConfig
    for part in loc:
        if hasattr(kind, "model_fields"):
            field = kind.model_fields.get(part)
            kind = getattr(field, "annotation", None)
        else:  # list[X] or dict[str, X]: the part is an index or key, the item is X
            args = get_args(kind)
            kind = args[-1] if args else None
    return kind
