"""A ready ``genspec_corpus`` hook for plugins that ship domain text beside their code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genspec.hookspecs import hookimpl


def corpus_hook(own_domain: str, package_file: str) -> Callable[[str], list[Path]]:
    """The ``genspec_corpus`` hook offering the ``.txt``/``.md`` files in the ``corpus/``
    folder beside ``package_file`` (the plugin's ``__file__``) for ``own_domain`` only.

    In a plugin module: ``genspec_corpus = corpus_hook(DOMAIN, __file__)``; pluggy finds
    it by that name like any hook written by hand.
    """

    @hookimpl
    def genspec_corpus(domain: str) -> list[Path]:
        from genspec.adapt.corpus import bundled_corpus  # keeps plugin import cheap

        return bundled_corpus(package_file) if domain == own_domain else []

    return genspec_corpus
