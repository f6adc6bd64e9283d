"""backends/concurrency.py serves any HTTP backend, not only litellm.

A provider of a dozen lines (plain httpx against the fake OpenAI-compatible server)
gets retries with backoff, Retry-After, the bound on requests in flight and permanent
errors answered once, from the shared module alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from test_litellm_backend import FakeClock, question

from genspec.backends.concurrency import Hooks, Malformed, Pool, Provider, RetryPolicy
from genspec.fake_api import FakeOpenAIServer
from genspec.requests import Request, Response


@dataclass(frozen=True)
class PlainHTTP(Provider):
    """A company's service, say: one POST per call, its JSON read by hand."""

    url: str
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 5.0

    def connection_key(self) -> str:
        return self.url

    async def send(self, arguments: dict[str, Any]) -> Any:
        async with httpx.AsyncClient() as client:
            reply = await client.post(f"{self.url}/chat/completions", json=arguments)
            reply.raise_for_status()
            return reply.json()

    def answer(self, result: Any, request: Request, latency_s: float) -> Response:
        text = result["choices"][0]["message"].get("content")
        if not text:
            raise Malformed("no text")
        return Response(text=text, latency_s=latency_s)

    def should_retry(self, error: Exception) -> bool:
        status = getattr(getattr(error, "response", None), "status_code", None)
        return status is None or status == 429 or status >= 500

    def describe(self, error: Exception) -> str:
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"


def calls(n: int) -> list[tuple[Request, dict[str, Any]]]:
    return [
        (question(i), {"model": "inhouse", "messages": [{"role": "user", "content": f"Q{i}?"}]})
        for i in range(n)
    ]


def test_a_plain_http_provider_gets_retries_backoff_and_the_bound() -> None:
    clock = FakeClock()
    with FakeOpenAIServer(schedule={1: "503", 2: "429", 3: "empty"}, retry_after=4) as server:
        pool = Pool(PlainHTTP(server.url), concurrency=2, workers=1, hooks=Hooks(clock, 0))
        try:
            answers = dict(pool.run(calls(6)))
        finally:
            pool.close()
        assert server.calls == 9 and server.max_in_flight <= 2
    assert sorted(answers) == list(range(6))
    assert all(r.text and r.error is None for r in answers.values())
    assert len(clock.sleeps) == 3 and max(clock.sleeps) >= 4  # the 429's Retry-After


def test_a_permanent_error_is_answered_once_not_retried() -> None:
    with FakeOpenAIServer(fault_rate=1.0, faults=["400"]) as server:
        pool = Pool(PlainHTTP(server.url), concurrency=2, workers=1, hooks=Hooks(FakeClock(), 0))
        try:
            answers = dict(pool.run(calls(3)))
        finally:
            pool.close()
        assert server.calls == 3
    assert all(r.error and "400" in r.error and "attempts" not in r.error for r in answers.values())
