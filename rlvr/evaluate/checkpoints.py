"""Which checkpoints of which training runs ``python -m rlvr.evaluate checkpoints=<dir>`` evaluates, and where.

A training run directory (``rlvr.train.rundir``) holds ``config.yaml`` (its resolved config) and, for each
saved step, ``checkpoints/step_<n>/`` with HF-format weights (``config.json``, ...) and possibly DeepSpeed's
state (ignored here); ``checkpoints/.tmp*`` are checkpoints still being written, ``checkpoints/latest`` names
the latest complete one.

The evaluation of step n, with the eval config E and the prompt P, goes into the run directory::

    <run dir>/evals/<E>_<P>/step_<n>/     meta.json, summary.json, samples.parquet (any rlvr.evaluate output)

(``<E>_<P>_limit<N>`` with ``eval.limit=N``, so that a quick check is never taken for the full evaluation).
``summary.json`` is written last: an evaluation is done when it exists, so a sweep that grows is
evaluated again with the same command and only its new checkpoints are.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import yaml

EVALS_DIR = "evals"  # below a run directory; analysis.load reads the same folder
_STEP = re.compile(r"step_(\d+)")


@dataclass(frozen=True)
class Checkpoint:
    run_dir: Path
    step: int

    @property
    def path(self) -> Path:
        return self.run_dir / "checkpoints" / f"step_{self.step}"


def find_run_dirs(root: str | os.PathLike) -> list[Path]:
    """Training run directories under ``root`` (or ``root`` itself), at any depth: folders holding a
    ``config.yaml`` and a ``checkpoints/`` folder. Absolute paths, sorted."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise FileNotFoundError(f"checkpoints={root}: no such directory (expected a run directory or a folder of runs)")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if "config.yaml" in filenames and "checkpoints" in dirnames:
            found.append(Path(dirpath))
            dirnames[:] = []  # a run's own folders (checkpoints/, evals/) hold no runs
        else:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
    return sorted(found)


def complete_checkpoints(run_dir: Path) -> list[Checkpoint]:
    """The run's checkpoints that were written in full (``step_<n>`` with a ``config.json``), in step order;
    none after the step ``checkpoints/latest`` names, when it names one: a run resumed after a crash deletes
    those and writes them anew (``rlvr.train.checkpoint.remove_after``)."""
    folder = Path(run_dir) / "checkpoints"
    steps = [int(m[1]) for p in folder.iterdir() if (m := _STEP.fullmatch(p.name)) and (p / "config.json").is_file()]
    latest = _latest(folder)
    return [Checkpoint(Path(run_dir), step) for step in sorted(steps) if latest is None or step <= latest]


def _latest(folder: Path) -> Optional[int]:
    try:
        return int((folder / "latest").read_text().strip())
    except (OSError, ValueError):
        return None


def run_model(run_dir: Path) -> str:
    """The ``model.name`` of the run's ``config.yaml``: the model config its checkpoints are evaluated with."""
    path = Path(run_dir) / "config.yaml"
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not YAML ({err})") from None
    name = (config.get("model") or {}).get("name") if isinstance(config, dict) else None
    if not name:
        raise ValueError(f"{path} names no model.name: cannot tell which model config its checkpoints need")
    return str(name)


def eval_folder(eval_name: str, prompt_name: str, limit: Optional[int] = None) -> str:
    """The folder, below ``<run dir>/evals``, of one eval config and prompt.

    >>> eval_folder("paper", "default"), eval_folder("heldout", "python_prefix", limit=4)
    ('paper_default', 'heldout_python_prefix_limit4')
    """
    return f"{eval_name}_{prompt_name}" + ("" if limit is None else f"_limit{limit}")


def eval_dir(checkpoint: Checkpoint, folder: str) -> Path:
    """Where the evaluation of ``checkpoint`` in ``folder`` (``eval_folder``) goes."""
    return checkpoint.run_dir / EVALS_DIR / folder / f"step_{checkpoint.step}"


def is_evaluated(out_dir: Path) -> bool:
    """Done: its ``summary.json`` (written after the samples) exists."""
    return (Path(out_dir) / "summary.json").is_file()


def pending(checkpoints: Iterable[Checkpoint], folder: str) -> list[Checkpoint]:
    """Those of ``checkpoints`` not evaluated yet in ``folder``."""
    return [c for c in checkpoints if not is_evaluated(eval_dir(c, folder))]
