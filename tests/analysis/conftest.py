"""Fixtures of the analysis tests: real tiny runs, made once per session as a user makes them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def pytest_configure(config):
    """Give the module name ``conftest`` back to tests/conftest.py.

    tests/ is no package, so this file and tests/conftest.py are both imported as the module ``conftest``,
    and pytest leaves the one imported last in ``sys.modules``: without this, ``from conftest import ...``
    in the test folders collected after this one would find this file instead of tests/conftest.py.
    (pytest calls this hook for a conftest file right after importing it.)
    """
    for plugin in config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", None) or "").resolve() == ROOT_CONFTEST:
            sys.modules["conftest"] = plugin


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> Path:
    """Real runs under one root, made once per session with the commands a user types (about 40 s on two
    cores; the tiny model is warm-started once per machine, in ``$RLVR_CACHE``):

    - ``<root>/train``: ``python -m rlvr.train -m experiment=tiny_fig1`` with two of its rewards
      (ground_truth, random), two steps each, evaluated (held-out problems) at steps 0, 1 and 2;
    - ``<root>/ttrl``: ``python -m rlvr.train -m experiment=tiny_fig4 method=ttrl``, two steps of TTRL (32
      votes per prompt, 8 trained on), evaluated at steps 0, 1 and 2;
    - ``<root>/evals``: ``python -m rlvr.evaluate -m experiment=tiny_table3``, the tiny model before
      training with its own prompt and with the Python prefix.
    """
    from conftest import run_module  # tests/conftest.py (see pytest_configure)

    root = tmp_path_factory.mktemp("tiny_runs")
    run_module([sys.executable, "-m", "rlvr.train", "-m", "experiment=tiny_fig1", "reward=ground_truth,random",
                "trainer.total_steps=2", "eval.every_steps=1", f"paths.output_root={root / 'train'}",
                "hydra/launcher=local_pool"], timeout=900)  # fmt: skip
    run_module([sys.executable, "-m", "rlvr.train", "-m", "experiment=tiny_fig4", "method=ttrl", "trainer.total_steps=2",
                "eval.every_steps=1", f"paths.output_root={root / 'ttrl'}"], timeout=900)  # fmt: skip
    run_module([sys.executable, "-m", "rlvr.evaluate", "-m", "experiment=tiny_table3", f"paths.output_root={root / 'evals'}"])
    return root
