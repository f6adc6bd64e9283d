"""Keep API keys out of everything genspec writes (MLflow, logs, artifacts, cache).

Three nets: config keys that name a secret are masked; any value of a secret-looking
environment variable is masked wherever it appears in text; and every URL in text loses
its userinfo (``http://user:pass@host``) and the values of query parameters named like
a key or token (``?api_key=...``), since a URI is printed and logged as a whole.
"""

from __future__ import annotations

import os
import re
from typing import Any

MASK = "***"
_SECRET_NAME = re.compile(r"(api[_-]?key|secret|token|password|passwd|credential)", re.I)
_MIN_SECRET_LENGTH = 8
# query parameters that carry credentials: ?api_key=, ?access_token=, ?sig=, ?auth=...
_QUERY_SECRET = re.compile(
    r"([?&;][^=&#\s]*(?:key|token|secret|password|passwd|pwd|credential|sig|signature|auth)"
    r"[^=&#\s]*=)[^&#;\s]*",
    re.I,
)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>`]+", re.I)
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/?#]*@", re.I)  # up to the last @


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


def mask_url(url: str) -> str:
    """``url`` with its userinfo and secret-named query values replaced by ``***``
    (the rest of the text is kept as written)."""
    url = _USERINFO.sub(rf"\1{MASK}@", url)
    return _QUERY_SECRET.sub(rf"\1{MASK}", url)


def scrub_text(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with secret values and the credentials inside URLs masked."""
    for value in secrets if secrets is not None else secret_values():
        text = text.replace(value, MASK)
    return _URL.sub(lambda m: mask_url(m.group(0)), text) if "://" in text else text


def redact(value: Any, secrets: list[str] | None = None) -> Any:
    """A copy of ``value`` (nested dicts/lists/strings) with secrets masked."""
    secrets = secret_values() if secrets is None else secrets
    if isinstance(value, dict):
        return {
            # a number is a setting (max_new_tokens), never a credential
            k: MASK
            if _is_secret_key(str(k)) and v and not isinstance(v, int | float)
            else redact(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value
