"""Resume: a run killed with SIGKILL and started again in its run directory ends exactly where an
uninterrupted run of the same seed ends (every metric but perf/*, the rollouts, the final weights), for one
and two processes; and the checks that refuse to continue another run.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO
from rlvr.train import resume
from rlvr.train.resume import ResumeError, differing_keys, resume_point, trim_to

# Six steps, a checkpoint every two, an evaluation every three, on 16 held-out problems: a kill after step 3
# resumes from step 2 and redoes step 3 (and its evaluation).
RUN = ["trainer.total_steps=6", "trainer.checkpoint_every=2", "eval.every_steps=3", "data.heldout_size=16"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def command(run_dir: Path, processes: int) -> list[str]:
    launcher = TORCHRUN if processes == 2 else [sys.executable]
    return [*launcher, "-m", "rlvr.train", f"hydra.run.dir={run_dir}", *RUN]


def train(run_dir: Path, processes: int, *, kill_after_step: int | None = None) -> subprocess.CompletedProcess | None:
    """Run to the end, or SIGKILL the whole process group once ``kill_after_step`` is in metrics.jsonl."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if kill_after_step is None:
        return subprocess.run(command(run_dir, processes), cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=900, check=True)  # fmt: skip
    process = subprocess.Popen(command(run_dir, processes), cwd=REPO, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 600
    while steps_logged(run_dir)[-1:] < [kill_after_step]:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    kill_tree(process.pid)
    process.wait()
    return None


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants: torchrun starts its workers in sessions of their own, so
    killing its process group would leave them running (and writing)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def steps_logged(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    steps = []
    for line in path.read_text().splitlines():
        try:
            steps.append(json.loads(line)["step"])
        except json.JSONDecodeError:  # a line being written
            pass
    return steps


def rows_without_perf(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.startswith("perf/")} for row in rows]


def weights_hash(checkpoint: Path) -> str:
    from safetensors.torch import load_file

    tensors = load_file(checkpoint / "model.safetensors")
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode() + tensors[name].numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_a_killed_run_resumes_to_exactly_the_uninterrupted_run(tmp_path, processes):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    train(whole, processes)
    train(killed, processes, kill_after_step=3)
    assert (killed / "checkpoints" / "latest").read_text().strip() in {"2", "4"}  # the kill came after step 3
    train(killed, processes)

    assert rows_without_perf(killed) == rows_without_perf(whole)  # every row once, every value equal
    assert [row["step"] for row in rows_without_perf(killed)] == list(range(7))
    final = "checkpoints/step_6"
    assert weights_hash(killed / final) == weights_hash(whole / final)
    for folder in ("rollouts", "eval"):
        names = sorted(p.name for p in (whole / folder).glob("*.parquet"))
        assert names == sorted(p.name for p in (killed / folder).glob("*.parquet"))
        for name in names:
            pd.testing.assert_frame_equal(pd.read_parquet(whole / folder / name), pd.read_parquet(killed / folder / name))
    attempts = json.loads((killed / "meta.json").read_text())["attempts"]
    assert [a["restart"] for a in attempts] == [0, 1] and attempts[0]["resumed_from_step"] is None
    assert attempts[1]["resumed_from_step"] in {2, 4}
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == ["latest", "step_2", "step_4", "step_6"]
    # only the last keep_last=2 checkpoints keep their full state; every one keeps its HF weights
    assert [(killed / "checkpoints" / f"step_{s}" / "deepspeed").is_dir() for s in (2, 4, 6)] == [False, True, True]
    assert all((killed / "checkpoints" / f"step_{s}" / "model.safetensors").is_file() for s in (2, 4, 6))

    if processes == 1:  # a finished run started again returns at once, writing nothing
        before = (killed / "metrics.jsonl").read_text()
        result = train(killed, processes)
        assert "finished at step 6" in result.stdout + result.stderr and (killed / "metrics.jsonl").read_text() == before


# ------------------------------------------------------------------------------------ without training
def fake_run(tmp_path: Path, *, checkpoint_step: int | None, world_size: int = 1, config: dict | None = None) -> Path:
    """A run directory as the trainer leaves it after a crash: rows up to step 5 and a torn line."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(config or {"seed": 0, "paths": {"output_root": "x"}}))
    (run / "meta.json").write_text(json.dumps({"attempts": [{"restart": 0}]}))
    rows = "".join(json.dumps({"step": s, "train/accuracy": s / 10}) + "\n" for s in range(6))
    (run / "metrics.jsonl").write_text(rows + '{"step": 6, "train/acc')
    for folder in ("rollouts", "eval"):
        (run / folder).mkdir()
        for s in range(1, 6):
            (run / folder / f"step_{s}.parquet").write_bytes(b"")
    (run / "checkpoints" / ".tmp_step_6").mkdir()
    for s in (2, 4):
        (run / "checkpoints" / f"step_{s}").mkdir()
        (run / "checkpoints" / f"step_{s}" / "trainer_state.json").write_text(json.dumps({"world_size": world_size}))
    if checkpoint_step is not None:
        (run / "checkpoints" / "latest").write_text(f"{checkpoint_step}\n")
    return run


def test_logs_are_cut_back_to_the_checkpoint(tmp_path):
    run = fake_run(tmp_path, checkpoint_step=2)
    trim_to(run, 2)
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [0, 1, 2]
    for folder in ("rollouts", "eval"):
        assert sorted(p.name for p in (run / folder).iterdir()) == ["step_1.parquet", "step_2.parquet"]
    # the staging folder of an interrupted save, and a checkpoint moved into place but never pointed at, go
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_2"]


def test_a_run_without_a_checkpoint_starts_over(tmp_path):
    run = fake_run(tmp_path, checkpoint_step=None)
    assert resume_point(run, (run / "config.yaml").read_text(), 1, "auto") is None
    trim_to(run, None)
    assert (run / "metrics.jsonl").read_text() == "" and not list((run / "eval").iterdir())


def test_resume_policies(tmp_path):
    run = fake_run(tmp_path, checkpoint_step=4)
    config = (run / "config.yaml").read_text()
    assert resume_point(run, config, 1, "auto") == 4 == resume_point(run, config, 1, "must")
    with pytest.raises(ResumeError, match="already holds a run and trainer.resume=never"):
        resume_point(run, config, 1, "never")
    with pytest.raises(ResumeError, match="available: auto, never, must"):
        resume_point(run, config, 1, "sometimes")
    (run / "checkpoints" / "latest").unlink()
    with pytest.raises(ResumeError, match="trainer.resume=must, but .* has no complete checkpoint"):
        resume_point(run, config, 1, "must")
    assert resume_point(tmp_path / "new", config, 1, "never") is None  # a new directory: a fresh run


def test_another_config_or_world_size_is_refused_naming_what_differs(tmp_path):
    run = fake_run(tmp_path, checkpoint_step=4, world_size=2)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    moved = yaml.safe_dump(saved | {"paths": {"output_root": "elsewhere"}})  # where outputs go may change
    with pytest.raises(ResumeError, match=r"written by 2 processes, this run has 1: run it with 2.*universal"):
        resume_point(run, moved, 1, "auto")
    assert resume_point(run, moved, 2, "auto") == 4
    with pytest.raises(ResumeError, match=r"these keys differ: seed\b"):
        resume_point(run, yaml.safe_dump(saved | {"seed": 1}), 2, "auto")


def test_differing_keys_and_the_config_hash_ignore_only_the_changeable_keys():
    a = {"seed": 0, "verbose": False, "trainer": {"resume": "auto", "total_steps": 3}, "paths": {"x": "1"}}
    b = {"seed": 0, "verbose": True, "trainer": {"resume": "must", "total_steps": 4}, "paths": {"x": "2"}}
    assert differing_keys(a, b) == ["trainer.total_steps"]
    assert differing_keys(a, {**a, "extra": 1}) == ["extra"]
    assert resume.config_hash(yaml.safe_dump(a)) == resume.config_hash(yaml.safe_dump({**a, "verbose": True}))
    assert resume.config_hash(yaml.safe_dump(a)) != resume.config_hash(yaml.safe_dump(b))


def test_a_run_started_before_a_key_was_added_continues_at_that_keys_old_meaning():
    """``algorithm.adam_eps`` came after runs were started: at 1e-8 (what Adam used before) a config without it
    is the same run; any other value is another run. A memory chunk never changes results: any value."""
    before = {"seed": 0, "algorithm": {"lr": 1e-6}, "trainer": {"total_steps": 3}}
    now = {"seed": 0, "algorithm": {"lr": 1e-6, "adam_eps": 1e-8}, "trainer": {"total_steps": 3, "logprob_chunk_tokens": 7}}
    assert differing_keys(before, now) == []
    assert resume.config_hash(yaml.safe_dump(before)) == resume.config_hash(yaml.safe_dump(now))
    changed = {**now, "algorithm": {"lr": 1e-6, "adam_eps": 1e-3}}
    assert differing_keys(before, changed) == ["algorithm.adam_eps"]
    assert resume.config_hash(yaml.safe_dump(before)) != resume.config_hash(yaml.safe_dump(changed))


def test_doctests():
    import doctest

    assert doctest.testmod(resume).failed == 0


def test_a_run_directory_in_use_is_refused(tmp_path):
    with resume.exclusive(tmp_path, hold=True):
        with pytest.raises(ResumeError, match=rf"{tmp_path} is being run by pid {os.getpid()} on"):
            with resume.exclusive(tmp_path, hold=True):
                pass
        with resume.exclusive(tmp_path, hold=False):  # the other ranks do not lock
            pass
    with resume.exclusive(tmp_path, hold=True):  # released
        pass
