"""Local models through vLLM, for large GPU runs (``pip install 'genspec[vllm]'``).

vLLM schedules and batches by itself (continuous batching, paged KV cache, prefix
caching), so this backend only turns genspec's requests into token ids and back:

- generation: greedy ``SamplingParams`` with the request's stops and token cap;
- log-likelihood: each context + continuation is sent as one prompt with
  ``prompt_logprobs``, and the continuation's tokens are summed. Prefix caching
  computes a shared context once for all of its choices.

Prompts are rendered and tokenized exactly as the ``hf`` backend does (same chat
template handling, same in-context split of each continuation), so the two backends
score the same tokens. Model location (``pkg:``, GGUF conversion) is shared too.

Params: ``dtype`` (auto|float32|bfloat16|float16), ``chat_template``, ``gguf_file``,
``package``, ``gpu_memory_utilization``, ``max_model_len``, ``tensor_parallel_size``.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from typing import Any

from genspec.backends import locate
from genspec.backends.base import Backend, Completed, check_choice, check_params
from genspec.backends.prompter import Prompter
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError
from genspec.requests import GenerateRequest, LoglikRequest, Response

KNOWN_PARAMS = frozenset(
    {
        "dtype",
        "chat_template",
        "gguf_file",
        "package",
        "gpu_memory_utilization",
        "max_model_len",
        "tensor_parallel_size",
    }
)
DTYPES = ("auto", "float32", "bfloat16", "float16")
#: engine settings that do not change answers (left out of the cache key)
ENGINE_PARAMS = ("gpu_memory_utilization", "max_model_len", "tensor_parallel_size")


class VLLMBackend(Backend):
    """A model served in-process by a vLLM engine."""

    NON_SEMANTIC_PARAMS = frozenset({"package", *ENGINE_PARAMS})
    EXCLUSIVE = True  # holds most of the GPU's memory: one loaded at a time

    @classmethod
    def preflight(cls, spec: ModelSpec) -> None:
        """Fail before any model loads: vllm missing, an unknown param, a missing package."""
        if importlib.util.find_spec("vllm") is None:
            raise BackendError(
                f"model '{spec.name}' uses the vllm backend, which is not installed: "
                f"pip install 'genspec[vllm]'"
            )
        check_params(spec, KNOWN_PARAMS)
        check_choice(spec, "dtype", DTYPES)
        locate.check(spec)

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.preflight(spec)
        from vllm import LLM

        engine = {k: spec.params[k] for k in ENGINE_PARAMS if k in spec.params}
        self.llm = LLM(
            model=locate.loadable(locate.locate(spec)),
            dtype=spec.params.get("dtype", "auto"),
            enable_prefix_caching=True,
            **engine,
        )
        self.prompter = Prompter(
            self.llm.get_tokenizer(), use_chat=spec.params.get("chat_template", True)
        )

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> Completed:
        """Yield ``log P(continuation | context)`` per continuation, all requests in one call."""
        from vllm import SamplingParams

        pairs = [self._pairs(r) for r in requests]
        prompts = [{"prompt_token_ids": ctx + cont} for rows in pairs for ctx, cont in rows]
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        started = time.perf_counter()
        outputs = iter(self.llm.generate(prompts, params, use_tqdm=False))
        share = (time.perf_counter() - started) / max(1, len(requests))
        for i, rows in enumerate(pairs):
            scores = tuple(_continuation_logprob(next(outputs), ctx, cont) for ctx, cont in rows)
            yield i, Response(logprobs=scores, input_tokens=len(rows[0][0]), latency_s=share)

    def generate(self, requests: Sequence[GenerateRequest]) -> Completed:
        """Yield greedy completions, each with its own stops and token cap."""
        from vllm import SamplingParams

        prompts = [
            {"prompt_token_ids": self.prompter.ids(self.prompter.text(r.messages))}
            for r in requests
        ]
        params = [
            SamplingParams(temperature=0.0, max_tokens=r.max_tokens, stop=list(r.stop) or None)
            for r in requests
        ]
        started = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        share = (time.perf_counter() - started) / max(1, len(requests))
        for i, (prompt, output) in enumerate(zip(prompts, outputs, strict=True)):
            completion = output.outputs[0]
            yield (
                i,
                Response(
                    text=completion.text,
                    input_tokens=len(prompt["prompt_token_ids"]),
                    output_tokens=len(completion.token_ids),
                    latency_s=share,
                    provider_model=self.spec.id,
                ),
            )

    def close(self) -> None:
        """Drop the engine so a multirun can load the next model."""
        del self.llm

    def _pairs(self, request: LoglikRequest) -> list[tuple[list[int], list[int]]]:
        context = self.prompter.text(request.messages) + request.answer_prefix
        return [self.prompter.encode_pair(context, c) for c in request.continuations]


def _continuation_logprob(output: Any, context: list[int], continuation: list[int]) -> float:
    """Sum of the prompt logprobs at the continuation's positions (vLLM reports, for
    every prompt position after the first, a dict that includes the actual token)."""
    entries = output.prompt_logprobs[len(context) : len(context) + len(continuation)]
    return float(
        sum(entry[token].logprob for entry, token in zip(entries, continuation, strict=True))
    )
