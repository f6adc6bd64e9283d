"""Throughput of the litellm backend against a local server with fixed latency.

The issue's target: 1000 requests to a server answering in 100 ms, at concurrency 32,
finish in at most 1.2x the ideal wall time (1000 / 32 x 0.1 s = 3.125 s). The server
(genspec's fake OpenAI API) runs in its own process, as a remote API would, so its work
does not compete with the client for the interpreter lock.

    python bench/bench_litellm_throughput.py [--requests 1000] [--latency 0.1]
        [--concurrency 32] [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

from genspec.backends.litellm import LiteLLMBackend
from genspec.config.schema import ModelSpec
from genspec.requests import GenerateRequest, Message


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    """``python -m genspec.fake_api`` on a free port; returns the process and its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "genspec.fake_api", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    match = re.search(r"http://\S+/v1", server.stdout.readline())
    if match is None:
        server.kill()
        raise SystemExit("the fake API did not start")
    return server, match.group(0)


def requests(n: int, tag: str) -> list[GenerateRequest]:
    return [
        GenerateRequest(messages=(Message("user", f"{tag} question {i}\nA. yes\nB. no"),))
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server, url = start_server(args.latency)
    try:
        params = {"api_base": url, "concurrency": args.concurrency, "workers": args.workers}
        spec = ModelSpec(
            name="bench", id="openai/gpt-4o", role="generalist", backend="litellm", params=params
        )
        started = time.perf_counter()
        backend = LiteLLMBackend(spec)
        print(f"backend ready in {time.perf_counter() - started:.2f} s (litellm imported)")
        list(backend.generate(requests(args.concurrency * 2, "warm-up")))
        ideal = args.requests / args.concurrency * args.latency
        ratios = []
        for run in range(args.repeat):
            batch = requests(args.requests, f"run {run}")
            cpu, started = time.process_time(), time.perf_counter()
            answers = list(backend.generate(batch))
            wall = time.perf_counter() - started
            errors = sum(1 for _, r in answers if r.error)
            ratios.append(wall / ideal)
            print(
                f"run {run + 1}: {len(answers)} requests, wall {wall:.2f} s, ideal {ideal:.2f} s, "
                f"ratio {wall / ideal:.2f}, parent CPU {time.process_time() - cpu:.2f} s, "
                f"errors {errors}"
            )
        backend.close()  # joins worker processes, so their CPU time is counted below
        total = args.concurrency * 2 + args.requests * args.repeat
        usage = [
            resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ]
        cpu_s = sum(u.ru_utime + u.ru_stime for u in usage)
        print(
            f"concurrency {args.concurrency}, workers {args.workers}, {os.cpu_count()} CPUs: "
            f"median ratio {statistics.median(ratios):.2f} (target <= 1.2); "
            f"client CPU {cpu_s / total * 1000:.1f} ms per request (import included)"
        )
    finally:
        server.kill()


if __name__ == "__main__":
    main()
