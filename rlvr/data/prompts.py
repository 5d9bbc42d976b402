"""Turning a problem into the text a model is prompted with.

A model's own prompt format lives in its model file (``model.prompt``, a ``PromptFormat``). The ``prompt``
config group changes it for a run or an evaluation (reviewers of the paper showed base-model scores moving
by up to 14 points with the prompt alone): ``resolve_prompt`` lays the group's non-null fields over the
model's, and the resulting ``Prompt``, with its ``name``, is what every result records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rlvr.config import PromptConfig, PromptFormat

STYLES = ("template", "chat", "raw")


@dataclass(frozen=True)
class Prompt:
    """A resolved prompt format: everything that decides what the model sees and where its answer is read."""

    name: str = "default"  # which `prompt` group file made it; "default" is the model's own format
    style: str = "template"  # template | chat | raw
    template: str | None = None  # for style=template: text with a {problem} placeholder
    system: str | None = None  # for style=chat: a system message
    answer_format: str = "boxed"  # where the grader reads the answer: rlvr.rewards.ANSWER_FORMATS
    stop: tuple[str, ...] = ()  # extra stop strings, kept in the response
    add_special_tokens: bool | None = None  # the tokenizer's special tokens (BOS); None: none for chat, else its own
    response_prefix: str = ""  # text the response is forced to begin with (appended to the prompt)

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"unknown prompt style {self.style!r}; available: {', '.join(STYLES)}")
        if self.style == "template" and (self.template is None or "{problem}" not in self.template):
            raise ValueError(f"prompt template {self.template!r} has no {{problem}} placeholder")
        object.__setattr__(self, "stop", tuple(self.stop))

    def describe(self) -> dict[str, Any]:
        """As plain values, for meta.json and evaluation summaries."""
        return {**dataclasses.asdict(self), "stop": list(self.stop)}


def resolve_prompt(model_prompt: PromptFormat, override: PromptConfig | None = None) -> Prompt:
    """The prompt a run uses: the model's format, with every non-null field of ``override`` (a ``prompt``
    group file) laid over it; ``name`` says which (``default`` when there is no override).

    ``add_special_tokens`` goes with the template: an override that replaces the style or the template
    without setting it gets the default rule (None), not the model's setting.

    >>> model = PromptFormat(style="chat")
    >>> resolve_prompt(model, PromptConfig(name="python_prefix", response_prefix="Let's solve this using Python."))
    ... # doctest: +NORMALIZE_WHITESPACE
    Prompt(name='python_prefix', style='chat', template=None, system=None, answer_format='boxed', stop=(),
           add_special_tokens=None, response_prefix="Let's solve this using Python.")
    >>> r1 = PromptFormat(style="template", template="{problem} <think>", add_special_tokens=False)
    >>> raw = PromptConfig(name="none", style="raw")
    >>> resolve_prompt(r1).add_special_tokens, resolve_prompt(r1, raw).add_special_tokens
    (False, None)
    """
    fields = {f.name: getattr(model_prompt, f.name) for f in dataclasses.fields(PromptFormat)}
    name = "default"
    if override is not None:
        name = override.name
        if override.add_special_tokens is None and (override.style is not None or override.template is not None):
            fields["add_special_tokens"] = None
        fields |= {key: value for key in (*fields, "response_prefix") if (value := getattr(override, key)) is not None}
    return Prompt(name=name, **fields)


def format_prompt(problem: str, prompt: Prompt, tokenizer: Any = None) -> str:
    """Render ``problem`` in ``prompt``'s format: a template with the problem put in, the tokenizer's chat
    template with one user message (after an optional system message), or the problem as is. The
    ``response_prefix`` follows: the model's response is forced to start with it.

    >>> format_prompt("1+1", Prompt(style="template", template="Q: {problem}\\nA:", response_prefix=" Let's see."))
    "Q: 1+1\\nA: Let's see."
    """
    return _format(problem, prompt, tokenizer) + prompt.response_prefix


def _format(problem: str, prompt: Prompt, tokenizer: Any) -> str:
    if prompt.style == "raw":
        return problem
    if prompt.style == "template":
        # Not str.format: templates hold literal braces, e.g. "within \\boxed{}".
        return prompt.template.replace("{problem}", problem)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValueError("prompt style 'chat' needs a tokenizer with a chat template")
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    messages.append({"role": "user", "content": problem})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode_prompt(problem: str, prompt: Prompt, tokenizer: Any) -> list[int]:
    """Token ids of the prompt for ``problem``."""
    return encode_prompt_text(format_prompt(problem, prompt, tokenizer), prompt, tokenizer)


def encode_prompt_text(text: str, prompt: Prompt, tokenizer: Any) -> list[int]:
    """Token ids of an already formatted prompt, with the tokenizer's special tokens if ``prompt.add_special_tokens``.

    By default (None) a chat template gets none, since it already spells out its own, and any other
    style gets the tokenizer's own (e.g. a BOS token), as the model saw in pre-training. The R1 template
    sets False: the paper's training tokenises every prompt without them.
    """
    add = prompt.style != "chat" if prompt.add_special_tokens is None else prompt.add_special_tokens
    return tokenizer.encode(text, add_special_tokens=add)
