"""The notebooks execute (nbclient) against runs made by the tiny experiments (the ``tiny_runs`` fixture of
tests/analysis/conftest.py), and show what analysis builds."""

from __future__ import annotations

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook_per_figure_family():
    assert [p.stem for p in NOTEBOOKS] == ["01_rewards_across_models", "02_code_reasoning", "03_ablations",
                                           "04_weak_supervision_and_aime", "05_mechanism_and_controls"]  # fmt: skip


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
    elif path.stem == "04_weak_supervision_and_aime":  # the TTRL run makes fig4 (two figures); no AIME, no compound
        assert len(images) == 2 and text.count("not built") == 3
    elif path.stem == "05_mechanism_and_controls":  # no tiny_mechanism runs; the tiny fig1 sweep's make controls
        assert len(images) == 1 and text.count("not built") == 1
    else:
        assert images, f"{path.name} showed no figure"
