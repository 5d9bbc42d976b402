"""Synthetic run directories with known numbers, written exactly as the trainer and the evaluator lay them out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import yaml

from rlvr.evaluate import RECORD_COLUMNS


def train_config(model="qwen2.5_math_7b", reward="random", clip="standard", algorithm="grpo", seed=0, gamma=None,
                 experiment=None, total_steps=2, prompt="default") -> dict[str, Any]:  # fmt: skip
    reward_node = {"label": reward} | ({"gamma": gamma} if gamma is not None else {})
    return {
        "model": {"name": model}, "reward": reward_node, "clip": {"name": clip}, "algorithm": {"name": algorithm},
        "seed": seed, "experiment_name": experiment, "prompt": {"name": prompt}, "trainer": {"total_steps": total_steps},
    }  # fmt: skip


def meta(grader_version: str | None = None) -> dict[str, Any]:
    """A run's meta.json (the keys the analysis reads); ``grader_version`` only when given (older runs lack it)."""
    return {"world_size": 1} | ({"grader_version": grader_version} if grader_version is not None else {})


def record(benchmark: str, problem_id: str, correct: bool, *, is_code: bool = False, sample: int = 0,
           answer: str | None = "1", finished: bool = True, tokens: int = 100, prompt: str = "default") -> dict:  # fmt: skip
    """One eval record (rlvr.evaluate.RECORD_COLUMNS)."""
    return {
        "benchmark": benchmark, "benchmark_version": 1, "problem_id": problem_id, "sample": sample,
        "prompt_name": prompt, "response": "```python\n```" if is_code else "By algebra", "answer": answer,
        "gold": "1", "correct": correct, "is_code": is_code, "parse_failed": answer is None, "finished": finished,
        "response_tokens": tokens, "grader_timeout": False,
    }  # fmt: skip


def write_train_run(
    path: Path,
    config: Mapping[str, Any],
    metrics: Iterable[Mapping[str, Any]],
    evals: Mapping[int, Iterable[Mapping[str, Any]]] = (),
    grader_version: str | None = None,
) -> Path:
    """A finished training run: config.yaml, meta.json, metrics.jsonl (one dict per step, with `step`),
    eval/step_<n>.parquet from ``evals`` (step -> records). meta.json carries ``grader_version`` when one
    is given; without it the run is laid out as before the field existed."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(yaml.safe_dump(dict(config)))
    (path / "meta.json").write_text(json.dumps(meta(grader_version)))
    (path / "metrics.jsonl").write_text("".join(json.dumps(dict(m)) + "\n" for m in metrics))
    for step, records in dict(evals).items():
        (path / "eval").mkdir(exist_ok=True)
        frame = pd.DataFrame([{"step": step, **r} for r in records], columns=["step", *RECORD_COLUMNS])
        frame.to_parquet(path / "eval" / f"step_{step}.parquet", index=False)
    return path


def write_eval_run(path: Path, model: str, prompt: str, records: Iterable[Mapping[str, Any]],
                   experiment: str | None = None, checkpoint: str | None = None,
                   grader_version: str | None = None) -> Path:  # fmt: skip
    """A finished `python -m rlvr.evaluate` output folder: summary.json, samples.parquet, .hydra/config.yaml;
    with a ``grader_version``, also meta.json (a training run's keys) and the version in summary.json too,
    without one, laid out as before the field existed."""
    path.mkdir(parents=True, exist_ok=True)
    (path / ".hydra").mkdir(exist_ok=True)
    config = train_config(model=model, prompt=prompt, experiment=experiment) | {"command": "evaluate"}
    (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    summary = {"model": model, "checkpoint": checkpoint, "experiment_name": experiment, "prompt": {"name": prompt}}
    if grader_version is not None:
        (path / "meta.json").write_text(json.dumps(meta(grader_version)))
        summary["grader_version"] = grader_version
    (path / "summary.json").write_text(json.dumps(summary))
    pd.DataFrame(list(records), columns=list(RECORD_COLUMNS)).to_parquet(path / "samples.parquet", index=False)
    return path
