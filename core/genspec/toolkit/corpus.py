"""A ready ``genspec_corpus`` hook for plugins that ship domain text beside their code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genspec.errors import PluginError
from genspec.hookspecs import hookimpl

CORPUS_FOLDER = "corpus"


def corpus_hook(own_domain: str, package_file: str) -> Callable[[str], list[Path]]:
    """The ``genspec_corpus`` hook offering the ``.txt``/``.md`` files in the ``corpus/``
    folder beside ``package_file`` (the plugin's ``__file__``) for ``own_domain`` only.

    In a plugin module: ``genspec_corpus = corpus_hook(DOMAIN, __file__)``; pluggy finds
    it by that name like any hook written by hand.
    """

    @hookimpl
    def genspec_corpus(domain: str) -> list[Path]:
        if domain != own_domain:
            return []
        folder = Path(package_file).parent / CORPUS_FOLDER
        if not folder.is_dir():  # an installed wheel left it out: the fix is packaging
            package = folder.parent.name
            raise PluginError(
                f"plugin package '{package}' has no {CORPUS_FOLDER}/ folder ({folder}): list "
                f'"{CORPUS_FOLDER}/*.txt" in [tool.setuptools.package-data] {package} of its '
                "pyproject.toml and reinstall it, or drop its genspec_corpus hook"
            )
        return [folder]  # genspec adapt reads its .txt/.md files

    return genspec_corpus
