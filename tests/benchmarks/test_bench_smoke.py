"""The CPU benchmarks run end to end at a small size and print their figures, so that they do not rot between
the times someone measures with them. Their figures are never asserted, only what each checks itself:
the chunked log-probs agree with the full ones, and the grader's settled-by shares cover every response."""

from __future__ import annotations

import re
import sys

import pytest

from conftest import DATA_DIR, run_module

pytestmark = pytest.mark.slow


def test_bench_logprobs_runs_and_its_two_ways_agree():
    result = run_module([sys.executable, "-m", "benchmarks.bench_logprobs", "--tokens", "64", "--chunk", "16",
                         "--repeats", "1"])  # fmt: skip
    out = result.stdout + result.stderr
    assert re.search(r"full: extra peak memory +[\d.]+ GiB", out) and re.search(r"chunked: extra peak memory", out)
    found = re.search(r"log-probs ([\d.e+-]+), entropies ([\d.e+-]+), gradients ([\d.e+-]+)", out)
    assert found, out
    logprobs, entropies, _ = map(float, found.groups())
    assert logprobs < 1e-5 and entropies < 1e-5


@pytest.mark.skipif(not (DATA_DIR / "eval" / "math500_with_subject_level.jsonl").exists(), reason="needs MATH-500")
def test_bench_grader_runs_and_every_response_is_settled_somewhere():
    result = run_module([sys.executable, "-m", "benchmarks.bench_grader", "--steps", "1", "--prompts", "4",
                         "--group-size", "4"])  # fmt: skip
    out = result.stdout + result.stderr
    assert re.search(r"cold: median [\d,]+ responses/s over 1 steps", out), out
    shares = re.search(r"settled \(cold steps\): text rules ([\d.]+)%, math-verify ([\d.]+)%, timeout ([\d.]+)%, "
                       r"no answer ([\d.]+)%", out)  # fmt: skip
    assert shares, out
    assert sum(map(float, shares.groups())) == pytest.approx(100, abs=0.5)  # 16 responses, each counted once
