"""The experiment engine: tasks × models → requests → cache → backend → scored rows.

The engine knows nothing of MLflow or statistics; it returns one per-example table.
A model whose requests are all cached is never loaded. Answers are stored in the cache
the moment a backend yields them, so an interrupted run resumes without paying twice.
The adapters and encoders a roster makes are trained first, as a step of their own.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from genspec import shards
from genspec.adapt.plan import Plan, bind_plans
from genspec.adapt.training import OpenBar, train_missing
from genspec.axes import extra_axes
from genspec.axes.perturbations import BUILT_IN
from genspec.axes.probe import Probe, measure
from genspec.axes.records import AxisItem
from genspec.backends.base import Backend
from genspec.backends.registry import backend_class
from genspec.cache import ResponseCache
from genspec.config.schema import ModelSpec, RunConfig
from genspec.data import DevParts, TaskData, dev_parts, load_task_data, provides, select
from genspec.errors import ConfigError, DataError, GenspecError, UnknownNameError
from genspec.fairness import scoring_label
from genspec.grading.panel import grade, has_given_answer, require_panel
from genspec.plugins import registry
from genspec.prompt_size import oversize_warning
from genspec.prompting import (
    answer_text,
    build_request,
    choose_shots,
    gold_answer,
    prompt_text,
)
from genspec.requests import (
    GenerateRequest,
    LoglikRequest,
    Message,
    Request,
    Response,
    TokensRequest,
    request_key,
)
from genspec.results import ExampleResult
from genspec.task import Example, Judgement, PromptTemplate, Task

if TYPE_CHECKING:
    from genspec.adapt.train import Step

AUTO = "auto"


@dataclass(frozen=True)
class PreparedTask:
    """One task's items for this run and the prompt templates they may be posed with.

    ``templates`` holds one template, or the candidates of ``prompt=auto``; ``dev``
    are the dev items scored to choose a template or the best model of a role: the
    select part of ``parts`` (never the train part), or none when ``too_few`` says the
    select part was too small to choose on.
    """

    data: TaskData
    examples: tuple[Example, ...]
    templates: dict[str, PromptTemplate]
    dev: tuple[Example, ...] = ()
    parts: DevParts | None = None
    too_few: str = ""

    @property
    def task(self) -> Task:
        return self.data.task


@dataclass
class DomainRun:
    """Everything a run produced, handed to statistics, the console and tracking.

    ``prompt_choice`` maps (model, task) to the template used on the test split and
    the dev accuracy of each candidate (empty when there was no choice to make).
    """

    config: RunConfig
    tasks: list[PreparedTask]
    models: list[ModelSpec]
    rows: list[ExampleResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    prompt_choice: dict[tuple[str, str], tuple[str, dict[str, float]]] = field(default_factory=dict)
    scoring: str = ""  # "loglik", "generate" or "mixed" (genspec.fairness)
    # wall clock (s since the epoch) of the run and of each model's work: MLflow's times
    started: float = field(default_factory=time.time)
    model_times: dict[str, tuple[float, float]] = field(default_factory=dict)
    # what the axes beyond accuracy measured (genspec.axes); empty under axes=[accuracy]
    axis_items: list[AxisItem] = field(default_factory=list)


class Progress:
    """What the engine reports while it works (the CLI draws it with rich)."""

    def start(self, key: str, total: int) -> None: ...
    def advance(self, key: str, n: int = 1) -> None: ...
    def status(self, message: str) -> None: ...


class Prepared(NamedTuple):
    """What :func:`prepare` resolved: the tasks, the bound models, and the training plan
    of each adapter or encoder the run makes (by model name), built once."""

    tasks: list[PreparedTask]
    models: list[ModelSpec]
    plans: dict[str, Plan]


def _needs_dev(config: RunConfig, models: Sequence[ModelSpec]) -> bool:
    """Dev items are scored to choose prompts (auto) or the best model of a role."""
    roles = [m.role for m in models]
    return config.prompt == AUTO or any(roles.count(r) > 1 for r in set(roles) if r.value != "base")


def _templates(task: Task, config: RunConfig) -> dict[str, PromptTemplate]:
    names = config.auto_prompts if config.prompt == AUTO else [config.prompt]
    for name in names:
        if name not in task.prompts:
            raise UnknownNameError(
                "prompt", name, [*task.prompts, AUTO], where=f"for task '{task.name}'"
            )
    return {name: task.prompts[name] for name in names}


def _check_roster_domains(config: RunConfig) -> None:
    """A roster's ``domains:`` keys must be installed domains: a misspelt one
    ("medicl") would silently drop its models, and the run would end with no specialist."""
    known = registry().domains
    for name in config.roster.domains:
        if name not in known:
            raise UnknownNameError(
                "domain",
                name,
                known,
                f"Fix the domains: key of roster '{config.roster.name}', or install the "
                "plugin that provides it (see `genspec list plugins`).",
                where=f"in roster '{config.roster.name}'",
            )


def _refuse_shots_without_dev(
    task: Task,
    templates: dict[str, PromptTemplate],
    data: TaskData,
    config: RunConfig,
    models: Sequence[ModelSpec],
) -> None:
    """A few-shot prompt with no dev items would run zero-shot and be logged as few-shot.
    (``prompt=auto`` only chooses among candidates, so it is left to choose.)"""
    if data.dev or config.prompt == AUTO:
        return
    for template in templates.values():
        shots = config.shots if template.shots is None else template.shots
        shots = max([shots, *(m.shots or 0 for m in models)])
        if shots > 0:
            raise DataError(
                f"Task '{task.name}' has no dev items for the {shots} few-shot examples of "
                f"prompt={template.name}: add them to {task.sample.package}/"
                f"{task.sample.directory}/dev.jsonl (or DIR/{task.local_stem}.dev.jsonl with "
                "data=local), or run with prompt=zero_shot shots=0."
            )


def prepare(config: RunConfig) -> Prepared:
    """Resolve tasks, data and models; every config error surfaces here, before any model."""
    tasks = registry().tasks_for(config.domain)
    _check_roster_domains(config)
    if config.tasks:
        by_name = {t.name: t for t in tasks}
        for name in config.tasks:
            if name not in by_name:
                raise UnknownNameError("task", name, by_name, where=f"in domain '{config.domain}'")
        tasks = [by_name[name] for name in config.tasks]
    else:  # by default, the tasks this data source has (no hub copy of ddx; JAMA only local)
        source = config.data.source
        # by_default=False: run only when named (judges cost money; issue 19's tasks)
        readable = [t for t in tasks if provides(source, t) and t.by_default]
        if not readable:  # else the run would log an empty table and an inconclusive verdict
            has = "a hub dataset" if source == "full" else "a bundled sample"
            names = ", ".join(t.name for t in tasks)
            raise ConfigError(
                f"Domain '{config.domain}' has no task that data={source} can read "
                f"(none of {names} has {has}). Run it with data=local data.dir=DIR "
                "(DIR/<task>.jsonl in the task's schema), or with another data source."
            )
        tasks = readable
    # adapted specialists and encoders learn the run's domain: their key joins the cache key
    roster = config.roster.for_domain(config.domain)
    models, plans = bind_plans(roster, config.domain, config.data)
    if not models:
        raise ConfigError(
            f"Roster '{config.roster.name}' has no models for domain '{config.domain}'."
        )
    scoring_label(models, any(t.kind.has_choices for t in tasks), config.allow_mixed_scoring)
    panel = config.panel()
    require_panel([t.name for t in tasks if t.panel_graded], panel, models)
    for model in [*models, *panel]:
        backend_class(model.backend).preflight(model)
    with_dev = _needs_dev(config, models)
    prepared = []
    for task in tasks:
        templates = _templates(task, config)
        data = load_task_data(task, config.data)
        _refuse_shots_without_dev(task, templates, data, config, models)
        examples = select(data.test, config.limit, config.seed)
        if config.shard:
            examples = shards.take(
                examples, shards.Shard.parse(config.shard), config.seed, task.name
            )
        parts = dev_parts(data.dev, config.data.dev_train, config.data.split_seed)
        dev, too_few = _select_items(task, parts, config) if with_dev else ((), "")
        prepared.append(PreparedTask(data, examples, templates, dev, parts, too_few))
    return Prepared(prepared, models, plans)


def split_record(tasks: Sequence[PreparedTask], with_ids: bool) -> dict[str, dict[str, Any]]:
    """Each task's train, select and test items, for ``splits.json`` in MLflow.

    Items are named by their position in the task's dev or test file (stable, and no
    text); ids are added only when ``with_ids`` (``tracking.examples=full``), since a
    local file's ids may themselves be personal data.
    """
    record: dict[str, dict[str, Any]] = {}
    for task in tasks:
        dev_at = {id(ex): i for i, ex in enumerate(task.data.dev)}
        test_at = {id(ex): i for i, ex in enumerate(task.data.test)}
        parts = task.parts or DevParts(train=(), select=task.data.dev)
        groups = {
            "train": [(dev_at[id(ex)], ex.id) for ex in parts.train],
            "select": [(dev_at[id(ex)], ex.id) for ex in parts.select],
            "selected_on": [(dev_at[id(ex)], ex.id) for ex in task.dev],
            "test": [(test_at[id(ex)], ex.id) for ex in task.examples],
        }
        record[task.task.name] = {
            name: {
                "positions": [p for p, _ in items],
                **({"ids": [i for _, i in items]} if with_ids else {}),
            }
            for name, items in groups.items()
        }
    return record


def _select_items(
    task: Task, parts: DevParts, config: RunConfig
) -> tuple[tuple[Example, ...], str]:
    """The select part's items to choose on, or none and why (then declared choices hold:
    the first ``auto_prompts`` template, a role's ``best: true`` model)."""
    if len(parts.select) >= config.min_select:
        return select(parts.select, config.dev_limit, config.seed), ""
    return (), (
        f"task '{task.name}': {len(parts.select)} dev item(s) left to select on "
        f"(min_select={config.min_select}, {len(parts.train)} kept to train on); "
        "nothing chosen on data: declared choices are used (the first of auto_prompts, "
        "a role's best: true model). Give the task more dev items or lower min_select."
    )


def shots_for(config: RunConfig, template: PromptTemplate, model: ModelSpec) -> int:
    """Few-shot examples asked for: the template's own number, else ``shots``; at least
    the model's (base models get the examples they need to answer)."""
    k = config.shots if template.shots is None else template.shots
    return max(k, model.shots or 0)


def _shots_asked(prepared: PreparedTask, models: Sequence[ModelSpec], config: RunConfig) -> int:
    asked = [shots_for(config, t, m) for t in prepared.templates.values() for m in models]
    return max(asked, default=0)


def shots_used(prepared: PreparedTask, models: Sequence[ModelSpec], config: RunConfig) -> int:
    """The most few-shot examples any prompt of the task held: what was asked, but no
    more than the task has dev items (``shots=1000`` with 6 dev items gives 6)."""
    return min(_shots_asked(prepared, models, config), len(prepared.data.dev))


def shots_note(prepared: PreparedTask, models: Sequence[ModelSpec], config: RunConfig) -> str:
    """A line saying so when the task's prompts got fewer examples than asked for."""
    asked = _shots_asked(prepared, models, config)
    used = shots_used(prepared, models, config)
    if used >= asked:
        return ""
    return (
        f"task '{prepared.task.name}': {asked} few-shot examples asked for, but it has "
        f"{len(prepared.data.dev)} dev item(s): prompts hold at most {used} (logged as "
        f"task.{prepared.task.name}.shots)."
    )


def _request(
    prepared: PreparedTask,
    template: PromptTemplate,
    example: Example,
    model: ModelSpec,
    config: RunConfig,
) -> Request:
    k = shots_for(config, template, model)
    # A dev item is never its own few-shot example. Compared whole, not by id: splits
    # number their rows alike (LegalBench's test and train both start at index 0), and a
    # test item must not lose the dev item that merely shares its number.
    pool = [ex for ex in prepared.data.dev if ex != example]
    if prepared.task.shots_by_category:
        pool = [ex for ex in pool if ex.category == example.category] or pool
    return build_request(
        prepared.task.kind,
        template,
        prepared.task.subject,
        example,
        choose_shots(pool, k, config.seed, example.id),
        method=model.scoring_method,
        max_new_tokens=config.max_new_tokens,
    )


def _judge(task: Task, example: Example, request: Request, response: Response) -> Judgement:
    """Read and score one answer: argmax of log-probabilities, or the parsed text."""
    if response.error:
        return Judgement(prediction="", correct=0.0, invalid=False)
    if isinstance(request, LoglikRequest):
        logprobs = response.logprobs or ()
        if len(logprobs) != len(example.choices) or any(math.isnan(lp) for lp in logprobs):
            return Judgement(prediction="", correct=0.0, invalid=True)
        choice: int | None = max(range(len(logprobs)), key=logprobs.__getitem__)
    elif task.scorer is not None:
        return task.scorer(response.text or "", example)
    else:
        choice = task.parse_answer(response.text or "", example)
    if choice is None:
        return Judgement(prediction="", correct=0.0, invalid=True)
    prediction = answer_text(task.kind, example, choice)
    return Judgement(prediction=prediction, correct=float(choice == example.gold), invalid=False)


def _raw_output(task: Task, example: Example, response: Response) -> str:
    """What the model said, kept for review: its text, or each option's log-probability."""
    if response.logprobs is None:
        return response.text or ""
    return " ".join(
        f"{answer_text(task.kind, example, i)}={lp:.3f}" for i, lp in enumerate(response.logprobs)
    )


def _row(
    prepared: PreparedTask,
    model: ModelSpec,
    example: Example,
    request: Request,
    response: Response,
    judgement: Judgement,
    split: str,
    template: str,
) -> ExampleResult:
    task = prepared.task
    return ExampleResult(
        task=task.name,
        example_id=example.id,
        model=model.name,
        role=model.role.value,
        prediction=judgement.prediction,
        gold=gold_answer(task.kind, example),
        correct=judgement.correct,
        invalid=judgement.invalid,
        category=example.category or "",
        prompt=prompt_text(request),
        raw_output=_raw_output(task, example, response),
        input_tokens=response.input_tokens,
        output_tokens=response.output_tokens,
        cost_usd=response.cost_usd,
        latency_s=response.latency_s,
        cached=response.cached,
        error=response.error,
        split=split,
        template=template,
        metrics=dict(judgement.metrics),
        extra={**example.extra, **judgement.notes},
        provider_model=response.provider_model,
        system_fingerprint=response.system_fingerprint,
    )


class BackendPool:
    """Loaded backends kept for the process, so multirun jobs reuse loaded models.

    Backends that hold weights in device memory (``EXCLUSIVE``) are kept one at a
    time: loading the next closes the previous, or a roster of 7B models would not
    fit on one GPU. A backend is reused only for the same id *and* the same params,
    non-semantic ones included: the cache may share answers across ``api_base``
    servers, but requests must go to the server this model names.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, Backend] = {}

    def get(self, model: ModelSpec, status: Callable[[str], None]) -> Backend:
        cls = backend_class(model.backend)
        key = json.dumps([cls.identity(model), model.params], sort_keys=True, default=str)
        if key not in self._loaded:
            if cls.EXCLUSIVE:
                for other in [k for k, b in self._loaded.items() if b.EXCLUSIVE]:
                    self._loaded.pop(other).close()
            status(f"loading {model.name} ({model.id})")
            self._loaded[key] = cls(model)
        return self._loaded[key]


POOL = BackendPool()


def _stream(backend: Backend, requests: Sequence[Request]) -> Iterator[tuple[int, Response]]:
    """Send one batch of requests (all of one kind: the model's scoring method)."""
    if all(isinstance(r, LoglikRequest) for r in requests):
        return backend.loglikelihood(requests)  # type: ignore[arg-type]
    if all(isinstance(r, TokensRequest) for r in requests):  # the contamination axis
        return backend.token_logprobs(requests)  # type: ignore[arg-type]
    return backend.generate(requests)  # type: ignore[arg-type]


class _ModelRunner:
    """Runs one model: cache first, then the backend (loaded only if something is missing)."""

    def __init__(
        self,
        model: ModelSpec,
        cache: ResponseCache,
        progress: Progress,
        run: DomainRun,
        judge: _ModelRunner | None = None,
        load_as: ModelSpec | None = None,
        panel: Sequence[_ModelRunner] = (),
    ):
        """``load_as`` is the model as its backend loads it (a trained adapter's or
        encoder's folder); ``model`` keeps the identity the cache key is made from."""
        self.model, self.cache, self.progress, self.run = model, cache, progress, run
        self.load_as = load_as or model
        self.judge = judge  # the run's judge model, for tasks with a judge step
        self.panel = list(panel)  # the run's judge panel, for tasks graded by rubric
        self.identity = backend_class(model.backend).identity(model)
        self.seen: dict[str, Response] = {}  # this run's answers, for the axes to ask again
        self.size_warned = False  # an oversized prompt is said once per model

    def answer(self, requests: Sequence[Request], bar: str) -> list[Response]:
        keys = [request_key(self.identity, r) for r in requests]
        cached = self.cache.get_many(keys)
        responses: dict[int, Response] = {i: cached[k] for i, k in enumerate(keys) if k in cached}
        self.progress.advance(bar, len(responses))
        missing = [i for i in range(len(requests)) if i not in responses]
        if missing and not self.size_warned:
            note = oversize_warning(self.model, [requests[i] for i in missing])
            if note:
                self.size_warned = True
                self.run.problems.append(note)
                self.progress.status(note)
        if missing:
            try:
                backend = POOL.get(self.load_as, self.progress.status)
                for j, response in _stream(backend, [requests[i] for i in missing]):
                    responses[missing[j]] = response
                    self.cache.put(keys[missing[j]], self.model.name, response)
                    self.progress.advance(bar)
            except GenspecError:
                raise
            except Exception as error:  # one model failing must not end the run
                message = f"{type(error).__name__}: {error}"
                self.run.problems.append(f"model '{self.model.name}' failed ({bar}): {message}")
                for index in missing:
                    responses.setdefault(index, Response(error=message))
        answered = [responses[i] for i in range(len(requests))]
        self.seen.update((k, r) for k, r in zip(keys, answered, strict=True) if not r.error)
        return answered

    def answer_again(self, requests: Sequence[Request], bar: str) -> list[Response]:
        """Like :meth:`answer`, but a request this run already answered is taken from
        memory: an axis's original items are never paid twice, whatever the cache mode."""
        keys = [request_key(self.identity, r) for r in requests]
        new = [i for i, k in enumerate(keys) if k not in self.seen]
        fresh = dict(zip(new, self.answer([requests[i] for i in new], bar), strict=True))
        self.progress.advance(bar, len(requests) - len(new))
        return [fresh[i] if i in fresh else self.seen[k] for i, k in enumerate(keys)]

    def probe(self, prepared: PreparedTask, template: PromptTemplate) -> list[AxisItem]:
        """The run's axes beyond accuracy on this task's test items (none by default),
        asked with the same template, shots and scoring method as the test items."""
        config = self.run.config
        axes = extra_axes(config.axes)
        if not axes:
            return []
        task = prepared.task
        return measure(
            axes,
            Probe(
                model=self.model,
                task=task,
                examples=prepared.examples,
                seed=config.seed,
                request=lambda ex: _request(prepared, template, ex, self.model, config),
                judge=lambda ex, req, resp: _judge(task, ex, req, resp),
                ask=self.answer_again,
                start=self.progress.start,
                perturbations=[*BUILT_IN, *registry().perturbations.get(task.domain, [])],
                bar=_bar(self.model.name, task.name, "test", ""),
                token_logprobs=backend_class(self.model.backend).TOKEN_LOGPROBS,
            ),
        )

    def score(
        self,
        prepared: PreparedTask,
        template: PromptTemplate,
        examples: Sequence[Example],
        split: str,
    ) -> list[ExampleResult]:
        config = self.run.config
        requests = [_request(prepared, template, ex, self.model, config) for ex in examples]
        bar = _bar(self.model.name, prepared.task.name, split, template.name)
        responses = self._answer_unless_given(examples, requests, bar)
        judgements = [
            _judge(prepared.task, ex, req, resp)
            for ex, req, resp in zip(examples, requests, responses, strict=True)
        ]
        if self.judge is not None and prepared.task.judge is not None:
            judgements = self.judge.settle(prepared.task, examples, responses, judgements, bar)
        if self.panel and prepared.task.panel_graded:
            judgements = grade(
                examples, responses, judgements, self.panel, self.model, bar, self.progress
            )
        return [
            _row(prepared, self.model, ex, req, resp, judgement, split, template.name)
            for ex, req, resp, judgement in zip(
                examples, requests, responses, judgements, strict=True
            )
        ]

    def _answer_unless_given(
        self, examples: Sequence[Example], requests: Sequence[Request], bar: str
    ) -> list[Response]:
        """The model's answers, except to items whose answer the data gives: the panel
        grades that answer, never the model's (a check of the judges), so asking the
        model would be paid for and thrown away. Those get an empty answer at no cost."""
        asked = [i for i, example in enumerate(examples) if not has_given_answer(example)]
        if len(asked) == len(examples):
            return self.answer(requests, bar)
        answers = self.answer([requests[i] for i in asked], bar) if asked else []
        by_index = dict(zip(asked, answers, strict=True))
        self.progress.advance(bar, len(examples) - len(asked))
        return [by_index.get(i, Response(text="")) for i in range(len(examples))]

    def settle(
        self,
        task: Task,
        examples: Sequence[Example],
        responses: Sequence[Response],
        judgements: Sequence[Judgement],
        bar: str,
    ) -> list[Judgement]:
        """As the judge model: settle the answers the task's rules left undecided.

        Only those are sent (a judge is slower, costlier and less reproducible than a
        rule); its replies are cached like any answer, and its rationale is kept in
        the per-example table.
        """
        assert task.judge is not None
        step, settled = task.judge, list(judgements)
        pending = [i for i, j in enumerate(judgements) if j.undecided and not responses[i].error]
        if not pending:
            return settled
        requests = [
            GenerateRequest(
                messages=(
                    Message("user", step.prompt(responses[i].text or "", examples[i], settled[i])),
                ),
                max_tokens=step.max_tokens,
            )
            for i in pending
        ]
        judge_bar = f"{bar} · judge"
        self.progress.start(judge_bar, len(requests))
        for i, reply in zip(pending, self.answer(requests, judge_bar), strict=True):
            notes = {**settled[i].notes, "judge_model": self.model.id}
            if reply.error:
                settled[i] = replace(settled[i], notes={**notes, "judge_error": reply.error})
                continue
            verdict = step.apply(responses[i].text or "", examples[i], settled[i], reply.text or "")
            settled[i] = replace(verdict, notes={**verdict.notes, **notes})
        return settled


def _training_bar(progress: Progress) -> OpenBar:
    """Training bars drawn with the run's other bars: one step of training, one tick."""

    def open_bar(description: str, steps: int) -> Callable[[Step], None]:
        progress.start(description, steps)
        return lambda _step: progress.advance(description)

    return open_bar


def _bar(model: str, task: str, split: str, template: str) -> str:
    return f"{model} · {task}" + ("" if split == "test" else f" · dev {template}")


def _mean(rows: Sequence[ExampleResult]) -> float:
    return sum(r.correct for r in rows) / len(rows) if rows else 0.0


def run(
    config: RunConfig, progress: Progress | None = None, prepared_run: Prepared | None = None
) -> DomainRun:
    """Evaluate every model of the roster on every selected task of the domain.

    When dev items are prepared, each model first answers them with every candidate
    template; ``prompt=auto`` then uses each model's best template on the test split,
    chosen on dev only (Jeong et al. 2024: a fair comparison gives each model its best
    prompt, and choosing it on the test split would be tuning on the test).
    """
    progress = progress or Progress()
    prepared, models, plans = prepared_run or prepare(config)
    # the training step, before any scoring: backends load what it made, they never train
    load_as = train_missing(models, plans, _training_bar(progress))
    result = DomainRun(config=config, tasks=prepared, models=models)
    has_choices = any(t.task.kind.has_choices for t in prepared)
    result.scoring = scoring_label(models, has_choices, config.allow_mixed_scoring)
    result.problems += [task.too_few for task in prepared if task.too_few]
    for model in models:
        for task in prepared:
            for name in task.templates if task.dev else ():
                progress.start(_bar(model.name, task.task.name, "dev", name), len(task.dev))
            progress.start(_bar(model.name, task.task.name, "test", ""), len(task.examples))
    cache = ResponseCache(config.cache)
    try:
        panel = [_ModelRunner(judge, cache, progress, result) for judge in config.panel()]
        judge = panel[0] if panel else None  # a task's judge step asks the first judge
        for model in models:
            began = time.time()
            runner = _ModelRunner(
                model, cache, progress, result, judge, load_as.get(model.name), panel
            )
            for task in prepared:
                dev_scores: dict[str, float] = {}
                for name, template in task.templates.items() if task.dev else ():
                    dev_rows = runner.score(task, template, task.dev, "dev")
                    result.rows += dev_rows
                    dev_scores[name] = _mean(dev_rows)
                chosen = next(iter(task.templates))
                if config.prompt == AUTO and dev_scores:
                    chosen = max(dev_scores, key=dev_scores.__getitem__)  # ties: first candidate
                result.prompt_choice[model.name, task.task.name] = (chosen, dev_scores)
                result.rows += runner.score(task, task.templates[chosen], task.examples, "test")
                result.axis_items += runner.probe(task, task.templates[chosen])
            result.model_times[model.name] = (began, time.time())
    finally:
        cache.close()
    return result
