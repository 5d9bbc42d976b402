"""Schema of our SLURM launcher profiles (``conf/hydra/launcher/slurm*.yaml``): hydra-submitit-launcher's
own fields, plus how a run's resources become a job's shape (``rlvr.launcher``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf


@dataclass
class RLVRSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.rlvr_launcher.SlurmLauncher"
    tasks_from_resources: bool = True
    """GPU clusters: each run gets ``resources.gpus`` GPUs and one task (rank) per GPU, from its model config;
    runs of different shapes go out as separate job arrays. False (CPU nodes): ``tasks_per_node`` as set."""
    max_gpus_per_node: int = 8
    """A run with more GPUs than this spans ``resources.gpus / max_gpus_per_node`` nodes."""
    srun_args: list[str] = field(default_factory=lambda: ["--kill-on-bad-exit=1"])
    """``srun`` options: a rank that fails kills its peers, so no rank waits forever in a collective."""
    setup: Optional[list[str]] = None
    """Shell lines run in the job before the tasks start (modules, environment variables)."""
