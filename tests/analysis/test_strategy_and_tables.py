"""Table 1, Figure 7 / Table 2 and Table 3 from synthetic runs with numbers worked out by hand, the paper's
transcribed numbers against each other, and the artifacts on real tiny runs (the ``tiny_runs`` fixture)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis import paper
from analysis.artifacts import MissingRuns, build
from analysis.load import load_runs
from analysis.names import MODEL_ORDER
from tests.analysis.fake_runs import record, train_config, write_eval_run, write_train_run

REPO = Path(__file__).resolve().parents[2]
B = "math500"


def train_run(root: Path, name: str, evals: dict, **config) -> Path:
    """A finished 2-step training run with eval records at the given steps."""
    return write_train_run(root / name, train_config(total_steps=2, **config), [{"step": 1}, {"step": 2}], evals)


def strategy(spec: str, prefix: str = "p") -> list[dict]:
    """Greedy records from a compact spec: one letter per problem, C/c = code right/wrong, L/l = language
    right/wrong ("Cl" = problem 0 code and right, problem 1 language and wrong)."""
    return [record(B, f"{prefix}{i}", ch.isupper(), is_code=ch.lower() == "c") for i, ch in enumerate(spec)]


def cell(table: pd.DataFrame, column: str, **where) -> float:
    rows = table
    for key, value in where.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, (where, rows)
    return float(rows[column].iloc[0])


# --------------------------------------------------------------------------------------------------
# Figure 7 / Table 2


@pytest.fixture(scope="module")
def strategy_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("strategy")
    # Seed 0, 10 problems. Before -> after, by problem:
    #   p0-p3 Code->Code: right 3 (C C C c) -> 4 (C C C C)
    #   p4-p6 Lang->Code: right 0 (l l l)   -> 3 (C C C)
    #   p7-p8 Lang->Lang: right 1 (L l)     -> 1 (L l)
    #   p9    Code->Lang: right 1 (C)       -> 0 (l)
    # Problems 40/30/20/10%. Accuracy 5/10 -> 8/10: gain 30 points. Contributions (points of the 10):
    # Code->Code +1 -> 10, Lang->Code +3 -> 30, Lang->Lang 0, Code->Lang -1 -> -10. Shares of the 30:
    # 33.3%, 100%, 0%, -33.3% (they add up to 100). Step 1 (all wrong) must be ignored: the last step is 2.
    train_run(root, "qm7_random_s0", {0: strategy("CCCclllLlC"), 1: strategy("cccccccccc"), 2: strategy("CCCCCCCLll")},
              reward="random", gamma=0.5, seed=0)  # fmt: skip
    # Seed 1: all Code->Code, 5/10 -> 6/10: gain 10 points, all of it Code->Code (share 100%).
    train_run(root, "qm7_random_s1", {0: strategy("CCCCCccccc"), 2: strategy("CCCCCCcccc")},
              reward="random", gamma=0.5, seed=1)  # fmt: skip
    # Two samples per problem (majority code flag, a tie is Lang; mean correctness):
    #   q0: before code [yes, no] (a tie: Lang), right [yes, no] = 0.5 -> after code both, right both = 1.0
    #   q1: before code both (Code), right neither = 0 -> after code neither (Lang), right [yes, no] = 0.5
    # Lang->Code +0.5 and Code->Lang +0.5 of 2 problems: 25 points each, gain 50, shares 50% / 50%.
    def two(p, codes, rights):
        return [record(B, p, bool(r), is_code=bool(c), sample=s) for s, (c, r) in enumerate(zip(codes, rights))]

    train_run(root, "qm15_format", {0: two("q0", [1, 0], [1, 0]) + two("q1", [1, 1], [0, 0]),
                                    2: two("q0", [1, 1], [1, 1]) + two("q1", [0, 0], [1, 0])},
              model="qwen2.5_math_1.5b", reward="format")  # fmt: skip
    # An evaluation run is not a training run: it has no "after".
    write_eval_run(root / "evals" / "qm7", "qwen2.5_math_7b", "default", strategy("CCCC"))
    return root


@pytest.fixture(scope="module")
def strategy_built(strategy_runs, tmp_path_factory):
    data = load_runs(strategy_runs, progress=False)
    out = tmp_path_factory.mktemp("strategy_out")
    return build("table2", data, out / "table2"), build("fig7", data, out / "fig7")


def test_transitions_of_one_run_by_hand(strategy_built):
    runs = strategy_built[0].tables["table2_runs"]
    s0 = runs[runs.run_id == "qm7_random_s0"]
    assert s0.transition.tolist() == ["Code->Code", "Code->Lang", "Lang->Code", "Lang->Lang"]
    assert s0.problems.tolist() == [4, 1, 3, 2]
    assert s0.problems_pct.tolist() == pytest.approx([40, 10, 30, 20])
    assert s0.acc_before.tolist() == pytest.approx([75, 100, 0, 50])
    assert s0.acc_after.tolist() == pytest.approx([100, 0, 100, 50])
    assert s0.contribution_pts.tolist() == pytest.approx([10, -10, 30, 0])
    assert s0.share_of_gain.tolist() == pytest.approx([100 / 3, -100 / 3, 100, 0])
    assert s0.gain_pts.unique().tolist() == pytest.approx([30])
    assert (s0.accuracy_before.iloc[0], s0.accuracy_after.iloc[0], s0.step_after.iloc[0]) == (50, 80, 2)


def test_several_samples_use_majority_code_flag_and_mean_correctness(strategy_built):
    runs = strategy_built[0].tables["table2_runs"]
    qm15 = runs[runs.run_id == "qm15_format"].set_index("transition")
    assert qm15.problems.to_dict() == {"Code->Code": 0, "Code->Lang": 1, "Lang->Code": 1, "Lang->Lang": 0}
    assert qm15.loc["Lang->Code", "acc_before"] == 50 and qm15.loc["Lang->Code", "acc_after"] == 100
    assert qm15.contribution_pts.tolist() == pytest.approx([0, 25, 25, 0])
    assert qm15.share_of_gain.tolist() == pytest.approx([0, 50, 50, 0])


def test_seeds_averaged_with_bootstrap_interval(strategy_built):
    table = strategy_built[0].tables["table2"]
    assert set(table.model) == {"qwen2.5_math_7b", "qwen2.5_math_1.5b"}  # the evaluation run is not in it
    where = dict(model="qwen2.5_math_7b", reward="random")
    # Code->Code shares 33.3% and 100%: mean 66.7; two values resample to a, (a+b)/2 or b with chances
    # 1/4, 1/2, 1/4, so the 95% interval is (a, b).
    assert cell(table, "runs", transition="Code->Code", **where) == 2
    assert cell(table, "share_of_gain", transition="Code->Code", **where) == pytest.approx(200 / 3)
    assert cell(table, "share_low", transition="Code->Code", **where) == pytest.approx(100 / 3)
    assert cell(table, "share_high", transition="Code->Code", **where) == pytest.approx(100)
    assert cell(table, "share_of_gain", transition="Lang->Code", **where) == pytest.approx(50)  # (100 + 0) / 2
    assert cell(table, "problems_pct", transition="Code->Code", **where) == pytest.approx(70)  # (40 + 100) / 2
    assert cell(table, "gain_pts", transition="Code->Code", **where) == pytest.approx(20)  # (30 + 10) / 2
    # Paper: Figure 7 (e) random, Lang->Code: 142 of 500 problems, 34 -> 98 right of a 247 -> 325 gain.
    assert cell(table, "paper_problems_pct", transition="Lang->Code", **where) == pytest.approx(28.4)
    assert cell(table, "paper_share_of_gain", transition="Lang->Code", **where) == pytest.approx(100 * 64 / 78)
    assert math.isnan(cell(table, "paper_share_of_gain", model="qwen2.5_math_1.5b", transition="Lang->Code"))


def test_table2_by_model_averages_rewards_with_paper_table2(strategy_built):
    by_model = strategy_built[0].tables["table2_by_model"]
    # One reward per model here, so each model's mean over rewards is that reward's mean.
    assert cell(by_model, "share_of_gain", model="qwen2.5_math_7b", transition="Lang->Code") == pytest.approx(50)
    assert cell(by_model, "paper_share_of_gain", model="qwen2.5_math_7b", transition="Lang->Code") == 58.3
    assert cell(by_model, "paper_gain_pts", model="qwen2.5_math_1.5b", transition="Lang->Code") == 28.5
    assert by_model.model.tolist()[:4] == ["qwen2.5_math_7b"] * 4  # the paper's order


def test_step_150_is_compared_with_step_0_when_evaluated_as_in_the_paper(tmp_path):
    # step 0: l l (both language, wrong); step 150: C C (code, right); step 300: L l
    train_run(tmp_path / "runs", "r", {0: strategy("ll"), 150: strategy("CC"), 300: strategy("Ll")}, reward="random")
    table = build("table2", load_runs(tmp_path / "runs", progress=False), tmp_path / "out").tables["table2_runs"]
    assert set(table.step_after) == {150}
    assert cell(table, "problems_pct", transition="Lang->Code") == 100.0  # both problems switched to code by step 150


def test_fig7_files(strategy_built):
    for built in strategy_built:
        assert built.files and all(path.stat().st_size > 0 for path in built.files)
    assert {p.suffix for p in strategy_built[1].files} == {".png", ".pdf"}
    assert {p.name for p in strategy_built[0].files} >= {"table2.csv", "table2_by_model.md", "table2_runs.csv"}


# --------------------------------------------------------------------------------------------------
# Table 1


@pytest.fixture(scope="module")
def table1_built(tmp_path_factory):
    root = tmp_path_factory.mktemp("table1")
    # Qwen2.5-Math-7B before training, 8 problems: 5 in code (3 right), 3 in language (1 right).
    # Code rate 5/8 = 62.5%, code answers 3/5 = 60%, language 1/3 = 33.3%, accuracy 4/8 = 50%.
    base = strategy("CCCccLll")
    train_run(root, "a_gt", {0: base, 2: strategy("CCCCCCCC")}, reward="ground_truth")
    train_run(root, "b_random", {0: base, 2: strategy("cccccccc")}, reward="random")
    train_run(root, "c_format", {0: strategy("CCCCcLll")}, reward="format")  # disagrees at step 0
    # OLMo2-7B, evaluated on its own: 4 problems in language, 1 right: 0% code, language 25%.
    write_eval_run(root / "evals" / "olmo", "olmo2_7b", "default", strategy("Llll"))
    # Not the model before training with its own prompt: another prompt, a checkpoint's evaluation.
    write_eval_run(root / "evals" / "olmo_py", "olmo2_7b", "python_prefix", strategy("CCCC"))
    write_eval_run(root / "evals" / "olmo_ckpt", "olmo2_7b", "default", strategy("CCCC"),
                   checkpoint="r/checkpoints/step_100")  # fmt: skip
    return build("table1", load_runs(root, progress=False), root / "out")


def test_table1_by_hand(table1_built):
    table = table1_built.tables["table1"]
    assert table.model.tolist() == ["qwen2.5_math_7b", "olmo2_7b"]
    qwen = table.iloc[0]
    assert (qwen.run_id, qwen.runs, qwen.runs_agreeing, qwen.problems) == ("a_gt", 3, 2, 8)
    assert (qwen.code_rate, qwen.acc_code, qwen.acc_lang, qwen.accuracy) == pytest.approx((62.5, 60, 100 / 3, 50))
    assert (qwen.paper_code_rate, qwen.paper_acc_code, qwen.paper_acc_lang) == (65.0, 60.9, 35.0)
    olmo = table.iloc[1]
    assert (olmo.runs, olmo.code_rate, olmo.acc_lang, olmo.paper_code_rate) == (1, 0, 25, 0.0)
    assert math.isnan(olmo.acc_code) and math.isnan(olmo.paper_acc_code)


def test_table1_files(table1_built):
    assert {p.name for p in table1_built.files} == {"table1.csv", "table1.md", "table1.png", "table1.pdf"}
    assert all(p.stat().st_size > 0 for p in table1_built.files)


# --------------------------------------------------------------------------------------------------
# Table 3


@pytest.fixture(scope="module")
def table3_built(tmp_path_factory):
    root = tmp_path_factory.mktemp("table3")
    evals = root / "evals"
    # Qwen2.5-Math-7B: default 2/4 right (50%), half in code; python_prefix 3/4 (75%), all in code:
    # +25 points (paper +15.0: 49.4 -> 64.4). Its fifth problem is not in the default run: not counted.
    write_eval_run(evals / "q_default", "qwen2.5_math_7b", "default", strategy("CcLl"))
    write_eval_run(evals / "q_python", "qwen2.5_math_7b", "python_prefix", strategy("CCcC") + strategy("C", "x"))
    # simplerl 1/4 (25%): -25 points (paper Table 5: 49.4 -> 63.2, +13.8).
    write_eval_run(evals / "q_simplerl", "qwen2.5_math_7b", "simplerl", strategy("Llll"))
    # OLMo2-7B has no default evaluation: no row.
    write_eval_run(evals / "o_python", "olmo2_7b", "python_prefix", strategy("cccc"))
    # Qwen2.5-7B only from training runs' step 0: default 2/2, prompt none 1/2: -50 points, no paper number.
    train_run(root, "t_default", {0: strategy("LL")}, model="qwen2.5_7b")
    train_run(root, "t_none", {0: strategy("Ll")}, model="qwen2.5_7b", prompt="none")
    return build("table3", load_runs(root, progress=False), root / "out")


def test_table3_by_hand(table3_built):
    table = table3_built.tables["table3"]
    assert list(zip(table.model, table.prompt)) == [
        ("qwen2.5_math_7b", "python_prefix"), ("qwen2.5_math_7b", "simplerl"), ("qwen2.5_7b", "none")]  # fmt: skip
    py = table.iloc[0]
    assert (py.problems, py.accuracy_default, py.accuracy, py.diff_pts) == (4, 50, 75, 25)
    assert (py.code_rate_default, py.code_rate, py.kind) == (50, 100, "eval")
    assert (py.paper_original, py.paper_prompted, py.paper_diff_pts) == (49.4, 64.4, 15.0)
    simplerl = table.iloc[1]
    assert (simplerl.diff_pts, simplerl.paper_prompted, simplerl.paper_diff_pts) == (-25, 63.2, 13.8)
    none = table.iloc[2]
    assert (none.kind, none.accuracy_default, none.accuracy, none.diff_pts) == ("train", 100, 50, -50)
    assert math.isnan(none.paper_diff_pts)


def test_table3_files(table3_built):
    assert {p.suffix for p in table3_built.files} == {".csv", ".md", ".png", ".pdf"}
    assert all(p.stat().st_size > 0 for p in table3_built.files)


def test_table3_warns_when_its_two_prompts_were_graded_by_different_graders(tmp_path):
    evals = tmp_path / "runs"
    write_eval_run(evals / "q_default", "qwen2.5_math_7b", "default", strategy("CcLl"), grader_version="1")
    write_eval_run(evals / "q_python", "qwen2.5_math_7b", "python_prefix", strategy("CCcC"), grader_version="2")
    write_eval_run(evals / "o_python", "olmo2_7b", "python_prefix", strategy("cccc"), grader_version="3")  # no row
    (warning,) = build("table3", load_runs(evals, progress=False), tmp_path / "out").warnings
    assert "1 (1 run), 2 (1 run)" in warning and "3 (" not in warning


# --------------------------------------------------------------------------------------------------
# What is missing


def test_missing_runs_say_what_to_run(tmp_path):
    (tmp_path / "empty").mkdir()
    empty = load_runs(tmp_path / "empty", progress=False)
    expected = {"table1": "prompt=default", "fig7": "python -m rlvr.train", "table2": "python -m rlvr.train",
                "table3": "python -m rlvr.evaluate -m experiment=table3"}  # fmt: skip
    for name, command in expected.items():
        with pytest.raises(MissingRuns, match=command):
            build(name, empty, tmp_path / name)
    # Only evaluations with the model's own prompt: Table 1 is built, Table 3 and Figure 7 are not.
    write_eval_run(tmp_path / "runs" / "q", "qwen2.5_math_7b", "default", strategy("CL"))
    data = load_runs(tmp_path / "runs", progress=False)
    assert build("table1", data, tmp_path / "t1").tables["table1"].runs.tolist() == [1]
    with pytest.raises(MissingRuns, match="found on math500: prompt\\(s\\) default"):
        build("table3", data, tmp_path / "t3")
    with pytest.raises(MissingRuns, match="evaluated at step 0 and at a later step"):
        build("fig7", data, tmp_path / "f7")


# --------------------------------------------------------------------------------------------------
# The paper's numbers


def test_paper_keys_are_config_names():
    models = {yaml.safe_load(p.read_text())["model"]["name"] for p in (REPO / "conf" / "model").glob("*.yaml")}
    rewards = {p.stem for p in (REPO / "conf" / "reward").glob("*.yaml")}
    prompts = {p.stem for p in (REPO / "conf" / "prompt").glob("*.yaml")}
    assert {m for m, _ in paper.PUBLISHED_GAINS} | set(paper.TABLE1) | set(paper.TABLE2) <= models
    assert {m for m, _ in paper.TABLE3} | set(MODEL_ORDER) <= models
    assert {r for _, r in paper.PUBLISHED_GAINS} | set(paper.FIG7) <= rewards
    assert {p for _, p in paper.TABLE3} <= prompts
    assert set(paper.SOURCES) >= {"PUBLISHED_GAINS", "TABLE1", "TABLE2", "TABLE3", "FIG7"}


def test_paper_numbers_agree_with_each_other():
    for (model, prompt), row in paper.TABLE3.items():  # printed differences = prompted - original
        if row["diff"] is not None:
            assert row["prompted"] - row["original"] == pytest.approx(row["diff"], abs=0.05), model
    fig7 = paper.fig7_frame()
    for reward, rows in fig7.groupby("reward"):
        assert rows.problems.sum() == paper.FIG7_PROBLEMS
        code_before = rows[rows.transition.str.startswith("Code")].problems.sum()
        assert 100 * code_before / paper.FIG7_PROBLEMS == paper.CODE_RATE_BEFORE["qwen2.5_math_7b"]  # 325 = 65.0%
        right_after = (rows.problems * rows.acc_after / 100).round().sum()
        assert 100 * right_after / paper.FIG7_PROBLEMS == pytest.approx(paper.FIG7_ACCURACY_AFTER[reward], abs=0.05)
        assert rows.share_of_gain.sum() == pytest.approx(100)
    # Table 1's language accuracy (35.0) is not Figure 7's (49 of 175 = 28.0): the paper disagrees with itself.
    before = fig7[fig7.reward == "random"].set_index("transition")
    assert before.loc["Code->Code", "acc_before"] == 61.2 and paper.TABLE1["qwen2.5_math_7b"]["acc_lang"] == 35.0


# --------------------------------------------------------------------------------------------------
# The real tiny runs


# The training runs alone (tiny_fig1), and the evaluation runs alone (tiny_table3): see the fixture.
REAL = [("train", ["table1", "fig7", "table2"]), ("evals", ["table1", "table3"])]


@pytest.mark.slow
@pytest.mark.parametrize("folder, names", REAL)
def test_real_tiny_runs(tiny_runs, folder, names, tmp_path):
    data = load_runs(tiny_runs / folder, progress=False)
    for name in names:
        built = build(name, data, tmp_path / name)
        assert built.files and all(p.stat().st_size > 0 for p in built.files)
        for table in built.tables.values():
            assert len(table)
    if "table2" in names:
        runs = built.tables["table2_runs"]
        per_run = runs.groupby("run_id")
        assert per_run.problems_pct.sum().tolist() == pytest.approx([100] * per_run.ngroups)
        assert per_run.contribution_pts.sum().tolist() == pytest.approx(per_run.gain_pts.first().tolist())
