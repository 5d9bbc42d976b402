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

Only rank 0 writes.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

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

