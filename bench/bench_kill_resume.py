"""Nothing lost under faults and kill -9: repeated calls and lost answers (issue 20).

A ``genspec run`` against the fake OpenAI API with ``--fault-rate`` 0.2 (429, 5xx,
timeouts, malformed and empty answers, dropped connections) is killed with SIGKILL
at a random point (after a random number of answers were cached), then the same
command is run again to the end. The server records every request, so:

- *repeated calls*: items the server had answered well in the killed run and that
  the second run asked again;
- *in flight*: answers the server sent in the killed run that the run had not stored
  when it died (the only answers a kill can cost; repeated calls should not exceed it);
- *lost answers*: items with no answer after the second run (must be 0).

    python bench/bench_kill_resume.py [--items 40] [--trials 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from genspec.fake_api import FakeOpenAIServer

CHAT = "/chat/completions"


def cached(cache: Path) -> int:
    path = cache / "responses.sqlite"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not there yet
            return 0


def prompts(requests: list, good_only: bool) -> set[str]:
    """The items (last user message) of chat requests, those answered well or all."""
    return {
        r.body["messages"][-1]["content"]
        for r in requests
        if r.path.endswith(CHAT) and r.body and (r.fault is None or not good_only)
    }


def trial(items: int, seed: int, folder: Path) -> dict[str, object]:
    rng = random.Random(seed)
    env = {
        **os.environ,
        "GENSPEC_CACHE_DIR": str(folder / "cache"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    with FakeOpenAIServer(
        fault_rate=0.2, seed=seed, latency=0.05, retry_after=0.2, slow_s=3
    ) as server:
        roster = {
            "name": "bench",
            "models": [
                {
                    "name": f"bench-{seed}",
                    "id": f"openai/bench-{seed}",
                    "role": "generalist",
                    "backend": "litellm",
                    "params": {"api_base": server.url, "timeout": 1, "concurrency": 4},
                }
            ],
        }
        (folder / "conf" / "roster").mkdir(parents=True)
        (folder / "conf" / "roster" / "bench.yaml").write_text(yaml.safe_dump(roster))
        command = [
            sys.executable, "-m", "genspec.cli", "run", "domain=medical", "roster=bench",
            "tasks=[medqa,medmcqa]", f"limit={items // 2}", "--config-dir", str(folder / "conf"),
        ]  # fmt: skip
        kill_after = rng.randint(1, items - 1)
        first = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 600
        while cached(folder / "cache") < kill_after and first.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the first run cached nothing in 10 minutes")
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.2))  # anywhere between two answers
        killed = first.poll() is None
        first.send_signal(signal.SIGKILL)
        first.wait()
        stored = cached(folder / "cache")
        first_run = list(server.requests)
        second = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        second_run = server.requests[len(first_run) :]
        answered_first = prompts(first_run, good_only=True)
        asked_again = prompts(second_run, good_only=False) & answered_first
        final = cached(folder / "cache")
    return {
        "seed": seed,
        "killed_after_cached": stored if killed else None,
        "calls_first": len(first_run),
        "faults_first": sum(r.fault is not None for r in first_run),
        "answered_first": len(answered_first),
        "in_flight": len(answered_first) - stored,
        "repeated_calls": len(asked_again),
        "calls_second": len(second_run),
        "second_exit": second.returncode,
        "lost_answers": items - final,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40, help="items (half medqa, half medmcqa)")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = []
    for n in range(args.trials):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(trial(args.items, args.seed + n, Path(tmp)))
        print(json.dumps(results[-1]), flush=True)
    worst_extra = max(int(r["repeated_calls"]) - int(r["in_flight"]) for r in results)
    lost = sum(int(r["lost_answers"]) for r in results)
    print(f"{len(results)} trials: lost answers {lost}; repeated calls beyond in-flight ones: "
          f"{max(worst_extra, 0)}")  # fmt: skip


if __name__ == "__main__":
    main()
