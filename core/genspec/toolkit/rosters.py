"""A ready ``genspec_rosters`` hook for plugins that ship roster parts beside their code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from genspec.hookspecs import hookimpl

ROSTER_FOLDER = "rosters"


def roster_part(domain: str, text: str) -> dict[str, Any]:
    """One ``rosters/NAME.yaml`` file as this domain's part of roster NAME.

    The file lists ``models:`` (and optionally ``reported:``) for ``domain`` only, so it
    names the domain nowhere: the plugin declared it once.
    """
    import yaml

    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError("a roster part is a mapping with models: and reported:")
    part: dict[str, Any] = {"domains": {domain: list(data.get("models") or [])}}
    reported = [{**score, "domain": domain} for score in data.get("reported") or []]
    if reported:
        part["reported"] = reported
    return part


def rosters_hook(own_domain: str, package_file: str) -> Callable[[], dict[str, Any]]:
    """The ``genspec_rosters`` hook offering each ``rosters/NAME.yaml`` beside
    ``package_file`` (the plugin's ``__file__``) as ``own_domain``'s part of roster NAME.

    In a plugin module: ``genspec_rosters = rosters_hook(DOMAIN, __file__)``; the package
    data must include ``rosters/*.yaml``.
    """

    @hookimpl
    def genspec_rosters() -> dict[str, Any]:
        folder = Path(package_file).parent / ROSTER_FOLDER
        return {
            path.stem: roster_part(own_domain, path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("*.yaml"))
        }

    return genspec_rosters
