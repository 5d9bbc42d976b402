"""The controls report (analysis/artifacts/controls.py) on synthetic runs with known gains."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.__main__ import main
from analysis.artifacts import MissingRuns, build
from analysis.artifacts.controls import LARGE_SHARE, verdict
from analysis.load import load_runs
from fake_runs import train_config, write_train_run

ACC, CODE = "eval/math500/accuracy", "eval/math500/code_rate"
STEPS = 300
# Gains in points per control and seed (0, 1, 2); every run starts at 50% accuracy and 60% code rate.
# Qwen2.5-Math-7B: random gains 20 of ground truth's 30 (67%), every seed above 0: spurious rewards explain it.
EXPLAINED = {"ground_truth": (20, 30, 40), "random": (10, 20, 30), "random_no_clip": (-5, 0, 5),
             "format": (5, 10, 15), "incorrect": (0, 10, 20)}  # fmt: skip
# Llama3.1-8B-Instruct: the best spurious control (incorrect, 5) is a quarter of ground truth's 20.
NOT_EXPLAINED = {"ground_truth": (10, 20, 30), "random": (-2, 0, 2), "random_no_clip": (-3, 0, 3),
                 "format": (1, 2, 3), "incorrect": (4, 5, 6)}  # fmt: skip
CLIPS = {"random_no_clip": "no_old_logprob"}


def control_run(root: Path, model: str, control: str, seed: int, gain: float, code_gain: float = 10.0, **config):
    """A finished 300-step run of one control: accuracy 0.5 at step 0 and 0.5 + gain / 100 at the end; code rate
    0.6 -> 0.6 + code_gain / 100 in evaluation and in training (first rollout at step 1, the last at step 300)."""
    reward = "random" if control.startswith("random") else control
    config = {"reward": reward, "clip": CLIPS.get(control, "standard"), "gamma": 0.5 if reward == "random" else None,
              "algorithm": "grpo_official", "experiment": "controls"} | config  # fmt: skip
    rows = [
        {"step": 0, ACC: 0.5, CODE: 0.6},
        {"step": 1, "train/code_rate": 0.6},
        {"step": STEPS, ACC: 0.5 + gain / 100, CODE: 0.6 + code_gain / 100, "train/code_rate": 0.6 + code_gain / 100},
    ]
    name = f"{model}_{control}_{config['clip']}_s{seed}"
    write_train_run(root / name, train_config(model=model, seed=seed, total_steps=STEPS, **config), rows)


def sweep(root: Path, model: str, gains: dict[str, tuple], **config) -> None:
    for control, per_seed in gains.items():
        for seed, gain in enumerate(per_seed):
            control_run(root, model, control, seed, gain, **config)


def exact_bootstrap_interval(values, confidence=0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean worked out exactly: every one of the n^n resamples is equally
    likely; the low end is the smallest resampled mean with at least (1 - confidence) / 2 of them at or below it,
    the high end likewise from above."""
    means = sorted(np.mean(sample) for sample in itertools.product(values, repeat=len(values)))
    tail = (1 - confidence) / 2 * len(means)
    low = next(m for i, m in enumerate(means, start=1) if i >= tail)
    high = next(m for i, m in enumerate(reversed(means), start=1) if i >= tail)
    return low, high


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("controls")
    sweep(root / "runs", "qwen2.5_math_7b", EXPLAINED)
    sweep(root / "runs", "llama3.1_8b_instruct", NOT_EXPLAINED)
    return build("controls", load_runs(root / "runs", progress=False), root / "out"), root / "out"


def row(table, model, control) -> dict:
    rows = table[(table["model"] == model) & (table["control"] == control)].to_dict("records")
    assert len(rows) == 1, (model, control)
    return rows[0]


def test_gains_are_the_mean_over_seeds_with_the_bootstrap_interval_worked_out_exactly(built):
    table = built[0].tables["controls_gains"]
    random = row(table, "qwen2.5_math_7b", "random")  # gains 10, 20, 30
    # 27 resamples of 3 seeds; the all-10 one alone is 1/27 = 3.7% > 2.5%: the interval is 10 to 30.
    assert exact_bootstrap_interval([10, 20, 30]) == (10, 30)
    assert random["gain"] == pytest.approx(20) and random["n"] == 3
    assert (random["low"], random["high"]) == pytest.approx((10, 30))
    assert (random["start"], random["end"]) == pytest.approx((50, 70))
    truth = row(table, "qwen2.5_math_7b", "ground_truth")
    assert truth["gain"] == pytest.approx(30) and (truth["low"], truth["high"]) == pytest.approx((20, 40))
    assert random["share"] == pytest.approx(20 / 30) and truth["share"] == pytest.approx(1)
    for control, gains in NOT_EXPLAINED.items():  # every control of the other model too
        got = row(table, "llama3.1_8b_instruct", control)
        assert got["gain"] == pytest.approx(np.mean(gains)), control
        assert (got["low"], got["high"]) == pytest.approx(exact_bootstrap_interval(gains)), control
        assert got["share"] == pytest.approx(np.mean(gains) / 20), control
    assert set(table["benchmark"]) == {"math500"}


def test_code_rate_changes_come_from_evaluation_and_training_responses(built):
    table = built[0].tables["controls_gains"]
    got = row(table, "qwen2.5_math_7b", "format")
    # evaluation: 60% -> 70% between step 0 and 300; training: the first rollout (step 1) 60%, the end 70%
    assert got["code_rate_change"] == pytest.approx(10) and got["train_code_rate_change"] == pytest.approx(10)


def test_the_sentence_says_yes_when_a_spurious_control_gives_half_the_gain_and_no_otherwise(built):
    result, out = built
    verdicts = result.tables["controls_verdicts"].set_index("model")
    assert verdicts.loc["qwen2.5_math_7b", "outcome"] == "yes"
    assert verdicts.loc["llama3.1_8b_instruct", "outcome"] == "no"
    report = (out / "controls.md").read_text()
    assert "Yes: spurious rewards explain a large share of the ground-truth gain on Qwen2.5-Math-7B (MATH-500): " \
           "random gives +20.0 points (95% interval 10.0 to 30.0, 3 seeds), 67% of ground truth's +30.0 points" in report
    # incorrect gives a quarter; format's interval is above 0 but it gives a tenth
    assert "No: spurious rewards do not explain a large share of the ground-truth gain on Llama3.1-8B-Instruct " \
           "(MATH-500): the best spurious control, incorrect, gives +5.0 points" in report
    assert "25% of ground truth's +20.0 points" in report
    assert f"at least {LARGE_SHARE:.0%} of ground truth's mean gain" in report  # the rule is stated
    # random with and without the clip: the gain goes with the clip on Qwen2.5-Math-7B
    assert "Random rewards give +20.0 points (95% interval 10.0 to 30.0, 3 seeds) with the standard clip and " \
           "+0.0 points (95% interval -5.0 to 5.0, 3 seeds) with the clip removed: the gain goes with the clip" in report
    assert report.index("Qwen2.5-Math-7B") < report.index("Llama3.1-8B-Instruct")  # the paper's model order


def test_files_and_runs_are_recorded(built):
    result, out = built
    names = {path.name for path in result.files}
    assert {"controls.png", "controls.pdf", "controls_gains.csv", "controls_gains.md", "controls_runs.csv",
            "controls.md"} <= names  # fmt: skip
    assert all((out / name).stat().st_size > 0 for name in names)
    assert len(result.runs) == 2 * 5 * 3 and len(result.tables["controls_runs"]) == 30


@pytest.mark.parametrize(
    "gains,outcome",
    [
        ({"ground_truth": (20, 30, 40), "random": (12, 15, 18)}, "yes"),  # half of 30 exactly
        ({"ground_truth": (20, 30, 40), "random": (12, 14, 16)}, "no"),  # 14 < 15
        ({"ground_truth": (20, 30, 40), "random": (-30, 30, 90)}, "no"),  # mean 30 but one seed lost
        ({"ground_truth": (-10, 10, 30), "random": (10, 20, 30)}, "no ground-truth gain"),
        ({"ground_truth": (30,), "random": (20,)}, "too few seeds"),
    ],
)
def test_the_rule(gains, outcome):
    rows = []
    for control, values in gains.items():
        low, high = exact_bootstrap_interval(values) if len(values) > 1 else (values[0], values[0])
        rows.append({"model": "m", "benchmark": "heldout", "control": control, "gain": float(np.mean(values)),
                     "low": low, "high": high, "n": len(values)})  # fmt: skip
    assert verdict(pd.DataFrame(rows))[0] == outcome


def test_other_sweeps_runs_count_and_only_the_papers_no_clip_setting_is_the_clip_removed(tmp_path):
    gains = {"ground_truth": (10, 20, 30), "random": (10, 20, 30), "random_no_clip": (-1, 0, 1)}
    sweep(tmp_path / "runs", "tiny", gains, experiment="fig12")
    for seed in range(3):  # clip=none runs of random (control random_ratio) are another control: not pooled
        write_train_run(tmp_path / "runs" / f"none_{seed}",
                        train_config(model="tiny", reward="random", gamma=0.5, clip="none", seed=seed,
                                     algorithm="grpo_official", total_steps=STEPS),
                        [{"step": 0, ACC: 0.5}, {"step": STEPS, ACC: 0.9}])  # fmt: skip
    sweep(tmp_path / "runs", "qwen2.5_7b", {"format": (1, 2, 3)})  # no ground truth: left out, said so
    result = build("controls", load_runs(tmp_path / "runs", progress=False), tmp_path / "out")
    free = row(result.tables["controls_gains"], "tiny", "random_no_clip")
    assert free["gain"] == pytest.approx(0) and free["n"] == 3
    assert set(result.tables["controls_gains"]["model"]) == {"tiny"}
    report = (tmp_path / "out" / "controls.md").read_text()
    assert "Not run: format, incorrect (python -m rlvr.train -m experiment=controls model=tiny control=format,incorrect)" \
           in report
    assert "Left out: Qwen2.5-7B, which lacks ground_truth, random, random_no_clip, incorrect (python -m rlvr.train " \
           "-m experiment=controls model=qwen2.5_7b control=ground_truth,random,random_no_clip,incorrect)" in report


def test_missing_runs_name_the_command_that_makes_them(tmp_path):
    sweep(tmp_path / "runs", "qwen2.5_math_7b", {"ground_truth": (10, 20, 30)})  # no spurious control
    with pytest.raises(MissingRuns, match=r"python -m rlvr\.train -m experiment=controls model=<model>"):
        build("controls", load_runs(tmp_path / "runs", progress=False), tmp_path / "out")


def test_the_command_builds_the_report(tmp_path, capsys):
    sweep(tmp_path / "runs", "qwen2.5_math_7b", {"ground_truth": (10, 20, 30), "format": (1, 2, 3)})
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--only", "controls"]) == 0
    assert "1 of 1 artifacts built from 6 runs" in capsys.readouterr().out
    assert (tmp_path / "out" / "controls" / "controls.md").read_text().count("No: ") == 1
    assert "## controls:" in (tmp_path / "out" / "index.md").read_text()


@pytest.mark.slow
def test_a_tiny_controls_sweep_is_reported(tmp_path):
    """Two two-step controls, two seeds each, on the tiny model with the command a user types (about a minute
    on two cores), then the report: each run's config names its control."""
    from conftest import run_module  # tests/conftest.py (see tests/analysis/conftest.py)

    run_module([sys.executable, "-m", "rlvr.train", "-m", "experiment=controls", "control=ground_truth,random_no_clip",
                "seed=0,1", "trainer.total_steps=2", f"paths.output_root={tmp_path / 'runs'}", "hydra/launcher=local_pool"],
               timeout=900)  # fmt: skip
    data = load_runs(tmp_path / "runs", progress=False)
    configs = [yaml.safe_load((Path(path) / "config.yaml").read_text()) for path in data.runs["path"]]
    assert sorted((c["control_name"], c["seed"]) for c in configs) == [
        ("ground_truth", 0), ("ground_truth", 1), ("random_no_clip", 0), ("random_no_clip", 1)]
    result = build("controls", data, tmp_path / "out")
    table = result.tables["controls_gains"]
    assert list(table["control"]) == ["ground_truth", "random_no_clip"] and list(table["n"]) == [2, 2]
    assert set(table["benchmark"]) == {"heldout"} and (tmp_path / "out" / "controls.png").stat().st_size > 0
