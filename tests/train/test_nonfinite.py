"""Non-finite losses and gradients: the optimizer step of their mini-batch is skipped (weights and optimizer
state exactly as before it), counted in the step's metrics, and ``trainer.max_consecutive_nonfinite`` of them
in a row stop the run with a checkpoint of the last finite weights.

The set-up is test_update's: four prompts x a group of four = 16 samples, mini-batches of 8 (two optimizer
steps per rollout), micro-batches of 4 (two per mini-batch). ``policy_loss`` is wrapped so that chosen calls
(one per micro-batch, counted from 1 over the whole test) return a broken loss.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

import rlvr.train.loop as loop
from rlvr.train.nonfinite import NonFiniteError, NonFiniteGuard, poisoned
from rlvr.train.policy import full_parameters
from test_update import model_dir, trainer_for  # noqa: F401  (a fixture)

NAN = float("nan")


def nan_loss(loss, logprobs):
    return loss * NAN


def finite_loss_nan_gradient(loss, logprobs):
    """0 * sqrt(0 * s) is 0 forwards; backwards its derivative is 0 * 1 / (2 sqrt(0)) * 0 = 0 * inf = NaN."""
    return loss + 0 * torch.sqrt(0 * logprobs.sum())


def nan_loss_finite_gradient(loss, logprobs):
    """A NaN added as a constant: the loss is NaN but its gradient is the finite one of ``loss``; without the
    poisoning DeepSpeed would apply this step."""
    return loss + torch.tensor(NAN)


def break_calls(monkeypatch, calls: set[int], breaker=nan_loss) -> None:
    """Make the policy-loss calls numbered in ``calls`` (from 1) return ``breaker(loss, logprobs)``."""
    original, count = loop.policy_loss, [0]

    def wrapped(logprobs, *args, **kwargs):
        loss, stats = original(logprobs, *args, **kwargs)
        count[0] += 1
        return (breaker(loss, logprobs) if count[0] in calls else loss), stats

    monkeypatch.setattr(loop, "policy_loss", wrapped)


def snapshot(trainer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """The full weights and every tensor of the optimizer's state (AdamW's step count and moments)."""
    weights = {name: tensor.clone() for name, tensor in full_parameters(trainer.policy.module)}
    state = [
        {key: value.clone() if torch.is_tensor(value) else value for key, value in entry.items()}
        for entry in trainer.policy.optimizer.optimizer.state.values()
    ]
    return weights, state


def same(a, b) -> bool:
    (weights_a, state_a), (weights_b, state_b) = a, b
    return (
        weights_a.keys() == weights_b.keys()
        and all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
        and len(state_a) == len(state_b)
        and all(x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x) for x, y in zip(state_a, state_b))
    )


def _equal(x, y) -> bool:
    return torch.equal(x, y) if torch.is_tensor(x) else x == y


def record_boundary_steps(trainer) -> list[tuple]:
    """(state before, state after) around every optimizer step (the engine.step() of a mini-batch's last
    micro-batch)."""
    records, step = [], trainer.policy.step

    def recorded(*args, **kwargs):
        if not trainer.policy.is_gradient_accumulation_boundary():
            return step(*args, **kwargs)
        before = snapshot(trainer)
        result = step(*args, **kwargs)
        records.append((before, snapshot(trainer)))
        return result

    trainer.policy.step = recorded
    return records


@pytest.mark.parametrize(
    "breaker", [nan_loss, finite_loss_nan_gradient, nan_loss_finite_gradient], ids=lambda f: f.__name__
)
def test_a_broken_micro_batch_skips_its_mini_batchs_optimizer_step_and_no_other(
    world, model_dir, tmp_path, monkeypatch, breaker  # noqa: F811
):
    # call 1 is the first micro-batch of mini-batch 1: its second micro-batch (call 2) is fine, and the
    # whole mini-batch's step is skipped all the same; mini-batch 2 (calls 3, 4) is applied
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=8, lr=1e-2)
    break_calls(monkeypatch, {1}, breaker)
    steps = record_boundary_steps(trainer)
    metrics = trainer.step(1)
    assert len(steps) == 2
    assert same(*steps[0])  # weights and optimizer state untouched by the skipped step
    assert not same(*steps[1])  # the next mini-batch trains
    assert all(torch.isfinite(t).all() for t in steps[1][1][0].values())
    assert trainer.policy.skipped_steps == 1
    assert metrics["actor/skipped_frac"] == 0.5 and metrics["actor/skipped_total"] == 1  # 1 of 2 optimizer steps
    assert 0 < metrics["actor/grad_norm"] < float("inf")  # the applied step's norm alone


def test_a_healthy_step_skips_nothing(world, model_dir, tmp_path):  # noqa: F811
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=8)
    metrics = trainer.step(1)
    assert metrics["actor/skipped_frac"] == 0 and metrics["actor/skipped_total"] == 0
    assert trainer.policy.skipped_steps == 0 and trainer.nonfinite.consecutive == 0


def test_skips_in_a_row_stop_the_run_with_a_checkpoint_of_the_last_finite_weights(
    world, model_dir, tmp_path, monkeypatch  # noqa: F811
):
    # step 1: calls 1-4, both optimizer steps applied; step 2: calls 5-6 applied, 7 broken (skip 1 in a row);
    # step 3: calls 9 and 11 broken, one per mini-batch (skips 2 and 3): the limit, 3, is reached at the last
    # mini-batch of step 3, whose checkpoint holds the weights after step 2's first mini-batch
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=8, lr=1e-2)
    assert trainer.nonfinite.limit == 3  # conf/trainer/deepspeed.yaml
    trainer.tcfg = replace(trainer.tcfg, total_steps=5, checkpoint_every=100)
    break_calls(monkeypatch, {7, 9, 11})
    steps = record_boundary_steps(trainer)
    with pytest.raises(NonFiniteError) as stopped:
        trainer.train()
    message = str(stopped.value)
    assert "3 optimizer steps in a row were skipped" in message and "step 3" in message
    assert "trainer.max_consecutive_nonfinite=3" in message and str(tmp_path / "checkpoints" / "step_3") in message

    assert len(steps) == 6 and [same(*s) for s in steps] == [False, False, False, True, True, True]
    last_finite = steps[2][1][0]  # after step 2's first mini-batch
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "3"
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "checkpoints" / "step_3" / "model.safetensors")
    assert saved.keys() <= last_finite.keys() and all(torch.equal(saved[k], last_finite[k]) for k in saved)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [0, 1, 2]  # step 3 stopped before its row
    assert (rows[1]["actor/skipped_frac"], rows[1]["actor/skipped_total"]) == (0, 0)
    assert (rows[2]["actor/skipped_frac"], rows[2]["actor/skipped_total"]) == (0.5, 1)


def test_an_applied_step_ends_a_streak(world, model_dir, tmp_path, monkeypatch):  # noqa: F811
    # mini-batches: skip, skip | apply, skip | skip, apply: never 3 in a row, so the third step runs to its end
    trainer = trainer_for(world, model_dir, tmp_path, mini_batch_size=8)
    break_calls(monkeypatch, {1, 3, 7, 9})
    for step in (1, 2):
        trainer.step(step)
    assert trainer.nonfinite.consecutive == 3 - 2  # the skip of call 7
    metrics = trainer.step(3)
    assert metrics["actor/skipped_total"] == 4 and metrics["actor/skipped_frac"] == 0.5


def test_a_step_applied_with_a_non_finite_norm_is_an_error():
    class Applied:
        skipped_steps = 0

        def was_step_applied(self):
            return True

        def get_global_grad_norm(self):
            return float("inf")

    from rlvr.train.metrics import StepMetrics

    with pytest.raises(NonFiniteError, match="step 4, update 2: an optimizer step was applied with gradient norm inf"):
        NonFiniteGuard(3, is_main=True).after_step(Applied(), StepMetrics(torch.device("cpu")), 4, 2)


def test_poisoning_leaves_a_finite_loss_and_its_gradient_exactly_as_they_were():
    x = torch.tensor([0.1, 0.7], requires_grad=True)
    loss = (x * x).sum() / 3  # gradient 2x / 3
    poisoned(loss).backward()
    assert torch.equal(x.grad, 2 * x.detach() / 3)
    x.grad = None
    poisoned((x * torch.tensor([float("inf"), 1.0])).sum()).backward()
    assert torch.isnan(x.grad).all()  # also the element whose own gradient would have been finite (1.0)


@pytest.mark.parametrize("limit", [0, -1])
def test_the_limit_must_be_at_least_one(limit):
    from conftest import compose_run
    from rlvr.train.plan import ConfigError, plan_step

    with pytest.raises(ConfigError, match=f"trainer.max_consecutive_nonfinite={limit} must be >= 1"):
        plan_step(compose_run(f"trainer.max_consecutive_nonfinite={limit}"), 1)


def test_zero_stage_0_is_refused_because_nothing_would_skip_a_non_finite_step():
    from conftest import compose_run
    from rlvr.train.plan import ConfigError, plan_step

    with pytest.raises(ConfigError, match="trainer.zero_stage=0 must be 1, 2 or 3"):
        plan_step(compose_run("trainer.zero_stage=0"), 1)


@pytest.mark.slow
def test_a_nan_on_one_rank_skips_the_step_on_every_rank(tmp_path):
    """Two processes, each with half of the rollout: 8 samples, two mini-batches of 4 (one micro-batch each, 8
    over both ranks). Only rank 1's first micro-batch is NaN; both ranks skip that optimizer step and apply
    the second, so the ZeRO-3 partitions never mix updated and not updated halves."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    script = REPO / "tests" / "train" / "_nonfinite_ranks.py"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    for rank in (0, 1):
        seen = json.loads((tmp_path / f"rank_{rank}.json").read_text())
        assert seen == {"unchanged": [True, False], "skipped_steps": 1, "skipped_frac": 0.5, "finite": True}, rank
