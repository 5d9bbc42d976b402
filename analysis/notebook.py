"""What the notebooks call: build an artifact and display it, or say which runs it needs. No analysis here."""

from __future__ import annotations

import io
import os
from pathlib import Path

from analysis.artifacts import Built, MissingRuns, build
from analysis.load import RunData, grader_warning, load_runs


def runs_root() -> Path:
    """The runs the notebooks read: ``$RLVR_RUNS``, else the trainer's output root (``$RLVR_OUTPUTS``, else
    ``outputs/`` of the repository)."""
    default = os.environ.get("RLVR_OUTPUTS", Path(__file__).resolve().parents[1] / "outputs")
    return Path(os.environ.get("RLVR_RUNS", default))


def load(root: str | Path | None = None) -> RunData:
    data = load_runs(runs_root() if root is None else root, progress=False)
    print(f"{len(data.runs)} runs from {runs_root() if root is None else root}; {len(data.skipped)} left out")
    for path, why in data.skipped:
        print(f"  left out {path}: {why}")
    if warning := grader_warning(data.runs):
        print(f"WARNING: {warning}")
    return data


def show(name: str, data: RunData, out: str | Path = "artifacts") -> Built | None:
    """Build ``name`` into ``out/<name>`` and display its figures and tables; print what is missing instead."""
    from IPython.display import Image, Markdown, display

    try:
        built = build(name, data, Path(out) / name)
    except MissingRuns as missing:
        display(Markdown(f"**{name}** not built: {missing}"))
        return None
    display(Markdown(f"### {name}: {built.title}"))
    for warning in built.warnings:
        display(Markdown(f"**Warning:** {warning}"))
    for figure in built.figures.values():
        # As PNG bytes: the figures are backend-free (matplotlib.figure.Figure), which IPython cannot draw itself.
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight", dpi=110)
        display(Image(data=buffer.getvalue()))
    for table in built.tables.values():
        display(table)
    return built
