from __future__ import annotations

import doctest
import json
import os
from pathlib import Path

import pytest

from rlvr.data import DataError, Problem, ProblemSet, incorrect_labels, load_problem_set, load_specs
from rlvr.data import labels as labels_module
from rlvr.data.loaders import write_problems_json
from rlvr.data.relabel import incorrect
from rlvr.rewards.grader import GradeResult, get_grader

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("RLVR_DATA", REPO.parent / "shared" / "data"))
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no data folder at {DATA}; set RLVR_DATA")

MODELS = [
    "qwen2.5_math_7b", "qwen2.5_math_1.5b", "qwen2.5_7b", "qwen2.5_1.5b",
    "llama3.1_8b_instruct", "llama3.2_3b_instruct", "olmo_2_1124_7b", "olmo_2_1124_7b_sft",
]

# Labels the paper's filter (TTRL's qwen.math_grade.grade_answer) put in <model>_incorrect.json but that
# math-verify grades equal to the true answer, so our filter drops them. Each is a value match in another
# form; none is a grader error on our side.  (model, id): (label, true answer)
PAPER_WRONG_MATH_VERIFY_RIGHT = {
    ("qwen2.5_math_1.5b", "1216"): (r"\frac{3}{2}+\sqrt{2}", r"\frac{3 + 2\sqrt{2}}{2}"),  # the same number
    ("qwen2.5_math_1.5b", "1280"): ("4", "4:1"),  # a ratio read as its value
    ("qwen2.5_math_1.5b", "2240"): (r"x\ley", r"$x \leq y$"),  # `\le` glued to `y` still reads as x <= y
    ("qwen2.5_math_7b", "5780"): ("4:3", "4/3"),
    ("qwen2.5_math_7b", "7385"): (r"\frac{45360}{16807}", "6480/2401"),  # unreduced: 45360 = 7 * 6480
}


@pytest.fixture(scope="module")
def pool():
    return get_grader()  # the process-wide pool, which relabel.incorrect also uses


def test_keeps_exactly_the_labels_math_verify_judges_wrong(pool):
    labelled = [
        Problem("a", "half", r"\frac{1}{2}"),  # right in another form: dropped
        Problem("b", "ratio", r"\dfrac{5}{9}"),  # right (\dfrac vs \frac): dropped
        Problem("c", "pct", r"15\%"),  # right (15% vs 15): dropped
        Problem("d", "pair", "37,10"),  # wrong: kept, with its wrong label
        Problem("e", "aime", "70"),  # right (zero padded truth)
        Problem("f", "sum", "8"),  # wrong
    ]
    truths = {"a": "0.5", "b": r"\frac{5}{9}", "c": "15", "d": "20", "e": "070", "f": "7"}
    kept, report = incorrect_labels(labelled, truths, pool=pool)
    assert kept == [labelled[3], labelled[5]]
    assert (report.labelled, report.kept, report.right, report.timed_out) == (6, 2, 4, 0)
    assert str(report) == ("6 labelled problems: 2 wrong labels kept, 4 right labels dropped, "
                           "0 dropped as the grader timed out")
    assert incorrect_labels([], {}, pool=pool) == ([], labels_module.LabelReport(0, 0, 0, 0))


def test_a_label_the_grader_cannot_judge_in_time_is_dropped():
    class TimingOutPool:  # the first pair overran its deadline
        def grade(self, pairs):
            return GradeResult(correct=[False, False], timed_out=[True, False])

    labelled = [Problem("slow", "p", "9^{9^{9^9}}"), Problem("wrong", "q", "2")]
    kept, report = incorrect_labels(labelled, {"slow": "1", "wrong": "3"}, pool=TimingOutPool())
    assert kept == [labelled[1]] and (report.kept, report.right, report.timed_out) == (1, 0, 1)


def test_true_answers_come_from_the_mapping_then_from_the_problem_text(pool):
    truth = [
        Problem("level1/3", "What is  1+1?", "2"),
        Problem("level2/8", "Same text,\ntwo answers", "1125"),  # DeepScaleR has such pairs
        Problem("level4/5", "Same text, two answers", "1124"),
        Problem("level3/9", "Agreeing copies", "x + 1"),
        Problem("level5/9", "Agreeing copies", "x+1"),
    ]
    labelled = [
        Problem("3", "What is 1+1?", "3"),  # matched by text, whitespace aside
        Problem("8", "Same text, two answers", "1125"),  # the text is ambiguous; the id picks level2/8
        Problem("77", "Agreeing copies", "x+2"),  # several rows, one answer up to spaces: no id needed
        Problem("q", "not in truth", "4"),  # only in the mapping
    ]
    kept, report = incorrect_labels(labelled, {"q": "5"}, truth=truth, pool=pool)
    assert [p.id for p in kept] == ["3", "77", "q"] and report.right == 1
    # a ProblemSet's train and held-out problems both count as truth
    as_set = ProblemSet("t", train=tuple(truth[1:]), heldout=tuple(truth[:1]))
    assert incorrect_labels(labelled[:1], truth=as_set, pool=pool)[0] == labelled[:1]
    with pytest.raises(DataError, match=r"labelled problem '6' has the text of truth problems with different answers "
                                        r"\(level2/8 \('1125'\), level4/5 \('1124'\)\)"):
        incorrect_labels([Problem("6", "Same text, two answers", "1")], truth=truth, pool=pool)
    with pytest.raises(DataError, match=r"no true answer for labelled problem 'q' \('not in truth'\): looked in truth"):
        incorrect_labels(labelled[3:], truth=truth, pool=pool)
    with pytest.raises(DataError, match="looked in nothing"):
        incorrect_labels(labelled[3:], pool=pool)


def test_relabel_incorrect_from_a_labeller_file(tmp_path, pool):
    rows = [  # what `python -m rlvr.label` writes
        {"id": "l2/0", "prompt": "1+1", "answer": "3", "true_answer": "2", "votes": 40, "unanimous": False},
        {"id": "l2/1", "prompt": "2+2", "answer": "4", "true_answer": "4", "votes": 64, "unanimous": True},
        {"id": "l2/2", "prompt": "3+3", "answer": "", "true_answer": "6", "votes": 0, "unanimous": False},
    ]
    labels = write_problems_json(tmp_path / "mv" / "model.json", rows)
    heldout = write_problems_json(tmp_path / "heldout.json", [Problem("h", "5+5", "10")])
    # the file's true_answer column is the truth; the data set relabelled only lends its held-out problems
    base = load_problem_set(name="model", train={"source": str(heldout)}, heldout={"source": str(heldout)})
    data = incorrect(base, labels={"source": str(labels)}, on_bad_row="skip")
    # trained towards the wrong label "3", carrying the true answer that correctness is graded against
    assert data.train == (Problem("l2/0", "1+1", "3", true_answer="2"),) and data.heldout == (Problem("h", "5+5", "10"),)
    assert data.skipped == 1  # the empty label
    assert data.name == "model/incorrect"
    with pytest.raises(DataError, match=r"row 2 \(id 'l2/2'\): empty answer"):
        incorrect(base, labels={"source": str(labels)})

    # the paper's files have no true_answer column: join on the problem text of the data relabelled
    paper_rows = [{key: row[key] for key in ("id", "prompt", "answer")} for row in rows[:2]]
    bare = write_problems_json(tmp_path / "bare.json", paper_rows)
    truth = write_problems_json(tmp_path / "truth.json", [Problem("0", "1+1", "2"), Problem("1", "2+2", "4")])
    with pytest.raises(DataError, match=r"no true answer for labelled problem 'l2/0' \('1\+1'\): looked in truth"):
        incorrect(base, labels={"source": str(bare)})  # its text is not in the data
    truth_data = load_problem_set(name="x", train={"source": str(truth)})
    data = incorrect(truth_data, labels={"source": str(bare)})
    assert data.train == (Problem("l2/0", "1+1", "3", true_answer="2"),) and data.heldout == ()
    with pytest.raises(DataError, match="no wrong labels to train on"):
        incorrect(truth_data, labels={"source": str(truth)})


def test_doctests():
    result = doctest.testmod(labels_module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------------------
# The paper's own label files


@pytest.fixture(scope="module")
def deepscaler_truth():
    files = sorted((DATA / "train").glob("deepscaler_level*.json"))  # train and held-out rows of all 5 levels
    assert len(files) == 10
    return load_specs(files).problems


def mv_rows(name: str) -> list[dict]:
    return json.loads((DATA / "mv_labels" / f"{name}.json").read_text())


@needs_data
@pytest.mark.parametrize("model", MODELS)
def test_the_filter_reproduces_the_papers_incorrect_label_files(model, deepscaler_truth, pool):
    """<model>.json holds 100 labelled rows; <model>_incorrect.json the first 100 rows the paper found wrong,
    from a larger pool. Where they overlap, a row of <model>.json is in the incorrect file exactly when
    its label is wrong, or empty (no sample boxed an answer): our filter must say the same."""
    labelled = load_specs(DATA / "mv_labels" / f"{model}.json", on_bad_row="skip")
    kept, report = incorrect_labels(labelled.problems, truth=deepscaler_truth, pool=pool)
    raw_labels = {str(r["id"]): r["answer"] for r in mv_rows(model)}
    empty = {ident for ident, label in raw_labels.items() if not label.strip()}
    paper_incorrect = {str(r["id"]) for r in mv_rows(f"{model}_incorrect")}
    known = {i for (m, i) in PAPER_WRONG_MATH_VERIFY_RIGHT if m == model}

    assert labelled.skipped == len(empty) and report.timed_out == 0
    assert {p.id for p in kept} | empty == (raw_labels.keys() & paper_incorrect) - known
    assert all(p.answer == raw_labels[p.id] for p in kept)  # trained on the wrong label itself

    # and every usable row of the paper's incorrect file is wrong to math-verify, the known ones aside
    paper = load_specs(DATA / "mv_labels" / f"{model}_incorrect.json", on_bad_row="skip")
    still_kept, _ = incorrect_labels(paper.problems, truth=deepscaler_truth, pool=pool)
    judged_right = {p.id: p.answer for p in paper.problems if p not in still_kept}
    assert judged_right == {i: label for (m, i), (label, _) in PAPER_WRONG_MATH_VERIFY_RIGHT.items() if m == model}


@needs_data
def test_qwen_math_7b_has_one_wrong_label_in_its_first_hundred(deepscaler_truth, pool):
    # 10 of its 100 labels differ from the truth as strings; 9 are equal in value ("\frac{5}{9}" vs
    # "\dfrac{5}{9}", "15" vs "15\%"), only "37,10" (truth 20) is wrong
    labelled = load_specs(DATA / "mv_labels" / "qwen2.5_math_7b.json").problems
    truths = labels_module.true_answers_for(labelled, truth=deepscaler_truth)
    assert sum(p.answer != t for p, t in zip(labelled, truths)) == 10
    kept, report = incorrect_labels(labelled, truth=deepscaler_truth, pool=pool)
    assert [(p.answer, t) for p, t in zip(labelled, truths) if p in kept] == [("37,10", "20")]
    assert (report.labelled, report.kept, report.right) == (100, 1, 99)


def test_relabel_majority_vote_keeps_each_true_answer_where_it_can_find_one(tmp_path):
    from rlvr.data.relabel import majority_vote

    rows = [{"id": "a", "prompt": "1+1", "answer": "3"}, {"id": "b", "prompt": "unseen", "answer": "9"}]
    labels = write_problems_json(tmp_path / "mv.json", rows)
    truth = write_problems_json(tmp_path / "truth.json", [Problem("0", "1+1", "2")])
    data = majority_vote(load_problem_set(name="x", train={"source": str(truth)}), labels={"source": str(labels)})
    assert data.train == (Problem("a", "1+1", "3", true_answer="2"), Problem("b", "unseen", "9"))
    assert [p.truth for p in data.train] == ["2", "9"]  # no truth found: graded against the label
