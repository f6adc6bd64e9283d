"""The plugin contract: pluggy hook specifications (genspec's public API for plugins).

A domain plugin is any installed package that registers a module under the entry-point
group ``genspec`` and implements some of these hooks with ``@genspec.hookimpl``::

    # pyproject.toml of the plugin package
    [project.entry-points.genspec]
    agriculture = "genspec_agriculture"

    # genspec_agriculture/__init__.py
    import genspec
    from genspec.toolkit import multiple_choice_task, ...

    @genspec.hookimpl
    def genspec_domain():
        return "agriculture"

    @genspec.hookimpl
    def genspec_tasks():
        return [multiple_choice_task(...)]

The bundled plugins (medical, finance, legal) are discovered exactly this way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from genspec.axes.perturbations import Perturbation
    from genspec.task import Task

PROJECT = "genspec"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def genspec_tasks() -> list[Task]:
    """Return the tasks this plugin defines (their domain: ``genspec_domain``, or each
    task's own ``domain``).

    Build them with :mod:`genspec.toolkit` (``multiple_choice_task``,
    ``classification_task``). Invalid tasks are reported and skipped.
    """


@hookspec
def genspec_domain() -> str:
    """Return the domain this plugin's tasks belong to (declared once, not per task).

    A task built without ``domain=`` gets it, and one built without ``package=`` reads
    its bundled samples from the plugin's own package.
    """


@hookspec
def genspec_rosters() -> dict[str, dict[str, Any]]:
    """Return rosters, or this domain's part of a roster, by roster name.

    A whole roster is ``{"description": ..., "models": [...]}``. A part adds a domain's
    models to a roster of that name (``{"domains": {"medical": [...]}, "reported":
    [...]}``): the plugin that knows the domain's specialists owns them, and the core's
    ``conf/roster/paper.yaml`` holds only the generalists. Models use the same keys as a
    roster file (name, id, role, backend, base, params). A roster file in ``conf/roster``
    or a user ``--config-dir`` wins over a plugin's roster, and over its part for a
    domain the file already lists. ``genspec.toolkit.rosters_hook`` reads a plugin's
    ``rosters/*.yaml`` files.
    """


@hookspec
def genspec_corpus(domain: str) -> list[str | Path]:
    """Return domain text for training adapters: files or folders of ``.txt``/``.md``.

    Called once per domain that some plugin provides; return ``[]`` for domains this
    plugin does not cover. ``genspec adapt`` and ``adapter: auto`` roster entries use it
    for continued pre-training (``genspec_corpus = genspec.toolkit.corpus_hook(DOMAIN,
    __file__)`` offers a ``corpus/`` folder beside the plugin). Text that quotes a test
    question is refused when an adapter is trained.
    """


@hookspec
def genspec_backends() -> dict[str, str | type]:
    """Return extra model backends by name, e.g. a company's internal inference service.

    Each value is a lazy ``"package.module:Class"`` reference (imported only when a roster
    entry names the backend, as lm-evaluation-harness's registry does) or the class
    itself: a subclass of :class:`genspec.backends.base.Backend` (``loglikelihood`` and
    ``generate``; an HTTP service can reuse :mod:`genspec.backends.concurrency` for
    retries and bounded concurrency). A roster entry then says ``backend: NAME``. The
    built-in names (hf, litellm, ...) cannot be taken.
    """


@hookspec
def genspec_perturbations(domain: str) -> list[Perturbation]:
    """Return robustness perturbations for a domain's items (``axes=[robustness]``).

    Called once per domain that some plugin provides; return ``[]`` for others. Each is
    a :class:`genspec.axes.perturbations.Perturbation`, usually a term map built with
    ``term_rewording("lay", {"myocardial infarction": ["heart attack"], ...})``: the
    engine applies it with a seeded RNG per item and compares the answers with the
    original item's. An item it leaves unchanged is counted apart, never scored.
    """
