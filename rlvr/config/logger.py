"""Schema of the ``logger`` group: where metrics go besides ``metrics.jsonl``, which stays the record of truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING


@dataclass
class LoggerConfig:
    name: str = MISSING
    """``none``, ``wandb`` or ``tensorboard`` (``rlvr.train.loggers.LOGGERS``)."""
    project: Optional[str] = None
    """wandb: the project; null: ``spurious-rewards``."""
    entity: Optional[str] = None
    """wandb: the team or user; null: wandb's default."""
    group: Optional[str] = None
    """wandb: the group of runs; null: the experiment's name (``adhoc`` outside an experiment)."""
    mode: Optional[str] = None
    """wandb: ``online``, ``offline`` or ``disabled``; null: wandb's default (``WANDB_MODE`` decides)."""
    tags: list[str] = field(default_factory=list)
    """wandb: extra tags (the model, reward and clip are always added)."""
    log_dir: str = "tensorboard"
    """tensorboard: event files go to this folder of the run directory."""
