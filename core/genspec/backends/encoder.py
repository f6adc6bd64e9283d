"""Encoder specialists (BioBERT, ClinicalBERT, LegalBERT ...): a multiple-choice head,
fine-tuned on the domain's dev/train items, answering in the same engine.

An encoder cannot write "Answer: B"; it scores (question, option) pairs with
``AutoModelForMultipleChoice``. It receives the engine's ordinary log-likelihood
requests and reads each item as data (:class:`genspec.requests.Choices`: the prompt
without the item's options, and the options' texts); the choice scores come back as
log-probabilities, so encoders share the results table, the statistics and the verdict
with generative models.

The head is new, so it must be trained before use. This backend never trains: the run's
training step (:mod:`genspec.adapt.training`, recipe ``params.train``) fine-tunes it from
a seed on the dev/train split of the domain's choice tasks, caches it under the recipe's
key and hands this backend the folder. Generation requests (numeric tasks) are answered
with an error, which the engine counts apart from scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForMultipleChoice, AutoTokenizer

from genspec.backends.base import Backend, Completed, check_params
from genspec.backends.devices import pick_device
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError
from genspec.requests import GenerateRequest, LoglikRequest, Response

KNOWN_PARAMS = frozenset({"train", "device", "batch_size"})
#: written beside a trained encoder: what it learnt from, and the recipe it was trained with
META_FILE = "genspec_encoder.json"
NOT_GENERATIVE = "an encoder scores choices only; this task needs generated text"
NO_CHOICES = "an encoder needs the item's options as data (a request built by genspec.prompting)"

Pair = tuple[str, tuple[str, ...]]  # the item's text and its options' texts


class EncoderBackend(Backend):
    """A fine-tuned BERT-style encoder with a multiple-choice head, loaded from its folder
    (``spec.id``, as the run's training step hands it over)."""

    NON_SEMANTIC_PARAMS = frozenset({"device", "batch_size"})

    @classmethod
    def preflight(cls, spec: ModelSpec) -> None:
        """Unknown params and generation scoring fail before anything loads (the recipe is
        checked when the run binds it)."""
        check_params(spec, KNOWN_PARAMS)
        if spec.scoring == "generate":
            raise BackendError(f"model '{spec.name}': {NOT_GENERATIVE} (use scoring: loglik)")

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.preflight(spec)
        folder = Path(spec.id)
        if not (folder / META_FILE).is_file():
            raise BackendError(
                f"model '{spec.name}': {spec.id} is not an encoder fine-tuned by genspec (no "
                f"{META_FILE}); genspec run fine-tunes it from params.train before scoring"
            )
        self.device = pick_device(spec.params.get("device", "auto"))
        self.batch_size = int(spec.params.get("batch_size", 16))
        self.seq_len = int(json.loads((folder / META_FILE).read_text())["recipe"]["seq_len"])
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.tokenizer.truncation_side = "left"  # the question is at the end of the item
        self.model = AutoModelForMultipleChoice.from_pretrained(folder).to(self.device).eval()

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> Completed:
        """Log-softmax of the choice scores, one batch of items at a time."""
        readable = [i for i, r in enumerate(requests) if r.choices is not None]
        for index in sorted(set(range(len(requests))) - set(readable)):
            yield index, Response(error=NO_CHOICES)
        for start in range(0, len(readable), self.batch_size):
            indexes = readable[start : start + self.batch_size]
            batch = [pair(requests[i]) for i in indexes]
            with torch.inference_mode():
                logits = choice_logits(self.model, self.tokenizer, batch, self.seq_len, self.device)
            for index, row, (_, options) in zip(indexes, logits, batch, strict=True):
                scores = row[: len(options)].float().log_softmax(-1).tolist()
                yield index, Response(logprobs=tuple(scores))

    def generate(self, requests: Sequence[GenerateRequest]) -> Completed:
        """Encoders do not generate: every such request is a failed call, not a wrong one."""
        for index in range(len(requests)):
            yield index, Response(error=NOT_GENERATIVE)

    def close(self) -> None:
        del self.model


def pair(request: LoglikRequest) -> Pair:
    """The (stem, options) an encoder scores for a request that carries its choices."""
    assert request.choices is not None
    return request.choices.stem, request.choices.options


def choice_logits(
    model: Any, tokenizer: Any, items: Sequence[Pair], seq_len: int, device: torch.device
) -> torch.Tensor:
    """(items, most options) scores; missing options of shorter items score -inf."""
    width = max(len(options) for _, options in items)
    firsts = [stem for stem, options in items for _ in range(width)]
    seconds = [options[j] if j < len(options) else "" for _, options in items for j in range(width)]
    encoded = tokenizer(
        firsts,
        seconds,
        truncation="only_first",
        max_length=seq_len,
        padding=True,
        return_tensors="pt",
    )
    shaped = {k: v.view(len(items), width, -1).to(device) for k, v in encoded.items()}
    logits = model(**shaped).logits
    missing = torch.tensor(
        [[j >= len(options) for j in range(width)] for _, options in items], device=device
    )
    return logits.masked_fill(missing, float("-inf"))
