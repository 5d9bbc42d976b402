"""Evaluation with the paper's protocol: benchmarks, per-sample records, pass@k and code-reasoning rates.

``python -m rlvr.evaluate model=<m> eval=<benchmarks>`` evaluates a model or a run's checkpoint; the
trainer calls the same functions every ``eval.every_steps`` steps.
"""

from rlvr.evaluate.benchmarks import Benchmark, build_benchmark, load_benchmarks
from rlvr.evaluate.metrics import avg_at_k, mean_pass_at_k, pass_at_k, summarize
from rlvr.evaluate.runner import RECORD_COLUMNS, evaluate_benchmarks, flat_metrics, summarize_benchmarks

__all__ = [
    "RECORD_COLUMNS",
    "Benchmark",
    "avg_at_k",
    "build_benchmark",
    "evaluate_benchmarks",
    "flat_metrics",
    "load_benchmarks",
    "mean_pass_at_k",
    "pass_at_k",
    "summarize",
    "summarize_benchmarks",
]
