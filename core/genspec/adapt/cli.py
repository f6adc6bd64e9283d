"""``genspec adapt``: train a LoRA domain adapter, log it to MLflow, cache it, print
the roster entry that uses it.

The config is composed like ``genspec run`` (domain, data, model preset or roster,
tracking); ``adapt.KEY=VALUE`` overrides set the recipe
(:class:`~genspec.adapt.settings.AdaptSettings`) on top of the model's own
``params.adapt``. The result is the same adapter an ``adapter: auto`` roster entry
with that recipe would train in a run's training step: same key, same cache folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from genspec.adapt import plan as plans
from genspec.adapt.plan import LORA, Plan
from genspec.adapt.settings import AdaptSettings, parse
from genspec.config.schema import ModelSpec, RunConfig
from genspec.errors import ConfigError
from genspec.tracking import quiet_mlflow

if TYPE_CHECKING:
    from genspec.adapt.train import Step

PREFIX = "adapt."


def split_overrides(overrides: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """Run overrides, and the recipe's ``adapt.a.b=value`` ones as a nested dict."""
    rest: list[str] = []
    recipe: dict[str, Any] = {}
    for override in overrides:
        if not override.startswith(PREFIX):
            rest.append(override)
            continue
        key, sep, raw = override.removeprefix(PREFIX).partition("=")
        if not sep or not key:
            raise ConfigError(f"Bad override '{override}': recipe keys look like adapt.steps=20.")
        *parents, leaf = key.split(".")
        node = recipe
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw) if raw else None
    return rest, recipe


def the_model(config: RunConfig) -> ModelSpec:
    """The one hf model to adapt: a ``model=`` preset, or a roster with a single hf model."""
    candidates = [m for m in config.roster.for_domain(config.domain) if m.backend == "hf"]
    if len(candidates) != 1:
        names = ", ".join(m.name for m in candidates) or "none"
        raise ConfigError(
            f"genspec adapt trains one local (hf) model; roster '{config.roster.name}' has "
            f"{names}. Name one with model=PRESET (genspec list models), e.g. model=smollm2."
        )
    return candidates[0]


def make_plan(config: RunConfig, recipe: dict[str, Any]) -> tuple[ModelSpec, Plan]:
    """The model's recipe with the command line's on top, bound to the run's domain."""
    from genspec.plugins import registry

    registry().tasks_for(config.domain)  # a misspelt domain is named before the model
    spec = the_model(config)
    own = spec.params.get("adapt") or {}
    settings: AdaptSettings = parse(AdaptSettings, {**own, **recipe}, "adapt")
    settings = settings.model_copy(
        update={"domain": settings.domain or config.domain, "data": settings.data or config.data}
    )
    return spec, plans.build(plans.base_of(spec), settings)


def entry(spec: ModelSpec, plan: Plan) -> str:
    """The roster entry that runs the base model with this adapter (trained or cached)."""
    recipe = {
        "domain": plan.domain,  # pinned: this adapter, whatever domain a run is about
        **plan.settings.model_dump(
            mode="json", exclude_defaults=True, exclude={"key", "data", "domain"}
        ),
    }
    model = {
        "name": f"{spec.name}-{plan.domain}-lora",
        "id": spec.id,
        "role": "specialist",
        "backend": "hf",
        "base": spec.name,
        "params": {
            **plans.base_of(spec).params,
            "adapter": "auto",
            "adapt": recipe,
        },
    }
    return yaml.safe_dump([model], sort_keys=False)


def adapt(overrides: Sequence[str], config_dir: str | None, force: bool) -> Path:
    """Train (unless cached, or ``force``) and return the adapter's folder."""
    from genspec.config.compose import compose
    from genspec.console import console

    rest, recipe = split_overrides(overrides)
    config, _ = compose(rest, config_dir)
    spec, plan = make_plan(config, recipe)
    summary = plan.summary()
    folder = plans.cache_dir(LORA, plan.key)
    tasks = ", ".join(summary["supervised_tasks"])
    supervised = f"{summary['supervised_items']} dev items of {tasks}" if tasks else "text only"
    console.print(
        f"[bold]genspec adapt[/] · {spec.name} · domain [bold]{plan.domain}[/] · "
        f"{len(summary['documents'])} corpus file(s), {summary['corpus_chars']} chars · "
        f"{supervised} · checked against {summary['test_items_checked']} test questions"
    )
    if (folder / "adapter_config.json").is_file() and not force:
        console.print(f"Already trained (same base, data, recipe and seed): {folder}")
    else:
        run_id = _train_logged(config, spec, plan)
        console.print(f"Adapter saved to {folder}; logged to MLflow run [bold]{run_id}[/].")
    console.print("Use it in a roster (role specialist, beside its base):\n" + entry(spec, plan))
    return folder


def _train_logged(config: RunConfig, spec: ModelSpec, plan: Plan) -> str:
    """Train with a progress bar and the loss of every step logged to an MLflow run."""
    import mlflow

    from genspec.adapt.lora import train_entry
    from genspec.tracking.mlflow_log import tracking_uri

    quiet_mlflow()
    uri = tracking_uri(config.tracking)
    mlflow.set_tracking_uri(uri)
    _experiment(mlflow, config.tracking.experiment or f"genspec-{plan.domain}", uri)
    tags = {"genspec.adapt.domain": plan.domain, "genspec.adapt.key": plan.key}
    with mlflow.start_run(run_name=f"adapt · {spec.name} · {plan.domain}", tags=tags) as run:
        mlflow.log_params(_params(plan, _device(spec)))
        with progress(f"adapting {spec.name} to {plan.domain}", plan.settings.steps) as advance:

            def on_step(step: Step) -> None:
                advance(step)
                mlflow.log_metrics(
                    {"train.loss": step.loss, "train.tokens_per_s": step.tokens / step.seconds},
                    step=step.step,
                )

            folder = train_entry(spec, plan, on_step)
        mlflow.log_artifacts(str(folder), artifact_path="adapter")
        return run.info.run_id


def _device(spec: ModelSpec) -> Any:
    """The device the adapter was trained on (the base's ``device`` param, resolved)."""
    from genspec.backends.devices import pick_device

    return pick_device(plans.base_of(spec).params.get("device", "auto"))


def _params(plan: Plan, device: Any) -> dict[str, Any]:
    """MLflow params: the recipe, the key and what the data was (flat, strings)."""
    summary = plan.summary()
    recipe = {f"recipe.{k}": v for k, v in summary.pop("recipe").items() if k != "key"}
    flat = {k: v for k, v in summary.items() if k != "base"}
    return {
        **recipe,
        **flat,
        "base.id": plan.base.id,
        "device": str(device),
        "documents": ",".join(Path(d).name for d in summary["documents"])[:500],
    }


def _experiment(mlflow: Any, name: str, uri: str) -> None:
    """Use (or create) the experiment; a local store keeps artifacts beside its DB."""
    if mlflow.get_experiment_by_name(name) is None and uri.startswith("sqlite:///"):
        root = Path(uri.removeprefix("sqlite:///")).parent / "mlruns"
        mlflow.create_experiment(name, artifact_location=root.resolve().as_uri())
    mlflow.set_experiment(name)


@contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[Step], None]]:
    """A rich progress bar fed by training steps, with the loss of the last one."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from genspec.console import console

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total, loss="–")

        def advance(step: Step) -> None:
            bar.update(task, advance=1, loss=f"{step.loss:.3f}")

        yield advance
