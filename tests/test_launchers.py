"""Scale-out launchers for real: ``launcher=ray`` on a local Ray instance and the SLURM
path through submitit's local executor, each running a two-domain sweep against the
fake API. Skipped where the extra (genspec[ray], genspec[slurm]) is not installed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from genspec.config.compose import compose
from genspec.fake_api import FakeOpenAIServer
from genspec.ray_request import Request, roster_request

DOMAINS = ("medical", "finance")
SWEEP = ["run", "-m", "domain=medical,finance", "roster=fake-api", "limit=2"]
# a new local Ray instance with 2 CPUs, whatever cluster this machine may know of
LOCAL_RAY = ["hydra.launcher.ray.init.address=local", "+hydra.launcher.ray.init.num_cpus=2"]


def _needs(module: str, extra: str) -> pytest.MarkDecorator:
    missing = importlib.util.find_spec(module) is None
    return pytest.mark.skipif(missing, reason=f'needs pip install "genspec[{extra}]"')


ray_only = _needs("hydra_plugins.hydra_ray_launcher", "ray")
slurm_only = _needs("hydra_plugins.hydra_submitit_launcher", "slurm")


@pytest.fixture
def api(workdir: Path) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def _genspec(workdir: Path, api: FakeOpenAIServer, *args: str) -> tuple[int, str]:
    """The real command in a subprocess, stdout and stderr as the user's terminal shows them."""
    env = {**os.environ, "GENSPEC_FAKE_API_BASE": api.url, "RAY_ADDRESS": ""}
    ran = subprocess.run(
        [sys.executable, "-m", "genspec.cli", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=240,
    )
    return ran.returncode, ran.stdout


def _check_sweep(workdir: Path, api: FakeOpenAIServer, output: str) -> None:
    """Both domains answered by the fake API and logged; the driver's summary comes last."""
    from mlflow.tracking import MlflowClient

    statuses = [json.loads(p.read_text()) for p in workdir.glob(".genspec/multirun/*/*/*.json")]
    assert sorted(s["domain"] for s in statuses) == sorted(DOMAINS), output
    assert all(s["ok"] and s["run_id"] for s in statuses), statuses
    assert all(s["pid"] != os.getpid() for s in statuses)  # ran in workers
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    for status in statuses:
        run = client.get_run(status["run_id"])
        assert run.info.status == "FINISHED" and run.data.tags["genspec.domain"] == status["domain"]
        log = Path(status["log"]).read_text()
        assert f"domain {status['domain']}" in log and "Logged to MLflow" in log  # its tables
    assert api.calls > 0
    tail = output[output.rindex("Jobs (2)") :]
    assert "Across domains" in tail  # the cross-domain verdict after the per-job lines
    for status in statuses:
        assert f"{status['domain']} · logged, run {status['run_id']}" in tail
    after = tail[tail.index("Across domains") :]
    assert "Logged to MLflow" not in after and "(_run_job" not in output  # no worker output
    assert after.rstrip().splitlines()[-1].startswith("Every domain's evidence again")


def test_a_ray_job_asks_for_what_its_roster_needs() -> None:
    """API models: one CPU; local models: two CPUs, or a GPU where they run on one."""
    api, _ = compose(["domain=medical", "roster=fake-api"])
    local, _ = compose(["domain=medical", "roster=offline"])
    on_gpu = local.model_copy(deep=True)
    on_gpu.roster.models[0].params["device"] = "cuda"
    assert roster_request([api], cluster_gpus=8) == Request(cpus=1, gpus=0)
    assert roster_request([local], cluster_gpus=0) == Request(cpus=2, gpus=0)
    assert roster_request([local], cluster_gpus=4) == Request(cpus=1, gpus=1)  # device auto
    assert roster_request([api, on_gpu], cluster_gpus=0) == Request(cpus=1, gpus=1)


def test_a_worker_job_writes_its_output_and_its_childrens_to_its_log(tmp_path: Path) -> None:
    """What a job prints, and what a child process it starts prints (a litellm worker,
    a tokenizer), goes to the job's log; the worker's terminal gets only what follows."""
    script = (
        "import subprocess, sys\n"
        "from pathlib import Path\n"
        "from genspec.multirun import _output_to\n"
        "with _output_to(Path(sys.argv[1])):\n"
        "    print('table row')\n"
        "    subprocess.run(['echo', 'child line'])\n"
        "    print('warning', file=sys.stderr)\n"
        "print('status line')\n"
    )
    log = tmp_path / "genspec.log"
    ran = subprocess.run(
        [sys.executable, "-c", script, str(log)], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert (ran.stdout, ran.stderr) == ("status line\n", "")
    assert sorted(log.read_text().splitlines()) == ["child line", "table row", "warning"]


@ray_only
def test_a_ray_sweep_logs_every_domain_and_ends_with_the_verdict(
    workdir: Path, api: FakeOpenAIServer
) -> None:
    """The default ray.yaml on a 2-CPU Ray instance: API rosters ask for one CPU a job."""
    code, output = _genspec(workdir, api, *SWEEP, "launcher=ray", *LOCAL_RAY)
    assert code == 0, output
    _check_sweep(workdir, api, output)


@ray_only
def test_a_ray_request_no_node_can_hold_fails_in_one_line(
    workdir: Path, api: FakeOpenAIServer
) -> None:
    started = time.monotonic()
    code, output = _genspec(
        workdir,
        api,
        *SWEEP,
        "launcher=ray",
        *LOCAL_RAY,
        "hydra.launcher.ray.remote.num_cpus=8",
    )
    elapsed = time.monotonic() - started
    assert code != 0
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert "asks for 8 CPU(s)" in errors[0] and "hydra.launcher.ray.remote.num_cpus=2" in errors[0]
    assert api.calls == 0 and not list(workdir.glob(".genspec/multirun/*/*/*.json"))
    assert elapsed < 60, f"took {elapsed:.0f} s"  # ~20 s here, Ray's start included


@slurm_only
def test_the_slurm_path_through_submitit_local_logs_every_domain(
    workdir: Path, api: FakeOpenAIServer
) -> None:
    """The submitit launcher behind launcher=slurm, with submitit's local executor
    standing in for SLURM: jobs are pickled, run in other processes, read back."""
    code, output = _genspec(workdir, api, *SWEEP, "hydra/launcher=submitit_local")
    assert code == 0, output
    _check_sweep(workdir, api, output)
