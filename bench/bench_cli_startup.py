"""How fast `genspec --help` starts, and that no heavy library is imported for it.

python bench/bench_cli_startup.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "transformers", "mlflow", "litellm", "datasets", "pandas", "hydra")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "genspec.cli", "--help"], check=True, capture_output=True
        )
        times.append(time.perf_counter() - start)
    probe = f"import sys, genspec.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    print(
        f"genspec --help: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s over {args.repeat} runs"
    )
    print(f"heavy modules imported by the CLI at start-up: {loaded.stdout.strip() or 'none'}")


if __name__ == "__main__":
    main()
