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
