"""The run directory: the contract that ``analysis`` reads.

    config.yaml            resolved config of the run
    meta.json              git commit and dirty flag, package versions, host, start time, world size, the
                           reward's spec, the prompt, each benchmark's protocol, the grader's version
                           (``rlvr.outputs.run_meta``; evaluations write the same)
    metrics.jsonl          one JSON object per step: ``step`` + namespaced keys (train/, actor/, perf/, eval/)
    rollouts/step_<n>.parquet   one row per sample of step n (``ROLLOUT_COLUMNS``)
    eval/step_<n>.parquet       one row per (benchmark, problem, sample) of the evaluation after step n
                                (step 0: the model before training); columns: rlvr.evaluate.RECORD_COLUMNS
    checkpoints/step_<n>/  HF-format weights + tokenizer + trainer_state.json, written atomically

Only rank 0 writes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

from rlvr.evaluate import RECORD_COLUMNS
from rlvr.outputs import write_json, write_parquet

ROLLOUT_COLUMNS = (
    "step", "prompt_id", "sample", "prompt", "response", "answer", "reward", "correct", "advantage",
    "response_tokens", "finished", "is_code",
)  # fmt: skip


class RunDir:
    def __init__(self, path: str | os.PathLike, *, is_main: bool) -> None:
        self.path = Path(path)
        self.is_main = is_main
        if is_main:
            (self.path / "rollouts").mkdir(parents=True, exist_ok=True)
            (self.path / "checkpoints").mkdir(exist_ok=True)

    def write_start(self, config_yaml: str, meta: Mapping[str, Any]) -> None:
        """``config.yaml`` (the resolved config) and ``meta.json`` (``rlvr.outputs.run_meta``)."""
        if self.is_main:
            (self.path / "config.yaml").write_text(config_yaml)
            write_json(self.path / "meta.json", dict(meta))

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        if not self.is_main:
            return
        record = {"step": step, **{k: _json_number(v) for k, v in sorted(metrics.items())}}
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def log_rollouts(self, step: int, rows: list[dict[str, Any]]) -> None:
        if self.is_main:
            write_parquet(self.path / "rollouts" / f"step_{step}.parquet", rows, ROLLOUT_COLUMNS)

    def log_eval(self, step: int, records: list[dict[str, Any]]) -> None:
        """One row per (benchmark, problem, sample) of the evaluation after ``step`` updates."""
        if self.is_main:
            write_parquet(self.path / "eval" / f"step_{step}.parquet", records, ("step", *RECORD_COLUMNS))

    def checkpoint_dir(self, step: int) -> Path:
        return self.path / "checkpoints" / f"step_{step}"

    def staging_dir(self, step: int) -> Path:
        """Where a checkpoint is written before ``commit_checkpoint`` moves it into place."""
        tmp = self.path / "checkpoints" / f".tmp_step_{step}"
        if self.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        return tmp

    def commit_checkpoint(self, step: int, staging: Path) -> Path:
        target = self.checkpoint_dir(step)
        if self.is_main:
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)  # atomic on one file system: a reader never sees half a checkpoint
        return target


def _json_number(value: Any) -> Any:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value

