"""Figure 7 and Table 2: how each problem's reasoning strategy changes in training, and which changes
carry the accuracy gain.

For one training run, its eval records on the reported benchmark (``benchmark_for``) at step 0 (the model
before training) and at step 150 (the paper's; else its last eval step) are compared problem by problem (the problems present at
both). A problem's strategy is Code if its response reasons in code (``is_code``), else Lang; with
several samples per problem, it is Code when a strict majority of its samples are (a tie is Lang), and
its correctness is the mean over its samples (so accuracies are avg@n). Each problem then falls in one
of four transitions, Code->Code, Code->Lang, Lang->Code, Lang->Lang, and for each transition d of a run
with N problems:

- ``problems_pct``: its problems as % of N;
- ``acc_before`` / ``acc_after``: accuracy (%) on its problems at step 0 / at the later step;
- ``contribution_pts``: sum over its problems of (correct_after - correct_before), / N, in points;
  the four add up to the run's gain ``gain_pts``;
- ``share_of_gain``: ``contribution_pts / gain_pts`` in % (the paper's partial contribution C_d);
  the four add up to 100. A run that lost accuracy gets shares of its loss; one with no change, NaN.

Runs are grouped by model and reward (and by gamma, clip, algorithm and prompt, so that ablations are
not mixed in); with several seeds a group reports the mean over its runs and, for the shares of the
problems and of the gain, the 95% bootstrap interval over runs (``analysis.stats.mean_with_ci``).

Files: ``table2`` (group x transition), ``table2_by_model`` (the paper's Table 2: per model, the mean over
rewards of each group's shares, from the paper's main setting only), ``table2_runs`` (run x transition),
``fig7`` (left: % of problems per transition, stacked; right: share of the gain with intervals). Paper
columns and markers: Figure 7 for Qwen2.5-Math-7B per reward, Table 2 per model (``analysis.paper``).
``step_after`` says which step was compared with step 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import paper
from analysis.artifacts import Built, MissingRuns, artifact, save_figure, save_table
from analysis.load import RunData
from analysis.names import MAIN_ALGORITHMS, main_algorithm, rank, sort_by_model
from analysis.records import report_benchmark
from analysis.stats import mean_with_ci

TRANSITIONS = paper.TRANSITIONS
GROUP = ["model", "reward", "gamma", "clip", "algorithm", "prompt"]
COLORS = dict(zip(TRANSITIONS, ("tab:blue", "tab:purple", "tab:green", "tab:red")))
# The paper's Table 2 averages its five Figure 7 rewards in its main setting (standard clipping, GRPO,
# the model's own prompt, random rewards with gamma 0.5); table2_by_model averages the same.
MAIN_SETTING = {"clip": ["standard"], "algorithm": list(MAIN_ALGORITHMS), "prompt": ["default"]}

MISSING = (
    "needs training runs evaluated at step 0 and at a later step (eval.every_steps, or the last step): "
    "python -m rlvr.train -m experiment=fig1 (or experiment=tiny_fig1 on a CPU)"
)


@artifact("fig7", "Reasoning-strategy transitions per problem (Code/Lang before -> after training)")
def build_fig7(data: RunData, out: Path) -> Built:
    runs, groups, _ = _tables(data)
    fig = _figure(groups, runs.benchmark.iloc[0])
    files = save_figure(fig, out, "fig7")
    return Built("fig7", "Reasoning-strategy transitions", files, {"table2": groups}, {"fig7": fig},
                 runs=set(runs.run_id))


@artifact("table2", "Share of the accuracy gain carried by each reasoning-strategy transition")
def build_table2(data: RunData, out: Path) -> Built:
    runs, groups, by_model = _tables(data)
    files = save_table(groups, out, "table2", floatfmt=".1f")
    files += save_table(by_model, out, "table2_by_model", floatfmt=".1f")
    files += save_table(runs, out, "table2_runs", floatfmt=".1f")
    tables = {"table2": groups, "table2_by_model": by_model, "table2_runs": runs}
    return Built("table2", "Partial contributions to the gain", files, tables, runs=set(runs.run_id))


# --------------------------------------------------------------------------------------------------


def problem_strategies(records: pd.DataFrame) -> pd.DataFrame:
    """One row per problem: ``code`` (a strict majority of its samples reason in code) and ``correct``
    (mean correctness of its samples).

    >>> r = pd.DataFrame({"problem_id": ["a", "a", "a", "b", "b"], "is_code": [True, True, False, True, False],
    ...                   "correct": [True, False, False, True, True]})
    >>> problem_strategies(r).round(3).to_dict("index")
    {'a': {'code': True, 'correct': 0.333}, 'b': {'code': False, 'correct': 1.0}}
    """
    by_problem = records.assign(is_code=records["is_code"].fillna(False).astype(float),
                                correct=records["correct"].astype(float)).groupby("problem_id")  # fmt: skip
    return pd.DataFrame({"code": by_problem["is_code"].mean() > 0.5, "correct": by_problem["correct"].mean()})


def transition_table(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The four transitions between two ``problem_strategies`` frames, over the problems in both.

    Five problems: two Code->Code (1 right before, 2 after), one Lang->Code (0 -> 1), one Lang->Lang
    (1 -> 1), one Code->Lang (1 -> 0). Accuracy 3/5 -> 4/5: gain 20 points, of which Code->Code +1/5 = 20,
    Lang->Code +20, Code->Lang -20: shares 100%, 100%, -100%, 0%.

    >>> frame = lambda code, correct: pd.DataFrame({"code": code, "correct": correct}, index=list("abcde"))
    >>> b = frame([True, True, False, False, True], [1, 0, 0, 1, 1])
    >>> a = frame([True, True, True, False, False], [1, 1, 1, 1, 0])
    >>> t = transition_table(b, a)
    >>> t[["transition", "problems", "contribution_pts", "share_of_gain"]].to_numpy().tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['Code->Code', 2, 20.0, 100.0], ['Code->Lang', 1, -20.0, -100.0],
     ['Lang->Code', 1, 20.0, 100.0], ['Lang->Lang', 1, 0.0, 0.0]]
    >>> t.gain_pts.tolist()
    [20.0, 20.0, 20.0, 20.0]
    """
    joined = before.join(after, how="inner", lsuffix="_before", rsuffix="_after")
    n = len(joined)
    strategy = lambda code: np.where(code, "Code", "Lang").astype(object)  # noqa: E731
    name = strategy(joined.code_before) + "->" + strategy(joined.code_after)
    delta = joined.correct_after - joined.correct_before
    nan = float("nan")
    gain = 100 * float(delta.sum()) / n if n else nan
    rows = []
    for transition in TRANSITIONS:
        inside = name == transition
        contribution = 100 * float(delta[inside].sum()) / n if n else nan
        rows.append({
            "transition": transition, "problems": int(inside.sum()),
            "problems_pct": 100 * inside.sum() / n if n else nan,
            "acc_before": 100 * joined.correct_before[inside].mean() if inside.any() else nan,
            "acc_after": 100 * joined.correct_after[inside].mean() if inside.any() else nan,
            "contribution_pts": contribution, "share_of_gain": 100 * contribution / gain if abs(gain) > 1e-9 else nan,
            "gain_pts": gain, "accuracy_before": 100 * joined.correct_before.mean(),
            "accuracy_after": 100 * joined.correct_after.mean(),
        })  # fmt: skip
    return pd.DataFrame(rows)


PAPER_STEP_AFTER = 150  # Figure 7 compares the model before training with the checkpoint of step 150


def step_after(steps) -> int:
    """The evaluation compared with step 0: step 150 as in the paper when the run evaluated it, else its last.

    >>> step_after([0, 50, 100, 150, 200, 300]), step_after([0, 1, 2])
    (150, 2)
    """
    steps = [int(s) for s in steps]
    return PAPER_STEP_AFTER if PAPER_STEP_AFTER in steps else max(steps)


def run_transitions(data: RunData, benchmark: str) -> pd.DataFrame:
    """``transition_table`` of every training run that evaluated ``benchmark`` at step 0 and later: one row
    per (run, transition), with the run's keys, ``problems_total`` and ``step_after``."""
    evals = data.evals
    if evals.empty or "benchmark" not in evals:
        return pd.DataFrame()
    evals = evals[(evals["kind"] == "train") & (evals["benchmark"] == benchmark)]
    frames = []
    for run_id, records in evals.groupby("run_id", sort=True):
        last = step_after(records["step"].unique())
        if last <= 0 or not (records["step"] == 0).any():
            continue
        table = transition_table(problem_strategies(records[records["step"] == 0]),
                                 problem_strategies(records[records["step"] == last]))  # fmt: skip
        keys = records.iloc[0]
        info = {"run_id": run_id, **{k: keys[k] for k in [*GROUP, "seed"]}, "benchmark": benchmark,
                "step_after": last, "problems_total": int(table.problems.sum())}  # fmt: skip
        frames.append(table.assign(**info)[[*info, *table.columns]])
    if not frames:
        return pd.DataFrame()
    runs = pd.concat(frames, ignore_index=True)
    return runs.assign(gamma=pd.to_numeric(runs["gamma"], errors="coerce"))


def _tables(data: RunData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    benchmark = report_benchmark(data, MISSING)
    runs = run_transitions(data, benchmark)
    if runs.empty:
        raise MissingRuns(f"{MISSING} (none found on benchmark {benchmark})")
    keys = [*GROUP, "transition"]
    share = mean_with_ci(runs, keys, "share_of_gain").rename(
        columns={"mean": "share_of_gain", "low": "share_low", "high": "share_high", "n": "runs_with_gain"})
    problems = mean_with_ci(runs, keys, "problems_pct").rename(
        columns={"mean": "problems_pct", "low": "problems_pct_low", "high": "problems_pct_high", "n": "runs"})
    means = runs.groupby(keys, sort=False, dropna=False).agg(
        step_after=("step_after", "max"), acc_before=("acc_before", "mean"), acc_after=("acc_after", "mean"),
        contribution_pts=("contribution_pts", "mean"), gain_pts=("gain_pts", "mean")).reset_index()  # fmt: skip
    groups = problems.merge(share, on=keys).merge(means, on=keys)
    groups = groups.merge(_paper_fig7(), on=["model", "reward", "transition"], how="left")
    paper_columns = [c for c in groups.columns if c.startswith("paper_")]
    groups.loc[~_main_setting(groups), paper_columns] = np.nan  # Figure 7 is the paper's main setting only
    groups = _order(groups, keys)
    runs = _order(runs, ["run_id", "transition"])
    return runs, groups, _by_model(groups)


def _paper_fig7() -> pd.DataFrame:
    columns = ["problems_pct", "acc_before", "acc_after", "share_of_gain"]
    published = paper.fig7_frame()[["model", "reward", "transition", *columns]]
    return published.rename(columns={c: f"paper_{c}" for c in columns})


def _by_model(groups: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 2: per model and transition, the mean over the five Figure 7 rewards (main setting
    only) of each reward's mean share of the gain, and the mean gain."""
    main = groups[groups.reward.isin(list(paper.FIG7)) & _main_setting(groups)]
    rows = []
    for (model, transition), group in main.groupby(["model", "transition"], sort=False):
        published = paper.TABLE2.get(model, {})
        rows.append({
            "model": model, "transition": transition, "rewards": ",".join(group.reward),
            "share_of_gain": group.share_of_gain.mean(), "gain_pts": group.gain_pts.mean(),
            "paper_share_of_gain": published.get(transition), "paper_gain_pts": published.get("gain"),
        })  # fmt: skip
    columns = ["model", "transition", "rewards", "share_of_gain", "gain_pts", "paper_share_of_gain", "paper_gain_pts"]
    table = pd.DataFrame(rows, columns=columns).astype({"paper_share_of_gain": float, "paper_gain_pts": float})
    return _order(table, ["transition"]) if len(table) else table


def _main_setting(groups: pd.DataFrame) -> pd.Series:
    """Rows in the paper's main setting (``MAIN_SETTING``; gamma unset or 0.5)."""
    mask = groups.gamma.isna() | groups.gamma.eq(0.5)
    for key, values in MAIN_SETTING.items():
        mask &= groups[key].isin(values)
    if mask.any():  # of the two GRPO recipes, only the first present (names.MAIN_ALGORITHMS)
        mask &= groups["algorithm"] == main_algorithm(groups[mask])["algorithm"].iloc[0]
    return mask


def _order(table: pd.DataFrame, then: list[str]) -> pd.DataFrame:
    """Paper model order, then reward order (``analysis.names``), transitions in TRANSITIONS' order."""
    ranked = table.assign(
        _reward=table["reward"].map(lambda reward: rank("reward", reward)) if "reward" in table else 0,
        _transition=table["transition"].map(TRANSITIONS.index),
    )
    then = ["_reward" if c == "reward" else "_transition" if c == "transition" else c for c in then if c != "model"]
    if "reward" in table and "_reward" not in then:
        then = ["_reward", "reward", *then]
    return sort_by_model(ranked, then).drop(columns=["_reward", "_transition"])


def _labels(groups: pd.DataFrame) -> list[tuple]:
    """One x position per group; a label names model and reward, plus the keys that differ between groups
    of the same model and reward (e.g. clip=none beside clip=standard)."""
    keys = groups[GROUP].drop_duplicates()
    labels = []
    for (model, reward), variants in keys.groupby(["model", "reward"], sort=False):
        varying = [k for k in GROUP[2:] if variants[k].nunique(dropna=False) > 1]
        for _, row in variants.iterrows():
            extra = "".join(f"\n{k}={row[k]}" for k in varying)
            labels.append((tuple(row[GROUP]), f"{model}\n{reward}{extra}"))
    return labels


def _figure(groups: pd.DataFrame, benchmark: str) -> Figure:
    labels = _labels(groups)
    x = np.arange(len(labels))
    fig = Figure(figsize=(max(8.0, 1.6 * len(labels) + 3), 4.4))
    left, right = fig.subplots(1, 2)
    bottom = np.zeros(len(labels))
    width = 0.8 / len(TRANSITIONS)
    for i, transition in enumerate(TRANSITIONS):
        rows = [_row(groups, key, transition) for key, _ in labels]
        pct = np.array([r.problems_pct for r in rows], dtype=float)
        left.bar(x, np.nan_to_num(pct), bottom=bottom, color=COLORS[transition], label=transition, width=0.6)
        bottom += np.nan_to_num(pct)
        share = np.array([r.share_of_gain for r in rows], dtype=float)
        low = np.array([r.share_low for r in rows], dtype=float)
        high = np.array([r.share_high for r in rows], dtype=float)
        xs = x - 0.4 + width * (i + 0.5)
        right.bar(xs, np.nan_to_num(share), width=width, color=COLORS[transition], label=transition)
        right.errorbar(xs, share, yerr=[np.maximum(share - low, 0), np.maximum(high - share, 0)], fmt="none",
                       ecolor="black", elinewidth=0.8, capsize=2)  # fmt: skip
        published = np.array([r.paper_share_of_gain for r in rows], dtype=float)
        if np.isfinite(published).any():
            right.scatter(xs, published, marker="_", s=120, linewidths=2, color="black", zorder=3,
                          label="paper (Fig. 7)" if i == 0 else None)  # fmt: skip
    for ax in (left, right):
        ax.set_xticks(x, [label for _, label in labels], fontsize=7, rotation=35, ha="right", rotation_mode="anchor")
    left.set_ylim(0, 100)
    left.set_ylabel("problems (%)")
    left.set_title(f"Strategy before -> after training ({benchmark})", fontsize=9)
    left.legend(fontsize=7, loc="lower right")
    right.axhline(0, color="grey", linewidth=0.8)
    right.set_ylabel("share of the accuracy gain (%)")
    right.set_title("Each transition's share of the gain (mean, 95% CI over runs)", fontsize=9)
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _row(groups: pd.DataFrame, key: tuple, transition: str) -> pd.Series:
    mask = groups["transition"] == transition
    for column, value in zip(GROUP, key):
        mask &= groups[column].isna() if pd.isna(value) else groups[column] == value
    return groups[mask].iloc[0]
