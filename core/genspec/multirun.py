"""Hand a validated multirun sweep to Hydra, so its launchers (basic, joblib,
submitit, ray) run the jobs. Each job writes its status to its output folder, which
works whether the job ran in this process or elsewhere."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from genspec.config.compose import CONF_DIR

STATUS_FILE = "genspec_status.json"


def _job(cfg: Any) -> int:
    """One sweep job: validate, run, and record ok/failed without raising."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from genspec.config.compose import validate
    from genspec.console import error_line
    from genspec.errors import GenspecError
    from genspec.runner import run_domain

    _scrub(Path(HydraConfig.get().sweep.dir))  # before any model call, in every worker
    plain = OmegaConf.to_container(cfg, resolve=True)
    # pid and host say which worker ran the job (a joblib, SLURM or ray worker)
    status: dict[str, Any] = {
        "domain": plain.get("domain"),  # type: ignore[union-attr]
        "ok": True,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    try:
        run_id = run_domain(validate(plain), plain)  # type: ignore[arg-type]
        status["run_id"] = run_id
    except GenspecError as error:
        error_line(str(error))
        status.update(ok=False, error=str(error))
    output = Path(HydraConfig.get().runtime.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / STATUS_FILE).write_text(json.dumps(status))
    return 0 if status["ok"] else 1


def _scrub(folder: Path) -> None:
    """Mask secrets in the YAML files Hydra wrote (``multirun.yaml``, each job's
    ``.hydra/``): it writes the overrides and the composed config as given, URLs with
    credentials and secret-named keys included. Rewritten aside and renamed, since
    parallel workers may do this at once."""
    import yaml

    from genspec.tracking.secrets import redact

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


def multirun(overrides: list[str], config_dir: str | None) -> list[dict[str, Any]]:
    """Run the sweep through Hydra; returns each finished job's status (domain, ok,
    run_id, error), read from its output folder wherever the launcher ran it."""
    import hydra

    sweep_dir = Path(".genspec/multirun") / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    argv = ["genspec", "--multirun", *overrides, f"hydra.sweep.dir={sweep_dir}"]
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
