"""Turning a problem into the text a model is prompted with."""

from __future__ import annotations

from typing import Any, Mapping


def format_prompt(problem: str, prompt_cfg: Mapping[str, Any], tokenizer: Any = None) -> str:
    """Render ``problem`` with a model's prompt format.

    ``prompt_cfg.style`` is ``template`` (a format string with ``{problem}``), ``chat`` (the tokenizer's chat
    template with one user message, after an optional system message), or ``raw`` (the problem as is).
    """
    style = prompt_cfg.get("style", "template")
    if style == "raw":
        return problem
    if style == "template":
        return str(prompt_cfg["template"]).format(problem=problem)
    if style == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("prompt style 'chat' needs a tokenizer with a chat template")
        messages = []
        if prompt_cfg.get("system"):
            messages.append({"role": "system", "content": prompt_cfg["system"]})
        messages.append({"role": "user", "content": problem})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    raise ValueError(f"unknown prompt style {style!r}; available: template, chat, raw")


def encode_prompt(problem: str, prompt_cfg: Mapping[str, Any], tokenizer: Any) -> list[int]:
    """Token ids of the prompt for ``problem``."""
    return encode_prompt_text(format_prompt(problem, prompt_cfg, tokenizer), prompt_cfg, tokenizer)


def encode_prompt_text(text: str, prompt_cfg: Mapping[str, Any], tokenizer: Any) -> list[int]:
    """Token ids of an already formatted prompt.

    A chat template already spells out its special tokens; any other style gets the tokenizer's own
    (e.g. a BOS token), as the model saw in pre-training.
    """
    return tokenizer.encode(text, add_special_tokens=prompt_cfg.get("style", "template") != "chat")
