"""analysis.load: run directories of both kinds into keyed frames; half-written or damaged runs are reported, not mixed in."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest

import analysis.load as load_module
from analysis.load import find_runs, grader_versions, grader_warning, load_runs
from fake_runs import record, train_config, write_eval_run, write_train_run


def metrics(steps, accuracy):
    return [{"step": s, "eval/math500/accuracy": a, "train/reward_mean": 0.5} for s, a in zip(steps, accuracy)]


def test_runs_of_both_kinds_are_keyed_by_their_own_config(tmp_path):
    write_train_run(tmp_path / "sweepA" / "0_run", train_config(reward="random", gamma=0.3, seed=2, experiment="fig10"),
                    metrics([0, 1, 2], [0.5, 0.6, 0.7]),
                    {0: [record("math500", "p1", False)], 2: [record("math500", "p1", True, is_code=True)]})  # fmt: skip
    write_eval_run(tmp_path / "evals" / "x", "qwen2.5_7b", "python_prefix",
                   [record("math500", "p1", True, prompt="python_prefix")], experiment="table3")  # fmt: skip
    data = load_runs(tmp_path, progress=False)
    assert not data.skipped
    train, evaluation = data.runs.sort_values("kind", ascending=False).to_dict("records")
    assert (train["run_id"], train["reward"], train["gamma"], train["seed"], train["experiment"]) == ("sweepA/0_run", "random", 0.3, 2, "fig10")
    assert (train["last_step"], train["total_steps"]) == (2, 2)
    assert (evaluation["kind"], evaluation["model"], evaluation["prompt"], evaluation["experiment"]) == ("eval", "qwen2.5_7b", "python_prefix", "table3")
    assert data.metrics["eval/math500/accuracy"].tolist() == [0.5, 0.6, 0.7] and set(data.metrics.run_id) == {"sweepA/0_run"}
    assert sorted(zip(data.evals.run_id, data.evals.step, data.evals.correct)) == [
        ("evals/x", 0, True), ("sweepA/0_run", 0, False), ("sweepA/0_run", 2, True)]  # fmt: skip
    assert data.select("evals", model="qwen2.5_7b").prompt.tolist() == ["python_prefix"]


def test_an_evaluated_checkpoint_carries_its_training_step(tmp_path):
    write_eval_run(tmp_path / "e", "tiny", "default", [record("heldout", "p", True)], checkpoint="runs/r/checkpoints/step_40")
    assert load_runs(tmp_path, progress=False).evals.step.tolist() == [40]


def test_half_written_and_damaged_runs_are_reported_and_left_out(tmp_path):
    good = write_train_run(tmp_path / "good", train_config(), metrics([0, 1, 2], [0.5, 0.6, 0.7]))
    write_train_run(tmp_path / "running", train_config(total_steps=300), metrics([0, 1], [0.5, 0.6]))
    no_meta = write_train_run(tmp_path / "no_meta", train_config(), metrics([0, 1, 2], [0.5, 0.6, 0.7]))
    (no_meta / "meta.json").unlink()
    torn = write_train_run(tmp_path / "torn", train_config(), metrics([0, 1, 2], [0.5, 0.6, 0.7]))
    with open(torn / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "eval/math5')  # killed mid-write
    broken = write_train_run(tmp_path / "broken_parquet", train_config(), metrics([0, 1, 2], [0.5, 0.6, 0.7]),
                             {0: [record("math500", "p1", True)]})  # fmt: skip
    (broken / "eval" / "step_0.parquet").write_bytes(b"PAR1 not really")
    unfinished_eval = write_eval_run(tmp_path / "eval_killed", "tiny", "default", [record("heldout", "p", True)])
    (unfinished_eval / "samples.parquet").unlink()

    data = load_runs(tmp_path, progress=False)
    assert data.runs.run_id.tolist() == ["good"]
    reasons = {path.name: why for path, why in data.skipped}
    assert set(reasons) == {"running", "no_meta", "torn", "broken_parquet", "eval_killed"}
    assert "stops at step 1 of 300" in reasons["running"]
    assert "meta.json is missing" in reasons["no_meta"]
    assert "metrics.jsonl:4: not JSON" in reasons["torn"]
    assert "step_0.parquet: unreadable parquet" in reasons["broken_parquet"]
    assert "samples.parquet is missing" in reasons["eval_killed"]
    assert set(data.metrics.run_id) == {"good"} and good.name == "good"


def test_run_folders_are_not_searched_for_more_runs(tmp_path):
    run = write_train_run(tmp_path / "r", train_config(), metrics([0, 1, 2], [0.5, 0.6, 0.7]))
    (run / "checkpoints" / "step_2").mkdir(parents=True)
    (run / "checkpoints" / "step_2" / "config.yaml").write_text("model_type: qwen2\n")
    assert find_runs(tmp_path) == [run]
    with pytest.raises(FileNotFoundError, match="no runs root"):
        find_runs(tmp_path / "nowhere")


def test_doctests():
    assert doctest.testmod(load_module).failed == 0


def test_rollouts_are_read_on_demand_with_the_runs_keys(tmp_path):
    run = write_train_run(tmp_path / "r", train_config(reward="format"), metrics([0, 1, 2], [0.5, 0.6, 0.7]))
    (run / "rollouts").mkdir()
    for step in (1, 2):
        rows = [{"step": step, "prompt_id": "p", "sample": i, "prompt": "Q", "response": "A", "answer": "1", "reward": 1.0,
                 "correct": i == 0, "advantage": 0.0, "response_tokens": 5, "finished": True, "is_code": False} for i in range(2)]  # fmt: skip
        pd.DataFrame(rows).to_parquet(run / "rollouts" / f"step_{step}.parquet")
    data = load_runs(tmp_path, progress=False)
    rollouts = data.rollouts(reward="format")
    assert len(rollouts) == 4 and "response" not in rollouts and set(rollouts.reward) == {"format"}
    assert rollouts.reward_value.tolist() == [1.0] * 4
    assert rollouts.groupby("step").correct.sum().tolist() == [1, 1]
    assert "response" in data.rollouts(columns=None) and data.rollouts(reward="random").empty


def test_grader_version_is_read_into_the_runs_frame(tmp_path):
    write_train_run(tmp_path / "new", train_config(), metrics([0, 1, 2], [0.5, 0.6, 0.7]), grader_version="2")
    write_train_run(tmp_path / "old", train_config(seed=1), metrics([0, 1, 2], [0.5, 0.6, 0.7]))  # before the field
    write_eval_run(tmp_path / "e_new", "tiny", "default", [record("heldout", "p", True)], grader_version="2")
    summary_only = write_eval_run(tmp_path / "e_summary", "tiny", "default", [record("heldout", "p", True)],
                                  grader_version="3")  # fmt: skip
    (summary_only / "meta.json").unlink()  # the version is read from summary.json too
    write_eval_run(tmp_path / "e_old", "tiny", "default", [record("heldout", "p", True)])
    killed = write_eval_run(tmp_path / "e_killed", "tiny", "default", [record("heldout", "p", True)], grader_version="2")
    (killed / "summary.json").unlink()
    (killed / "samples.parquet").unlink()  # only its meta.json was written: an evaluation that did not finish

    data = load_runs(tmp_path, progress=False)
    versions = {run: (None if pd.isna(v) else v) for run, v in zip(data.runs.run_id, data.runs.grader_version)}
    assert versions == {"new": "2", "old": None, "e_new": "2", "e_summary": "3", "e_old": None}
    assert grader_versions(data.runs) == {"2": 2, "3": 1}
    assert [(path.name, why) for path, why in data.skipped] == [
        ("e_killed", "summary.json is missing (an evaluation that did not finish?)")]  # fmt: skip


def test_grader_warning_names_each_version_and_its_runs():
    runs = pd.DataFrame({"run_id": list("abcde"), "grader_version": ["1", "2", "2", None, "2"]})
    assert grader_warning(runs.iloc[[0, 3]]) is None and grader_warning(runs.iloc[[1, 2, 3]]) is None
    warning = grader_warning(runs)
    assert "different grader versions" in warning and "1 (1 run), 2 (3 runs); 1 run does not say" in warning
    assert grader_warning(runs.drop(columns="grader_version")) is None  # a frame from before the column
