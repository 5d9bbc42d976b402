"""End to end, as a user runs it: the CLI, a local sweep, two processes under torchrun.

Each run trains the cached warm-started tiny model for a couple of steps and checks the run-directory
contract that ``analysis`` reads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import run_module
from rlvr.evaluate import RECORD_COLUMNS
from rlvr.train.rundir import ROLLOUT_COLUMNS

pytestmark = pytest.mark.slow

METRIC_KEYS = {
    "train/reward_mean", "train/accuracy", "train/code_rate", "train/frac_zero_std_groups",
    "train/response_len_mean", "train/truncated_frac", "actor/loss", "actor/clip_frac_low",
    "actor/clip_frac_high", "actor/ratio_max", "actor/entropy", "actor/grad_norm", "perf/rollout_s",
    "perf/train_s", "perf/tokens_per_s",
}  # fmt: skip


def run_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("metrics.jsonl"))


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_leaves_the_contracted_run_directory(train_cmd, tiny_path):
    cmd, root = train_cmd
    result = run_module(cmd + ["trainer.total_steps=2", "trainer.checkpoint_every=1", "eval.every_steps=1"])
    assert "at start: heldout accuracy" in result.stdout + result.stderr
    [run] = run_dirs(root)
    # each message once on the console; third-party output (DeepSpeed's op build, shard-writing bars) only in the log
    printed = result.stdout + result.stderr
    assert printed.count("at start: heldout accuracy") == 1 and printed.count("after 2 steps:") == 1
    for noise in ("built successfully", "Writing model shards", "Loading weights", "compilers.C"):
        assert noise not in printed, noise
    assert "built successfully" in (run / "train.log").read_text()
    # the closing summary says where the run is and how to draw it
    assert f"run directory: {run}" in printed and f"python -m analysis {run} --out {run / 'figures'}" in printed

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["name"] == "tiny" and config["trainer"]["total_steps"] == 2
    meta = json.loads((run / "meta.json").read_text())
    assert {"git", "packages", "host", "start_time", "world_size"} <= set(meta) and meta["world_size"] == 1
    assert {"commit", "dirty"} <= set(meta["git"]) and meta["packages"]["torch"].startswith("2.13")

    assert meta["prompt"]["name"] == "default" and meta["eval"]["heldout"]["problems"] == 200
    from rlvr.rewards import GRADER_VERSION

    assert meta["grader_version"] == GRADER_VERSION

    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == [0, 1, 2]
    # in-loop evaluation: the model before training (step 0) and after each step, per-sample records beside
    for m in metrics:
        records = pd.read_parquet(run / "eval" / f"step_{m['step']}.parquet")
        assert list(records.columns) == ["step", *RECORD_COLUMNS] and (records.step == m["step"]).all()
        assert len(records) == 200 and records.problem_id.is_unique and (records.benchmark == "heldout").all()
        assert m["eval/heldout/accuracy"] == pytest.approx(records.correct.mean())
        assert m["eval/heldout/code_rate"] == pytest.approx(records.is_code.mean())
        assert m["eval/heldout/num_problems"] == 200
    for m in metrics[1:]:
        assert METRIC_KEYS <= set(m), METRIC_KEYS - set(m)
        assert 0 <= m["train/accuracy"] <= 1 and m["actor/ratio_max"] >= 1 - 1e-6

    for step in (1, 2):
        rollouts = pd.read_parquet(run / "rollouts" / f"step_{step}.parquet")
        assert list(rollouts.columns) == list(ROLLOUT_COLUMNS)
        assert len(rollouts) == 8 * 8 and rollouts.prompt_id.nunique() <= 8 and set(rollouts["sample"]) == set(range(8))
        # the reward is ground truth here: reward and correctness agree, and advantages sum to 0 per group
        assert (rollouts.reward == rollouts.correct.astype(float)).all()
        assert rollouts.groupby("prompt_id").advantage.sum().abs().max() < 1e-4
        assert (rollouts.is_code == rollouts.response.str.lower().str.contains("python")).all()
        logged = read_metrics(run)[step]
        assert logged["train/accuracy"] == pytest.approx(rollouts.correct.mean())
        assert logged["train/code_rate"] == pytest.approx(rollouts.is_code.mean())

    # checkpoints: complete, loadable, no staging left behind, and the policy moved
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_1", "step_2"]
    from rlvr.models import load_causal_lm, load_tokenizer

    trained = load_causal_lm(str(run / "checkpoints" / "step_2"))
    start = load_causal_lm(str(tiny_path))
    # ids = 3 special tokens + index in string.printable: "1" -> 4, " " -> 97, "+" -> 75, "2" -> 5
    assert load_tokenizer(str(run / "checkpoints" / "step_2")).encode("1 + 2") == [4, 97, 75, 97, 5]
    moved = max((a - b).abs().max().item() for a, b in zip(trained.parameters(), start.parameters()))
    assert moved > 0


def test_invalid_config_fails_before_any_model_loads(train_cmd):
    cmd, _ = train_cmd
    result = run_module(cmd + ["algorithm.group_size=1"], check=False, timeout=120)
    assert result.returncode != 0
    assert "algorithm.group_size=1 must be >= 2" in result.stderr
    assert "Loading weights" not in result.stderr + result.stdout


def test_local_multirun_sweep(train_cmd):
    cmd, root = train_cmd
    run_module(cmd[:3] + ["-m"] + cmd[3:] + ["reward=ground_truth,random", "trainer.total_steps=1", "trainer.log_rollouts_every=0"])
    runs = run_dirs(root)
    assert sorted(yaml.safe_load((r / "config.yaml").read_text())["reward"]["name"] for r in runs) == ["ground_truth", "random"]
    assert all(len(read_metrics(r)) == 2 for r in runs)
    # whatever the training reward, ground-truth accuracy and code rate are logged
    assert all({"train/accuracy", "train/code_rate"} <= set(read_metrics(r)[1]) for r in runs)


def test_a_model_loads_from_a_local_path(train_cmd, tiny_path):
    """A real model is a hub name or a directory; here the warm-started tiny model's directory."""
    cmd, root = train_cmd
    run_module(cmd + ["model.tiny=null", f"model.name_or_path={tiny_path}", "model.name=local", "trainer.total_steps=1"])
    [run] = run_dirs(root)
    assert json.loads((run / "meta.json").read_text())["model_path"] == str(tiny_path)


def test_default_run_lifts_heldout_accuracy(train_cmd):
    """The README's main job, unchanged: GRPO on the warm-started tiny model must visibly help."""
    cmd, root = train_cmd
    result = run_module(cmd, timeout=900)
    [run] = run_dirs(root)
    metrics = read_metrics(run)
    start, end = metrics[0]["eval/heldout/accuracy"], metrics[-1]["eval/heldout/accuracy"]
    assert 0.2 < start < 0.9  # signal for GRPO: neither all wrong nor all right
    assert end >= start + 0.05, (start, end)  # 200 held-out problems: 0.05 is 10 more solved
    printed = result.stdout + result.stderr
    assert f"at start: heldout accuracy {start:.3f}" in printed and f"after 40 steps: heldout accuracy {end:.3f}" in printed


def test_two_processes_split_rollouts_and_end_with_identical_weights(tmp_path, default_cfg):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "rlvr.train"]
    run_module(cmd + [f"paths.output_root={tmp_path}", "trainer.total_steps=2"], timeout=900)
    [run] = run_dirs(tmp_path)  # both ranks write into rank 0's directory
    assert json.loads((run / "meta.json").read_text())["world_size"] == 2
    final = read_metrics(run)[-1]
    assert final["dist/replicas_identical"] == 1.0
    rollouts = pd.read_parquet(run / "rollouts" / "step_2.parquet")
    # the two ranks together sampled exactly the step's prompts a single process would have
    from hydra.utils import instantiate

    from rlvr.data import PromptSampler

    train = instantiate(default_cfg.data).train
    expected = [train[i].id for i in PromptSampler(len(train), 8, default_cfg.seed).indices(2)]
    assert len(rollouts) == 64 and sorted(rollouts.prompt_id.unique()) == sorted(set(expected))
    counts = rollouts.groupby("prompt_id").size().to_dict()
    assert counts == {pid: 8 * expected.count(pid) for pid in set(expected)}
