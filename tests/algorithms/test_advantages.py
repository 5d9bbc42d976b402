"""Group-relative advantages, checked against values worked out by hand."""

import math

import pytest
import torch
from torch.testing import assert_close

from rlvr.algorithms import ADVANTAGE_ESTIMATORS, group_advantages
from rlvr.algorithms.advantages import zero_std_group_fraction


def test_unbiased_std_one_correct_of_four():
    # mean = 0.25; centred = [0.75, -0.25, -0.25, -0.25]
    # ddof=1: std = sqrt((0.75^2 + 3 * 0.25^2) / 3) = sqrt(0.75 / 3) = 0.5
    # A = centred / 0.5 = [1.5, -0.5, -0.5, -0.5]
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    advantages = group_advantages(rewards, 4, ddof=1, eps=0.0)
    assert_close(advantages, torch.tensor([1.5, -0.5, -0.5, -0.5]))


def test_population_std_one_correct_of_four():
    # ddof=0: std = sqrt(0.75 / 4) = 0.4330; A = [0.75, -0.25, ...] / 0.4330 = [1.7321, -0.5774, ...]
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    advantages = group_advantages(rewards, 4, ddof=0, eps=0.0)
    assert_close(advantages, torch.tensor([1.7321, -0.5774, -0.5774, -0.5774]), atol=1e-4, rtol=0)


def test_eps_is_added_to_the_std_not_the_variance():
    # [1, 0], ddof=1: mean 0.5, centred [0.5, -0.5], std = sqrt(0.5 / 1) = 0.70711.
    # With eps = 1 - 0.70711 the denominator is exactly 1, so A = centred = [0.5, -0.5].
    # (Had eps gone under the square root, A would be 0.5 / sqrt(0.5 + 0.29289) = 0.5630.)
    rewards = torch.tensor([1.0, 0.0], dtype=torch.float64)
    advantages = group_advantages(rewards, 2, ddof=1, eps=1.0 - math.sqrt(0.5))
    assert_close(advantages, torch.tensor([0.5, -0.5], dtype=torch.float64))


def test_default_eps_shrinks_slightly():
    # Default eps 1e-6: A0 = 0.75 / (0.5 + 1e-6) = 1.499997
    advantages = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64), 4)
    assert advantages[0].item() == pytest.approx(0.75 / 0.500001, abs=1e-12)
    assert advantages[0].item() < 1.5


def test_no_std_normalisation_is_reward_minus_mean():
    # Dr. GRPO: [1, 0, 0, 0] - 0.25 and [3, 1] - 2; ddof and eps play no part.
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert_close(group_advantages(rewards, 4, std_normalize=False), torch.tensor([0.75, -0.25, -0.25, -0.25]))
    assert_close(
        group_advantages(torch.tensor([3.0, 1.0]), 2, std_normalize=False, ddof=0, eps=5.0),
        torch.tensor([1.0, -1.0]),
    )


def test_groups_are_normalised_separately():
    # Group 1 [1,0,0,0] -> [1.5, -0.5, -0.5, -0.5]; group 2 [0,1,1,1] is its mirror -> [-1.5, 0.5, 0.5, 0.5].
    # Pooling the 8 rewards instead would give mean 0.5 and A = +-0.935 everywhere.
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    advantages = group_advantages(rewards, 4, eps=0.0)
    assert_close(advantages, torch.tensor([1.5, -0.5, -0.5, -0.5, -1.5, 0.5, 0.5, 0.5]))


@pytest.mark.parametrize("std_normalize", [True, False])
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_all_equal_groups_get_exactly_zero(std_normalize, ddof, eps):
    # 0.1 is not exact in binary: the float mean of [0.1, 0.1, 0.1] may differ from 0.1 by round-off,
    # which 1 / eps would blow up without the explicit zeroing. The last group keeps the others honest.
    rewards = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 1.0, 0.0, 0.0])
    advantages = group_advantages(rewards, 3, std_normalize=std_normalize, ddof=ddof, eps=eps)
    assert not torch.isnan(advantages).any()
    assert torch.equal(advantages[:9], torch.zeros(9))
    assert (advantages[9:] != 0).all()


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_group_of_one_is_zero_not_nan(ddof, eps):
    # A single sample has nothing to be compared with; ddof=1 would make the std 0/0.
    advantages = group_advantages(torch.tensor([0.3, 1.0, 0.0]), 1, ddof=ddof, eps=eps)
    assert torch.equal(advantages, torch.zeros(3))


def test_integer_rewards_give_float_advantages():
    advantages = group_advantages(torch.tensor([1, 0, 0, 0]), 4, eps=0.0)
    assert advantages.dtype == torch.get_default_dtype()
    assert_close(advantages, torch.tensor([1.5, -0.5, -0.5, -0.5]))


def test_rewards_not_divisible_into_groups_raise():
    with pytest.raises(ValueError, match=r"5 rewards.*groups of 2"):
        group_advantages(torch.zeros(5), 2)


def test_zero_std_group_fraction():
    # groups of 2: [1,1] equal, [0,1] not, [0,0] equal, [1,0] not -> 2 / 4
    rewards = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    assert zero_std_group_fraction(rewards, 2) == 0.5
    assert zero_std_group_fraction(rewards, 1) == 1.0


def test_registered_estimators():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    assert {"grpo", "dr_grpo"} <= set(ADVANTAGE_ESTIMATORS.names())
    grpo = ADVANTAGE_ESTIMATORS.get("grpo")(rewards, 4, ddof=0, eps=1e-4)
    assert_close(grpo, group_advantages(rewards, 4, ddof=0, eps=1e-4))
    # dr_grpo takes the same keywords as grpo (so a config can switch estimator alone) and ignores them.
    dr_grpo = ADVANTAGE_ESTIMATORS.get("dr_grpo")(rewards, 4, ddof=0, eps=1e-4)
    assert_close(dr_grpo, torch.tensor([0.75, -0.25, -0.25, -0.25, -0.75, 0.25, 0.25, 0.25]))
    with pytest.raises(KeyError, match="available: .*dr_grpo.*grpo"):
        ADVANTAGE_ESTIMATORS.get("grp")


def test_whitening_over_the_rollouts_tokens_on_every_rank():
    from rlvr.algorithms import whiten_advantages

    # Two ranks, one sequence each: A = 1 with 3 tokens, A = -1 with 1 token. Over the 4 tokens:
    # mean (3 - 1) / 4 = 0.5; var (3 * 0.25 + 2.25) / 4 = 0.75; (1 - 0.5) / sqrt(0.75) and (-1 - 0.5) / sqrt(0.75).
    ranks = [(torch.tensor([1.0]), torch.tensor([3.0])), (torch.tensor([-1.0]), torch.tensor([1.0]))]
    calls = []

    def over_ranks(rank):
        def sum_over_ranks(local):  # what all_reduce would return: this rank's tensor plus the other's
            calls.append(rank)
            other = ranks[1 - rank]
            own = ranks[rank]
            if local.numel() == 2:
                return local + torch.stack([(other[0] * other[1]).sum(), other[1].sum()])
            mean = torch.tensor(0.5)
            return local + ((other[0] - mean).pow(2) * other[1]).sum().reshape(1)
        return sum_over_ranks

    whitened = [whiten_advantages(a, t, over_ranks(r)).item() for r, (a, t) in enumerate(ranks)]
    assert whitened == pytest.approx([0.5 / 0.75**0.5, -1.5 / 0.75**0.5])
    assert calls == [0, 0, 1, 1]  # two collectives per rank: sums and counts, then squared deviations
    # no spread at all: the advantages stay 0 (the variance floor 1e-8 keeps them finite)
    assert whiten_advantages(torch.zeros(3), torch.tensor([1.0, 2.0, 3.0])).tolist() == [0.0, 0.0, 0.0]
