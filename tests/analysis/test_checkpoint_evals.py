"""analysis.load: an evaluation of a training run's checkpoint (``python -m rlvr.evaluate checkpoints=<dir>``, or
``checkpoint=<run>/checkpoints/step_<n>`` written elsewhere) is a point of that run's curve, not a run of its own."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.load import load_runs
from fake_runs import record, train_config, write_eval_run, write_train_run


def evaluated(path: Path, run: Path, step: int, accuracy: float, records: list[dict], prompt: str = "default",
              time: str = "2026-01-01T00:00:00") -> Path:  # fmt: skip
    """A finished evaluation of ``run``'s checkpoint of ``step``, its summary carrying the metrics as rlvr.evaluate writes them."""
    write_eval_run(path, "qwen2.5_math_7b", prompt, records, checkpoint=str(run / "checkpoints" / f"step_{step}"))
    summary = json.loads((path / "summary.json").read_text())
    summary |= {"time": time, "benchmarks": {"math500": {"metrics": {"accuracy": accuracy, "accuracy_code": None}}}}
    (path / "summary.json").write_text(json.dumps(summary))
    return path


def test_evaluated_checkpoints_are_points_of_their_runs_curve(tmp_path):
    # the trainer evaluated steps 0 and 2 itself (accuracy 0.5, 0.7); checkpoints 1, 2 and 3 were evaluated afterwards
    run = write_train_run(
        tmp_path / "multirun" / "0_run", train_config(reward="random", total_steps=3),
        [{"step": 0, "eval/math500/accuracy": 0.5}, {"step": 1, "train/reward_mean": 0.1},
         {"step": 2, "eval/math500/accuracy": 0.7}, {"step": 3, "train/reward_mean": 0.3}],
        {0: [record("math500", "p1", False)], 2: [record("math500", "p1", True)]},
    )  # fmt: skip
    evals = run / "evals" / "math500_default"
    evaluated(evals / "step_1", run, 1, 0.6, [record("math500", "p1", True), record("math500", "p2", False)])
    evaluated(evals / "step_2", run, 2, 0.1, [record("math500", "p1", False)])  # the trainer's own step 2 wins
    evaluated(run / "evals" / "math500_python_prefix" / "step_1", run, 1, 0.9,
              [record("math500", "p1", True, prompt="python_prefix")], prompt="python_prefix")  # another prompt: records only
    # a quick check (fewer samples) and a later one of step 1: the full one counts
    evaluated(run / "evals" / "math500_default_limit1" / "step_1", run, 1, 0.0, [record("math500", "p1", False)],
              time="2026-02-01T00:00:00")  # fmt: skip
    # written elsewhere (rlvr.evaluate checkpoint=<run>/checkpoints/step_3): found by the checkpoint it names
    evaluated(tmp_path / "evals" / "x", run, 3, 0.8, [record("math500", "p1", True)])

    data = load_runs(tmp_path, progress=False)
    assert not data.skipped
    assert data.runs.run_id.tolist() == ["multirun/0_run"]  # no separate evaluation runs
    metrics = data.metrics.set_index("step")
    assert metrics["eval/math500/accuracy"].to_dict() == {0: 0.5, 1: 0.6, 2: 0.7, 3: 0.8}
    assert metrics["train/reward_mean"].tolist()[1::2] == [0.1, 0.3] and metrics["eval/math500/accuracy_code"].isna().all()
    assert set(data.metrics.reward) == {"random"} and set(data.metrics.run_id) == {"multirun/0_run"}
    rows = data.evals
    assert set(rows.run_id) == {"multirun/0_run"} and set(rows.kind) == {"train"} and set(rows.prompt) == {"default"}
    assert sorted(zip(rows.step, rows.prompt_name, rows.problem_id, rows.correct)) == [
        (0, "default", "p1", False), (1, "default", "p1", True), (1, "default", "p2", False),
        (1, "python_prefix", "p1", True), (2, "default", "p1", True), (3, "default", "p1", True)]  # fmt: skip


def test_half_written_and_damaged_evaluations_of_a_run_are_reported_and_left_out(tmp_path):
    run = write_train_run(tmp_path / "run", train_config(total_steps=2),
                          [{"step": s, "eval/math500/accuracy": 0.5} for s in (0, 1, 2)])  # fmt: skip
    evals = run / "evals" / "math500_default"
    running = evals / "step_1"
    running.mkdir(parents=True)
    (running / "meta.json").write_text("{}")  # still evaluating: summary.json comes last
    broken = evaluated(evals / "step_2", run, 2, 0.9, [record("math500", "p1", True)])
    (broken / "samples.parquet").write_bytes(b"PAR1 not really")
    unnamed = evaluated(evals / "latest", run, 2, 0.9, [record("math500", "p1", True)])
    summary = json.loads((unnamed / "summary.json").read_text()) | {"checkpoint": None}
    (unnamed / "summary.json").write_text(json.dumps(summary))

    data = load_runs(tmp_path, progress=False)
    assert data.runs.run_id.tolist() == ["run"] and data.metrics["eval/math500/accuracy"].tolist() == [0.5, 0.5, 0.5]
    reasons = {path.relative_to(evals).as_posix(): why for path, why in data.skipped}
    assert set(reasons) == {"step_1", "step_2", "latest"}
    assert "summary.json is missing" in reasons["step_1"]
    assert "samples.parquet: unreadable parquet" in reasons["step_2"]
    assert "names no checkpoint" in reasons["latest"]


def test_an_evaluation_of_a_run_not_read_stays_a_run_of_its_own(tmp_path):
    evaluated(tmp_path / "evals" / "x", tmp_path / "elsewhere" / "run", 40, 0.5, [record("math500", "p1", True)])
    data = load_runs(tmp_path, progress=False)
    assert data.runs[["kind", "last_step"]].values.tolist() == [["eval", 40]] and data.evals.step.tolist() == [40]
