"""Figure 15: the no-Python compound rewards against their original rewards, five models, all benchmarks.

Each compound (``<reward>_no_python``: the reward AND no "python" in the response) is drawn with the reward
it extends, to step 60 as the paper's compound-reward figures are (arXiv v1 Figs. 9 and 16; this project's
fig15 is v1's Figure 16, whose numbering runs one ahead in the appendix): one figure per reward pair
(``fig15_ground_truth``, ``fig15_incorrect``, ``fig15_format``; the paper's panels (a)-(c)), one panel per
model and benchmark, one line for the compound and one for the original. The compounds' runs are fig9's
(its five models are the appendix figure's); the originals are fig2/fig3's runs, cut at step 60. The gain
table puts the paper's printed compound gains beside ours (``analysis.paper.COMPOUND_GAINS``: OLMo2-7B-SFT).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.artifacts import Built, artifact, save_table
from analysis.curves import (accuracy_columns, benchmark_gains, curve_frame, one_run_per_config, plot_curves, require,
                             save_curves, up_to_step)  # fmt: skip
from analysis.load import RunData
from analysis.names import MAIN_ALGORITHMS, display, main_algorithm
from analysis.paper import COMPOUND_GAINS

TITLE = "No-Python compound rewards against the originals (the paper's appendix compound-reward figure)"
PAIRS = {"ground_truth": "ground_truth_no_python", "incorrect": "incorrect_no_python", "format": "format_no_python"}
LAST_STEP = 60  # the x-axis of the paper's compound-reward figures
BENCHMARKS = ("math500", "amc", "aime24", "aime25")


@artifact("fig15", TITLE)
def build(data: RunData, out: Path) -> Built:
    needs = f"training runs with reward in {', '.join(PAIRS.values())} (clip=standard, grpo_official or grpo)"
    rewards = [*PAIRS, *PAIRS.values()]
    metrics = data.select("metrics", kind="train", reward=rewards, clip="standard", algorithm=list(MAIN_ALGORITHMS))
    metrics = up_to_step(main_algorithm(metrics), LAST_STEP)
    compound_models = metrics.loc[metrics["reward"].isin(list(PAIRS.values())), "model"].unique()
    metrics = require(metrics[metrics["model"].isin(compound_models)], needs, "fig9")  # originals of those models
    columns = accuracy_columns(metrics, preferred=BENCHMARKS)
    metrics = require(one_run_per_config(metrics, columns[0]) if columns else metrics.iloc[0:0], f"{needs}, evaluated", "fig9")
    metrics = metrics.assign(pair=metrics["reward"].map(pair_of), variant=metrics["reward"].map(variant_of))
    built = Built("fig15", TITLE)
    for pair in PAIRS:
        runs = metrics[metrics["pair"] == pair]
        if not (runs["variant"] == "compound").any():
            continue
        curves = curve_frame(runs, columns, ["model", "reward", "pair", "variant"])
        title = f"{display('reward', PAIRS[pair])} against {display('reward', pair)}, to step {LAST_STEP}"
        fig = plot_curves(curves, line="variant", panels=("model",), title=title)
        save_curves(built, curves, fig, out, f"fig15_{pair}")
    table = with_compound_paper(benchmark_gains(metrics, columns, ["model", "pair", "variant", "reward"]))
    built.tables["fig15_gain"] = table
    built.files += save_table(table, out, "fig15_gain", floatfmt=".1f")
    return built


def pair_of(reward: str) -> str:
    """The original reward of a pair: ``format_no_python`` -> ``format``; an original is its own."""
    return reward.removesuffix("_no_python")


def variant_of(reward: str) -> str:
    return "compound" if reward.endswith("_no_python") else "original"


def with_compound_paper(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the paper's printed MATH-500 gain of a compound run (``paper``), NaN elsewhere.

    >>> t = pd.DataFrame({"model": "olmo2_7b_sft", "reward": ["format_no_python", "format"], "benchmark": "math500"})
    >>> with_compound_paper(t)["paper"].tolist()
    [8.9, nan]
    """
    table = table.copy()
    table["paper"] = [float(COMPOUND_GAINS.get((m, r), np.nan)) if b == "math500" else np.nan
                      for m, r, b in zip(table["model"], table["reward"], table["benchmark"])]  # fmt: skip
    return table
