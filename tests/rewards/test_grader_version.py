import subprocess
import sys
from pathlib import Path

import pytest

import rlvr.rewards
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
