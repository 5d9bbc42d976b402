"""Policy losses: hand-worked values per clip mode and aggregation, metrics, and gradients checked
against a naive loop implementation."""

import math

import pytest
import torch
from torch.testing import assert_close

from rlvr.algorithms import LOSS_AGGREGATIONS, POLICY_LOSSES, aggregate_loss, kl_penalty, policy_loss

CLIP_MODES = ["standard", "none", "no_old_logprob"]
AGGREGATIONS = ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]


def one_token(logprob: float, old_logprob: float, advantage: float):
    """A batch of a single valid token, float64, logprobs requiring grad."""
    logprobs = torch.tensor([[logprob]], dtype=torch.float64, requires_grad=True)
    old_logprobs = torch.tensor([[old_logprob]], dtype=torch.float64)
    return logprobs, old_logprobs, torch.tensor([advantage], dtype=torch.float64), torch.ones(1, 1)


def test_registries_hold_the_documented_names():
    assert set(POLICY_LOSSES.names()) == set(CLIP_MODES)
    assert set(LOSS_AGGREGATIONS.names()) == set(AGGREGATIONS) | {"pack-token-mean"}


# ---------------------------------------------------------------------------------------------------
# Per-token objectives, one token at a time
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "clip, logprob, old_logprob, advantage, expected_loss, expected_grad",
    [
        # ratio is e; clipped to 1.2; A=1: -min(e, 1.2) = -1.2, and the clip zeroes the gradient.
        ("standard", 1.0, 0.0, 1.0, -1.2, 0.0),
        # ratio is e, A=-1: -min(-e, -1.2) = e. Pessimistic: the unclipped term is kept, grad = -r A = e.
        ("standard", 1.0, 0.0, -1.0, math.e, math.e),
        # ratio is 1/e = 0.3679, A=-1: -min(-0.3679, -0.8) = 0.8, clipped, no gradient.
        ("standard", -1.0, 0.0, -1.0, 0.8, 0.0),
        # ratio is 1/e, A=1: -min(0.3679, 0.8) = -0.3679, unclipped, grad = -r A = -0.3679.
        ("standard", -1.0, 0.0, 1.0, -1 / math.e, -1 / math.e),
        # ratio is 1.1 inside [0.8, 1.2], A=2: -2.2, grad -2.2.
        ("standard", math.log(1.1), 0.0, 2.0, -2.2, -2.2),
        # no clip: ratio e, A=1 -> -e, grad -e.
        ("none", 1.0, 0.0, 1.0, -math.e, -math.e),
        ("none", -1.0, 0.0, -1.0, 1 / math.e, 1 / math.e),
        # no old logprob: pi = 0.5 (ratio would be 0.5 / 0.25 = 2), A=2 -> -0.5 * 2 = -1 (not -4), grad -1.
        ("no_old_logprob", math.log(0.5), math.log(0.25), 2.0, -1.0, -1.0),
    ],
)
def test_single_token_loss_and_gradient(clip, logprob, old_logprob, advantage, expected_loss, expected_grad):
    logprobs, old_logprobs, advantages, mask = one_token(logprob, old_logprob, advantage)
    loss, _ = policy_loss(logprobs, old_logprobs, advantages, mask, clip=clip)
    loss.backward()
    assert loss.item() == pytest.approx(expected_loss, abs=1e-12)
    assert logprobs.grad.item() == pytest.approx(expected_grad, abs=1e-12)


def test_asymmetric_clip_range():
    # clip_high = 0.28 (DAPO's clip-higher): ratio e is clipped to 1.28 -> loss -1.28 with A=1,
    # ratio 1/e is clipped to 1 - 0.1 = 0.9 -> loss 0.9 with A=-1.
    loss_high, _ = policy_loss(*one_token(1.0, 0.0, 1.0), clip_low=0.1, clip_high=0.28)
    loss_low, _ = policy_loss(*one_token(-1.0, 0.0, -1.0), clip_low=0.1, clip_high=0.28)
    assert loss_high.item() == pytest.approx(-1.28, abs=1e-12)
    assert loss_low.item() == pytest.approx(0.9, abs=1e-12)


def test_no_gradient_reaches_advantages_or_old_logprobs():
    logprobs = torch.tensor([[-0.5, -1.0]], requires_grad=True)
    old_logprobs = torch.tensor([[-0.6, -0.9]], requires_grad=True)
    advantages = torch.tensor([1.0], requires_grad=True)
    for clip in CLIP_MODES:
        loss, metrics = policy_loss(logprobs, old_logprobs, advantages, torch.ones(1, 2), clip=clip)
        loss.backward()
        assert advantages.grad is None and old_logprobs.grad is None
        assert all(value.dim() == 0 and not value.requires_grad for value in metrics.values())


# ---------------------------------------------------------------------------------------------------
# Aggregations on a 2x3 example
# ---------------------------------------------------------------------------------------------------

TOKEN_LOSS = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
MASK = torch.tensor([[1, 1, 0], [1, 0, 0]])  # 3 and 5, 6 are padding


@pytest.mark.parametrize(
    "aggregation, mask, expected",
    [
        # (1 + 2 + 4) / 3 tokens = 2.3333
        ("token-mean", MASK, 7 / 3),
        # mean of per-sequence means: ((1 + 2) / 2 + 4 / 1) / 2 = (1.5 + 4) / 2 = 2.75
        ("seq-mean-token-mean", MASK, 2.75),
        # (1 + 2 + 4) / (B=2 * max_response_len=4) = 0.875
        ("seq-mean-token-sum-norm", MASK, 7 / 8),
        # The second sequence is empty: token-mean (1 + 2) / 2 = 1.5; seq-mean: (1.5 + 0) / 2 = 0.75;
        # sum-norm: 3 / 8 = 0.375.
        ("token-mean", torch.tensor([[1, 1, 0], [0, 0, 0]]), 1.5),
        ("seq-mean-token-mean", torch.tensor([[1, 1, 0], [0, 0, 0]]), 0.75),
        ("seq-mean-token-sum-norm", torch.tensor([[1, 1, 0], [0, 0, 0]]), 0.375),
        # Nothing valid at all: 0, never NaN.
        ("token-mean", torch.zeros(2, 3), 0.0),
        ("seq-mean-token-mean", torch.zeros(2, 3), 0.0),
        ("seq-mean-token-sum-norm", torch.zeros(2, 3), 0.0),
    ],
)
def test_aggregation_by_hand(aggregation, mask, expected):
    loss = aggregate_loss(TOKEN_LOSS, mask, aggregation, max_response_len=4)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("mask", [MASK.bool(), MASK.float(), MASK])
def test_mask_dtypes_agree(mask):
    assert aggregate_loss(TOKEN_LOSS, mask, "seq-mean-token-mean").item() == pytest.approx(2.75)


def test_padding_values_do_not_leak():
    # inf / NaN under the padding must not turn the loss into NaN (0 * inf = NaN if masking multiplied).
    garbage = TOKEN_LOSS.clone()
    garbage[0, 2], garbage[1, 1] = float("inf"), float("nan")
    for aggregation in AGGREGATIONS:
        loss = aggregate_loss(garbage, MASK, aggregation, max_response_len=4)
        assert loss.item() == aggregate_loss(TOKEN_LOSS, MASK, aggregation, max_response_len=4).item()


def test_dr_grpo_aggregation_needs_max_response_len():
    with pytest.raises(ValueError, match="max_response_len"):
        aggregate_loss(TOKEN_LOSS, MASK, "seq-mean-token-sum-norm")
    logprobs, old_logprobs, advantages, mask = one_token(-1.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="max_response_len"):
        policy_loss(logprobs, old_logprobs, advantages, mask, aggregation="seq-mean-token-sum-norm")


def test_dr_grpo_aggregation_through_policy_loss():
    # Two tokens, ratio 1, A=1: token losses -1, -1 -> sum -2 / (B=1 * 8) = -0.25
    logprobs = torch.full((1, 2), -1.0)
    loss, _ = policy_loss(
        logprobs, logprobs, torch.ones(1), torch.ones(1, 2), aggregation="seq-mean-token-sum-norm", max_response_len=8
    )
    assert loss.item() == pytest.approx(-0.25)


def test_unknown_names_list_the_known_ones():
    logprobs, old_logprobs, advantages, mask = one_token(-1.0, -1.0, 1.0)
    with pytest.raises(KeyError, match="available: no_old_logprob, none, standard"):
        policy_loss(logprobs, old_logprobs, advantages, mask, clip="standart")
    with pytest.raises(KeyError, match="available: pack-token-mean, seq-mean-token-mean, seq-mean-token-sum-norm, token-mean"):
        policy_loss(logprobs, old_logprobs, advantages, mask, aggregation="seq-mean")


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match=r"advantages must be \[B\]"):
        policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 1), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), torch.ones(2, 4))


# ---------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------


def ratio_batch(ratios, advantages, mask):
    """A batch whose ratios pi / pi_old are exactly ``ratios`` (old logprob 0)."""
    logprobs = torch.tensor(ratios, dtype=torch.float64).log()
    return logprobs, torch.zeros_like(logprobs), torch.tensor(advantages, dtype=torch.float64), torch.tensor(mask)


# Sequence 0 has A=+1, ratios [1.5, 1.0, 1.3]: 1.5 and 1.3 are above 1.2 -> 2 "high".
# Sequence 1 has A=-1, ratios [0.5, 0.9, 0.7]: 0.5 is below 0.8 -> 1 "low"; 0.7 is padding.
# 5 valid tokens: clip_frac_high = 2/5 = 0.4, clip_frac_low = 1/5 = 0.2, clip_frac = 0.6.
CLIP_EXAMPLE = ([[1.5, 1.0, 1.3], [0.5, 0.9, 0.7]], [1.0, -1.0], [[1, 1, 1], [1, 1, 0]])


@pytest.mark.parametrize("clip", CLIP_MODES)
def test_metrics_by_hand(clip):
    # The clip fractions say what the standard clip does (or would do), whatever the mode.
    _, metrics = policy_loss(*ratio_batch(*CLIP_EXAMPLE), clip=clip)
    assert metrics["clip_frac_high"].item() == pytest.approx(0.4)
    assert metrics["clip_frac_low"].item() == pytest.approx(0.2)
    assert metrics["clip_frac"].item() == pytest.approx(0.6)
    # over valid tokens [1.5, 1.0, 1.3, 0.5, 0.9]: max 1.5, min 0.5 (not the padded 0.7), mean 5.2 / 5
    assert metrics["ratio_max"].item() == pytest.approx(1.5)
    assert metrics["ratio_min"].item() == pytest.approx(0.5)
    assert metrics["ratio_mean"].item() == pytest.approx(1.04)
    # k3 = r - 1 - log r: 0.094535, 0, 0.037636, 0.193147, 0.005361 -> sum 0.330678 / 5 = 0.066136
    assert metrics["approx_kl"].item() == pytest.approx(0.066136, abs=1e-6)


def test_clip_fractions_follow_clip_range():
    # clip_high = 0.4: only 1.5 > 1.4 -> 1/5; clip_low = 0.6: 0.5 is not below 0.4 -> 0.
    _, metrics = policy_loss(*ratio_batch(*CLIP_EXAMPLE), clip_low=0.6, clip_high=0.4)
    assert metrics["clip_frac_high"].item() == pytest.approx(0.2)
    assert metrics["clip_frac_low"].item() == 0.0


def test_clip_fractions_ignore_ratios_the_clip_does_not_bind():
    # A>0 with r=0.5 and A<0 with r=1.5 are outside the range, but min() keeps the unclipped term there.
    _, metrics = policy_loss(*ratio_batch([[0.5], [1.5]], [1.0, -1.0], [[1], [1]]))
    assert metrics["clip_frac"].item() == 0.0


def test_no_valid_tokens_gives_zero_loss_and_metrics():
    logprobs, old_logprobs, advantages, _ = ratio_batch(*CLIP_EXAMPLE)
    for aggregation in AGGREGATIONS:
        loss, metrics = policy_loss(
            logprobs, old_logprobs, advantages, torch.zeros(2, 3), aggregation=aggregation, max_response_len=3
        )
        assert loss.item() == 0.0
        assert {name: value.item() for name, value in metrics.items()} == {name: 0.0 for name in metrics}


# ---------------------------------------------------------------------------------------------------
# Gradients against a naive loop implementation
# ---------------------------------------------------------------------------------------------------


def naive_policy_loss(logprobs, old_logprobs, advantages, mask, clip, aggregation, max_response_len,
                      clip_low=0.2, clip_high=0.2):
    """The same loss written token by token with Python scalars and min/max on 0-dim tensors."""
    num_sequences, num_positions = logprobs.shape
    sequence_losses = []  # per sequence: the list of its valid token losses
    for b in range(num_sequences):
        advantage = float(advantages[b])
        token_losses = []
        for t in range(num_positions):
            if not mask[b, t]:
                continue
            logprob, old_logprob = logprobs[b, t], float(old_logprobs[b, t])
            if clip == "no_old_logprob":
                token_losses.append(-torch.exp(logprob) * advantage)
                continue
            ratio = torch.exp(logprob - old_logprob)
            if clip == "none":
                token_losses.append(-ratio * advantage)
                continue
            clipped_ratio = min(max(ratio, 1 - clip_low), 1 + clip_high)  # a float when clipped: no grad
            token_losses.append(-min(ratio * advantage, clipped_ratio * advantage))
        sequence_losses.append(token_losses)

    zero = torch.zeros((), dtype=logprobs.dtype)
    all_tokens = [loss for token_losses in sequence_losses for loss in token_losses]
    if aggregation == "token-mean":
        return sum(all_tokens, zero) / max(len(all_tokens), 1)
    if aggregation == "seq-mean-token-mean":
        means = [sum(token_losses, zero) / max(len(token_losses), 1) for token_losses in sequence_losses]
        return sum(means, zero) / num_sequences
    if aggregation == "seq-mean-token-sum-norm":
        return sum(all_tokens, zero) / (num_sequences * max_response_len)
    raise AssertionError(aggregation)


def random_batch(seed=0, num_sequences=6, num_positions=7):
    generator = torch.Generator().manual_seed(seed)
    logprobs = -torch.rand(num_sequences, num_positions, generator=generator, dtype=torch.float64) * 2.0
    # log-ratios in [-0.6, 0.6] -> ratios in [0.55, 1.82], straddling both clip edges 0.8 and 1.2
    log_ratio = (torch.rand(num_sequences, num_positions, generator=generator, dtype=torch.float64) - 0.5) * 1.2
    advantages = torch.tensor([1.3, -0.7, 0.4, -1.1, 0.9, -0.2], dtype=torch.float64)[:num_sequences]
    lengths = torch.tensor([7, 5, 3, 1, 6, 0])[:num_sequences]  # right padding; one empty response
    mask = torch.arange(num_positions)[None, :] < lengths[:, None]  # [B, T]
    return logprobs.requires_grad_(True), (logprobs - log_ratio).detach(), advantages, mask


def test_random_batch_exercises_both_clip_edges():
    # Guard for the gradient test below: with this seed the standard clip binds on both sides.
    logprobs, old_logprobs, advantages, mask = random_batch()
    _, metrics = policy_loss(logprobs, old_logprobs, advantages, mask)
    assert metrics["clip_frac_low"].item() > 0 and metrics["clip_frac_high"].item() > 0
    assert metrics["clip_frac"].item() < 1  # and some tokens keep their gradient


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("clip", CLIP_MODES)
def test_gradients_match_naive_loops(clip, aggregation):
    logprobs, old_logprobs, advantages, mask = random_batch()
    max_response_len = 10  # larger than T, as when the batch is shorter than the generation cap

    loss, _ = policy_loss(
        logprobs, old_logprobs, advantages, mask, clip=clip, aggregation=aggregation, max_response_len=max_response_len
    )
    (grad,) = torch.autograd.grad(loss, logprobs)

    expected_loss = naive_policy_loss(logprobs, old_logprobs, advantages, mask, clip, aggregation, max_response_len)
    (expected_grad,) = torch.autograd.grad(expected_loss, logprobs)

    assert_close(loss, expected_loss, rtol=1e-6, atol=1e-6)
    assert_close(grad, expected_grad, rtol=1e-6, atol=1e-6)
    assert torch.equal(grad[~mask], torch.zeros_like(grad[~mask]))  # padding gets no gradient


# ---------------------------------------------------------------------------------------------- KL
def test_kl_estimators_by_hand():
    logp = torch.tensor([[math.log(0.5), math.log(0.25)]])
    ref = torch.tensor([[math.log(0.25), math.log(0.5)]])
    # log r = logp - ref = [ln 2, -ln 2]
    assert torch.allclose(kl_penalty(logp, ref, "k1"), torch.tensor([[math.log(2), -math.log(2)]]))
    assert torch.allclose(kl_penalty(logp, ref, "k2"), torch.tensor([[0.5 * math.log(2) ** 2] * 2]))
    # k3 = ref/p - 1 - ln(ref/p): token 1: 0.5 - 1 + ln 2 = 0.19315; token 2: 2 - 1 - ln 2 = 0.30685
    assert torch.allclose(kl_penalty(logp, ref, "k3"), torch.tensor([[0.5 - 1 + math.log(2), 1 - math.log(2)]]))
    assert torch.equal(kl_penalty(ref, ref, "k3"), torch.zeros(1, 2))


def test_k3_is_an_unbiased_kl_estimate_by_exact_expectation():
    # E_{x~p}[k3] over a 3-way distribution equals sum p log(p/q), computed independently.
    p = torch.tensor([0.5, 0.3, 0.2])
    q = torch.tensor([0.2, 0.5, 0.3])
    k3 = kl_penalty(p.log()[None], q.log()[None], "k3")[0]
    expected = float((p * (p / q).log()).sum())
    assert abs(float((p * k3).sum()) - expected) < 1e-6


def test_kl_gradient_reaches_the_policy_only_and_unknown_estimator_is_named():
    logp = torch.tensor([[-1.0]], requires_grad=True)
    ref = torch.tensor([[-2.0]], requires_grad=True)
    kl_penalty(logp, ref, "k3").sum().backward()
    # d/dx [exp(-(x - r)) - 1 + (x - r)] = 1 - exp(r - x) = 1 - e^-1
    assert abs(logp.grad.item() - (1 - math.exp(-1))) < 1e-6 and ref.grad is None
    with pytest.raises(KeyError, match="k3"):
        kl_penalty(logp, ref, "k4")


@pytest.mark.parametrize(
    "pack_size, expected",
    [
        # TOKEN_LOSS with MASK: one pack of both sequences = the token mean (1 + 2 + 4) / 3
        (2, 7 / 3),
        # packs of one = the per-sequence means (1.5 + 4) / 2
        (1, 2.75),
    ],
)
def test_pack_token_mean_lies_between_token_mean_and_sequence_mean(pack_size, expected):
    assert aggregate_loss(TOKEN_LOSS, MASK, "pack-token-mean", pack_size=pack_size).item() == pytest.approx(expected)


def test_pack_token_mean_by_hand_and_its_errors():
    loss = torch.tensor([[1.0, 1.0], [3.0, 0.0], [2.0, 2.0], [6.0, 6.0]])
    mask = torch.tensor([[1, 1], [1, 0], [1, 1], [1, 1]])
    # packs of 2: (1 + 1 + 3) / 3 and (2 + 2 + 6 + 6) / 4; their mean (5/3 + 4) / 2 = 17/6
    assert aggregate_loss(loss, mask, "pack-token-mean", pack_size=2).item() == pytest.approx(17 / 6)
    with pytest.raises(ValueError, match="pack_size that divides the batch of 4 sequences, got 3"):
        aggregate_loss(loss, mask, "pack-token-mean", pack_size=3)
    with pytest.raises(ValueError, match="got None"):
        aggregate_loss(loss, mask, "pack-token-mean")


def test_the_official_codes_loss_on_a_small_batch():
    """The paper's official code (TTRL/OpenRLHF, group_norm + normalize("advantages") + packing_samples),
    worked by hand on two groups of two responses of 2, 1 | 1, 4 tokens, rewards 1, 0 | 1, 1, at ratio 1.

    Group normalisation (unbiased std): group 1: mean 1/2, std sqrt(1/2) -> a, -a with a = 1/sqrt(2);
    group 2 is all equal -> 0, 0. Token whitening over the 8 tokens: mean = (2a - a) / 8 = a/8;
    deviations 7a/8, -9a/8, -a/8, -a/8; var = (2*49 + 81 + 1 + 4) a^2 / (64 * 8) = 184/1024; so
    w1 = 1.4596009, w2 = -1.8766297, w3 = w4 = -0.2085144. At ratio 1 a token's loss is -w; packs of 2:
    pack 1 (2 + 1 tokens) -(2 w1 + w2) / 3 = -0.3475240, pack 2 (1 + 4 tokens) -w3 = 0.2085144;
    the loss is their mean, -0.0695048.
    """
    from rlvr.algorithms import group_advantages, whiten_advantages

    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0])
    lengths = torch.tensor([2, 1, 1, 4])
    mask = (torch.arange(4) < lengths[:, None]).float()  # [4, 4]
    advantages = whiten_advantages(group_advantages(rewards, 2, ddof=1, eps=1e-9), lengths)
    assert advantages.tolist() == pytest.approx([1.4596009, -1.8766297, -0.2085144, -0.2085144], abs=1e-6)
    logprobs = torch.randn(4, 4)
    loss, metrics = policy_loss(logprobs, logprobs.clone(), advantages, mask, clip="standard",
                                aggregation="pack-token-mean", pack_size=2)  # fmt: skip
    assert loss.item() == pytest.approx(-0.0695048, abs=1e-6) and metrics["clip_frac"].item() == 0
