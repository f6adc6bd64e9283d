"""Hand a validated multirun sweep to Hydra, so its launchers (basic, joblib,
submitit, ray) run the jobs. Each job writes its status to its output folder, which
works whether the job ran in this process or elsewhere.

Under a launcher that runs jobs in other processes, a job's own output (tables,
progress, warnings) goes to ``genspec.log`` in its job folder and the worker prints one
status line: the driver's summary (one line per job, then the cross-domain verdict) is
what the terminal ends with, instead of being buried under workers' tables (Ray relays
those late, prefixed and deduplicated).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genspec.config.compose import CONF_DIR

if TYPE_CHECKING:
    from genspec.config.schema import RunConfig

STATUS_FILE = "genspec_status.json"
LOG_FILE = "genspec.log"
IN_PROCESS = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
RAY = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"


def _job(cfg: Any) -> int:
    """One sweep job: validate, run, and record ok/failed without raising."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from genspec.config.compose import validate
    from genspec.console import error_line
    from genspec.errors import GenspecError
    from genspec.runner import run_domain

    hydra = HydraConfig.get()
    output = Path(hydra.runtime.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    elsewhere = hydra.launcher._target_ != IN_PROCESS
    _scrub(Path(hydra.sweep.dir))  # before any model call, in every worker
    plain = OmegaConf.to_container(cfg, resolve=True)
    # pid and host say which worker ran the job (a joblib, SLURM or ray worker)
    status: dict[str, Any] = {
        "domain": plain.get("domain"),  # type: ignore[union-attr]
        "ok": True,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    if elsewhere:
        status["log"] = str(output / LOG_FILE)
    with _output_to(output / LOG_FILE) if elsewhere else contextlib.nullcontext():
        try:
            run_id = run_domain(validate(plain), plain)  # type: ignore[arg-type]
            status["run_id"] = run_id
        except GenspecError as error:
            error_line(str(error))
            status.update(ok=False, error=str(error))
    (output / STATUS_FILE).write_text(json.dumps(status))
    if elsewhere:
        print(f"genspec job {hydra.job.num}: {job_line(status)}", flush=True)
    return 0 if status["ok"] else 1


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Python's and any child's: the file
    descriptors themselves) to ``log`` for the length of one job."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log, "a", encoding="utf-8") as file:
            os.dup2(file.fileno(), 1)
            os.dup2(file.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def job_line(status: dict[str, Any]) -> str:
    """One job in one line: its domain, how it ended, its run and where its log is."""
    if status["ok"]:
        outcome = f"logged, run {status['run_id']}" if status.get("run_id") else "kept in outbox"
    else:
        outcome = f"failed: {status.get('error')}"
    where = f" · log {status['log']}" if status.get("log") else ""
    worker = f" · pid {status['pid']} on {status['host']}" if "pid" in status else ""
    return f"{status['domain']} · {outcome}{worker}{where}"


def _launcher_config(job: Sequence[str], config_dir: str | None) -> dict[str, Any]:
    """The ``hydra.launcher`` node the sweep will use (its launcher overrides applied)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    chosen = [o for o in job if re.match(r"[+~]*(hydra|launcher)\b", o)]  # roster= etc. aside
    search = [f"hydra.searchpath=[file://{Path(config_dir).resolve()}]"] if config_dir else []
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="genspec"):
        cfg = compose("config", overrides=[*chosen, *search], return_hydra_config=True)
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)  # type: ignore[return-value]


def _scrub(folder: Path) -> None:
    """Mask secrets in the YAML files Hydra wrote (``multirun.yaml``, each job's
    ``.hydra/``): it writes the overrides and the composed config as given, URLs with
    credentials and secret-named keys included. Rewritten aside and renamed, since
    parallel workers may do this at once."""
    import yaml

    from genspec.secrets import redact

    for path in folder.rglob("*.yaml"):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):  # being rewritten by another worker
            continue
        masked = redact(document)
        if masked != document:
            aside = path.with_name(f".{path.name}.{os.getpid()}")
            aside.write_text(yaml.safe_dump(masked, sort_keys=False), encoding="utf-8")
            aside.replace(path)


def multirun(
    overrides: list[str], config_dir: str | None, configs: Sequence[RunConfig]
) -> list[dict[str, Any]]:
    """Run the sweep through Hydra; returns each finished job's status (domain, ok,
    run_id, error, log), read from its output folder wherever the launcher ran it.

    ``configs`` are the sweep's validated jobs: under Ray they size each job's request,
    which is checked against the cluster before anything is submitted.
    """
    import hydra

    from genspec.config.compose import expand_sweep

    sized: list[str] = []
    launcher = _launcher_config(expand_sweep(overrides)[0], config_dir)
    if launcher.get("_target_") == RAY:
        from genspec.ray_request import size_and_check

        sized = size_and_check(launcher["ray"], configs)
    sweep_dir = Path(".genspec/multirun") / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    argv = ["genspec", "--multirun", *overrides, *sized, f"hydra.sweep.dir={sweep_dir}"]
    if config_dir:
        argv[1:1] = ["--config-dir", str(Path(config_dir).resolve())]
    app = hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(_job)
    saved, sys.argv = sys.argv, argv
    try:
        app()
    finally:
        sys.argv = saved
        _scrub(sweep_dir)
    return [json.loads(p.read_text()) for p in sorted(sweep_dir.glob(f"*/{STATUS_FILE}"))]
