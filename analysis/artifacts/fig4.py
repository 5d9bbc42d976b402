"""Figure 4: TTRL and one-shot RL on every model, to step 100 (arXiv:2506.10947v1, Fig. 4, App. A.6).

Panel (a) is TTRL (``reward=ttrl``: online majority-vote labels on the test prompts), panel (b) one-shot RL
(``reward=one_shot``); one line per model, MATH-500 and AMC as the paper draws them (the held-out set on the
tiny model). The one-shot runs may be fig4's own or fig2/fig3's longer ones, cut at step 100: of duplicate
configs the run with the most evaluations up to step 100 is drawn. The table gives each run's gain to its
last evaluation by step 100, with the one end point the paper prints (``analysis.paper.FIG4_END``). A
second figure, ``fig4_ttrl_labels``, shows how good TTRL's own labels were over training: the share of
prompts whose majority answer is the true one, the majority's share of the votes, and how often the TTRL
reward agreed with the true reward (``rlvr.rewards.ttrl``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.artifacts import Built, artifact, save_table
from analysis.curves import (accuracy_columns, benchmark_gains, curve_frame, one_run_per_config, plot_curves, require,
                             save_curves, up_to_step)  # fmt: skip
from analysis.load import RunData
from analysis.names import MAIN_ALGORITHMS, main_algorithm
from analysis.paper import FIG4_END, FIG4_RELEASED_CHECKPOINT

TITLE = "TTRL and one-shot RL across models (the paper's Fig. 4)"
METHODS = ("ttrl", "one_shot")
LAST_STEP = 100  # the figure's x-axis
TTRL_LABEL_METRICS = ("reward/ttrl/label_hit_rate", "reward/ttrl/majority_share", "reward/ttrl/reward_agreement")


@artifact("fig4", TITLE)
def build(data: RunData, out: Path) -> Built:
    needs = "training runs with reward=ttrl or one_shot (clip=standard, algorithm=grpo_official or grpo)"
    metrics = data.select("metrics", kind="train", reward=list(METHODS), clip="standard", algorithm=list(MAIN_ALGORITHMS))
    metrics = require(up_to_step(main_algorithm(metrics), LAST_STEP), needs, "fig4")
    columns = accuracy_columns(metrics)
    metrics = require(one_run_per_config(metrics, columns[0]) if columns else metrics.iloc[0:0], f"{needs}, evaluated", "fig4")
    curves = curve_frame(metrics, columns, ["model", "reward"])
    fig = plot_curves(curves, line="model", panels=("reward",), title=f"{TITLE}, to step {LAST_STEP}")
    built = save_curves(Built("fig4", TITLE), curves, fig, out, "fig4")
    table = with_paper_end(benchmark_gains(metrics, columns, ["model", "reward"]))
    built.tables["fig4_gain"] = table
    built.files += save_table(table, out, "fig4_gain", floatfmt=".1f")
    ttrl = metrics[metrics["reward"] == "ttrl"]
    logged = [c for c in TTRL_LABEL_METRICS if c in ttrl and ttrl[c].notna().any()]
    if logged:
        labels = curve_frame(ttrl, logged, ["model", "reward"])
        fig = plot_curves(labels, line="model", panels=(), title="TTRL's labels during training")
        save_curves(built, labels, fig, out, "fig4_ttrl_labels")
    return built


def with_paper_end(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the paper's printed end accuracy (``paper_end``) and that of the method's released
    checkpoint (``released_checkpoint``) on MATH-500, NaN where it prints none.

    >>> t = pd.DataFrame({"model": ["qwen2.5_7b", "qwen2.5_7b"], "reward": ["one_shot", "ttrl"], "benchmark": "math500"})
    >>> with_paper_end(t)[["paper_end", "released_checkpoint"]].values.tolist()
    [[54.8, 71.2], [nan, nan]]
    """
    table = table.copy()
    for column, printed in (("paper_end", FIG4_END), ("released_checkpoint", FIG4_RELEASED_CHECKPOINT)):
        table[column] = [float(printed.get((m, r), np.nan)) if b == "math500" else np.nan
                         for m, r, b in zip(table["model"], table["reward"], table["benchmark"])]  # fmt: skip
    return table
