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
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import paper
from analysis.artifacts import Built, MissingRuns, artifact, save_figure, save_table
from analysis.load import RunData
from analysis.names import sort_by_model
from analysis.records import base_records, one_run_per, report_benchmark, strategy_metrics

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
    return Built("table1", "Code reasoning before training", files, {"table1": table}, {"table1": fig},
                 runs=set(records["run_id"]))  # every run's records are compared (runs_agreeing)


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
