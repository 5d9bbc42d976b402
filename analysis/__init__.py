"""Rebuilding results from run directories (the contract is documented in ``rlvr.train.rundir``).

``analysis`` reads files only: it never imports the training code's heavy dependencies, so figures can
be regenerated on a laptop from runs copied back from a cluster.
"""

from analysis.load import RunRecord, read_run

__all__ = ["RunRecord", "read_run"]
