"""Checkpoints that a run continues from exactly, written so that a crash at any moment leaves either the
previous checkpoint or the new one, never half of one.

    checkpoints/step_<n>/           HF weights + tokenizer (every checkpoint keeps them, for evaluation)
        trainer_state.json          step, seed, world size, policy version, config hash
        deepspeed/state/            DeepSpeed's own files: weights and optimizer state, one partition per rank
        rng/rank_<r>.pt             every rank's random states (torch, CUDA, Python, NumPy)
    checkpoints/latest              the step of the latest complete checkpoint: written last, read first

A checkpoint is written into ``checkpoints/.tmp_step_<n>`` by every rank, then (after a barrier) fsynced,
renamed into place and only then pointed at by ``latest`` (written through a fsynced temporary file).
DeepSpeed's own ``latest`` file is never written nor read: it is written before DeepSpeed's final barrier.
Full-state checkpoints rotate (``trainer.keep_last``): older ones keep only their HF weights.

Loading unpickles nothing but tensors, plain containers and a few named types (``SAFE_GLOBALS``):
``torch.load(weights_only=True)`` for our files and for DeepSpeed's, whose own loader would unpickle
anything (``weights_only=False``), so a checkpoint planted in a run directory cannot run code.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from rlvr.train import distributed as D
from rlvr.train.policy import full_parameters

STATE_FILE = "trainer_state.json"
DEEPSPEED_DIR, DEEPSPEED_TAG, RNG_DIR = "deepspeed", "state", "rng"
LATEST = "latest"


@dataclass(frozen=True)
class TrainerState:
    step: int
    seed: int
    world_size: int
    policy_version: int  # optimizer updates applied so far (one per step)
    config_hash: str  # of the resolved config, paths aside: a resumed run must be the same run


def checkpoints_dir(run_path: Path) -> Path:
    return Path(run_path) / "checkpoints"


def latest_step(run_path: Path) -> int | None:
    """The step of the latest complete checkpoint, or None."""
    pointer = checkpoints_dir(run_path) / LATEST
    if not pointer.is_file():
        return None
    step = int(pointer.read_text().strip())
    if not (checkpoints_dir(run_path) / f"step_{step}" / STATE_FILE).is_file():
        raise RuntimeError(f"{pointer} names step {step}, whose checkpoint is not there: the run directory is damaged")
    return step


def save(policy, tokenizer, run_path: Path, state: TrainerState, *, is_main: bool, keep_last: int) -> Path:
    """Write a complete checkpoint of ``state.step`` (collective: every rank calls it)."""
    root = checkpoints_dir(run_path)
    staging, target = root / f".tmp_step_{state.step}", root / f"step_{state.step}"
    if is_main:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    D.barrier()
    weights = {name: tensor.detach().cpu().clone() for name, tensor in full_parameters(policy.module)}
    policy.save_checkpoint(str(staging / DEEPSPEED_DIR), tag=DEEPSPEED_TAG, save_latest=False)
    (staging / RNG_DIR).mkdir(exist_ok=True)
    torch.save(_rng_states(), staging / RNG_DIR / f"rank_{D.rank()}.pt")
    if is_main:
        policy.module.save_pretrained(staging, state_dict=weights)
        tokenizer.save_pretrained(staging)
        (staging / STATE_FILE).write_text(json.dumps(state.__dict__) + "\n")
    D.barrier()  # every rank's partition is on disk
    if is_main:
        _fsync_tree(staging)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
        _write_durably(root / LATEST, f"{state.step}\n")
        _rotate(root, keep_last)
    D.barrier()
    return target


def load(policy, run_path: Path, step: int) -> TrainerState:
    """Restore the policy, its optimizer and this rank's random states from the checkpoint of ``step``."""
    directory = checkpoints_dir(run_path) / f"step_{step}"
    state = TrainerState(**json.loads((directory / STATE_FILE).read_text()))
    with weights_only_loading(policy):
        loaded, _ = policy.load_checkpoint(str(directory / DEEPSPEED_DIR), tag=DEEPSPEED_TAG)
        if loaded is None:
            raise RuntimeError(f"DeepSpeed could not load the checkpoint in {directory / DEEPSPEED_DIR}")
        _set_rng_states(torch.load(directory / RNG_DIR / f"rank_{D.rank()}.pt", weights_only=True))
    return state


def safe_globals() -> list[Any]:
    """What a checkpoint's pickles may construct besides tensors and plain containers: NumPy's random state
    (an array), and the ZeRO stage, loss scaler and (ZeRO-1/2) parameter slices' addresses, two integers,
    that DeepSpeed keeps in its optimizer files."""
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    numpy_core = getattr(np, "_core", None) or np.core  # NumPy 2 renamed it
    numpy_types = [np.ndarray, np.dtype, type(np.dtype(np.uint32)), numpy_core.multiarray._reconstruct]
    return [*numpy_types, ZeroStageEnum, LossScaler, DynamicLossScaler, fragment_address]


@contextlib.contextmanager
def weights_only_loading(policy) -> Iterator[None]:
    """Inside: ``torch.load`` admits only ``safe_globals()`` beyond weights, and DeepSpeed's checkpoint
    engine loads that way too (its own ``load`` passes ``weights_only=False``)."""
    engine = policy.checkpoint_engine

    def load(path: str, map_location=None):
        return torch.load(path, map_location=map_location, weights_only=True)

    engine.load = load  # shadows the method for this object only
    try:
        with torch.serialization.safe_globals(safe_globals()):
            yield
    finally:
        del engine.load


def remove_staging(run_path: Path) -> None:
    """Staging folders of checkpoints that a crash interrupted."""
    for leftover in checkpoints_dir(run_path).glob(".tmp_step_*"):
        shutil.rmtree(leftover, ignore_errors=True)


def remove_after(run_path: Path, step: int | None) -> None:
    """Checkpoints after ``step`` (all of them for None): moved into place, but never pointed at by ``latest``."""
    for directory in checkpoints_dir(run_path).glob("step_*"):
        if step is None or int(directory.name.removeprefix("step_")) > step:
            shutil.rmtree(directory, ignore_errors=True)


def _rotate(root: Path, keep_last: int) -> None:
    """Drop the full state (DeepSpeed partitions, RNG) of all but the ``keep_last`` newest checkpoints."""
    full = sorted((d for d in root.glob("step_*") if (d / DEEPSPEED_DIR).is_dir()), key=lambda d: int(d.name[5:]))
    for directory in full[: max(len(full) - keep_last, 0)]:
        shutil.rmtree(directory / DEEPSPEED_DIR, ignore_errors=True)
        shutil.rmtree(directory / RNG_DIR, ignore_errors=True)


def _rng_states() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])


def _fsync_tree(directory: Path) -> None:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(directory)


def _write_durably(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
