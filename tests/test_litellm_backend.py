"""The litellm backend against a real OpenAI-compatible server on 127.0.0.1.

No mock of litellm: every test goes through litellm, the openai SDK and real sockets to
genspec's fake API, which injects faults and counts what it was sent. Retry waits use a
fake clock, so backoff and Retry-After are checked exactly without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import math
import re
import signal
import socket
import subprocess
import sys
import time
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
#: faults a client retries: the random ones, a trickled body (only a bound on the whole
#: attempt cuts it) and an answer whose litellm error text carries a traceback
RETRIED = (*FAULTS, "trickle", "no_message")


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


def nothing_listening() -> str:
    """The api_base of a port nobody listens on: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


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


@pytest.mark.parametrize("fault", RETRIED)
def test_each_fault_is_retried_and_recovers(fault: str, backend_for: Any) -> None:
    clock = FakeClock()
    with FakeOpenAIServer(schedule={1: fault}, slow_s=5) as server:
        backend = backend_for(spec(server.url, timeout=0.5), clock=clock)
        started = time.monotonic()
        response = answers(backend, [question(1)])[0]
        assert server.calls == 2
    assert response.error is None and response.text
    assert len(clock.sleeps) == 1
    assert time.monotonic() - started < 3  # the 5 s fault was cut at the 0.5 s timeout


@pytest.mark.parametrize("fault", RETRIED)
def test_a_fault_that_persists_becomes_that_request_error(fault: str, backend_for: Any) -> None:
    with FakeOpenAIServer(schedule={1: fault, 2: fault}, slow_s=5) as server:
        backend = backend_for(spec(server.url, max_retries=1, timeout=0.5), clock=FakeClock())
        failed = answers(backend, [question(1)])[0]
        assert server.calls == 2
        later = answers(backend, [question(2)])[0]  # the run goes on
    assert failed.error and "after 2 attempts" in failed.error and failed.text is None
    assert "Traceback" not in failed.error and "litellm." not in failed.error  # one clean line
    assert later.text and later.error is None


def test_a_client_error_is_that_request_error_without_retries(backend_for: Any) -> None:
    """A 400 (a prompt past the context window) fails that request alone, at once."""
    with FakeOpenAIServer(schedule={1: "400"}) as server:
        backend = backend_for(spec(server.url), clock=FakeClock())
        failed = answers(backend, [question(1)])[0]
        assert server.calls == 1
        later = answers(backend, [question(2)])[0]
    assert failed.error and "(400): This model's maximum context length" in failed.error
    assert later.text


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("401", [f"refused the API key in {KEY_VAR}", f"set {KEY_VAR} to a valid key"]),
        ("404", ["has no such model or endpoint", "check the model id and params.api_base"]),
        ("quota", ["quota is used up", "add credit or use another key"]),
        ("refused", ["cannot connect to http://127.0.0.1:", "start the server"]),
    ],
)
def test_a_failure_no_request_escapes_stops_at_once_in_one_line(
    fault: str, expected: list[str], monkeypatch: pytest.MonkeyPatch, backend_for: Any
) -> None:
    """A refused key, an unknown model, a used-up quota or no server at all would fail
    every request after minutes of retries: the first one stops the run, naming the fix,
    without the key (the 401 here quotes it back)."""
    monkeypatch.setenv(KEY_VAR, SECRET)
    refused = fault == "refused"
    with FakeOpenAIServer(
        schedule={} if fault == "401" or refused else {1: fault}, require_key="the-right-key"
    ) as server:
        url = nothing_listening() if refused else server.url
        if fault != "401":
            server.require_key = None
        backend = backend_for(spec(url, api_key_env=KEY_VAR, concurrency=1), clock=FakeClock())
        with pytest.raises(BackendError) as caught:
            answers(backend, [question(i) for i in range(8)])
        assert server.calls == (0 if refused else 1)  # the other seven were not sent
    message = str(caught.value)
    assert message.startswith("Model 'api-model' (openai/gpt-4o): ") and "\n" not in message
    assert all(part in message for part in expected), message
    assert "answers so far are cached" in message and SECRET not in message
    assert ("after 7 attempts" in message) == refused  # only a connection is retried


def test_a_long_retry_after_fails_the_request_instead_of_stalling(backend_for: Any) -> None:
    """A Retry-After of an hour (a daily limit) is not slept through: that request fails
    now, saying why, and the next one is asked."""
    clock = FakeClock()
    with FakeOpenAIServer(schedule={1: "429"}, retry_after=3600) as server:
        backend = backend_for(spec(server.url), clock=clock)
        failed = answers(backend, [question(1)])[0]
        later = answers(backend, [question(2)])[0]
        assert server.calls == 2
    assert clock.sleeps == []
    assert failed.error and "RateLimitError (429)" in failed.error and "3600 s" in failed.error
    assert later.text


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
        # the server finishes the abandoned requests' latency on its own; count afresh
        deadline = time.monotonic() + 5
        while server.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        server.max_in_flight = 0
        later = answers(backend, [question(i) for i in range(8)])
        assert server.max_in_flight == 4  # all four slots are free again, and no more
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
            refused = backend_for(spec(wrong.url, api_key_env=KEY_VAR))
            with pytest.raises(BackendError) as stopped:
                answers(refused, [question(3)])
    finally:
        for named in loggers:
            named.removeHandler(caplog.handler)
    assert all(r.error is None for r in ok)  # the server answers only the right key
    outputs = [
        *(r.to_json() for r in ok),
        str(stopped.value),
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
    cmd = [sys.executable, "-m", "genspec.cli", "fake-api", "--port", "0", "--latency", "0"]
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


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port", "-1"], "--port"),
        (["--port", "99999"], "--port"),
        (["--fault-rate", "2"], "--fault-rate"),
        (["--latency", "-1"], "--latency"),
    ],
)
def test_fake_api_bad_options_are_usage_errors(args: list[str], named: str) -> None:
    from click.testing import CliRunner

    from genspec.cli import cli

    result = CliRunner().invoke(cli, ["fake-api", *args])
    assert result.exit_code == 2
    assert f"Invalid value for '{named}'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("prompt", "answers"),
    [
        ("Q?\nA. x\nB. y\nReply with the letter of the correct option (A or B) only.", "AB"),
        ("Sentiment? Reply with one of the options (positive, negative or neutral) only.",
         ["positive", "negative", "neutral"]),
        ("Is the second larger? Reply with yes or no only.", ["yes", "no"]),
    ],
)  # fmt: skip
def test_fake_api_answers_in_the_form_the_prompt_asks_for(prompt: str, answers: Any) -> None:
    from genspec.fake_api import default_answer

    for model in ("m1", "m2", "m3"):
        body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
        reply = default_answer(body)
        assert reply.startswith("The answer is ") and reply[14:-1] in answers
    number = {"model": "m", "messages": [{"content": "Reply with a single number only."}]}
    assert float(default_answer(number)[14:-1]) >= 0


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


# --- whole runs through the CLI ------------------------------------------------------


def api_model(server: FakeOpenAIServer, name: str, **params: Any) -> dict[str, Any]:
    """A roster entry on ``server``. Each test uses its own model ids: the engine keeps
    loaded backends per model identity for the process, and api_base is not part of it."""
    return {
        "name": name,
        "id": f"openai/{name}",
        "role": "generalist",
        "backend": "litellm",
        "params": {"api_base": server.url, "timeout": 5, **params},
    }


def cli_run(*args: str) -> str:
    from click.testing import CliRunner

    from genspec.cli import cli

    result = CliRunner().invoke(cli, ["run", *args])
    assert result.exit_code == 0, result.output
    return result.output


def cli_stops(*args: str) -> str:
    """A run that must stop with exit code 2 and one error line, no traceback: that line."""
    from click.testing import CliRunner

    from genspec.cli import cli

    result = CliRunner().invoke(cli, ["run", *args])
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def cached_rows(workdir: Path) -> int:
    """Answers in the run's cache, read by another connection (as a second process would)."""
    import sqlite3

    path = workdir / "cache" / "responses.sqlite"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not created yet
            return 0


def mlflow_runs(workdir: Path, domain: str = "medical") -> tuple[Any, list[Any]]:
    """The MLflow client and the parent runs of ``domain``, oldest first."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(f"genspec-{domain}")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return client, [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


def child_of(client: Any, parent: Any) -> Any:
    experiment = parent.info.experiment_id
    query = f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    (child,) = client.search_runs([experiment], filter_string=query)
    return child


def artifact_json(client: Any, run: Any, path: str, into: Path) -> dict[str, Any]:
    into.mkdir(parents=True, exist_ok=True)
    return json.loads(Path(client.download_artifacts(run.info.run_id, path, str(into))).read_text())


def test_a_killed_run_resumes_without_asking_again(workdir: Path) -> None:
    """SIGKILL mid-run, then the same command: answered examples are never requested again."""
    from conftest import write_roster

    n = 12
    with FakeOpenAIServer(latency=0.25) as server:
        conf = write_roster(
            workdir / "conf", "resume", [api_model(server, "resume-model", concurrency=2)]
        )
        args = ["domain=medical", "roster=resume", "tasks=[medqa]", f"limit={n}"]
        args += ["--config-dir", str(conf)]
        first = subprocess.Popen(
            [sys.executable, "-m", "genspec.cli", "run", *args],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while cached_rows(workdir) < 4 and first.poll() is None:
                assert time.monotonic() < deadline, "the first run never cached an answer"
                time.sleep(0.02)
            assert first.poll() is None, "the first run ended before it could be killed"
            first.send_signal(signal.SIGKILL)
        finally:
            first.kill()
            first.wait()
        answered = cached_rows(workdir)  # stored one by one as they arrived, then killed
        assert 4 <= answered < n
        before = server.calls

        cli_run(*args)  # the same command again
        resumed = server.requests[before:]
        prompts = [r.body["messages"][-1]["content"] for r in resumed]
        assert len(resumed) == n - answered  # only what the killed run had not stored
        assert len(set(prompts)) == len(prompts)
        assert cached_rows(workdir) == n

        before = server.calls
        cli_run(*args)
        assert server.calls == before  # a repeated run makes no call at all

    client, (second, third) = mlflow_runs(workdir)  # the killed run logged nothing
    tables = [
        artifact_json(
            client, child_of(client, run), "examples/medqa.json", workdir / run.info.run_id
        )
        for run in (second, third)
    ]
    kept = ["example_id", "prediction", "correct", "raw_output"]
    picked = [
        sorted([row[t["columns"].index(c)] for c in kept] for row in t["data"]) for t in tables
    ]
    assert picked[0] == picked[1] and len(picked[0]) == n
    fractions = [child_of(client, r).data.metrics["cached_fraction"] for r in (second, third)]
    assert fractions == [pytest.approx(answered / n), 1.0]
    results = [
        artifact_json(client, run, "results.json", workdir / f"r-{run.info.run_id}")["results"]
        for run in (second, third)
    ]
    assert results[0] == results[1]


def test_cache_modes_through_the_cli(workdir: Path) -> None:
    from conftest import write_roster

    with FakeOpenAIServer() as server:
        conf = write_roster(workdir / "conf", "modes", [api_model(server, "cache-modes-model")])
        args = ["domain=medical", "roster=modes", "tasks=[medqa]", "limit=3"]
        args += ["--config-dir", str(conf)]

        def calls_and_rows(mode: str) -> tuple[int, int]:
            before = server.calls
            cli_run(*args, mode)
            return server.calls - before, cached_rows(workdir)

        assert calls_and_rows("cache=off") == (3, 0)
        assert not (workdir / "cache" / "responses.sqlite").exists()
        assert calls_and_rows("cache=readonly") == (3, 0)  # nothing to read, nothing written
        assert calls_and_rows("cache=writeonly") == (3, 3)
        assert calls_and_rows("cache=writeonly") == (3, 3)  # writes, never reads
        assert calls_and_rows("cache=readonly") == (0, 3)
        assert calls_and_rows("cache.mode=readwrite") == (0, 3)


def test_the_summary_names_the_most_common_error_and_the_rerun_retries_it(
    workdir: Path,
) -> None:
    from conftest import write_roster

    with FakeOpenAIServer(schedule={1: "400", 2: "400", 3: "503"}) as server:
        model = api_model(server, "failing-model", max_retries=0)
        conf = write_roster(workdir / "conf", "failing", [model])
        args = ["domain=medical", "roster=failing", "tasks=[medqa]", "limit=4"]
        output = " ".join(cli_run(*args, "--config-dir", str(conf)).split())
        assert "model 'failing-model': 3 of 4 calls failed" in output
        assert "most often (2×): " in output and "maximum context length" in output
        before = server.calls
        cli_run(*args, "--config-dir", str(conf))
    assert server.calls - before == 3  # only the failed calls are asked again


def test_a_run_of_several_api_models_leaves_no_pending_task_lines(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each backend has its own event loop; litellm's shared logging worker must not
    print "Task was destroyed but it is pending" (it did after each fake-api model)."""
    from conftest import write_roster

    with FakeOpenAIServer() as server:
        models = [api_model(server, f"in-turn-{i}") for i in range(3)]
        conf = write_roster(workdir / "conf", "in-turn", models)
        cli_run("domain=medical", "roster=in-turn", "limit=3", "--config-dir", str(conf))
    assert "Task was destroyed" not in caplog.text


def test_cost_tokens_and_model_version_reach_the_terminal_and_mlflow(workdir: Path) -> None:
    from conftest import write_roster

    fingerprint = "fp_drift_check_1"
    # litellm prices an answer by the model the server says served it: one server each
    with (
        FakeOpenAIServer(served_model="gpt-4o-2024-08-06", system_fingerprint=fingerprint) as s,
        FakeOpenAIServer() as other,
    ):
        priced = {**api_model(s, "priced"), "id": "openai/gpt-4o-2024-08-06"}
        unpriced = {**api_model(other, "cost-unpriced"), "role": "specialist"}
        conf = write_roster(workdir / "conf", "costs", [priced, unpriced])
        output = cli_run(
            "domain=medical", "roster=costs", "tasks=[medqa]", "limit=4", "--config-dir", str(conf)
        )
        sent = [r.body for r in s.requests]
    # litellm's bundled prices for gpt-4o-2024-08-06: $2.5 / $10 per million tokens
    tokens_in = sum(
        sum(len(m["content"].split()) for m in body["messages"]) for body in sent
    )  # the fake server counts whitespace-separated tokens
    client, (parent,) = mlflow_runs(workdir)
    children = {
        c.data.params["model.name"]: c
        for c in client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
    }
    metrics = children["priced"].data.metrics
    cost = metrics["input_tokens"] * 2.5e-6 + metrics["output_tokens"] * 1e-5
    assert metrics["input_tokens"] == tokens_in and metrics["output_tokens"] > 0
    assert metrics["cost_usd"] == pytest.approx(cost)
    assert metrics["paid_usd"] == pytest.approx(cost)  # nothing came from the cache
    assert metrics["test_cost_usd"] == pytest.approx(cost)  # no dev items in this run
    assert metrics["accuracy_per_usd"] == pytest.approx(metrics["medqa.accuracy"] / cost)
    assert "cost_usd" not in children["cost-unpriced"].data.metrics  # no price: no cost

    # the terminal: a cost table with the priced model only, within 80 columns
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Cost · medical"))
    table = lines[start : lines.index("", start + 2)]
    assert any(line.split()[:1] == ["priced"] for line in table)
    assert not any("cost-unpriced" in line for line in table)
    header = next(line for line in table if line.split()[:1] == ["model"])
    assert "acc/$" in header and max(len(line.rstrip()) for line in table) <= 80

    # drift: what the provider said it served, and when the run was
    params = children["priced"].data.params
    assert params["provider.model"] == "gpt-4o-2024-08-06"
    assert params["provider.system_fingerprint"] == fingerprint
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert parent.data.params["run_date"].startswith(today)
    table = artifact_json(client, children["priced"], "examples/medqa.json", workdir / "ex")
    column = table["columns"].index("system_fingerprint")
    assert {row[column] for row in table["data"]} == {fingerprint}
    results = artifact_json(client, parent, "results.json", workdir / "res")
    priced_entry = next(m for m in results["models"] if m["name"] == "priced")
    assert priced_entry["provider_models"] == ["gpt-4o-2024-08-06"]


def test_a_known_key_reaches_no_file_and_no_output(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is sent to the server, yet appears nowhere in the MLflow store (database and
    artifacts), the answer cache or the terminal, even when a server that refuses it
    echoes it back (which stops the run in one line naming the key's variable)."""
    from conftest import write_roster

    monkeypatch.setenv(KEY_VAR, SECRET)
    with (
        FakeOpenAIServer(require_key=SECRET, record_auth=True) as good,
        FakeOpenAIServer(require_key="another-key") as echoing,
    ):
        accepted = api_model(good, "keyed-model", api_key_env=KEY_VAR)
        refused = api_model(echoing, "keyed-refused", api_key_env=KEY_VAR, concurrency=1)
        write_roster(workdir / "conf", "keyed", [accepted])
        conf = write_roster(workdir / "conf", "refused", [refused])
        args = ["domain=medical", "tasks=[medqa]", "limit=3", "--config-dir", str(conf)]
        output = cli_run("roster=keyed", *args)
        stopped = cli_stops("roster=refused", *args)
        sent = [{k.lower(): v for k, v in r.headers.items()} for r in good.requests]
        assert echoing.calls == 1  # stopped at the first refusal
    assert [h["authorization"] for h in sent] == [f"Bearer {SECRET}"] * 3  # really sent
    assert (workdir / "cache" / "responses.sqlite").exists() and cached_rows(workdir) == 3
    store = [workdir / "mlflow.db", workdir / "mlruns", workdir / "cache"]
    files = [p for root in store for p in [root, *root.rglob("*")] if p.is_file()]
    assert len(files) > 5
    assert [p for p in files if SECRET.encode() in p.read_bytes()] == []
    assert SECRET not in output and SECRET not in stopped
    assert f"refused the API key in {KEY_VAR}" in stopped and "wrong API key in" in stopped


def test_a_server_that_is_not_running_stops_the_run_in_one_line(workdir: Path) -> None:
    """Every connection refused: one line naming the URL and the fix, exit code 2, in
    seconds (not a table of errors after every request's retries)."""
    from conftest import write_roster

    url = nothing_listening()
    model = {
        "name": "not-running",
        "id": "openai/not-running",
        "role": "generalist",
        "backend": "litellm",
        "params": {"api_base": url, "max_retries": 1},
    }
    conf = write_roster(workdir / "conf", "down", [model])
    started = time.monotonic()
    stopped = cli_stops("domain=medical", "roster=down", "limit=4", "--config-dir", str(conf))
    assert time.monotonic() - started < 30
    assert f"cannot connect to {url}" in stopped and "start the server" in stopped


def test_a_client_side_configuration_error_stops_at_once_without_retries(
    monkeypatch: pytest.MonkeyPatch, backend_for: Any
) -> None:
    """A key from api_key_env beside user:password in the URL: the HTTP client refuses to
    build the request ("Cannot combine AUTHORIZATION header ..."), which litellm reports
    as a 500. No retry can help: the first request stops the run, nothing was sent, and
    the line names the fix."""
    monkeypatch.setenv(KEY_VAR, SECRET)
    with FakeOpenAIServer() as server:
        url = server.url.replace("http://", "http://user:url-password@")
        backend = backend_for(spec(url, api_key_env=KEY_VAR, concurrency=1), clock=FakeClock())
        with pytest.raises(BackendError) as caught:
            answers(backend, [question(i) for i in range(4)])
        assert server.calls == 0
    message = str(caught.value)
    assert "Cannot combine AUTHORIZATION header" in message and "\n" not in message
    assert "attempts" not in message  # tried once
    assert "fix params.api_base" in message


def test_a_model_with_no_answer_at_all_fails_the_run_after_reporting_it(workdir: Path) -> None:
    """Every call of one model is a permanent client error (a 400): each request is sent
    once, not retried; the other model's results are still printed and logged, and the
    run exits non-zero with one line naming the model and its error."""
    from conftest import write_roster

    with FakeOpenAIServer() as good, FakeOpenAIServer(fault_rate=1.0, faults=["400"]) as bad:
        models = [
            api_model(good, "answering-model"),
            {**api_model(bad, "refused-model"), "role": "specialist"},
        ]
        conf = write_roster(workdir / "conf", "refused", models)
        args = ["domain=medical", "roster=refused", "tasks=[medqa]", "limit=4"]
        stopped = cli_stops(*args, "--config-dir", str(conf))
        assert bad.calls == 4 and good.calls == 4
    assert "model 'refused-model' gave no answer: all 4 calls failed" in stopped
    assert "maximum context length" in stopped and "answering-model" not in stopped
    _, parents = mlflow_runs(workdir)
    assert len(parents) == 1  # the evidence gathered was logged before the run failed


# --- the paper roster ----------------------------------------------------------------


@pytest.mark.parametrize("domain", ["medical", "finance", "legal"])
def test_paper_roster_names_the_missing_variable_in_one_line(
    domain: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each domain's paper roster: API generalists plus served specialists beside their
    bases; a missing key or endpoint stops the run before any call, naming the variable."""
    from click.testing import CliRunner

    from genspec.cli import cli
    from genspec.config.compose import compose

    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GENSPEC_SPECIALIST_API_BASE"):
        monkeypatch.delenv(variable, raising=False)
    config, _ = compose([f"domain={domain}", "roster=paper"])
    models = config.roster.for_domain(domain)
    generalists = {m.id for m in models if m.role.value == "generalist"}
    assert generalists == {"openai/gpt-4o", "anthropic/claude-3-5-sonnet-20240620"}
    specialists = [m for m in models if m.role.value == "specialist"]
    names = {m.name: m for m in models}
    assert len(specialists) >= 2
    for model in specialists:
        assert model.base in names and names[model.base].role.value == "base"
    for model in [m for m in models if m.role.value != "generalist"]:
        assert model.backend == "litellm"
        assert model.params["api_base_env"] == "GENSPEC_SPECIALIST_API_BASE"

    # Med-PaLM 2 only as a reported number, never a model that is run
    reported = {r.model for r in config.roster.reported if r.domain in (None, domain)}
    assert not {m.name for m in models} & reported
    if domain == "medical":
        assert "Med-PaLM 2" in reported

    steps = [
        ("OPENAI_API_KEY", "sk-not-used"),
        ("ANTHROPIC_API_KEY", "sk-not-used"),
        ("GENSPEC_SPECIALIST_API_BASE", None),
    ]
    for variable, value in steps:
        result = CliRunner().invoke(cli, ["run", f"domain={domain}", "roster=paper", "limit=2"])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code != 0 and len(lines) == 1, result.output
        assert lines[0].startswith("error: Model '") and variable in lines[0]
        if value is not None:
            monkeypatch.setenv(variable, value)
