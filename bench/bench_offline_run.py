"""Wall time of the default offline run: first run (model preparation included) and a
repeated run (every answer cached, so no model is loaded).

    python bench/bench_offline_run.py [--domain medical] [--fresh]

--fresh empties genspec's cache first (answers and converted model weights), so the
first run includes GGUF conversion, as on a new machine. Runs in a temporary folder
(its own MLflow store).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(domain: str, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "genspec.cli", "run", f"domain={domain}"],
        cwd=cwd,
        env=env,
        check=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domain", default="medical")
    parser.add_argument("--fresh", action="store_true", help="start from an empty genspec cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        if args.fresh:
            env["GENSPEC_CACHE_DIR"] = str(Path(tmp) / "cache")
        else:
            # keep converted weights, drop cached answers: the run still calls every model
            cache = Path(env.get("GENSPEC_CACHE_DIR", "~/.cache/genspec")).expanduser()
            for suffix in ("", "-wal", "-shm"):
                (cache / f"responses.sqlite{suffix}").unlink(missing_ok=True)
        first = timed_run(args.domain, Path(tmp), env)
        repeated = timed_run(args.domain, Path(tmp), env)
    print(f"domain={args.domain} first run: {first:.1f} s; repeated (all cached): {repeated:.1f} s")
    print(f"cores: {os.cpu_count()}, fresh model cache: {args.fresh}")


if __name__ == "__main__":
    main()
