"""Figure 1: MATH-500 gain from RLVR per training signal and model, as bars.

A run's gain is its accuracy at its last evaluated step minus at step 0, in points. The last step's value
is smoothed over 10 steps, as the curves' final values and the paper's published gains are (App. A.5); with
evaluations further apart than that (every 50 steps, or only at the end) it is the raw value. Several seeds
of one (model, reward) give the mean and a 95% bootstrap interval, drawn as an error bar. The paper's published
gains (``analysis.paper.PUBLISHED_GAINS``) stand beside ours in the table and as white diamonds on the bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.artifacts import Built, artifact, benchmark_for, save_figure, save_table
from analysis.curves import FIG1_REWARDS, gain_table, one_run_per_config, require, signal_runs
from analysis.load import RunData
from analysis.names import colours, display, ordered
from analysis.paper import PUBLISHED_GAINS


def with_published(table: pd.DataFrame, published: dict[tuple[str, str], float]) -> pd.DataFrame:
    """``table`` with a ``paper`` column: the published gain of its (model, reward), NaN where there is none.

    >>> t = pd.DataFrame({"model": ["qwen2.5_math_7b", "tiny"], "reward": ["random", "random"]})
    >>> with_published(t, {("qwen2.5_math_7b", "random"): 21.4})["paper"].tolist()
    [21.4, nan]
    """
    table = table.copy()
    table["paper"] = [float(published.get((m, r), np.nan)) for m, r in zip(table["model"], table["reward"])]
    return table


def plot_gains(table: pd.DataFrame, benchmark: str) -> Figure:
    """Grouped bars: one group per model, one bar per reward in the paper's order, error bars where n > 1."""
    models = ordered("model", table["model"])
    rewards = ordered("reward", table["reward"])
    colour = colours("reward", rewards)
    width = 0.8 / len(rewards)
    fig = Figure(figsize=(2.5 + 1.6 * len(models), 3.8), layout="constrained")
    ax = fig.subplots()
    for i, reward in enumerate(rewards):
        rows = table[table["reward"] == reward].set_index("model").reindex(models)
        x = np.arange(len(models)) + (i - (len(rewards) - 1) / 2) * width
        bars = ax.bar(x, rows["gain"], width, color=colour[reward], label=display("reward", reward))
        ax.bar_label(bars, fmt="%.1f", fontsize=6, padding=1)
        seeds = (rows["n"] > 1).to_numpy()
        if seeds.any():
            spread = [(rows["gain"] - rows["low"])[seeds], (rows["high"] - rows["gain"])[seeds]]
            ax.errorbar(x[seeds], rows["gain"][seeds], yerr=spread, fmt="none", ecolor="black", capsize=2, lw=0.8)
        if rows["paper"].notna().any():
            first = "paper" not in ax.get_legend_handles_labels()[1]
            ax.scatter(x, rows["paper"], marker="D", s=18, facecolors="white", edgecolors="black", zorder=3,
                       label="paper" if first else None)  # fmt: skip
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(np.arange(len(models)), [display("model", m) for m in models])
    name = display("benchmark", benchmark)
    ax.set_ylabel(f"{name} gain (points)")
    subtitle = "last step - step 0; error bars: 95% bootstrap interval over seeds"
    fig.suptitle(f"{name} gain from RLVR per training signal\n({subtitle})", fontsize=9)
    fig.legend(loc="outside lower center", fontsize=7, ncol=4)
    return fig


TITLE = "MATH-500 gain per reward per model (bars, the paper's Fig. 1)"


@artifact("fig1", TITLE)
def build(data: RunData, out: Path) -> Built:
    needs = "training runs with clip=standard, algorithm=grpo_official or grpo and reward in " + ", ".join(FIG1_REWARDS)
    metrics = require(signal_runs(data), needs, "fig1")
    benchmark = benchmark_for(data)
    column = f"eval/{benchmark}/accuracy"
    metrics = require(one_run_per_config(metrics, column), f"{needs}, evaluated on {benchmark}", "fig1")
    table = with_published(gain_table(metrics, column, ["model", "reward"]), PUBLISHED_GAINS)
    fig = plot_gains(table, benchmark)
    built = Built("fig1", TITLE, tables={"fig1": table}, figures={"fig1": fig}, runs=set(metrics["run_id"]))
    built.files += save_figure(fig, out, "fig1") + save_table(table, out, "fig1", floatfmt=".1f")
    return built
