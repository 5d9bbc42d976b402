"""The run directory: the contract that ``analysis`` reads.

    config.yaml            resolved config of the run
    meta.json              git commit and dirty flag, package versions, host, start time, world size, the
                           reward's spec, the prompt, each benchmark's protocol, the grader's version
                           (``rlvr.outputs.run_meta``; evaluations write the same)
    metrics.jsonl          one JSON object per step: ``step`` + namespaced keys (train/, actor/, perf/, eval/)
    rollouts/step_<n>.parquet   one row per sample of step n (``ROLLOUT_COLUMNS``)
    eval/step_<n>.parquet       one row per (benchmark, problem, sample) of the evaluation after step n
                                (step 0: the model before training); columns: rlvr.evaluate.RECORD_COLUMNS
    checkpoints/step_<n>/  HF-format weights + tokenizer, and the full state to continue from (rlvr.train.checkpoint)
    checkpoints/latest     the step of the latest complete checkpoint
    done.json              written when the run finished (rlvr.train.resume)

Only rank 0 writes (but every rank writes its part of each checkpoint).

Before any of it, ``check_writable`` and ``check_free_space`` fail a run whose directory cannot take a file
or whose disk cannot take the checkpoints it will write: at start, not after an hour of training.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

from rlvr.config import TrainerConfig
from rlvr.evaluate import RECORD_COLUMNS
from rlvr.outputs import write_json, write_parquet
from rlvr.train.loggers import MetricsLogger, NullLogger

ROLLOUT_COLUMNS = (
    "step", "prompt_id", "sample", "prompt", "response", "answer", "reward", "correct", "advantage",
    "response_tokens", "finished", "is_code", "true_answer", "label_correct",
)  # fmt: skip
# answer: what the reward compared with (a label under majority vote / incorrect); true_answer: the truth;
# correct: graded against the truth; label_correct: against the answer trained on.


class RunDir:
    def __init__(self, path: str | os.PathLike, *, is_main: bool, logger: MetricsLogger | None = None) -> None:
        self.path = Path(path)
        self.is_main = is_main
        self.logger = logger or NullLogger()  # wandb / tensorboard: each row of metrics.jsonl goes there too
        if is_main:
            (self.path / "rollouts").mkdir(parents=True, exist_ok=True)
            (self.path / "checkpoints").mkdir(exist_ok=True)

    def write_start(self, config_yaml: str, meta: Mapping[str, Any], attempt: Mapping[str, Any]) -> None:
        """``config.yaml`` (the resolved config) and ``meta.json`` (``rlvr.outputs.run_meta``) with this start
        of the run appended to its ``attempts``; a resumed run keeps the ``meta.json`` of its first start."""
        if not self.is_main:
            return
        meta_path = self.path / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else dict(meta, attempts=[])
        meta["attempts"].append(dict(attempt))
        (self.path / "config.yaml").write_text(config_yaml)
        write_json(meta_path, meta)

    @property
    def attempts(self) -> int:
        """How many times the run was started before."""
        meta_path = self.path / "meta.json"
        return len(json.loads(meta_path.read_text())["attempts"]) if meta_path.is_file() else 0

    def logged(self, step: int) -> dict[str, float]:
        """The metrics logged for ``step`` (e.g. the evaluation before training, for a resumed run)."""
        for line in (self.path / "metrics.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record.pop("step") == step:
                return {key: float("nan") if value is None else value for key, value in record.items()}
        raise KeyError(f"{self.path / 'metrics.jsonl'} has no row for step {step}")

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        if not self.is_main:
            return
        record = {"step": step, **{k: _json_number(v) for k, v in sorted(metrics.items())}}
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        self.logger.log(step, metrics)

    def close(self) -> None:
        self.logger.close()

    def log_rollouts(self, step: int, rows: list[dict[str, Any]]) -> None:
        if self.is_main:
            write_parquet(self.path / "rollouts" / f"step_{step}.parquet", rows, ROLLOUT_COLUMNS)

    def log_eval(self, step: int, records: list[dict[str, Any]]) -> None:
        """One row per (benchmark, problem, sample) of the evaluation after ``step`` updates."""
        if self.is_main:
            write_parquet(self.path / "eval" / f"step_{step}.parquet", records, ("step", *RECORD_COLUMNS))


def _json_number(value: Any) -> Any:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


# ---------------------------------------------------------------------------------------------------- at start
class RunDirError(OSError):
    """The run directory cannot hold the run; the message names the path and what is missing."""


# A full-state checkpoint over all ranks (``rlvr.train.checkpoint``): DeepSpeed's fp32 master weights and
# AdamW's two moments, 4 bytes each per parameter, whatever the training dtype.
FULL_STATE_BYTES_PER_PARAMETER = 12
GB = 10**9


def check_writable(path: str | os.PathLike, rank: int) -> None:
    """Create ``path`` if needed, and write, fsync and delete a probe file in it (each rank its own: every
    rank writes its checkpoint partition there); a failure names the path and the system's reason."""
    path, probe = Path(path), Path(path) / f".write_probe_rank_{rank}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"probe")
            f.flush()
            os.fsync(f.fileno())  # a full disk may only say so here
        probe.unlink()
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise RunDirError(
            f"the run directory {path} is not writable ({reason}); choose another with hydra.run.dir=... "
            "or paths.output_root=..."
        ) from e


def run_disk_bytes(num_parameters: int, dtype_bytes: int, trainer: TrainerConfig, *, start_step: int = 0) -> int:
    """What a run writes from ``start_step`` on, at most, in bytes: the HF weights (``dtype_bytes`` per
    parameter) of every checkpoint still to come (each keeps them), the full state of at most
    ``keep_last + 1`` of them (one more while a new one is written, before the oldest is dropped) and
    ``trainer.min_free_gb`` for logs, rollouts and evaluation records.

    Checkpoints come every ``checkpoint_every`` steps and at the last step: 300 steps every 50 write 6.
    """
    every, total = max(trainer.checkpoint_every, 1), trainer.total_steps
    checkpoints = max(total // every - start_step // every + (total % every != 0), 0) if total > start_step else 0
    weights = checkpoints * num_parameters * dtype_bytes
    full_state = min(checkpoints, trainer.keep_last + 1) * num_parameters * FULL_STATE_BYTES_PER_PARAMETER
    return weights + full_state + int(trainer.min_free_gb * GB)


def check_free_space(path: str | os.PathLike, needed: int) -> None:
    """Fail unless the disk of ``path`` has ``needed`` bytes free (``run_disk_bytes``)."""
    free = shutil.disk_usage(path).free
    if free < needed:
        raise RunDirError(
            f"the disk of the run directory {path} has {free / GB:.2f} GB ({free} bytes) free, but the run will "
            f"write up to {needed / GB:.2f} GB ({needed} bytes: checkpoints and trainer.min_free_gb); free some space, "
            "run elsewhere (hydra.run.dir=..., paths.output_root=...) or keep fewer checkpoints "
            "(trainer.checkpoint_every, trainer.keep_last)"
        )
