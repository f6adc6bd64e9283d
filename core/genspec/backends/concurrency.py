"""Retries, bounded concurrency and event loops for any HTTP backend, written once.

A provider (litellm today; a company's own service through ``genspec_backends`` tomorrow)
says only what is particular to it — how to make one call, how to read the answer, which
errors are worth another attempt (``should_retry``), which stop the whole run, and the
endpoint it talks to (``connection_key``) — as inspect_ai's ``ModelAPI`` does. This module
does the rest:

* Calls are async with a bound on requests in flight, run on event loops in worker
  threads or processes so the engine keeps its plain iterator (:class:`Pool`). Per-call
  client overhead is CPU work: one loop at 32 in flight spends most of each round trip
  on it, so several processes, each with its own loop, share the bound.
* Failures are per request: what ``should_retry`` accepts is retried with exponential
  backoff and jitter (a server's Retry-After wins; one longer than
  :attr:`RetryPolicy.max_retry_after_s` ends that request instead of stalling the run);
  what still fails becomes ``Response(error=...)`` and the run goes on. A failure the
  provider says no request can escape stops the run with one line.
* An attempt is bounded as a whole (the provider's ``timeout_s``): a client's timeout
  usually applies per read, so a server trickling bytes would otherwise hold a request
  for ever.
* Time and randomness are injected (:class:`Clock`, a seed), so backoff is tested exactly
  without sleeping.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from multiprocessing.connection import Connection, wait
from typing import Any

from genspec.errors import BackendError
from genspec.requests import Request, Response

logger = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 6
Completed = Iterator[tuple[int, Response]]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a server's Retry-After is a floor on the wait.

    A Retry-After above ``max_retry_after_s`` (a daily limit says "try in 3 hours") is
    not waited for: the request fails at once, and a rerun asks it again.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    base_s: float = 0.5
    cap_s: float = 30.0
    max_retry_after_s: float = 60.0

    def too_long(self, retry_after: float | None) -> bool:
        """Whether the server asks for a longer wait than a run should sit through."""
        return retry_after is not None and retry_after > self.max_retry_after_s

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry ``attempt + 1`` (``attempt`` counts from 0)."""
        backoff = min(self.cap_s, self.base_s * 2**attempt)
        jittered = backoff / 2 + rng.uniform(0, backoff / 2)
        return max(jittered, retry_after or 0.0)


class Clock:
    """Real time. Tests pass a fake whose ``sleep`` only advances ``now``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Malformed(Exception):
    """A successful HTTP answer without usable content (worth another attempt)."""


class Deadline(TimeoutError):
    """An attempt that outlived the provider's ``timeout_s`` as a whole (a trickling body)."""


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and its chain of causes (bounded: causes can form a cycle)."""
    seen: BaseException | None = error
    for _ in range(16):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def retry_after_s(error: Exception) -> float | None:
    """The server's Retry-After (``retry-after-ms``, seconds or an HTTP date), if any."""
    headers = getattr(error, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(error, "response", None), "headers", None)
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        if "retry-after" in lowered:
            value = lowered["retry-after"]
            try:
                return max(0.0, float(value))
            except ValueError:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
    return None


class Provider(abc.ABC):
    """What one HTTP model says about itself; everything else is this module's.

    Picklable (worker processes receive it). ``policy`` and ``timeout_s`` bound each
    request's attempts; secrets the provider holds must stay out of ``describe``.
    """

    policy: RetryPolicy
    timeout_s: float

    @abc.abstractmethod
    def connection_key(self) -> str:
        """The endpoint the calls go to (a URL or provider/model), as logs name it."""

    @abc.abstractmethod
    async def send(self, arguments: dict[str, Any]) -> Any:
        """One attempt: the raw answer, or an exception."""

    @abc.abstractmethod
    def answer(self, result: Any, request: Request, latency_s: float) -> Response:
        """The raw answer as a Response; raise :class:`Malformed` when it has no content."""

    @abc.abstractmethod
    def should_retry(self, error: Exception) -> bool:
        """Whether another attempt could succeed (a rate limit, a 5xx, a dropped line)."""

    @abc.abstractmethod
    def describe(self, error: Exception) -> str:
        """The request's error as one clean line, without secrets."""

    def stop_line(self, error: Exception, detail: str) -> str | None:
        """The one line that stops the run when no request can escape ``error``
        (a refused key, an unknown model); None when only this request failed."""
        return None

    def on_loop(self, loop: asyncio.AbstractEventLoop) -> None:  # noqa: B027 - optional hook
        """Adjust a worker's event loop once, before it serves (e.g. quiet a library)."""


@dataclass(frozen=True)
class Hooks:
    """Injected time and randomness (tests); each worker seeds its own RNG from ``seed``."""

    clock: Clock
    seed: int | None


class _Worker:
    """Answers calls sent over a pipe on its own event loop, in a thread or a process.

    Messages in: ``("call", batch, index, request, arguments)``, ``("cancel", batch)``,
    ``None`` (stop). Out: ``("done", batch, index, Response, stop)``, where ``stop`` is
    the line that ends the run (or None), and ``("cancelled", batch)``.
    The parent sends no more calls than the worker's share of the concurrency, so the
    worker needs no semaphore of its own.
    """

    def __init__(self, conn: Connection, provider: Provider, hooks: Hooks, number: int) -> None:
        self.conn, self.provider, self.clock = conn, provider, hooks.clock
        self.rng = random.Random(None if hooks.seed is None else hooks.seed + number)
        self.tasks: dict[int, set[asyncio.Task[None]]] = {}

    def serve(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.provider.on_loop(loop)
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        threading.Thread(target=self._read, args=(loop, inbox), daemon=True).start()
        while (message := await inbox.get()) is not None:
            if message[0] == "call":
                _, batch, index, request, arguments = message
                task = asyncio.create_task(self._answer(batch, index, request, arguments))
                self.tasks.setdefault(batch, set()).add(task)
                task.add_done_callback(self.tasks[batch].discard)
            else:
                await self._cancel(message[1])

    def _read(self, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[Any]) -> None:
        """Blocking pipe reads on a side thread, handed to the loop."""
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = None
            loop.call_soon_threadsafe(inbox.put_nowait, message)
            if message is None:
                return

    async def _cancel(self, batch: int) -> None:
        tasks = self.tasks.pop(batch, set())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.conn.send(("cancelled", batch))

    async def _answer(
        self, batch: int, index: int, request: Request, arguments: dict[str, Any]
    ) -> None:
        response, stop = await self._attempts(request, arguments)
        self.conn.send(("done", batch, index, response, stop))

    async def _attempts(
        self, request: Request, arguments: dict[str, Any]
    ) -> tuple[Response, str | None]:
        """Call until an answer, a permanent error or the last retry."""
        provider, started, attempt = self.provider, self.clock.now(), 0
        policy = provider.policy
        while True:
            try:
                result = await self._call(arguments)
                return provider.answer(result, request, self.clock.now() - started), None
            except Exception as error:
                wait = retry_after_s(error)
                retry = provider.should_retry(error) and not policy.too_long(wait)
                if attempt >= policy.max_retries or not retry:
                    return self._failure(error, attempt + 1, wait, self.clock.now() - started)
                delay = policy.delay(attempt, wait, self.rng)
                logger.debug(
                    "%s: retry in %.2fs after %s",
                    provider.connection_key(),
                    delay,
                    type(error).__name__,
                )
                await self.clock.sleep(delay)
                attempt += 1

    async def _call(self, arguments: dict[str, Any]) -> Any:
        """One attempt, bounded as a whole by the timeout."""
        timeout = self.provider.timeout_s
        try:
            return await asyncio.wait_for(self.provider.send(arguments), timeout)
        except asyncio.TimeoutError:
            raise Deadline(f"no complete answer within {timeout:g} s") from None

    def _failure(
        self, error: Exception, attempts: int, wait: float | None, latency_s: float
    ) -> tuple[Response, str | None]:
        """The request's error, and the line that stops the run when no request can work."""
        message = self.provider.describe(error)
        if attempts > 1:
            message += f" (after {attempts} attempts)"
        if self.provider.policy.too_long(wait):
            message += f" (the server asks to wait {wait:.0f} s; run again later)"
        return Response(error=message, latency_s=latency_s), self.provider.stop_line(error, message)


def _serve(conn: Connection, provider: Provider, hooks: Hooks, number: int) -> None:
    _Worker(conn, provider, hooks, number).serve()


class Pool:
    """Feeds calls to workers within the concurrency bound and yields answers as they come.

    One worker runs on a thread of this process; more run as forked processes (fork
    keeps the already imported client library, so a worker starts in milliseconds;
    where fork is unavailable they are spawned and import it themselves).
    """

    def __init__(self, provider: Provider, concurrency: int, workers: int, hooks: Hooks) -> None:
        workers = max(1, min(workers, concurrency))
        self.slots = [concurrency // workers + (i < concurrency % workers) for i in range(workers)]
        self.conns: list[Connection] = []
        self.runners: list[threading.Thread | multiprocessing.process.BaseProcess] = []
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        for number in range(workers):
            parent, child = multiprocessing.Pipe()
            args = (child, provider, hooks, number)
            runner: threading.Thread | multiprocessing.process.BaseProcess
            if workers == 1:
                runner = threading.Thread(target=_serve, args=args, daemon=True)
            else:
                runner = context.Process(target=_serve, args=args, daemon=True)
            runner.start()
            self.conns.append(parent)
            self.runners.append(runner)
        self.batches = itertools.count()

    def run(self, calls: Sequence[tuple[Request, dict[str, Any]]]) -> Completed:
        """Yield ``(index, Response)`` per call in completion order; a stop line raises
        :class:`BackendError`, and an abandoned iteration cancels what is in flight."""
        batch = next(self.batches)
        todo = iter(enumerate(calls))
        outstanding = dict.fromkeys(self.conns, 0)

        def feed(conn: Connection) -> None:
            item = next(todo, None)
            if item is not None:
                index, (request, arguments) = item
                conn.send(("call", batch, index, request, arguments))
                outstanding[conn] += 1

        for conn, slots in zip(self.conns, self.slots, strict=True):
            for _ in range(slots):
                feed(conn)
        try:
            while busy := [c for c in self.conns if outstanding[c]]:
                for conn in wait(busy):
                    _, _, index, response, stop = self._receive(conn)
                    outstanding[conn] -= 1
                    if stop:
                        raise BackendError(stop)
                    feed(conn)
                    yield index, response
        finally:
            self._cancel(batch, [c for c in self.conns if outstanding[c]])

    def _receive(self, conn: Connection) -> tuple[Any, ...]:
        try:
            return conn.recv()
        except (EOFError, OSError):
            raise RuntimeError("an HTTP backend worker stopped unexpectedly") from None

    def _cancel(self, batch: int, conns: list[Connection]) -> None:
        """Stop a batch the caller abandoned, so its calls stop counting against the bound."""
        for conn in conns:
            conn.send(("cancel", batch))
        for conn in conns:
            while self._receive(conn)[0] != "cancelled":
                pass

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for runner in self.runners:
            runner.join(timeout=5)
        for conn in self.conns:
            conn.close()
