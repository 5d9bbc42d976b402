"""Small pure functions for the analysis: the paper's curve smoothing, bootstrap intervals, and how often a
claim over a few seeds holds."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd


def smooth_curve(steps: Sequence[float], values: Sequence[float], window: int = 10) -> np.ndarray:
    """The paper's training curves (App. A.5): each point is the mean of the logged values over the last
    ``window`` steps, ``(step - window, step]``; step 0 (the model before training) is drawn as it is and
    never mixed into a later point; the curve's final value is the smoothed last step.

    >>> smooth_curve([0, 1, 2, 3], [0.5, 0.1, 0.2, 0.6], window=2).round(3).tolist()
    [0.5, 0.1, 0.15, 0.4]
    >>> smooth_curve([0, 50, 100], [0.5, 0.7, 0.8], window=10).tolist()  # sparser than the window: unchanged
    [0.5, 0.7, 0.8]
    """
    steps = np.asarray(steps, dtype=float)
    values = np.asarray(values, dtype=float)
    if steps.shape != values.shape:
        raise ValueError(f"{len(steps)} steps but {len(values)} values")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    out = values.copy()
    for i, step in enumerate(steps):
        if step <= 0:
            continue
        inside = (steps > max(step - window, 0)) & (steps <= step) & ~np.isnan(values)
        if inside.any():
            out[i] = values[inside].mean()
    return out


def bootstrap_ci(
    values: Sequence[float], confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval of the mean: (mean, low, high).

    One value gives (v, v, v). Values 0 and 1: resampled means are 0, 0.5 and 1 with chances 1/4, 1/2,
    1/4, so the 95% interval is (0, 1).

    >>> bootstrap_ci([0.3])
    (0.3, 0.3, 0.3)
    >>> bootstrap_ci([0.0, 1.0])
    (0.5, 0.0, 1.0)
    """
    data = np.asarray([v for v in values if not np.isnan(v)], dtype=float)
    if data.size == 0:
        return (float("nan"),) * 3
    mean = float(data.mean())
    if data.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_resamples, data.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return mean, float(low), float(high)


def mean_with_ci(frame: pd.DataFrame, by: Sequence[str], value: str, **bootstrap) -> pd.DataFrame:
    """One row per group of ``by``: ``mean``, ``low``, ``high`` (95% bootstrap interval over the group's
    rows, e.g. seeds) and ``n``.

    >>> frame = pd.DataFrame({"reward": ["a", "a", "b"], "gain": [0.0, 1.0, 0.2]})
    >>> mean_with_ci(frame, ["reward"], "gain").to_dict("records")
    [{'reward': 'a', 'mean': 0.5, 'low': 0.0, 'high': 1.0, 'n': 2}, {'reward': 'b', 'mean': 0.2, 'low': 0.2, 'high': 0.2, 'n': 1}]
    """
    rows = []
    for key, group in frame.groupby(list(by), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        mean, low, high = bootstrap_ci(group[value].tolist(), **bootstrap)
        rows.append(dict(zip(by, key)) | {"mean": mean, "low": low, "high": high, "n": int(group[value].notna().sum())})
    return pd.DataFrame(rows, columns=[*by, "mean", "low", "high", "n"])


def chance_of_at_least(k: int, n: int, share: float) -> float:
    """P(at least ``k`` of ``n`` independent seeds succeed) when each does with probability ``share``: how
    often a claim such as "the code rate rises 10 points in 4 of 5 seeds" holds even where the expected
    effect is real (the bandit's share of rising seeds estimates ``share``).

    >>> round(chance_of_at_least(4, 5, 0.8), 5)  # 0.8^5 + 5 x 0.8^4 x 0.2
    0.73728
    """
    return sum(math.comb(n, j) * share**j * (1 - share) ** (n - j) for j in range(k, n + 1))
