"""fig1, fig2/fig3, fig6 and the ablations (fig8-fig12, fig16) on synthetic runs with known numbers."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from analysis.artifacts import MissingRuns, build
from analysis.artifacts.fig1 import PUBLISHED_GAINS
from analysis.load import load_runs
from analysis.stats import bootstrap_ci
from tests.analysis.fake_runs import train_config, write_train_run

ARTIFACTS = ("fig1", "fig2", "fig3", "fig6", "fig8", "fig9", "fig10", "fig11", "fig12", "fig16")
EXPERIMENTS = {name: name for name in ARTIFACTS} | {"fig6": "fig2"}  # conf/experiment/<name>.yaml makes the runs
ACC, CODE, AMC = "eval/math500/accuracy", "eval/math500/code_rate", "eval/amc/accuracy"


def run(root: Path, name: str, accuracy: dict[int, float], *, code_rate: dict[int, float] | None = None,
        extra: dict[int, dict] | None = None, **config) -> Path:  # fmt: skip
    """A finished training run whose MATH-500 accuracy is ``accuracy`` (step -> value); ``extra`` adds other
    metrics per step (also at steps without an evaluation, as the trainer logs them)."""
    extra = extra or {}
    steps = sorted(set(accuracy) | set(extra))
    rows = []
    for step in steps:
        row = {"step": step} | extra.get(step, {})
        if step in accuracy:
            row[ACC] = accuracy[step]
            row[AMC] = accuracy[step] / 2
        if code_rate and step in code_rate:
            row[CODE] = code_rate[step]
        rows.append(row)
    return write_train_run(root / name, train_config(total_steps=max(steps), **config), rows)


def rows(table, **where) -> list[dict]:
    mask = True
    for key, value in where.items():
        mask = mask & (table[key] == value)
    return table[mask].to_dict("records")


# --------------------------------------------------------------------------------------------------
# fig1: gains, seeds, what is left out.


@pytest.fixture(scope="module")
def gains(tmp_path_factory):
    root = tmp_path_factory.mktemp("fig1")
    # Two seeds of random, evaluated every 50 steps: 0.5 -> 0.6 and 0.5 -> 0.8, gains 10 and 30 points.
    run(root, "random_s0", {0: 0.5, 50: 0.55, 100: 0.6}, reward="random", gamma=0.5, seed=0)
    run(root, "random_s1", {0: 0.5, 50: 0.7, 100: 0.8}, reward="random", gamma=0.5, seed=1)
    # format, evaluated every 50 steps: 0.5 -> 0.7, gain 20; the end is the last *evaluated* step (step 120
    # logs no accuracy).
    run(root, "format", {0: 0.5, 50: 0.6, 100: 0.7}, reward="format", extra={120: {"train/accuracy": 0.1}})
    # The same config again from an overlapping sweep, as far but with fewer evaluations: counted once, as the
    # run above (a run evaluated further would win: one_run_per_config).
    run(root, "format_fig2", {0: 0.5, 100: 0.9}, reward="format", experiment="fig2", extra={60: {}})
    # Evaluated every step: the end is smoothed over (step - 10, step]: (0.3 + 0.2) / 2 = 0.25, gain -5.
    run(root, "olmo_gt", {0: 0.3, 1: 0.3, 2: 0.2}, model="olmo2_7b", reward="ground_truth")
    # Not Figure 1's: another gamma, another clip, another algorithm, another reward.
    run(root, "gamma0", {0: 0.5, 2: 0.0}, reward="random", gamma=0.0)  # (none of these is a seed of the above)
    run(root, "noclip", {0: 0.5, 2: 0.0}, reward="random", clip="none")
    run(root, "drgrpo", {0: 0.5, 2: 0.0}, reward="format", algorithm="dr_grpo")
    run(root, "python", {0: 0.5, 2: 0.0}, reward="python")
    return build("fig1", load_runs(root, progress=False), root / "out")


def test_fig1_gain_is_last_step_minus_step_0_in_points(gains):
    table = gains.tables["fig1"]
    (fmt,) = rows(table, model="qwen2.5_math_7b", reward="format")
    assert (fmt["start"], fmt["end"], fmt["n"]) == (50.0, 70.0, 1)  # the duplicate (0.5 -> 0.9) is not a seed
    assert (fmt["gain"], fmt["low"], fmt["high"]) == pytest.approx((20.0, 20.0, 20.0))
    (olmo,) = rows(table, model="olmo2_7b")
    assert (olmo["reward"], olmo["end"], olmo["gain"]) == ("ground_truth", pytest.approx(25.0), pytest.approx(-5.0))


def test_fig1_two_seeds_give_mean_and_bootstrap_interval(gains):
    (rnd,) = rows(gains.tables["fig1"], model="qwen2.5_math_7b", reward="random")
    # Gains 10 and 30: resampled means 10, 20, 30 with chances 1/4, 1/2, 1/4, so the 95% interval is (10, 30).
    assert rnd["n"] == 2
    assert (rnd["gain"], rnd["low"], rnd["high"]) == pytest.approx((20.0, 10.0, 30.0))
    assert (rnd["start"], rnd["end"]) == pytest.approx((50.0, 70.0))  # means of 50, 50 and 60, 80


def test_fig1_rows_in_the_papers_order_and_only_its_runs(gains):
    table = gains.tables["fig1"]
    assert list(zip(table["model"], table["reward"])) == [
        ("qwen2.5_math_7b", "format"), ("qwen2.5_math_7b", "random"), ("olmo2_7b", "ground_truth")]  # fmt: skip
    assert list(table.columns) == ["model", "reward", "start", "end", "gain", "low", "high", "n", "paper"]


def test_fig1_paper_column_is_the_published_gain_or_nan(gains):
    for record in gains.tables["fig1"].to_dict("records"):
        published = PUBLISHED_GAINS.get((record["model"], record["reward"]))
        assert record["paper"] == pytest.approx(published) if published is not None else math.isnan(record["paper"])


def test_fig1_draws_error_bars_only_where_there_are_seeds(gains):
    (ax,) = gains.figures["fig1"].axes
    # errorbar(fmt="none") adds one LineCollection of vertical bars: one for random (2 seeds), none for n = 1.
    segments = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert sum(len(c.get_segments()) for c in segments) == 1


# --------------------------------------------------------------------------------------------------
# Curves: the smoothing, the Qwen/other split, the benchmarks drawn.


@pytest.fixture(scope="module")
def curve_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("curves")
    # Logged every step: smoothed over the last 10 steps, step 0 as it is.
    run(root, "qwen_gt", {0: 0.5, 1: 0.1, 2: 0.2, 3: 0.6}, code_rate={0: 0.2, 1: 0.4, 2: 0.6, 3: 0.8},
        reward="ground_truth")  # fmt: skip
    # Evaluated every 50 steps: sparser than the window, so the curve is unchanged; steps between carry no eval.
    run(root, "qwen_random", {0: 0.4, 50: 0.7, 100: 0.8}, reward="random", gamma=0.5,
        extra={25: {"train/accuracy": 0.3}, 75: {"train/accuracy": 0.3}})  # fmt: skip
    run(root, "olmo_gt", {0: 0.3, 1: 0.3, 2: 0.35}, model="olmo2_7b", reward="ground_truth")
    return load_runs(root, progress=False), root


@pytest.fixture(scope="module")
def curves(curve_runs):
    data, root = curve_runs
    return {name: build(name, data, root / name) for name in ("fig2", "fig3", "fig6")}


def test_fig2_smooths_as_the_paper_says(curves):
    table = curves["fig2"].tables["fig2_curves"]
    gt = table[(table["reward"] == "ground_truth") & (table["benchmark"] == "math500")]
    # Window 10: step 2 = (0.1 + 0.2) / 2 = 0.15; step 3 = (0.1 + 0.2 + 0.6) / 3 = 0.3; step 0 never mixed in.
    assert gt["step"].tolist() == [0, 1, 2, 3]
    assert gt["raw"].tolist() == pytest.approx([0.5, 0.1, 0.2, 0.6])
    assert gt["smoothed"].tolist() == pytest.approx([0.5, 0.1, 0.15, 0.3])
    rnd = table[(table["reward"] == "random") & (table["benchmark"] == "math500")]
    assert rnd["step"].tolist() == [0, 50, 100] and rnd["smoothed"].tolist() == pytest.approx([0.4, 0.7, 0.8])


def test_fig2_and_fig3_split_the_models_and_draw_math500_and_amc(curves):
    fig2, fig3 = curves["fig2"], curves["fig3"]
    assert set(fig2.tables["fig2_curves"]["model"]) == {"qwen2.5_math_7b"}
    assert set(fig3.tables["fig3_curves"]["model"]) == {"olmo2_7b"}
    assert set(fig2.tables["fig2_curves"]["benchmark"]) == {"math500", "amc"}
    # One subplot per (benchmark, model): 2 x 1 here, titled and labelled as in the paper.
    axes = fig2.figures["fig2"].axes
    assert len(axes) == 2
    assert [ax.get_ylabel() for ax in axes] == ["MATH-500 accuracy (%)", "AMC accuracy (%)"]
    assert axes[0].get_title() == "Qwen2.5-Math-7B"
    labels = [t.get_text() for t in fig2.figures["fig2"].legends[0].get_texts()]
    assert labels == ["Ground truth", "Random"]


def test_fig6_draws_accuracy_and_code_rate(curves):
    built = curves["fig6"]
    table = built.tables["fig6_curves"]
    assert set(table["metric"]) == {ACC, CODE}
    code = table[(table["metric"] == CODE) & (table["model"] == "qwen2.5_math_7b")]
    # 0.2, 0.4, 0.6, 0.8 smoothed: 0.2 (step 0), 0.4, (0.4 + 0.6) / 2 = 0.5, (0.4 + 0.6 + 0.8) / 3 = 0.6.
    assert code["smoothed"].tolist() == pytest.approx([0.2, 0.4, 0.5, 0.6])
    assert [ax.get_ylabel() for ax in built.figures["fig6"].axes][-1] == "MATH-500 code reasoning rate (%)"


# --------------------------------------------------------------------------------------------------
# The ablations.


@pytest.fixture(scope="module")
def ablation_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablations")
    # fig10: gamma 0 does nothing (0.5 -> 0.5), gamma 0.5 gains 10 points.
    run(root, "g0", {0: 0.5, 2: 0.5}, reward="random", gamma=0.0)
    run(root, "g05", {0: 0.5, 2: 0.6}, reward="random", gamma=0.5,
        extra={1: {"actor/clip_frac": 0.1, "actor/clip_frac_low": 0.05, "actor/clip_frac_high": 0.05},
               2: {"actor/clip_frac": 0.3, "actor/clip_frac_low": 0.05, "actor/clip_frac_high": 0.25}})  # fmt: skip
    # fig11 / fig12: no clip, four seeds with gains -10, 0, 10, 20; the clip would have bound on 2% of tokens.
    for seed, end in enumerate([0.4, 0.5, 0.6, 0.7]):
        run(root, f"noclip_{seed}", {0: 0.5, 2: end}, reward="random", gamma=0.5, clip="no_old_logprob", seed=seed,
            extra={1: {"actor/clip_frac": 0.02}, 2: {"actor/clip_frac": 0.02}})  # fmt: skip
    run(root, "python", {0: 0.5, 2: 0.6}, code_rate={0: 0.6, 2: 0.9}, reward="python")
    run(root, "gt_nopy", {0: 0.5, 2: 0.6}, code_rate={0: 0.6, 2: 0.1}, reward="ground_truth_no_python")
    run(root, "fmt_nopy", {0: 0.5, 2: 0.55}, code_rate={0: 0.6, 2: 0.2}, reward="format_no_python")
    run(root, "norep", {0: 0.5, 2: 0.6}, reward="no_repetition", model="qwen2.5_7b")
    return load_runs(root, progress=False), root


def test_fig10_gain_per_gamma(ablation_runs):
    data, root = ablation_runs
    table = build("fig10", data, root / "fig10").tables["fig10_gain"]
    assert table["gamma"].tolist() == [0.0, 0.5]
    assert table["gain"].tolist() == pytest.approx([0.0, 10.0])


def test_fig11_reports_the_clip_fractions_it_read(ablation_runs):
    data, root = ablation_runs
    built = build("fig11", data, root / "fig11")
    table = built.tables["fig11_gain"].set_index("clip")
    # standard: clip_frac 0.1 and 0.3 -> 0.2; low 0.05 both steps; high 0.05, 0.25 -> 0.15.
    fractions = table.loc["standard", ["clip_frac", "clip_frac_low", "clip_frac_high"]].tolist()
    assert fractions == pytest.approx([0.2, 0.05, 0.15])
    assert table.loc["standard", "gain"] == pytest.approx(10.0)  # gamma 0's run is fig10's, not fig11's
    # no_old_logprob: four seeds at 0.02 each, low/high never logged.
    assert table.loc["no_old_logprob", "clip_frac"] == pytest.approx(0.02)
    assert math.isnan(table.loc["no_old_logprob", "clip_frac_low"])
    assert table.loc["no_old_logprob", "n"] == 4
    curves = built.tables["fig11_curves"]
    standard = curves[(curves["clip"] == "standard") & (curves["metric"] == "actor/clip_frac")]
    assert standard["raw"].tolist() == pytest.approx([0.1, 0.3])
    assert standard["smoothed"].tolist() == pytest.approx([0.1, 0.2])  # (0.1 + 0.3) / 2 at step 2
    assert [ax.get_ylabel() for ax in built.figures["fig11"].axes][1] == "clipped tokens (%)"


def test_fig12_seeds_mean_and_band(ablation_runs):
    data, root = ablation_runs
    built = build("fig12", data, root / "fig12")
    (row,) = built.tables["fig12_gain"].to_dict("records")
    assert (row["clip"], row["n"]) == ("no_old_logprob", 4)
    assert (row["gain"], row["low"], row["high"]) == pytest.approx(bootstrap_ci([-10.0, 0.0, 10.0, 20.0]))
    assert row["gain"] == pytest.approx(5.0)
    (ax,) = built.figures["fig12"].axes
    assert len(ax.lines) == 2 + 4  # the mean (raw dashed, smoothed solid) and each seed
    assert len(ax.collections) == 1  # the bootstrap band


@pytest.mark.parametrize(("name", "rewards"), [("fig8", {"python"}), ("fig9", {"ground_truth_no_python", "format_no_python"}),
                                               ("fig16", {"no_repetition"})])  # fmt: skip
def test_code_and_repetition_ablations_select_their_reward(ablation_runs, name, rewards):
    data, root = ablation_runs
    table = build(name, data, root / name).tables[f"{name}_curves"]
    assert set(table["reward"]) == rewards


# --------------------------------------------------------------------------------------------------
# Every artifact: files, and a helpful message when its runs are absent.


@pytest.fixture(scope="module")
def every_run(tmp_path_factory, ablation_runs, curve_runs):
    root = tmp_path_factory.mktemp("every")
    for source in (ablation_runs[1], curve_runs[1]):
        for path in source.iterdir():
            if (path / "metrics.jsonl").exists():
                shutil.copytree(path, root / path.name)
    return load_runs(root, progress=False), root


@pytest.mark.parametrize("name", ARTIFACTS)
def test_every_figure_renders_to_png_and_pdf(every_run, name):
    data, root = every_run
    built = build(name, data, root / "out" / name)
    figures = [p for p in built.files if p.suffix in (".png", ".pdf")]
    assert {p.suffix for p in figures} == {".png", ".pdf"}
    for path in figures:
        head = path.read_bytes()[:8]
        assert head.startswith(b"\x89PNG" if path.suffix == ".png" else b"%PDF") and path.stat().st_size > 1000
    assert all(p.exists() for p in built.files) and built.tables


@pytest.mark.parametrize("name", ARTIFACTS)
def test_missing_runs_say_which_and_how(tmp_path, name):
    # Runs of none of these figures: Dr. GRPO instead of GRPO.
    run(tmp_path / "runs", "drgrpo", {0: 0.5, 2: 0.6}, reward="random", gamma=0.5, algorithm="dr_grpo")
    with pytest.raises(MissingRuns, match=rf"needs .*python -m rlvr\.train -m experiment={EXPERIMENTS[name]}\b"):
        build(name, load_runs(tmp_path / "runs", progress=False), tmp_path / "out")


def test_missing_evaluations_are_missing_runs(tmp_path):
    run(tmp_path / "runs", "noeval", {}, reward="format", extra={1: {"train/accuracy": 0.5}})
    with pytest.raises(MissingRuns, match="evaluation"):
        build("fig1", load_runs(tmp_path / "runs", progress=False), tmp_path / "out")


# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_tiny_runs(tiny_runs, tmp_path):
    """Whatever the tiny runs support is built (benchmark `heldout`), the rest says which runs it needs."""
    data = load_runs(tiny_runs, progress=False)
    assert not data.skipped and data.runs.grader_version.nunique() <= 1  # one code, one grader
    built = {}
    for name in ARTIFACTS:
        try:
            built[name] = build(name, data, tmp_path / name)
        except MissingRuns as missing:
            assert "python -m rlvr.train" in str(missing)
    assert built, f"no artifact could be built from {tiny_runs}"
    for result in built.values():
        assert all(p.stat().st_size > 0 for p in result.files)
