"""The unit of data: a problem with its reference answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    id: str  # stable across runs: rewards and rollout logs are keyed by it
    problem: str
    answer: str


@dataclass(frozen=True)
class ProblemSet:
    """What a `data` config builds: problems to train on and held-out problems to watch."""

    name: str
    train: tuple[Problem, ...]
    heldout: tuple[Problem, ...]

    def __post_init__(self) -> None:
        if not self.train:
            raise ValueError(f"data set {self.name!r} has no training problems")
