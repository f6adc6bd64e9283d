"""Backend names → classes: the built-in ones and those plugins add (``genspec_backends``).

Entries are lazy ``module:Class`` references, as in lm-evaluation-harness's registry, so
torch, litellm or a plugin's client library load only when a roster uses that backend.
A built-in name always means the built-in backend; an unknown name is one line with the
closest known one.
"""

from __future__ import annotations

import importlib

from genspec.backends.base import Backend
from genspec.errors import BackendError, UnknownNameError
from genspec.plugins import registry

BACKENDS: dict[str, str] = {
    "hf": "genspec.backends.hf:HFBackend",
    "encoder": "genspec.backends.encoder:EncoderBackend",  # multiple-choice head (BERT-style)
    "litellm": "genspec.backends.litellm:LiteLLMBackend",
    "mock": "genspec.backends.mock:MockBackend",
    "vllm": "genspec.backends.vllm:VLLMBackend",  # optional extra: pip install 'genspec[vllm]'
}


def available() -> dict[str, tuple[str, str | type]]:
    """Every backend name → (who provides it, ``module:Class`` or the class)."""
    plugged = registry().backends
    return {**plugged, **{name: ("genspec", target) for name, target in BACKENDS.items()}}


def backend_class(name: str) -> type[Backend]:
    """Import and return the backend class registered under ``name``."""
    known = available()
    try:
        provider, target = known[name]
    except KeyError:
        raise UnknownNameError(
            "backend",
            name,
            known,
            "A plugin can add one with the genspec_backends hook (see `genspec list plugins`).",
        ) from None
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as error:
            if provider == "genspec":
                raise  # a built-in backend always imports; its own errors say what is missing
            raise BackendError(
                f"backend '{name}' of plugin '{provider}' cannot be loaded from {target}: "
                f"{type(error).__name__}: {error}; fix or reinstall the plugin"
            ) from None
    if not (isinstance(target, type) and issubclass(target, Backend)):
        raise BackendError(
            f"backend '{name}' of plugin '{provider}' is not a genspec Backend subclass "
            "(genspec.backends.base.Backend)"
        )
    return target
