"""Table 1: how often each model reasons in code before training, and how accurate those answers are.

Computed from the model before training, with its own prompt (``prompt=default``), on the benchmark the
runs report (``benchmark_for``; MATH-500 in the paper): the eval records at step 0 of training runs and
the records of evaluation runs of the model's own weights. Every training run of a model evaluates the
same base model at step 0, so one run per model is counted (the first by ``run_id``) and the table says
how many runs there were and how many of them gave exactly the same records (``runs_agreeing``; greedy
decoding should make them all agree).

- ``code_rate``: % of responses that reason in code (``is_code``, the paper's "contains python" rule);
- ``acc_code`` / ``acc_lang``: accuracy (%) of the code responses and of the others (NaN when none);
- ``accuracy``: avg@n over problems, as ``rlvr.evaluate.metrics.summarize`` reports it.

The ``paper_*`` columns are Table 1 of the paper (``analysis.paper.TABLE1``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import paper
from analysis.artifacts import Built, MissingRuns, artifact, benchmark_for, save_figure, save_table
from analysis.load import RunData

MISSING = (
    "needs the models before training with prompt=default: training runs (their step-0 evaluation, e.g. "
    "python -m rlvr.train -m experiment=fig1) or evaluation runs of the base weights "
    "(python -m rlvr.evaluate -m experiment=table3)"
)


@artifact("table1", "Code-reasoning rate and accuracy of code vs. language answers per model, before training")
def build(data: RunData, out: Path) -> Built:
    benchmark = report_benchmark(data, MISSING)
    records = base_records(data, benchmark, prompts=["default"])
    if records.empty:
        raise MissingRuns(f"{MISSING} (none found on benchmark {benchmark})")
    rows = []
    for (model,), chosen, runs, agreeing in one_run_per(records, ["model"]):
        published = paper.TABLE1.get(model, {})
        rows.append({
            "model": model, "benchmark": benchmark, "run_id": chosen.run_id.iloc[0], "runs": runs,
            "runs_agreeing": agreeing, **strategy_metrics(chosen),
            "paper_code_rate": published.get("code_rate"), "paper_acc_code": published.get("acc_code"),
            "paper_acc_lang": published.get("acc_lang"),
        })  # fmt: skip
    table = sort_by_model(pd.DataFrame(rows))
    table = table.astype({c: float for c in ("paper_code_rate", "paper_acc_code", "paper_acc_lang")})
    fig = _figure(table, benchmark)
    files = save_table(table, out, "table1", floatfmt=".1f") + save_figure(fig, out, "table1")
    return Built("table1", "Code reasoning before training", files, {"table1": table}, {"table1": fig})


# --------------------------------------------------------------------------------------------------
# Helpers shared with table3 and fig7_table2.


def report_benchmark(data: RunData, missing: str) -> str:
    """``benchmark_for(data)``, with this artifact's own message when nothing was evaluated."""
    try:
        return benchmark_for(data)
    except MissingRuns:
        raise MissingRuns(f"{missing} (no run has evaluation records)") from None


def base_records(data: RunData, benchmark: str, prompts: Sequence[str] | None = None) -> pd.DataFrame:
    """Eval records of the models before training on ``benchmark``: step 0 of training runs and of
    evaluation runs (an evaluation of a checkpoint has the checkpoint's step and is left out)."""
    evals = data.evals
    if evals.empty or "benchmark" not in evals:
        return evals.iloc[0:0]
    mask = (evals["step"] == 0) & (evals["benchmark"] == benchmark)
    if prompts is not None:
        mask &= evals["prompt"].isin(list(prompts))
    return evals[mask]


def sort_by_model(table: pd.DataFrame, then: Sequence[str] = ()) -> pd.DataFrame:
    """Rows in the paper's model order (``analysis.paper.MODEL_ORDER``), then by ``then``; keeps row order
    within ties.

    >>> sort_by_model(pd.DataFrame({"model": ["tiny", "qwen2.5_7b", "qwen2.5_math_7b"]})).model.tolist()
    ['qwen2.5_math_7b', 'qwen2.5_7b', 'tiny']
    """
    rank = table["model"].map(lambda model: paper.model_sort_key(model)[0]).rename("_rank")
    ordered = table.assign(_rank=rank).sort_values(["_rank", "model", *then], kind="stable")
    return ordered.drop(columns="_rank").reset_index(drop=True)


def one_run_per(records: pd.DataFrame, by: Sequence[str]):
    """For each group of ``by``: (key, the records of its first run by run_id, how many runs the group
    has, how many of them have exactly the chosen run's (problem, sample) -> (correct, is_code))."""
    for key, group in records.groupby(list(by), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        by_run = {run: frame for run, frame in group.groupby("run_id", sort=True)}
        signatures = {run: _signature(frame) for run, frame in by_run.items()}
        first = next(iter(by_run))
        agreeing = sum(signature == signatures[first] for signature in signatures.values())
        yield key, by_run[first], len(by_run), agreeing


def _signature(frame: pd.DataFrame) -> tuple:
    cells = frame[["problem_id", "sample", "correct", "is_code"]].astype({"correct": bool, "is_code": bool})
    return tuple(sorted(cells.itertuples(index=False, name=None)))


def strategy_metrics(records: pd.DataFrame) -> dict[str, float]:
    """Accuracy and code reasoning of one run's records, in %, as ``rlvr.evaluate.metrics.summarize``
    defines them (that module is not imported: its package pulls in torch).

    4 responses to 2 problems: a: code right, language wrong; b: code wrong twice. Accuracy is
    (1/2 + 0/2) / 2 = 25%; 3 of 4 reason in code (75%), 1 of those 3 right (33.3%), the language one wrong.

    >>> r = pd.DataFrame({"problem_id": ["a", "a", "b", "b"], "correct": [True, False, False, False],
    ...                   "is_code": [True, False, True, True]})
    >>> {k: round(v, 1) for k, v in strategy_metrics(r).items()}
    {'problems': 2, 'samples': 4, 'accuracy': 25.0, 'code_rate': 75.0, 'acc_code': 33.3, 'acc_lang': 0.0}
    """
    correct = records["correct"].astype(bool)
    code = records["is_code"].fillna(False).astype(bool)
    return {
        "problems": int(records["problem_id"].nunique()),
        "samples": len(records),
        "accuracy": 100 * float(correct.groupby(records["problem_id"]).mean().mean()),
        "code_rate": 100 * float(code.mean()),
        "acc_code": 100 * float(correct[code].mean()) if code.any() else float("nan"),
        "acc_lang": 100 * float(correct[~code].mean()) if (~code).any() else float("nan"),
    }


def _figure(table: pd.DataFrame, benchmark: str) -> Figure:
    fig = Figure(figsize=(max(4.0, 1.1 * len(table) + 2), 3.6))
    ax = fig.subplots()
    x = np.arange(len(table))
    ax.bar(x, table.code_rate, width=0.6, color="tab:blue", label="this reproduction")
    has_paper = table.paper_code_rate.notna()
    if has_paper.any():
        ax.scatter(x[has_paper], table.paper_code_rate[has_paper], marker="_", s=400, linewidths=2.5,
                   color="black", zorder=3, label="paper (Table 1)")  # fmt: skip
    for xi, rate, published in zip(x, table.code_rate, table.paper_code_rate):
        top = max(rate, published) if np.isfinite(published) else rate
        ax.annotate(f"{rate:.0f}%", (xi, top + 2), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, table.model, rotation=30, ha="right")
    ax.set_ylim(0, 118)
    ax.set_ylabel("responses reasoning in code (%)")
    ax.set_title(f"Code reasoning before training ({benchmark}, prompt=default)", fontsize=10)
    ax.legend(loc="upper center", ncol=2, fontsize=8)
    fig.tight_layout()
    return fig
