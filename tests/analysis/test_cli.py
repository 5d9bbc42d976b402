"""python -m analysis: everything the runs support, an index page, and what is missing and why."""

from __future__ import annotations

import subprocess
import sys

from analysis.__main__ import main
from analysis.artifacts import TITLES, load_all
from conftest import REPO
from fake_runs import record, train_config, write_train_run

PAPER_ARTIFACTS = {"fig1", "fig2", "fig3", "fig6", "fig7", "table1", "table2", "table3",
                   "fig4", "fig8", "fig9", "fig10", "fig11", "fig12", "fig13", "fig14", "fig15", "fig16"}  # fmt: skip


def fig1_runs(root):
    """Qwen2.5-Math-7B with two rewards, evaluated on MATH-500 at steps 0 and 2; and one unfinished run."""
    for reward, end in (("ground_truth", 0.8), ("random", 0.7)):
        metrics = [{"step": s, "eval/math500/accuracy": a, "eval/math500/code_rate": 0.6} for s, a in ((0, 0.5), (1, 0.6), (2, end))]
        evals = {s: [record("math500", f"p{i}", i < 10 * a, is_code=i < 6) for i in range(10)] for s, a in ((0, 0.5), (2, end))}
        write_train_run(root / f"run_{reward}", train_config(reward=reward), metrics, evals)
    write_train_run(root / "still_running", train_config(total_steps=300), [{"step": 0, "eval/math500/accuracy": 0.5}])


def test_every_paper_artifact_is_registered_with_a_title():
    assert PAPER_ARTIFACTS <= set(load_all().names())
    assert all(TITLES[name] for name in PAPER_ARTIFACTS)


def test_the_command_builds_what_the_runs_support_and_says_what_is_missing(tmp_path, capsys):
    fig1_runs(tmp_path / "runs")
    out = tmp_path / "out"
    assert main([str(tmp_path / "runs"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    index = (out / "index.md").read_text()
    assert "2 runs read, 1 left out" in index and "still_running" in index and "stops at step 0 of 300" in index
    for name in ("fig1", "fig2", "table1", "fig7"):  # supported by two rewards on one model
        assert f"## {name}:" in index and (out / name / f"{name}.png").stat().st_size > 0, name
    for name in ("fig8", "fig10", "table3"):  # not supported: said so, with the command that makes the runs
        assert f"{name}: " in printed and "Not built" in index.split(f"## {name}:")[1].split("##")[0]


def test_analysis_imports_no_training_stack():
    code = "import analysis, analysis.artifacts as a, sys; a.load_all(); print(sorted({'torch', 'transformers', 'deepspeed'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def graded_runs(root, versions):
    """fig1's runs (Qwen2.5-Math-7B, MATH-500 at steps 0 and 2), one per (reward, grader version or None)."""
    for reward, version in versions:
        metrics = [{"step": s, "eval/math500/accuracy": a} for s, a in ((0, 0.5), (1, 0.6), (2, 0.7))]
        write_train_run(root / f"run_{reward}", train_config(reward=reward), metrics, grader_version=version)


def test_runs_graded_by_different_grader_versions_are_said_loudly(tmp_path, capsys):
    graded_runs(tmp_path / "runs", [("ground_truth", "1"), ("random", "2"), ("format", "2"), ("incorrect", None)])
    out = tmp_path / "out"
    assert main([str(tmp_path / "runs"), "--out", str(out), "--only", "fig1,fig8"]) == 0
    printed = capsys.readouterr().out
    index = (out / "index.md").read_text()
    said = "runs graded by different grader versions are pooled: 1 (1 run), 2 (2 runs); 1 run does not say"
    assert f"WARNING: {said}" in printed and f"WARNING fig1: {said}" in printed  # the whole load, and fig1's runs
    head, fig1 = index.split("## fig1:")[0], index.split("## fig1:")[1].split("##")[0]
    assert f"**Warning:** {said}" in head and f"**Warning:** {said}" in fig1
    assert "grader_version" in index.split("## Runs")[1]  # and the runs table gives each run's version


def test_only_the_runs_an_artifact_uses_decide_its_warning(tmp_path, capsys):
    # fig1's runs are all graded by version 1; a run fig1 does not use (reward=python, fig8's) by version 2.
    graded_runs(tmp_path / "runs", [("ground_truth", "1"), ("random", "1"), ("python", "2")])
    out = tmp_path / "out"
    assert main([str(tmp_path / "runs"), "--out", str(out), "--only", "fig1,fig8"]) == 0
    printed = capsys.readouterr().out
    index = (out / "index.md").read_text()
    assert "WARNING: runs graded by different grader versions are pooled: 1 (2 runs), 2 (1 run)" in printed
    assert "WARNING fig1" not in printed and "WARNING fig8" not in printed
    assert "Warning" not in index.split("## fig1:")[1] and "Warning" in index.split("## fig1:")[0]


def test_runs_of_one_grader_version_raise_no_warning(tmp_path, capsys):
    graded_runs(tmp_path / "runs", [("ground_truth", "1"), ("random", "1"), ("format", None)])
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--only", "fig1"]) == 0
    assert "WARNING" not in capsys.readouterr().out and "Warning" not in (tmp_path / "out" / "index.md").read_text()
