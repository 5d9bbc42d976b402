"""The eval-record code the strategy tables share (Table 1, Figure 7 / Table 2, Table 3): which records are
the model before training, one run per group, and accuracy and code reasoning of a run's records.

Records are rows of ``RunData.evals`` (``rlvr.evaluate.RECORD_COLUMNS`` plus the run's keys and ``step``):
one per (run, step, benchmark, problem, sample).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import pandas as pd

from analysis.artifacts import MissingRuns, benchmark_for
from analysis.load import RunData


def report_benchmark(data: RunData, missing: str) -> str:
    """``benchmark_for(data)``, with the artifact's own message (``missing``) when nothing was evaluated."""
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


def one_run_per(records: pd.DataFrame, by: Sequence[str]) -> Iterator[tuple[tuple, pd.DataFrame, int, int]]:
    """For each group of ``by``: (key, the records of its first run by run_id, how many runs the group
    has, how many of them have exactly the chosen run's (problem, sample) -> (correct, is_code)).

    >>> r = pd.DataFrame({"model": "m", "run_id": ["b", "a", "c"], "problem_id": "p", "sample": 0,
    ...                   "correct": [True, True, False], "is_code": False})
    >>> [(key, chosen.run_id.tolist(), runs, agreeing) for key, chosen, runs, agreeing in one_run_per(r, ["model"])]
    [(('m',), ['a'], 3, 2)]
    """
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
