"""evaluate_benchmarks on a scripted engine: what each record says, sharding, and the prompt group."""

from __future__ import annotations

import doctest

import pytest

from conftest import CharTokenizer, ScriptedEngine, compose_run
from rlvr.config import PromptConfig, PromptFormat
from rlvr.data import Problem
from rlvr.data.prompts import Prompt, format_prompt, resolve_prompt
from rlvr.evaluate import Benchmark, evaluate_benchmarks, summarize_benchmarks
from rlvr.evaluate import runner as runner_module

TEMPLATE = PromptFormat(style="template", template="Q: {problem}\nA:", answer_format="boxed", stop=[])
PROBLEMS = (Problem("p1", "1+1", "2"), Problem("p2", "half of 1", r"\frac{1}{2}"), Problem("p3", "3*3", "9"))
RESPONSES = {
    "Q: 1+1\nA:": [r"\boxed{2}", "```python\nprint(1+1)\n```\nso \\boxed{3}", ("It is \\boxed{2", "length"), "two"],
    "Q: half of 1\nA:": [r"\boxed{0.5}", r"Python says \boxed{\dfrac{1}{2}}", "1/2", r"\boxed{2}"],
    "Q: 3*3\nA:": [r"\boxed{9}", r"\boxed{9}", r"\boxed{09}", ""],
}


def bench(samples=4, temperature=0.6, **kw):
    return Benchmark(name="toy", version=3, problems=PROBLEMS, source="test", samples=samples, temperature=temperature,
                     top_p=1.0, max_new_tokens=32, pass_k=(1, samples), **kw)  # fmt: skip


def run(benchmark, prompt=None, **kw):
    engine = ScriptedEngine(CharTokenizer(), RESPONSES)
    prompt = resolve_prompt(TEMPLATE, prompt)
    return evaluate_benchmarks(engine, CharTokenizer(), [benchmark], prompt, progress=False, **kw), engine


def test_each_sample_gets_a_record_with_answer_grade_code_flag_length_and_finish():
    records, engine = run(bench())
    assert [(r["problem_id"], r["sample"]) for r in records] == [(p.id, i) for p in PROBLEMS for i in range(4)]
    by_key = {(r["problem_id"], r["sample"]): r for r in records}
    # p1: right; code but wrong; cut inside its box (no answer, truncated); no box ("two": math-verify finds nothing)
    assert [by_key["p1", i]["correct"] for i in range(4)] == [True, False, False, False]
    assert [by_key["p1", i]["is_code"] for i in range(4)] == [False, True, False, False]
    assert [by_key["p1", i]["answer"] for i in range(4)] == ["2", "3", None, None]
    assert [by_key["p1", i]["parse_failed"] for i in range(4)] == [False, False, True, True]
    assert [by_key["p1", i]["finished"] for i in range(4)] == [True, True, False, True]
    assert by_key["p1", 0]["response_tokens"] == len(r"\boxed{2}")
    # p2: 0.5, \dfrac{1}{2} and an unboxed 1/2 (graded from the whole response) equal 1/2; 2 does not
    assert [by_key["p2", i]["correct"] for i in range(4)] == [True, True, True, False]
    # p3: 09 is 9; an empty response is wrong
    assert [by_key["p3", i]["correct"] for i in range(4)] == [True, True, True, False]
    assert {r["benchmark"] for r in records} == {"toy"} and {r["benchmark_version"] for r in records} == {3}
    assert {r["prompt_name"] for r in records} == {"default"}
    [params] = engine.calls  # one batched call for all three prompts
    assert (params.n, params.temperature, params.top_p, params.max_new_tokens) == (4, 0.6, 1.0, 32)

    [summary] = summarize_benchmarks(records, [bench()]).values()
    assert summary["accuracy"] == pytest.approx((1 / 4 + 3 / 4 + 3 / 4) / 3)
    assert summary["pass@4"] == 1.0
    assert summary["code_rate"] == pytest.approx(2 / 12) and summary["accuracy_code"] == pytest.approx(1 / 2)


def test_batches_of_prompts_per_call_and_shards_cover_the_benchmark_once():
    whole, engine = run(bench(), prompts_per_call=2)
    assert len(engine.calls) == 2 and len({p.seed for p in engine.calls}) == 2  # 2 + 1 prompts, a seed each
    shards = [run(bench(), shard=(rank, 2))[0] for rank in range(2)]
    assert {r["problem_id"] for r in shards[0]} == {"p1", "p3"} and {r["problem_id"] for r in shards[1]} == {"p2"}
    key = lambda r: (r["problem_id"], r["sample"])  # noqa: E731
    assert sorted(shards[0] + shards[1], key=key) == sorted(whole, key=key)


def test_a_response_prefix_is_part_of_the_prompt_not_of_the_graded_response():
    prefix = "Let's solve this using Python."
    responses = {f"Q: 1+1\nA:{prefix}": [r" 1+1 \boxed{2}"]}
    engine = ScriptedEngine(CharTokenizer(), responses)
    prompt = resolve_prompt(TEMPLATE, PromptConfig(name="python_prefix", response_prefix=prefix))
    greedy = Benchmark("toy", 1, PROBLEMS[:1], "test", samples=1, temperature=0.0, top_p=1.0, max_new_tokens=32, pass_k=(1,))
    [record] = evaluate_benchmarks(engine, CharTokenizer(), [greedy], prompt, progress=False)
    assert engine.prompts == [f"Q: 1+1\nA:{prefix}"]
    assert record["response"] == r" 1+1 \boxed{2}" and record["correct"] and not record["is_code"]
    assert record["prompt_name"] == "python_prefix"


# -- the prompt group -------------------------------------------------------------------------------

QWEN_LIKE = (
    "{%- if messages[0]['role'] != 'system' %}<|im_start|>system\nPlease reason step by step.<|im_end|>\n{% endif %}"
    "{%- for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class ChatTokenizer(CharTokenizer):
    chat_template = QWEN_LIKE

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        import jinja2

        return jinja2.Template(self.chat_template).render(messages=messages, add_generation_prompt=add_generation_prompt)


def prompt_text(prompt_name, model="qwen2.5_math_7b", problem="What is 1+1?"):
    cfg = compose_run(f"model={model}", f"prompt={prompt_name}")
    resolved = resolve_prompt(cfg.model.prompt, cfg.prompt)
    return resolved.describe(), format_prompt(problem, resolved, ChatTokenizer())


def test_default_prompt_is_the_models_own():
    resolved, text = prompt_text("default")
    assert resolved["name"] == "default" and resolved["style"] == "chat" and resolved["response_prefix"] == ""
    assert text == (
        "<|im_start|>system\nPlease reason step by step.<|im_end|>\n"
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    )
    r1, _ = prompt_text("default", model="olmo2_7b")
    assert (r1["answer_format"], r1["stop"]) == ("answer_tag", ["</answer>"])


def test_none_prompt_is_the_raw_problem_graded_from_boxes():
    for model in ("qwen2.5_math_7b", "olmo2_7b"):
        resolved, text = prompt_text("none", model=model)
        assert text == "What is 1+1?"
        assert (resolved["name"], resolved["answer_format"], resolved["stop"]) == ("none", "boxed", [])


def test_simplerl_prompt_is_the_simplerl_zoo_qwen_boxed_template_for_every_model():
    expected = (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 1+1?\n"
        "Please reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
    )
    for model in ("qwen2.5_math_7b", "llama3.1_8b", "tiny"):
        resolved, text = prompt_text("simplerl", model=model)
        assert text == expected and resolved["answer_format"] == "boxed"


def test_python_prefix_keeps_the_models_prompt_and_starts_the_response():
    resolved, text = prompt_text("python_prefix")
    _, default = prompt_text("default")
    assert text == default + "Let's solve this using Python."
    r1, r1_text = prompt_text("python_prefix", model="olmo2_7b")
    assert r1_text.endswith("<|assistant|>\n<think>Let's solve this using Python.")
    assert r1["answer_format"] == "answer_tag"


def test_r1_responses_are_graded_whole_as_the_papers_evaluation_grades_them():
    # eval_checkpoint.py grades base models with verify task "math": box, "the answer is", else the last
    # number, in the whole response (training reads the text after the last <answer>).
    cfg = compose_run("model=olmo2_7b")
    prompt = resolve_prompt(cfg.model.prompt, cfg.prompt)
    responses = [
        "1 + 1 = 2</think> <answer>2</answer>",  # the last number: 2
        r"is it \boxed{3}?</think> <answer>2</answer>",  # the box in the reasoning: 3 (training would read 2)
        "one and one</think> <answer>two</answer>",  # no number at all: no answer
        ("1 + 1 = 2</think> <answer>", "length"),  # cut after <answer>: its last number, 2, is no answer
    ]
    engine = ScriptedEngine(CharTokenizer(), {format_prompt("1+1", prompt): responses})
    benchmark = Benchmark("toy", 1, PROBLEMS[:1], "test", samples=4, temperature=0.6, top_p=1.0, max_new_tokens=32,
                          pass_k=(1, 4))  # fmt: skip
    records = evaluate_benchmarks(engine, CharTokenizer(), [benchmark], prompt, progress=False)
    assert [r["answer"] for r in records] == ["2", "3", None, None]
    assert [r["correct"] for r in records] == [True, False, False, False]
    assert [r["parse_failed"] for r in records] == [False, False, True, True]
    assert [r["finished"] for r in records] == [True, True, True, False]
    assert [r["fallback_denied"] for r in records] == [False, False, False, True]
    assert list(engine.calls[0].stop) == ["</answer>"]


def test_a_template_without_a_placeholder_is_an_error():
    with pytest.raises(ValueError, match="no {problem} placeholder"):
        format_prompt("1+1", Prompt(style="template", template="Solve it."))


def test_doctests():
    assert doctest.testmod(runner_module).failed == 0
    from rlvr.data import prompts

    assert doctest.testmod(prompts).failed == 0
