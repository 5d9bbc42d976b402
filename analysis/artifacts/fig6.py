"""Figure 6: accuracy and code-reasoning rate over training, per model and training signal.

The paper's explanation of spurious rewards on Qwen2.5-Math: whatever the signal, training raises how often
the model reasons in (unexecuted) Python, and accuracy rises with it. Top row accuracy, bottom row the share
of evaluation responses that reason in code (``eval/<benchmark>/code_rate``), both smoothed as Figure 2.
"""

from __future__ import annotations

from pathlib import Path

from analysis.artifacts import Built, artifact, benchmark_for
from analysis.curves import curve_frame, one_run_per_config, plot_curves, require, save_curves, signal_runs
from analysis.load import RunData
from analysis.names import display

TITLE = "Accuracy and code-reasoning rate over training, per model and reward"


@artifact("fig6", TITLE)
def build(data: RunData, out: Path) -> Built:
    needs = "training runs of the six rewards (clip=standard, algorithm=grpo_official or grpo)"
    metrics = require(signal_runs(data), needs, "fig2")
    benchmark = benchmark_for(data)
    accuracy, code_rate = f"eval/{benchmark}/accuracy", f"eval/{benchmark}/code_rate"
    metrics = require(one_run_per_config(metrics, code_rate), f"{needs} that log {code_rate}", "fig2")
    curves = curve_frame(metrics, [accuracy, code_rate], ["model", "reward"])
    title = f"{display('benchmark', benchmark)} accuracy (top) and code reasoning rate (bottom) over training"
    fig = plot_curves(curves, line="reward", panels=("model",), title=title)
    return save_curves(Built("fig6", TITLE), curves, fig, out, "fig6")
