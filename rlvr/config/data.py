"""Schemas of the ``data`` group and of the labels that some rewards train against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import MISSING


@dataclass
class SourceSpec:
    """Where problems are read from (``rlvr.data.loaders``): a local ``.json`` / ``.jsonl`` / ``.parquet``
    file or a hub dataset (``datasets.load_dataset``)."""

    source: Any = MISSING
    """A path or hub name, or a list of them (read in order; ids get each file's name in front)."""
    split: Optional[str] = None
    """Hub datasets only (default ``train``)."""
    format: str = "auto"
    """``auto`` (from the extension; ``hub`` for anything else), ``json``, ``jsonl``, ``parquet``, ``hub``."""
    fields: Optional[dict[str, str]] = None
    """Column names for ``problem``, ``answer`` (or ``solution``: its last \\boxed{}) and ``id`` when they
    are not the defaults (problem / prompt / question; answer; id / unique_id)."""


@dataclass
class DataConfig:
    """A ``data`` group file: ``_target_`` builds a ``rlvr.data.ProblemSet`` (training + held-out problems)."""

    _target_: str = MISSING
    """The function that builds the problems (``rlvr.data.load_problem_set``, ``...arithmetic_problems``)."""


@dataclass
class ArithmeticSpec:
    """Arguments of ``rlvr.data.arithmetic.arithmetic_problems``: synthetic additions generated from a seed."""

    max_digits: int = MISSING
    """Operands have 1 to this many digits (the digit count drawn first, then the value)."""
    train_size: int = MISSING
    """Training problems drawn (repeats allowed, as in a real data set)."""
    heldout_size: int = MISSING
    """Distinct held-out problems, never drawn for training."""
    seed: int = MISSING
    """The split is part of the task, not of the run: keep it fixed when sweeping run seeds."""


@dataclass
class ArithmeticDataConfig(DataConfig, ArithmeticSpec):
    """The tiny model's task (``data/arithmetic``)."""


@dataclass
class ProblemSetDataConfig(DataConfig):
    """Problems from files or hub datasets (``rlvr.data.load_problem_set``). The paper trains on
    DeepScaleR-Preview (Luo et al. 2025, 40,315 problems) and watches MATH-500."""

    name: str = MISSING
    """Names the problem set in logs and run metadata."""
    train: SourceSpec = MISSING
    """Training problems; the paper's: DeepScaleR-Preview."""
    heldout: Optional[SourceSpec] = None
    """Problems watched during training (``eval=heldout``); the paper's: MATH-500. null: none."""
    on_bad_row: str = "error"
    """A row without a usable problem or answer: ``error`` (naming file, row and id) or ``skip`` (counted)."""
    max_train: Optional[int] = None
    """Keep the first N usable training rows (smoke runs)."""
    max_heldout: Optional[int] = None
    """Keep the first N held-out rows, e.g. 100 for quicker in-training checks."""


@dataclass
class OneShotExample:
    """The example of ``reward=one_shot``: pi_1 of Wang et al. 2025 ("One-shot RLVR"), the wind-pressure
    problem, row 7395 of DeepScaleR level 4."""

    source: Optional[str] = "${paths.data_root}/train/deepscaler_level4.json"
    """Where to find it; null: the data's own training problems (the tiny model's)."""
    row_id: str = "7395"
    """Its id, with or without the source's prefix."""


@dataclass
class LabelConfig:
    """``python -m rlvr.label``: majority-vote labels from the model's own samples, for
    ``reward=majority_vote`` and ``reward=incorrect``. The paper: 64 samples at temperature 1, top_p 1,
    3072 new tokens per DeepScaleR problem."""

    num_samples: int = 64
    """Samples per problem whose answers vote; paper: 64."""
    temperature: float = 1.0
    """Sampling temperature of the votes; paper: 1.0."""
    top_p: float = 1.0
    """Nucleus sampling of the votes; paper: 1.0 (off)."""
    max_new_tokens: int = 3072
    """Tokens per voting sample; paper: 3072."""
    num_problems: Optional[int] = None
    """null: every training problem of the data."""
    prompts_per_call: int = 32
    """Prompts handed to the rollout engine at once."""
    output: str = "${paths.output_root}/labels/${model.label_name}.json"
    """The label file written (its report beside it, ``<stem>.report.json``)."""
    make_if_missing: bool = False
    """Label before a majority_vote / incorrect run when the file is missing (the tiny model does)."""
