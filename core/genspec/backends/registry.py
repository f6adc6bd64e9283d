"""Backend names → classes, imported lazily so torch/litellm load only when used."""

from __future__ import annotations

import importlib

from genspec.backends.base import Backend
from genspec.errors import UnknownNameError

BACKENDS: dict[str, str] = {
    "hf": "genspec.backends.hf:HFBackend",
    "encoder": "genspec.backends.encoder:EncoderBackend",  # multiple-choice head (BERT-style)
    "litellm": "genspec.backends.litellm:LiteLLMBackend",
    "mock": "genspec.backends.mock:MockBackend",
    "vllm": "genspec.backends.vllm:VLLMBackend",  # optional extra: pip install 'genspec[vllm]'
}


def backend_class(name: str) -> type[Backend]:
    """Import and return the backend class registered under ``name``."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise UnknownNameError("backend", name, BACKENDS) from None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
