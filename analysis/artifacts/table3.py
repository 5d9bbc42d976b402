"""Table 3: prompt interventions. Each model before training, evaluated with its own prompt
(``prompt=default``) and with another one (``python_prefix``: the response forced to begin with "Let's
solve this using Python."; ``none``; ``simplerl``), on the reported benchmark (``benchmark_for``).

Records come from evaluation runs of the model's own weights (``python -m rlvr.evaluate -m
experiment=table3``); where a (model, prompt) has none, from the step-0 evaluation of training runs with
that prompt. One run per (model, prompt) is counted, the first by ``run_id`` (``runs`` says how many there
were, ``runs_agreeing`` how many gave exactly its records). Both prompts are scored on the problems they
have in common (``problems``).

- ``accuracy_default`` / ``accuracy``: avg@n (%) with the model's own prompt / with ``prompt``;
- ``diff_pts``: ``accuracy - accuracy_default``, the paper's "Abs. Diff.";
- ``code_rate_default`` / ``code_rate``: % of responses reasoning in code with each.

Paper columns: Table 3 for python_prefix (eight models), Table 5 (App. F) for simplerl on
Qwen2.5-Math-7B, where no difference is printed and ``paper_diff_pts`` is prompted - original; none for
``none`` (``analysis.paper.TABLE3``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import paper
from analysis.artifacts import Built, MissingRuns, artifact, save_figure, save_table
from analysis.load import RunData
from analysis.names import rank, sort_by_model
from analysis.records import base_records, one_run_per, report_benchmark, strategy_metrics

MISSING = (
    "needs evaluation runs of a model with prompt=default and with another prompt (python_prefix, none, "
    "simplerl): python -m rlvr.evaluate -m experiment=table3 (experiment=tiny_table3 on a CPU)"
)


@artifact("table3", "Prompt interventions: accuracy and code reasoning with each prompt vs the model's own")
def build(data: RunData, out: Path) -> Built:
    benchmark = report_benchmark(data, MISSING)
    chosen = choose_records(base_records(data, benchmark))
    rows = []
    for (model, prompt), (records, runs, agreeing) in chosen.items():
        if prompt == "default" or (model, "default") not in chosen:
            continue
        default = chosen[(model, "default")][0]
        common = set(default.problem_id) & set(records.problem_id)
        before = strategy_metrics(default[default.problem_id.isin(common)])
        after = strategy_metrics(records[records.problem_id.isin(common)])
        published = paper.TABLE3.get((model, prompt), {})
        paper_diff = published.get("diff")
        if paper_diff is None and published:
            paper_diff = round(published["prompted"] - published["original"], 1)
        rows.append({
            "model": model, "prompt": prompt, "benchmark": benchmark, "kind": records.kind.iloc[0],
            "run_id": records.run_id.iloc[0], "runs": runs, "runs_agreeing": agreeing, "problems": len(common),
            "accuracy_default": before["accuracy"], "accuracy": after["accuracy"],
            "diff_pts": after["accuracy"] - before["accuracy"],
            "code_rate_default": before["code_rate"], "code_rate": after["code_rate"],
            "paper_original": published.get("original"), "paper_prompted": published.get("prompted"),
            "paper_diff_pts": paper_diff,
            "paper_source": paper.TABLE3_SOURCE[prompt] if published else None,
        })  # fmt: skip
    if not rows:
        found = sorted({prompt for _, prompt in chosen})
        raise MissingRuns(f"{MISSING}; found on {benchmark}: prompt(s) {', '.join(found) or 'none'}")
    table = pd.DataFrame(rows)
    table = table.assign(_prompt=table.prompt.map(lambda prompt: rank("prompt", prompt)))
    table = sort_by_model(table, ["_prompt", "prompt"]).drop(columns="_prompt")
    table = table.astype({c: float for c in ("paper_original", "paper_prompted", "paper_diff_pts")})
    fig = _figure(table, benchmark)
    files = save_table(table, out, "table3", floatfmt=".1f") + save_figure(fig, out, "table3")
    used = set(table.run_id) | {chosen[(model, "default")][0].run_id.iloc[0] for model in table.model}
    return Built("table3", "Prompt interventions", files, {"table3": table}, {"table3": fig}, runs=used)


def choose_records(records: pd.DataFrame) -> dict[tuple[str, str], tuple[pd.DataFrame, int, int]]:
    """(model, prompt) -> (the records of one run, runs, runs agreeing): evaluation runs where a (model,
    prompt) has any, else training runs' step 0."""
    chosen: dict[tuple[str, str], tuple[pd.DataFrame, int, int]] = {}
    for kind in ("eval", "train"):
        for key, frame, runs, agreeing in one_run_per(records[records["kind"] == kind], ["model", "prompt"]):
            chosen.setdefault(key, (frame, runs, agreeing))
    return chosen


def _figure(table: pd.DataFrame, benchmark: str) -> Figure:
    models = list(dict.fromkeys(table.model))
    prompts = ["default", *dict.fromkeys(table.prompt)]
    width = 0.8 / len(prompts)
    fig = Figure(figsize=(max(5.0, 1.4 * len(models) * len(prompts) / 2 + 2), 3.8))
    ax = fig.subplots()
    x = np.arange(len(models))
    labelled = False
    for i, prompt in enumerate(prompts):
        values, published = [], []
        for model in models:
            rows = table[table.model == model]
            if prompt == "default":
                values.append(rows.accuracy_default.iloc[0])
                published.append(rows.paper_original.dropna().iloc[0] if rows.paper_original.notna().any() else np.nan)
            else:
                row = rows[rows.prompt == prompt]
                values.append(row.accuracy.iloc[0] if len(row) else np.nan)
                published.append(row.paper_prompted.iloc[0] if len(row) else np.nan)
        xs = x - 0.4 + width * (i + 0.5)
        ax.bar(xs, np.nan_to_num(values), width=width, label=f"prompt={prompt}")
        published = np.array(published, dtype=float)
        if np.isfinite(published).any():
            ax.scatter(xs, published, marker="_", s=200, linewidths=2.5, color="black", zorder=3,
                       label=None if labelled else "paper")  # fmt: skip
            labelled = True
    ax.set_xticks(x, models, rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Prompt interventions before training ({benchmark})", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
