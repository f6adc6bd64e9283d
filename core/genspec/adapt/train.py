"""The training loop shared by LoRA adapters and encoders: seeded, device-independent.

Reproducible from the seed: the seed fixes the initial weights of anything new (LoRA
matrices, a classification head) and the order items are drawn in. A step is always
``batch_size`` items and its loss is the mean over their target tokens (or items),
so when a GPU runs out of memory the step is split into micro-batches whose
gradients add up to the same step — the recipe, not the card, decides the result.
The forward pass runs under bf16 autocast with fp32 weights on CUDA (fp16 where bf16
is missing) and on a CPU with bf16 instructions (twice fp32's speed there); on any
other CPU everything stays fp32.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import torch

from genspec.adapt.settings import TrainSettings
from genspec.backends.devices import native_cpu_bf16
from genspec.backends.locate import _publish
from genspec.errors import BackendError

if TYPE_CHECKING:
    from genspec.adapt.plan import Plan

Item = TypeVar("Item")


@dataclass(frozen=True)
class Step:
    """One optimiser step as logged: its loss, the tokens it read and how long it took."""

    step: int
    loss: float
    tokens: int
    seconds: float


@dataclass(frozen=True)
class Objective(Generic[Item]):
    """How a model learns from items: the summed loss of a micro-batch and each item's
    weight (target tokens, or 1 per item), so a step's loss is a mean over the step."""

    loss: Callable[[Any, Sequence[Item]], torch.Tensor]
    weight: Callable[[Item], int]
    tokens: Callable[[Item], int]


def seed_all(seed: int) -> None:
    """Seed torch (CPU and every GPU) before anything random is created."""
    torch.manual_seed(seed)


def schedule(count: int, steps: int, batch_size: int, seed: int) -> list[list[int]]:
    """Item indexes for every step: seeded shuffles, one per pass over the items."""
    rng = random.Random(seed)
    order: list[int] = []
    while len(order) < steps * batch_size:
        epoch = list(range(count))
        rng.shuffle(epoch)
        order += epoch
    return [order[i * batch_size : (i + 1) * batch_size] for i in range(steps)]


def autocast(device: torch.device) -> Any:
    """bf16 autocast (fp16 on a GPU without bf16) where the hardware computes it; on a
    CPU without bf16 instructions, plain fp32 (emulated bf16 would be slower)."""
    if device.type != "cuda":
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=native_cpu_bf16())
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def fit(
    model: Any,
    items: Sequence[Item],
    objective: Objective[Item],
    settings: TrainSettings,
    device: torch.device,
    on_step: Callable[[Step], None],
) -> list[Step]:
    """Train the model's trainable parameters for ``settings.steps`` steps."""
    if not items:
        raise BackendError("nothing to train on: the recipe selected no text and no items")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)
    decay = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / settings.steps)
    micro = settings.batch_size
    log: list[Step] = []
    model.train()
    for number, indexes in enumerate(
        schedule(len(items), settings.steps, settings.batch_size, settings.seed), start=1
    ):
        started = time.perf_counter()
        batch = [items[i] for i in indexes]
        while True:
            try:
                loss = _accumulate(model, batch, objective, micro, device)
                break
            except torch.cuda.OutOfMemoryError:
                optimizer.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                if micro == 1:
                    raise BackendError(
                        "training runs out of GPU memory with one item per micro-batch; "
                        "lower seq_len"
                    ) from None
                micro //= 2
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        decay.step()
        optimizer.zero_grad(set_to_none=True)
        tokens = sum(objective.tokens(item) for item in batch)
        log.append(Step(number, loss, tokens, time.perf_counter() - started))
        on_step(log[-1])
    model.eval()
    return log


def _accumulate(
    model: Any, batch: Sequence[Item], objective: Objective[Item], micro: int, device: torch.device
) -> float:
    """Backward over micro-batches; the gradients sum to the step's mean loss."""
    total = max(1, sum(objective.weight(item) for item in batch))
    value = 0.0
    for start in range(0, len(batch), micro):
        with autocast(device):
            loss = objective.loss(model, batch[start : start + micro]) / total
        loss.backward()
        value += float(loss.detach())
    return value


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A folder to write into, renamed to ``target`` only when the block succeeds: a
    crash or a parallel job never leaves a half-written model that looks complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield staging
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_record(
    path: Path, plan: Plan, steps: Sequence[Step], device: torch.device, **extra: Any
) -> None:
    """What a trained model learnt from and how training went, kept beside it."""
    seconds = sum(s.seconds for s in steps)
    record = {
        **plan.summary(),
        **extra,
        "trained": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": str(device),
        "versions": {p: version(p) for p in ("torch", "transformers")},
        "tokens_per_s": sum(s.tokens for s in steps) / seconds if seconds else None,
        "steps": [asdict(s) for s in steps],
    }
    path.write_text(json.dumps(record, indent=2))
