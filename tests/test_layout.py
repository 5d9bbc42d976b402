"""The layout a newcomer can read: packages import only downwards (function-local imports included), one
module builds runs, and no file grows past what one sitting can read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

# Lowest first. A module may import its own package and the layers below it, never one above.
LAYERS = (
    "rlvr",  # the foundation: rlvr/*.py (config schemas, registry, seeding, outputs, logs, hf loading)
    "rlvr.algorithms",  # pure tensor math
    "rlvr.rewards",  # reward registry, grader
    "rlvr.rollout",  # engines behind one interface
    "rlvr.data",  # problems, loaders, prompts, labels
    "rlvr.models",  # which weights: hub/local, the tiny model (built on arithmetic data and an engine)
    "rlvr.evaluate",  # benchmarks, records, metrics
    "rlvr.train",  # the loop, DeepSpeed, run directory
    "rlvr.build",  # config -> parts of a run
)
# Commands: entry points that may import anything (they turn a composed config into a typed one and call build).
COMMANDS = {"rlvr.train.__main__", "rlvr.evaluate.__main__", "rlvr.label", "rlvr.plan", "rlvr.sweeps", "rlvr.launcher"}
MAX_LINES = 500
LOOP_MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """The layer a module belongs to: its first two name parts for a subpackage, else ``rlvr`` or ``rlvr.build``."""
    parts = module.split(".")
    if len(parts) >= 2 and f"{parts[0]}.{parts[1]}" in LAYERS:
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def rlvr_imports(path: Path) -> set[str]:
    """Every ``rlvr`` module a file imports, at the top or inside a function."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in imported if name == "rlvr" or name.startswith("rlvr.")}


RLVR_FILES = sorted((REPO / "rlvr").rglob("*.py"))
LIBRARY = [p for p in RLVR_FILES if module_name(p) not in COMMANDS]


def test_every_library_module_has_a_layer():
    assert {package_of(module_name(p)) for p in LIBRARY} <= set(LAYERS)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: module_name(p))
def test_packages_import_only_downwards(path):
    own = LAYERS.index(package_of(module_name(path)))
    upward = sorted(name for name in rlvr_imports(path) if LAYERS.index(package_of(name)) > own)
    assert not upward, f"{module_name(path)} ({LAYERS[own]}) imports from above: {upward}"


def test_only_the_builder_loads_models():
    """rlvr.build is the one module that puts models, rollout, data and evaluate together."""
    importers = {module_name(p) for p in LIBRARY if any(package_of(n) == "rlvr.models" for n in rlvr_imports(p))}
    assert importers - {m for m in importers if m.startswith("rlvr.models")} == {"rlvr.build"}


def test_the_layer_check_would_see_an_upward_import(tmp_path):
    upward = tmp_path / "x.py"
    upward.write_text("def f():\n    from rlvr.train.loop import GRPOTrainer\n")
    assert rlvr_imports(upward) == {"rlvr.train.loop", "rlvr.train.loop.GRPOTrainer"}
    assert package_of("rlvr.train.loop.GRPOTrainer") == "rlvr.train" and package_of("rlvr.hf") == "rlvr"


@pytest.mark.parametrize("path", RLVR_FILES + sorted((REPO / "analysis").rglob("*.py")), ids=lambda p: module_name(p))
def test_no_file_is_longer_than_one_sitting(path):
    lines = len(path.read_text().splitlines())
    limit = LOOP_MAX_LINES if path == REPO / "rlvr" / "train" / "loop.py" else MAX_LINES
    assert lines <= limit, f"{path.relative_to(REPO)}: {lines} lines (at most {limit})"
