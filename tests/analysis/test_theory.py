"""analysis.theory: GRPO's clipping bias under random rewards (paper App. B) on a softmax policy.

Expected values come from hand calculation (worked in the comments), from the project's own torch advantage
function, or from an independent brute-force enumeration; never from the module's output.
"""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from analysis import theory
from analysis.stats import chance_of_at_least
from analysis.theory import (
    bandit_figure, bandit_simulation, bandit_summary, clipping_bias, enumerated_rollouts,
    expected_update_exact, expected_update_mc, expected_update_with_rule, group_advantages,
    positive_advantage_mass, rollout_update, softmax, surrogate_gradient, surrogate_slope, upper_clip_reachable,
    upper_clip_threshold,
)  # fmt: skip
from conftest import REPO, run_module
from rlvr.algorithms.advantages import group_advantages as torch_group_advantages

EPS = 1e-6  # the project's advantage eps (std + eps)


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# ---------------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------------


def test_advantages_are_the_projects_including_all_equal_groups():
    rng = np.random.default_rng(0)
    rewards = (rng.random((6, 8)) < 0.5).astype(float)
    rewards[0], rewards[1] = 1.0, 0.0  # all-equal groups: advantage exactly 0
    expected = torch_group_advantages(torch.tensor(rewards.reshape(-1)), 8).numpy().reshape(6, 8)
    np.testing.assert_allclose(group_advantages(rewards), expected, atol=1e-6)
    assert (group_advantages(rewards)[:2] == 0).all()
    assert (group_advantages(np.array([[0.7]])) == 0).all()  # a group of one


def test_all_equal_rewards_give_zero_advantages_and_move_nothing():
    advantages = group_advantages(np.array([1.0, 1.0, 1.0, 1.0]))
    assert (advantages == 0).all()
    logits = np.log([0.7, 0.3])
    np.testing.assert_array_equal(rollout_update(logits, np.array([0, 1, 0, 0]), advantages, lr=5.0, steps=4), logits)


def test_surrogate_slope_is_the_appendix_case_analysis():
    # A > 0: gradient unless r > 1 + eps_high; A < 0: gradient unless r < 1 - eps_low (eps 0.2 / 0.28)
    ratio = np.array([0.7, 1.0, 1.25, 1.3, 0.7, 0.9, 1.5])
    advantage = np.array([1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    slope = surrogate_slope(ratio, advantage, eps_low=0.2, eps_high=0.28, clip=True)
    np.testing.assert_array_equal(slope, [1.0, 1.0, 1.0, 0.0, 0.0, -1.0, -1.0])
    np.testing.assert_array_equal(surrogate_slope(ratio, advantage, eps_low=0.2, eps_high=0.28, clip=False), advantage)


@pytest.mark.parametrize("clip", [True, False])
def test_gradient_matches_finite_differences_of_the_objective(clip):
    """The analytic gradient against central differences of the mean objective."""
    rng = np.random.default_rng(1)
    old_logits = np.array([0.3, -0.2, 0.5])
    logits = old_logits + np.array([0.35, -0.4, 0.05])  # ratios (1.28, 0.61, 0.95): on both sides of the band
    choices = np.array([0, 1, 2, 0, 1, 2, 1])
    advantages = rng.normal(size=7)
    old_probs = softmax(old_logits)

    def objective(x):  # the PPO objective, written out independently: min(r A, clip(r, 0.8, 1.2) A), or r A
        ratio = softmax(x)[choices] / old_probs[choices]
        unclipped = ratio * advantages
        return (np.minimum(unclipped, np.clip(ratio, 0.8, 1.2) * advantages) if clip else unclipped).mean()

    numeric = np.array([(objective(logits + h) - objective(logits - h)) / 2e-6 for h in np.eye(3) * 1e-6])
    analytic = surrogate_gradient(logits, old_probs, choices, advantages, eps_low=0.2, eps_high=0.2, clip=clip)
    np.testing.assert_allclose(analytic, numeric, atol=1e-7)


def test_one_rollout_by_hand_clip_against_no_clip():
    # p_old = (0.8, 0.2), lr 1, one sample per step. Step 1: choice 1, A = +1, r = 1: gradient
    # onehot(1) - p = (-0.8, 0.8), so the margin z = l0 - l1 = ln 4 drops by 1.6 and p0 = sigmoid(ln 4 - 1.6).
    # Step 2: choice 0, A = -1, r0 = p0 / 0.8 = 0.558 < 0.8 -> clipped: nothing moves. Without the clip the
    # gradient is -r0 (onehot(0) - p) = -r0 (1 - p0, -(1 - p0)), so z drops by a further 2 r0 (1 - p0).
    z = math.log(4) - 1.6
    p0 = sigmoid(z)
    r0 = p0 / 0.8
    args = (np.log([0.8, 0.2]), np.array([1, 0]), np.array([1.0, -1.0]))
    clipped = softmax(rollout_update(*args, lr=1.0, steps=2, clip=True))[0]
    unclipped = softmax(rollout_update(*args, lr=1.0, steps=2, clip=False))[0]
    assert clipped == pytest.approx(p0, abs=1e-12)
    assert unclipped == pytest.approx(sigmoid(z - 2 * r0 * (1 - p0)), abs=1e-12)
    assert round(p0, 5) == 0.44678 and round(unclipped, 5) == 0.30330


# ---------------------------------------------------------------------------------------------------
# The expected update: enumeration, Monte Carlo, the hand-worked case
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_choices, group_size, steps", [(2, 2, 1), (2, 4, 2), (2, 8, 8), (3, 3, 3), (2, 6, 1)])
def test_enumeration_covers_every_ordered_outcome_once(num_choices, group_size, steps):
    choices, rewards, count = enumerated_rollouts(num_choices, group_size, steps)
    assert count.sum() == (2 * num_choices) ** group_size  # (choice, reward) per sample, in order
    # brute force for the small ones: each ordered outcome maps to exactly one enumerated rollout
    if (2 * num_choices) ** group_size <= 4096:
        size = group_size // steps
        canon = lambda c, r: tuple(tuple(sorted(zip(c[s * size:(s + 1) * size], r[s * size:(s + 1) * size])))
                                   for s in range(steps))  # fmt: skip
        seen = {}
        for outcome in itertools.product(range(2 * num_choices), repeat=group_size):
            key = canon([t // 2 for t in outcome], [t % 2 for t in outcome])
            seen[key] = seen.get(key, 0) + 1
        mine = {canon(c.tolist(), r.astype(int).tolist()): n for c, r, n in zip(choices, rewards, count)}
        assert mine == seen


def test_tiny_case_by_hand_two_samples_one_step():
    # G = 2, K = 2, p_old = (0.8, 0.2), gamma 0.5, lr 1, one step on both samples.
    # Advantages are nonzero only when the rewards differ (chance 1/2): then (r - 0.5) / (sqrt(0.5) + eps)
    # = +-a with a = 0.5 / 0.70711 = 0.70711. If both samples made the same choice their gradients cancel.
    # So only "choices differ" (chance 2 * 0.8 * 0.2 = 0.32) and "rewards differ" (1/2) moves anything:
    # chance 0.16. Then gradient = (1/2)[a (e0 - p) - a (e1 - p)] = (a/2)(e0 - e1) (or its negative, equally
    # likely): the margin moves by +-a, from ln 4 = 1.38629 to 2.09340 or 0.67919, p0 = 0.89026 or 0.66356:
    # E[dp0] = 0.16 * (0.09026 - 0.13644) / 2 = -0.0036946. E[d logits] = 0 by the same symmetry.
    a = 0.5 / (math.sqrt(0.5) + EPS)
    expected = 0.16 * (sigmoid(math.log(4) + a) + sigmoid(math.log(4) - a) - 2 * 0.8) / 2
    assert expected == pytest.approx(-0.0036946, abs=1e-6)
    for clip, eps_high in ((True, 0.2), (True, 0.28), (False, 0.2)):  # one step: r = 1, the clip never binds
        update = expected_update_exact([0.8, 0.2], group_size=2, steps=1, lr=1.0, clip=clip, eps_high=eps_high)
        assert update.probability_change[0] == pytest.approx(expected, abs=1e-12)
        assert update.probability_change[1] == pytest.approx(-expected, abs=1e-12)
        assert abs(update.logit_change).max() < 1e-12
        assert update.outcomes == 10  # multisets of 2 (choice, reward) pairs


@pytest.mark.parametrize("probs, group_size, steps, lr, eps_high, clip", [
    ([0.7, 0.3], 4, 2, 2.0, 0.2, True),
    ([0.5, 0.3, 0.2], 3, 3, 2.0, 0.28, True),
    ([0.85, 0.15], 8, 8, 1.0, 0.2, True),
    ([0.65, 0.35], 8, 8, 1.0, 0.2, False),
])  # fmt: skip
def test_exact_and_monte_carlo_agree(probs, group_size, steps, lr, eps_high, clip):
    settings = dict(group_size=group_size, steps=steps, lr=lr, eps_high=eps_high, clip=clip)
    exact = expected_update_exact(probs, **settings)
    mc = expected_update_mc(probs, rollouts=200_000, seed=3, **settings)
    assert (mc.probability_se < 2e-3).all()  # small enough for the comparison to mean something
    assert np.all(np.abs(exact.probability_change - mc.probability_change) < 4 * mc.probability_se + 1e-12)
    assert np.all(np.abs(exact.logit_change - mc.logit_change) < 4 * mc.logit_se + 1e-12)


def test_enumeration_refuses_what_it_cannot_enumerate():
    with pytest.raises(ValueError, match="expected_update_mc"):
        expected_update_exact([0.5, 0.5], group_size=16, steps=8, lr=1.0)  # 10^8 mini-batch sequences
    with pytest.raises(ValueError, match="equal mini-batches"):
        expected_update_exact([0.5, 0.5], group_size=6, steps=4, lr=1.0)
    with pytest.raises(KeyError, match="standard, higher, none, one_update"):
        theory.update_rule("clipped")


# ---------------------------------------------------------------------------------------------------
# App. B: unbiased without the clip, the closed form of the bias, the p_old = 0.85 example
# ---------------------------------------------------------------------------------------------------


def test_random_reward_advantage_has_mean_zero_exactly():
    # App. B.1.1, by enumerating the 2^5 reward patterns of a group of 5 at gamma 0.3
    mean = np.zeros(5)
    for pattern in itertools.product((0.0, 1.0), repeat=5):
        chance = math.prod(0.3 if r else 0.7 for r in pattern)
        mean += chance * group_advantages(np.array(pattern))
    np.testing.assert_allclose(mean, 0.0, atol=1e-15)


@pytest.mark.parametrize("clip", [True, False])
def test_expected_gradient_at_the_sampling_policy_is_zero(clip):
    """k = 1 (and the plain ratio objective): E[gradient] over every outcome of a group of 6, K = 3, is 0."""
    p_old = np.array([0.6, 0.3, 0.1])
    choices, rewards, count = enumerated_rollouts(3, 6, 1)
    ones = rewards.sum(axis=1)
    chance = count * np.prod(p_old[choices], axis=1) * 0.4**ones * 0.6 ** (6 - ones)
    assert chance.sum() == pytest.approx(1.0, abs=1e-12)
    gradient = surrogate_gradient(np.log(p_old), p_old, choices, group_advantages(rewards), eps_low=0.2,
                                  eps_high=0.2, clip=clip)  # fmt: skip
    np.testing.assert_allclose(chance @ gradient, 0.0, atol=1e-15)


@pytest.mark.parametrize("mode", ["standard", "higher", "none", "one_update"])
@pytest.mark.parametrize("prior", [0.3, 0.65, 0.85])
def test_one_update_per_rollout_leaves_the_logits_unbiased(mode, prior):
    """k = 1: on-policy, the expected logit change is exactly 0 whatever the clip mode."""
    update = expected_update_with_rule([prior, 1 - prior], mode, group_size=8, minibatches=1, lr=2.0)
    assert update.outcomes == 165  # multisets of 8 over the 4 (choice, reward) types: C(11, 3)
    assert abs(update.logit_change).max() < 1e-12


def test_without_the_clip_logits_stay_unbiased_even_after_many_steps():
    # E_{c ~ p_old}[d r_c / d logits] = d/dlogits sum_c p(c) = 0, and a sample's choice is independent of its
    # advantage and of the earlier steps, so the ratio objective never biases the logits.
    for prior in (0.3, 0.65, 0.85):
        update = expected_update_exact([prior, 1 - prior], group_size=8, steps=8, lr=2.0, clip=False)
        assert abs(update.logit_change).max() < 1e-12


def test_probability_drift_of_an_unbiased_update_is_second_order():
    # E[dz] = 0, so E[dp] = E[sigmoid(z + dz)] - sigmoid(z) ~ sigmoid''(z) E[dz^2] / 2 = O(lr^2), and for
    # p > 0.5 sigmoid'' < 0: towards 1/2 (Jensen). Halving lr quarters it.
    drift = [expected_update_with_rule([0.75, 0.25], "one_update", group_size=8, minibatches=8, lr=lr)
             .probability_change[0] for lr in (0.2, 0.1)]  # fmt: skip
    assert drift[0] < 0 and drift[1] < 0
    assert drift[0] / drift[1] == pytest.approx(4.0, rel=0.05)


def test_positive_advantage_mass_by_hand_and_by_brute_force():
    # G = 2, gamma 1/2: mixed group w.p. 1/2, the sample is the 1 half of those times: mu = a / 4
    assert positive_advantage_mass(2, 0.5) == pytest.approx(0.25 * 0.5 / (math.sqrt(0.5) + EPS), abs=1e-12)
    # G = 5, gamma 0.3: E[max(A_0, 0)] over the 2^5 patterns, advantages from the project's torch function
    brute = 0.0
    for pattern in itertools.product((0.0, 1.0), repeat=5):
        chance = math.prod(0.3 if r else 0.7 for r in pattern)
        brute += chance * max(torch_group_advantages(torch.tensor(pattern), 5)[0].item(), 0.0)
    assert positive_advantage_mass(5, 0.3) == pytest.approx(brute, abs=1e-6)


@pytest.mark.parametrize("ratio, direction", [(0.7, 1.0), (0.85, 0.0), (1.0, 0.0), (1.15, 0.0), (1.3, -1.0)])
def test_appendix_bias_is_the_expected_clipped_slope(ratio, direction):
    """App. B.1.2: for a sample whose advantage is independent of the ratio, E[d objective / d r] = mu * (+1 below
    the band, 0 inside, -1 above); per unit of probability it is that over p_old."""
    group_size, gamma, p_old = 4, 0.5, 0.3
    slope = 0.0
    for pattern in itertools.product((0.0, 1.0), repeat=group_size):
        chance = math.prod(gamma if r else 1 - gamma for r in pattern)
        advantage = group_advantages(np.array(pattern))[0]
        slope += chance * surrogate_slope(np.array(ratio), np.array(advantage), eps_low=0.2, eps_high=0.2, clip=True)
    mu = positive_advantage_mass(group_size, gamma)
    assert slope == pytest.approx(mu * direction, abs=1e-12)
    assert clipping_bias(ratio * p_old, p_old, mu=mu) == pytest.approx(mu * direction / p_old, abs=1e-12)


def test_the_papers_085_example():
    # p_old (1 + eps) = 0.85 * 1.2 = 1.02 > 1: the upper clip cannot bind; the threshold is 1/1.2 = 0.8333
    assert upper_clip_threshold(0.2) == pytest.approx(1 / 1.2)
    assert not upper_clip_reachable(0.85, 0.2) and upper_clip_reachable(0.83, 0.2)
    assert upper_clip_reachable(0.75, 0.28) and not upper_clip_reachable(0.79, 0.28)  # 1/1.28 = 0.78125
    # so the bias on a p_old = 0.85 choice is never negative, wherever the current policy is ...
    assert (clipping_bias(np.linspace(0.001, 1.0, 1000), 0.85, mu=1.0) >= 0).all()
    # ... while the paper's low-probability token (0.02) is pushed down above 0.024 and up below 0.016
    assert clipping_bias(0.025, 0.02, mu=1.0) < 0 < clipping_bias(0.015, 0.02, mu=1.0)
    assert clipping_bias(0.0239, 0.02, mu=1.0) == 0 == clipping_bias(0.0161, 0.02, mu=1.0)
    # In an update: eight steps that all push choice 0 up, at a huge lr. From 0.85 its ratio can reach at most
    # 1 / 0.85 = 1.18 < 1.2, so the clip never binds and the update is the unclipped one; from 0.8 it can
    # reach 1.25 and the clip stops it at 0.8 * 1.2 = 0.96 (the step that crosses it is still taken).
    choices, advantages = np.zeros(8, dtype=int), np.ones(8)
    for prior, binds in ((0.85, False), (0.8, True)):
        logits = np.log([prior, 1 - prior])
        clipped = rollout_update(logits, choices, advantages, lr=10.0, steps=8, clip=True)
        unclipped = rollout_update(logits, choices, advantages, lr=10.0, steps=8, clip=False)
        assert np.allclose(clipped, unclipped) != binds
    # and in expectation over random rewards the 0.85 choice's logit margin rises
    update = expected_update_with_rule([0.85, 0.15], "standard", group_size=8, minibatches=8, lr=1.0)
    assert update.logit_change[0] > 0.05


def test_clip_favours_the_choice_the_policy_prefers():
    """Clip 0.2, 8 mini-batch steps. Exact (one group of 8): the logit margin of a choice with prior 0.65..0.9
    rises, and falls for one with prior 0.1..0.35; its probability rises at 0.65 and 0.75 (at 0.85 and above
    the second-order drift towards 1/2 of one-sample steps wins: see the module docstring). Monte Carlo in
    the paper's layout (8 groups of 16, one group per step): the probability rises for 0.65..0.9 too."""
    exact = dict(group_size=8, minibatches=8, lr=1.0)
    for prior in (0.65, 0.75, 0.85, 0.9):
        assert expected_update_with_rule([prior, 1 - prior], "standard", **exact).logit_change[0] > 0.01
        assert expected_update_with_rule([1 - prior, prior], "standard", **exact).logit_change[0] < -0.01
    for prior in (0.65, 0.75):
        assert expected_update_with_rule([prior, 1 - prior], "standard", **exact).probability_change[0] > 0.005
    paper = dict(group_size=16, minibatches=8, lr=1.0, method="mc", groups=8, rollouts=8000, seed=0)
    for prior in (0.65, 0.75, 0.85, 0.9):
        high = expected_update_with_rule([prior, 1 - prior], "standard", **paper)
        low = expected_update_with_rule([1 - prior, prior], "standard", **paper)
        assert high.probability_change[0] > 4 * high.probability_se[0]
        assert low.probability_change[0] < -4 * low.probability_se[0]


# ---------------------------------------------------------------------------------------------------
# Figures, the bandit, the command
# ---------------------------------------------------------------------------------------------------


def test_expected_update_figure_returns_what_it_draws():
    fig, frame = theory.expected_update_figure([0.35, 0.5, 0.65], mc={"rollouts": 300})
    assert isinstance(fig, Figure)
    assert set(frame["method"]) == {"exact", "mc"} and set(frame["mode"]) == set(theory.FIGURE_MODES)
    assert len(frame[frame["method"] == "exact"]) == 4 * 3 and len(frame[frame["method"] == "mc"]) == 4 * 2
    at_half = frame[(frame["method"] == "exact") & (frame["prior"] == 0.5)]
    assert np.abs(at_half["probability_change"]).max() < 1e-12  # two equal choices: symmetry


def test_bandit_simulation_summary_and_figure():
    curves = bandit_simulation(seeds=5, rollouts=4, groups=8, seed=1)
    assert len(curves) == 3 * 5 * 5 and set(curves["mode"]) == set(theory.BANDIT_MODES)
    assert (curves[curves["rollout"] == 0]["probability"] == 0.65).all()
    assert curves["probability"].between(0, 1).all()
    pd.testing.assert_frame_equal(curves, bandit_simulation(seeds=5, rollouts=4, groups=8, seed=1))
    summary = bandit_summary(curves)
    assert list(summary.columns) == ["mode", "label", "start", "final_mean", "ci_low", "ci_high", "n_seeds",
                                     "share_up", "chance_4_of_5_up"]  # fmt: skip
    final = curves[curves["rollout"] == 4].groupby("mode", sort=False)["probability"]
    assert summary["share_up"].tolist() == pytest.approx([(f >= 0.75 - 1e-12).mean() for _, f in final])
    assert (summary["ci_low"] <= summary["final_mean"]).all() and (summary["final_mean"] <= summary["ci_high"]).all()
    assert (summary["n_seeds"] == 5).all()
    assert isinstance(bandit_figure(curves), Figure)


def test_chance_that_enough_seeds_succeed_by_hand():
    assert chance_of_at_least(4, 5, 0.5) == pytest.approx(6 / 32)  # C(5,4) + C(5,5) of 32 outcomes
    assert chance_of_at_least(0, 5, 0.3) == pytest.approx(1) and chance_of_at_least(5, 5, 1.0) == 1
    assert chance_of_at_least(1, 2, 0.9) == pytest.approx(1 - 0.1**2)


def test_the_command_writes_the_figures_and_the_table(tmp_path):
    out = tmp_path / "theory"
    result = run_module([sys.executable, "-m", "analysis.theory", "--out", str(out), "--seeds", "3", "--rollouts", "5",
                         "--groups", "8", "--lr", "0.5", "--priors", "5", "--mc-rollouts", "100"],
                        cwd=REPO, timeout=300)  # fmt: skip
    for name in ("theory_expected_update.png", "theory_expected_update.pdf", "theory_bandit.png", "theory_bandit.pdf"):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "theory_bandit.csv")
    assert list(table["mode"]) == list(theory.BANDIT_MODES)
    assert (table["start"] == 0.65).all() and (table["n_seeds"] == 3).all()
    assert "final_mean" in result.stdout and "one_update" in result.stdout
    assert "'groups': 8" in result.stdout and "'lr': 0.5" in result.stdout
