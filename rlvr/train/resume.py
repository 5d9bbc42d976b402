"""Continuing a run in its own directory: from which checkpoint, whether it is still the same run, and the
logs cut back to that checkpoint so that a resumed run neither loses nor repeats a row.

Every start of a run is an attempt (a first start, a SLURM requeue, the same command run again with the
same ``hydra.run.dir``); ``meta.json`` lists them. A run that finished leaves ``done.json`` and returns at
once when started again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from rlvr.outputs import write_json
from rlvr.train import checkpoint

log = logging.getLogger(__name__)

POLICIES = ("auto", "never", "must")
# Keys a resumed run may change: where things are read and written, and how it starts and talks.
CHANGEABLE = ("paths.", "verbose", "trainer.resume")
# Keys added to the config after runs were already started, with the value that does what the code did before
# the key existed (ANY_VALUE: a key that never changes results, such as a memory chunk). A run started before
# may continue where its config lacks such a key and the new config holds that value; checkpoint hashes
# leave them out at that value, so they match whether or not the config that wrote them had the key.
ANY_VALUE = object()
ADDED_KEYS: dict[str, Any] = {
    "control_name": None,
    "clip.steps_per_rollout": ANY_VALUE,  # a check at start, not a change to what a run computes
    "algorithm.adam_eps": 1e-8,
    "trainer.logprob_chunk_tokens": ANY_VALUE,
    "trainer.max_consecutive_nonfinite": ANY_VALUE,  # acts only where a run would otherwise train on NaN
    "trainer.min_free_gb": ANY_VALUE,
    "trainer.single_process_zero_stage": None,  # earlier one-process runs ran zero_stage (3)
}
DONE = "done.json"
STEP_FOLDERS = ("rollouts", "eval")  # hold step_<n>.parquet files


class ResumeError(RuntimeError):
    """A run directory that this run cannot continue; the message says why and what to do."""


@contextlib.contextmanager
def exclusive(run_path: Path, *, hold: bool) -> Iterator[None]:
    """Hold ``<run dir>/.lock`` while inside (``hold``: rank 0; the other ranks pass): a run started again
    while an earlier start still runs (a stray process of a killed launcher) is refused, not run twice into
    the same files. On a file system without locks it warns and goes on."""
    if not hold:
        yield
        return
    path = Path(run_path) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ResumeError(f"{run_path} is being run by {holder}: stop it before starting this run again") from None
        except OSError as error:  # e.g. a network file system without flock
            log.warning("cannot lock %s (%s): make sure no other process runs this run", path, error)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield  # closing the file releases the lock


@dataclass(frozen=True)
class Attempt:
    """One start of a run, as ``meta.json`` records it."""

    job_id: str | None
    restart: int
    host: str
    start_time: str
    resumed_from_step: int | None

    @classmethod
    def now(cls, restart: int, resumed_from_step: int | None) -> "Attempt":
        return cls(slurm_job_id(), restart, socket.gethostname(),
                   dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), resumed_from_step)  # fmt: skip


def slurm_job_id(env: Mapping[str, str] = os.environ) -> str | None:
    """``<array job>_<task>`` for an array job (what submitit and sacct call it), else the job id, else None.

    >>> slurm_job_id({"SLURM_JOB_ID": "12", "SLURM_ARRAY_JOB_ID": "10", "SLURM_ARRAY_TASK_ID": "2"})
    '10_2'
    >>> slurm_job_id({"SLURM_JOB_ID": "12"}), slurm_job_id({})
    ('12', None)
    """
    if "SLURM_ARRAY_JOB_ID" in env and "SLURM_ARRAY_TASK_ID" in env:
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return env.get("SLURM_JOB_ID")


def finished(run_path: Path) -> dict[str, Any] | None:
    """What a finished run returned (its ``done.json``), or None."""
    done = Path(run_path) / DONE
    return json.loads(done.read_text()) if done.is_file() else None


def mark_done(run_path: Path, step: int, metrics: Mapping[str, float]) -> None:
    end = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    write_json(Path(run_path) / DONE, {"step": step, "end_time": end, "metrics": dict(metrics)})


def resume_point(run_path: Path, config_yaml: str, world_size: int, policy: str) -> int | None:
    """The step to continue from (None: start from step 0), after checking that this run may continue the
    one in ``run_path``: the same config (``CHANGEABLE`` keys aside) and the same number of processes."""
    if policy not in POLICIES:
        raise ResumeError(f"trainer.resume={policy!r}; available: {', '.join(POLICIES)}")
    run_path = Path(run_path)
    started = (run_path / "meta.json").is_file()
    if started and policy == "never":
        raise ResumeError(f"{run_path} already holds a run and trainer.resume=never: choose another hydra.run.dir, "
                          "or continue it with trainer.resume=auto")  # fmt: skip
    step = checkpoint.latest_step(run_path) if started else None
    if step is None and policy == "must":
        raise ResumeError(f"trainer.resume=must, but {run_path} has no complete checkpoint to continue from")
    if started:
        saved = yaml.safe_load((run_path / "config.yaml").read_text())
        differing = differing_keys(saved, yaml.safe_load(config_yaml))
        if differing:
            raise ResumeError(
                f"{run_path} holds a run of another config; these keys differ: {', '.join(differing)}. Continue "
                "it with its own config (only paths.*, verbose and trainer.resume may change), or start this "
                "config in another hydra.run.dir"
            )
    if step is not None:
        saved_world = json.loads((checkpoint.checkpoints_dir(run_path) / f"step_{step}" / checkpoint.STATE_FILE)
                                 .read_text())["world_size"]  # fmt: skip
        if saved_world != world_size:
            raise ResumeError(
                f"the checkpoint of step {step} in {run_path} was written by {saved_world} processes, this run has "
                f"{world_size}: run it with {saved_world}. (To change the number of processes, convert the "
                "DeepSpeed state to a universal checkpoint: deepspeed.checkpoint.ds_to_universal, and load it with "
                "checkpoint.load_universal; not automated here.)"
            )
    return step


def differing_keys(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two configs, ``CHANGEABLE`` keys aside.

    >>> differing_keys({"seed": 0, "paths": {"output_root": "a"}, "algorithm": {"lr": 1e-6}},
    ...                {"seed": 1, "paths": {"output_root": "b"}, "algorithm": {"lr": 1e-6}})
    ['seed']
    """
    a, b = _without_legacy_values(_flatten(saved)), _without_legacy_values(_flatten(current))
    keys = sorted(set(a) | set(b))
    return [key for key in keys if a.get(key, _ABSENT) != b.get(key, _ABSENT) and not _changeable(key)]


def config_hash(config_yaml: str) -> str:
    """A hash of the config that a resumed run must share (``CHANGEABLE`` keys aside)."""
    flat = {k: v for k, v in _without_legacy_values(_flatten(yaml.safe_load(config_yaml))).items() if not _changeable(k)}
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:16]


def trim_to(run_path: Path, step: int | None) -> None:
    """Cut the run's logs back to ``step`` (None: to nothing): ``metrics.jsonl`` keeps the rows up to it
    (a torn last line is dropped), per-step parquet files after it go, and so do checkpoints after it."""
    run_path = Path(run_path)
    metrics = run_path / "metrics.jsonl"
    if metrics.is_file():
        kept = [line for line in _complete_lines(metrics) if step is not None and json.loads(line)["step"] <= step]
        tmp = metrics.with_name(".metrics.jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, metrics)
    for folder in STEP_FOLDERS:
        for path in (run_path / folder).glob("step_*.parquet"):
            if step is None or int(path.stem.removeprefix("step_")) > step:
                path.unlink()
    checkpoint.remove_staging(run_path)
    checkpoint.remove_after(run_path, step)


def _complete_lines(path: Path) -> list[str]:
    """Lines that parse as JSON; a line cut by a crash mid-write (only ever the last) is left out."""
    lines = []
    for line in path.read_text().splitlines():
        try:
            json.loads(line)
        except json.JSONDecodeError:
            continue
        lines.append(line)
    return lines


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, Mapping):
        return {prefix.rstrip("."): node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat |= _flatten(value, f"{prefix}{key}.")
    return flat


def _without_legacy_values(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``flat`` without the ``ADDED_KEYS`` that hold the value a config without them meant."""
    return {k: v for k, v in flat.items()
            if k not in ADDED_KEYS or (ADDED_KEYS[k] is not ANY_VALUE and v != ADDED_KEYS[k])}  # fmt: skip


def _changeable(key: str) -> bool:
    return any(key == c or key.startswith(c) for c in CHANGEABLE)


_ABSENT = object()
