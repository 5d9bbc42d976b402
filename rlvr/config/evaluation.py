"""Schema of the ``eval`` group: benchmarks and their sampling protocol (the paper's, App. A)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from rlvr.config.data import SourceSpec


@dataclass
class BenchmarkConfig:
    """One benchmark: where its problems come from and how each is sampled. Its problems come from
    ``file`` when that file exists, else from the ``hub`` dataset; or, with ``data``, they are a data
    config's held-out problems (``eval=heldout``)."""

    version: int = MISSING
    """Logged with every result: bump it when the protocol or the problems change."""
    file: Optional[str] = None
    """A local file of problems (normally under ``paths.data_root``), used when it exists."""
    hub: Optional[SourceSpec] = None
    """A hub dataset to read when ``file`` is missing (or not given)."""
    data: Optional[Any] = None
    """A data config (``${data}``): its held-out problems, with their true answers whatever the reward."""
    fields: Optional[dict[str, str]] = None
    """Column names of ``file`` when they are not the defaults."""
    samples: int = MISSING
    """Per problem: 1 for MATH-500 (greedy), 8 for AMC and AIME (avg@8)."""
    temperature: float = MISSING
    """0 is greedy (MATH-500); 0.6 for AMC and AIME."""
    top_p: float = MISSING
    """Nucleus sampling; 1.0 (off) in the paper."""
    max_new_tokens: int = MISSING
    """Paper: 3072."""
    pass_k: list[int] = MISSING
    """The k of pass@k to report (unbiased estimator of Chen et al. 2021), each <= samples."""


@dataclass
class EvalConfig:
    """Benchmarks for ``python -m rlvr.evaluate`` and for evaluation during training."""

    name: str = MISSING
    """``math500``, ``amc``, ``aime24``, ``aime25``, ``paper`` (all four), ``heldout``."""
    benchmarks: dict[str, BenchmarkConfig] = field(default_factory=dict)
    every_steps: int = 0
    """In training: evaluate every N steps, and always at step 0 and at the last step (0: only those).
    The paper's figures evaluate every 50 steps."""
    limit: Optional[int] = None
    """Evaluate only the first N problems of each benchmark (quick checks)."""
    max_new_tokens: Optional[int] = None
    """Replaces every benchmark's own (the tiny model sets its 24); null: each benchmark's."""
    prompts_per_call: int = 64
    """Prompts handed to the rollout engine at once, each with all its samples."""
