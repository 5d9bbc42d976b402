"""The run directory: the contract that ``analysis`` reads.

    config.yaml            resolved config of the run
    meta.json              git commit and dirty flag, package versions, host, start time, world size
    metrics.jsonl          one JSON object per step: ``step`` + namespaced keys (train/, actor/, perf/, eval/)
    rollouts/step_<n>.parquet   one row per sample of step n
    eval/step_<n>.parquet       one row per (benchmark, problem, sample) of the evaluation after step n
                                (step 0: the model before training); columns: rlvr.evaluate.RECORD_COLUMNS
    checkpoints/step_<n>/  HF-format weights + tokenizer + trainer_state.json, written atomically

Only rank 0 writes.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from rlvr.evaluate.runner import RECORD_COLUMNS

PACKAGES = ("torch", "transformers", "deepspeed", "vllm", "math-verify", "hydra-core", "omegaconf", "datasets")
ROLLOUT_COLUMNS = (
    "step", "prompt_id", "sample", "prompt", "response", "answer", "reward", "correct", "advantage",
    "response_tokens", "finished", "is_code",
)  # fmt: skip


def git_state(repo: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout

    try:
        return {"commit": git("rev-parse", "HEAD").strip(), "dirty": bool(git("status", "--porcelain").strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class RunDir:
    def __init__(self, path: str | os.PathLike, *, is_main: bool) -> None:
        self.path = Path(path)
        self.is_main = is_main
        if is_main:
            (self.path / "rollouts").mkdir(parents=True, exist_ok=True)
            (self.path / "checkpoints").mkdir(exist_ok=True)

    def write_start(self, cfg: DictConfig, *, world_size: int, extra: Mapping[str, Any] = ()) -> None:
        if not self.is_main:
            return
        (self.path / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        meta = {
            "git": git_state(Path(__file__).resolve().parents[2]),
            "packages": package_versions(),
            "python": sys.version.split()[0],
            "host": socket.gethostname(),
            "start_time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "world_size": world_size,
            **dict(extra),
        }
        _write_atomic(self.path / "meta.json", json.dumps(meta, indent=2))

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


def write_parquet(path: Path, rows: list[dict[str, Any]], columns: Sequence[str]) -> Path:
    """Rows as a parquet table with ``columns`` in that order, moved into place only when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pd.DataFrame(rows, columns=list(columns)).to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def _json_number(value: Any) -> Any:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
