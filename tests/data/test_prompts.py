"""Prompt formats of the model files: a chat template with one user message, or the R1-style template."""

from __future__ import annotations

import pytest

from conftest import compose_run
from rlvr.data.prompts import encode_prompt, format_prompt, resolve_prompt
from rlvr.models.tiny import build_char_tokenizer

# The paper's prompt for base models, as scripts/eval_checkpoint.py writes it (BASE_MODEL_PROMPT; "{}" there).
PAPER_R1_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.\n\n"
    "<|user|>\n{problem}\n<|assistant|>\n<think>"
)

QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
# The shape of Qwen2.5-Math's chat template: a default system message when the conversation has none.
QWEN_MATH_LIKE_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}<|im_start|>system\n" + QWEN_MATH_SYSTEM + "<|im_end|>\n{% endif %}"
    "{%- for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def chat_tokenizer():
    tokenizer = build_char_tokenizer()
    tokenizer.chat_template = QWEN_MATH_LIKE_TEMPLATE
    return tokenizer


def test_qwen_math_prompt_is_one_user_message_under_the_templates_default_system_prompt():
    prompt_cfg = resolve_prompt(compose_run("model=qwen2.5_math_7b").model.prompt)
    text = format_prompt("What is 1+1?", prompt_cfg, chat_tokenizer())
    assert text == (
        f"<|im_start|>system\n{QWEN_MATH_SYSTEM}<|im_end|>\n"
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("model", ["llama3.1_8b", "llama3.2_3b", "olmo2_7b"])
def test_base_models_get_the_papers_r1_template_and_no_chat_markup(model):
    prompt_cfg = resolve_prompt(compose_run(f"model={model}").model.prompt)
    assert prompt_cfg.template == PAPER_R1_TEMPLATE  # letter by letter
    text = format_prompt("What is 1+1?", prompt_cfg, chat_tokenizer())
    assert text.startswith("A conversation between User and Assistant.")
    assert "<answer> answer here </answer>" in text
    assert text.endswith("\n\n<|user|>\nWhat is 1+1?\n<|assistant|>\n<think>") and "<|im_start|>" not in text
    assert (prompt_cfg.answer_format, prompt_cfg.stop) == ("answer_tag", ("</answer>",))
    assert prompt_cfg.add_special_tokens is False


def test_the_former_r1_wording_is_a_prompt_option():
    cfg = compose_run("model=olmo2_7b", "prompt=r1_zero")
    prompt_cfg = resolve_prompt(cfg.model.prompt, cfg.prompt)
    text = format_prompt("What is 1+1?", prompt_cfg, chat_tokenizer())
    assert text.startswith("A conversation between User and Assistant. The User asks a question")
    assert text.endswith("\nUser: What is 1+1?\nAssistant: <think>")
    assert (prompt_cfg.name, prompt_cfg.answer_format, prompt_cfg.stop) == ("r1_zero", "answer_tag", ("</answer>",))
    assert prompt_cfg.add_special_tokens is True


class BosTokenizer:
    """Characters as tokens, behind a BOS token (0) when asked for special tokens."""

    def encode(self, text, add_special_tokens=True):
        return [0] * add_special_tokens + [ord(c) for c in text]


@pytest.mark.parametrize(
    "overrides, bos",
    [
        (["model=olmo2_7b"], False),  # the paper's training tokenises the R1 prompt without special tokens
        (["model=llama3.1_8b", "prompt=python_prefix"], False),  # the same template, a forced response start
        (["model=olmo2_7b", "prompt=r1_zero"], True),  # the former wording, tokenised as it was
        (["model=olmo2_7b", "prompt=none"], True),  # a prompt that replaces the template: the default rule
        (["model=olmo2_7b", "prompt=simplerl"], True),
        (["model=olmo2_7b", "prompt=none", "prompt.add_special_tokens=false"], False),
        ([], True),  # the tiny model's template: the tokenizer's own
        (["model=olmo2_7b", "model.prompt.add_special_tokens=null"], True),
    ],
)
def test_special_tokens_follow_the_prompt_format(overrides, bos):
    cfg = compose_run(*overrides)
    prompt = resolve_prompt(cfg.model.prompt, cfg.prompt)
    ids = encode_prompt("1+1", prompt, BosTokenizer())
    assert (ids[0] == 0) is bos and ids[bos:] == [ord(c) for c in format_prompt("1+1", prompt)]


def test_a_chat_prompt_gets_no_second_set_of_special_tokens():
    tokenizer = chat_tokenizer()
    chat = resolve_prompt(compose_run("model=qwen2.5_math_7b").model.prompt)
    plain = resolve_prompt(compose_run().model.prompt)  # the tiny model's "{problem}=" template
    assert tokenizer.decode(encode_prompt("1+1", chat, tokenizer)) == format_prompt("1+1", chat, tokenizer)
    assert tokenizer.decode(encode_prompt("1+1", plain, tokenizer), skip_special_tokens=True) == "1+1="
