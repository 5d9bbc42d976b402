"""The curve code every figure of training curves shares: runs selected by config keys, per-run curves,
gains, and the figure.

``curve_frame`` turns rows of ``RunData.metrics`` into tidy per-run curves (raw and smoothed as the paper's
App. A.5 says), ``plot_curves`` draws them (one subplot per metric and panel key, one line per value of a
key), ``gain_table`` gives each group's gain from step 0 to the last evaluated step with a bootstrap
interval over seeds. ``fig1``, ``fig2_fig3``, ``fig6`` and the ablations (``fig8`` .. ``fig16``) select
their runs with ``signal_runs`` / ``one_run_per_config`` (or ``require``: ``MissingRuns`` saying which runs
would make them) and call these. Names, orders and colours come from ``analysis.names``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis.artifacts import Built, MissingRuns, save_figure, save_table
from analysis.load import RunData
from analysis.names import (LINE_NAMES, MAIN_ALGORITHMS, as_key, colours, display, is_missing, main_algorithm,
                            metric_label, ordered, sort_by)
from analysis.stats import mean_with_ci, smooth_curve

# The six training signals of Figures 1-3 (in the paper's order: ``analysis.names.ORDERS``).
FIG1_REWARDS = ("ground_truth", "majority_vote", "one_shot", "format", "incorrect", "random")
# What makes two runs "the same run": every config key but the experiment, because sweeps overlap (fig1's
# Qwen2.5-Math-7B runs are fig2's too, and the tiny_fig1/2/3 sweeps are identical).
CONFIG_KEYS = ("model", "reward", "gamma", "clip", "algorithm", "seed", "prompt")


# --------------------------------------------------------------------------------------------------
# Selecting runs.


def one_run_per_config(metrics: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows of the runs that logged ``column``, one run per config (``CONFIG_KEYS``): where several runs share
    one (overlapping sweeps), the run that logged it furthest (fig2's 300-step one-shot run, not fig4's
    100-step one), then with the most logged values, ties to the last run_id (the latest multirun folder).
    Seeds are part of the config, so replicate seeds are all kept. A figure drawn to an earlier step cuts the
    rows there first, so that the run with the most points in its window wins.

    >>> m = pd.DataFrame({"run_id": ["a", "a", "b", "b", "b"], "step": [0, 300, 0, 50, 100], "acc": 0.5})
    >>> m = m.assign(**{k: "x" for k in CONFIG_KEYS})
    >>> one_run_per_config(m, "acc").run_id.unique().tolist(), one_run_per_config(m[m.step <= 100], "acc").run_id.unique().tolist()
    (['a'], ['b'])
    """
    if metrics.empty or column not in metrics:
        return metrics.iloc[0:0]
    logged = metrics[metrics[column].notna()].groupby("run_id", sort=False)
    reach = pd.concat([logged["step"].max().rename("_last"), logged[column].count().rename("_count")], axis=1)
    runs = metrics.drop_duplicates("run_id").set_index("run_id")[list(CONFIG_KEYS)].join(reach, how="inner").reset_index()
    runs = runs.sort_values(["_last", "_count", "run_id"]).drop_duplicates(list(CONFIG_KEYS), keep="last")
    return metrics[metrics["run_id"].isin(runs["run_id"])]


def default_gamma(metrics: pd.DataFrame) -> pd.Series:
    """Rows whose random reward has the default gamma 0.5 (or no gamma: the other rewards)."""
    return metrics["gamma"].isna() | (pd.to_numeric(metrics["gamma"], errors="coerce") == 0.5)


def signal_runs(data: RunData) -> pd.DataFrame:
    """Metrics of Figures 1-3's runs: the six training signals, standard clip, GRPO, gamma 0.5 for random."""
    metrics = data.select("metrics", kind="train", reward=list(FIG1_REWARDS), clip="standard",
                          algorithm=list(MAIN_ALGORITHMS))  # fmt: skip
    metrics = main_algorithm(metrics)
    return metrics[default_gamma(metrics)] if len(metrics) else metrics


def require(frame: pd.DataFrame, needs: str, experiment: str, tiny: bool = True) -> pd.DataFrame:
    """``frame`` if it has rows, else ``MissingRuns`` saying which runs would make it and how."""
    if frame.empty:
        raise MissingRuns(f"needs {needs} ({_how_to_make(experiment, tiny)})")
    return frame


def _how_to_make(experiment: str, tiny: bool = True) -> str:
    """The command that makes an experiment's runs, and its CPU version."""
    on_cpu = f"; on a CPU: experiment=tiny_{experiment}" if tiny else ""
    return f"python -m rlvr.train -m experiment={experiment}{on_cpu}"


def require_sweep(frame: pd.DataFrame, column: str, needs: str, experiment: str, at_least: int = 2) -> pd.DataFrame:
    """``frame`` if its runs take ``at_least`` values of ``column`` (an ablation of one point is no ablation),
    else ``MissingRuns`` naming what was found.

    >>> require_sweep(pd.DataFrame({"run_id": ["a"], "gamma": [0.5]}), "gamma", "runs", "fig10")
    Traceback (most recent call last):
    analysis.artifacts.MissingRuns: needs runs; found only gamma 0.5 (python -m rlvr.train -m experiment=fig10; on a CPU: experiment=tiny_fig10)
    """
    found = frame.drop_duplicates("run_id")[column].dropna().unique().tolist()
    if len(found) < at_least:
        seen = ", ".join(map(str, found)) or "none"
        raise MissingRuns(f"needs {needs}; found only {column} {seen} ({_how_to_make(experiment)})")
    return frame


def accuracy_columns(metrics: pd.DataFrame, preferred: Sequence[str] = ("math500", "amc")) -> list[str]:
    """The ``eval/<b>/accuracy`` columns to draw: the paper's MATH-500 and AMC when logged, else all logged.

    >>> accuracy_columns(pd.DataFrame({"eval/heldout/accuracy": [0.5], "eval/amc/accuracy": [None]}))
    ['eval/heldout/accuracy']
    """
    evals = [c for c in metrics.columns if c.startswith("eval/") and c.endswith("/accuracy")]
    logged = [c for c in evals if metrics[c].notna().any()]
    wanted = [f"eval/{b}/accuracy" for b in preferred if f"eval/{b}/accuracy" in logged]
    return wanted or logged


# --------------------------------------------------------------------------------------------------
# Curves and gains.


def curve_frame(metrics: pd.DataFrame, columns: Sequence[str], keys: Sequence[str], window: int = 10) -> pd.DataFrame:
    """One row per run, metric and logged step: ``keys``, seed, run_id, benchmark, metric, step, raw and
    smoothed (``smooth_curve``: mean over the last ``window`` steps, step 0 as it is). Steps where a metric
    was not logged (evaluation every 50 steps) are left out, so smoothing only ever averages logged values.

    >>> m = pd.DataFrame({"run_id": "r", "model": "tiny", "seed": 0, "step": [0, 1, 2, 3],
    ...                   "eval/heldout/accuracy": [0.5, 0.1, 0.2, 0.6]})
    >>> curves = curve_frame(m, ["eval/heldout/accuracy"], ["model"])
    >>> curves[["benchmark", "step", "raw", "smoothed"]].round(2).values.tolist()
    [['heldout', 0, 0.5, 0.5], ['heldout', 1, 0.1, 0.1], ['heldout', 2, 0.2, 0.15], ['heldout', 3, 0.6, 0.3]]
    """
    out = [*keys, "seed", "run_id", "benchmark", "metric", "step", "raw", "smoothed"]
    pieces = []
    for column in columns:
        if column not in metrics:
            continue
        for _, run in metrics.groupby("run_id", sort=False):
            run = run[run[column].notna()].sort_values("step")
            if run.empty:
                continue
            piece = run[[*keys, "seed", "run_id", "step"]].copy()
            piece["benchmark"] = column.split("/")[1] if column.startswith("eval/") else None
            piece["metric"] = column
            piece["raw"] = run[column].astype(float).to_numpy()
            piece["smoothed"] = smooth_curve(run["step"], run[column].astype(float), window=window)
            pieces.append(piece[out])
    return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=out)


def run_gains(metrics: pd.DataFrame, column: str, keys: Sequence[str], window: int = 10) -> pd.DataFrame:
    """Per run: ``keys``, seed, start (at step 0), end (at the last step that logged ``column``, smoothed as
    the curves are: the paper's final values, App. A.5) and gain = end - start, in points (x100). A run
    without step 0 has no gain (NaN).

    >>> m = pd.DataFrame({"run_id": "r", "model": "tiny", "seed": 0, "step": [0, 50, 100], "acc": [0.5, None, 0.7]})
    >>> run_gains(m, "acc", ["model"]).round(6).to_dict("records")
    [{'model': 'tiny', 'seed': 0, 'run_id': 'r', 'start': 50.0, 'end': 70.0, 'gain': 20.0}]
    >>> m["step"] = [0, 1, 2]  # evaluated within the window: the end is the mean of steps 1 and 2 (0 never)
    >>> run_gains(m.fillna(0.6), "acc", ["model"]).round(6)[["start", "end", "gain"]].values.tolist()
    [[50.0, 65.0, 15.0]]
    """
    rows = []
    for run_id, run in metrics.groupby("run_id", sort=False):
        run = run[run[column].notna()].sort_values("step")
        if run.empty:
            continue
        start = run.loc[run["step"] == 0, column]
        start = 100 * float(start.iloc[0]) if len(start) else float("nan")
        end = 100 * float(smooth_curve(run["step"], run[column].astype(float), window=window)[-1])
        ids = {k: run[k].iloc[0] for k in [*keys, "seed"]} | {"run_id": run_id}
        rows.append(ids | {"start": start, "end": end, "gain": end - start})
    return pd.DataFrame(rows, columns=[*keys, "seed", "run_id", "start", "end", "gain"])


def gain_table(metrics: pd.DataFrame, column: str, keys: Sequence[str]) -> pd.DataFrame:
    """One row per group of ``keys``: mean start, end and gain in points (``run_gains``), the gain's 95%
    bootstrap interval over the group's runs (seeds) as low/high, and n runs; groups in the paper's order."""
    gains = run_gains(metrics, column, keys)
    stats = mean_with_ci(gains, keys, "gain").rename(columns={"mean": "gain"})
    ends = gains.groupby(list(keys), sort=False, dropna=False)[["start", "end"]].mean().reset_index()
    table = ends.merge(stats, on=list(keys), how="left")
    return sort_by(table, keys)[[*keys, "start", "end", "gain", "low", "high", "n"]]


def benchmark_gains(metrics: pd.DataFrame, columns: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """``gain_table`` of each accuracy column (``eval/<benchmark>/accuracy``), stacked with a ``benchmark``
    column after ``keys``; benchmarks in the order of ``columns``."""
    tables = []
    for column in columns:
        runs = metrics[metrics[column].notna()] if column in metrics else metrics.iloc[0:0]
        if runs.empty:
            continue
        table = gain_table(runs, column, keys)
        table.insert(len(keys), "benchmark", column.split("/")[1])
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=[*keys, "benchmark"])


def up_to_step(metrics: pd.DataFrame, last: int) -> pd.DataFrame:
    """Rows of steps 0..``last``: a figure drawn to a step (the paper's Fig. 4 ends at 100, its compound-reward
    figures at 60), so that gains and the choice among duplicate runs see only that window."""
    return metrics[metrics["step"] <= last]


# --------------------------------------------------------------------------------------------------
# Drawing.


def plot_curves(curves: pd.DataFrame, *, line: str, panels: Sequence[str] = ("model",), title: str,
                each_run: bool = False, band: bool = False,
                caption: str = "solid: smoothed over 10 steps; dashed: raw") -> Figure:  # fmt: skip
    """One subplot per metric (rows) and value of ``panels`` (columns), one colour per value of ``line``.

    Drawn as the paper's App. A.5 says: the smoothed curve solid, the raw one dashed and transparent (both
    averaged over a line's runs when it has several). ``each_run`` adds each run's smoothed curve thin;
    ``band`` the 95% bootstrap interval over runs per step. Values are fractions, drawn as percentages.
    ``caption`` goes under the title: what the lines are.
    """
    metrics = list(dict.fromkeys(curves["metric"]))
    cells = _panel_values(curves, panels)
    lines = ordered(line, curves[line])
    colour = colours(line, lines)
    fig = Figure(figsize=(3.4 * len(cells) + 1.6, 2.7 * len(metrics) + 0.6), layout="constrained")
    axes = fig.subplots(len(metrics), len(cells), squeeze=False, sharex=True)
    handles = {}
    for row, metric in enumerate(metrics):
        for col, cell in enumerate(cells):
            ax = axes[row][col]
            sub = curves[(curves["metric"] == metric) & _matches(curves, panels, cell)]
            for value in lines:
                runs = sub[_equal(sub[line], value)]
                if runs.empty:
                    continue
                handles[display(line, value)] = _draw_line(ax, runs, colour[value], each_run, band)
            ax.set_title(" · ".join(display(k, v) for k, v in zip(panels, cell)), fontsize=9)
            ax.set_ylabel(f"{metric_label(metric)} (%)", fontsize=8)
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if row == len(metrics) - 1:
                ax.set_xlabel("training step")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", fontsize=8,
               ncol=min(len(handles), 6), title=LINE_NAMES.get(line, line), title_fontsize=8)  # fmt: skip
    fig.suptitle(f"{title}\n({caption})", fontsize=10)
    return fig


def _draw_line(ax, runs: pd.DataFrame, colour: str, each_run: bool, band: bool):
    mean = runs.groupby("step")[["raw", "smoothed"]].mean()
    ax.plot(mean.index, 100 * mean["raw"], "--", color=colour, alpha=0.35, linewidth=1)
    (handle,) = ax.plot(mean.index, 100 * mean["smoothed"], color=colour, linewidth=1.8)
    if each_run:
        for _, run in runs.groupby("run_id"):
            ax.plot(run["step"], 100 * run["smoothed"], color=colour, alpha=0.4, linewidth=0.7)
    if band and runs["run_id"].nunique() > 1:
        ci = mean_with_ci(runs, ["step"], "smoothed").sort_values("step")
        ax.fill_between(ci["step"], 100 * ci["low"], 100 * ci["high"], color=colour, alpha=0.2, linewidth=0)
    return handle


def _panel_values(curves: pd.DataFrame, panels: Sequence[str]) -> list[tuple]:
    """The distinct values of ``panels`` (one tuple per subplot column), in the paper's order."""
    if not panels:
        return [()]
    cells = pd.DataFrame(curves[list(panels)].drop_duplicates().to_numpy(), columns=list(panels))
    return [tuple(map(as_key, row)) for row in sort_by(cells, panels).itertuples(index=False, name=None)]


def _matches(frame: pd.DataFrame, keys: Sequence[str], values: tuple) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for key, value in zip(keys, values):
        mask &= _equal(frame[key], value)
    return mask


def _equal(column: pd.Series, value: Any) -> pd.Series:
    return column.isna() if is_missing(value) else column == value


def save_curves(built: Built, curves: pd.DataFrame, fig: Figure, out: Path, name: str) -> Built:
    """Save a curve figure and its table (``<name>`` and ``<name>_curves``) into ``built``, with its runs."""
    built.runs.update(curves["run_id"])
    built.files += save_figure(fig, out, name)
    built.figures[name] = fig
    table = curves.drop(columns=["run_id"])
    built.files += save_table(table, out, f"{name}_curves", floatfmt=".4f")
    built.tables[f"{name}_curves"] = table
    return built
