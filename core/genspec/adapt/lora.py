"""LoRA domain adapters for causal LMs: trained once per recipe, then loaded from cache.

Two kinds of sequence go into one adapter: windows of domain text (continued
pre-training, loss on every token) and supervised items rendered exactly as the run
renders them — the model's chat template, the same prompt, ``Answer:`` — with the
loss on the gold answer only. The adapter is saved under the cache key with a
``genspec_adapter.json`` that records what it was trained on and its loss curve.
The run's training step (:mod:`.training`) and ``genspec adapt`` both call
:func:`train_entry` (``genspec adapt`` logs the same steps to MLflow); the ``hf``
backend then loads the adapter's folder like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

from genspec.adapt import plan as plans
from genspec.adapt.plan import LORA, Plan
from genspec.adapt.settings import AdaptSettings
from genspec.adapt.train import Objective, Step, fit, seed_all, staged, write_record
from genspec.backends.devices import adapter_dtype, pick_device, pick_dtype
from genspec.backends.hf import load
from genspec.backends.prompter import Prompter
from genspec.config.schema import ModelSpec
from genspec.requests import LoglikRequest

META_FILE = "genspec_adapter.json"
IGNORE = -100
#: a window shorter than this teaches little and costs a forward pass
MIN_WINDOW = 16

Sequence_ = tuple[list[int], list[int]]  # input ids and aligned targets (IGNORE: no loss)


def sequences(plan: Plan, tokenizer: Any, use_chat: bool) -> list[Sequence_]:
    """Every training sequence of a plan: text windows, then supervised items."""
    settings = plan.settings
    plain = Prompter(tokenizer, use_chat=False)
    out: list[Sequence_] = []
    for document in plan.documents:
        out += _windows(plain.prefix, plain.ids(document.text)[len(plain.prefix) :], settings)
    prompter = Prompter(tokenizer, use_chat=use_chat)
    eos = tokenizer.eos_token_id
    for item in plan.items:
        context = prompter.text(item.request.messages)
        if isinstance(item.request, LoglikRequest):
            context_ids, answer = prompter.encode_pair(
                context + item.request.answer_prefix, item.target
            )
        else:  # a generating model learns to say the answer and stop
            context_ids, answer = prompter.encode_pair(context, item.target)
            answer = [*answer, eos] if eos is not None else answer
        out.append(_supervised(context_ids, answer, settings.seq_len))
    return out


def _windows(prefix: list[int], body: list[int], settings: AdaptSettings) -> list[Sequence_]:
    """Consecutive windows of ``seq_len`` tokens, each starting with the model's prefix."""
    width = settings.seq_len - len(prefix)
    windows = []
    for start in range(0, len(body), width):
        ids = prefix + body[start : start + width]
        if len(ids) >= MIN_WINDOW:
            windows.append((ids[:-1], ids[1:]))
    return windows


def _supervised(context: list[int], answer: list[int], seq_len: int) -> Sequence_:
    """Prompt and answer, cut from the left to ``seq_len``; loss on the answer only."""
    ids = (context + answer)[-(seq_len + 1) :]
    targets = [IGNORE] * (len(ids) - len(answer) - 1) + answer
    return ids[:-1], targets[-(len(ids) - 1) :]


def objective(pad_id: int, device: torch.device) -> Objective[Sequence_]:
    """Next-token cross-entropy summed over target tokens, right-padded batches."""

    def loss(model: Any, batch: Sequence[Sequence_]) -> torch.Tensor:
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        targets = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (inputs, labels) in enumerate(batch):
            ids[row, : len(inputs)] = torch.tensor(inputs)
            targets[row, : len(labels)] = torch.tensor(labels)
            mask[row, : len(inputs)] = 1
        logits = model(
            input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False
        ).logits
        return torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1),
            targets.to(device).flatten(),
            ignore_index=IGNORE,
            reduction="sum",
        )

    return Objective(
        loss=loss,
        weight=lambda s: sum(t != IGNORE for t in s[1]),
        tokens=lambda s: len(s[0]),
    )


def train(
    model: Any,
    tokenizer: Any,
    plan: Plan,
    device: torch.device,
    use_chat: bool,
    on_step: Callable[[Step], None],
) -> tuple[Path, list[Step]]:
    """Train a LoRA adapter on ``model`` (left unchanged) and publish it under the key."""
    from peft import LoraConfig, get_peft_model

    settings: AdaptSettings = plan.settings  # type: ignore[assignment]
    data = sequences(plan, tokenizer, use_chat)
    seed_all(settings.seed)
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=0.0,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model.to(device), config)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    try:
        steps = fit(peft_model, data, objective(pad or 0, device), settings, device, on_step)
        target = plans.cache_dir(LORA, plan.key)
        with staged(target) as folder:
            peft_model.save_pretrained(folder)
            write_record(
                folder / META_FILE, plan, steps, device, sequences=len(data), peft=version("peft")
            )
    finally:
        peft_model.unload()  # the base weights, without LoRA layers, for the caller
    return target, steps


def load_base(spec: ModelSpec) -> tuple[Any, Any, torch.device]:
    """The entry's base model (without its recipe) as training wants it: on its device,
    in the dtype an adapter is trained and merged in (``devices.adapter_dtype``)."""
    base = plans.base_of(spec)
    device = pick_device(base.params.get("device", "auto"))
    dtype = adapter_dtype(device, pick_dtype(base.params.get("dtype", "auto"), device))
    model, tokenizer = load(base, device, dtype)
    return model, tokenizer, device


def train_entry(spec: ModelSpec, plan: Plan, on_step: Callable[[Step], None]) -> Path:
    """Load the entry's base and train its adapter (``genspec run``'s training step and
    ``genspec adapt`` alike, so both make the same adapter for the same key)."""
    model, tokenizer, device = load_base(spec)
    use_chat = spec.params.get("chat_template", True)
    folder, _ = train(model, tokenizer, plan, device, use_chat, on_step)
    return folder
