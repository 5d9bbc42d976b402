"""``python -m rlvr.evaluate`` end to end: the tiny model from a run's checkpoint on a few problems of each benchmark."""

from __future__ import annotations

import doctest
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import DATA_DIR, compose_run, run_module
from rlvr.evaluate import RECORD_COLUMNS

needs_data = pytest.mark.skipif(not (DATA_DIR / "eval").is_dir(), reason=f"no eval data under {DATA_DIR}")


def fake_run(tmp_path: Path, tiny_path: Path, model_name: str) -> Path:
    """A run directory as the trainer leaves it: config.yaml and checkpoints/step_<n> (here the tiny model itself)."""
    run = tmp_path / "run"
    checkpoint = run / "checkpoints" / "step_3"
    shutil.copytree(tiny_path, checkpoint)
    (run / "config.yaml").write_text(yaml.safe_dump({"model": {"name": model_name}}))
    return checkpoint


@needs_data
@pytest.mark.slow
def test_a_checkpoint_on_every_paper_benchmark(tmp_path, tiny_path):
    checkpoint = fake_run(tmp_path, tiny_path, "tiny")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rlvr.evaluate", "eval=paper", "eval.limit=2", "prompt=python_prefix",
           f"checkpoint={checkpoint}", f"hydra.run.dir={out}"]  # fmt: skip
    result = run_module(cmd)
    assert "prompt python_prefix" in result.stdout and "math500" in result.stdout and "pass@8" in result.stdout

    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_path"] == str(checkpoint) and summary["checkpoint"] == str(checkpoint)
    # the same provenance as a training run's meta.json (rlvr.outputs.run_meta), with the grader's version
    from rlvr.rewards import GRADER_VERSION

    meta = json.loads((out / "meta.json").read_text())
    assert {"git", "packages", "python", "host", "start_time", "world_size", "prompt", "eval"} <= set(meta)
    assert meta["grader_version"] == GRADER_VERSION and meta["packages"]["torch"].startswith("2.13")
    assert meta["prompt"]["name"] == "python_prefix" and list(meta["eval"]) == ["math500", "amc", "aime24", "aime25"]
    assert summary["prompt"]["name"] == "python_prefix"
    assert summary["prompt"]["response_prefix"] == "Let's solve this using Python."
    assert list(summary["benchmarks"]) == ["math500", "amc", "aime24", "aime25"]

    records = pd.read_parquet(out / "samples.parquet")
    assert list(records.columns) == list(RECORD_COLUMNS)
    sizes = records.groupby("benchmark", sort=False).size().to_dict()
    assert sizes == {"math500": 2 * 1, "amc": 2 * 8, "aime24": 2 * 8, "aime25": 2 * 8}
    assert (records.prompt_name == "python_prefix").all()
    # the summary's numbers, recomputed from the per-sample rows by hand
    for name, group in records.groupby("benchmark"):
        metrics = summary["benchmarks"][name]["metrics"]
        protocol = summary["benchmarks"][name]["protocol"]
        assert protocol["problems"] == 2 and protocol["max_new_tokens"] == 24  # the tiny model's budget
        assert metrics["accuracy"] == pytest.approx(group.groupby("problem_id").correct.mean().mean())
        assert metrics["code_rate"] == pytest.approx(group.is_code.mean())
        assert metrics["parse_failure_rate"] == pytest.approx(group.answer.isna().mean())
        assert metrics["truncated_rate"] == pytest.approx((~group.finished).mean())
        assert metrics["num_samples"] == len(group)
        assert (group.is_code == group.response.str.lower().str.contains("python")).all()
        if protocol["samples"] == 8:
            any_right = group.groupby("problem_id").correct.any().mean()
            assert metrics["pass@8"] == pytest.approx(any_right)  # pass@n: a correct sample among all n


def test_a_checkpoint_from_another_models_run_is_refused(tmp_path, tiny_path):
    from rlvr.build import evaluated_model_path

    checkpoint = fake_run(tmp_path, tiny_path, "qwen2.5_math_7b")
    cfg = compose_run(f"checkpoint={checkpoint}")
    with pytest.raises(ValueError, match=r"trained from model 'qwen2.5_math_7b'.*add model=qwen2.5_math_7b"):
        evaluated_model_path(cfg)
    with pytest.raises(FileNotFoundError, match=r"no config.json there"):
        evaluated_model_path(compose_run(f"checkpoint={tmp_path / 'nothing'}"))


def test_doctests():
    from rlvr.evaluate import __main__ as cli

    assert doctest.testmod(cli).failed == 0
