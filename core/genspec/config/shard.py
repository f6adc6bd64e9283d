"""``shard=I/N``: the value a run is configured with, parsed and checked.

It lives with the config (not with :mod:`genspec.shards`, which assigns items and
merges shards) because the config validates it before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/3"`` → ``Shard(2, 3)``; anything else is a ``ValueError`` naming the form."""
        left, sep, right = text.partition("/")
        if not (sep and left.strip().isdigit() and right.strip().isdigit()):
            raise ValueError("shard must look like I/N, e.g. shard=1/3")
        shard = cls(int(left), int(right))
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"shard {text}: I must be between 1 and N")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
