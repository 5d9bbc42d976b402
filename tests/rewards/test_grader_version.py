import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import rlvr.rewards
import rlvr.rewards.grader as grader
from rlvr.rewards import equivalence, extract, verify
from rlvr.rewards.grader import GRADER_VERSION, rules_fingerprint

REPO = Path(__file__).resolve().parents[2]

RULE = '''
def same_answer(pred, gold):
    """Whether two answers are equal."""
    return pred.strip() == gold.strip()
'''
PACKAGES = {"math-verify": "0.9.0", "sympy": "1.14.0", "latex2sympy2_extended": "1.11.0"}


@pytest.mark.parametrize(
    "rule",
    [
        "# The one rule.\n" + RULE,  # a comment
        RULE.replace("Whether two answers are equal.", "Equal after stripping spaces at either end."),  # a docstring
        RULE.replace('    """Whether two answers are equal."""\n', ""),  # no docstring at all
        RULE.replace("pred.strip() == gold.strip()", "pred.strip()==gold.strip()  # models pad answers"),  # spacing
        RULE.replace("(pred, gold)", "(\n    pred,\n    gold,\n)"),  # line breaks
    ],
    ids=["comment", "docstring", "no-docstring", "spacing", "line-breaks"],
)
def test_the_fingerprint_ignores_what_is_not_code(rule):
    assert rules_fingerprint({"rules": rule}, PACKAGES) == rules_fingerprint({"rules": RULE}, PACKAGES)


@pytest.mark.parametrize(
    "rule",
    [
        RULE.replace("pred.strip() == gold.strip()", "pred == gold"),
        RULE.replace("pred.strip() == gold.strip()", "pred.strip() != gold.strip()"),
        RULE + "\nTOLERANCE = 1e-6\n",
    ],
)
def test_the_fingerprint_follows_the_code(rule):
    assert rules_fingerprint({"rules": rule}, PACKAGES) != rules_fingerprint({"rules": RULE}, PACKAGES)


@pytest.mark.parametrize("package, version", [("sympy", "1.13.3"), ("math-verify", None)])
def test_the_fingerprint_follows_the_package_versions(package, version):
    other = {**PACKAGES, package: version}
    assert rules_fingerprint({"rules": RULE}, other) != rules_fingerprint({"rules": RULE}, PACKAGES)


def test_the_grader_version_is_a_short_hex_string_exported_by_the_package():
    assert rlvr.rewards.GRADER_VERSION == GRADER_VERSION
    assert len(GRADER_VERSION) == 12 and int(GRADER_VERSION, 16) >= 0


def test_the_grader_version_is_the_same_in_every_process():
    # No path, pid or hash seed may leak into it: runs on different machines compare it.
    show = "from rlvr.rewards import GRADER_VERSION; print(GRADER_VERSION)"
    runs = [subprocess.run([sys.executable, "-c", show], cwd=REPO, capture_output=True, text=True) for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr
    versions = {run.stdout.strip() for run in runs}
    assert versions == {GRADER_VERSION}


def _rewards_modules_imported_by(module) -> set[str]:
    """The ``rlvr.rewards`` modules that ``module`` imports: ``from rlvr.rewards.x import ...``,
    ``from rlvr.rewards import x`` (a submodule) or ``import rlvr.rewards.x``."""
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {name for name in names if name.startswith("rlvr.rewards.") and name in sys.modules}


def _rule_modules() -> set[str]:
    """The rule modules (what decides verdicts, and what reads answers from responses) and every
    ``rlvr.rewards`` module they import, directly or not."""
    found, todo = set(), [equivalence.__name__, extract.__name__, verify.__name__]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(_rewards_modules_imported_by(sys.modules[name]))
    return found


def test_the_import_walk_sees_every_way_of_importing_a_submodule():
    assert _rewards_modules_imported_by(grader) >= {equivalence.__name__, extract.__name__, "rlvr.rewards.pool"}
    assert _rewards_modules_imported_by(equivalence) == {"rlvr.rewards.units"}
    assert _rule_modules() >= {"rlvr.rewards.units", equivalence.__name__}


def test_the_fingerprint_covers_every_rewards_module_the_rules_import():
    # A rule moved into a new module (say rlvr/rewards/probe.py) must still change the version when it changes.
    sources = grader._rule_sources()
    assert _rule_modules() <= set(sources), _rule_modules() - set(sources)


def test_the_fingerprint_covers_the_grader_functions_that_decide_what_is_graded():
    # read_response and everything of the grader's own that it calls (what is graded, and the golds refused),
    # and the string rules' short cut.
    sources = grader._rule_sources()
    fingerprinted = {name.rpartition(".")[2] for name in sources if name.startswith(f"{grader.__name__}.")}
    assert {"read_response", "_fast_verdict", "check_golds"} <= fingerprinted
    for name in fingerprinted:
        tree = ast.parse(inspect.getsource(getattr(grader, name)).lstrip())
        calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
        called = {getattr(grader, f.id, None) for f in calls if isinstance(f, ast.Name)}
        own = {f.__name__ for f in called if inspect.isfunction(f) and f.__module__ == grader.__name__}
        assert own <= fingerprinted, (name, own - fingerprinted)
