"""Micro-batch weighting makes DeepSpeed's gradient average equal the mini-batch loss."""

from __future__ import annotations

import pytest

from rlvr.train.plan import microbatch_loss_weight


def test_token_mean_micro_batches_recombine_to_the_global_token_mean():
    # Two micro-batches: token losses [1, 1, 1] (3 tokens) and [4] (1 token).
    # Global token mean = (1+1+1+4)/4 = 1.75. Micro means: 1 and 4; DeepSpeed averages micro-batch losses.
    micro = [(1.0, 3), (4.0, 1)]
    weighted = [mean * microbatch_loss_weight("token-mean", n, 4, micro_batches=2) for mean, n in micro]
    assert sum(weighted) / 2 == pytest.approx(1.75)  # unweighted would give (1+4)/2 = 2.5


@pytest.mark.parametrize("aggregation", ["seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_per_sequence_aggregations_need_no_weight(aggregation):
    assert microbatch_loss_weight(aggregation, 3, 4, micro_batches=2) == 1.0


def test_update_schedule_cuts_epochs_into_optimizer_steps_and_weights_micro_batches_by_tokens():
    import torch

    from rlvr.train.plan import StepPlan, update_schedule

    # 4 samples with 1, 3, 2, 2 response tokens; mini-batches of 4 (one optimizer step per epoch), micro of 2
    mask = torch.tensor([[1, 0, 0], [1, 1, 1], [1, 1, 0], [1, 1, 0]], dtype=torch.float32)
    plan = StepPlan(world_size=1, prompts_per_rank=1, samples_per_step=4, samples_per_rank=4, mini_batch_per_rank=4,
                    grad_accumulation=2, optimizer_steps_per_rollout=2)  # fmt: skip
    orders = [torch.tensor([0, 1, 2, 3]), torch.tensor([3, 1, 0, 2])]
    summed = []
    schedule = update_schedule(orders, mask, plan, 2, "token-mean", lambda t: summed.append(t) or t)
    # each mini-batch longest first (ties keep their order): tokens 3, 2, 2, 1
    assert [[m.indices.tolist() for m in step] for step in schedule] == [[[1, 2], [3, 0]], [[1, 3], [2, 0]]]
    # 8 tokens per mini-batch: weight = micro tokens x 2 micro-batches / 8; micro-batches of 5 and 3 tokens
    assert [[m.weight for m in step] for step in schedule] == [[1.25, 0.75], [1.25, 0.75]]
    assert len(summed) == 1 and summed[0].tolist() == [8, 8]  # one collective for all mini-batches
    per_sequence = update_schedule(orders, mask, plan, 2, "seq-mean-token-mean", lambda t: pytest.fail("no collective"))
    assert {m.weight for step in per_sequence for m in step} == {1.0}
    packed = update_schedule(orders, mask, plan, 2, "pack-token-mean", lambda t: t)  # packs keep the order
    assert [[m.indices.tolist() for m in step] for step in packed] == [[[0, 1], [2, 3]], [[3, 1], [0, 2]]]
