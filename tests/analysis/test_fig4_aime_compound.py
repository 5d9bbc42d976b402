"""fig4 (TTRL, one-shot), fig13/fig14 (AIME curves) and fig15 (compound vs original) on synthetic runs with
known numbers: which runs each draws, the gains to its last step, and the paper's numbers beside them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.artifacts import MissingRuns, build
from analysis.load import load_runs
from tests.analysis.fake_runs import train_config, write_train_run

MATH, AMC, AIME24, AIME25 = (f"eval/{b}/accuracy" for b in ("math500", "amc", "aime24", "aime25"))


def write(root: Path, name: str, columns: dict[str, dict[int, float]], **config) -> Path:
    """A finished run logging ``columns`` ({metric: {step: value}}); its last step is the last logged."""
    steps = sorted({step for values in columns.values() for step in values})
    rows = [{"step": s} | {c: v[s] for c, v in columns.items() if s in v} for s in steps]
    return write_train_run(root / name, train_config(total_steps=steps[-1], algorithm="grpo_official", **config), rows)


def every(step: int, last: int, value) -> dict[int, float]:
    """``value(step)`` at 0, step, 2 * step, ..., last."""
    return {s: value(s) for s in range(0, last + 1, step)}


def one(table, **where) -> dict:
    rows = table
    for key, value in where.items():
        rows = rows[rows[key] == value]
    (row,) = rows.to_dict("records")
    return row


# --------------------------------------------------------------------------------------------------
# fig4


@pytest.fixture(scope="module")
def fig4(tmp_path_factory):
    root = tmp_path_factory.mktemp("fig4")
    # TTRL, evaluated every 50 steps past the figure's end: cut at 100, 0.5 -> 0.7 on MATH-500 (+20 points).
    write(root, "ttrl", {MATH: {0: 0.5, 50: 0.6, 100: 0.7, 150: 0.9}, AMC: {0: 0.2, 100: 0.3},
                         "reward/ttrl/label_hit_rate": {1: 0.4, 2: 0.6}, "reward/ttrl/majority_share": {1: 0.5, 2: 0.7}},
          reward="ttrl")  # fmt: skip
    # One-shot on Qwen2.5-7B twice: fig2's 300-step run (evaluated every 50) and fig4's (every 10). In the
    # window to step 100 fig4's has more evaluations and is drawn: 0.4 -> 0.55, +15 (fig2's would give +40).
    write(root, "one_shot_fig2", {MATH: every(50, 300, lambda s: 0.4 + 0.4 * (s > 0))}, model="qwen2.5_7b",
          reward="one_shot", experiment="fig2")  # fmt: skip
    write(root, "one_shot_fig4", {MATH: every(10, 100, lambda s: 0.4 + 0.0015 * s)}, model="qwen2.5_7b",
          reward="one_shot", experiment="fig4")  # fmt: skip
    write(root, "not_fig4", {MATH: {0: 0.5, 100: 0.1}}, reward="ground_truth")
    return build("fig4", load_runs(root, progress=False), root / "out"), root


def test_fig4_draws_ttrl_and_one_shot_to_step_100_with_the_papers_end_point(fig4):
    built, _ = fig4
    gains = built.tables["fig4_gain"]
    ttrl = one(gains, model="qwen2.5_math_7b", reward="ttrl", benchmark="math500")
    assert (ttrl["start"], ttrl["end"], ttrl["gain"]) == pytest.approx((50.0, 70.0, 20.0))  # step 150 left out
    assert one(gains, model="qwen2.5_math_7b", reward="ttrl", benchmark="amc")["gain"] == pytest.approx(10.0)
    shot = one(gains, model="qwen2.5_7b", reward="one_shot", benchmark="math500")
    # fig4's run; the end is smoothed over steps 91..100, which hold one evaluation (step 100): 0.4 + 0.15
    assert (shot["start"], shot["end"], shot["n"]) == pytest.approx((40.0, 55.0, 1))
    assert (shot["paper_end"], shot["released_checkpoint"]) == (54.8, 71.2)
    assert math.isnan(ttrl["paper_end"])
    assert set(gains["reward"]) == {"ttrl", "one_shot"}  # the ground-truth run is not fig4's
    curves = built.tables["fig4_curves"]
    assert curves["step"].max() == 100
    assert set(curves.loc[curves["reward"] == "one_shot", "step"]) == set(range(0, 101, 10))


def test_fig4_draws_ttrls_label_quality(fig4):
    built, root = fig4
    labels = built.tables["fig4_ttrl_labels_curves"]
    hit = labels[labels["metric"] == "reward/ttrl/label_hit_rate"]
    assert hit["raw"].tolist() == [0.4, 0.6] and hit["smoothed"].tolist() == pytest.approx([0.4, 0.5])
    assert (root / "out" / "fig4_ttrl_labels.png").stat().st_size > 1000


def test_fig4_without_its_runs_says_how_to_make_them(tmp_path):
    write(tmp_path, "gt", {MATH: {0: 0.5, 2: 0.6}}, reward="ground_truth")
    with pytest.raises(MissingRuns, match="reward=ttrl or one_shot.*experiment=fig4; on a CPU: experiment=tiny_fig4"):
        build("fig4", load_runs(tmp_path, progress=False), tmp_path / "out")


# --------------------------------------------------------------------------------------------------
# fig13, fig14


@pytest.fixture(scope="module")
def aime_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("aime")
    write(root, "gt", {MATH: {0: 0.5, 300: 0.8}, AIME24: {0: 0.10, 300: 0.25}, AIME25: {0: 0.05, 300: 0.10}},
          reward="ground_truth")  # fmt: skip
    write(root, "random", {AIME24: {0: 0.10, 300: 0.20}, AIME25: {0: 0.05, 300: 0.04}}, reward="random", gamma=0.5)
    write(root, "one_shot", {AIME24: {0: 0.1, 300: 0.9}}, reward="one_shot")  # not in the appendix figures
    write(root, "math_1.5b", {AIME24: {0: 0.0, 300: 0.1}}, model="qwen2.5_math_1.5b", reward="format")
    write(root, "olmo", {AIME24: {0: 0.0, 300: 0.03}, AIME25: {0: 0.0, 300: 0.0}}, model="olmo2_7b", reward="format")
    write(root, "no_aime", {MATH: {0: 0.5, 300: 0.6}}, model="llama3.1_8b", reward="format")
    return load_runs(root, progress=False), root


def test_fig13_draws_the_qwen_math_models_on_aime_with_the_papers_gains(aime_runs):
    data, root = aime_runs
    built = build("fig13", data, root / "fig13")
    gains = built.tables["fig13_gain"]
    assert set(gains["model"]) == {"qwen2.5_math_7b", "qwen2.5_math_1.5b"}
    assert set(gains["reward"]) == {"ground_truth", "random", "format"}  # one-shot is not drawn
    gt24 = one(gains, model="qwen2.5_math_7b", reward="ground_truth", benchmark="aime24")
    assert (gt24["gain"], gt24["paper"]) == pytest.approx((15.0, 15.3))
    random25 = one(gains, model="qwen2.5_math_7b", reward="random", benchmark="aime25")
    assert random25["gain"] == pytest.approx(-1.0) and random25["paper_range"] == "-0.4 to 4.5"
    assert one(gains, model="qwen2.5_math_7b", reward="ground_truth", benchmark="aime25")["paper_range"] == ""
    assert set(built.tables["fig13_curves"]["benchmark"]) == {"aime24", "aime25"}


def test_fig14_draws_the_other_models_that_were_evaluated_on_aime(aime_runs):
    data, root = aime_runs
    gains = build("fig14", data, root / "fig14").tables["fig14_gain"]
    assert set(gains["model"]) == {"olmo2_7b"}  # Llama 3.1 8B's run has no AIME evaluation
    assert one(gains, model="olmo2_7b", benchmark="aime24")["gain"] == pytest.approx(3.0)


def test_aime_figures_without_aime_evaluations_say_so(tmp_path):
    write(tmp_path, "gt", {"eval/heldout/accuracy": {0: 0.5, 2: 0.6}}, model="tiny", reward="ground_truth")
    with pytest.raises(MissingRuns, match="evaluated on AIME .eval=paper.*experiment=fig2"):
        build("fig13", load_runs(tmp_path, progress=False), tmp_path / "out")


# --------------------------------------------------------------------------------------------------
# fig15


@pytest.fixture(scope="module")
def fig15(tmp_path_factory):
    root = tmp_path_factory.mktemp("fig15")
    sft = {"model": "olmo2_7b_sft"}
    # Compound runs, evaluated every 10 steps to 60: 0.2 -> 0.3 (+10; the paper prints +8.9) and 0.2 -> 0.25.
    write(root, "format_np", {MATH: every(10, 60, lambda s: 0.2 + s / 600), AMC: {0: 0.1, 60: 0.1}},
          reward="format_no_python", **sft)  # fmt: skip
    write(root, "gt_np", {MATH: {0: 0.2, 60: 0.25}}, reward="ground_truth_no_python", **sft)
    # The original format run, 300 steps evaluated every 50: cut at 60 its end is step 50's 0.15 (-5).
    write(root, "format", {MATH: every(50, 300, lambda s: 0.2 - s / 1000)}, reward="format", **sft)
    # A model with an original run but no compound one is not drawn.
    write(root, "qwen_format", {MATH: {0: 0.4, 60: 0.7}}, model="qwen2.5_7b", reward="format")
    return build("fig15", load_runs(root, progress=False), root / "out"), root


def test_fig15_sets_each_compound_against_its_original_to_step_60(fig15):
    built, root = fig15
    gains = built.tables["fig15_gain"]
    assert set(gains["model"]) == {"olmo2_7b_sft"}
    compound = one(gains, reward="format_no_python", benchmark="math500")
    assert (compound["pair"], compound["variant"]) == ("format", "compound")
    assert (compound["gain"], compound["paper"]) == pytest.approx((10.0, 8.9))
    original = one(gains, reward="format", benchmark="math500")
    assert (original["variant"], original["end"], original["gain"]) == ("original", pytest.approx(15.0), pytest.approx(-5.0))
    assert math.isnan(original["paper"])
    assert one(gains, reward="ground_truth_no_python", benchmark="math500")["gain"] == pytest.approx(5.0)
    # One figure per pair with a compound run: ground truth and format (no incorrect run here).
    assert {p.name for p in built.files if p.suffix == ".png"} == {"fig15_ground_truth.png", "fig15_format.png"}
    curves = built.tables["fig15_format_curves"]
    assert set(curves["variant"]) == {"compound", "original"} and curves["step"].max() == 60


def test_fig15_without_compound_runs_points_to_fig9(tmp_path):
    write(tmp_path, "format", {MATH: {0: 0.5, 2: 0.6}}, reward="format")
    with pytest.raises(MissingRuns, match="ground_truth_no_python, incorrect_no_python, format_no_python.*experiment=fig9"):
        build("fig15", load_runs(tmp_path, progress=False), tmp_path / "out")


# --------------------------------------------------------------------------------------------------
# A real two-step TTRL run of the tiny model (the ``tiny_runs`` fixture: experiment=tiny_fig4 method=ttrl)


@pytest.mark.slow
def test_a_two_step_tiny_ttrl_run_trains_on_its_own_majority_votes(tiny_runs):
    import json
    from collections import Counter

    import pandas as pd
    import yaml

    from rlvr.rewards.extract import extract_answer

    (run,) = [p.parent for p in (tiny_runs / "ttrl").rglob("metrics.jsonl")]
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert (config["reward"]["name"], config["reward"]["n_votes"], config["reward"]["votes_from"]) == ("ttrl", 32, "kept")
    data = json.loads((run / "meta.json").read_text())["data"]
    assert data["name"].endswith("/test_time") and data["train"] == data["heldout"]  # trains on the test prompts
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for metrics in steps[1:]:
        for name in ("label_hit_rate", "majority_share", "true_answer_share", "reward_agreement", "unlabelled_frac"):
            assert 0.0 <= metrics[f"reward/ttrl/{name}"] <= 1.0, name
        assert metrics["reward/ttrl/majority_share"] >= 1 / 8  # of 8 votes, the majority has at least one
    # Every reward is the official rule recomputed here: 1 where the answer is the most common answer of the
    # prompt's 8 kept responses (Counter.most_common; where two answers tie, either may be the label).
    rollouts = pd.concat(pd.read_parquet(p) for p in sorted((run / "rollouts").glob("step_*.parquet")))
    assert len(rollouts) == 2 * 8 * 8  # two steps of 8 prompts x 8 kept responses
    for _, group in rollouts.groupby(["step", "prompt_id"]):
        answers = [extract_answer(r) for r in group["response"]]
        answers = [None if a is None else str(int(a)) if a.strip().lstrip("-").isdigit() else a.strip() for a in answers]
        counts = Counter(a for a in answers if a)
        top = max(counts.values(), default=0)
        labels = [a for a, n in counts.items() if n == top] or [None]
        expected = [[float(a is not None and a == label) for a in answers] for label in labels]
        assert group["reward"].tolist() in expected
