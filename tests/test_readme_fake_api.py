"""The README's "try it without a key" example, run as a user would paste it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from conftest import REPO

BLOCK = re.compile(r"<!-- test: fake-api -->\n```bash\n(?P<body>.*?)```", re.S)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_readme_fake_api_example_runs(workdir: Path) -> None:
    match = BLOCK.search((REPO / "README.md").read_text())
    assert match, "README lost its fake-api example"
    script = match["body"]
    assert "genspec fake-api &" in script and "roster=fake-api" in script
    # The README's port (8000) may be taken here: the same commands on a free port,
    # which the roster reads from GENSPEC_FAKE_API_BASE.
    port = free_port()
    script = script.replace("genspec fake-api", f"genspec fake-api --port {port}")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GENSPEC_FAKE_API_BASE": f"http://127.0.0.1:{port}/v1",
    }
    ran = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert f"fake OpenAI-compatible API at http://127.0.0.1:{port}/v1" in ran.stdout
    for name in ("fake-generalist", "fake-specialist", "fake-base"):
        assert name in ran.stdout
    assert "Verdict · medical" in ran.stdout and "smoke run on stand-in models" in ran.stdout
    assert "error" not in ran.stderr.lower(), ran.stderr
    assert (workdir / "mlflow.db").exists()
