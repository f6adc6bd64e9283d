"""Local models with transformers + torch: batched, length-aware scoring and generation.

Where the time goes, and what this backend does about it (see FACTS.md):

- Multiple-choice items whose options are single tokens (" A" .. " D") need one
  forward pass over the prompt and the logits of its *last* position only. The
  model is asked for just the logits it is read at (``logits_to_keep``), never the
  full vocabulary at every position.
- Requests are sorted longest first (an out-of-memory error shows in the first
  batch, not after an hour) and packed into batches by a token budget; padding
  goes on the right, where a causal model cannot see it.
- GGUF weights are dequantised once and cached as safetensors (:mod:`.locate`).

Params (``ModelSpec.params``): ``dtype`` (auto|float32|bfloat16|float16), ``device``
(auto|cpu|cuda|cuda:N), ``batch_tokens`` (padded tokens per forward pass),
``chat_template`` (false: plain prompts even if the tokenizer has a template),
``adapter`` (a peft LoRA folder), ``gguf_file`` and ``package`` (see :mod:`.locate`).
Generation is always greedy: a sampled answer could not be cached and replayed.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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
from genspec.backends.base import Backend, Completed
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError, did_you_mean
from genspec.requests import GenerateRequest, LoglikRequest, Message, Response

KNOWN_PARAMS = frozenset(
    {"dtype", "device", "batch_tokens", "chat_template", "adapter", "gguf_file", "package"}
)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: padded tokens per forward pass; CPU time grows with it, GPU throughput saturates late
DEFAULT_BATCH_TOKENS = {"cpu": 4096, "cuda": 32768}

Item = TypeVar("Item")


class HFBackend(Backend):
    """A causal LM loaded in this process (GPU when there is one, else CPU)."""

    NON_SEMANTIC_PARAMS = frozenset({"batch_tokens", "package", "device"})

    @classmethod
    def preflight(cls, spec: ModelSpec) -> None:
        """Reject unknown params and missing packages before any model is loaded."""
        for key in spec.params:
            if key not in KNOWN_PARAMS:
                raise BackendError(
                    f"model '{spec.name}': unknown hf param '{key}'."
                    f"{did_you_mean(key, KNOWN_PARAMS)} Known: {', '.join(sorted(KNOWN_PARAMS))}"
                )
        dtype = spec.params.get("dtype", "auto")
        if dtype != "auto" and dtype not in DTYPES:
            raise BackendError(
                f"model '{spec.name}': params.dtype '{dtype}' is not one of auto, "
                f"{', '.join(DTYPES)}"
            )
        locate.check(spec)

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.preflight(spec)
        self.device = pick_device(spec.params.get("device", "auto"))
        self.dtype = pick_dtype(spec.params.get("dtype", "auto"), self.device)
        self.batch_tokens = int(
            spec.params.get("batch_tokens", DEFAULT_BATCH_TOKENS[self.device.type])
        )
        self.model, tokenizer = load(spec, self.device, self.dtype)
        self.prompter = Prompter(tokenizer, use_chat=spec.params.get("chat_template", True))

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> Completed:
        """Yield summed log-probabilities per continuation, one batch at a time."""
        units = [self._rows(i, request) for i, request in enumerate(requests)]
        for batch in pack(units, _rows_size, self.batch_tokens):
            started = time.perf_counter()
            rows = [row for unit in batch for row in unit]
            scores = self._score(rows)
            share = (time.perf_counter() - started) / len(batch)
            for unit in batch:
                index = unit[0].request
                n = len(requests[index].continuations)
                yield index, _loglik_response(unit, scores, n, share)

    def generate(self, requests: Sequence[GenerateRequest]) -> Completed:
        """Yield greedy completions, cut at the first stop sequence, one batch at a time."""
        prompts = [
            (i, self.prompter.ids(self.prompter.text(r.messages))) for i, r in enumerate(requests)
        ]
        for batch in pack(prompts, _generation_size(requests), self.batch_tokens):
            started = time.perf_counter()
            outputs = self._generate([requests[i] for i, _ in batch], [ids for _, ids in batch])
            share = (time.perf_counter() - started) / len(batch)
            for (i, ids), (text, n_out) in zip(batch, outputs, strict=True):
                yield i, self._response(text, len(ids), n_out, share)

    def close(self) -> None:
        """Drop the weights so a multirun can load the next model in the same memory."""
        del self.model
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _rows(self, index: int, request: LoglikRequest) -> list[Row]:
        """The sequences to run for one request (one when every continuation is one token)."""
        context = self.prompter.text(request.messages) + request.answer_prefix
        pairs = [self.prompter.encode_pair(context, c) for c in request.continuations]
        context_ids = pairs[0][0]
        continuations = [c for _, c in pairs]
        if all(len(c) == 1 for c in continuations):
            return [Row(index, context_ids, tuple(enumerate(continuations)), len(context_ids) - 1)]
        return [
            Row(index, context_ids + c[:-1], ((j, c),), len(context_ids) - 1)
            for j, c in enumerate(continuations)
        ]

    @torch.inference_mode()
    def _score(self, rows: list[Row]) -> dict[tuple[int, int], float]:
        """One forward pass; ``{(request, continuation): log P}`` for every target of ``rows``.

        Only the positions that predict a scored token reach the vocabulary projection:
        ``logits_to_keep`` as a (batch, positions) tensor picks them per row.
        """
        ids = self._right_padded([r.tokens for r in rows])
        keep = max(1, max(len(t) for r in rows for _, t in r.targets))
        positions = torch.tensor(
            [[min(r.start + k, len(r.tokens) - 1) for k in range(keep)] for r in rows],
            device=self.device,
        )
        logits = self.model(input_ids=ids, logits_to_keep=positions, use_cache=False).logits
        logprobs = logits.float().log_softmax(-1)
        where = [
            (b, k, t) for b, r in enumerate(rows) for _, ts in r.targets for k, t in enumerate(ts)
        ]
        picked = logprobs[tuple(torch.tensor(where).T.to(self.device))].tolist() if where else []
        scores: dict[tuple[int, int], float] = {}
        cursor = 0
        for r in rows:
            for j, ts in r.targets:
                scores[(r.request, j)] = float(sum(picked[cursor : cursor + len(ts)]))
                cursor += len(ts)
        return scores

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

    @torch.inference_mode()
    def _generate(
        self, requests: Sequence[GenerateRequest], prompts: Sequence[list[int]]
    ) -> list[tuple[str, int]]:
        """Greedy-decode a left-padded batch; ``(text, generated tokens)`` per row."""
        width = max(len(p) for p in prompts)
        pad = self.prompter.pad_id
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor(
            [[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device
        )
        stopper = StopCriteria(
            self.prompter.tokenizer,
            width,
            [r.stop for r in requests],
            [r.max_tokens for r in requests],
            self.prompter.eos_ids(self.model),
        )
        config = GenerationConfig(
            max_new_tokens=max(r.max_tokens for r in requests),
            do_sample=False,
            eos_token_id=sorted(self.prompter.eos_ids(self.model)) or None,
            pad_token_id=pad,
        )
        out = self.model.generate(
            input_ids=ids,
            attention_mask=mask,
            generation_config=config,
            stopping_criteria=StoppingCriteriaList([stopper]),
        )
        new = out[:, width:]
        results = []
        for b, request in enumerate(requests):
            n_out = stopper.finished_at[b] or new.shape[1]
            text = self.prompter.tokenizer.decode(new[b, :n_out], skip_special_tokens=True)
            results.append((cut_at_stop(text, request.stop), n_out))
        return results

    def _response(self, text: str, n_in: int, n_out: int, latency: float) -> Response:
        return Response(
            text=text,
            input_tokens=n_in,
            output_tokens=n_out,
            latency_s=latency,
            provider_model=self.spec.id,
        )


@dataclass(frozen=True)
class Row:
    """One sequence fed to the model and the continuations read from it.

    ``targets`` pairs a continuation's index with its tokens; the first token is
    predicted by the logits at position ``start`` (the context's last token), the
    next at ``start + 1``, and so on.
    """

    request: int
    tokens: list[int]
    targets: tuple[tuple[int, list[int]], ...]
    start: int


def _rows_size(rows: list[Row]) -> tuple[int, int]:
    """Batch cost of one request's rows: how many, and the widest."""
    return len(rows), max(len(r.tokens) for r in rows)


def _loglik_response(
    unit: list[Row], scores: dict[tuple[int, int], float], n: int, share: float
) -> Response:
    """One request's ``n`` logprobs, in continuation order, from its batch's scores."""
    index = unit[0].request
    return Response(
        logprobs=tuple(scores[(index, j)] for j in range(n)),
        input_tokens=unit[0].start + 1,
        latency_s=share,
    )


def _generation_size(
    requests: Sequence[GenerateRequest],
) -> Callable[[tuple[int, list[int]]], tuple[int, int]]:
    """Batch cost of a prompt: its length plus the tokens it may still generate."""
    return lambda item: (1, len(item[1]) + requests[item[0]].max_tokens)


def pack(
    items: Sequence[Item], size: Callable[[Item], tuple[int, int]], budget: int
) -> Iterator[list[Item]]:
    """Longest first, batches of at most ``batch_tokens`` padded tokens (rows × width).

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


class Prompter:
    """Messages → token ids, with the model's chat template when it has one.

    Rendered chat text already holds any BOS the template wants, so it is tokenized
    without special tokens (the double-BOS trap, lm-eval #2676); plain text gets
    whatever the tokenizer puts in front by default (Gemma is lost without its BOS).
    """

    def __init__(self, tokenizer: Any, use_chat: bool = True) -> None:
        self.tokenizer = tokenizer
        self.chat = bool(use_chat) and bool(getattr(tokenizer, "chat_template", None))
        self.prefix = [] if self.chat else _special_prefix(tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (tokenizer.eos_token_id or 0)

    def text(self, messages: Sequence[Message]) -> str:
        """The prompt as text: chat-rendered up to the assistant's turn, or joined plainly."""
        if not self.chat:
            return "\n\n".join(m.content for m in messages)
        turns = [{"role": m.role, "content": m.content} for m in messages]
        return self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)

    def ids(self, text: str) -> list[int]:
        """Token ids of a whole prompt (with the default BOS in plain mode)."""
        return self.prefix + self._encode(text)

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Context ids and the continuation's ids as the tokenizer splits them *in context*.

        The continuation is tokenized as the tail of ``context + continuation`` (a word
        after a space is one token, not two), and a space ending the context moves to
        the continuation, where the tokenizer expects it (lm-evaluation-harness).
        """
        spaces = len(context) - len(context.rstrip(" "))
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        context_ids = self.ids(context)
        whole = self.ids(context + continuation)
        tail = whole[len(context_ids) :]
        if continuation and not tail:
            tail = self._encode(continuation)
        return context_ids, tail

    def eos_ids(self, model: PreTrainedModel) -> set[int]:
        """Tokens that end a generation: the model's and the tokenizer's end markers."""
        found = model.generation_config.eos_token_id
        ids = set(found if isinstance(found, list) else [found] if found is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def _special_prefix(tokenizer: Any) -> list[int]:
    """The ids the tokenizer puts *before* text by default (e.g. BOS), nothing after:
    an EOS appended after the context would sit between it and the continuation."""
    bare = _encode_probe(tokenizer, add_special_tokens=False)
    full = _encode_probe(tokenizer, add_special_tokens=True)
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start]
    return []


def _encode_probe(tokenizer: Any, add_special_tokens: bool) -> list[int]:
    return list(tokenizer("genspec", add_special_tokens=add_special_tokens)["input_ids"])


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


def pick_device(name: str) -> torch.device:
    """``auto``: the GPU when CUDA is available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(f"params.device is '{name}' but CUDA is not available here")
    return torch.device(name)


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on a GPU (float16 where it lacks bf16); float32 on a CPU."""
    if name != "auto":
        return DTYPES[name]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load(spec: ModelSpec, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    """Model and tokenizer, from the converted cache when the weights are GGUF."""
    transformers.utils.logging.disable_progress_bar()  # the engine shows its own progress
    located = locate.locate(spec)
    path = locate.loadable(located)
    gguf = located.gguf_file if path == located.path else None
    extra = {"attn_implementation": "sdpa"} if device.type == "cuda" else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf)
        model = AutoModelForCausalLM.from_pretrained(path, gguf_file=gguf, dtype=dtype, **extra)
    except OSError as error:
        raise BackendError(f"model '{spec.name}' cannot be loaded from {path}: {error}") from error
    adapter = spec.params.get("adapter")
    if adapter:
        model = with_adapter(model, str(adapter), spec.name)
    return model.to(device).eval(), tokenizer


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
