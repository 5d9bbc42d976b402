"""The vLLM engine's translation layer, against a fake ``vllm`` (vLLM needs a GPU; none here).

The fake (``fake_vllm.py`` beside this file) imitates the parts of vllm 0.32.0 the engine touches and refuses
what they refuse: unknown constructor arguments, non-plain config values, unknown weight names and shapes,
temperatures outside [0, 2], seeds past int64, and generating while asleep or with discarded weights.
"""

from __future__ import annotations

import json
import re
import sys
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

import fake_vllm
from conftest import compose_config
from fake_vllm import TinyQwen2
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


@pytest.fixture
def fake(monkeypatch):
    vllm = fake_vllm.make_module(TOK, EOS)
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


def gathered(weights):
    """Like rlvr.train.policy.full_parameters: a tensor is valid only until the next one is yielded."""
    for name, tensor in weights:
        yield name, tensor
        tensor.zero_()


def stacked(weights, *parts) -> torch.Tensor:
    """What vLLM's stacked parameter holds: the HF tensors ``parts`` one under the other."""
    return torch.cat([dict(weights)[part] for part in parts])


def test_load_weights_streams_each_tensor_into_the_stacked_parameters_then_resets_the_prefix_cache(fake, model_dir):
    engine = make_engine(model_dir, enable_sleep_mode=False)
    given = TinyQwen2.hf_weights()
    originals = [(name, t.clone()) for name, t in given]
    engine.load_weights(gathered(given))
    llm = fake.instances[-1]
    assert [name for name, _ in llm.model.received] == [name for name, _ in given]
    assert all(t is g for (_, t), (_, g) in zip(llm.model.received, given))  # by reference: no copy on the way
    params = llm.model.params
    at = "model.layers.1"
    qkv = stacked(originals, *(f"{at}.self_attn.{x}_proj.weight" for x in "qkv"))
    gate_up = stacked(originals, f"{at}.mlp.gate_proj.weight", f"{at}.mlp.up_proj.weight")
    assert torch.equal(params[f"{at}.self_attn.qkv_proj.weight"], qkv)
    assert torch.equal(params[f"{at}.mlp.gate_up_proj.weight"], gate_up)
    assert torch.equal(params["lm_head.weight"], dict(originals)["lm_head.weight"])
    rpc = [("collective_rpc", "rlvr_load_weights")] * len(given)
    assert llm.calls == [("collective_rpc", "rlvr_begin_weights"), *rpc, ("collective_rpc", "rlvr_end_weights"),
                         ("reset_prefix_cache",)]  # fmt: skip


def test_a_push_that_leaves_parameters_out_names_them(fake, model_dir):
    engine = make_engine(model_dir)
    qkv = {f"model.layers.0.self_attn.{x}_proj.{w}" for x in "qkv" for w in ("weight", "bias")}
    partial = [(n, t) for n, t in TinyQwen2.hf_weights() if n not in qkv | {"model.layers.1.mlp.down_proj.weight"}]
    expected = (
        "3 of vLLM's parameters unloaded (model.layers.0.self_attn.qkv_proj.bias, "
        "model.layers.0.self_attn.qkv_proj.weight, model.layers.1.mlp.down_proj.weight)"
    )
    with pytest.raises(RuntimeError, match=re.escape(expected)):
        engine.load_weights(partial)
    with pytest.raises(RuntimeError, match="call load_weights before generate"):  # its weights are a mix
        engine.generate([TOK.encode("1=")], SamplingParams(seed=0))
    assert ("reset_prefix_cache",) not in fake.instances[-1].calls
    engine.load_weights(TinyQwen2.hf_weights())
    assert engine.generate([TOK.encode("1=")], SamplingParams(seed=0))[0][0].finish_reason == "stop"


def test_vllm_refuses_unknown_names_and_shapes_in_a_push(fake, model_dir):
    engine = make_engine(model_dir)
    with pytest.raises(ValueError, match="no module or parameter named 'module.model.norm.weight'"):
        engine.load_weights([("module.model.norm.weight", torch.zeros(4))])
    with pytest.raises(AssertionError, match="model.layers.0.self_attn.k_proj.weight"):
        engine.load_weights([("model.layers.0.self_attn.k_proj.weight", torch.zeros(4, 4))])  # 1 KV head: (2, 4)


def test_a_prefix_cache_vllm_could_not_reset_is_an_error(fake, model_dir):
    engine = make_engine(model_dir)
    fake.reset_ok = False
    with pytest.raises(RuntimeError, match="could not reset its prefix cache"):
        engine.load_weights(TinyQwen2.hf_weights())


def test_a_wake_up_that_leaves_vllm_asleep_is_an_error(fake, model_dir):
    engine = make_engine(model_dir)
    engine.sleep()
    engine.load_weights(TinyQwen2.hf_weights())  # wakes the weights only: vLLM rightly reports "not fully awake"
    fake.wake_ok = False
    with pytest.raises(RuntimeError, match=re.escape("wake_up(tags=['kv_cache']) left the engine asleep")):
        engine.generate([TOK.encode("1=")], SamplingParams(seed=0))


def test_level_two_sleep_by_default_wakes_weights_then_pushes_then_wakes_the_kv_cache(fake, model_dir):
    engine = make_engine(model_dir)  # from_pretrained's defaults: sleep mode on, level 2
    llm = fake.instances[-1]
    engine.load_weights(TinyQwen2.hf_weights())
    engine.generate([TOK.encode("1=")], SamplingParams(seed=0))
    llm.calls.clear()
    engine.sleep()
    assert llm.kwargs["enable_sleep_mode"] and llm.sleeping == {"weights", "kv_cache"}
    assert llm.model.params["model.norm.weight"].isnan().all()  # level 2 discarded the weights
    with pytest.raises(RuntimeError, match="call load_weights before generate"):
        engine.generate([TOK.encode("1=")], SamplingParams(seed=0))
    engine.load_weights(TinyQwen2.hf_weights())
    assert not llm.model.params["model.norm.weight"].isnan().any()
    engine.generate([TOK.encode("1=")], SamplingParams(seed=0))
    rpc = [("collective_rpc", "rlvr_load_weights")] * len(TinyQwen2.hf_weights())
    assert llm.calls == [
        ("sleep", 2),  # vLLM resets the prefix cache itself when it falls asleep
        ("wake_up", ["weights"]), ("collective_rpc", "rlvr_begin_weights"), *rpc,
        ("collective_rpc", "rlvr_end_weights"), ("reset_prefix_cache",),
        ("wake_up", ["kv_cache"]),
    ]  # fmt: skip


def test_level_one_sleep_keeps_the_weights(fake, model_dir):
    engine = make_engine(model_dir, sleep_level=1)
    engine.load_weights(TinyQwen2.hf_weights())
    engine.sleep()
    assert engine.generate([TOK.encode("1=")], SamplingParams(seed=0))[0][0].finish_reason == "stop"
    assert fake.instances[-1].calls[-2:] == [("sleep", 1), ("wake_up", ["kv_cache", "weights"])]


def test_sleep_is_a_no_op_without_sleep_mode(fake, model_dir):
    engine = make_engine(model_dir, enable_sleep_mode=False)
    engine.sleep()
    engine.wake_up()
    assert fake.instances[-1].calls == []


def test_seeds_near_the_int64_limit_stay_below_it_and_distinct(fake, model_dir):
    engine = make_engine(model_dir)
    out = engine.generate([TOK.encode("a"), TOK.encode("b"), TOK.encode("c")], SamplingParams(n=16, seed=2**63 - 1))
    seeds = [int(c.text.split("->")[1]) for group in out for c in group]
    assert len(set(seeds)) == 48 and max(seeds) < 2**63
    assert seeds == list(range(seeds[0], seeds[0] + 48))  # row r gets base + r, as below the limit


@pytest.mark.parametrize("world,rank,shown", [(False, 0, True), (True, 0, True), (True, 3, False)])
def test_only_the_main_rank_shows_a_progress_bar(fake, model_dir, monkeypatch, world, rank, shown):
    engine = make_engine(model_dir)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: world)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: rank)
    engine.generate([TOK.encode("1=")], SamplingParams(seed=0))
    assert fake.instances[-1].generate_calls[-1][2] is shown


@pytest.mark.parametrize("temperature", [2.01, -0.1, float("nan")])
def test_temperatures_outside_vllms_range_are_refused(temperature):
    with pytest.raises(ValueError, match=re.escape("SamplingParams.temperature must be in [0, 2]")):
        SamplingParams(temperature=temperature)
    assert SamplingParams(temperature=2.0).temperature == 2.0


def test_llm_kwargs_reach_vllm_as_plain_containers(fake, model_dir):
    node = OmegaConf.create({"compilation_config": {"cudagraph_capture_sizes": [1, 2, 4]}, "max_logprobs": 0})
    make_engine(model_dir, llm_kwargs=node)
    kwargs = fake.instances[-1].kwargs
    assert type(kwargs["compilation_config"]) is dict and kwargs["max_logprobs"] == 0
    assert type(kwargs["compilation_config"]["cudagraph_capture_sizes"]) is list


def test_the_fake_refuses_what_vllm_refuses(fake, model_dir):
    with pytest.raises(TypeError, match="unexpected keyword argument 'gpu_memory_fraction'"):
        make_engine(model_dir, llm_kwargs={"gpu_memory_fraction": 0.5})
    with pytest.raises(TypeError, match="not a dict"):
        fake.LLM(model="m", compilation_config=OmegaConf.create({"level": 3}), worker_extension_cls="x.Y")
    with pytest.raises(fake_vllm.VLLMValidationError, match=re.escape("temperature must be in [0, 2]")):
        fake.SamplingParams(temperature=2.5)
    with pytest.raises(fake_vllm.VLLMValidationError, match="n must be 1 when using greedy"):
        fake.SamplingParams(temperature=0.0, n=2)
    llm = make_engine(model_dir).llm
    with pytest.raises(OverflowError, match="out of bounds for int64"):
        llm.generate([{"prompt_token_ids": [1]}], [fake.SamplingParams(n=2, seed=2**63 - 1)])
    llm.sleep(level=1)
    with pytest.raises(RuntimeError, match="paused scheduler"):
        llm.generate([{"prompt_token_ids": [1]}], [fake.SamplingParams()])
    assert llm.wake_up(tags=["weights"]) is False and llm.wake_up(tags=["kv_cache"]) is True


def test_engine_vllm_composes_and_builds_through_build_engine(fake, model_dir):
    overrides = ("engine=vllm", "engine.gpu_memory_utilization=0.3", "seed=11", "+engine.llm_kwargs.max_logprobs=0")
    cfg = compose_config(*overrides)
    assert cfg.engine._target_ == "rlvr.rollout.vllm.VLLMEngine.from_pretrained"
    assert cfg.engine.enable_sleep_mode and cfg.engine.sleep_level == 2  # colocated training's defaults
    engine = build_engine(cfg.engine, model_dir, TOK, dtype="bfloat16", trust_remote_code=False, device="cuda:0")
    assert isinstance(engine, VLLMEngine) and engine.sleep_level == 2
    kwargs = fake.instances[-1].kwargs
    assert kwargs["gpu_memory_utilization"] == 0.3 and kwargs["seed"] == 11 and kwargs["dtype"] == "bfloat16"
    assert kwargs["tensor_parallel_size"] == 1 and kwargs["enable_prefix_caching"] and kwargs["max_logprobs"] == 0
