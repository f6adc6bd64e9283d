"""What each Ray job asks for, sized from the roster and checked against the cluster
before any job is submitted.

Ray queues a task no node can ever hold and only logs "No available node types can
fulfill resource request" every 35 s, forever. So genspec fills the CPUs and GPUs that
``conf/launcher/ray.yaml`` leaves open from what the sweep's rosters need (an API model
needs one CPU; a local model needs its device) and fails in one line, naming the
setting, when no node of the cluster is big enough.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genspec.config.schema import ModelSpec, RunConfig
from genspec.errors import ConfigError

REMOTE = "hydra.launcher.ray.remote"
API_BACKENDS = frozenset({"litellm", "mock"})  # the work is elsewhere: one CPU waits on it
LOCAL_CPUS = 2  # a local model on a CPU: torch's threads


@dataclass(frozen=True)
class Request:
    """CPUs and GPUs one job asks Ray for."""

    cpus: float
    gpus: float


def roster_request(configs: Sequence[RunConfig], cluster_gpus: float) -> Request:
    """The most any job of the sweep needs: 1 CPU for API models, a GPU for a local model
    on ``cuda`` (or on ``auto`` where the cluster has GPUs), else ``LOCAL_CPUS`` CPUs."""
    models = [m for c in configs for m in (*c.roster.models, c.judge.model()) if m is not None]
    local = [m for m in models if m.backend not in API_BACKENDS]
    gpu = any(_wants_gpu(m, cluster_gpus) for m in local)
    return Request(cpus=1 if gpu or not local else LOCAL_CPUS, gpus=1 if gpu else 0)


def _wants_gpu(model: ModelSpec, cluster_gpus: float) -> bool:
    device = str(model.params.get("device", "auto"))
    return (
        model.backend == "vllm"
        or device.startswith("cuda")
        or (device == "auto" and cluster_gpus > 0)
    )


def size_and_check(ray_config: Mapping[str, Any], configs: Sequence[RunConfig]) -> list[str]:
    """Start (or join) Ray with ray.yaml's ``init`` settings (Hydra's launcher then uses
    this instance, without its own small-object-store default, which Ray refuses when
    joining a cluster), then return the overrides that fill the request ray.yaml leaves
    open; raise when no node can ever run one job."""
    import ray

    init = ray_config.get("init", {})
    address = init.get("address") or os.environ.get("RAY_ADDRESS") or "local"
    if not ray.is_initialized():
        try:
            ray.init(**init)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise ConfigError(
                f"Could not start or join Ray ({address}): {str(error).splitlines()[0]} Check "
                f"RAY_ADDRESS or hydra.launcher.ray.init, and the cluster's auth token."
            ) from None
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    most_gpus = max((n.get("GPU", 0) for n in nodes), default=0)
    sized = roster_request(configs, most_gpus)
    remote = ray_config.get("remote", {})
    wanted = Request(
        cpus=sized.cpus if remote.get("num_cpus") is None else remote["num_cpus"],
        gpus=sized.gpus if remote.get("num_gpus") is None else remote["num_gpus"],
    )
    if not any(n.get("CPU", 0) >= wanted.cpus and n.get("GPU", 0) >= wanted.gpus for n in nodes):
        biggest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
        has = Request(cpus=biggest.get("CPU", 0), gpus=biggest.get("GPU", 0))
        fits = [
            f"{REMOTE}.num_{kind}={min(getattr(wanted, kind), getattr(has, kind)):g}"
            for kind in ("cpus", "gpus")
            if getattr(wanted, kind) > getattr(has, kind)
        ]
        where = "this machine" if address == "local" else address
        raise ConfigError(
            f"No Ray node can run a job: each asks for {wanted.cpus:g} CPU(s) and "
            f"{wanted.gpus:g} GPU(s), and the largest node ({where}) has {has.cpus:g} CPU(s) "
            f"and {has.gpus:g} GPU(s). Set {' '.join(fits)} to fit, or join a bigger cluster "
            "(RAY_ADDRESS)."
        )
    return [f"{REMOTE}.num_cpus={wanted.cpus:g}", f"{REMOTE}.num_gpus={wanted.gpus:g}"]
