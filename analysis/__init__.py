"""Rebuilding the paper's tables and figures from run directories (the contract is documented in ``rlvr.train.rundir``).

``analysis`` reads files only: it never imports the training code's heavy dependencies, so figures can
be regenerated on a laptop from runs copied back from a cluster.

    python -m analysis <runs root> --out <dir>      # every artifact the runs support, with index.md
"""

from analysis.artifacts import ARTIFACTS, Built, MissingRuns, build
from analysis.load import RunData, RunRecord, find_runs, load_runs, read_run

__all__ = ["ARTIFACTS", "Built", "MissingRuns", "RunData", "RunRecord", "build", "find_runs", "load_runs", "read_run"]
