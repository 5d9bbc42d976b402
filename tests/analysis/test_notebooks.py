"""The notebooks execute (nbclient) against runs made by the tiny experiments, and show what analysis builds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import REPO, run_module

pytestmark = pytest.mark.slow
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> Path:
    """Two-step tiny runs of fig1's sweep (two rewards) and the tiny Table 3 evaluation, as a user makes them."""
    root = tmp_path_factory.mktemp("runs")
    run_module([sys.executable, "-m", "rlvr.train", "-m", "experiment=tiny_fig1", "reward=ground_truth,random",
                "trainer.total_steps=2", "eval.every_steps=1", f"paths.output_root={root}"], timeout=900)  # fmt: skip
    run_module([sys.executable, "-m", "rlvr.evaluate", "-m", "experiment=tiny_table3", f"paths.output_root={root}"])
    return root


def test_there_is_a_notebook_per_figure_family():
    assert [p.stem for p in NOTEBOOKS] == ["01_rewards_across_models", "02_code_reasoning", "03_ablations"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_against_tiny_runs(path, tiny_runs, monkeypatch, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("RLVR_RUNS", str(tiny_runs))
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel runs outside the repository (see workdir)
    notebook = nbformat.read(path, as_version=4)
    code = "".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "def " not in code and "class " not in code, "notebooks hold no logic of their own"
    workdir = tmp_path / "notebooks"  # artifacts are written beside the notebook: keep them out of the repository
    workdir.mkdir()
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.output_type == "error"]
    text = " ".join(str(out.get("data", {}).get("text/markdown", "")) + str(out.get("text", "")) for out in outputs)
    assert "runs from" in text and "0 left out" in text
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    if path.stem == "03_ablations":  # the tiny fig1 sweep supports none of these: each says what it needs
        assert not images and text.count("not built") == 6
    else:
        assert images, f"{path.name} showed no figure"
