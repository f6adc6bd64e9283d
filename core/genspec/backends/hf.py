"""Local models with transformers + torch: batched, length-aware scoring and generation.

Where the time goes, and what this backend does about it (measured in bench/README.md):

- Multiple-choice items whose options are single tokens (" A" .. " D") need one
  forward pass over the prompt and the logits of its *last* position only. The
  model is asked for just the logits it is read at (``logits_to_keep``), never the
  full vocabulary at every position; padding goes on the right, where a causal
  model cannot see it, so the plain causal mask keeps the fast attention path.
- Longer options never recompute the prompt: one pass over the (left-padded)
  contexts fills the KV cache, the cache is copied once per option, and all the
  options of the batch run together against it (:meth:`HFBackend._score_with_cache`).
- Requests are sorted longest first (an out-of-memory error shows in the first
  batch, not after an hour) and packed into batches by a token budget. On a GPU an
  out-of-memory error halves the budget and retries (:class:`Batcher`); it never
  ends the run. CUDA runs in bf16 with SDPA attention, and so does a CPU with bf16
  instructions (2-3x its float32 speed; ``dtype: float32`` opts out).
- GGUF weights are dequantised once and cached as safetensors (:mod:`.locate`).

Params (``ModelSpec.params``): ``dtype`` (auto|float32|bfloat16|float16), ``device``
(auto|cpu|cuda|cuda:N), ``batch_tokens`` (padded tokens per forward pass, for
scoring and generation alike; by default :data:`SCORE_BATCH_TOKENS` and
:data:`GENERATE_BATCH_TOKENS`; on a GPU the starting point, halved on out-of-memory),
``chat_template`` (false: plain prompts even if the tokenizer has a template),
``adapter`` (a peft LoRA folder, or ``auto``: trained for the run's domain from the
recipe in ``adapt`` by the run's training step before scoring, see :mod:`genspec.adapt`),
``gguf_file`` and ``package`` (see :mod:`.locate`).
Generation is always greedy: a sampled answer could not be cached and replayed.
"""

from __future__ import annotations

import gc
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import torch
import transformers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    StoppingCriteria,
    StoppingCriteriaList,
)

from genspec.backends import locate
from genspec.backends.base import Backend, Completed, check_choice, check_params
from genspec.backends.devices import DTYPES, adapter_dtype, pick_device, pick_dtype
from genspec.backends.prompter import Prompter
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError
from genspec.requests import GenerateRequest, LoglikRequest, Response, TokensRequest

KNOWN_PARAMS = frozenset(
    {"dtype", "device", "batch_tokens", "chat_template", "adapter", "adapt", "gguf_file", "package"}
)
#: padded tokens per scoring pass. On a CPU small batches stay in cache: 2048 ran 10-13%
#: faster than 4096 on 2 cores, bf16 and fp32 (bench/README.md); a GPU saturates late.
SCORE_BATCH_TOKENS = {"cpu": 2048, "cuda": 32768}
#: generation's batches count every token a row may reach. A decoding step costs about
#: the same for 10 rows as for 30 on a CPU (it reads every weight once), so fewer, larger
#: batches win: the offline ddx task (30 cases) took Gemma 3 23-27 s at 8192 against
#: 40 s at 4096, SmolLM2 21-23 s against 29 s (2 cores, fp32, bench/README.md)
GENERATE_BATCH_TOKENS = {"cpu": 8192, "cuda": 32768}

Item = TypeVar("Item")
logger = logging.getLogger(__name__)
# peft (0.21) still asks transformers 5 for this renamed attribute on every adapter it
# wraps; the warning is about peft's code, not the user's, so it is not shown.
warnings.filterwarnings(
    "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
)


class HFBackend(Backend):
    """A causal LM loaded in this process (GPU when there is one, else CPU)."""

    NON_SEMANTIC_PARAMS = frozenset({"batch_tokens", "package", "device"})
    EXCLUSIVE = True
    TOKEN_LOGPROBS = True

    @classmethod
    def preflight(cls, spec: ModelSpec) -> None:
        """Reject unknown params and missing packages before any model is loaded."""
        check_params(spec, KNOWN_PARAMS)
        check_choice(spec, "dtype", ["auto", *DTYPES])
        locate.check(spec)

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.preflight(spec)
        self.device = pick_device(spec.params.get("device", "auto"))
        self.dtype = pick_dtype(spec.params.get("dtype", "auto"), self.device)
        budget = spec.params.get("batch_tokens")
        kind = self.device.type
        self.scorer = Batcher(int(budget or SCORE_BATCH_TOKENS[kind]))
        self.generator = Batcher(int(budget or GENERATE_BATCH_TOKENS[kind]))
        self.model, tokenizer = load(spec, self.device, self.dtype)
        self.prompter = Prompter(tokenizer, use_chat=spec.params.get("chat_template", True))

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> Completed:
        """Yield summed log-probabilities per continuation, one batch at a time.

        Requests whose continuations are all one token take the fast path (last-position
        logits only); the others share their context's KV cache between continuations.
        """
        units = [self.encode(i, request) for i, request in enumerate(requests)]
        short = [u for u in units if u.single_token]
        long = [u for u in units if not u.single_token]
        for group, work in ((short, self._score_single), (long, self._score_with_cache)):
            for unit, response in self.scorer.run(group, Unit.size, work):
                yield unit.request, response

    def generate(self, requests: Sequence[GenerateRequest]) -> Completed:
        """Yield greedy completions, cut at the first stop sequence, one batch at a time."""
        prompts = [
            Prompt(i, r, self.prompter.ids(self.prompter.text(r.messages)))
            for i, r in enumerate(requests)
        ]
        for prompt, response in self.generator.run(prompts, Prompt.size, self._generate):
            yield prompt.index, response

    def token_logprobs(self, requests: Sequence[TokensRequest]) -> Completed:
        """Yield each token's log-probability given the tokens before it (plain text, the
        tokenizer's BOS first when it has one), one text per forward pass."""
        for i, request in enumerate(requests):
            yield i, self._token_logprobs(self.prompter.ids(request.text))

    @torch.inference_mode()
    def _token_logprobs(self, ids: list[int]) -> Response:
        tokens = torch.tensor([ids], device=self.device)
        logits = self.model(input_ids=tokens, use_cache=False).logits[0, :-1]
        picked = logits.float().log_softmax(-1).gather(-1, tokens[0, 1:, None])[:, 0]
        return Response(logprobs=tuple(picked.tolist()), input_tokens=len(ids))

    def close(self) -> None:
        """Drop the weights so a multirun can load the next model in the same memory."""
        del self.model
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def encode(self, index: int, request: LoglikRequest) -> Unit:
        """Request ``index`` as token ids: its context's, and each continuation's as
        tokenized after that context (what the model is actually asked to score)."""
        context = self.prompter.text(request.messages) + request.answer_prefix
        pairs = [self.prompter.encode_pair(context, c) for c in request.continuations]
        return Unit(index, pairs[0][0], tuple(c for _, c in pairs))

    @torch.inference_mode()
    def _score_single(self, units: list[Unit]) -> list[Response]:
        """One-token continuations: one right-padded pass, one logits row per context.

        ``logits_to_keep`` as a (batch, 1) tensor picks each row's last real position,
        so the vocabulary projection runs once per request, not once per token.
        """
        ids = self._right_padded([u.context for u in units])
        last = torch.tensor([[len(u.context) - 1] for u in units], device=self.device)
        logits = self.model(input_ids=ids, logits_to_keep=last, use_cache=False).logits
        scores = _first_tokens(logits[:, 0].float().log_softmax(-1), units)
        return [_response(u, s) for u, s in zip(units, scores, strict=True)]

    @torch.inference_mode()
    def _score_with_cache(self, units: list[Unit]) -> list[Response]:
        """Multi-token continuations: the context once, then every continuation against it.

        Contexts are left-padded, so every one ends in the last column and a single
        logits position predicts every continuation's first token. The KV cache is
        then copied once per continuation (``batch_select_indices``) and the remaining
        continuation tokens run as one right-padded batch whose positions carry on
        from each context's own length.
        """
        ids, mask = self._left_padded([u.context for u in units])
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=_positions(mask),
            logits_to_keep=1,
            use_cache=True,
        )
        scores = _first_tokens(out.logits[:, -1].float().log_softmax(-1), units)
        rows = [
            (b, j) for b, u in enumerate(units) for j, c in enumerate(u.continuations) if len(c) > 1
        ]
        if rows:
            tails = [units[b].continuations[j] for b, j in rows]
            picked = self._continue(out.cache, mask, [b for b, _ in rows], tails)
            for (b, j), rest in zip(rows, picked, strict=True):
                scores[b][j] += rest
        return [_response(u, s) for u, s in zip(units, scores, strict=True)]

    def _continue(
        self, cache: Any, context_mask: torch.Tensor, owners: list[int], tails: list[list[int]]
    ) -> list[float]:
        """Sum of log P(token k+1 | context, tokens ..k) over each continuation's tail.

        ``owners[r]`` is the context row continuation ``r`` belongs to; its cache row is
        copied to row ``r`` (the context's keys and values are computed only once).
        """
        index = torch.tensor(owners, device=self.device)
        cache.batch_select_indices(index)
        inputs = self._right_padded([t[:-1] for t in tails])
        width = inputs.shape[1]
        tail_mask = torch.tensor(
            [[1] * (len(t) - 1) + [0] * (width - len(t) + 1) for t in tails], device=self.device
        )
        lengths = context_mask.sum(-1)[index]
        positions = lengths[:, None] + torch.arange(width, device=self.device)
        logits = self.model(
            input_ids=inputs,
            attention_mask=torch.cat([context_mask[index], tail_mask], dim=1),
            position_ids=positions,
            cache=cache,
            use_cache=True,
        ).logits
        targets = self._right_padded([t[1:] for t in tails])
        logprobs = logits.float().log_softmax(-1).gather(-1, targets[..., None])[..., 0]
        return (logprobs * tail_mask).sum(-1).tolist()

    def _right_padded(self, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
        """Token ids padded on the right.

        Scoring needs no attention mask then: a causal model's real tokens never
        attend to the pads after them, and the plain causal mask keeps the fast
        SDPA path.
        """
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.prompter.pad_id, dtype=torch.long)
        for b, seq in enumerate(sequences):
            ids[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        return ids.to(self.device)

    def _left_padded(self, sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids padded on the left, and the attention mask that hides the pads.

        Every row then ends in the last column: the next token after each sequence
        is predicted at the same position, and generated tokens line up.
        """
        width = max(len(s) for s in sequences)
        pad = self.prompter.pad_id
        ids = torch.tensor([[pad] * (width - len(s)) + list(s) for s in sequences])
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences])
        return ids.to(self.device), mask.to(self.device)

    @torch.inference_mode()
    def _generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        """Greedy-decode a left-padded batch, each row with its own stops and cap."""
        requests = [p.request for p in prompts]
        ids, mask = self._left_padded([p.ids for p in prompts])
        width = ids.shape[1]
        eos = self.prompter.eos_ids(self.model)
        stopper = StopCriteria(
            self.prompter.tokenizer,
            width,
            [r.stop for r in requests],
            [r.max_tokens for r in requests],
            eos,
        )
        config = GenerationConfig(
            max_new_tokens=max(r.max_tokens for r in requests),
            do_sample=False,
            eos_token_id=sorted(eos) or None,
            pad_token_id=self.prompter.pad_id,
        )
        out = self.model.generate(
            input_ids=ids,
            attention_mask=mask,
            generation_config=config,
            stopping_criteria=StoppingCriteriaList([stopper]),
        )
        new = out[:, width:]
        responses = []
        for b, prompt in enumerate(prompts):
            n_out = stopper.finished_at[b] or new.shape[1]
            text = self.prompter.tokenizer.decode(new[b, :n_out], skip_special_tokens=True)
            responses.append(
                Response(
                    text=cut_at_stop(text, prompt.request.stop),
                    input_tokens=len(prompt.ids),
                    output_tokens=n_out,
                    provider_model=self.spec.id,
                )
            )
        return responses


@dataclass(frozen=True)
class Unit:
    """One log-likelihood request as token ids: its context and each continuation."""

    request: int
    context: list[int]
    continuations: tuple[list[int], ...]

    @property
    def single_token(self) -> bool:
        """Every continuation is one token: the context's last logits score them all."""
        return all(len(c) == 1 for c in self.continuations)

    def size(self) -> tuple[int, int]:
        """Batch cost as (rows, width): one row, or one cache copy per continuation."""
        if self.single_token:
            return 1, len(self.context)
        return len(self.continuations), len(self.context) + max(len(c) for c in self.continuations)


@dataclass(frozen=True)
class Prompt:
    """One generation request with its prompt's token ids."""

    index: int
    request: GenerateRequest
    ids: list[int]

    def size(self) -> tuple[int, int]:
        """Batch cost: the prompt plus every token it may still generate."""
        return 1, len(self.ids) + self.request.max_tokens


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded rows: each row's first real token is position 0."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def _first_tokens(logprobs: torch.Tensor, units: Sequence[Unit]) -> list[list[float]]:
    """log P(first token) of every continuation, read from its context's row of
    ``logprobs`` on the device (0 for an empty continuation)."""
    rows = [b for b, u in enumerate(units) for c in u.continuations if c]
    tokens = [c[0] for u in units for c in u.continuations if c]
    picked = iter(logprobs[rows, tokens].tolist())
    return [[next(picked) if c else 0.0 for c in u.continuations] for u in units]


def _response(unit: Unit, logprobs: Sequence[float]) -> Response:
    return Response(logprobs=tuple(logprobs), input_tokens=len(unit.context))


class Batcher:
    """Runs items in batches of at most ``tokens`` padded tokens, halving on GPU OOM.

    The budget is found, not guessed: it starts high, and a CUDA out-of-memory error
    frees the failed batch's memory, halves the budget for the rest of the session
    and re-packs what is left. A single item that does not fit even alone gets an
    error response (the run goes on, and the answer is not cached).
    """

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens

    def run(
        self,
        items: Sequence[Item],
        size: Callable[[Item], tuple[int, int]],
        work: Callable[[list[Item]], list[Response]],
    ) -> Iterator[tuple[Item, Response]]:
        """Yield ``(item, response)`` for every item; ``latency_s`` is its batch's share."""
        queue = deque(pack(items, size, self.tokens))
        while queue:
            batch = queue.popleft()
            started = time.perf_counter()
            try:
                responses = work(batch)
            except torch.cuda.OutOfMemoryError:
                responses = None  # leave the except block: its traceback pins the tensors
            if responses is None:
                _free_cuda_memory()
                if len(batch) == 1:
                    yield batch[0], Response(error=f"out of memory even alone ({size(batch[0])})")
                    continue
                left = batch + [item for queued in queue for item in queued]
                self.tokens = max(1, self.tokens // 2)
                logger.warning("CUDA out of memory; batch budget now %d tokens", self.tokens)
                queue = deque(pack(left, size, self.tokens))
                continue
            share = (time.perf_counter() - started) / len(batch)
            for item, response in zip(batch, responses, strict=True):
                yield item, replace(response, latency_s=share)


def _free_cuda_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def pack(
    items: Sequence[Item], size: Callable[[Item], tuple[int, int]], budget: int
) -> Iterator[list[Item]]:
    """Longest first, batches of at most ``budget`` padded tokens (rows × width).

    lm-evaluation-harness's ``Collator`` idea: the first batch is the widest, so an
    out-of-memory error shows at once; similar lengths share a batch, so little of
    each forward pass is padding. An item wider than the budget runs alone.
    """
    order = sorted(items, key=lambda item: -size(item)[1])
    batch: list[Item] = []
    rows = width = 0
    for item in order:
        n, w = size(item)
        if batch and (rows + n) * max(width, w) > budget:
            yield batch
            batch, rows, width = [], 0, 0
        batch.append(item)
        rows, width = rows + n, max(width, w)
    if batch:
        yield batch


class StopCriteria(StoppingCriteria):
    """Per-row stop: a stop string, the row's own ``max_tokens`` or an end token.

    Rows of one batch may ask for different stops and lengths; a finished row is
    marked done, and ``generate`` ends the batch as soon as every row is.
    ``finished_at[b]`` is how many tokens row ``b`` had generated when it finished.
    """

    def __init__(
        self,
        tokenizer: Any,
        prompt_width: int,
        stops: Sequence[tuple[str, ...]],
        limits: Sequence[int],
        eos_ids: set[int],
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.stops = stops
        self.limits = limits
        self.eos_ids = eos_ids
        self.finished_at: list[int | None] = [None] * len(limits)

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        new = input_ids[:, self.prompt_width :]
        n = new.shape[1]
        for b, done in enumerate(self.finished_at):
            if done is None and self._row_done(new[b], n, b):
                self.finished_at[b] = n
        finished = [f is not None for f in self.finished_at]
        return torch.tensor(finished, dtype=torch.bool, device=input_ids.device)

    def _row_done(self, tokens: torch.Tensor, n: int, b: int) -> bool:
        if n >= self.limits[b] or int(tokens[-1]) in self.eos_ids:
            return True
        if not self.stops[b]:
            return False
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return any(stop in text for stop in self.stops[b])


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The text before the earliest stop sequence (all of it when none occurs)."""
    cuts = [text.find(s) for s in stops if s and s in text]
    return text[: min(cuts)] if cuts else text


def load(spec: ModelSpec, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    """Model and tokenizer, from the converted cache when the weights are GGUF.

    An adapter is merged in :func:`adapter_dtype`; the merged weights are then loaded
    into a model built in ``dtype``. This backend never trains: ``adapter: auto`` is
    trained by the run's training step (:mod:`genspec.adapt.training`), which hands over
    the adapter's folder.
    """
    adapter = spec.params.get("adapter")
    if adapter == "auto":
        raise BackendError(
            f"model '{spec.name}': adapter: auto is trained before scoring by genspec run "
            "(or genspec adapt); the hf backend loads a trained adapter's folder"
        )
    transformers.utils.logging.disable_progress_bar()  # the engine shows its own progress
    located = locate.locate(spec)
    path = locate.loadable(located)
    gguf = located.gguf_file if path == located.path else None
    extra = {"attn_implementation": "sdpa"} if device.type == "cuda" else {}

    def build(weights: torch.dtype) -> PreTrainedModel:
        return _pretrained(AutoModelForCausalLM, spec, path, gguf_file=gguf, dtype=weights, **extra)

    tokenizer = _pretrained(AutoTokenizer, spec, path, gguf_file=gguf)
    model = build(adapter_dtype(device, dtype) if adapter else dtype)
    if adapter:
        model = with_adapter(model, str(adapter), spec.name)
    if model.dtype != dtype:  # each merged weight rounded once; buffers as built (one more
        # read of the weights file: from_pretrained cannot take a state dict instead)
        merged = model.state_dict()
        model = build(dtype)
        model.load_state_dict(merged)
    return model.to(device).eval(), tokenizer


def _pretrained(factory: Any, spec: ModelSpec, path: str, **kwargs: Any) -> Any:
    """``factory.from_pretrained(path)``; a missing or broken folder is one line."""
    try:
        return factory.from_pretrained(path, **kwargs)
    except OSError as error:
        raise BackendError(f"model '{spec.name}' cannot be loaded from {path}: {error}") from error


def with_adapter(model: PreTrainedModel, adapter: str, name: str) -> PreTrainedModel:
    """Apply a LoRA adapter and merge it into the weights: the merged model runs as
    fast as the base and keeps the plain ``logits_to_keep`` forward."""
    try:
        from peft import PeftModel
    except ImportError:
        raise BackendError(
            f"model '{name}' has an adapter, which needs peft: pip install 'genspec[adapt]'"
        ) from None
    try:
        return PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except (OSError, ValueError) as error:
        raise BackendError(
            f"model '{name}': adapter {adapter} cannot be loaded: {error}"
        ) from error
