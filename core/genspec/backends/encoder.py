"""Encoder specialists (BioBERT, ClinicalBERT, LegalBERT ...): a multiple-choice head,
fine-tuned here on the domain's dev/train items, answering in the same engine.

An encoder cannot write "Answer: B"; it scores (question, option) pairs with
``AutoModelForMultipleChoice``. It receives the engine's ordinary log-likelihood
requests: the item's options are read back from the prompt the toolkit rendered
(lettered lines ``A. text`` for multiple choice; the labels themselves for
classification) and the choice scores come back as log-probabilities, so encoders
share the results table, the statistics and the verdict with generative models.

The head is new, so it is trained before first use, on the dev/train split of the
domain's choice tasks (never on test items, :mod:`genspec.adapt.plan`), from a seed,
and the result is cached under the recipe's key. Recipe: ``params.train`` (see
:class:`genspec.adapt.settings.EncoderSettings`). Generation requests (numeric tasks)
are answered with an error, which the engine counts apart from scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import AutoModelForMultipleChoice, AutoTokenizer
from transformers.utils import logging as hf_logging

from genspec.adapt import plan as plans
from genspec.adapt.plan import ENCODER, Plan
from genspec.adapt.train import Objective, fit, progress, seed_all, staged, write_record
from genspec.backends.base import Backend, Completed, check_params
from genspec.backends.devices import pick_device
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError
from genspec.requests import GenerateRequest, LoglikRequest, Response

KNOWN_PARAMS = frozenset({"train", "device", "batch_size"})
META_FILE = "genspec_encoder.json"
NOT_GENERATIVE = "an encoder scores choices only; this task needs generated text"

Pair = tuple[str, tuple[str, ...]]  # the item's text and its options' texts


def choice_texts(request: LoglikRequest) -> Pair:
    """The item without its options, and each continuation's option text.

    Lettered options are the prompt's last ``L. text`` lines for the letters being
    scored (few-shot examples above them have their own); label continuations
    (``yes``/``no``) are their own text, and the ``Options:`` line is dropped.
    """
    lines = request.messages[-1].content.split("\n")
    labels = [c.strip() for c in request.continuations]
    found: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(lines):
        for label in labels:
            if line.startswith(f"{label}. "):
                found[label] = (number, line[len(label) + 2 :])
    if len(found) == len(labels):
        first = min(number for number, _ in found.values())
        return "\n".join(lines[:first]), tuple(found[label][1] for label in labels)
    stem = [line for line in lines if not line.startswith("Options: ")]
    return "\n".join(stem), tuple(labels)


class EncoderBackend(Backend):
    """A BERT-style encoder with a multiple-choice head, trained once per recipe."""

    NON_SEMANTIC_PARAMS = frozenset({"device", "batch_size"})

    @classmethod
    def preflight(cls, spec: ModelSpec) -> None:
        """Unknown params and an unusable recipe fail before anything loads."""
        check_params(spec, KNOWN_PARAMS)
        if spec.scoring == "generate":
            raise BackendError(f"model '{spec.name}': {NOT_GENERATIVE} (use scoring: loglik)")
        plans.recipe(spec, ENCODER)

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.preflight(spec)
        self.device = pick_device(spec.params.get("device", "auto"))
        self.batch_size = int(spec.params.get("batch_size", 16))
        settings = plans.recipe(spec, ENCODER)
        self.seq_len = settings.seq_len
        plan = plans.build(plans.base_of(spec), settings)
        folder = plans.cache_dir(ENCODER, plan.key)
        if not (folder / "config.json").is_file():
            _train(spec, plan, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.tokenizer.truncation_side = "left"  # the question is at the end of the item
        self.model = AutoModelForMultipleChoice.from_pretrained(folder).to(self.device).eval()

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> Completed:
        """Log-softmax of the choice scores, one batch of items at a time."""
        for start in range(0, len(requests), self.batch_size):
            batch = [choice_texts(r) for r in requests[start : start + self.batch_size]]
            with torch.inference_mode():
                logits = choice_logits(self.model, self.tokenizer, batch, self.seq_len, self.device)
            for offset, (row, (_, options)) in enumerate(zip(logits, batch, strict=True)):
                scores = row[: len(options)].float().log_softmax(-1).tolist()
                yield start + offset, Response(logprobs=tuple(scores))

    def generate(self, requests: Sequence[GenerateRequest]) -> Completed:
        """Encoders do not generate: every such request is a failed call, not a wrong one."""
        for index in range(len(requests)):
            yield index, Response(error=NOT_GENERATIVE)

    def close(self) -> None:
        del self.model


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


def objective(tokenizer: Any, seq_len: int, device: torch.device) -> Objective[Any]:
    """Cross-entropy of the gold option, summed over the micro-batch's items."""

    def loss(model: Any, batch: Sequence[tuple[Pair, int]]) -> torch.Tensor:
        logits = choice_logits(model, tokenizer, [pair for pair, _ in batch], seq_len, device)
        gold = torch.tensor([g for _, g in batch], device=device)
        return torch.nn.functional.cross_entropy(logits.float(), gold, reduction="sum")

    def tokens(item: tuple[Pair, int]) -> int:
        (stem, options), _ = item
        return sum(min(seq_len, len(tokenizer(stem, option)["input_ids"])) for option in options)

    return Objective(loss=loss, weight=lambda _: 1, tokens=tokens)


def _train(spec: ModelSpec, plan: Plan, device: torch.device) -> None:
    """Fine-tune the encoder and its new head; publish it under the recipe's key."""
    seed_all(plan.settings.seed)  # the head is initialised from the seed
    quiet = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "classifier newly initialized": it is, on purpose
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.id)
        model = AutoModelForMultipleChoice.from_pretrained(spec.id).to(device)
    except OSError as error:
        raise BackendError(
            f"model '{spec.name}' cannot be loaded from {spec.id}: {error}"
        ) from error
    finally:
        hf_logging.set_verbosity(quiet)
    tokenizer.truncation_side = "left"
    items = [
        (choice_texts(item.request), item.example.gold)
        for item in plan.items
        if isinstance(item.request, LoglikRequest)
    ]
    settings = plan.settings
    with progress(f"fine-tuning {spec.name} on {plan.domain}", settings.steps) as advance:
        steps = fit(
            model, items, objective(tokenizer, settings.seq_len, device), settings, device, advance
        )
    with staged(plans.cache_dir(ENCODER, plan.key)) as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        write_record(folder / META_FILE, plan, steps, device, items=len(items))
