"""``python -m benchmarks.gpu_check``: the GPU path end to end, with nothing downloaded, and its figures.

    python -m benchmarks.gpu_check                                   # one GPU
    torchrun --nproc_per_node 2 -m benchmarks.gpu_check              # two GPUs
    python -m benchmarks.gpu_check --smoke                           # the same code path on a CPU (tiny, HF engine)

A randomly initialised model of Qwen2.5-1.5B's shape (its exact config; a tokenizer of its vocabulary size built
here) trains for three GRPO steps with the trainer itself: DeepSpeed ZeRO-3 over NCCL, ``engine=vllm`` with sleep
mode (the policy's weights pushed into vLLM after every update), random rewards (a random model answers nothing
right, and random rewards still give advantages). Then it checks and prints:

- vLLM's log-probs of the last rollout's tokens against the trainer's on the same tokens (max and mean gap);
- that the weights in vLLM equal the policy's after the last push (per-parameter sums, vLLM's stacked q/k/v
  and gate/up compared with the sum of their parts);
- peak GPU memory; rollout tokens/s; training tokens/s; and the update's MFU against the GPU's bf16 peak.

It exits non-zero when a check fails. ``--smoke`` runs it on a CPU with a tiny model and the HF engine (what CI
runs): the vLLM-only checks are skipped there, and said so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import string
import sys
import tempfile
import time
from pathlib import Path

from rlvr.train.__main__ import prepare_environment

# Qwen/Qwen2.5-1.5B's config.json (the fields that set its shape).
QWEN25_1_5B = dict(
    vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
    num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True,
)  # fmt: skip
TINY = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True)  # fmt: skip
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}  # dense, per GPU (vendor data sheets)
LOGPROB_GAP_LIMIT = 0.05  # bf16 sampler vs bf16 trainer: kernels differ, but not by more than this per token


def build_tokenizer(vocab_size: int):
    """One token per printable character, then filler tokens up to the model's vocabulary (a random model
    samples any id; each must decode to something)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<unk>"]
    names = specials + list(string.printable.replace("\x0b", "").replace("\x0c", "").replace("\r", ""))
    names += [f"<t{i}>" for i in range(vocab_size - len(names))]
    core = Tokenizer(models.WordLevel(vocab={name: i for i, name in enumerate(names)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def build_random_model(directory: Path, shape: dict, dtype: str) -> Path:
    """A randomly initialised Qwen2 of ``shape`` and its tokenizer, saved where the trainer loads models from."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlvr.hf import CHAR_TOKENIZER_MARKER, torch_dtype

    tokenizer = build_tokenizer(shape["vocab_size"])
    tokenizer.init_kwargs[CHAR_TOKENIZER_MARKER] = "char"  # rlvr.hf.load_tokenizer keeps our pre-tokenizer
    config = Qwen2Config(pad_token_id=0, eos_token_id=1, bos_token_id=1, **shape)
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).to(torch_dtype(dtype)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def overrides(model_dir: Path, smoke: bool, steps: int) -> list[str]:
    common = [
        "model=tiny", "model.tiny=null", f"model.name_or_path={model_dir}", "model.name=gpu_check", "reward=random",
        f"trainer.total_steps={steps}", "trainer.checkpoint_every=1000", "trainer.log_rollouts_every=0",
        "eval.limit=16", "algorithm.max_prompt_len=16", "logger=none",
    ]  # fmt: skip
    if smoke:
        return common + ["engine=hf", "trainer.device=cpu", "algorithm.max_response_len=16"]
    return common + [
        "engine=vllm", "engine.max_model_len=1024", "trainer.device=cuda", "model.dtype=bfloat16",
        "model.gradient_checkpointing=true", "algorithm.rollout_batch_size=16", "algorithm.group_size=8",
        "algorithm.mini_batch_size=64", "algorithm.max_response_len=512", "eval.max_new_tokens=64",
        "trainer.micro_batch_size=8", "algorithm.lr=1e-6",
    ]  # fmt: skip


def logprob_gap(trainer) -> tuple[float, float]:
    """vLLM's log-probs of sampled tokens against the trainer's: prompt tokens + a sampled response each."""
    import torch
    from vllm import SamplingParams as VLLMSamplingParams

    from rlvr.rollout import SamplingParams
    from rlvr.train.batch import make_token_batch

    prompts = [trainer.parts.tokenizer.encode(f"{i}+{i}=", add_special_tokens=False) for i in range(8)]
    completions = [g[0] for g in trainer.engine.generate(prompts, SamplingParams(n=1, max_new_tokens=64, seed=1))]
    responses = [list(c.token_ids) for c in completions]
    scored = trainer.engine.llm.generate(
        [{"prompt_token_ids": p + r} for p, r in zip(prompts, responses)],
        VLLMSamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0), use_tqdm=False,
    )  # fmt: skip
    batch = make_token_batch(prompts, responses, trainer.engine.pad_id).to(trainer.dist.device)
    ours = trainer.logprobs_of(trainer.policy, batch).float().cpu()
    gaps = []
    for row, (prompt, response, out) in enumerate(zip(prompts, responses, scored)):
        for t, token in enumerate(response):
            theirs = out.prompt_logprobs[len(prompt) + t][token].logprob
            gaps.append(abs(theirs - ours[row, t].item()))
    gaps_t = torch.tensor(gaps)
    return gaps_t.max().item(), gaps_t.mean().item()


def weight_mismatches(trainer) -> list[str]:
    """Parameters whose sum in vLLM differs from the policy's (stacked vLLM parameters against their parts)."""
    from rlvr.train.policy import full_parameters

    ours = {name: tensor.float().sum().item() for name, tensor in full_parameters(trainer.policy.module)}
    [theirs] = trainer.engine.llm.collective_rpc("rlvr_parameter_sums")[:1]
    stacked = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "gate_up_proj": ("gate_proj", "up_proj")}
    bad = []
    for name, total in theirs.items():
        parts = next(([name.replace(k, p) for p in ps] for k, ps in stacked.items() if k in name), [name])
        expected = sum(ours.get(part, ours.get(part.replace("lm_head", "model.embed_tokens"), math.nan)) for part in parts)
        if not math.isclose(total, expected, rel_tol=1e-3, abs_tol=1e-2):
            bad.append(f"{name}: vLLM {total:.4f}, policy {expected:.4f}")
    return bad


def gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def mfu(metrics: list[dict], parameters: int, world_size: int) -> float | None:
    """Model FLOPs of the updates (6 N per trained token, plus 2 N per token of the old log-prob pass) per
    second of ``perf/train_s``, against the GPU's dense bf16 peak."""
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in gpu_name()), None)
    if peak is None:
        return None
    tokens = sum(m["perf/tokens"] for m in metrics)
    seconds = sum(m["perf/train_s"] for m in metrics)
    return 8 * parameters * tokens / seconds / (peak * 1e12 * world_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny model and the HF engine on a CPU")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="where the model and the run go (default: a temp dir)")
    args = parser.parse_args(argv)
    prepare_environment()
    import torch
    from hydra import compose, initialize_config_dir

    from rlvr.build import build_training
    from rlvr.config import to_run_config
    from rlvr.plan import CONF_DIR
    from rlvr.train import distributed as D
    from rlvr.train.loop import GRPOTrainer
    from rlvr.train.plan import plan_step
    from rlvr.train.policy import count_parameters

    out = args.out or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    dist = D.setup_distributed("cpu" if args.smoke else "cuda")
    model_dir = out / "model"
    if dist.is_main:
        build_random_model(model_dir, TINY if args.smoke else QWEN25_1_5B, "float32" if args.smoke else "bfloat16")
    D.barrier()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = to_run_config(compose("config", overrides=overrides(model_dir, args.smoke, args.steps)))
    parts = build_training(cfg, plan_step(cfg, dist.world_size), dist, out / "run")
    trainer = GRPOTrainer(parts)
    started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - started
    metrics = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()][1:]
    report = {
        "device": gpu_name(), "processes": dist.world_size, "parameters": count_parameters(trainer.policy.module),
        "steps": len(metrics), "wall_s": round(wall, 1),
        "rollout_tokens_per_s": sum(m["perf/tokens"] for m in metrics) / sum(m["perf/rollout_s"] for m in metrics),
        "train_tokens_per_s": sum(m["perf/tokens"] for m in metrics) / sum(m["perf/train_s"] for m in metrics),
    }  # fmt: skip
    failures = []
    if args.smoke:
        report["vllm_checks"] = "skipped: --smoke runs the HF engine"
    else:
        report["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        report["mfu"] = mfu(metrics, report["parameters"], dist.world_size)
        trainer.engine.wake_up()
        report["logprob_gap_max"], report["logprob_gap_mean"] = logprob_gap(trainer)
        mismatched = weight_mismatches(trainer)
        report["weights_equal_after_push"] = not mismatched
        failures += [f"weights differ: {m}" for m in mismatched[:10]]
        if report["logprob_gap_max"] > LOGPROB_GAP_LIMIT:
            failures.append(f"log-prob gap {report['logprob_gap_max']:.4f} > {LOGPROB_GAP_LIMIT}")
    if dist.is_main:
        for key, value in report.items():
            print(f"{key:>26}: {value:.4g}" if isinstance(value, float) else f"{key:>26}: {value}")
        (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
        print("\n".join(["FAILED:"] + failures) if failures else "all checks passed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
