"""Messages → token ids for local models, shared by the ``hf`` and ``vllm`` backends and
LoRA training (:mod:`genspec.adapt.lora`).

One module so that a model is scored, generated from and trained on exactly the same
tokens: the same chat-template handling, the same BOS rule and the same in-context split
of each continuation (lm-evaluation-harness's ``TemplateLM._encode_pair``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genspec.requests import Message


class Prompter:
    """Messages → token ids, with the model's chat template when it has one.

    Rendered chat text already holds any BOS the template wants, so it is tokenized
    without special tokens (the double-BOS trap, lm-eval #2676); plain text gets
    whatever the tokenizer puts in front by default (Gemma is lost without its BOS).
    """

    def __init__(self, tokenizer: Any, use_chat: bool = True) -> None:
        self.tokenizer = tokenizer
        self.chat = bool(use_chat) and bool(getattr(tokenizer, "chat_template", None))
        self.prefix = [] if self.chat else _special_prefix(tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (tokenizer.eos_token_id or 0)

    def text(self, messages: Sequence[Message]) -> str:
        """The prompt as text: chat-rendered up to the assistant's turn, or joined plainly."""
        if not self.chat:
            return "\n\n".join(m.content for m in messages)
        turns = [{"role": m.role, "content": m.content} for m in messages]
        return self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)

    def ids(self, text: str) -> list[int]:
        """Token ids of a whole prompt (with the default BOS in plain mode)."""
        return self.prefix + self._encode(text)

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Context ids and the continuation's ids as the tokenizer splits them *in context*.

        The continuation is tokenized as the tail of ``context + continuation`` (a word
        after a space is one token, not two), and a space ending the context moves to
        the continuation, where the tokenizer expects it (lm-evaluation-harness).
        """
        spaces = len(context) - len(context.rstrip(" "))
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        context_ids = self.ids(context)
        whole = self.ids(context + continuation)
        tail = whole[len(context_ids) :]
        if continuation and not tail:
            tail = self._encode(continuation)
        return context_ids, tail

    def eos_ids(self, model: Any) -> set[int]:
        """Tokens that end a generation: the model's and the tokenizer's end markers."""
        found = model.generation_config.eos_token_id
        ids = set(found if isinstance(found, list) else [found] if found is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def _special_prefix(tokenizer: Any) -> list[int]:
    """The ids the tokenizer puts *before* text by default (e.g. BOS), nothing after:
    an EOS appended after the context would sit between it and the continuation."""
    bare = _encode_probe(tokenizer, add_special_tokens=False)
    full = _encode_probe(tokenizer, add_special_tokens=True)
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start]
    return []


def _encode_probe(tokenizer: Any, add_special_tokens: bool) -> list[int]:
    return list(tokenizer("genspec", add_special_tokens=add_special_tokens)["input_ids"])
