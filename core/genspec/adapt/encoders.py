"""Encoder specialists made here: a BERT-style encoder and its new multiple-choice head,
fine-tuned on the domain's dev/train items (never test items, :mod:`.plan`) from a seed.

The result is saved under the recipe's key with a ``genspec_encoder.json`` recording
what it learnt from and its loss curve; the ``encoder`` backend loads that folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForMultipleChoice, AutoTokenizer
from transformers.utils import logging as hf_logging

from genspec.adapt import plan as plans
from genspec.adapt.plan import ENCODER, Plan
from genspec.adapt.train import Objective, Step, fit, seed_all, staged, write_record
from genspec.backends.devices import pick_device
from genspec.backends.encoder import META_FILE, Pair, choice_logits, pair
from genspec.config.schema import ModelSpec
from genspec.errors import BackendError
from genspec.requests import LoglikRequest


def objective(tokenizer: Any, seq_len: int, device: torch.device) -> Objective[Any]:
    """Cross-entropy of the gold option, summed over the micro-batch's items."""

    def loss(model: Any, batch: Sequence[tuple[Pair, int]]) -> torch.Tensor:
        logits = choice_logits(model, tokenizer, [item for item, _ in batch], seq_len, device)
        gold = torch.tensor([g for _, g in batch], device=device)
        return torch.nn.functional.cross_entropy(logits.float(), gold, reduction="sum")

    def tokens(item: tuple[Pair, int]) -> int:
        (stem, options), _ = item
        return sum(min(seq_len, len(tokenizer(stem, option)["input_ids"])) for option in options)

    return Objective(loss=loss, weight=lambda _: 1, tokens=tokens)


def train_entry(spec: ModelSpec, plan: Plan, on_step: Callable[[Step], None]) -> Path:
    """Fine-tune the encoder and its new head; publish it under the recipe's key."""
    device = pick_device(spec.params.get("device", "auto"))
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
        (pair(item.request), item.example.gold)
        for item in plan.items
        if isinstance(item.request, LoglikRequest)
    ]
    settings = plan.settings
    steps = fit(
        model, items, objective(tokenizer, settings.seq_len, device), settings, device, on_step
    )
    target = plans.cache_dir(ENCODER, plan.key)
    with staged(target) as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        write_record(folder / META_FILE, plan, steps, device, items=len(items))
    return target
