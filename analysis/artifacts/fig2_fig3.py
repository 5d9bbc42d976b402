"""Figures 2 and 3: MATH-500 and AMC accuracy over training, per model and training signal.

Figure 2 draws the Qwen models (and the tiny model, which stands in for them on a CPU), Figure 3 the
OLMo 2 and Llama 3 models: one panel per model and benchmark, one line per reward of Figure 1, smoothed as
the paper's App. A.5 says (``analysis.curves``). Where several sweeps made the same config, it is drawn once
(``one_run_per_config``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.artifacts import Built, artifact
from analysis.curves import accuracy_columns, curve_frame, one_run_per_config, plot_curves, require, save_curves, signal_runs
from analysis.load import RunData
from analysis.names import display

TITLES = {
    "fig2": "MATH-500 and AMC over training, Qwen models, per reward",
    "fig3": "MATH-500 and AMC over training, OLMo 2 / Llama 3 models, per reward",
}


@artifact("fig2", TITLES["fig2"])
def build_fig2(data: RunData, out: Path) -> Built:
    return _build_family(data, out, "fig2", qwen=True)


@artifact("fig3", TITLES["fig3"])
def build_fig3(data: RunData, out: Path) -> Built:
    return _build_family(data, out, "fig3", qwen=False)


def family_curves(data: RunData, qwen: bool, experiment: str) -> pd.DataFrame:
    """``curve_frame`` of Figures 1-3's runs (``signal_runs``) on the Qwen models (and the tiny one) or on
    the others, for each logged benchmark accuracy (``accuracy_columns``); ``MissingRuns`` naming
    ``experiment`` when there are none."""
    metrics = signal_runs(data)
    is_qwen = metrics["model"].astype(str).str.startswith(("qwen", "tiny"))
    # The tiny model stands in for the Qwen family, so tiny_fig3's runs are drawn in fig2, never in fig3.
    family = "the Qwen models (or the tiny one)" if qwen else "OLMo 2 / Llama 3 models"
    needs = f"training runs of the six rewards (clip=standard, algorithm=grpo_official or grpo) on {family}"
    metrics = require(metrics[is_qwen == qwen], needs, experiment, tiny=qwen)
    columns = accuracy_columns(metrics)
    metrics = one_run_per_config(metrics, columns[0]) if columns else metrics.iloc[0:0]
    return require(curve_frame(metrics, columns, ["model", "reward"]), f"{needs}, evaluated", experiment, tiny=qwen)


def _build_family(data: RunData, out: Path, name: str, qwen: bool) -> Built:
    curves = family_curves(data, qwen, name)
    benchmarks = " and ".join(display("benchmark", b) for b in dict.fromkeys(curves["benchmark"]))
    title = f"{benchmarks} accuracy over training, per model and training signal"
    fig = plot_curves(curves, line="reward", panels=("model",), title=title)
    return save_curves(Built(name, TITLES[name]), curves, fig, out, name)
