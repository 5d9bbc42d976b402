"""Prompt formats of the model files: a chat template with one user message, or the R1-style template."""

from __future__ import annotations

from conftest import compose_run
from rlvr.data.prompts import encode_prompt, format_prompt, resolve_prompt
from rlvr.models.tiny import build_char_tokenizer

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


def test_base_models_get_the_r1_template_and_no_chat_markup():
    prompt_cfg = resolve_prompt(compose_run("model=olmo2_7b").model.prompt)
    text = format_prompt("What is 1+1?", prompt_cfg, chat_tokenizer())
    assert text.startswith("A conversation between User and Assistant.")
    assert "<answer> answer here </answer>" in text
    assert text.endswith("\nUser: What is 1+1?\nAssistant: <think>") and "<|im_start|>" not in text


def test_a_chat_prompt_gets_no_second_set_of_special_tokens():
    tokenizer = chat_tokenizer()
    chat = resolve_prompt(compose_run("model=qwen2.5_math_7b").model.prompt)
    plain = resolve_prompt(compose_run().model.prompt)  # the tiny model's "{problem}=" template
    assert tokenizer.decode(encode_prompt("1+1", chat, tokenizer)) == format_prompt("1+1", chat, tokenizer)
    assert tokenizer.decode(encode_prompt("1+1", plain, tokenizer), skip_special_tokens=True) == "1+1="
