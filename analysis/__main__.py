"""``python -m analysis <runs root> --out <dir>``: every figure and table the runs support.

    python -m analysis outputs --out figures                 # all runs under outputs/ (sweeps, evaluations)
    python -m analysis outputs/multirun/fig1 --out fig1 --only fig1,fig2

Writes each artifact's PNG/PDF figures and CSV/markdown tables under ``--out``, and ``index.md``: what
was built, from how many runs, and for each artifact that could not be built, which runs it needs.
Runs that are unfinished or damaged are listed there too, with the reason, and left out. When the runs
read (or those one artifact used) were graded by more than one grader version, a warning says so, on
the console and in index.md, with each version's number of runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from analysis.artifacts import TITLES, Built, MissingRuns, build, load_all
from analysis.load import RunData, grader_warning, load_runs


def build_all(data: RunData, out: Path, only: Sequence[str] | None = None, progress: bool = True) -> dict[str, Built | str]:
    """Each artifact's ``Built``, or the reason it could not be built."""
    names = list(only) if only else load_all().names_in_order()
    results: dict[str, Built | str] = {}
    for name in tqdm(names, desc="artifacts", disable=not progress):
        load_all().entry(name)  # an unknown name fails with the known ones
        try:
            results[name] = build(name, data, out / name)
        except MissingRuns as missing:
            results[name] = str(missing)
    return results


def write_index(data: RunData, results: dict[str, Built | str], out: Path, root: Path) -> Path:
    lines = [f"# Artifacts from {root}", "", f"{len(data.runs)} runs read, {len(data.skipped)} left out.", ""]
    if warning := grader_warning(data.runs):
        lines += [f"> **Warning:** {warning}", ""]
    for name, result in results.items():
        lines.append(f"## {name}: {TITLES.get(name, '')}")
        if isinstance(result, Built):
            lines += [f"> **Warning:** {warning}\n" for warning in result.warnings]
            lines += [f"- [{path.name}]({path.relative_to(out)})" for path in result.files]
        else:
            lines.append(f"Not built: {result}")
        lines.append("")
    if len(data.runs):
        lines += ["## Runs", "", data.runs.drop(columns=["path"]).to_markdown(index=False), ""]
    if data.skipped:
        lines += ["## Left out", ""] + [f"- `{path}`: {why}" for path, why in data.skipped] + [""]
    index = out / "index.md"
    index.write_text("\n".join(lines))
    return index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("root", type=Path, help="a folder of run directories (any depth)")
    parser.add_argument("--out", type=Path, required=True, help="where the figures, tables and index.md go")
    parser.add_argument("--only", default=None, help="comma-separated artifact names (default: all)")
    args = parser.parse_args(argv)
    data = load_runs(args.root)
    args.out.mkdir(parents=True, exist_ok=True)
    results = build_all(data, args.out, args.only.split(",") if args.only else None)
    index = write_index(data, results, args.out, args.root)
    built = sum(isinstance(r, Built) for r in results.values())
    print(f"{built} of {len(results)} artifacts built from {len(data.runs)} runs ({len(data.skipped)} left out): {index}")
    if warning := grader_warning(data.runs):
        print(f"WARNING: {warning}")
    for name, result in results.items():
        if not isinstance(result, Built):
            print(f"  {name}: {result}")
        else:
            for warning in result.warnings:
                print(f"  WARNING {name}: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
