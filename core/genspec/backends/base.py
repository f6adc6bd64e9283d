"""The backend interface: two request kinds, answers streamed back as they finish.

Backends yield ``(index, response)`` pairs in completion order, so the engine can
store each answer in the cache the moment it exists: a run killed half-way resumes
without paying twice. The engine never knows which backend it talks to
(lm-evaluation-harness's ``LM`` idea); caching wraps backends from outside.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from genspec.config.schema import ModelSpec
from genspec.errors import BackendError, did_you_mean
from genspec.requests import GenerateRequest, LoglikRequest, Response, TokensRequest

Completed = Iterator[tuple[int, Response]]


def check_params(spec: ModelSpec, known: Collection[str]) -> None:
    """A roster entry's params must be ones its backend reads: a typo would otherwise be
    ignored silently (and land in the cache key)."""
    for key in spec.params:
        if key not in known:
            raise BackendError(
                f"model '{spec.name}': unknown {spec.backend} param '{key}'."
                f"{did_you_mean(key, known)} Known: {', '.join(sorted(known))}"
            )


def check_choice(spec: ModelSpec, key: str, allowed: Collection[str]) -> None:
    """``params[key]``, when given, must be one of ``allowed`` (e.g. a dtype)."""
    value = spec.params.get(key, "auto")
    if value not in allowed:
        raise BackendError(
            f"model '{spec.name}': params.{key} '{value}' is not one of {', '.join(allowed)}"
        )


class Backend(abc.ABC):
    """A loaded (or connected) model. Construct it only when some request is uncached."""

    #: params that do not change what the model answers (left out of the cache key)
    NON_SEMANTIC_PARAMS: frozenset[str] = frozenset()
    #: holds local weights in device memory: the engine keeps one such backend loaded
    #: at a time, so a roster of 7B models runs on one GPU
    EXCLUSIVE: bool = False
    #: answers :class:`~genspec.requests.TokensRequest` (per-token log-probabilities)
    TOKEN_LOGPROBS: bool = False

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @classmethod
    def identity(cls, spec: ModelSpec) -> dict[str, Any]:
        """What makes answers differ: model id, backend and the semantic params."""
        params = {k: v for k, v in spec.params.items() if k not in cls.NON_SEMANTIC_PARAMS}
        return {"id": spec.id, "backend": spec.backend, "params": params}

    @classmethod
    def preflight(cls, spec: ModelSpec) -> None:
        """Raise :class:`genspec.errors.BackendError` for a problem found without loading
        (a missing package, key or endpoint), so a run fails before any model is called.
        The default finds nothing to check."""
        return None

    @abc.abstractmethod
    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> Completed:
        """Yield ``(i, Response(logprobs=...))``, one log-probability per continuation."""

    @abc.abstractmethod
    def generate(self, requests: Sequence[GenerateRequest]) -> Completed:
        """Yield ``(i, Response(text=...))`` for each request."""

    def token_logprobs(self, requests: Sequence[TokensRequest]) -> Completed:
        """Yield ``(i, Response(logprobs=...))``, one log-probability per token of the text
        after the first. Only backends with ``TOKEN_LOGPROBS`` implement it."""
        raise BackendError(f"backend '{self.spec.backend}' does not return token log-probabilities")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release memory or connections."""
