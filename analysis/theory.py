"""The clipping bias of GRPO under random rewards (paper App. B), worked out on a policy over K choices.

Random rewards' group-normalised advantages have mean 0 (B.1.1): the unclipped expected gradient is 0. The
clipped ``min(r A, clip(r, 1 - eps_low, 1 + eps_high) A)`` is not: once ``r = pi / pi_old`` has left the band,
samples that would push it further out stop counting; B.1.2: ``E[grad J] = mu E[+grad r below the band;
0 inside; -grad r above]``, ``mu = E[max(A, 0)]`` (``clipping_bias``). The band's top ``pi_old (1 + eps_high)``
is over 1 when ``pi_old > 1 / (1 + eps_high)`` (0.85 * 1.2 = 1.02): a likely choice's rises are never cut.

A softmax policy over K choices samples a group of G with Bernoulli(gamma) rewards and the project's advantages,
then takes ``steps`` SGD steps on its logits, one per consecutive mini-batch (``rollout_update``); its expected
update is ``expected_update_exact`` (enumeration) or ``_mc``; ``bandit_simulation`` runs a two-choice bandit.
``UPDATE_RULES``: clip 0.2, clip-higher 0.2/0.28, no clip, one update per rollout (at r = 1). The tests pin:

- No clip, or one update: the expected *logit* change is exactly 0 at any number of steps (a choice is drawn
  from pi_old independently of its advantage and the past, and ``E_{c ~ pi_old}[r_c] = sum_c pi(c) = 1``);
  a *probability* then drifts towards uniform at second order in lr (Jensen), more for 8 noisy steps than 1.
- Clip: the expected logit change favours the choice with p_old > 1/2 (two choices); it vanishes at small
  lr (the band is never left) and grows fast once steps leave it.
- In probability, which wins depends on a step's noise. Exactly, one group of 8 in 8 one-sample steps, lr 1:
  clip 0.2 raises p for p_old 0.5-0.83 and lowers it from 0.84 (its logit margin still rises); in the paper's
  layout (whole groups per mini-batch) p rises for all p_old in (0.5, 0.9] (Monte Carlo). B.1.2 assumes a
  sample's advantage independent of the ratio: true there, not when a group is split over the steps.

    python -m analysis.theory --out theory [--seeds 40]    # the two figures and the bandit table
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import sys
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from analysis.artifacts import save_figure
from analysis.stats import bootstrap_ci, chance_of_at_least

ADVANTAGE_DDOF, ADVANTAGE_EPS = 1, 1e-6  # the project's group_advantages defaults


class UpdateRule(NamedTuple):
    label: str  # shown in figures and tables
    clip: bool  # the PPO clip of the ratio (False: the plain ratio objective r A)
    eps_low: float
    eps_high: float
    one_update: bool  # one gradient step on the whole rollout instead of one per mini-batch


UPDATE_RULES: dict[str, UpdateRule] = {
    "standard": UpdateRule("clip 0.2", clip=True, eps_low=0.2, eps_high=0.2, one_update=False),
    "higher": UpdateRule("clip-higher 0.2/0.28", clip=True, eps_low=0.2, eps_high=0.28, one_update=False),
    "none": UpdateRule("no clip", clip=False, eps_low=0.2, eps_high=0.2, one_update=False),
    # App. B.2's "one gradient update per rollout": the only step is taken at pi = pi_old, r = 1.
    "one_update": UpdateRule("one update per rollout", clip=True, eps_low=0.2, eps_high=0.2, one_update=True),
}
FIGURE_COLOURS = {"standard": "tab:purple", "higher": "tab:red", "none": "tab:green", "one_update": "tab:blue"}


def update_rule(mode: str) -> UpdateRule:
    if mode not in UPDATE_RULES:  # fail with the known names
        raise KeyError(f"unknown update rule {mode!r}; known: {', '.join(UPDATE_RULES)}")
    return UPDATE_RULES[mode]


def rule_arguments(mode: str, minibatches: int) -> dict:
    """The named rule as ``rollout_update``'s keyword arguments (``one_update`` takes a single step).

    >>> rule_arguments("higher", 8)
    {'steps': 8, 'eps_low': 0.2, 'eps_high': 0.28, 'clip': True}
    """
    rule = update_rule(mode)
    steps = 1 if rule.one_update else minibatches
    return dict(steps=steps, eps_low=rule.eps_low, eps_high=rule.eps_high, clip=rule.clip)


# --- The policy, the advantages, one rollout's update ------------------------------------------------
def softmax(logits: np.ndarray) -> np.ndarray:
    """[..., K] logits -> [..., K] probabilities.

    >>> softmax(np.log([0.65, 0.35])).round(6).tolist()
    [0.65, 0.35]
    """
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def group_advantages(rewards: np.ndarray, *, ddof: int = ADVANTAGE_DDOF, eps: float = ADVANTAGE_EPS) -> np.ndarray:
    """[..., G] rewards, one group each -> [..., G] advantages ``(r - mean) / (std + eps)``: the project's GRPO
    advantage; an all-equal group gets exactly 0. (1, 0): std (ddof=1) 0.7071, so +-0.5 / 0.7071 = +-0.7071.

    >>> group_advantages(np.array([1.0, 0.0])).round(4).tolist()
    [0.7071, -0.7071]
    >>> group_advantages(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])).tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    rewards = np.asarray(rewards, dtype=float)
    centred = rewards - rewards.mean(axis=-1, keepdims=True)
    std = np.sqrt((centred**2).sum(axis=-1, keepdims=True) / max(rewards.shape[-1] - ddof, 1))
    all_equal = (rewards == rewards[..., :1]).all(axis=-1, keepdims=True)
    return np.where(all_equal, 0.0, centred / (std + eps))


def surrogate_slope(ratio: np.ndarray, advantages: np.ndarray, *, eps_low: float, eps_high: float,
                    clip: bool) -> np.ndarray:  # fmt: skip
    """d objective / d ratio per sample, for the objective ``min(r A, clip(r, 1 - eps_low, 1 + eps_high) A)`` (or
    ``r A`` without the clip): A, or 0 where the clip binds (A > 0 and r > 1 + eps_high, or
    A < 0 and r < 1 - eps_low), as autograd gives for the project's loss (App. B.1.2's case analysis).

    >>> ratio, advantages = np.array([1.5, 1.5, 0.5, 0.5]), np.array([1.0, -1.0, -1.0, 1.0])
    >>> surrogate_slope(ratio, advantages, eps_low=0.2, eps_high=0.2, clip=True).tolist()
    [0.0, -1.0, 0.0, 1.0]
    """
    if not clip:
        return advantages
    clipped = ((advantages > 0) & (ratio > 1 + eps_high)) | ((advantages < 0) & (ratio < 1 - eps_low))
    return np.where(clipped, 0.0, advantages)


def _broadcast_leading(*arrays: np.ndarray) -> list[np.ndarray]:
    """Broadcast all but the last dimension (the batch dimensions) of each array."""
    batch = np.broadcast_shapes(*(a.shape[:-1] for a in arrays))
    return [np.broadcast_to(a, (*batch, a.shape[-1])) for a in arrays]


def surrogate_gradient(logits: np.ndarray, old_probs: np.ndarray, choices: np.ndarray, advantages: np.ndarray,
                       *, eps_low: float, eps_high: float, clip: bool) -> np.ndarray:  # fmt: skip
    """Gradient w.r.t. the logits of the mean objective over the samples.

    Shapes: logits, old_probs [..., K]; choices (int), advantages [..., n]; leading dimensions broadcast.
    With ``r_i = p(c_i) / p_old(c_i)`` and ``d r_i / d logit_j = r_i (1[c_i = j] - p_j)`` the gradient is
    ``(1/n) sum_i slope_i r_i (onehot(c_i) - p)``. One sample, choice 0 of (0.5, 0.5), A = 1: (0.5, -0.5).

    >>> surrogate_gradient(np.zeros(2), np.full(2, 0.5), np.array([0]), np.array([1.0]), eps_low=0.2, eps_high=0.2,
    ...                    clip=True).tolist()
    [0.5, -0.5]
    """
    logits, old_probs, choices, advantages = _broadcast_leading(logits, old_probs, choices, advantages)
    probs = softmax(logits)  # [..., K]
    ratio = np.take_along_axis(probs / old_probs, choices, axis=-1)  # [..., n]
    weight = surrogate_slope(ratio, advantages, eps_low=eps_low, eps_high=eps_high, clip=clip) * ratio
    weight = weight / choices.shape[-1]  # [..., n]: the mean over the mini-batch
    per_choice = (weight[..., None] * (choices[..., None] == np.arange(logits.shape[-1]))).sum(axis=-2)  # [..., K]
    return per_choice - weight.sum(axis=-1, keepdims=True) * probs  # [..., K]


def rollout_update(logits: np.ndarray, choices: np.ndarray, advantages: np.ndarray, *, lr: float, steps: int,
                   eps_low: float = 0.2, eps_high: float = 0.2, clip: bool = True) -> np.ndarray:  # fmt: skip
    """The logits after one rollout's ``steps`` SGD steps (gradient ascent on the objective).

    Shapes: logits [..., K]; choices (int), advantages [..., N], N a multiple of ``steps``; leading
    dimensions broadcast. Step s takes the gradient over the s-th of ``steps`` consecutive equal
    mini-batches at the current logits, the ratio against the policy that sampled (the logits passed in).
    The first step is at r = 1, where the clip never binds: ``steps=1`` is on-policy policy gradient.

    By hand, p_old = (0.8, 0.2), lr 1, one sample a step. Step 1, choice 1, A = +1, r = 1: gradient
    onehot(1) - p = (-0.8, 0.8), so the margin ln 4 = 1.3863 drops by 1.6 to -0.2137: p(0) = 0.44678.
    Step 2, choice 0, A = -1: r = 0.44678 / 0.8 = 0.558 < 0.8 with A < 0: the clip binds, nothing moves.
    >>> new = rollout_update(np.log([0.8, 0.2]), np.array([1, 0]), np.array([1.0, -1.0]), lr=1.0, steps=2)
    >>> softmax(new).round(5).tolist()
    [0.44678, 0.55322]
    """
    logits, choices, advantages = _broadcast_leading(np.asarray(logits, dtype=float), np.asarray(choices),
                                                     np.asarray(advantages, dtype=float))  # fmt: skip
    logits = logits.copy()  # updated in place
    if steps < 1 or choices.shape[-1] % steps:
        raise ValueError(f"{choices.shape[-1]} samples cannot be split into {steps} equal mini-batches")
    old_probs = softmax(logits)
    size = choices.shape[-1] // steps
    for step in range(steps):
        part = slice(step * size, (step + 1) * size)
        logits += lr * surrogate_gradient(logits, old_probs, choices[..., part], advantages[..., part],
                                          eps_low=eps_low, eps_high=eps_high, clip=clip)  # fmt: skip
    return logits


# --- App. B's closed form ------------------------------------------------------------------------------
def upper_clip_threshold(eps_high: float) -> float:
    """The p_old above which ``p_old (1 + eps_high) > 1``: the upper clip can never bind (App. B.1.3).
    >>> round(upper_clip_threshold(0.2), 4), round(upper_clip_threshold(0.28), 4)
    (0.8333, 0.7812)
    """
    return 1 / (1 + eps_high)


def upper_clip_reachable(p_old: float, eps_high: float) -> bool:
    """Whether a choice of probability ``p_old`` can reach the top of its band (0.85 * 1.2 = 1.02: no).
    >>> upper_clip_reachable(0.85, 0.2), upper_clip_reachable(0.8, 0.2)
    (False, True)
    """
    return p_old * (1 + eps_high) < 1


def positive_advantage_mass(group_size: int, gamma: float, *, ddof: int = ADVANTAGE_DDOF,
                            eps: float = ADVANTAGE_EPS) -> float:  # fmt: skip
    """App. B's ``mu = P(A > 0) E[A | A > 0] = E[max(A, 0)]`` of one sample under Bernoulli(gamma) rewards,
    exactly: a sum over the number of ones in the group. G = 2, gamma 1/2: the group is mixed half the
    time, and the sample is then the 1 (A = 0.7071) half the time: mu = 0.25 * 0.7071 = 0.1768.
    >>> round(positive_advantage_mass(2, 0.5), 4)
    0.1768
    """
    total = 0.0
    for ones in range(1, group_size):  # all-equal groups have A = 0
        top = group_advantages(np.array([1.0] * ones + [0.0] * (group_size - ones)), ddof=ddof, eps=eps)[0]
        chance_of_count = math.comb(group_size, ones) * gamma**ones * (1 - gamma) ** (group_size - ones)
        total += chance_of_count * (ones / group_size) * top  # a 1's advantage, held by ones/G of the samples
    return float(total)


def clipping_bias(p_current: np.ndarray | float, p_old: float, *, mu: float, eps_low: float = 0.2,
                  eps_high: float = 0.2) -> np.ndarray:  # fmt: skip
    """App. B.1.2: the expected gradient of the clipped objective w.r.t. a choice's probability, for a sample
    of it whose advantage is independent of the current ratio (unclipped: 0). ``+mu / p_old`` below the
    band (r < 1 - eps_low), 0 inside, ``-mu / p_old`` above (r > 1 + eps_high); ``d r / d p = 1 / p_old``.
    The paper's p_old = 0.02: negative above 0.024, positive below 0.016.
    >>> clipping_bias(np.array([0.01, 0.02, 0.03]), 0.02, mu=1.0).tolist()
    [50.0, 0.0, -50.0]
    """
    ratio = np.asarray(p_current, dtype=float) / p_old
    return mu * (np.where(ratio < 1 - eps_low, 1.0, 0.0) - np.where(ratio > 1 + eps_high, 1.0, 0.0)) / p_old


# --- The expected update of one rollout: exact and Monte Carlo ----------------------------------------
class ExpectedUpdate(NamedTuple):
    probability_change: np.ndarray  # [K] E[p_new - p_old]
    logit_change: np.ndarray  # [K] E[logits_new - logits_old] (they sum to 0: the gradient does)
    probability_se: np.ndarray  # [K] Monte Carlo standard error of probability_change (0 when exact)
    logit_se: np.ndarray  # [K] the same for logit_change
    outcomes: int  # distinct outcomes enumerated (exact) or rollouts drawn (Monte Carlo)


@functools.lru_cache(maxsize=8)
def enumerated_rollouts(num_choices: int, group_size: int, steps: int, *, max_outcomes: int = 2_000_000
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Every distinct rollout of one group, for the update's purposes, with its number of ordered outcomes.

    The update depends on which samples land in which mini-batch and on the mini-batches' order, not on the
    order *inside* one (its gradient is a mean). So a rollout is a sequence of ``steps`` mini-batch contents
    (multisets of (choice, reward) pairs), counting the product of their multinomial multiplicities: exact,
    and fewer than the (2K)^G ordered outcomes.
    K = 2: G = 8 in 8 steps 4^8 = 65,536; G = 8 in 1 step 165; G = 16 in 8 steps 10^8 (refused).

    Returns choices [L, G] (int), rewards [L, G] (0/1), count [L]; cached, so read-only.
    >>> choices, rewards, count = enumerated_rollouts(2, 4, 2)  # 10 contents of 2 samples, twice
    >>> choices.shape, int(count.sum()) == 4**4
    ((100, 4), True)
    """
    if steps < 1 or group_size % steps:
        raise ValueError(f"a group of {group_size} cannot be split into {steps} equal mini-batches")
    size = group_size // steps  # a mini-batch's content: a multiset of (choice, reward) types, in canonical order
    types = [(choice, reward) for choice in range(num_choices) for reward in (0, 1)]
    contents = list(itertools.combinations_with_replacement(range(len(types)), size))
    choices = np.array([[types[t][0] for t in content] for content in contents], dtype=int).reshape(-1, size)
    rewards = np.array([[types[t][1] for t in content] for content in contents], dtype=float).reshape(-1, size)
    count = np.array([math.factorial(size) // math.prod(math.factorial(c.count(t)) for t in set(c))
                      for c in contents])  # multinomial: the ordered samples that give each content
    if len(count) ** steps > max_outcomes:
        raise ValueError(f"{len(count) ** steps:,} mini-batch sequences (K={num_choices}, G={group_size}, {steps} "
                         f"steps) exceed max_outcomes={max_outcomes:,}; use expected_update_mc")  # fmt: skip
    index = np.array(list(itertools.product(range(len(count)), repeat=steps)), dtype=int)  # [L, steps]
    enumerated = (choices[index].reshape(len(index), -1), rewards[index].reshape(len(index), -1),
                  count[index].prod(axis=1).astype(float))  # fmt: skip
    for array in enumerated:
        array.flags.writeable = False
    return enumerated


def expected_update_exact(
    probabilities: Sequence[float], *, group_size: int, steps: int, lr: float, gamma: float = 0.5,
    eps_low: float = 0.2, eps_high: float = 0.2, clip: bool = True, max_outcomes: int = 2_000_000,
) -> ExpectedUpdate:  # fmt: skip
    """Exact expected change of the policy after one rollout from ``probabilities`` (p_old, [K]): the update
    of every distinct rollout (``enumerated_rollouts``) weighted by ``count * prod_i p_old(c_i) *
    gamma^ones (1 - gamma)^zeros``."""
    p_old = np.asarray(probabilities, dtype=float)
    choices, rewards, count = enumerated_rollouts(len(p_old), group_size, steps, max_outcomes=max_outcomes)
    ones = rewards.sum(axis=1)
    chance = count * np.prod(p_old[choices], axis=1) * gamma**ones * (1 - gamma) ** (group_size - ones)  # [L]
    new_logits = rollout_update(np.log(p_old), choices, group_advantages(rewards), lr=lr, steps=steps,
                                eps_low=eps_low, eps_high=eps_high, clip=clip)  # fmt: skip
    zero = np.zeros_like(p_old)
    return ExpectedUpdate(chance @ softmax(new_logits) - p_old, chance @ new_logits - np.log(p_old), zero, zero,
                          len(chance))  # fmt: skip


def expected_update_mc(
    probabilities: Sequence[float], *, group_size: int, steps: int, lr: float, gamma: float = 0.5,
    eps_low: float = 0.2, eps_high: float = 0.2, clip: bool = True, groups: int = 1, rollouts: int = 100_000,
    seed: int = 0, chunk_samples: int = 2_000_000,
) -> ExpectedUpdate:  # fmt: skip
    """Monte Carlo estimate of the expected update of one rollout, with standard errors. ``groups=1``
    estimates ``expected_update_exact``; with more, a rollout is ``groups`` independent groups (the paper's
    layout: many prompts), in ``steps`` consecutive mini-batches (whole groups when steps divides groups)."""
    p_old = np.asarray(probabilities, dtype=float)
    rng = np.random.default_rng(seed)
    samples = groups * group_size
    chunk = max(1, chunk_samples // samples)
    prob_changes, logit_changes = [], []
    for start in range(0, rollouts, chunk):
        n = min(chunk, rollouts - start)
        choices = rng.choice(len(p_old), size=(n, samples), p=p_old)  # [n, N]
        rewards = (rng.random((n, groups, group_size)) < gamma).astype(float)  # [n, B, G]
        new_logits = rollout_update(np.log(p_old), choices, group_advantages(rewards).reshape(n, samples), lr=lr,
                                    steps=steps, eps_low=eps_low, eps_high=eps_high, clip=clip)  # fmt: skip
        prob_changes.append(softmax(new_logits) - p_old)
        logit_changes.append(new_logits - np.log(p_old))
    prob, logit = np.concatenate(prob_changes), np.concatenate(logit_changes)
    root_n = math.sqrt(rollouts)
    return ExpectedUpdate(prob.mean(0), logit.mean(0), prob.std(0, ddof=1) / root_n, logit.std(0, ddof=1) / root_n,
                          rollouts)  # fmt: skip


def expected_update_with_rule(probabilities: Sequence[float], mode: str, *, group_size: int, minibatches: int,
                              lr: float, gamma: float = 0.5, method: str = "exact", **kwargs) -> ExpectedUpdate:
    """``expected_update_exact`` (or ``_mc``, with its kwargs) with a rule from ``UPDATE_RULES``."""
    estimate = {"exact": expected_update_exact, "mc": expected_update_mc}[method]
    return estimate(probabilities, group_size=group_size, lr=lr, gamma=gamma, **rule_arguments(mode, minibatches),
                    **kwargs)  # fmt: skip


# --- Figure 1: the expected update of one rollout against the prior ----------------------------------
# Exact: one group of 8 in 8 one-sample steps, 65,536 mini-batch sequences a point (G = 16 in 8 steps would
# be 10^8: too many to enumerate). lr 1: 8 steps often leave the 0.2 band.
FIGURE_SETTINGS = dict(group_size=8, minibatches=8, gamma=0.5, lr=1.0)
# Monte Carlo in the paper's layout, scaled down: 8 groups of 16, one whole group per step, the same lr.
FIGURE_MC_SETTINGS = dict(groups=8, group_size=16, minibatches=8, gamma=0.5, lr=1.0, rollouts=5_000)
FIGURE_MODES = ("standard", "higher", "none", "one_update")
FIGURE_PRIORS = tuple(np.round(np.linspace(0.05, 0.95, 37), 3))  # steps of 0.025 (MC: every other, 0.05)


def expected_update_curves(
    priors: Sequence[float] = FIGURE_PRIORS, *, modes: Sequence[str] = FIGURE_MODES, method: str = "exact",
    group_size: int = 8, minibatches: int = 8, gamma: float = 0.5, lr: float = 1.0, progress: bool = False, **mc,
) -> pd.DataFrame:  # fmt: skip
    """A row per (mode, prior): the expected change after one rollout of the probability of a choice of prior
    ``prior`` (of two), and of its logit margin ``l_0 - l_1``, with standard errors (0 when exact)."""
    rows = []
    todo = [(mode, float(prior)) for mode in modes for prior in priors]
    for mode, prior in tqdm(todo, desc=f"expected update ({method})", disable=not progress):
        update = expected_update_with_rule([prior, 1 - prior], mode, group_size=group_size, minibatches=minibatches,
                                           lr=lr, gamma=gamma, method=method, **mc)  # fmt: skip
        rows.append({"method": method, "mode": mode, "label": update_rule(mode).label, "prior": prior,
                     "probability_change": update.probability_change[0], "probability_se": update.probability_se[0],
                     "margin_change": update.logit_change[0] - update.logit_change[1],
                     "margin_se": 2 * update.logit_se[0]})  # fmt: skip  (the logits' sum is conserved)
    return pd.DataFrame(rows)


def expected_update_figure(priors: Sequence[float] = FIGURE_PRIORS, *, exact: dict | None = None,
                           mc: dict | None = None, progress: bool = False) -> tuple[Figure, pd.DataFrame]:  # fmt: skip
    """Expected update of one rollout against a choice's prior, per rule, two choices: exact change of its
    probability (``FIGURE_SETTINGS`` | ``exact``), of its logit margin, and by Monte Carlo in the paper's layout
    at every other prior with 95% error bars (``FIGURE_MC_SETTINGS`` | ``mc``; ``mc={"rollouts": 0}``: none).
    Returns the figure and the frame it draws (``expected_update_curves``'s rows; ``method`` exact or mc)."""
    exact, mc = FIGURE_SETTINGS | (exact or {}), FIGURE_MC_SETTINGS | (mc or {})
    frames = [expected_update_curves(priors, progress=progress, **exact)]
    if mc["rollouts"] > 0:
        frames.append(expected_update_curves(list(priors)[::2], method="mc", progress=progress, **mc))
    frame = pd.concat(frames, ignore_index=True)
    exact_title = f"exact, one group of {exact['group_size']}"
    panels = [("exact", "probability", exact_title, "E[p_new - p_old]"),
              ("exact", "margin", exact_title, "E[change of the logit margin l_0 - l_1]"),
              ("mc", "probability", f"Monte Carlo ({mc['rollouts']:,} rollouts a point), {mc['groups']} groups of "
                                    f"{mc['group_size']}", "E[p_new - p_old]")][: len(frames) + 1]  # fmt: skip
    fig = Figure(figsize=(4.7 * len(panels), 4), layout="constrained")
    for ax, (method, quantity, title, ylabel) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        for mode, line in frame[frame["method"] == method].groupby("mode", sort=False):
            error = 1.96 * line[f"{quantity}_se"] if method == "mc" else None
            ax.errorbar(line["prior"], line[f"{quantity}_change"], yerr=error, color=FIGURE_COLOURS.get(mode),
                        label=line["label"].iloc[0], linewidth=1.4, capsize=2)  # fmt: skip
        for eps_high, style in ((0.2, ":"), (0.28, "-.")):
            ax.axvline(upper_clip_threshold(eps_high), color="grey", linestyle=style, linewidth=0.8)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set(title=title, xlabel="prior probability p_old of the choice", ylabel=ylabel)
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=8)
    fig.suptitle(f"Expected update of one rollout, random Bernoulli({exact['gamma']}) rewards, two choices, "
                 f"{exact['minibatches']} mini-batch steps, lr {exact['lr']}\n(grey: 1/(1 + eps_high) for 0.2 and "
                 f"0.28, above which a choice's upper clip is unreachable)", fontsize=10)  # fmt: skip
    return fig, frame


# --- Figure 2: a two-choice bandit over many rollouts and seeds --------------------------------------
# The paper's shape (App. A.3): a rollout is 64 groups ("prompts") of 16 samples, updated in 8 mini-batches of
# 8 whole groups (128 samples). lr 1.25: the clip binds in most rollouts, and with 40 seeds the three rules'
# 95% intervals stay apart; about 1 s a rule.
BANDIT_SETTINGS = dict(start=0.65, rollouts=200, groups=64, group_size=16, minibatches=8, gamma=0.5, lr=1.25)
BANDIT_MODES = ("standard", "none", "one_update")


def bandit_simulation(
    *, seeds: int = 40, modes: Sequence[str] = BANDIT_MODES, start: float = 0.65, rollouts: int = 200,
    groups: int = 64, group_size: int = 16, minibatches: int = 8, gamma: float = 0.5, lr: float = 1.25,
    seed: int = 0, progress: bool = False,
) -> pd.DataFrame:  # fmt: skip
    """Random-reward GRPO on a two-choice bandit, vectorised over seeds (the rows of one generator). Each
    rollout draws ``groups`` groups of ``group_size`` per seed, Bernoulli(gamma) rewards, the advantages, and
    updates by the rule (mini-batches of ``groups / minibatches`` whole groups: the paper's layout). Every
    mode starts from the same generator seed (common random numbers). Returns per-seed curves, a row per
    (mode, seed, rollout): ``probability`` is p of the choice that starts at ``start`` (rollout 0)."""
    frames = []
    for mode in tqdm(modes, desc="bandit", disable=not progress):
        rng = np.random.default_rng(seed)
        logits = np.tile(np.log([start, 1 - start]), (seeds, 1))  # [S, 2]
        curve = np.full((rollouts + 1, seeds), start)
        for rollout in range(1, rollouts + 1):
            choices = (rng.random((seeds, groups * group_size)) >= softmax(logits)[:, :1]).astype(int)  # [S, N]
            rewards = (rng.random((seeds, groups, group_size)) < gamma).astype(float)  # [S, B, G]
            logits = rollout_update(logits, choices, group_advantages(rewards).reshape(seeds, -1), lr=lr,
                                    **rule_arguments(mode, minibatches))  # fmt: skip
            curve[rollout] = softmax(logits)[:, 0]
        frames.append(pd.DataFrame({"mode": mode, "label": update_rule(mode).label,
                                    "seed": np.tile(np.arange(seeds), rollouts + 1),
                                    "rollout": np.repeat(np.arange(rollouts + 1), seeds),
                                    "probability": curve.reshape(-1)}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def bandit_summary(curves: pd.DataFrame, confidence: float = 0.95, rise: float = 0.10) -> pd.DataFrame:
    """Per mode: the start, the mean final probability over seeds, its percentile-bootstrap interval
    (``analysis.stats.bootstrap_ci``, 10,000 resamples), the number of seeds, the share of seeds whose
    probability rose by ``rise`` or more, and from it the chance that 4 of 5 seeds do (``chance_of_at_least``).

    >>> curves = pd.DataFrame({"mode": "none", "label": "no clip", "seed": [0, 1, 0, 1], "rollout": [0, 0, 1, 1],
    ...                        "probability": [0.65, 0.65, 0.6, 0.8]})
    >>> bandit_summary(curves)[["start", "final_mean", "n_seeds", "share_up"]].round(3).values.tolist()
    [[0.65, 0.7, 2.0, 0.5]]
    """
    rows = []
    for mode, runs in curves.groupby("mode", sort=False):
        start, final = (runs[runs["rollout"] == r]["probability"].to_numpy() for r in (0, runs["rollout"].max()))
        mean, low, high = bootstrap_ci(final.tolist(), confidence=confidence)
        share_up = float(np.mean(final - start >= rise - 1e-12))
        rows.append({"mode": mode, "label": runs["label"].iloc[0], "start": start.mean(), "final_mean": mean,
                     "ci_low": low, "ci_high": high, "n_seeds": len(final), "share_up": share_up,
                     "chance_4_of_5_up": chance_of_at_least(4, 5, share_up)})  # fmt: skip
    return pd.DataFrame(rows)


def bandit_figure(curves: pd.DataFrame, confidence: float = 0.95) -> Figure:
    """Mean probability of the initially preferred choice over rollouts, per mode, with a percentile-bootstrap
    band over seeds (at every 5th rollout, 1,000 resamples each, to stay fast)."""
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    last = int(curves["rollout"].max())
    band_at = sorted(set(range(0, last + 1, 5)) | {last})
    for mode, runs in curves.groupby("mode", sort=False):
        by_rollout = runs.groupby("rollout")["probability"]
        mean = by_rollout.mean()
        ax.plot(mean.index, mean.values, color=FIGURE_COLOURS.get(mode), label=runs["label"].iloc[0])
        band = np.array([bootstrap_ci(by_rollout.get_group(r).tolist(), confidence=confidence, n_resamples=1000)[1:]
                         for r in band_at])  # fmt: skip
        ax.fill_between(band_at, band[:, 0], band[:, 1], color=FIGURE_COLOURS.get(mode), alpha=0.2, linewidth=0)
    ax.set(xlabel="rollout", ylabel="p(initially preferred choice)", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Two-choice bandit, random rewards: mean over {curves['seed'].nunique()} seeds, "
                 f"{confidence:.0%} bootstrap band", fontsize=10)  # fmt: skip
    return fig


# --- The command -----------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.theory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="where the figures and tables go")
    parser.add_argument("--seeds", type=int, default=40, help="bandit seeds (default 40)")
    parser.add_argument("--rollouts", type=int, default=BANDIT_SETTINGS["rollouts"], help="bandit rollouts per seed")
    parser.add_argument("--groups", type=int, default=BANDIT_SETTINGS["groups"],
                        help="bandit prompts per rollout (groups of 16; 64 as in the paper, 8 as model=tiny_code)")  # fmt: skip
    parser.add_argument("--lr", type=float, default=BANDIT_SETTINGS["lr"], help="bandit step size on the logits")
    parser.add_argument("--priors", type=int, default=len(FIGURE_PRIORS), help="points of the expected-update curves")
    parser.add_argument("--mc-rollouts", type=int, default=FIGURE_MC_SETTINGS["rollouts"],
                        help="Monte Carlo rollouts a point of the paper-layout panel (0: leave it out)")  # fmt: skip
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    priors = np.round(np.linspace(0.05, 0.95, args.priors), 4)
    fig, expected = expected_update_figure(priors, mc={"rollouts": args.mc_rollouts}, progress=True)
    save_figure(fig, args.out, "theory_expected_update")
    expected.to_csv(args.out / "theory_expected_update.csv", index=False)
    settings = BANDIT_SETTINGS | {"rollouts": args.rollouts, "groups": args.groups, "lr": args.lr}
    bandit = bandit_simulation(seeds=args.seeds, progress=True, **settings)
    save_figure(bandit_figure(bandit), args.out, "theory_bandit")
    summary = bandit_summary(bandit)
    summary.to_csv(args.out / "theory_bandit.csv", index=False)
    print(f"bandit: {settings}, {args.seeds} seeds; 95% percentile-bootstrap interval of the mean over seeds")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
