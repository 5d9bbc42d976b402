"""Turning a problem into the text a model is prompted with.

A model's own prompt format lives in its model file (``model.prompt``). The ``prompt`` config group
changes it for a run or an evaluation (reviewers of the paper showed base-model scores moving by up to
14 points with the prompt alone): ``resolve_prompt`` lays the group's non-null fields over the model's,
and the result, with its ``name``, is what every result records.
"""

from __future__ import annotations

from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

# Keys of a `prompt` group file that are not prompt-format fields.
_PROMPT_GROUP_KEYS = ("name",)


def resolve_prompt(model_prompt: Mapping[str, Any], override: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The prompt format a run uses: the model's, with every non-null field of ``override`` (a ``prompt``
    group file) laid over it; ``name`` says which (``default`` when there is no override).

    >>> model = {"style": "chat", "system": None, "answer_format": "boxed", "stop": []}
    >>> resolve_prompt(model, {"name": "python_prefix", "style": None, "response_prefix": "Let's solve this using Python."})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'style': 'chat', 'system': None, 'answer_format': 'boxed', 'stop': [],
     'response_prefix': "Let's solve this using Python.", 'name': 'python_prefix'}
    """
    resolved = _plain(model_prompt)
    override = _plain(override or {})
    resolved.update({k: v for k, v in override.items() if v is not None and k not in _PROMPT_GROUP_KEYS})
    resolved.setdefault("response_prefix", "")
    resolved["name"] = override.get("name") or "default"
    return resolved


def _plain(node: Mapping[str, Any]) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)


def format_prompt(problem: str, prompt_cfg: Mapping[str, Any], tokenizer: Any = None) -> str:
    """Render ``problem`` with a model's prompt format.

    ``prompt_cfg.style`` is ``template`` (text with a ``{problem}`` placeholder), ``chat`` (the tokenizer's chat
    template with one user message, after an optional system message), or ``raw`` (the problem as is).
    A ``response_prefix`` follows the prompt: the model's response is forced to start with it.

    >>> format_prompt("1+1", {"style": "template", "template": "Q: {problem}\\nA:", "response_prefix": " Let's see."})
    "Q: 1+1\\nA: Let's see."
    """
    return _format_prompt(problem, prompt_cfg, tokenizer) + (prompt_cfg.get("response_prefix") or "")


def _format_prompt(problem: str, prompt_cfg: Mapping[str, Any], tokenizer: Any) -> str:
    style = prompt_cfg.get("style", "template")
    if style == "raw":
        return problem
    if style == "template":
        template = str(prompt_cfg["template"])
        if "{problem}" not in template:
            raise ValueError(f"prompt template {template!r} has no {{problem}} placeholder")
        # Not str.format: templates hold literal braces, e.g. "within \\boxed{}".
        return template.replace("{problem}", problem)
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
