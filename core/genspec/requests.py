"""Requests to and responses from a model backend (lm-evaluation-harness's two kinds).

A request is a value: its JSON form, with the model's identity, is the cache key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Choices:
    """The item as structured data: the prompt without the item's options, and the
    options' texts, in the order of the continuations. A model that scores (stem, option)
    pairs (an encoder's multiple-choice head) reads these instead of the rendered prompt."""

    stem: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class LoglikRequest:
    """Score each continuation after the prompt: ``log P(continuation | prompt)``.

    Backends render ``messages`` (with the model's chat template when it has one),
    append ``answer_prefix`` and score each continuation after it. ``choices`` is the
    same item as data (set by :func:`genspec.prompting.build_request`).
    """

    messages: tuple[Message, ...]
    continuations: tuple[str, ...]
    answer_prefix: str = "Answer:"
    kind: Literal["loglik"] = "loglik"
    choices: Choices | None = None


@dataclass(frozen=True)
class GenerateRequest:
    """Greedy generation until a stop sequence or ``max_tokens``."""

    messages: tuple[Message, ...]
    max_tokens: int = 32
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    kind: Literal["generate"] = "generate"


Request = LoglikRequest | GenerateRequest


@dataclass(frozen=True)
class TokensRequest:
    """The log-probability of every token of a plain text (no chat template, no prompt):
    what Min-K% probability reads (genspec.axes, contamination). Backends that can
    answer it say so with ``Backend.TOKEN_LOGPROBS``."""

    text: str
    kind: Literal["token_logprobs"] = "token_logprobs"


@dataclass(frozen=True)
class Response:
    """What came back for one request, with the numbers users ask for (promptfoo-style)."""

    text: str | None = None
    logprobs: tuple[float, ...] | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    cached: bool = False
    error: str | None = None
    provider_model: str | None = None
    system_fingerprint: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Response:
        data: dict[str, Any] = json.loads(raw)
        if data.get("logprobs") is not None:
            data["logprobs"] = tuple(data["logprobs"])
        return cls(**{k: v for k, v in data.items() if k in _RESPONSE_FIELDS})


_RESPONSE_FIELDS = set(Response.__dataclass_fields__)


#: request fields that restate the messages as data: left out of the key, so every
#: cache written before they existed still hits
_UNKEYED = ("choices",)


def request_key(model_identity: dict[str, Any], request: Request) -> str:
    """Stable cache key: sha256 of the model identity and the full request content."""
    content = {k: v for k, v in asdict(request).items() if k not in _UNKEYED}
    payload = {"model": model_identity, "request": content}
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()
