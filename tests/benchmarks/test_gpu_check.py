"""The GPU check script runs its whole code path on a CPU (``--smoke``: a tiny model and the HF engine), so that
it is ready to run when a GPU is there; what only a GPU can show it skips, and says so."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import run_module

pytestmark = pytest.mark.slow


def test_the_gpu_check_runs_its_code_path_on_a_cpu(tmp_path):
    result = run_module([sys.executable, "-m", "benchmarks.gpu_check", "--smoke", "--steps", "1", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["steps"] == 1 and report["processes"] == 1 and report["parameters"] > 0
    assert report["rollout_tokens_per_s"] > 0 and report["train_tokens_per_s"] > 0
    assert report["vllm_checks"].startswith("skipped") and "all checks passed" in result.stderr


def test_the_random_model_has_qwen2_5_1_5b_s_shape_and_a_tokenizer_for_its_vocabulary():
    from benchmarks.gpu_check import QWEN25_1_5B, build_tokenizer

    tokenizer = build_tokenizer(QWEN25_1_5B["vocab_size"])
    assert len(tokenizer) == 151936 and tokenizer.decode([151935]) == "<t151835>"
    assert tokenizer.decode(tokenizer.encode("12+34=", add_special_tokens=False)) == "12+34="
    # 1.54 B parameters with tied embeddings, as the model card says (1.31 B without the embedding)
    h, i, n, v, kv = 1536, 8960, 28, 151936, 2 * 128
    per_layer = h * (h + 2 * kv) + (h + 2 * kv) + h * h + 3 * h * i + 2 * h
    assert abs((v * h + n * per_layer + h) - 1.54e9) < 0.01e9
