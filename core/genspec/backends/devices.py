"""Where a local model runs and in which dtype: the GPU when there is one, and the
fastest dtype the hardware computes natively (shared by the hf and encoder backends
and by adapter training)."""

from __future__ import annotations

import functools

import torch

from genspec.errors import BackendError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(name: str) -> torch.device:
    """``auto``: the GPU when CUDA is available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(f"params.device is '{name}' but CUDA is not available here")
    return torch.device(name)


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto``: the fastest dtype the hardware computes natively.

    bfloat16 on a GPU (float16 where it lacks bf16); on a CPU, bfloat16 where it has
    bf16 instructions (AVX512-BF16 or AMX: 2-3x fp32's speed for a small model, see
    bench/README.md), else float32 (emulated bf16 would be slower than fp32).
    """
    if name != "auto":
        return DTYPES[name]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if native_cpu_bf16() else torch.float32


@functools.cache
def native_cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (x86 AVX512-BF16 or AMX)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def adapter_dtype(device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The dtype adapters are trained and merged in: float32 on a CPU (merged straight
    into bf16 weights, a short adapter's small updates would round away); the run's own
    on a GPU (where a large model in float32 might not fit, and training autocasts)."""
    return torch.float32 if device.type == "cpu" else dtype
