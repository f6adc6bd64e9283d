"""The litellm backend against a real OpenAI-compatible server on 127.0.0.1.

No mock of litellm: every test goes through litellm, the openai SDK and real sockets to
genspec's fake API, which injects faults and counts what it was sent. Retry waits use a
fake clock, so backoff and Retry-After are checked exactly without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genspec.backends.litellm import Clock, LiteLLMBackend, RetryPolicy, score_continuations
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError
from genspec.fake_api import FAULTS, FakeOpenAIServer
from genspec.requests import GenerateRequest, LoglikRequest, Message, Response

SECRET = "sk-genspec-test-SECRET123"
KEY_VAR = "GENSPEC_TEST_API_KEY"


class FakeClock(Clock):
    """Time that passes only when the backend sleeps; records every wait."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def spec(url: str, model: str = "openai/gpt-4o", **params: Any) -> ModelSpec:
    return ModelSpec(
        name="api-model",
        id=model,
        role="generalist",
        backend="litellm",
        params={"api_base": url, "timeout": 10, **params},
    )


def question(i: int) -> GenerateRequest:
    return GenerateRequest(messages=(Message("user", f"Question {i}?\nA. yes\nB. no\nC. maybe"),))


def mc(i: int) -> LoglikRequest:
    return LoglikRequest(
        messages=(Message("user", f"Question {i}?\nA. w\nB. x\nC. y\nD. z"),),
        continuations=(" A", " B", " C", " D"),
    )


@pytest.fixture
def backend_for() -> Iterator[Any]:
    """Build backends that are closed after the test."""
    made: list[LiteLLMBackend] = []

    def make(model_spec: ModelSpec, **kwargs: Any) -> LiteLLMBackend:
        made.append(LiteLLMBackend(model_spec, **kwargs))
        return made[-1]

    yield make
    for backend in made:
        backend.close()


def answers(backend: LiteLLMBackend, requests: list[Any]) -> dict[int, Response]:
    run = backend.loglikelihood if isinstance(requests[0], LoglikRequest) else backend.generate
    return dict(run(requests))


# --- answers, tokens, cost, model version ----------------------------------------------


def test_generation_reports_tokens_cost_and_provider_version(backend_for: Any) -> None:
    with FakeOpenAIServer(served_model="gpt-4o-2024-08-06") as server:
        response = answers(backend_for(spec(server.url)), [question(1)])[0]
    assert response.error is None
    assert response.text and response.text.startswith("The answer is ")
    assert (response.input_tokens, response.output_tokens) == (8, 4)
    # litellm's bundled cost map: gpt-4o-2024-08-06 at $2.5 / $10 per million tokens
    assert response.cost_usd == pytest.approx(8 * 2.5e-6 + 4 * 1e-5)
    assert response.provider_model == "gpt-4o-2024-08-06"
    assert response.system_fingerprint == "fp_genspec_fake"
    assert response.latency_s > 0


def test_unknown_model_has_no_cost(backend_for: Any) -> None:
    with FakeOpenAIServer() as server:
        response = answers(backend_for(spec(server.url, "openai/meditron-70b")), [question(1)])[0]
    assert response.text and response.cost_usd is None


# --- faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_retried_and_recovers(fault: str, backend_for: Any) -> None:
    clock = FakeClock()
    with FakeOpenAIServer(schedule={1: fault}, slow_s=5) as server:
        backend = backend_for(spec(server.url, timeout=0.5), clock=clock)
        response = answers(backend, [question(1)])[0]
        assert server.calls == 2
    assert response.error is None and response.text
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_that_persists_becomes_that_request_error(fault: str, backend_for: Any) -> None:
    with FakeOpenAIServer(schedule={1: fault, 2: fault}, slow_s=5) as server:
        backend = backend_for(spec(server.url, max_retries=1, timeout=0.5), clock=FakeClock())
        failed = answers(backend, [question(1)])[0]
        assert server.calls == 2
        later = answers(backend, [question(2)])[0]  # the run goes on
    assert failed.error and "after 2 attempts" in failed.error and failed.text is None
    assert later.text and later.error is None


def test_client_errors_are_not_retried(backend_for: Any) -> None:
    with FakeOpenAIServer(require_key="another-key") as server:
        response = answers(backend_for(spec(server.url)), [question(1)])[0]
        assert server.calls == 1
    assert response.error and "AuthenticationError" in response.error


def test_every_request_answered_at_twenty_percent_faults(backend_for: Any) -> None:
    clock = FakeClock()
    with FakeOpenAIServer(fault_rate=0.2, seed=7, slow_s=5) as server:
        backend = backend_for(spec(server.url, concurrency=16, timeout=0.3), clock=clock)
        result = answers(backend, [question(i) for i in range(200)])
        faulted = [r for r in server.requests if r.fault]
    assert sorted(result) == list(range(200))
    assert all(r.error is None and r.text for r in result.values())
    assert len(faulted) > 20 and {r.fault for r in faulted} == set(FAULTS)
    assert len(clock.sleeps) >= len(faulted)  # one retry per fault (more if the host is slow)


def test_retry_after_is_honoured(backend_for: Any) -> None:
    clock = FakeClock()
    with FakeOpenAIServer(schedule={1: "429", 2: "503"}, retry_after=7) as server:
        response = answers(backend_for(spec(server.url), clock=clock), [question(1)])[0]
    assert response.text
    after_429, after_503 = clock.sleeps
    assert after_429 >= 7  # the server asked for 7 s
    assert 0.5 <= after_503 <= 1.0  # no Retry-After: backoff 2 x 0.5 s, half of it jitter
    assert response.latency_s >= 7


def test_backoff_grows_exponentially_with_jitter() -> None:
    import random

    policy, rng = RetryPolicy(base_s=1.0, cap_s=8.0), random.Random(0)
    for attempt, ceiling in enumerate([1, 2, 4, 8, 8]):
        delays = [policy.delay(attempt, None, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert policy.delay(0, 30.0, rng) == 30.0


# --- concurrency -------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_concurrency_bound_is_respected(workers: int, backend_for: Any) -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        backend = backend_for(spec(server.url, concurrency=6, workers=workers))
        result = answers(backend, [question(i) for i in range(60)])
        assert server.max_in_flight == 6
    assert len(result) == 60 and all(r.text for r in result.values())


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")  # litellm, when cancelled
def test_abandoned_iteration_frees_its_slots(backend_for: Any) -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        backend = backend_for(spec(server.url, concurrency=4))
        stream = backend.generate([question(i) for i in range(40)])
        next(stream)
        stream.close()
        later = answers(backend, [question(i) for i in range(8)])
        assert server.max_in_flight == 4
    assert sorted(later) == list(range(8))


# --- log-probability scoring -------------------------------------------------------------


def test_loglikelihood_scores_options_by_first_token_logprobs(backend_for: Any) -> None:
    with FakeOpenAIServer() as server:
        result = answers(backend_for(spec(server.url)), [mc(i) for i in range(6)])
        sent = server.requests[0].body
        replies = {
            int(r.body["messages"][-1]["content"].split()[1].rstrip("?")): r.body
            for r in server.requests
        }
    assert sent["logprobs"] is True and sent["top_logprobs"] == 20 and sent["max_tokens"] == 1
    assert sent["messages"][-1]["content"].endswith("Reply with one of: A, B, C, D.\nAnswer:")
    for i, response in result.items():
        assert response.error is None and response.logprobs is not None
        best = "ABCD"[max(range(4), key=response.logprobs.__getitem__)]
        assert best == server.policy(replies[i])  # the letter the server answered
        assert response.output_tokens == 1


def test_provider_without_logprobs_gives_an_error_per_request(backend_for: Any) -> None:
    with FakeOpenAIServer(logprobs=False) as server:
        response = answers(backend_for(spec(server.url)), [mc(1)])[0]
        assert server.calls == 1
    assert response.logprobs is None and "no logprobs" in (response.error or "")


def test_score_continuations_merges_spacing_and_marks_missing() -> None:
    top = [("B", -0.2), (" B", -2.0), ("A", -3.0), ("The", -4.0)]
    scores = score_continuations(top, [" A", " B", " C"])
    assert scores[0] == -3.0
    assert scores[1] == pytest.approx(math.log(math.exp(-0.2) + math.exp(-2.0)))
    assert scores[2] == -math.inf
    assert all(math.isnan(s) for s in score_continuations([("The", -0.1)], [" A", " B"]))


# --- configuration, keys and secrets -----------------------------------------------------


def test_missing_key_variable_fails_at_construction_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEY_VAR, raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("GENSPEC_SPECIALIST_API_BASE", raising=False)
    cases = {
        KEY_VAR: spec("http://127.0.0.1:9/v1", api_key_env=KEY_VAR),
        "ANTHROPIC_API_KEY": ModelSpec(
            name="claude",
            id="anthropic/claude-3-5-sonnet-20240620",
            role="generalist",
            backend="litellm",
        ),
        "GENSPEC_SPECIALIST_API_BASE": ModelSpec(
            name="meditron",
            id="openai/meditron-70b",
            role="specialist",
            backend="litellm",
            params={"api_base_env": "GENSPEC_SPECIALIST_API_BASE"},
        ),
    }
    for variable, model_spec in cases.items():
        for attempt in (LiteLLMBackend.preflight, LiteLLMBackend):
            with pytest.raises(BackendError) as caught:
                attempt(model_spec)
            assert variable in str(caught.value) and "\n" not in str(caught.value)


def test_bad_params_are_rejected_by_name() -> None:
    with pytest.raises(BackendError, match="Did you mean 'concurrency'"):
        LiteLLMBackend.preflight(spec("http://127.0.0.1:9/v1", concurency=4))
    with pytest.raises(BackendError, match="api_key_env") as caught:
        LiteLLMBackend.preflight(spec("http://127.0.0.1:9/v1", api_key=SECRET))
    assert SECRET not in str(caught.value)


def test_identity_keeps_only_what_changes_answers() -> None:
    plain = LiteLLMBackend.identity(spec("http://a/v1"))
    tuned = LiteLLMBackend.identity(
        spec("http://b/v1", concurrency=3, workers=2, timeout=9, max_retries=1, api_key_env=KEY_VAR)
    )
    assert plain == tuned == {"id": "openai/gpt-4o", "backend": "litellm", "params": {}}
    assert LiteLLMBackend.identity(spec("http://a/v1", top_logprobs=5))["params"] == {
        "top_logprobs": 5
    }


def test_the_key_is_sent_but_never_recorded(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    backend_for: Any,
) -> None:
    monkeypatch.setenv(KEY_VAR, SECRET)
    names = ("LiteLLM", "LiteLLM Router", "httpx", "openai", "genspec")
    loggers = [logging.getLogger(n) for n in names]
    for named in loggers:
        named.addHandler(caplog.handler)
        caplog.set_level(logging.DEBUG, logger=named.name)
    caplog.set_level(logging.DEBUG)
    try:
        with FakeOpenAIServer(require_key=SECRET, schedule={1: "500"}) as good:
            model_spec = spec(good.url, api_key_env=KEY_VAR)
            backend = backend_for(model_spec, clock=FakeClock())
            ok = [*answers(backend, [question(1)]).values(), *answers(backend, [mc(2)]).values()]
            recorded = json.dumps([r.headers for r in good.requests])
        with FakeOpenAIServer(require_key="the-right-key") as wrong:
            refused = answers(backend_for(spec(wrong.url, api_key_env=KEY_VAR)), [question(3)])
    finally:
        for named in loggers:
            named.removeHandler(caplog.handler)
    assert all(r.error is None for r in ok)  # the server answers only the right key
    assert refused[0].error
    outputs = [
        *(r.to_json() for r in [*ok, *refused.values()]),
        json.dumps(LiteLLMBackend.identity(model_spec)),
        repr(vars(backend)) + repr(model_spec),
        recorded,
        caplog.text,
        *capfd.readouterr(),
    ]
    assert caplog.records  # litellm did log at DEBUG
    assert not [text for text in outputs if "SECRET123" in text]


# --- the fake server itself -------------------------------------------------------------


def test_fake_api_cli_serves_models_and_completions() -> None:
    cmd = [sys.executable, "-m", "genspec.fake_api", "--port", "0", "--latency", "0"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = re.search(r"http://\S+/v1", server.stdout.readline()).group(0)
        with urllib.request.urlopen(f"{url}/models", timeout=5) as reply:
            assert json.load(reply)["data"][0]["id"] == "fake-model"
        body = {"model": "m", "messages": [{"role": "user", "content": "Q\nA. a\nB. b\nAnswer:"}]}
        post = urllib.request.Request(
            f"{url}/chat/completions", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(post, timeout=5) as reply:
            answer = json.load(reply)
        assert answer["choices"][0]["message"]["content"] in {"A", "B"}
        assert answer["usage"]["completion_tokens"] == 1
    finally:
        server.kill()
        server.wait()


def test_fake_api_faults_are_seeded_and_auth_is_not_recorded() -> None:
    def faults(seed: int) -> list[str | None]:
        with FakeOpenAIServer(fault_rate=0.5, faults=["500", "503"], seed=seed) as server:
            for _ in range(12):
                post = urllib.request.Request(
                    f"{server.url}/chat/completions",
                    data=b'{"messages": []}',
                    headers={"Authorization": f"Bearer {SECRET}"},
                    method="POST",
                )
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(post, timeout=5).close()
            assert all("Authorization" not in r.headers for r in server.requests)
            return [r.fault for r in server.requests]

    first = faults(3)
    assert first == faults(3) and first != faults(4) and None in first and "500" in first
    with pytest.raises(ValueError, match="unknown faults"):
        FakeOpenAIServer(faults=["teapot"])


# --- a whole run -------------------------------------------------------------------------


def test_a_run_at_twenty_percent_faults_answers_every_example(workdir: Path) -> None:
    from conftest import write_roster
    from genspec.config.compose import compose
    from genspec.engine import run

    with FakeOpenAIServer(fault_rate=0.2, seed=3, retry_after=0.05, slow_s=5) as server:
        model = {
            "name": "fake-api-model",
            "id": "openai/genspec-fake-run",  # its own id: the engine keeps backends per id
            "role": "generalist",
            "backend": "litellm",
            "params": {"api_base": server.url, "timeout": 1, "concurrency": 8},
        }
        conf = write_roster(workdir / "conf", "fake", [model])
        config, _ = compose(
            ["domain=medical", "roster=fake", "tasks=[medqa]", "limit=20"], str(conf)
        )
        rows = run(config).rows
        assert server.calls > len(rows) and any(r.fault for r in server.requests)
    assert len(rows) == 20
    assert not [r for r in rows if r.error or r.invalid]
