"""Domain text for continued pre-training: plugin corpora, local files, a hub dataset.

Plugins return files or folders from the ``genspec_corpus(domain)`` hook (the
bundled plugins ship original text written for this project); a recipe adds local
files (``files``) or a hub dataset (``hub``). A corpus that quotes a test question is
refused: an adapter that has read the test would win the comparison for the wrong
reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from genspec.adapt.settings import AdaptSettings, HubCorpus
from genspec.errors import DataError
from genspec.task import Example

TEXT_SUFFIXES = (".txt", ".md")
#: shorter questions ("Which of the following is true?") occur in any text by chance
MIN_QUESTION_CHARS = 40


@dataclass(frozen=True)
class Document:
    """One piece of domain text and where it came from (logged with the adapter)."""

    source: str
    text: str


def text_files(path: Path) -> list[Path]:
    """``path`` itself, or the .txt/.md files under a folder, in a stable order."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES and p.is_file())
    if path.is_file():
        return [path]
    raise DataError(f"corpus path {path} does not exist; fix adapt.files or the plugin's corpus")


def gather(domain: str, settings: AdaptSettings, plugin_paths: Sequence[Path]) -> list[Document]:
    """Every document the recipe names, plugin text first, in a stable order."""
    paths = [f for p in plugin_paths for f in text_files(Path(p))] if settings.corpus else []
    paths += [f for p in settings.files for f in text_files(Path(p).expanduser())]
    documents = [Document(str(p), p.read_text(encoding="utf-8")) for p in paths]
    if settings.hub is not None:
        documents += _hub(settings.hub)
    return [d for d in documents if d.text.strip()]


def _hub(hub: HubCorpus) -> list[Document]:
    """Rows of a text dataset (hub id, or a builder such as ``json`` with data_files)."""
    try:
        import datasets

        rows = datasets.load_dataset(hub.path, hub.name, data_files=hub.data_files, split=hub.split)
    except Exception as error:  # network, auth, missing config: all end the same way
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise DataError(
            f"corpus {hub.path} split '{hub.split}' cannot be loaded ({reason}). Without hub "
            "access, save the text as files and name them in adapt.files."
        ) from None
    if hub.field not in rows.column_names:
        raise DataError(
            f"corpus {hub.path} has no field '{hub.field}' (fields: {', '.join(rows.column_names)})"
        )
    count = min(hub.limit, len(rows))
    return [Document(f"{hub.path}:{hub.split}:{i}", str(rows[i][hub.field])) for i in range(count)]


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def check_uncontaminated(documents: Iterable[Document], test: Iterable[Example]) -> int:
    """Refuse a corpus that contains a test question or passage; returns how many test
    items were checked.

    The passage (``context``) is where a classification item keeps its text (a news
    sentence, an abstract, a clause) behind a question shared by every item.
    """
    texts = [(d.source, _normal(d.text)) for d in documents]
    checked = 0
    for example in test:
        parts = [_normal(part) for part in (example.question, example.context)]
        parts = [part for part in parts if len(part) >= MIN_QUESTION_CHARS]
        if not parts:
            continue
        checked += 1
        for source, text in texts:
            for part in parts:
                if part in text:
                    raise DataError(
                        f"corpus {source} contains test item '{example.id}' ({part[:60]}...). "
                        "Training on it would leak the test; remove it from the corpus."
                    )
    return checked
