"""Any API provider litellm knows, or any OpenAI-compatible server, behind one backend.

``backend: litellm`` takes a litellm model id (``openai/gpt-4o``,
``anthropic/claude-3-5-sonnet-20240620``, ``gemini/...``) or, with ``params.api_base``
(or ``params.api_base_env``), any OpenAI-compatible server (vLLM, Ollama, llama.cpp,
TGI). Keys come only from the environment: the provider's usual variables, or the
variable named by ``params.api_key_env``; a missing one fails before any call.

Retries, the bound on requests in flight (``params.concurrency``), worker threads or
processes (``params.workers``) and the per-attempt bound (``params.timeout``) are
:mod:`genspec.backends.concurrency`'s, shared with any HTTP backend; this module is the
litellm :class:`LiteLLMProvider` that says what is particular to litellm:

* litellm costs a few milliseconds of CPU per call (logging objects, cost lookup, the
  openai SDK's request building): one event loop at 32 in flight spends most of each
  100 ms round trip on that, so ``params.workers`` spreads calls over several processes,
  each with its own loop (see bench/bench_litellm_throughput.py).
* Worth another attempt: 429, 408, 409, 5xx, timeouts, dropped connections and
  malformed or empty answers. Not: any other 4xx, and client-side configuration errors
  (litellm reports some as a 500).
* Failures that no request can escape stop the run with one line naming the fix: a
  refused key (401/403), an unknown model or URL (404), a used-up quota, a server that
  cannot be connected to, a request the client cannot build. Recording them per
  request would spend minutes on retries and end in a table of errors; stopping loses
  nothing, since the answers so far are cached and the same command resumes.
* Secrets stay out of everything: keys never enter the cache key, and error texts are
  scrubbed of the key before they are recorded.
"""

from __future__ import annotations

import os

# Before litellm is imported anywhere: use the bundled cost map, never fetch it.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import asyncio
import functools
import gc
import math
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from genspec.backends.base import Backend, Completed, check_params
from genspec.backends.concurrency import (
    DEFAULT_MAX_RETRIES,
    Clock,
    Hooks,
    Malformed,
    Pool,
    Provider,
    RetryPolicy,
    causes,
)
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError
from genspec.requests import GenerateRequest, LoglikRequest, Request, Response
from genspec.secrets import scrub_text

DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_TOP_LOGPROBS = 20  # OpenAI's maximum
#: sent to servers that need no key (vLLM, Ollama): a provider key never goes to them
NO_KEY = "no-key"
_ERROR_CHARS = 500
#: the class names litellm repeats at the start of its messages
_LABELS = re.compile(r"^(?:(?:litellm\.)?\w*(?:Error|Exception|Timeout)(?::| -)\s*)+")


def _litellm() -> Any:
    """Import litellm once, quietly, and freeze its import-time objects.

    ``gc.freeze`` takes litellm's large import-time heap out of the collector's reach:
    without it each full collection during a run walks all of it (~0.25 s, measured).
    """
    if "litellm" not in sys.modules:
        import litellm

        litellm.suppress_debug_info = True
        gc.freeze()
    return sys.modules["litellm"]


# --- which errors are worth another attempt ------------------------------------------


_RETRY_STATUS = frozenset({408, 409, 429})


def _quota_used_up(error: Exception) -> bool:
    """OpenAI-style 429 ``insufficient_quota``: no wait ends it, unlike a rate limit."""
    body = getattr(error, "body", None)
    return isinstance(body, dict) and "insufficient_quota" in (body.get("code"), body.get("type"))


def client_side(error: Exception) -> str | None:
    """The reason when the request could not even be built or sent because of how the
    client is configured (aiohttp's "Cannot combine AUTHORIZATION header with ... credentials
    encoded in URL"), which litellm reports as a 500: no retry can help.

    Such a failure is a plain ``ValueError``/``TypeError`` in the chain of causes; a
    malformed answer fails in a subclass (``JSONDecodeError``, pydantic's errors) and stays
    retryable.
    """
    for cause in causes(error):
        if type(cause) in (ValueError, TypeError):
            return str(cause)
    return None


def _retryable(error: Exception) -> bool:
    """Transient: rate limits, server errors, timeouts, broken connections, bad answers.

    Permanent: any other 4xx, and client-side configuration errors (:func:`client_side`).
    """
    if client_side(error) is not None:
        return False
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return (status in _RETRY_STATUS or status >= 500) and not _quota_used_up(error)
    litellm = _litellm()
    transient = (Malformed, litellm.Timeout, litellm.APIConnectionError, OSError, TimeoutError)
    return isinstance(error, transient)


def _unreachable(error: Exception) -> bool:
    """No connection at all (refused, unknown host), found in the chain of causes:
    litellm reports it as a 500 "Connection error", like a connection dropped mid-answer."""
    import httpx

    return any(
        isinstance(cause, (httpx.ConnectError, ConnectionRefusedError)) for cause in causes(error)
    )


def _diagnosis(error: Exception, settings: LiteLLMProvider) -> tuple[str, str] | None:
    """(what is wrong, the fix) for a failure every request of this model would meet."""
    status = getattr(error, "status_code", None)
    where = settings.api_base or "the provider"
    variable = settings.key_variable
    if status in (401, 403) and variable:
        return f"{where} refused the API key in {variable}", f"set {variable} to a valid key"
    if status in (401, 403):
        return (
            f"{where} refused the request without a valid API key",
            "put the key in an environment variable and name it with params.api_key_env",
        )
    if status == 404:
        return (
            f"{where} has no such model or endpoint",
            "check the model id and params.api_base (usually ending in /v1)",
        )
    if _quota_used_up(error):
        return f"{where} says the account's quota is used up", "add credit or use another key"
    if _unreachable(error):
        return f"cannot connect to {where}", "start the server or fix params.api_base"
    if (reason := client_side(error)) is not None:
        return (
            f"the request to {where} cannot be sent ({reason})",
            "fix params.api_base and the key settings (a key from params.api_key_env cannot "
            "be combined with user:password in the URL)",
        )
    return None


def _stop_line(error: Exception, settings: LiteLLMProvider, detail: str) -> str | None:
    """The one line that stops the run for ``error``, or None when only this request failed."""
    found = _diagnosis(error, settings)
    if found is None:
        return None
    problem, fix = found
    return (
        f"Model '{settings.name}' ({settings.model}): {problem} [{detail}]; {fix}, then run "
        "the same command again (answers so far are cached)."
    )


# --- requests and answers --------------------------------------------------------------


def _messages(request: Request) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in request.messages]


def call_arguments(request: Request, top_logprobs: int) -> dict[str, Any]:
    """The per-request litellm arguments.

    A log-likelihood request becomes a one-token answer with its top log-probabilities:
    chat APIs cannot score a given continuation, but they can say how likely each
    option's label is as the first token after the answer prefix.
    """
    if isinstance(request, GenerateRequest):
        arguments: dict[str, Any] = {
            "messages": _messages(request),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            arguments["stop"] = list(request.stop)
        return arguments
    messages = _messages(request)
    labels = ", ".join(c.strip() for c in request.continuations)
    last = messages[-1]
    last["content"] = f"{last['content']}\n\nReply with one of: {labels}.\n{request.answer_prefix}"
    return {
        "messages": messages,
        "max_tokens": 1,
        "temperature": 0.0,
        "logprobs": True,
        "top_logprobs": top_logprobs,
    }


def _field(obj: Any, name: str) -> Any:
    """Attribute or key: providers hand back pydantic objects or plain dicts."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def score_continuations(
    top: Sequence[tuple[str, float]], continuations: Sequence[str]
) -> tuple[float, ...]:
    """Log-probability of each continuation as the first answer token.

    Tokens are compared without surrounding spaces (" B" and "B" are one label, their
    probabilities summed). A label missing from the top list gets ``-inf``; when none
    is there the answer is unreadable and every score is NaN (the engine counts it
    invalid).
    """
    merged: dict[str, float] = {}
    for token, logprob in dict(top).items():
        label = token.strip()
        merged[label] = float(
            logprob
            if label not in merged
            else math.log(math.exp(merged[label]) + math.exp(logprob))
        )
    scores = tuple(merged.get(c.strip(), -math.inf) for c in continuations)
    if all(s == -math.inf for s in scores):
        return tuple(math.nan for _ in continuations)
    return scores


def _top_logprobs(choice: Any) -> list[tuple[str, float]] | None:
    """The first generated token and its alternatives, or None without logprobs."""
    content = _field(_field(choice, "logprobs"), "content")
    if not content:
        return None
    first = content[0]
    tops = [(_field(t, "token"), _field(t, "logprob")) for t in _field(first, "top_logprobs") or []]
    return [(_field(first, "token"), _field(first, "logprob")), *tops]


def to_response(result: Any, request: Request, latency_s: float) -> Response:
    """A litellm ``ModelResponse`` as a genspec Response; raises ``Malformed`` on no text."""
    choices = _field(result, "choices") or []
    if not choices:
        raise Malformed("the answer had no choices")
    usage = _field(result, "usage")
    hidden = getattr(result, "_hidden_params", None) or {}
    common: dict[str, Any] = {
        "input_tokens": int(_field(usage, "prompt_tokens") or 0) if usage else 0,
        "output_tokens": int(_field(usage, "completion_tokens") or 0) if usage else 0,
        "cost_usd": hidden.get("response_cost"),
        "latency_s": latency_s,
        "provider_model": _field(result, "model"),
        "system_fingerprint": _field(result, "system_fingerprint"),
    }
    choice = choices[0]
    if isinstance(request, LoglikRequest):
        top = _top_logprobs(choice)
        if top is None:
            return Response(
                error="the provider gives no logprobs for this model; score it by "
                "generation (scoring: generate)",
                **common,
            )
        return Response(logprobs=score_continuations(top, request.continuations), **common)
    text = _field(_field(choice, "message"), "content")
    if not text:
        raise Malformed("the answer had no text")
    return Response(text=text, **common)


# --- the provider: what litellm tells the shared concurrency module -------------------


@dataclass(frozen=True)
class LiteLLMProvider(Provider):
    """What every call of one model shares, and what litellm says about its errors.
    Picklable (worker processes receive it); the key is kept out of its repr."""

    model: str
    api_base: str | None
    api_key: str | None = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: the roster name, for messages that stop the run
    name: str = ""
    #: the environment variable the key comes from (None: no key is sent)
    key_variable: str | None = None

    @functools.cached_property
    def kwargs(self) -> dict[str, Any]:
        """litellm arguments, built once. Retries are ours (``max_retries=0`` stops the
        SDK's own), and ``drop_params`` lets a provider without logprobs answer without
        them."""
        base: dict[str, Any] = {
            "model": self.model,
            "timeout": self.timeout_s,
            "max_retries": 0,
            "num_retries": 0,
            "drop_params": True,
        }
        if self.api_base:
            base["api_base"] = self.api_base
        if self.api_key:
            base["api_key"] = self.api_key
        return base

    def connection_key(self) -> str:
        return self.api_base or self.model

    async def send(self, arguments: dict[str, Any]) -> Any:
        return await _litellm().acompletion(**self.kwargs, **arguments)

    def answer(self, result: Any, request: Request, latency_s: float) -> Response:
        return to_response(result, request, latency_s)

    def should_retry(self, error: Exception) -> bool:
        return _retryable(error)

    def describe(self, error: Exception) -> str:
        """One line: the class and status, then the server's reason without litellm's
        repeated class names or the traceback it puts in some messages; scrubbed."""
        status = getattr(error, "status_code", None)
        label = type(error).__name__.lstrip("_")
        label += f" ({status})" if isinstance(status, int) else ""
        reason = _LABELS.sub("", str(error)).split("Traceback (most recent call last)")[0]
        return self._scrub(" ".join(f"{label}: {reason}".split())[:_ERROR_CHARS])

    def stop_line(self, error: Exception, detail: str) -> str | None:
        line = _stop_line(error, self, detail)
        return line and self._scrub(line)

    def on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.set_exception_handler(_quiet_litellm_logging)

    def _scrub(self, text: str) -> str:
        """``text`` without the key or any other secret-looking environment value."""
        return scrub_text(scrub_text(text, [self.api_key] if self.api_key else []))


def _quiet_litellm_logging(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop the "Task was destroyed but it is pending" line about litellm's logging worker.

    litellm keeps one process-wide logging worker and moves it to whichever event loop
    called last; with a loop per backend, its idle task on an earlier loop is torn down
    pending. genspec registers no litellm callbacks, so nothing is lost; every other
    loop error is reported as usual.
    """
    task = context.get("task")
    if task is not None and "LoggingWorker" in repr(task.get_coro()):
        return
    loop.default_exception_handler(context)


# --- the backend -----------------------------------------------------------------------

_PARAMS = {
    "api_base": "URL of an OpenAI-compatible server",
    "api_base_env": "name of an environment variable holding api_base",
    "api_key_env": "name of the environment variable holding the key",
    "concurrency": "requests in flight at most",
    "workers": "event loops (1: a thread; more: processes) sharing the concurrency",
    "timeout": "seconds per attempt",
    "max_retries": "retries after the first attempt",
    "top_logprobs": "alternatives read for log-probability scoring",
}


def _env(name: str, spec: ModelSpec, purpose: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise BackendError(
            f"Model '{spec.name}' ({spec.id}) needs the environment variable {name} "
            f"({purpose}); set it and run again."
        )
    return value


def _check_params(spec: ModelSpec) -> None:
    if "api_key" in spec.params:
        raise BackendError(
            f"Model '{spec.name}': params.api_key is not allowed (keys never go in config); "
            "put the key in an environment variable and name it with params.api_key_env."
        )
    check_params(spec, _PARAMS)


def _endpoint(spec: ModelSpec) -> tuple[str | None, str | None]:
    """(api_base, api_key) from params and the environment; BackendError if one is missing.

    With an api_base the key comes only from ``api_key_env`` (servers such as vLLM need
    none), so a provider key from the environment is never sent to another host.
    """
    params = spec.params
    api_base = params.get("api_base")
    if params.get("api_base_env"):
        api_base = _env(params["api_base_env"], spec, "the server's api_base URL")
    if params.get("api_key_env"):
        return api_base, _env(params["api_key_env"], spec, "its API key")
    if api_base:
        return api_base, NO_KEY
    try:
        report = _litellm().validate_environment(model=spec.id)
    except Exception:  # an id litellm cannot place fails at the first call instead
        return None, None
    if not report.get("keys_in_environment", True):
        missing = ", ".join(report.get("missing_keys") or [])
        raise BackendError(
            f"Model '{spec.name}' ({spec.id}) needs the environment variable(s) {missing}; "
            "set them, or name another variable with params.api_key_env."
        )
    return None, None


def _key_variable(spec: ModelSpec, api_base: str | None) -> str | None:
    """Where the key comes from, for a message about a refused key: ``api_key_env``, none
    for a server of one's own, else the provider's usual variable (OPENAI_API_KEY...)."""
    if spec.params.get("api_key_env"):
        return str(spec.params["api_key_env"])
    if api_base:
        return None
    try:
        provider = _litellm().get_llm_provider(spec.id)[1]
    except Exception:  # an id litellm cannot place fails at the first call instead
        return None
    return f"{provider.upper()}_API_KEY"


class LiteLLMBackend(Backend):
    """API models through litellm: generation, and log-probability scoring where offered."""

    NON_SEMANTIC_PARAMS = frozenset(
        {
            "api_base",
            "api_base_env",
            "api_key_env",
            "concurrency",
            "workers",
            "timeout",
            "max_retries",
        }
    )

    def __init__(
        self, spec: ModelSpec, *, clock: Clock | None = None, seed: int | None = None
    ) -> None:
        super().__init__(spec)
        _check_params(spec)
        api_base, api_key = _endpoint(spec)
        _litellm()  # imported before workers fork, so they start with it loaded
        params = spec.params
        policy = RetryPolicy(max_retries=int(params.get("max_retries", DEFAULT_MAX_RETRIES)))
        provider = LiteLLMProvider(
            model=spec.id,
            api_base=api_base,
            api_key=api_key,
            timeout_s=float(params.get("timeout", DEFAULT_TIMEOUT_S)),
            policy=policy,
            name=spec.name,
            key_variable=_key_variable(spec, api_base),
        )
        self.top_logprobs = int(params.get("top_logprobs", DEFAULT_TOP_LOGPROBS))
        self.concurrency = int(params.get("concurrency", DEFAULT_CONCURRENCY))
        workers = int(params.get("workers", 1))
        self._pool = Pool(provider, self.concurrency, workers, Hooks(clock or Clock(), seed))

    @classmethod
    def preflight(cls, spec: ModelSpec) -> None:
        _check_params(spec)
        _endpoint(spec)

    def _run(self, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
        calls = [(r, call_arguments(r, self.top_logprobs)) for r in requests]
        return self._pool.run(calls)

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> Completed:
        return self._run(requests)

    def generate(self, requests: Sequence[GenerateRequest]) -> Completed:
        return self._run(requests)

    def close(self) -> None:
        self._pool.close()
