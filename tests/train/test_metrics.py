"""Step metrics: accumulated per micro-batch as tensors, reduced over ranks once."""

from __future__ import annotations

import doctest

import pytest
import torch

from rlvr.train import metrics as metrics_module
from rlvr.train.metrics import StepMetrics


def two_ranks() -> tuple[StepMetrics, StepMetrics]:
    """Rank 0 saw losses 1 and 3 and 10 tokens of entropy 0.5; rank 1 saw loss 5 and 30 tokens of entropy 1.0."""
    a, b = StepMetrics(torch.device("cpu")), StepMetrics(torch.device("cpu"))
    for loss in (1.0, 3.0):
        a.add_mean("actor/loss", torch.tensor(loss))
    b.add_mean("actor/loss", torch.tensor(5.0))
    a.add_ratio("actor/entropy", torch.tensor(0.5 * 10), torch.tensor(10.0))
    b.add_ratio("actor/entropy", torch.tensor(1.0 * 30), torch.tensor(30.0))
    a.add_sum("train/grader_timeouts", 1)
    b.add_sum("train/grader_timeouts", 2)
    a.add_max("actor/ratio_max", torch.tensor(1.1)), b.add_max("actor/ratio_max", torch.tensor(1.3))
    a.add_min("actor/ratio_min", torch.tensor(0.9)), b.add_min("actor/ratio_min", torch.tensor(0.7))
    return a, b


def reduce_over(ranks: list[StepMetrics]) -> dict[str, float]:
    """What every rank gets back: each rank's reduce, with collectives that combine the ranks' tensors."""
    inputs: dict[str, list[torch.Tensor]] = {"sum": [], "max": []}
    for rank in ranks:  # first pass: what each rank would hand to the collectives
        rank.reduce(sum_all=lambda t: inputs["sum"].append(t) or t, max_all=lambda t: inputs["max"].append(t) or t)
    total, peak = torch.stack(inputs["sum"]).sum(0), torch.stack(inputs["max"]).amax(0)
    return ranks[0].reduce(sum_all=lambda t: total, max_all=lambda t: peak)


def test_means_ratios_sums_and_extremes_over_ranks():
    reduced = reduce_over(list(two_ranks()))
    assert reduced["actor/loss"] == pytest.approx((1 + 3 + 5) / 3)  # the mean over all micro-batches of all ranks
    assert reduced["actor/entropy"] == pytest.approx((5 + 30) / 40)  # token-weighted: 0.875, not (0.5 + 1) / 2
    assert reduced["train/grader_timeouts"] == 3
    assert reduced["actor/ratio_max"] == pytest.approx(1.3) and reduced["actor/ratio_min"] == pytest.approx(0.7)


def test_a_ratio_with_nothing_to_divide_is_nan_and_no_collective_runs_for_nothing():
    metrics = StepMetrics(torch.device("cpu"))
    metrics.add_ratio("train/x", 0.0, 0.0)
    called = []
    reduced = metrics.reduce(sum_all=lambda t: called.append("sum") or t, max_all=lambda t: called.append("max") or t)
    assert reduced["train/x"] != reduced["train/x"] and called == ["sum"]  # NaN; no maxima, so no max collective


def test_doctests():
    assert doctest.testmod(metrics_module).failed == 0
