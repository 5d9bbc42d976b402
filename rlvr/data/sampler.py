"""Which prompts a step trains on: seeded epochs, a pure function of (seed, step).

Being stateless means a resumed run, or a run with a different number of processes, sees exactly the
same prompts at the same step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class PromptSampler:
    num_problems: int
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        if self.batch_size > self.num_problems:
            raise ValueError(f"rollout_batch_size={self.batch_size} is larger than the data set ({self.num_problems} problems)")

    @property
    def steps_per_epoch(self) -> int:
        return self.num_problems // self.batch_size  # a ragged last batch is dropped

    def indices(self, step: int) -> list[int]:
        """Problem indices for training step ``step`` (1-based)."""
        epoch, offset = divmod(step - 1, self.steps_per_epoch)
        order = _permutation(self.num_problems, self.seed, epoch)
        return list(order[offset * self.batch_size : (offset + 1) * self.batch_size])


@lru_cache(maxsize=4)
def _permutation(n: int, seed: int, epoch: int) -> tuple[int, ...]:
    order = list(range(n))
    random.Random(f"{seed}/{epoch}").shuffle(order)
    return tuple(order)
