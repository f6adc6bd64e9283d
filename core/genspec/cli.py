"""The ``genspec`` command line (click).

Start-up stays fast: this module imports only click and genspec's light modules;
torch, transformers, mlflow and litellm are imported inside the commands that use them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from genspec import __version__
from genspec.errors import GenspecError

if TYPE_CHECKING:
    from genspec.config.schema import RunConfig

# A TCP port, checked by click: a bad one is a usage error, not a traceback from bind().
PORT = click.IntRange(0, 65535)

RUN_HELP = """Run a domain's tasks on a roster of models and print the verdict.

OVERRIDES are Hydra overrides (key=value), for example:

\b
  genspec run domain=medical
  genspec run domain=finance tasks=[phrasebank] limit=20
  genspec run domain=medical roster=paper data=full limit=500
  genspec run data=local data.dir=/secure/medqa tasks=[medqa]
  genspec run -m domain=medical,finance,legal

Keys: domain, tasks, limit, seed, prompt (zero_shot|few_shot|cot|auto), shots,
max_new_tokens, roster, model, data (sample|full|local), data.dir,
cache.mode (or cache=readwrite|readonly|writeonly|off), cache.dir, cache.store
(sqlite|files), tracking.uri, tracking.experiment, tracking.examples (full|redacted|none),
tracking.outbox, shard (I/N), launcher (joblib|slurm|ray, with -m), judge.id, alpha, correction
(holm|bh), margin (equivalence margin, 0.03 = 3 points), plan (a file from `genspec plan`).
"""


PLAN_HELP = """Pre-register a run: write its plan (calling no model) and print the plan's hash.

Takes the same OVERRIDES as `genspec run`. The plan holds the roster, tasks and n per
task after limit, seed, prompt policy, scoring method per model, alpha, correction,
margin and the minimum detectable effect each n gives (at an assumed 30% of items on
which the models disagree). `genspec run <the same overrides> plan=FILE` runs exactly
that plan and refuses to start, naming the difference, if anything differs.
"""


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`GenspecError` into one line on stderr and its exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GenspecError as error:
            from genspec.console import error_line

            error_line(str(error))
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo(
                "Interrupted. Answers so far are cached; run the same command to resume.", err=True
            )
            sys.exit(130)

    return wrapper


class FullHelpGroup(click.Group):
    """A group whose command list shows each command's whole first sentence, wrapped:
    click cuts it to the terminal width ("Cross-domain verdict ... from runs...")."""

    group_class = type  # subgroups (genspec list, genspec cache) list their commands alike

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=FullHelpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genspec")
def cli() -> None:
    """genspec: do general-purpose LLMs beat domain specialists? Test it with evidence."""


@cli.command(
    help=RUN_HELP,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": False},
)
@click.option(
    "-m", "--multirun", is_flag=True, help="Sweep over comma-separated values (Hydra multirun)."
)
@click.option(
    "--config-dir",
    type=click.Path(exists=True, file_okay=False),
    help="Extra config folder searched first (e.g. DIR/roster/NAME.yaml for roster=NAME).",
)
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@_friendly
def run(multirun: bool, config_dir: str | None, overrides: tuple[str, ...]) -> None:
    from genspec.config.compose import compose, expand_shorthands, expand_sweep

    overrides = tuple(expand_shorthands(overrides))
    jobs = expand_sweep(overrides) if multirun else [list(overrides)]
    from genspec.engine import prepare

    composed = [compose(job, config_dir) for job in jobs]  # every job validated up front
    prepared = [prepare(config) for config, _ in composed]
    from genspec.plan import hold_to_plan

    for (config, _), ready in zip(composed, prepared, strict=True):
        hold_to_plan(config, ready)  # plan=FILE: refuse before any model is called
    if not multirun:
        from genspec.runner import run_domain

        config, plain = composed[0]
        run_domain(config, plain, prepared[0])
        return
    from genspec.multirun import multirun as hydra_multirun
    from genspec.tracking.mlflow_log import tracking_uri
    from genspec.tracking.store import create_store

    for uri in {tracking_uri(config.tracking) for config, _ in composed}:
        create_store(uri)  # parallel jobs would race to create a fresh SQLite store
    statuses = hydra_multirun(list(overrides), config_dir, [config for config, _ in composed])
    _job_summary(statuses)
    _cross_domain_summary(statuses, composed[0][0])
    failed = len(jobs) - sum(bool(s["ok"]) for s in statuses)
    if failed:
        raise GenspecError(f"{failed} of {len(jobs)} multirun job(s) failed (see messages above).")


@cli.command(
    help=PLAN_HELP,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": False},
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False),
    help="Plan file to write (default: plan-<domain>.json in the current folder).",
)
@click.option(
    "--config-dir",
    type=click.Path(exists=True, file_okay=False),
    help="Extra config folder searched first, as for `genspec run`.",
)
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@_friendly
def plan(out: str | None, config_dir: str | None, overrides: tuple[str, ...]) -> None:
    from pathlib import Path

    from genspec.config.compose import compose, expand_shorthands
    from genspec.console import console
    from genspec.engine import prepare
    from genspec.plan import build_plan, register, write_plan

    config, _ = compose(expand_shorthands(overrides), config_dir)
    registered = register(build_plan(config, prepare(config)))
    path = Path(out or f"plan-{config.domain}.json")
    write_plan(registered, path)
    for task in registered.plan["tasks"]:
        mde = "none" if task["mde"] is None else f"{task['mde']:.1%}"
        console.print(f"  {task['name']}: n = {task['n']}, MDE {mde}", highlight=False)
    console.print(f"Plan written to {path}\nsha256 {registered.sha256}", highlight=False)
    command = " ".join(["genspec run", *overrides, f"plan={path}"])
    console.print(f"Run it with: {command}", highlight=False, markup=False)


def _job_summary(statuses: list[dict[str, Any]]) -> None:
    """The driver's account of the sweep, one line per job, whichever launcher ran it."""
    from genspec.console import console
    from genspec.multirun import job_line

    console.print(f"\n[bold]Jobs[/] ({len(statuses)})")
    for status in statuses:
        console.print(f"  {job_line(status)}", markup=False, highlight=False, soft_wrap=True)


def _cross_domain_summary(statuses: list[dict[str, Any]], config: RunConfig) -> None:
    """After a sweep over several domains, the answer it was run for: does the pattern
    repeat across domains? (Each domain's own verdict was printed as it finished.)"""
    logged = {s["domain"]: s["run_id"] for s in statuses if s.get("run_id")}
    if len(logged) < 2 or len(logged) < sum(bool(s.get("run_id")) for s in statuses):
        return  # one domain, or several runs per domain (a roster sweep): see genspec report
    from genspec.console import warning_line
    from genspec.report import show_cross_domain
    from genspec.tracking.mlflow_log import tracking_uri
    from genspec.tracking.reader import find_runs

    try:
        show_cross_domain(find_runs(tracking_uri(config.tracking), run_ids=list(logged.values())))
    except GenspecError as error:  # the runs are logged; only this summary is missing
        warning_line(f"{error} (the cross-domain verdict: genspec report)")


ADAPT_HELP = """Train a LoRA domain adapter for a local model (peft) and cache it.

Continued pre-training on the domain's text (the plugin's corpus, adapt.files,
adapt.hub) and supervised tuning on the tasks' dev/train items, never on test
items. Loss is logged to MLflow as it trains; the adapter is saved in MLflow and
in ~/.cache/genspec/adapters/<key>. OVERRIDES are those of `genspec run`, plus the
recipe as adapt.KEY=VALUE:

\b
  genspec adapt domain=medical model=smollm2
  genspec adapt domain=legal model=smollm2 adapt.steps=40 adapt.lr=5e-4
  genspec adapt domain=finance model=smollm2 adapt.files=[/data/filings] adapt.tasks=[]

Recipe keys: steps, batch_size, seq_len, lr, seed, rank, alpha, target_modules,
corpus (true|false), files, hub.path|name|data_files|split|field|limit, tasks,
template, domain.
"""


@cli.command(help=ADAPT_HELP, context_settings={"ignore_unknown_options": True})
@click.option("--config-dir", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Train again even if the adapter is cached.")
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@_friendly
def adapt(config_dir: str | None, force: bool, overrides: tuple[str, ...]) -> None:
    from genspec.adapt.cli import adapt as train_adapter

    train_adapter(list(overrides), config_dir, force)


VALIDATE_HELP = """Check a domain's data files: every bad row of every file at once.

Reads the bundled samples, or your files with data=local data.dir=DIR; reports rows
that do not map (with the allowed labels for a bad label), gold answers the task's
parser cannot read back, repeated ids, missing dev files and dev items that are test
items. Exits non-zero if anything is wrong. All domains unless one is named:

\b
  genspec validate
  genspec validate domain=agriculture
  genspec validate domain=medical data=local data.dir=/secure/medqa tasks=[medqa]
"""


@cli.command(help=VALIDATE_HELP, context_settings={"ignore_unknown_options": True})
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@_friendly
def validate(overrides: tuple[str, ...]) -> None:
    from genspec.validate import validate_command

    validate_command(overrides, click.echo)


@cli.command(name="new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder in which genspec-NAME/ is written.",
)
@_friendly
def new_plugin(name: str, parent: str) -> None:
    """Write a working plugin package genspec-NAME/ (YAML tasks, samples, a test)."""
    from pathlib import Path

    from genspec.scaffold import write_plugin

    root = write_plugin(name, Path(parent))
    click.echo(f"Wrote {root}. Next: pip install -e {root} && genspec validate domain={name}")


@cli.group(name="list")
def list_() -> None:
    """List installed plugins, tasks, model presets or rosters."""


@list_.command()
@_friendly
def plugins() -> None:
    """Installed domain plugins (entry-point group 'genspec')."""
    from genspec.listing import show_plugins

    show_plugins()


@list_.command()
@click.option("--domain", help="Only this domain's tasks.")
@_friendly
def tasks(domain: str | None) -> None:
    """Tasks by domain, with their hub datasets."""
    from genspec.listing import show_tasks

    show_tasks(domain)


@list_.command()
@click.option("--config-dir", type=click.Path(exists=True, file_okay=False))
@_friendly
def models(config_dir: str | None) -> None:
    """Model presets (model=NAME) and the models in each roster."""
    from genspec.listing import show_models

    show_models(config_dir)


@list_.command()
@click.option("--config-dir", type=click.Path(exists=True, file_okay=False))
@_friendly
def rosters(config_dir: str | None) -> None:
    """Rosters (roster=NAME) from conf/, --config-dir and plugins."""
    from genspec.listing import show_rosters

    show_rosters(config_dir)


@cli.command()
@click.option("--uri", help="Tracking URI (default: $MLFLOW_TRACKING_URI or ./mlflow.db).")
@click.option("--experiment", "experiments", multiple=True, help="Only these experiments.")
@click.option("--domain", "domains", multiple=True, help="Only these domains.")
@click.option(
    "--run-id", "run_ids", multiple=True, help="These parent runs (default: latest per domain)."
)
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), help="Only runs started on or after this date."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--plots", type=click.Path(file_okay=False), help="Write forest and accuracy plots (PNG) here."
)
@_friendly
def report(
    uri: str | None,
    experiments: tuple[str, ...],
    domains: tuple[str, ...],
    run_ids: tuple[str, ...],
    since: Any,
    fmt: str,
    plots: str | None,
) -> None:
    """Cross-domain verdict (medicine, finance, law) from runs stored in MLflow."""
    from pathlib import Path

    from genspec.config.schema import TrackingConfig
    from genspec.report import render
    from genspec.tracking.mlflow_log import tracking_uri
    from genspec.tracking.reader import find_runs

    runs = find_runs(
        uri or tracking_uri(TrackingConfig()),
        experiments=list(experiments) or None,
        domains=list(domains) or None,
        run_ids=list(run_ids) or None,
        since=since.date() if since else None,
    )
    render(runs, fmt, Path(plots) if plots else None)


@cli.command()
@click.option("--run", "run_id", required=True, help="The parent run to ask again (its id).")
@click.option("--n", default=200, show_default=True, type=click.IntRange(1), help="Items to ask.")
@click.option("--seed", default=0, show_default=True, help="Seeds which items are asked.")
@click.option("--uri", help="Tracking URI (default: $MLFLOW_TRACKING_URI or ./mlflow.db).")
@_friendly
def drift(run_id: str, n: int, seed: int, uri: str | None) -> None:
    """Ask a sample of an earlier run's items again, without the cache, and show per
    model how many answers changed (McNemar, difference with its interval, fingerprints)."""
    from genspec.config.schema import TrackingConfig
    from genspec.console import BarProgress, console, warning_line
    from genspec.drift import drift as measure
    from genspec.drift import drift_table
    from genspec.tracking.mlflow_log import tracking_uri

    with BarProgress() as progress:
        report, problems = measure(uri or tracking_uri(TrackingConfig()), run_id, n, seed, progress)
    for problem in problems:
        warning_line(problem)
    console.print(drift_table(report))


@cli.command()
@click.option("--uri", help="Upload there instead of to the store each run was meant for.")
@click.option(
    "--outbox",
    default=".genspec/outbox",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The folder runs were kept in (tracking.outbox).",
)
@_friendly
def sync(uri: str | None, outbox: str) -> None:
    """Upload runs kept locally while the tracking store was unreachable."""
    from pathlib import Path

    from genspec.tracking.outbox import sync as upload_waiting

    context = click.get_current_context()
    given = context.get_parameter_source("outbox") is not click.core.ParameterSource.DEFAULT
    if given and not Path(outbox).is_dir():  # a mistyped folder is not "nothing to upload"
        raise click.BadParameter(f"no folder {outbox}", param_hint="'--outbox'")
    uploaded, failed = upload_waiting(Path(outbox), uri)
    for folder, run_id in uploaded:
        click.echo(f"uploaded {folder.name} as run {run_id}")
    for folder, reason in failed:
        click.echo(f"kept {folder} ({reason})", err=True)
    if failed:
        raise GenspecError(
            f"{len(failed)} run(s) not uploaded and still kept in {outbox}; "
            "run `genspec sync` again once the store is reachable."
        )
    if not uploaded:
        click.echo(f"Nothing to upload in {outbox}.")


@cli.command()
@click.option("--port", default=5000, show_default=True, type=PORT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--uri", help="Tracking URI (default: $MLFLOW_TRACKING_URI or ./mlflow.db).")
@_friendly
def ui(port: int, host: str, uri: str | None) -> None:
    """Open the MLflow UI on genspec's tracking store."""
    import os

    from genspec.config.schema import TrackingConfig
    from genspec.tracking.mlflow_log import tracking_uri

    store = uri or tracking_uri(TrackingConfig())
    # The UI's workers import litellm, which otherwise fetches its cost map online.
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    from genspec.secrets import mask_url

    if not _loopback(host):
        click.echo(
            f"warning: --host {host} serves the MLflow UI to your network, and the MLflow UI "
            "has no authentication: anyone who can reach port "
            f"{port} can read and delete every run. Keep --host 127.0.0.1 and reach it through "
            "an SSH tunnel (ssh -L 5000:127.0.0.1:5000 HOST), or put it behind a reverse proxy "
            "with authentication (nginx or Caddy with basic auth, or oauth2-proxy).",
            err=True,
        )
    click.echo(f"MLflow UI for {mask_url(store)} at http://{host}:{port} (Ctrl+C to stop)")
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store]
    # become the UI server (no child left running when this process is sent SIGTERM)
    os.execve(sys.executable, [*command, "--host", host, "--port", str(port)], env)


@cli.group(name="cache")
def cache_() -> None:
    """Work with answer caches (cache.dir)."""


@cache_.command(name="merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--into", required=True, type=click.Path(file_okay=False), help="The shared cache.")
@click.option(
    "--store",
    type=click.Choice(["files", "sqlite"]),
    default="files",
    show_default=True,
    help="files: safe for many hosts (NFS); sqlite: one host.",
)
@_friendly
def merge(sources: tuple[str, ...], into: str, store: str) -> None:
    """Merge per-host caches (SOURCES: folders runs used as cache.dir) into one,
    keeping each answer once; runs that point cache.dir at it pay for none of them."""
    from pathlib import Path

    from genspec.cache.merge import merge as merge_caches

    merged = merge_caches([Path(s) for s in sources], Path(into), store)
    click.echo(
        f"Merged {merged.added} new answer(s) into {into} ({store} store); "
        f"{merged.present} were there already. Use it with: cache.dir={into} cache.store={store}"
    )


def _loopback(host: str) -> bool:
    """Whether ``host`` is served to this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


@cli.command(name="fake-api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=PORT, help="0 picks a free port.")
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds before each answer.",
)
@click.option(
    "--fault-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of calls that get a fault.",
)
@click.option(
    "--faults",
    help="Comma-separated fault kinds to draw from: 429, 500, 503, timeout, malformed, "
    "empty, drop (default: all).",
)
@click.option(
    "--retry-after",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Retry-After of a 429 (s).",
)
@click.option("--seed", default=0, show_default=True, help="Seeds which calls get faults.")
@_friendly
def fake_api(
    host: str,
    port: int,
    latency: float,
    fault_rate: float,
    faults: str | None,
    retry_after: float,
    seed: int,
) -> None:
    """A fake OpenAI-compatible API on this machine, to try genspec without a key.

    Its answers are a hash of model and prompt: they test the pipeline (litellm,
    retries, cache), not any model. In another shell:

    \b
      genspec run domain=medical roster=fake-api limit=5
    """
    from genspec.fake_api import serve

    try:
        serve(
            host=host,
            port=port,
            latency=latency,
            fault_rate=fault_rate,
            faults=[f for f in faults.split(",") if f] if faults else None,
            retry_after=retry_after,
            seed=seed,
        )
    except (ValueError, OSError) as error:  # an unknown fault kind, a port in use
        raise GenspecError(f"fake-api: {error}") from None


def main() -> None:
    cli(prog_name="genspec")


if __name__ == "__main__":
    main()
