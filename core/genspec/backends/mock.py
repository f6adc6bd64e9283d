"""A deterministic stand-in model for dry runs (inspect_ai's ``mockllm`` idea).

``backend: mock`` answers instantly and reproducibly from a hash of the prompt, so a
user can check a roster, a plugin or a tracking setup without loading anything.
``params.answer`` fixes the option index it prefers (e.g. ``0`` always answers A).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from genspec.backends.base import Backend, Completed
from genspec.config.schema import ModelSpec
from genspec.requests import GenerateRequest, LoglikRequest, Response, TokensRequest

LETTERS = "ABCDEFGHIJ"
CONFIDENCE_ASKED = "'Confidence: N'"


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class MockBackend(Backend):
    TOKEN_LOGPROBS = True

    @classmethod
    def identity(cls, spec: ModelSpec) -> dict[str, Any]:
        """A mock's answers depend on its roster name, so the name is part of its identity."""
        return {**super().identity(spec), "name": spec.name}

    def _preferred(self, prompt: str, n: int) -> int:
        fixed = self.spec.params.get("answer")
        return int(fixed) % n if fixed is not None else int(_unit(self.spec.name, prompt) * n)

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> Completed:
        for i, request in enumerate(requests):
            prompt = request.messages[-1].content
            best = self._preferred(prompt, len(request.continuations))
            logprobs = tuple(
                -0.1 if j == best else -1.0 - _unit(prompt, c)
                for j, c in enumerate(request.continuations)
            )
            yield i, Response(logprobs=logprobs, input_tokens=len(prompt.split()))

    def generate(self, requests: Sequence[GenerateRequest]) -> Completed:
        for i, request in enumerate(requests):
            prompt = request.messages[-1].content
            options = _options(prompt)
            answer = options[self._preferred(prompt, len(options))]
            # asked for a stated confidence (genspec.axes calibration): a hashed 0-100
            stated = f"\nConfidence: {int(_unit('confidence', prompt) * 101)}"
            yield (
                i,
                Response(
                    text=f"The answer is {answer}."
                    + (stated if CONFIDENCE_ASKED in prompt else ""),
                    input_tokens=len(prompt.split()),
                    output_tokens=4,
                ),
            )

    def token_logprobs(self, requests: Sequence[TokensRequest]) -> Completed:
        """A hashed log-probability per word after the first (a word stands for a token)."""
        for i, request in enumerate(requests):
            words = request.text.split()
            logprobs = tuple(-8.0 * _unit(self.spec.name, w) for w in words[1:])
            yield i, Response(logprobs=logprobs, input_tokens=len(words))


def _options(prompt: str) -> list[str]:
    """The answers the prompt offers: its label list, its option letters, else a number."""
    for line in reversed(prompt.splitlines()):
        if line.startswith("Options: "):
            return [o.strip() for o in line.removeprefix("Options: ").split(",")]
    letters = [line[0] for line in prompt.splitlines() if line[:1] in LETTERS and line[1:3] == ". "]
    return sorted(set(letters)) or ["42"]
