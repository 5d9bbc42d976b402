"""``python -m rlvr.evaluate [-m] checkpoints=<dir>``: every checkpoint of every run under a folder not evaluated
yet, each with its run's model, written into its run directory; run again, only the new ones are evaluated."""

from __future__ import annotations

import doctest
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir

from conftest import CONF, run_module
from rlvr.evaluate import checkpoints as checkpoints_module
from rlvr.evaluate import sweeper as sweeper_module
from rlvr.evaluate.checkpoints import Checkpoint, complete_checkpoints, eval_dir, find_run_dirs, pending, run_model
from rlvr.evaluate.sweeper import checkpoint_jobs, split_checkpoints

FOLDER = "heldout_default_limit4"  # eval=heldout eval.limit=4 with the model's own prompt
EVAL = ["eval=heldout", "eval.limit=4"]


def make_run(path: Path, tiny_path: Path, steps: list[int], *, latest: int, model: str = "tiny") -> Path:
    """A training run as the trainer leaves it: config.yaml, metrics.jsonl, meta.json, checkpoints/step_<n> (here
    the tiny model itself, with a DeepSpeed state folder), checkpoints/latest and a staging folder of step latest+1."""
    config = {"model": {"name": model}, "reward": {"label": "random"}, "clip": {"name": "standard"},
              "algorithm": {"name": "grpo"}, "seed": 0, "prompt": {"name": "default"}, "trainer": {"total_steps": latest}}  # fmt: skip
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "meta.json").write_text("{}")
    logged = [{"step": 0, "eval/heldout/accuracy": 0.25}] + [{"step": s, "train/reward_mean": 0.5} for s in range(1, latest + 1)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in logged))
    for step in [*steps, f"{latest + 1}-staging"]:
        target = path / "checkpoints" / (f"step_{step}" if isinstance(step, int) else f".tmp_step_{latest + 1}")
        shutil.copytree(tiny_path, target)
        (target / "deepspeed" / "state").mkdir(parents=True)
    (path / "checkpoints" / "latest").write_text(f"{latest}\n")
    return path


def finish_evaluation(out: Path, checkpoint: Path) -> None:
    """What a finished evaluation leaves (enough for discovery and the analysis)."""
    out.mkdir(parents=True)
    (out / "meta.json").write_text("{}")
    pd.DataFrame({"benchmark": ["heldout"], "prompt_name": ["default"], "correct": [True]}).to_parquet(out / "samples.parquet")
    (out / "summary.json").write_text(json.dumps({"model": "tiny", "checkpoint": str(checkpoint), "prompt": {"name": "default"},
                                                  "benchmarks": {"heldout": {"metrics": {"accuracy": 1.0}}}}))  # fmt: skip


@pytest.fixture
def root(tmp_path, tiny_path) -> Path:
    """sweep/0_a: steps 1 and 2 (step 1 evaluated already), a staging folder for step 3; sweep/deeper/1_b:
    steps 1 and 2 on disk, but `latest` names 1 (step 2 was moved into place before a crash: a resumed run
    writes it anew)."""
    root = tmp_path / "sweep"
    a = make_run(root / "0_a", tiny_path, [1, 2], latest=2)
    finish_evaluation(a / "evals" / FOLDER / "step_1", a / "checkpoints" / "step_1")
    make_run(root / "deeper" / "1_b", tiny_path, [1, 2], latest=1)
    (root / "not_a_run").mkdir()
    return root


def compose_evaluate(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="evaluate", overrides=overrides)


def test_discovery_lists_complete_checkpoints_and_the_pending_ones(root):
    a, b = root / "0_a", root / "deeper" / "1_b"
    assert find_run_dirs(root) == [a, b] and find_run_dirs(a) == [a]
    assert [c.step for c in complete_checkpoints(a)] == [1, 2]  # not .tmp_step_3, not `latest`
    assert [c.step for c in complete_checkpoints(b)] == [1]  # step_2 is after `latest`
    assert pending(complete_checkpoints(a), FOLDER) == [Checkpoint(a, 2)]
    assert pending(complete_checkpoints(a), "heldout_python_prefix_limit4") == [Checkpoint(a, 1), Checkpoint(a, 2)]
    assert eval_dir(Checkpoint(a, 2), FOLDER) == a / "evals" / FOLDER / "step_2"
    assert run_model(a) == "tiny"
    (b / "config.yaml").write_text("seed: 0\n")
    with pytest.raises(ValueError, match="names no model.name"):
        run_model(b)
    with pytest.raises(FileNotFoundError, match="no such directory"):
        find_run_dirs(root / "nowhere")


def test_each_checkpoint_is_a_job_with_its_runs_model(root, tiny_path):
    roots, rest = split_checkpoints([f"checkpoints={root}", *EVAL, "prompt=default"])
    assert roots == [str(root)] and rest == [*EVAL, "prompt=default"]
    jobs = checkpoint_jobs(roots, rest, compose_evaluate)
    a, b = root / "0_a", root / "deeper" / "1_b"
    assert [(j.checkpoint, j.done) for j in jobs] == [(Checkpoint(a, 1), True), (Checkpoint(a, 2), False), (Checkpoint(b, 1), False)]
    assert jobs[1].overrides == (*EVAL, "prompt=default", "model=tiny", f"checkpoint={a / 'checkpoints' / 'step_2'}")
    assert jobs[1].out_dir == a / "evals" / FOLDER / "step_2"
    # model= may name the runs' model; another one is refused, as for checkpoint=
    assert len(checkpoint_jobs(roots, [*rest, "model=tiny"], compose_evaluate)) == 3
    other = make_run(root / "2_c", tiny_path, [1], latest=1, model="qwen2.5_math_7b")
    with pytest.raises(ValueError, match=r"trained from model 'qwen2.5_math_7b'.*but model='tiny'"):
        checkpoint_jobs(roots, [*rest, "model=tiny"], compose_evaluate)
    jobs = checkpoint_jobs([str(other)], ["prompt=default"], compose_evaluate)
    assert jobs[0].model == "qwen2.5_math_7b" and jobs[0].out_dir.parent.name == "paper_default"  # the model's eval
    with pytest.raises(ValueError, match="checkpoint= and checkpoints= together"):
        checkpoint_jobs(roots, [f"checkpoint={other}"], compose_evaluate)


@pytest.mark.slow
def test_the_command_evaluates_the_new_checkpoints_only(root, tmp_path):
    from analysis.load import load_runs

    cmd = [sys.executable, "-m", "rlvr.evaluate", f"checkpoints={root}", *EVAL, f"paths.output_root={tmp_path / 'out'}"]
    first = run_module(cmd).stdout
    a, b = root / "0_a", root / "deeper" / "1_b"
    assert f"evaluated before: {a} step 1" in first and f"evaluating {a} step 2 (tiny)" in first
    assert f"evaluating {b} step 1 (tiny)" in first and "2 evaluated, 1 skipped as done before" in first
    out = a / "evals" / FOLDER / "step_2"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checkpoint"] == str(a / "checkpoints" / "step_2") and summary["prompt"]["name"] == "default"
    assert {"meta.json", "samples.parquet", ".hydra"} <= {p.name for p in out.iterdir()}
    assert len(pd.read_parquet(out / "samples.parquet")) == 4
    assert not (b / "evals" / FOLDER / "step_2").exists()
    assert "0 evaluated, 3 skipped as done before" in run_module(cmd).stdout

    # the analysis reads them as points of each run's curve: step 0 the trainer's, steps 1 and 2 the command's
    data = load_runs(root, progress=False)
    assert sorted(data.runs.run_id) == ["0_a", "deeper/1_b"] and not data.skipped
    curve = data.select("metrics", run_id="0_a").set_index("step")["eval/heldout/accuracy"]
    assert curve.to_dict() == {0: 0.25, 1: 1.0, 2: summary["benchmarks"]["heldout"]["metrics"]["accuracy"]}
    assert sorted(data.select("evals", run_id="0_a").step.unique()) == [1, 2]


@pytest.mark.slow
def test_a_multirun_is_one_job_per_pending_checkpoint(root, tmp_path):
    cmd = [sys.executable, "-m", "rlvr.evaluate", "-m", f"checkpoints={root}", *EVAL, "prompt=default,python_prefix",
           f"paths.output_root={tmp_path / 'out'}"]  # fmt: skip
    result = run_module(cmd)
    assert "5 evaluations to run, 1 done before" in result.stdout + result.stderr
    a, b = root / "0_a", root / "deeper" / "1_b"
    expected = {(a, "heldout_default_limit4", 2), (b, "heldout_default_limit4", 1),
                (a, "heldout_python_prefix_limit4", 1), (a, "heldout_python_prefix_limit4", 2),
                (b, "heldout_python_prefix_limit4", 1)}  # fmt: skip
    # each job's output folder (Hydra's .hydra/ is there) is a checkpoint's evaluation folder in its run directory
    jobs = {(p.parents[4], p.parents[2].name, int(p.parents[1].name.removeprefix("step_")))
            for p in root.glob("**/evals/*/step_*/.hydra/hydra.yaml")}  # fmt: skip
    assert jobs == expected
    for run, folder, step in expected:
        out = run / "evals" / folder / f"step_{step}"
        overrides = yaml.safe_load((out / ".hydra" / "overrides.yaml").read_text())
        assert {"model=tiny", f"checkpoint={run / 'checkpoints' / f'step_{step}'}"} <= set(overrides)
        assert json.loads((out / "summary.json").read_text())["prompt"]["name"] == folder.split("_", 1)[1].rsplit("_", 1)[0]
    again = run_module(cmd)
    assert "0 evaluations to run, 6 done before" in again.stdout + again.stderr


def test_doctests():
    assert doctest.testmod(checkpoints_module).failed == 0 and doctest.testmod(sweeper_module).failed == 0
