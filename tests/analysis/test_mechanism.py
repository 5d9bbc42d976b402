"""The ``mechanism`` artifact on synthetic tiny_mechanism runs with known numbers: one row per run, changes
and their intervals over seeds worked out by hand, the count of seeds that amplified the code style."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.artifacts import MissingRuns, build
from analysis.load import load_runs
from tests.analysis.fake_runs import train_config, write_train_run

ACC, CODE = "eval/heldout/accuracy", "eval/heldout/code_rate"
# (reward, clip) -> per seed: (code rate at 0, at 30), (accuracy at 0, at 30)
RUNS = {
    ("random", "standard"): [((0.65, 0.80), (0.80, 0.85)), ((0.65, 0.70), (0.80, 0.82)), ((0.65, 0.90), (0.80, 0.89))],
    ("random", "none"): [((0.65, 0.60), (0.80, 0.78)), ((0.65, 0.70), (0.80, 0.81)), ((0.65, 0.65), (0.80, 0.80))],
    ("ground_truth", "standard"): [((0.65, 0.95), (0.80, 0.97))],
}


def write(root: Path, variant: str, reward: str, clip: str, seed: int, code: tuple, accuracy: tuple, clip_frac: float):
    rows = [{"step": 0, ACC: accuracy[0], CODE: code[0]}]
    rows += [{"step": s, "actor/clip_frac": clip_frac, "actor/clip_frac_low": 0.0, "actor/clip_frac_high": clip_frac}
             for s in range(1, 30)]  # fmt: skip
    rows.append({"step": 30, ACC: accuracy[1], CODE: code[1], "actor/clip_frac": clip_frac,
                 "actor/clip_frac_low": 0.0, "actor/clip_frac_high": clip_frac})  # fmt: skip
    config = train_config(model=variant, reward=reward, clip=clip, seed=seed, experiment="tiny_mechanism",
                          algorithm="grpo_official", total_steps=30)  # fmt: skip
    write_train_run(root / f"{variant}_{reward}_{clip}_{seed}", config, rows)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("mechanism")
    for (reward, clip), seeds in RUNS.items():
        for seed, (code, accuracy) in enumerate(seeds):
            write(root, "tiny_code", reward, clip, seed, code, accuracy, clip_frac=0.01 if clip == "standard" else 0.0)
    # A run of another experiment with the same keys is not the mechanism's.
    config = train_config(model="tiny_code", reward="random", clip="standard", seed=9, experiment="controls",
                          algorithm="grpo_official", total_steps=1)  # fmt: skip
    write_train_run(root / "other", config, [{"step": 0, ACC: 0.1, CODE: 0.1}, {"step": 1, ACC: 0.9, CODE: 0.9}])
    return build("mechanism", load_runs(root), root / "out")


def exact_bootstrap_interval(values, confidence=0.95):
    """The percentile bootstrap's limits computed exactly: every resample of n values (n^n, equally likely),
    the quantiles of that discrete distribution (3 values: the extremes each have mass 1/27 > 2.5%)."""
    means = np.sort([np.mean(c) for c in itertools.product(values, repeat=len(values))])
    tail = (1 - confidence) / 2
    return np.quantile(means, [tail, 1 - tail], method="inverted_cdf")


def test_one_row_per_run_with_its_start_end_and_clip_fractions(built):
    runs = built.tables["mechanism_runs"]
    assert len(runs) == 7 and set(runs["variant"]) == {"tiny_code"}
    row = runs[(runs["setting"] == "random, clip 0.2") & (runs["seed"] == 2)].iloc[0]
    assert (row["code_rate_start"], row["code_rate_end"]) == (0.65, 0.90)
    assert row["accuracy_change"] == pytest.approx(0.09)
    assert row["clip_frac"] == pytest.approx(0.01) and row["clip_frac_low"] == 0
    assert (row["start_step"], row["end_step"]) == (0, 30)
    csv = pd.read_csv(Path(built.files[0]).parent / "mechanism.csv")
    assert len(csv) == 7 and {"variant", "setting", "seed", "code_rate_start", "accuracy_end", "clip_frac"} <= set(csv)


def test_summary_means_intervals_and_amplifying_seeds_by_hand(built):
    summary = built.tables["mechanism_summary"].set_index("setting")
    clip = summary.loc["random, clip 0.2"]
    # code changes +0.15, +0.05, +0.25: mean 0.15; two seeds rose by 10 points or more
    assert clip["code_rate_change"] == pytest.approx(0.15) and clip["seeds_code_up_10"] == 2
    low, high = exact_bootstrap_interval([0.15, 0.05, 0.25])
    assert (clip["code_rate_low"], clip["code_rate_high"]) == pytest.approx((low, high), abs=0.011)
    none = summary.loc["random, no clip"]
    # -0.05, +0.05, 0: mean 0, the interval straddles 0, no seed amplified
    assert none["code_rate_change"] == pytest.approx(0, abs=1e-12) and none["seeds_code_up_10"] == 0
    assert none["code_rate_low"] < 0 < none["code_rate_high"]
    assert summary.loc["ground truth", "seeds"] == 1 and summary.loc["ground truth", "code_rate_change"] == pytest.approx(0.30)
    assert list(summary.index) == ["random, clip 0.2", "random, no clip", "ground truth"]  # the figure's order


def test_the_clips_own_effect_is_paired_by_seed(built):
    paired = built.tables["mechanism_paired"].set_index("setting")
    assert list(paired.index) == ["random, no clip"] and paired.loc["random, no clip", "pairs"] == 3
    row = paired.loc["random, no clip"]
    # code: clip +0.15/+0.05/+0.25 minus no clip -0.05/+0.05/0 = 0.20, 0, 0.25 (mean 0.15)
    assert row["code_rate_clip_minus"] == pytest.approx(0.15)
    low, high = exact_bootstrap_interval([0.20, 0.0, 0.25])
    assert (row["code_rate_low"], row["code_rate_high"]) == pytest.approx((low, high), abs=0.011)
    # accuracy: +0.05/+0.02/+0.09 minus -0.02/+0.01/0 = 0.07, 0.01, 0.09
    assert row["accuracy_clip_minus"] == pytest.approx((0.07 + 0.01 + 0.09) / 3)


def test_curves_theory_and_bandit_are_drawn(built):
    names = {Path(f).name for f in built.files}
    assert {"mechanism.png", "mechanism_theory.png", "mechanism_bandit.png", "mechanism_bandit.csv"} <= names
    assert "thin: each seed" in built.figures["mechanism"].get_suptitle()  # no smoothing claimed
    curves = built.tables["mechanism_curves"]
    assert set(curves["setting"]) == {"random, clip 0.2", "random, no clip", "ground truth"}
    bandit = built.tables["mechanism_bandit"]
    assert list(bandit["mode"]) == ["standard", "none", "one_update"] and (bandit["n_seeds"] == 40).all()


def test_without_the_experiments_runs_it_says_how_to_make_them(tmp_path):
    config = train_config(model="tiny", reward="random", experiment="tiny_fig11", algorithm="grpo_official")
    write_train_run(tmp_path / "r", config, [{"step": 0, ACC: 0.5}, {"step": 1, ACC: 0.6}])
    with pytest.raises(MissingRuns, match="experiment=tiny_mechanism"):
        build("mechanism", load_runs(tmp_path), tmp_path / "out")
