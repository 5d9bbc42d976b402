"""``python -m rlvr.sweeps``: a sweep's table, read from a multirun directory built by hand (the contract in the
module docstring) with fake sacct/squeue answers; no SLURM needed."""

from __future__ import annotations

import doctest
import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from rlvr import sweeps
from rlvr.sweeps import main, parse_job_states, read_sweep, slurm_states, table_rows

SACCT = "12345_0|COMPLETED\n12345_1|RUNNING\n12345_2|FAILED\n12345_[3-4]|PENDING\n"
TRACEBACK = ["Traceback (most recent call last):"] + [f'  File "rlvr/x.py", line {i}, in f{i}' for i in range(12)] + [
    "omegaconf.errors.ConfigKeyError: Key 'gama' is not in struct"
]


def fake_slurm(sacct: str | None = SACCT, squeue: str | None = None, calls: list | None = None):
    """A ``subprocess.run`` stand-in: each command's stdout, or None for "not installed"."""

    def run(cmd, **kwargs):
        if calls is not None:
            calls.append(cmd)
        out = {"sacct": sacct, "squeue": squeue}[cmd[0]]
        if out is None:
            raise FileNotFoundError(cmd[0])
        return SimpleNamespace(returncode=0, stdout=out, stderr="")

    return run


def write_run(multirun: Path, name: str, overrides: list[str], *, total=None, attempts=(), metrics=(), torn="", done=None):
    run = multirun / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (run / "train.log").write_text("starting\n")
    if total is not None:
        (run / "config.yaml").write_text(yaml.safe_dump({"trainer": {"total_steps": total}, "seed": 0}))
    if attempts:
        attempts = [{"job_id": job_id, "restart": i, "host": "gpu01", "start_time": "2026-11-29T10:00:00+00:00",
                     "resumed_from_step": resumed} for i, (job_id, resumed) in enumerate(attempts)]  # fmt: skip
        (run / "meta.json").write_text(json.dumps({"attempts": attempts}))
    if metrics or torn:
        (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics) + torn)
    if done is not None:
        (run / "done.json").write_text(json.dumps({"step": done, "end_time": "2026-11-29T12:00:00+00:00"}))
    return run


def write_job_record(multirun: Path, num: int, job_id: str, overrides: list[str]):
    (multirun / ".jobs").mkdir(exist_ok=True)
    (multirun / ".jobs" / f"{num}.json").write_text(json.dumps({"job_num": num, "job_id": job_id, "overrides": overrides}))


@pytest.fixture
def sweep(tmp_path) -> Path:
    """Five jobs of ``experiment=fig1 reward=...``: done, running (requeued once, torn last line), failed before
    writing anything but .hydra, and two pending that exist only as launcher records."""
    multirun = tmp_path / "multirun" / "fig1" / "2026-11-29_10-00-00"
    multirun.mkdir(parents=True)
    (multirun / "multirun.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    base = ["experiment=fig1"]
    write_run(multirun, "0_qwen_ground_truth_standard", base + ["reward=ground_truth"], total=4, attempts=[("12345_0", None)],
              metrics=[{"step": 0, "eval/math500/accuracy": 0.2, "eval/amc23/accuracy": 0.1},
                       *({"step": s, "train/reward_mean": s / 10, "train/accuracy": s / 10, "train/code_rate": 0.5}
                         for s in (1, 2, 3, 4)),
                       {"step": 4, "eval/math500/accuracy": 0.35, "eval/amc23/accuracy": 0.15}], done=4)  # fmt: skip
    write_run(multirun, "1_qwen_random_standard", base + ["reward=random"], total=10,
              attempts=[("12345_1", None), ("12345_1", 2)],
              metrics=[{"step": 0, "eval/amc23/accuracy": 0.15},
                       {"step": 1, "train/reward_mean": 0.5, "train/accuracy": 0.25, "train/code_rate": 0.75},
                       {"step": 2, "train/reward_mean": 0.5, "train/accuracy": 0.3, "train/code_rate": 0.7},
                       {"step": 3, "train/reward_mean": 0.625, "train/accuracy": 0.375}],  # no code rate this step
              torn='{"step": 4, "train/reward_mean": 0.9, "train/acc')  # fmt: skip
    write_run(multirun, "2_qwen_format_standard", base + ["reward=format", "reward.gama=1"])
    err = multirun / ".submitit" / "12345_2" / "12345_2_0_log.err"
    err.parent.mkdir(parents=True)
    err.write_text("submitit INFO (2026-11-29) - Starting with JobEnvironment\n" + "\n".join(TRACEBACK) + "\n\n")
    for num, job_id, reward in [(1, "12345_1", "random"), (2, "12345_2", "format"), (3, "12345_3", "incorrect"),
                                (4, "12345_4", "python")]:  # fmt: skip
        write_job_record(multirun, num, job_id, base + [f"reward={reward}"])
    return multirun


def by_job(runs):
    return {r.job_num: r for r in runs}


def test_each_job_gets_its_row(sweep):
    runs = by_job(read_sweep(sweep, run=fake_slurm()))
    assert sorted(runs) == [0, 1, 2, 3, 4]
    done, running, failed, pending = runs[0], runs[1], runs[2], runs[3]
    assert (done.state, done.attempts, done.step, done.total_steps) == ("DONE", 1, 4, 4)
    assert done.latest == {"train/reward_mean": 0.4, "train/accuracy": 0.4, "train/code_rate": 0.5}
    assert (done.eval_benchmark, done.eval_accuracy) == ("math500", 0.35)  # the latest math500, not amc23
    # Two starts; the torn step-4 line is left out, so the last step is 3 and code rate comes from step 2.
    assert (running.job_id, running.state, running.attempts, running.step, running.total_steps) == ("12345_1", "RUNNING", 2, 3, 10)
    assert running.latest == {"train/reward_mean": 0.625, "train/accuracy": 0.375, "train/code_rate": 0.7}
    assert (running.eval_benchmark, running.eval_accuracy) == ("amc23", 0.15)  # no math500: the first benchmark
    # .hydra/overrides.yaml is what the job ran with; the launcher record only fills in when it is missing
    assert failed.overrides == ("experiment=fig1", "reward=format", "reward.gama=1")
    assert (failed.state, failed.attempts, failed.step) == ("FAILED", None, None)
    assert (pending.path, pending.overrides, pending.state) == (None, ("experiment=fig1", "reward=incorrect"), "PENDING")
    assert runs[4].state == "PENDING"  # the other task of the array range 12345_[3-4]


def test_table_cells_and_summary(sweep):
    runs = read_sweep(sweep, run=fake_slurm())
    rows = table_rows(runs)
    # experiment=fig1 is on every run: printed once above the table, not in the overrides column
    assert rows[0] == ("0", "reward=ground_truth", "12345_0", "DONE", "1", "4/4", "0.400", "0.400", "0.500", "0.350")
    assert rows[1] == ("1", "reward=random", "12345_1", "RUNNING", "2", "3/10", "0.625", "0.375", "0.700", "0.150 (amc23)")
    assert rows[2] == ("2", "reward=format reward.gama=1", "12345_2", "FAILED", "-", "-", "-", "-", "-", "-")
    assert rows[3] == ("3", "reward=incorrect", "12345_3", "PENDING", "-", "-", "-", "-", "-", "-")
    assert sweeps.summary_line(runs) == "5 runs: 1 done, 1 running, 2 pending, 1 failed"


def test_a_failed_job_shows_the_tail_of_its_error_log(sweep):
    failed = by_job(read_sweep(sweep, run=fake_slurm()))[2]
    assert failed.error_log == sweep / ".submitit" / "12345_2" / "12345_2_0_log.err"
    assert list(failed.error_tail) == TRACEBACK[-10:]  # the last 10 non-blank lines, ending with the error
    text = io.StringIO()
    assert main([str(sweep)], run=fake_slurm(), out=text) == 0
    output = text.getvalue()
    assert "job 2 FAILED (.submitit/12345_2/12345_2_0_log.err):" in output
    assert output.rstrip().endswith("ConfigKeyError: Key 'gama' is not in struct")
    assert "every run: experiment=fig1" in output and "5 runs: 1 done, 1 running, 2 pending, 1 failed" in output


def test_parse_job_states_expands_array_ranges():
    assert parse_job_states("12345_[1-3]|PENDING\n12345_0|CANCELLED by 0\n") == {
        "12345_1": "PENDING", "12345_2": "PENDING", "12345_3": "PENDING", "12345_0": "CANCELLED"}  # fmt: skip
    assert doctest.testmod(sweeps).failed == 0


def test_squeue_answers_when_there_is_no_accounting():
    calls = []
    run = fake_slurm(sacct=None, squeue="12345_1 RUNNING\n12345_[3-4] PENDING\n99999_0 RUNNING\n", calls=calls)
    states = slurm_states(["12345_0", "12345_1", "12345_3"], run=run)
    # 12345_0 left the queue: without accounting we cannot say how, only that it ended
    assert states == {"12345_0": "ENDED", "12345_1": "RUNNING", "12345_3": "PENDING"}
    assert calls[0][:3] == ["sacct", "-j", "12345_0,12345_1,12345_3"] and calls[1][0] == "squeue"


def test_without_slurm_states_come_from_the_files(sweep):
    runs = by_job(read_sweep(sweep, run=fake_slurm(sacct=None, squeue=None)))
    assert [runs[n].state for n in range(5)] == ["DONE", "UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN"]
    assert sweeps.summary_line(list(runs.values())) == "5 runs: 1 done, 0 running, 0 pending, 0 failed, 4 unknown"


def test_a_local_sweep_without_launcher_files(tmp_path):
    (tmp_path / "multirun.yaml").write_text("{}\n")
    write_run(tmp_path, "0_tiny_ground_truth_standard", ["seed=0"], total=2, attempts=[(None, None)],
              metrics=[{"step": 1, "train/accuracy": 0.5}], done=None)  # fmt: skip
    calls = []
    [run] = read_sweep(tmp_path, run=fake_slurm(calls=calls))
    assert (run.job_id, run.state, run.step, run.total_steps, run.overrides) == (None, "UNKNOWN", 1, 2, ("seed=0",))
    assert calls == []  # no job ids: SLURM is not asked


def test_watch_refreshes_until_every_job_is_done_or_failed(sweep):
    answers = iter([SACCT, SACCT.replace("12345_1|RUNNING", "12345_1|COMPLETED"), "12345_1|COMPLETED\n12345_2|FAILED\n"
                    "12345_0|COMPLETED\n12345_3|TIMEOUT\n12345_4|CANCELLED by 0\n"])  # fmt: skip
    sleeps = []

    def run(cmd, **kwargs):
        return SimpleNamespace(returncode=0, stdout=current["sacct"], stderr="")

    def sleep(seconds):
        sleeps.append(seconds)
        current["sacct"] = next(answers)

    current = {"sacct": next(answers)}
    text = io.StringIO()
    assert main([str(sweep), "--watch", "5"], run=run, sleep=sleep, out=text) == 0
    assert sleeps == [5.0, 5.0]  # three tables: the third has nothing left running or pending
    assert text.getvalue().count("5 runs:") == 3
    assert text.getvalue().rstrip().count("5 runs: 2 done, 0 running, 0 pending, 3 failed") == 1


def test_watch_with_no_seconds_means_every_minute(sweep):
    for argv in ([str(sweep), "--watch"], ["--watch", str(sweep)]):
        args = sweeps.parse_args(argv)
        assert (args.multirun_dir, args.watch) == (sweep, 60.0)


def test_a_directory_that_is_not_a_multirun_dir_is_refused_by_name(sweep, capsys):
    parent = sweep.parent  # outputs/multirun/fig1: the user forgot the date folder
    assert main([str(parent)], run=fake_slurm()) == 2
    err = capsys.readouterr().err
    assert f"{parent} is not a multirun directory (it has no multirun.yaml)" in err
    assert f"the newest sweep below it is {sweep}" in err
    assert main([str(parent / "nowhere")], run=fake_slurm()) == 2
    assert main([str(sweep), "--watch", "0"], run=fake_slurm()) == 2  # argparse explains a bad --watch


def test_the_command_starts_without_torch(sweep):
    """Checked every morning from a login node: it must not pay for importing torch."""
    code = f"import sys, rlvr.sweeps as s; s.main([{str(sweep)!r}]); assert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "5 runs:" in result.stdout
