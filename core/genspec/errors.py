"""Error types a user can act on.

Every error carries a message that names the thing that is wrong and how to fix it.
The CLI prints ``str(error)`` on one line and exits non-zero; no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GenspecError(Exception):
    """Base class: a problem the user can fix. ``exit_code`` is what the CLI returns."""

    exit_code = 2


class ConfigError(GenspecError):
    """A bad config key or value, caught before any model is called."""


class UnknownNameError(ConfigError):
    """A name (domain, task, roster, model, plugin) that does not exist."""

    def __init__(
        self, kind: str, name: str, known: Iterable[str], fix: str = "", where: str = ""
    ) -> None:
        """``where`` places the name ("in domain 'medical'") after it, so the message
        reads "Unknown task 'medqaa' in domain 'medical'", not "task in domain ... 'medqaa'"."""
        known = sorted(set(known))
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        listing = ", ".join(known) if known else "none"
        place = f" {where}" if where else ""
        message = f"Unknown {kind} '{name}'{place}.{hint} Known: {listing}."
        if fix:
            message += f" {fix}"
        super().__init__(message)
        self.kind, self.name, self.known = kind, name, known


class DataError(GenspecError):
    """Data that cannot be read: a missing file, a malformed row, an unreachable hub."""


class PluginError(GenspecError):
    """A plugin that fails to import, raises in a hook or returns something invalid."""


class BackendError(GenspecError):
    """A model that cannot be loaded or called (missing package, key or endpoint)."""


class StorageError(GenspecError):
    """A folder genspec must write to (outbox, store, cache) that cannot take the write:
    read-only, full, or a name that would lead outside it."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return " Did you mean 'x'?" for the closest known name, or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""
