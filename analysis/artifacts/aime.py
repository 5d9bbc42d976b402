"""Figures 13 and 14: AIME 2024 and AIME 2025 (avg@8) over training, for the runs of Figures 2 and 3.

No runs of their own: the paper evaluated its Section 2-3 runs on AIME too (App. C), and so do fig2 and
fig3 (``eval=paper`` evaluates all four benchmarks). fig13 draws the Qwen2.5-Math models, fig14 the eight
others, one panel per model and year, one line per reward: the five of the paper's App. C figures (ground
truth, majority vote, incorrect, format, random). Figure numbers are this project's (arXiv v1 calls them
Figures 14 and 15: its appendix numbering runs one ahead, as for fig12 and fig16). The gain tables carry the
AIME gains the paper's text prints (``analysis.paper.AIME_GAINS``: Qwen2.5-Math-7B on AIME 2024, and the
range of the non-ground-truth rewards on AIME 2025). AIME has 30 problems a year: differences under about
2 points may not mean anything (the paper says so too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.artifacts import Built, MissingRuns, artifact, save_table
from analysis.curves import benchmark_gains, curve_frame, one_run_per_config, plot_curves, require, save_curves, signal_runs
from analysis.load import RunData
from analysis.paper import AIME25_OTHER_REWARDS_RANGE, AIME_GAINS

AIME = ("eval/aime24/accuracy", "eval/aime25/accuracy")
REWARDS = ("ground_truth", "majority_vote", "incorrect", "format", "random")
QWEN_MATH = ("qwen2.5_math_7b", "qwen2.5_math_1.5b")
TITLES = {
    "fig13": "AIME 2024 and 2025 over training, Qwen2.5-Math models, per reward",
    "fig14": "AIME 2024 and 2025 over training, the other eight models, per reward",
}


@artifact("fig13", TITLES["fig13"])
def build_fig13(data: RunData, out: Path) -> Built:
    return _build(data, out, "fig13", qwen_math=True)


@artifact("fig14", TITLES["fig14"])
def build_fig14(data: RunData, out: Path) -> Built:
    return _build(data, out, "fig14", qwen_math=False)


def _build(data: RunData, out: Path, name: str, qwen_math: bool) -> Built:
    experiments = "fig2" if qwen_math else "fig2 and fig3"
    family = "the Qwen2.5-Math models" if qwen_math else "the models other than Qwen2.5-Math"
    needs = f"{experiments}'s training runs of {', '.join(REWARDS)} on {family}, evaluated on AIME (eval=paper)"
    metrics = signal_runs(data)
    metrics = metrics[metrics["reward"].isin(REWARDS) & (metrics["model"].isin(QWEN_MATH) == qwen_math)]
    logged = [c for c in AIME if c in metrics and metrics[c].notna().any()]
    if not logged:
        raise MissingRuns(f"needs {needs} (python -m rlvr.train -m experiment={'fig2' if qwen_math else 'fig3'}; the "
                          "tiny experiments evaluate held-out additions only)")  # fmt: skip
    metrics = require(one_run_per_config(metrics, logged[0]), needs, name, tiny=False)
    curves = curve_frame(metrics, logged, ["model", "reward"])
    fig = plot_curves(curves, line="reward", panels=("model",), title=TITLES[name])
    built = save_curves(Built(name, TITLES[name]), curves, fig, out, name)
    table = with_aime_paper(benchmark_gains(metrics, logged, ["model", "reward"]))
    built.tables[f"{name}_gain"] = table
    built.files += save_table(table, out, f"{name}_gain", floatfmt=".1f")
    return built


def with_aime_paper(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the paper's printed AIME gain (``paper``) and, where it prints only a range, the range
    (``paper_range``, as text).

    >>> t = pd.DataFrame({"model": "qwen2.5_math_7b", "reward": ["random", "random", "ground_truth"],
    ...                   "benchmark": ["aime24", "aime25", "aime25"]})
    >>> with_aime_paper(t)[["paper", "paper_range"]].values.tolist()
    [[10.2, ''], [nan, '-0.4 to 4.5'], [nan, '']]
    """
    table = table.copy()
    keys = list(zip(table["model"], table["reward"], table["benchmark"]))
    table["paper"] = [float(AIME_GAINS.get(key, np.nan)) for key in keys]
    ranges = {m: f"{low:g} to {high:g}" for m, (low, high) in AIME25_OTHER_REWARDS_RANGE.items()}
    table["paper_range"] = [ranges.get(m, "") if b == "aime25" and r != "ground_truth" else "" for m, r, b in keys]
    return table
