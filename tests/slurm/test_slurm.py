"""On a real one-node SLURM cluster (``slurm/local-cluster.sh``, started here; needs root): a tiny sweep through
``hydra/launcher=slurm_cpu`` with two tasks (ranks) per job, a job preempted with SIGUSR2 that is requeued
and resumes to exactly what an uninterrupted run gives, and a broken run that fails its job and is reported
as failed by ``python -m rlvr.sweeps``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, run_module

pytestmark = pytest.mark.slow
TINY = ["data.heldout_size=16", "trainer.log_rollouts_every=0"]


@pytest.fixture(scope="module")
def cluster():
    subprocess.run(["bash", str(REPO / "slurm" / "local-cluster.sh"), "start"], check=True, timeout=900)


def sweep(root: Path, *overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "rlvr.train", "-m", "hydra/launcher=slurm_cpu", f"paths.output_root={root}", *TINY]
    return run_module(cmd + list(overrides), timeout=900, check=check)


def multirun_dir(root: Path) -> Path:
    [path] = root.glob("multirun/*/*")
    return path


def metric_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.startswith("perf/")} for row in rows]


def test_a_sweep_runs_as_a_job_array_with_two_ranks_per_job(cluster, tmp_path):
    sweep(tmp_path, "reward=ground_truth,random", "trainer.total_steps=2")
    sweep_dir = multirun_dir(tmp_path)
    runs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name for p in runs] == ["0_tiny_ground_truth_standard", "1_tiny_random_standard"]
    for number, run in enumerate(runs):
        assert json.loads((run / "done.json").read_text())["step"] == 2
        assert [row["step"] for row in metric_rows(run)] == [0, 1, 2]
        meta = json.loads((run / "meta.json").read_text())
        assert meta["world_size"] == 2  # one rank per task
        [attempt] = meta["attempts"]
        job = json.loads((sweep_dir / ".jobs" / f"{number}.json").read_text())
        assert attempt["job_id"] == job["job_id"] and job["job_id"].endswith(f"_{number}")  # one array, task = job
    assert metric_rows(runs[0])[-1]["dist/replicas_identical"] == 1.0


def test_a_preempted_job_is_requeued_and_resumes_to_the_uninterrupted_run(cluster, tmp_path):
    steps = ["trainer.total_steps=8", "trainer.checkpoint_every=100", "eval.every_steps=4"]
    launcher = subprocess.Popen(
        [sys.executable, "-m", "rlvr.train", "-m", "hydra/launcher=slurm_cpu", f"paths.output_root={tmp_path / 'slurm'}",
         *TINY, *steps], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    run = wait_for_step(tmp_path / "slurm", 3, launcher)
    job_id = json.loads((run.parent / ".jobs" / "0.json").read_text())["job_id"]
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    output, _ = launcher.communicate(timeout=600)
    assert launcher.returncode == 0, output[-3000:]

    reference = tmp_path / "reference"  # the same run, uninterrupted: two processes on this machine
    run_module([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
                "rlvr.train", f"hydra.run.dir={reference}", *TINY, *steps], timeout=900)  # fmt: skip
    assert [p.name for p in run.parent.iterdir() if p.is_dir() and not p.name.startswith(".")] == [run.name]
    assert metric_rows(run) == metric_rows(reference)  # each step once, every value as without the preemption
    attempts = json.loads((run / "meta.json").read_text())["attempts"]
    assert len(attempts) == 2 and attempts[0]["job_id"] == attempts[1]["job_id"] == job_id
    assert 3 <= attempts[1]["resumed_from_step"] < 8  # the checkpoint written at the signal


def wait_for_step(root: Path, step: int, launcher: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert launcher.poll() is None, launcher.stdout.read()[-3000:]
        for metrics in root.glob("multirun/*/*/0_*/metrics.jsonl"):
            lines = [line for line in metrics.read_text().splitlines() if line.endswith("}")]
            if lines and json.loads(lines[-1])["step"] >= step:
                return metrics.parent
        time.sleep(0.2)
    raise AssertionError(f"no run reached step {step}")


def test_a_broken_run_fails_its_job_and_the_sweep_monitor_says_why(cluster, tmp_path):
    result = sweep(tmp_path, "algorithm.group_size=1", check=False)
    assert result.returncode != 0  # the sweep reports the failure, never "completed"
    assert "group_size=1 must be >= 2" in result.stdout + result.stderr
    sweep_dir = multirun_dir(tmp_path)
    job = json.loads((sweep_dir / ".jobs" / "0.json").read_text())["job_id"]
    assert job_state(job) == "FAILED"
    report = run_module([sys.executable, "-m", "rlvr.sweeps", str(sweep_dir)]).stdout
    assert "1 run: 0 done, 0 running, 0 pending, 1 failed" in report and "group_size=1 must be >= 2" in report


def job_state(job_id: str, timeout_s: float = 60) -> str:
    """The job's state once it has ended (the launcher returns when the result is in; SLURM stops the other
    ranks and books the end a few seconds later)."""
    deadline = time.monotonic() + timeout_s
    while True:
        out = subprocess.run(["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State"], capture_output=True, text=True)
        state = out.stdout.strip().split(" ")[0]
        if state not in ("", "PENDING", "RUNNING", "COMPLETING", "REQUEUED") or time.monotonic() > deadline:
            return state
        time.sleep(1)
