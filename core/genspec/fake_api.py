"""A real OpenAI-compatible HTTP server on 127.0.0.1 with injectable faults.

Tests of API backends talk to this server over real sockets instead of mocking litellm,
so the whole client stack (litellm, the openai SDK, httpx, retries) is exercised. It is
also a way to try genspec without an API key::

    genspec fake-api --port 8000 --latency 0.1 --fault-rate 0.2
    python -m genspec.fake_api ...       # the same, without the CLI

Answers are deterministic (a hash of the prompt picks the option letter), faults are
seeded by call number, and the server counts calls, requests in flight and what it was
sent (without the ``Authorization`` header unless asked), so tests can check exactly
what a client did.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: the transient faults, which ``fault_rate`` draws from: a client retries them and recovers
FAULTS = ("429", "500", "503", "timeout", "malformed", "empty", "drop")
#: faults only asked for by name (``schedule``, ``faults``): a body trickled out over
#: ``slow_s`` (each read quick, the whole slow), a choice without a message (litellm's
#: error text for it carries a traceback), a prompt past the context window (that
#: request's error), and permanent failures (an unknown model, a used-up quota) that a
#: client should stop on rather than retry
EXTRA_FAULTS = ("trickle", "no_message", "400", "404", "quota")
LETTERS = "ABCDEFGHIJ"
#: where ``genspec fake-api`` listens by default; the ``fake-api`` roster's default api_base
DEFAULT_URL = "http://127.0.0.1:8000/v1"
_TOKEN = re.compile(r"\s*\S+")
_OPTION_LINE = re.compile(rf"^([{LETTERS}])\. ", re.MULTILINE)
_LABELS = re.compile(r"one of the options \(([^)]*)\)")
CONFIDENCE_ASKED = "'Confidence: N'"  # how genspec.axes asks for a stated confidence

#: turns a request body into the answer text
Policy = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (call ``number`` counts from 1)."""

    number: int
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    fault: str | None


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _prompt(body: dict[str, Any]) -> str:
    messages = body.get("messages") or [{}]
    content = messages[-1].get("content") or ""
    return content if isinstance(content, str) else json.dumps(content)


def default_answer(body: dict[str, Any]) -> str:
    """An answer of the form the prompt asks for, picked by a hash of the model name and
    prompt, so that two models on one server answer differently.

    A prompt that names its labels ("one of the options (positive, negative or
    neutral)") gets one of them, "yes or no" one of those, "a single number" a number;
    any other gets one of its option letters (A-D if it lists none). A prompt that ends
    in "Answer:" gets the bare answer (what log-probability scoring reads); any other
    gets "The answer is X.".

    A rubric judge's prompt (one asking for ``criteria_met``, genspec.grading) gets a
    JSON verdict drawn the same way: two judge models agree only by chance, the panel
    that disagrees on purpose which the agreement checks need.
    """
    prompt = _prompt(body)
    pick = _unit(str(body.get("model")), prompt)
    if '"criteria_met"' in prompt:
        return json.dumps({"criteria_met": pick < 0.5, "explanation": "drawn by the fake API"})
    if labels := _LABELS.findall(prompt):
        options = re.split(r", | or ", labels[-1])
    elif "Reply with yes or no" in prompt or "<answer> is yes or no" in prompt:
        options = ["yes", "no"]
    elif "a single number" in prompt:
        options = [f"{pick * 1000:.1f}"]
    else:
        options = sorted(set(_OPTION_LINE.findall(prompt))) or list("ABCD")
    answer = options[int(pick * len(options))]
    if CONFIDENCE_ASKED in prompt:  # genspec's calibration axis: a stated 0-100 confidence
        return f"The answer is {answer}.\nConfidence: {int(_unit('confidence', prompt) * 101)}"
    return answer if prompt.rstrip().endswith("Answer:") else f"The answer is {answer}."


def _logprobs(tokens: Sequence[str], prompt: str, top: int) -> dict[str, Any]:
    """OpenAI-shaped logprobs: each token likely, the other letters as alternatives."""
    content = []
    for token in tokens:
        alternatives = [
            {"token": letter, "logprob": -2.0 - 3.0 * _unit(prompt, letter)}
            for letter in LETTERS
            if letter != token.strip()
        ]
        alternatives.sort(key=lambda entry: -entry["logprob"])
        chosen = {"token": token, "logprob": -0.05}
        tops = [chosen, *alternatives][:top]
        content.append(
            {
                **chosen,
                "bytes": list(token.encode()),
                "top_logprobs": [{**t, "bytes": list(t["token"].encode())} for t in tops],
            }
        )
    return {"content": content}


class FakeOpenAIServer:
    """``POST /v1/chat/completions`` and ``GET /v1/models`` on a background thread.

    Faults come from ``schedule`` (call number → fault) first, else with probability
    ``fault_rate`` drawn from ``faults`` by an RNG seeded with (``seed``, call number),
    so a run with the same call order sees the same faults. ``timeout`` holds the answer
    for ``slow_s`` seconds (past the client's timeout) and ``trickle`` spreads its body
    over them; ``429`` sends ``Retry-After: retry_after``. With ``require_key`` set,
    requests without that bearer key get 401 (whose message quotes the key sent, to test
    that clients scrub it);
    ``logprobs=False`` plays a provider that ignores logprob requests. ``versions`` maps
    a model name to a version: that model answers as a retrained model would (its
    answers drawn anew) and says so in its ``system_fingerprint``. It may be changed
    while the server runs, to play a provider updating the model behind a name (drift).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        faults: Sequence[str] = FAULTS,
        schedule: Mapping[int, str] | None = None,
        seed: int = 0,
        retry_after: float = 1.0,
        slow_s: float = 30.0,
        policy: Policy = default_answer,
        served_model: str | None = None,
        system_fingerprint: str = "fp_genspec_fake",
        require_key: str | None = None,
        record_auth: bool = False,
        logprobs: bool = True,
        versions: Mapping[str, str] | None = None,
    ) -> None:
        known = (*FAULTS, *EXTRA_FAULTS)
        unknown = sorted({*faults, *(schedule or {}).values()} - set(known))
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {', '.join(known)}")
        self.latency, self.fault_rate, self.faults = latency, fault_rate, tuple(faults)
        self.schedule, self.seed = dict(schedule or {}), seed
        self.retry_after, self.slow_s, self.policy = retry_after, slow_s, policy
        self.served_model, self.system_fingerprint = served_model, system_fingerprint
        self.require_key, self.record_auth, self.logprobs = require_key, record_auth, logprobs
        self.versions: dict[str, str] = dict(versions or {})
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The ``api_base`` a client uses: ``http://127.0.0.1:PORT/v1``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        # a short poll interval: stop() waits for the serving loop to notice
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests held by latency or a ``timeout`` fault end at once."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (the CLI)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    # --- called from handler threads -------------------------------------------------

    def _begin(self, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> str | None:
        """Count the call, record it, and decide its fault."""
        with self._lock:
            self.calls += 1
            number = self.calls
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self.schedule.get(number)
            if fault is None and self.fault_rate > 0:
                rng = random.Random(f"{self.seed}:{number}")
                if rng.random() < self.fault_rate:
                    fault = rng.choice(self.faults)
            kept = {
                k: v for k, v in headers.items() if self.record_auth or k.lower() != "authorization"
            }
            self.requests.append(RecordedRequest(number, path, body, kept, fault))
        return fault

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """The chat-completion JSON for ``body``: policy answer, usage, logprobs."""
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        model = str(body.get("model"))
        version = self.versions.get(model)
        asked = {**body, "model": f"{model}@{version}"} if version else body
        tokens = _TOKEN.findall(self.policy(asked))
        finish = "stop"
        if max_tokens is not None and len(tokens) > int(max_tokens):
            tokens, finish = tokens[: int(max_tokens)], "length"
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": "".join(tokens)},
            "finish_reason": finish,
        }
        if self.logprobs and body.get("logprobs"):
            top = int(body.get("top_logprobs") or 0)
            choice["logprobs"] = _logprobs(tokens, _prompt(body), top)
        prompt_tokens = sum(
            len(_TOKEN.findall(str(m.get("content") or ""))) for m in body.get("messages", [])
        )
        return {
            "id": f"chatcmpl-fake-{self.calls}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.served_model or body.get("model", "fake-model"),
            "system_fingerprint": (
                f"{self.system_fingerprint}_{version}" if version else self.system_fingerprint
            ),
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(tokens),
                "total_tokens": prompt_tokens + len(tokens),
            },
        }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hung up (after its timeout) is expected here."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real API servers do
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and benchmarks run thousands of requests."""

    def _head(self, status: int, length: int, headers: Mapping[str, str] = {}) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, payload: bytes, headers: Mapping[str, str] = {}) -> None:
        self._head(status, len(payload), headers)
        self.wfile.write(payload)

    def _trickle(self, fake: FakeOpenAIServer, payload: bytes) -> None:
        """The body a byte at a time over ``slow_s``: no read waits long, the whole does."""
        self._head(200, len(payload))
        for i in range(len(payload)):
            self.wfile.write(payload[i : i + 1])
            self.wfile.flush()
            fake._wait(fake.slow_s / len(payload))

    def _error(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] = {},
        kind: str = "fake_api_error",
    ) -> None:
        """An OpenAI-shaped error; ``kind`` goes in both ``type`` and ``code`` when given
        (OpenAI's ``insufficient_quota``), else the code is the status."""
        code: str | int = status if kind == "fake_api_error" else kind
        body = {"error": {"message": message, "type": kind, "code": code}}
        self._send(status, json.dumps(body).encode(), headers)

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._error(404, f"no route {self.path}")
            return
        ids = [self.server.fake.served_model or "fake-model"]
        data = [{"id": i, "object": "model", "owned_by": "genspec"} for i in ids]
        self._send(200, json.dumps({"object": "list", "data": data}).encode())

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"no route {self.path}")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        fake = self.server.fake
        fault = fake._begin(self.path, body, dict(self.headers.items()))
        try:
            self._answer(fake, body, fault)
        finally:
            fake._end()

    def _answer(
        self, fake: FakeOpenAIServer, body: dict[str, Any] | None, fault: str | None
    ) -> None:
        fake._wait(fake.slow_s if fault == "timeout" else fake.latency)
        sent = self.headers.get("Authorization")
        if fake.require_key and sent != f"Bearer {fake.require_key}":
            # echoes the key, as some servers do: what a client records must be scrubbed
            self._error(401, f"wrong API key in {sent!r}")
        elif body is None:
            self._error(400, "request body is not JSON")
        elif fault == "429":
            self._error(429, "rate limited", {"Retry-After": f"{fake.retry_after:g}"})
        elif fault in ("500", "503"):
            self._error(int(fault), "injected server error")
        elif fault == "400":
            self._error(400, "This model's maximum context length is 8 tokens")
        elif fault == "404":
            self._error(404, f"The model `{body.get('model')}` does not exist")
        elif fault == "quota":
            self._error(429, "You exceeded your current quota", kind="insufficient_quota")
        elif fault == "malformed":
            self._send(200, b'{"id": "chatcmpl-broken", "choices": [{"mess')
        elif fault == "drop":
            self.close_connection = True  # hang up without a response
        elif fault == "trickle":
            self._trickle(fake, json.dumps(fake.completion(body)).encode())
        else:
            answer = fake.completion(body)
            if fault == "empty":
                answer["choices"] = []
            elif fault == "no_message":
                del answer["choices"][0]["message"]
            self._send(200, json.dumps(answer).encode())


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    latency: float = 0.0,
    fault_rate: float = 0.0,
    faults: Sequence[str] | None = None,
    retry_after: float = 1.0,
    seed: int = 0,
) -> None:
    """Serve on this thread until Ctrl-C, after printing the URL and how to use it.

    The first line carries the URL, so a script (or a test) can read the port chosen
    for ``port=0``.
    """
    server = FakeOpenAIServer(
        host=host,
        port=port,
        latency=latency,
        fault_rate=fault_rate,
        faults=faults or FAULTS,
        retry_after=retry_after,
        seed=seed,
    )
    print(f"fake OpenAI-compatible API at {server.url} (Ctrl-C to stop)", flush=True)
    run = "genspec run domain=medical roster=fake-api limit=5"
    if server.url != DEFAULT_URL:
        run = f"GENSPEC_FAKE_API_BASE={server.url} {run}"
    print(f"  try: {run}", flush=True)
    print(f"  or any roster model with params: {{api_base: {server.url}}}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m genspec.fake_api`` (the same as ``genspec fake-api``)."""
    parser = argparse.ArgumentParser(
        prog="genspec fake-api", description="A fake OpenAI-compatible API for trying genspec."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of faulty answers")
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated kinds")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of a 429")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        latency=args.latency,
        fault_rate=args.fault_rate,
        faults=[f for f in args.faults.split(",") if f],
        retry_after=args.retry_after,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
