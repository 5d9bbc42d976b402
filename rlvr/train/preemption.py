"""Stopping cleanly when the cluster asks: SIGUSR2 (submitit's signal, sent ``signal_delay_s`` before the time
limit and on preemption) sets a flag; at the next step boundary all ranks agree, save a complete
checkpoint, and hand over to submitit, which requeues the job. The handler only sets a flag, so a second
signal during the save changes nothing.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

import torch

from rlvr.train import distributed as D

log = logging.getLogger(__name__)


class Preempted(Exception):
    """The run stopped at a step boundary after a signal, with a complete checkpoint of that step."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped by SIGUSR2 after step {step}, with a complete checkpoint of it: run the same "
                         "command (same hydra.run.dir) to continue")  # fmt: skip
        self.step = step


class PreemptionSignal:
    """Catches ``signum`` while a run trains; ``restore()`` puts the previous handler back."""

    def __init__(self, signum: int = signal.SIGUSR2) -> None:
        self.signum = signum
        self.requested = False
        self.previous: Any = signal.signal(signum, self._on_signal)  # submitit's requeue handler, when under it

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.requested = True  # nothing else: the step in progress finishes, then every rank stops together

    def agreed(self, device: torch.device) -> bool:
        """Has any rank been signalled? (A collective: every rank asks at the same step boundary.)"""
        return bool(D.all_reduce_max(torch.tensor([float(self.requested)], device=device)).item())

    def hand_over(self) -> None:
        """Let submitit requeue the job (its handler exits on rank 0 and returns on the others); without
        submitit there is no one to hand over to."""
        self.restore()
        if callable(self.previous):
            log.warning("handing over to submitit to requeue the job")
            self.previous(self.signum, None)

    def restore(self) -> None:
        signal.signal(self.signum, self.previous)
