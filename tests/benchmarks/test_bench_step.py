"""The step benchmark's pure parts: how our config maps to TRL's ``GRPOConfig`` (equal settings, or a refusal
that names the field), the phase clock, and the report. The benchmark itself trains both sides for a minute:
``python -m benchmarks.bench_step``."""

from __future__ import annotations

import doctest

import pytest

import benchmarks.bench_step as bench
from conftest import compose_run
from rlvr.train.plan import plan_step


def test_the_tiny_default_maps_to_trl_with_two_optimizer_steps_per_rollout_of_64():
    cfg = compose_run()
    settings = bench.trl_settings(cfg)
    # 8 prompts x 8 samples = 64 per generation; micro-batches of 16, 2 per optimizer step of 32 samples.
    assert settings["num_generations"] == 8 and settings["per_device_train_batch_size"] == 16
    assert settings["gradient_accumulation_steps"] == 2 and settings["steps_per_generation"] == 4
    assert bench.optimizer_steps_per_rollout(settings) == 2 == plan_step(cfg, 1).optimizer_steps_per_rollout
    assert settings["max_completion_length"] == 24 and settings["learning_rate"] == 1e-4
    assert settings["loss_type"] == "grpo" and settings["scale_rewards"] == "group"  # seq-mean-token-mean, group std
    assert settings["beta"] == 0.0 and settings["epsilon"] == settings["epsilon_high"] == 0.2
    assert (settings["adam_beta1"], settings["adam_beta2"], settings["max_grad_norm"]) == (0.9, 0.95, 1.0)
    assert settings["temperature"] == 1.0 and settings["top_k"] == 0 and not settings["use_vllm"]
    assert not settings["bf16"] and not settings["fp16"] and not settings["gradient_checkpointing"]


def test_dr_grpo_maps_to_trls_dr_grpo_without_std_scaling():
    settings = bench.trl_settings(compose_run("algorithm=dr_grpo"))
    assert settings["loss_type"] == "dr_grpo" and settings["scale_rewards"] == "none"


@pytest.mark.parametrize(
    "override, named",
    [
        ("algorithm=grpo_official", "algorithm.loss_aggregation='pack-token-mean'"),
        ("clip=no_old_logprob", "clip.mode='no_old_logprob'"),
        ("reward=ttrl", "votes over more samples"),
    ],
)
def test_settings_trl_cannot_match_are_refused_by_name(override, named):
    with pytest.raises(ValueError, match="cannot match") as refused:
        bench.trl_settings(compose_run(override))
    assert named in str(refused.value)


def test_trl_accepts_the_settings_and_generates_one_rollout_per_two_optimizer_steps(tmp_path):
    trl = pytest.importorskip("trl", reason="pip install -r requirements-bench.txt")
    args = trl.GRPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", **bench.trl_settings(compose_run()))
    assert args.generation_batch_size == 64 and args.steps_per_generation == 4


class Model:
    def update(self, x):
        self.logprobs(x)  # nested: not a call of the old-log-prob pass
        return x

    def logprobs(self, x):
        return x


def test_the_clock_times_wrapped_calls_that_count_and_forgets_on_take(monkeypatch):
    clock, model, now = bench.PhaseClock(), Model(), iter(range(100))
    monkeypatch.setattr(bench.time, "perf_counter", lambda: float(next(now)))
    clock.wrap(model, "update", "update")
    clock.wrap(model, "logprobs", "old_logprobs", when=lambda *a: "update" not in clock.open)
    assert model.logprobs(1) == 1 and model.update(2) == 2
    # logprobs: clock 0 -> 1; update: 2 -> 3, its nested logprobs call not timed
    assert clock.take() == {"old_logprobs": 1.0, "update": 1.0}
    assert clock.take() == {} and clock.open == set()


def test_other_is_what_the_phases_leave_of_the_step():
    times = bench.with_other({"step": 1.0, "generation": 0.5, "old_logprobs": 0.125, "update": 0.25, "grading": 0.0})
    assert times["other"] == 0.125


def test_the_docstring_examples_hold():
    assert doctest.testmod(bench).failed == 0
