"""Warn when a prompt is longer than the model's context window, before it is sent.

A 50 MB row in a local file would otherwise go to every API model, be paid for or
refused, and show up only as errors or cut answers. litellm knows the context window
of the models in its model map (``max_input_tokens``); for those, the largest prompt
of a batch is counted with the model's own tokenizer and compared with it. Models
litellm does not know (local servers, new names) are not guessed at.
"""

from __future__ import annotations

from collections.abc import Sequence

from genspec.config.schema import ModelSpec
from genspec.prompting import prompt_text
from genspec.requests import Request


def oversize_warning(model: ModelSpec, requests: Sequence[Request]) -> str | None:
    """One line if the largest of ``requests`` does not fit ``model``'s context window."""
    if model.backend != "litellm" or not requests:
        return None
    window = context_window(model.id)
    if window is None:
        return None
    largest = max(requests, key=lambda r: len(prompt_text(r)))
    characters = len(prompt_text(largest))
    if characters <= window:  # a token is at least a character: it fits
        return None
    import litellm

    messages = [{"role": m.role, "content": m.content} for m in largest.messages]
    tokens = litellm.token_counter(model=model.id, messages=messages)
    if tokens <= window:
        return None
    return (
        f"model '{model.name}': its largest prompt has {tokens:,} tokens ({characters:,} "
        f"characters), more than its context window of {window:,} (litellm's model info "
        f"for {model.id}): the provider will refuse or cut it. Check the data for an "
        "oversized row, or leave that task out with tasks=[...]."
    )


def context_window(model_id: str) -> int | None:
    """Input tokens ``model_id`` takes, where litellm's model map knows it."""
    import litellm

    try:
        info = litellm.get_model_info(model_id)
    except Exception:  # not in the map: litellm raises for unknown names
        return None
    window = info.get("max_input_tokens") or info.get("max_tokens")
    return int(window) if window else None
