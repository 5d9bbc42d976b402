"""The vLLM engine's translation layer, against a fake ``vllm`` (vLLM needs a GPU; none here).

The fake imitates the parts of vLLM 0.32's V1 engine the engine touches:
- ``LLM(**kwargs)`` records its arguments and mixes ``worker_extension_cls`` into a worker, as
  ``WorkerWrapperBase`` does; ``collective_rpc(name, args=...)`` calls that worker method in-process, as
  ``UniProcExecutor`` does (``run_method``); ``sleep`` / ``wake_up`` / ``reset_prefix_cache`` are recorded.
- ``SamplingParams`` takes only real field names and, like the real one, refuses greedy with ``n > 1``.
- ``generate`` returns one ``RequestOutput``-like object per request (``prompt_token_ids``, ``outputs``) with
  ``CompletionOutput``-like samples (``index``, ``token_ids``, ``text``, ``finish_reason``, ``stop_reason``),
  sample i seeded ``seed + i`` (``ParentRequest``). Stopping follows ``check_stop`` (EOS, then
  ``stop_token_ids``, then ``max_tokens``; the stopping token stays in ``token_ids``) and the detokenizer's stop
  strings (the response ends at the token completing one; ``text`` is cut right after it). Its ``text``
  keeps the EOS text, as vLLM's does with include_stop_str_in_output and special tokens kept.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
from types import SimpleNamespace

import pytest
import torch

from conftest import compose_config
from rlvr.rollout import HFEngine, SamplingParams, build_engine
from rlvr.rollout.vllm import GPU_REQUIREMENTS, VLLMEngine

EOS, IM_END, PAD, ANSWER_NL = 200, 201, 202, 300  # ANSWER_NL: one token for "</answer>\n"
SPECIAL = {EOS: "<eos>", IM_END: "<|im_end|>", PAD: "<pad>"}


class CharTokenizer:
    """Characters are their own ids; a few special and multi-character tokens on top."""

    eos_token_id, pad_token_id = EOS, PAD

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        pieces = {**SPECIAL, ANSWER_NL: "</answer>\n"}
        return "".join(
            "" if skip_special_tokens and i in SPECIAL else pieces.get(i, chr(i) if i < 128 else "?") for i in ids
        )


TOK = CharTokenizer()


def default_script(prompt: list[int], seed: int | None) -> list[int]:
    """What the fake model says: a function of the prompt and the sample's seed, then EOS."""
    return TOK.encode(f"{TOK.decode(prompt)}->{seed}") + [EOS]


@pytest.fixture
def fake(monkeypatch):
    vllm = types.ModuleType("vllm")
    vllm.instances, vllm.script, vllm.finish_override, vllm.reverse_outputs = [], default_script, None, False

    class FakeSamplingParams:
        FIELDS = dict(
            n=1, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, repetition_penalty=1.0, presence_penalty=0.0,
            frequency_penalty=0.0, max_tokens=16, seed=None, stop=None, stop_token_ids=None,
            include_stop_str_in_output=False, skip_special_tokens=True,
        )  # fmt: skip

        def __init__(self, **kwargs):
            if unknown := set(kwargs) - set(self.FIELDS):
                raise TypeError(f"SamplingParams got unexpected fields {unknown}")
            self.__dict__.update({**self.FIELDS, **kwargs})
            if self.temperature < 1e-5 and self.n > 1:
                raise ValueError(f"n must be 1 when using greedy sampling, got {self.n}.")

    class FakeModel:
        def __init__(self):
            self.loaded = []

        def load_weights(self, weights):
            # vLLM's weight loaders copy_ each tensor into the model's parameter before returning.
            self.loaded += [(name, tensor, tensor.clone()) for name, tensor in weights]

    class FakeLLM:
        def __init__(self, **kwargs):
            self.kwargs, self.calls, self.generate_calls = kwargs, [], []
            max_len = kwargs.get("max_model_len", 4096)
            self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=max_len))
            module, _, name = kwargs["worker_extension_cls"].rpartition(".")
            extension = getattr(importlib.import_module(module), name)
            runner = SimpleNamespace(model=FakeModel())
            runner.get_model = lambda: runner.model
            self.worker = type("Worker", (extension,), {})()
            self.worker.model_runner = runner
            vllm.instances.append(self)

        def generate(self, prompts, sampling_params, *, use_tqdm=True):
            self.generate_calls.append((prompts, sampling_params, use_tqdm))
            outs = [
                SimpleNamespace(
                    request_id=str(r),
                    prompt_token_ids=prompt["prompt_token_ids"],
                    outputs=[self._sample(prompt["prompt_token_ids"], sp, i) for i in range(sp.n)],
                    finished=True,
                )
                for r, (prompt, sp) in enumerate(zip(prompts, sampling_params))
            ]
            return outs[::-1] if vllm.reverse_outputs else outs

        def _sample(self, prompt, sp, index):
            seed = None if sp.seed is None else sp.seed + index
            tokens, reason, stop_reason, text = [], None, None, None
            for token in vllm.script(prompt, seed):
                tokens.append(token)
                if token == EOS:
                    reason = "stop"
                elif token in sp.stop_token_ids:
                    reason, stop_reason = "stop", token
                else:
                    text = TOK.decode(tokens, skip_special_tokens=sp.skip_special_tokens)
                    if hit := next((s for s in sp.stop if s in text), None):
                        reason, stop_reason, text = "stop", hit, text[: text.index(hit) + len(hit)]
                    elif len(tokens) >= sp.max_tokens:
                        reason = "length"
                if reason:
                    break
            text = TOK.decode(tokens, skip_special_tokens=sp.skip_special_tokens) if stop_reason is None else text
            reason = vllm.finish_override or reason
            return SimpleNamespace(
                index=index, text=text, token_ids=tokens, finish_reason=reason, stop_reason=stop_reason
            )

        def collective_rpc(self, method, timeout=None, args=(), kwargs=None):
            self.calls.append(("collective_rpc", method))
            return [getattr(self.worker, method)(*args, **(kwargs or {}))]

        def sleep(self, level=1):
            self.calls.append(("sleep", level))

        def wake_up(self, tags=None):
            self.calls.append(("wake_up", tags))

        def reset_prefix_cache(self):
            self.calls.append(("reset_prefix_cache",))

    vllm.LLM, vllm.SamplingParams = FakeLLM, FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")
    return vllm


@pytest.fixture
def model_dir(tmp_path):
    # Like Qwen's instruct models: the generation config stops on a second id besides the tokenizer's EOS.
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [EOS, IM_END]}))
    return str(tmp_path)


def make_engine(model_dir, **knobs) -> VLLMEngine:
    return VLLMEngine.from_pretrained(model_dir, TOK, dtype="bfloat16", device="cuda:0", **knobs)


def test_missing_vllm_names_the_gpu_requirements(monkeypatch, model_dir):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError
    assert GPU_REQUIREMENTS == "engine=vllm needs the GPU requirements: pip install -r requirements-gpu.txt"
    with pytest.raises(ImportError, match=re.escape(GPU_REQUIREMENTS)):
        make_engine(model_dir)


def test_constructor_arguments(fake, model_dir):
    engine = make_engine(model_dir, gpu_memory_utilization=0.35, max_model_len=4096, enable_sleep_mode=True, seed=7)
    kwargs = fake.instances[-1].kwargs
    assert kwargs["model"] == model_dir and kwargs["dtype"] == "bfloat16" and kwargs["seed"] == 7
    assert kwargs["gpu_memory_utilization"] == 0.35 and kwargs["max_model_len"] == 4096
    assert kwargs["enable_sleep_mode"] and kwargs["enable_prefix_caching"] and not kwargs["enforce_eager"]
    assert kwargs["generation_config"] == "vllm"  # generation_config.json sets no sampling defaults
    assert "distributed_executor_backend" not in kwargs and "max_num_seqs" not in kwargs  # vLLM's defaults
    assert kwargs["worker_extension_cls"] == "rlvr.rollout.vllm.WorkerExtension"
    assert __import__("os").environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"  # engine core in this process
    assert engine.eos_ids == {EOS, IM_END} and engine.pad_id == PAD and engine.max_model_len == 4096


def test_under_torchrun_each_rank_gets_its_own_engine_on_its_gpu(fake, model_dir, monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 8)
    monkeypatch.setenv("LOCAL_RANK", "3")
    VLLMEngine.from_pretrained(model_dir, TOK, device="cuda:3")
    assert fake.instances[-1].kwargs["distributed_executor_backend"] == "external_launcher"
    with pytest.raises(ValueError, match="cuda:3"):
        VLLMEngine.from_pretrained(model_dir, TOK, device="cuda:0")
    with pytest.raises(ValueError, match="tensor_parallel_size must be 1"):
        VLLMEngine.from_pretrained(model_dir, TOK, device="cuda:3", tensor_parallel_size=2)


def test_cpu_device_is_refused(fake, model_dir):
    with pytest.raises(ValueError, match="engine=hf"):
        VLLMEngine.from_pretrained(model_dir, TOK, device="cpu")


def test_sampling_params_are_translated_and_all_prompts_go_in_one_call(fake, model_dir):
    engine = make_engine(model_dir)
    prompts = [TOK.encode("1+2="), TOK.encode("33+4=")]
    params = SamplingParams(n=4, temperature=0.7, top_p=0.9, max_new_tokens=20, seed=123, stop=("</answer>",))
    out = engine.generate(prompts, params)
    (requests, sps, use_tqdm), = fake.instances[-1].generate_calls  # fmt: skip
    assert requests == [{"prompt_token_ids": p} for p in prompts] and use_tqdm
    for p, sp in enumerate(sps):
        assert (sp.n, sp.temperature, sp.top_p, sp.max_tokens) == (4, 0.7, 0.9, 20)
        assert sp.seed == 123 + 4 * p  # vLLM adds the sample index: rows 0..7 get seeds 123..130
        assert (sp.top_k, sp.min_p, sp.repetition_penalty, sp.presence_penalty, sp.frequency_penalty) == (0, 0, 1, 0, 0)
        assert sp.stop == ["</answer>"] and sp.include_stop_str_in_output and not sp.skip_special_tokens
        assert sp.stop_token_ids == [EOS, IM_END]
    seeds = [c.text.split("->")[1] for group in out for c in group]
    assert seeds == [str(s) for s in range(123, 131)]


def test_greedy_sends_each_copy_as_its_own_request(fake, model_dir):
    engine = make_engine(model_dir)
    out = engine.generate([TOK.encode("7+8="), TOK.encode("9+9=")], SamplingParams(n=3, temperature=0.0, seed=5))
    (requests, sps, _), = fake.instances[-1].generate_calls  # fmt: skip
    assert [r["prompt_token_ids"] for r in requests] == [TOK.encode("7+8=")] * 3 + [TOK.encode("9+9=")] * 3
    assert all(sp.n == 1 and sp.temperature == 0.0 and sp.top_p == 1.0 and sp.seed is None for sp in sps)
    assert [{c.text for c in group} for group in out] == [{"7+8=->None"}, {"9+9=->None"}]


def test_unseeded_calls_leave_the_seed_to_vllm(fake, model_dir):
    make_engine(model_dir).generate([TOK.encode("1=")], SamplingParams(n=2))
    assert fake.instances[-1].generate_calls[0][1][0].seed is None


def test_groups_follow_the_prompts(fake, model_dir):
    prompts = [TOK.encode(t) for t in ("a", "bb", "ccc")]
    out = make_engine(model_dir).generate(prompts, SamplingParams(n=2, seed=0))
    assert [[c.text for c in group] for group in out] == [["a->0", "a->1"], ["bb->2", "bb->3"], ["ccc->4", "ccc->5"]]


@pytest.mark.parametrize(
    "stream,params,expected_reason,hf_padding",
    [
        (TOK.encode("12") + [EOS] + TOK.encode("zz"), SamplingParams(temperature=0.0), "stop", [PAD] * 3),
        (TOK.encode("12") + [IM_END] + TOK.encode("zz"), SamplingParams(temperature=0.0), "stop", [PAD] * 3),
        (
            TOK.encode("<answer>3") + [ANSWER_NL] + TOK.encode("more"),
            SamplingParams(temperature=0.0, stop=("</answer>",)),
            "stop",
            [PAD] * 2,  # HF generate pads a row that hit a stop string while others run on
        ),
        (TOK.encode("abcdefghij"), SamplingParams(temperature=0.0, max_new_tokens=5), "length", []),
    ],
    ids=["eos", "generation-config-eos", "stop-string-inside-a-token", "length"],
)
def test_completions_follow_hf_engine_conventions(fake, model_dir, stream, params, expected_reason, hf_padding):
    fake.script = lambda prompt, seed: stream
    (ours,), = make_engine(model_dir).generate([TOK.encode("q")], params)  # fmt: skip
    assert ours.finish_reason == expected_reason
    # HFEngine on the row its generate would return: the same tokens, then padding.
    stub = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=[EOS, IM_END]))
    stub.eval = lambda: stub
    assert ours == HFEngine(stub, TOK)._completion(list(ours.token_ids) + hf_padding, params)
    if expected_reason == "stop" and ours.token_ids[-1] in (EOS, IM_END):
        assert TOK.decode(ours.token_ids[:-1]) == ours.text  # EOS kept in the tokens, not in the text
    else:
        assert TOK.decode(ours.token_ids) == ours.text  # "</answer>\n": the whole last token, as HF decodes it


def test_an_unknown_finish_reason_is_an_error(fake, model_dir):
    fake.finish_override = "abort"
    with pytest.raises(RuntimeError, match="finish_reason='abort'"):
        make_engine(model_dir).generate([TOK.encode("1=")], SamplingParams(n=2, seed=0))


def test_outputs_out_of_request_order_are_an_error(fake, model_dir):
    fake.reverse_outputs = True
    with pytest.raises(RuntimeError, match="out of request order"):
        make_engine(model_dir).generate([TOK.encode("1="), TOK.encode("2=")], SamplingParams(seed=0))


def test_responses_that_cannot_fit_max_model_len_are_refused(fake, model_dir):
    with pytest.raises(ValueError, match="max_model_len=64"):
        make_engine(model_dir, max_model_len=64).generate([TOK.encode("x" * 20)], SamplingParams(max_new_tokens=50))


def test_load_weights_streams_each_tensor_to_the_model_then_resets_the_prefix_cache(fake, model_dir):
    engine = make_engine(model_dir)
    given = [("model.embed_tokens.weight", torch.randn(4, 3)), ("lm_head.weight", torch.randn(4, 3))]
    originals = [t.clone() for _, t in given]

    def gathered():  # like rlvr.train.policy.full_parameters: a tensor is valid only until the next is yielded
        for name, tensor in given:
            yield name, tensor
            tensor.zero_()

    engine.load_weights(gathered())
    llm = fake.instances[-1]
    loaded = llm.worker.model_runner.model.loaded
    assert [name for name, _, _ in loaded] == [name for name, _ in given]
    assert all(t is g for (_, t, _), (_, g) in zip(loaded, given))  # by reference: no copy on the way
    assert all(torch.equal(copy, original) for (_, _, copy), original in zip(loaded, originals))
    assert llm.calls == [("collective_rpc", "rlvr_load_weights")] * 2 + [("reset_prefix_cache",)]


def test_sleep_and_wake_up_around_the_update(fake, model_dir):
    engine = make_engine(model_dir, enable_sleep_mode=True)
    llm = fake.instances[-1]
    engine.sleep()
    engine.load_weights([("w", torch.zeros(1))])
    engine.generate([TOK.encode("1=")], SamplingParams(seed=0))
    assert llm.calls == [
        ("reset_prefix_cache",), ("sleep", 1),
        ("wake_up", ["weights"]), ("collective_rpc", "rlvr_load_weights"), ("reset_prefix_cache",),
        ("wake_up", ["kv_cache"]),
    ]  # fmt: skip


def test_sleep_is_a_no_op_without_sleep_mode(fake, model_dir):
    engine = make_engine(model_dir)
    engine.sleep()
    engine.wake_up()
    assert fake.instances[-1].calls == []


def test_level_two_sleep_needs_new_weights_before_sampling(fake, model_dir):
    engine = make_engine(model_dir, enable_sleep_mode=True, sleep_level=2)
    engine.sleep()
    with pytest.raises(RuntimeError, match="call load_weights"):
        engine.generate([TOK.encode("1=")], SamplingParams(seed=0))
    engine.load_weights([("w", torch.zeros(1))])
    assert engine.generate([TOK.encode("1=")], SamplingParams(seed=0))[0][0].finish_reason == "stop"


def test_engine_vllm_composes_and_builds_through_build_engine(fake, model_dir):
    cfg = compose_config("engine=vllm", "engine.gpu_memory_utilization=0.3", "seed=11")
    assert cfg.engine._target_ == "rlvr.rollout.vllm.VLLMEngine.from_pretrained"
    engine = build_engine(cfg.engine, model_dir, TOK, dtype="bfloat16", trust_remote_code=False, device="cuda:0")
    assert isinstance(engine, VLLMEngine)
    kwargs = fake.instances[-1].kwargs
    assert kwargs["gpu_memory_utilization"] == 0.3 and kwargs["seed"] == 11 and kwargs["dtype"] == "bfloat16"
    assert kwargs["tensor_parallel_size"] == 1 and kwargs["enable_prefix_caching"]
