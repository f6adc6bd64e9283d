"""Keep API keys out of everything genspec writes (MLflow, logs, artifacts, cache).

Two nets: config keys that name a secret are masked, and any value of a secret-looking
environment variable is masked wherever it appears in text.
"""

from __future__ import annotations

import os
import re
from typing import Any

MASK = "***"
_SECRET_NAME = re.compile(r"(api[_-]?key|secret|token|password|passwd|credential)", re.I)
_MIN_SECRET_LENGTH = 8


def _is_secret_key(key: str) -> bool:
    # "api_key_env" holds the *name* of a variable, which is safe and useful to log.
    return bool(_SECRET_NAME.search(key)) and not key.endswith("_env")


def secret_values() -> list[str]:
    """Values of environment variables whose names look like credentials."""
    return sorted(
        (
            v
            for k, v in os.environ.items()
            if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LENGTH
        ),
        key=len,
        reverse=True,
    )


def scrub_text(text: str, secrets: list[str] | None = None) -> str:
    for value in secrets if secrets is not None else secret_values():
        text = text.replace(value, MASK)
    return text


def redact(value: Any, secrets: list[str] | None = None) -> Any:
    """A copy of ``value`` (nested dicts/lists/strings) with secrets masked."""
    secrets = secret_values() if secrets is None else secrets
    if isinstance(value, dict):
        return {
            k: MASK if _is_secret_key(str(k)) and v else redact(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value
