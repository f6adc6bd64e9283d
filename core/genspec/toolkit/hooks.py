"""Ready hooks for a plugin that covers one domain: it names the domain once, and
offers its robustness term maps for that domain only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from genspec.hookspecs import hookimpl

if TYPE_CHECKING:
    from genspec.axes.perturbations import Perturbation


def domain_hook(domain: str) -> Callable[[], str]:
    """The ``genspec_domain`` hook: ``genspec_domain = domain_hook(DOMAIN)``."""

    @hookimpl
    def genspec_domain() -> str:
        return domain

    return genspec_domain


def perturbations_hook(
    own_domain: str, make: Callable[[], list[Perturbation]]
) -> Callable[[str], list[Perturbation]]:
    """The ``genspec_perturbations`` hook offering ``make()`` for ``own_domain`` only:
    ``genspec_perturbations = perturbations_hook(DOMAIN, wording.perturbations)``."""

    @hookimpl
    def genspec_perturbations(domain: str) -> list[Perturbation]:
        return make() if domain == own_domain else []

    return genspec_perturbations
