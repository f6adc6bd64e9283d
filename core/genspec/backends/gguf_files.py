"""Read GGUF metadata fast enough that converting a model is not mostly parsing.

transformers reads a GGUF file through ``gguf.GGUFReader`` three times (tokenizer,
config, weights), and the reader parses every metadata value element by element
through ``numpy.memmap`` slices. For Gemma 3's 262k-token vocabulary that is
millions of slices, and each ``memmap`` slice pays for the subclass's bookkeeping
(``__array_finalize__``): about 17 s a parse on two cores. Separately, mapping GGUF
tensor names to transformers' names rebuilds gguf's name table once per module of
the model (397 times for SmolLM2, ~5 s). Within :func:`fast_gguf_reading`:

- one reader per file (the tokenizer, config and weights share it);
- the reader slices a plain ``ndarray`` view of the same mapping (5 s instead of 17 s
  for Gemma 3, identical bytes), and the arrays it hands out are plain too, which
  also makes transformers' own pass over every value about twice as fast;
- the name table is built once per architecture and depth.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from gguf import GGUFReader


class PlainArrayReader(GGUFReader):
    """A ``GGUFReader`` whose slices are plain arrays over the same memory map."""

    def _get(
        self,
        offset: int,
        dtype: Any,
        count: int = 1,
        override_order: Any = None,
    ) -> np.ndarray:
        plain = self.__dict__.get("_plain")
        if plain is None:  # set on first use: the base __init__ maps the file, then parses
            plain = self._plain = self.data.view(np.ndarray)
        count = int(count)
        end = offset + np.dtype(dtype).itemsize * count
        values = plain[offset:end].view(dtype=dtype)[:count]
        order = self.byte_order if override_order is None else override_order
        return values.view(values.dtype.newbyteorder(order))


@contextmanager
def fast_gguf_reading() -> Iterator[None]:
    """Within the block, ``gguf.GGUFReader(path)`` returns one shared fast reader per
    file and ``gguf.get_tensor_name_map`` is memoised.

    transformers imports both from ``gguf`` at call time, so replacing the module
    attributes for the duration of a conversion is enough; readers and name tables
    are only read from (a writable mode gets an ordinary reader).
    """
    import gguf

    original = gguf.GGUFReader
    name_map = gguf.get_tensor_name_map
    readers: dict[str, GGUFReader] = {}

    def shared(path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> GGUFReader:
        if args or kwargs:  # a mode other than the default read-only one
            return original(path, *args, **kwargs)
        key = os.fspath(path)
        if key not in readers:
            readers[key] = PlainArrayReader(path)
        return readers[key]

    gguf.GGUFReader = shared
    gguf.get_tensor_name_map = functools.cache(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader = original
        gguf.get_tensor_name_map = name_map
