"""The unit of data: a problem with its reference answer, and the error for data that cannot become one."""

from __future__ import annotations

from dataclasses import dataclass


class DataError(ValueError):
    """A data source that cannot become problems as asked; the message says which file and row."""


@dataclass(frozen=True)
class Problem:
    id: str  # stable across runs: rewards and rollout logs are keyed by it
    problem: str
    answer: str  # what the reward compares with: the true answer, or a label (majority vote, incorrect)
    true_answer: str | None = None  # the true answer when ``answer`` is such a label (None: unknown or the same)
    # Multiple-choice options as (letter, content) pairs, where the source has them: an answer holding the
    # gold option's content is then graded as its letter (rlvr.rewards.grader.against_options).
    options: tuple[tuple[str, str], ...] = ()

    @property
    def option_map(self) -> dict[str, str] | None:
        """The options as letter -> content, or None where the problem has none."""
        return dict(self.options) if self.options else None

    @property
    def truth(self) -> str:
        """What correctness is graded against: the true answer when known, else ``answer``."""
        return self.answer if self.true_answer is None else self.true_answer


@dataclass(frozen=True)
class ProblemSet:
    """What a `data` config builds: problems to train on and held-out problems to watch."""

    name: str
    train: tuple[Problem, ...]
    heldout: tuple[Problem, ...]
    # Source rows dropped as unusable (no problem text or no answer) when loading with on_bad_row="skip";
    # the trainer logs it so that a run on a silently shrunken data set is visible.
    skipped: int = 0

    def __post_init__(self) -> None:
        if not self.train:
            raise ValueError(f"data set {self.name!r} has no training problems")
        if self.skipped < 0:
            raise ValueError(f"data set {self.name!r}: skipped must be >= 0, got {self.skipped}")
