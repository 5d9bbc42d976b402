"""What a training run is made of, handed from the builder (``rlvr.build.build_training``) to the loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlvr.config import RunConfig
from rlvr.data import Problem
from rlvr.data.prompts import Prompt
from rlvr.evaluate import Benchmark
from rlvr.rewards import Reward
from rlvr.rollout import RolloutEngine
from rlvr.train import distributed as D
from rlvr.train.checkpoint import TrainerState
from rlvr.train.plan import StepPlan
from rlvr.train.rundir import RunDir


@dataclass
class TrainingParts:
    """What a training run is made of (``rlvr.build.build_training`` makes them from a config)."""

    config: RunConfig
    plan: StepPlan
    dist: D.DistInfo
    run_dir: RunDir
    tokenizer: Any
    engine: RolloutEngine  # samples the rollouts; gets the policy's weights before each step
    policy: Any  # a DeepSpeed engine around the model being trained
    reference: Any | None  # a frozen DeepSpeed copy of the start for the KL penalty, or None
    reward: Reward
    prompt: Prompt
    problems: list[Problem]  # training problems whose prompt fits algorithm.max_prompt_len
    benchmarks: list[Benchmark]
    config_hash: str  # recorded in every checkpoint: a resumed run must be the same run
    start: TrainerState | None = None  # the checkpoint this run continues from (None: a fresh run)
