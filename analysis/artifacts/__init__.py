"""One module per paper artifact (figure or table), all in one registry.

An artifact is a function ``build(data: RunData, out: Path) -> Built`` registered with
``@artifact("fig1", "MATH-500 gain per reward and model")``. It selects the runs it needs from ``data``
by their config keys (never by folder names), writes its files under ``out`` (PNG + PDF figures via
``save_figure``, CSV + markdown tables via ``save_table``) and returns them. When the runs it needs are
not there it raises ``MissingRuns`` saying which runs would make it, and the command reports that. It
adds the ``run_id`` of every run its numbers come from to ``Built.runs`` (``save_curves`` does it for curve
figures), so that ``build`` can warn when those runs were graded by different grader versions
(``analysis.load.grader_warning``); an artifact that names none is checked against every run loaded.

Shared code lives outside this package: names, orders and colours in ``analysis.names``, training curves
and gains in ``analysis.curves``, eval records (before-training records, strategy metrics) in
``analysis.records``; the paper's own numbers in ``analysis.paper``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from analysis.load import RunData, grader_warning
from rlvr.registry import Registry

# The artifact modules, imported for their registrations (order = order of the index page).
MODULES = ("fig1", "fig2_fig3", "fig4", "fig6", "fig7_table2", "table1", "table3", "ablations", "aime", "fig15", "controls", "mechanism")
PAPER_ORDER = ("fig1", "fig2", "fig3", "fig4", "table1", "fig6", "fig7", "table2", "table3",
               "fig8", "fig9", "fig10", "fig11", "fig12", "fig13", "fig14", "fig15", "fig16")  # fmt: skip


class MissingRuns(LookupError):
    """The runs an artifact needs are not in the data; the message names them and how to make them."""


@dataclass
class Built:
    name: str
    title: str
    files: list[Path] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # what the files show, for notebooks and tests
    figures: dict[str, object] = field(default_factory=dict)  # matplotlib figures, for notebooks
    runs: set[str] = field(default_factory=set)  # run_id of each run its numbers come from
    warnings: list[str] = field(default_factory=list)  # what a reader must know (mixed grader versions)


Builder = Callable[[RunData, Path], Built]


class ArtifactRegistry(Registry):
    def names_in_order(self) -> list[str]:
        """The paper's order (``PAPER_ORDER``), then any others by name."""
        rank = {name: i for i, name in enumerate(PAPER_ORDER)}
        return sorted(self._entries, key=lambda name: (rank.get(name, len(rank)), name))


ARTIFACTS: ArtifactRegistry = ArtifactRegistry("artifact")
TITLES: dict[str, str] = {}


def artifact(name: str, title: str) -> Callable[[Builder], Builder]:
    """Register ``build(data, out) -> Built`` under ``name``."""

    def add(fn: Builder) -> Builder:
        TITLES[name] = title
        return ARTIFACTS.register(name)(fn)

    return add


def load_all() -> ArtifactRegistry:
    for module in MODULES:
        try:
            importlib.import_module(f"analysis.artifacts.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"analysis.artifacts.{module}":
                raise
    return ARTIFACTS


def build(name: str, data: RunData, out: str | Path) -> Built:
    """Build one artifact (see ``ARTIFACTS``) into ``out``; raises ``MissingRuns`` when it cannot. Its
    ``warnings`` say when the runs it used (``Built.runs``; all of them when it names none) were graded by
    more than one grader version."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    built = load_all().get(name)(data, out)
    used = data.runs[data.runs["run_id"].isin(built.runs)] if built.runs and "run_id" in data.runs else data.runs
    if warning := grader_warning(used):
        built.warnings.append(warning)
    return built


# --------------------------------------------------------------------------------------------------
# Shared helpers for the artifact modules: the benchmark they report, and how they write files.


def benchmark_for(data: RunData, preferred: str = "math500") -> str:
    """The benchmark an artifact reports: ``preferred`` when the runs evaluated it, else the first one they
    did (the tiny experiments evaluate ``heldout``).

    >>> benchmark_for(RunData(pd.DataFrame(), pd.DataFrame({"eval/heldout/accuracy": [0.5]}), pd.DataFrame()))
    'heldout'
    """
    names = [c.split("/")[1] for c in data.metrics.columns if c.startswith("eval/") and c.endswith("/accuracy")]
    if "benchmark" in data.evals:
        names += data.evals["benchmark"].dropna().unique().tolist()
    if not names:
        raise MissingRuns("no run has evaluation results (eval/<benchmark>/accuracy or eval/*.parquet)")
    return preferred if preferred in names else names[0]


def save_figure(fig, out: Path, name: str) -> list[Path]:
    """``<name>.png`` and ``<name>.pdf`` under ``out``."""
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, bbox_inches="tight", dpi=150)
    return paths


def save_table(table: pd.DataFrame, out: Path, name: str, floatfmt: str = ".3f") -> list[Path]:
    """``<name>.csv`` (full precision) and ``<name>.md`` (rounded, for reading) under ``out``."""
    csv, md = out / f"{name}.csv", out / f"{name}.md"
    table.to_csv(csv, index=False)
    md.write_text(table.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    return [csv, md]
