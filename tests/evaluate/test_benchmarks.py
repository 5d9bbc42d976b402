"""The eval config group: every benchmark loads the paper's problems with the paper's protocol."""

from __future__ import annotations

import pytest

from conftest import DATA_DIR, compose_run
from rlvr.config import EvalConfig
from rlvr.data import DataError, Problem
from rlvr.evaluate import build_benchmark, load_benchmarks
from rlvr.rewards import grade_answers

pytestmark = pytest.mark.skipif(not (DATA_DIR / "eval").is_dir(), reason=f"no eval data under {DATA_DIR}")

PAPER = {  # name: (problems, samples, temperature, pass@k)
    "math500": (500, 1, 0.0, [1]),
    "amc": (83, 8, 0.6, [1, 8]),
    "aime24": (30, 8, 0.6, [1, 8]),
    "aime25": (30, 8, 0.6, [1, 8]),
}


def benchmarks(*overrides):
    return {b.name: b for b in load_benchmarks(compose_run(*overrides).eval)}


@pytest.mark.parametrize("name", PAPER)
def test_each_benchmark_is_its_own_config_with_the_papers_protocol(name):
    [bench] = benchmarks("model=qwen2.5_math_7b", f"eval={name}").values()
    problems, samples, temperature, pass_k = PAPER[name]
    assert (bench.name, len(bench.problems), bench.samples, bench.temperature) == (name, problems, samples, temperature)
    assert (bench.top_p, bench.max_new_tokens, list(bench.pass_k)) == (1.0, 3072, pass_k)
    assert bench.source == str(DATA_DIR / "eval" / f"{name}.json")
    assert len({p.id for p in bench.problems}) == problems


def test_paper_selects_all_four_and_the_tiny_model_keeps_its_token_budget():
    assert list(benchmarks("model=qwen2.5_math_7b", "eval=paper")) == list(PAPER)
    tiny = benchmarks("eval=paper")
    assert list(tiny) == list(PAPER) and {b.max_new_tokens for b in tiny.values()} == {24}


def test_limit_takes_the_first_problems():
    full = benchmarks("eval=aime24")["aime24"]
    short = benchmarks("eval=aime24", "eval.limit=3")["aime24"]
    assert short.problems == full.problems[:3]


def test_the_tiny_models_default_benchmark_is_its_datas_held_out_set():
    cfg = compose_run()
    [bench] = load_benchmarks(cfg.eval)
    assert bench.name == "heldout" and len(bench.problems) == cfg.data.heldout_size == 200
    assert (bench.samples, bench.temperature, bench.max_new_tokens) == (1, 0.0, cfg.algorithm.max_response_len)


def test_zero_padded_aime_2025_answers_equal_their_integers():
    bench = benchmarks("eval=aime25")["aime25"]
    padded = [p for p in bench.problems if p.answer.startswith("0")]
    assert padded, "AIME 2025 has zero-padded answers such as 070"
    graded = grade_answers([str(int(p.answer)) for p in padded], [p.answer for p in padded])
    assert all(graded.correct)
    # and a near miss stays wrong: 70 is not 7
    assert grade_answers(["7"], ["070"]).correct == [False]


def test_amc_float_answers_equal_their_integers():
    bench = benchmarks("eval=amc")["amc"]
    assert bench.problems[0].answer == "142.0"
    assert grade_answers(["142", "143"], ["142.0", "142.0"]).correct == [True, False]


SPEC = dict(samples=1, temperature=0.0, top_p=1.0, max_new_tokens=16, pass_k=[1])


def test_a_missing_file_falls_back_to_the_hub_and_says_so_when_that_fails_too(tmp_path):
    spec = SPEC | {"file": str(tmp_path / "eval" / "nowhere.json"), "hub": {"source": str(tmp_path / "no_such_dataset")}}
    with pytest.raises(DataError, match=r"eval.benchmarks.mine: .*nowhere.json is not there, and the hub dataset"):
        build_benchmark("mine", spec)
    with pytest.raises(DataError, match=r"nowhere.json not found. Set RLVR_DATA"):
        build_benchmark("mine", SPEC | {"file": str(tmp_path / "nowhere.json")})


@pytest.mark.parametrize(
    "change, message",
    [
        ({"sample": 8}, r"unknown keys 'sample' \(did you mean 'samples'\?\)"),
        ({"samples": None}, r"missing samples"),
        ({"samples": 8}, r"8 copies of one greedy response"),
        ({"samples": 4, "temperature": 0.6, "pass_k": [1, 8]}, r"pass_k \[8\] needs 1 <= k <= samples=4"),
    ],
)
def test_bad_benchmark_specs_name_the_benchmark_and_the_key(change, message):
    spec = SPEC | {"file": str(DATA_DIR / "eval" / "aime24.json")} | change
    with pytest.raises(ValueError, match=message):
        build_benchmark("aime24", spec)


def test_a_benchmark_file_with_its_own_columns(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"question": "1+1", "target": "2", "qid": "q1"}\n')
    spec = SPEC | {"file": str(path), "fields": {"problem": "question", "answer": "target", "id": "qid"}}
    assert build_benchmark("mine", spec).problems == (Problem("q1", "1+1", "2"),)


def test_no_benchmarks_is_an_error():
    with pytest.raises(ValueError, match="no benchmarks"):
        load_benchmarks(EvalConfig(name="none", benchmarks={}))


def test_a_data_benchmark_reuses_the_problem_set_already_built_from_the_same_config():
    from rlvr.data import ProblemSet

    cfg = compose_run()
    built = ProblemSet("arithmetic", train=(Problem("t", "1+1", "2"),), heldout=(Problem("h", "2+2", "4"),))
    [bench] = load_benchmarks(cfg.eval, built_data=(cfg.data, built))
    assert bench.problems == built.heldout  # not generated again
    other = compose_run("data.seed=1")  # another data config: built from its own config
    [bench] = load_benchmarks(cfg.eval, built_data=(other.data, built))
    assert len(bench.problems) == 200 and bench.problems != built.heldout
