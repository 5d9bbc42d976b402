import doctest
import time

import pytest
from _grader_slow_task import HANG, hang_on_marker

import rlvr.rewards.equivalence as equivalence
import rlvr.rewards.grader as grader
import rlvr.rewards.units as units
from rlvr.rewards.grader import GraderPool, Task, get_grader, grade_responses, response_task, verify_answer

# (response, gold answer, correct): what a Qwen-Math rollout looks like against MATH-style answers.
RESPONSES = [
    (r"Adding the two cases, the probability is $\frac{1}{2}$, so the answer is \boxed{\frac{1}{2}}.", "0.5", True),
    (r"... which simplifies to \boxed{\dfrac{1}{2}}", r"\frac{1}{2}", True),
    (r"Hence $x = \boxed{\frac{\sqrt{3}}{2}}$.", r"\frac{\sqrt3}{2}", True),
    (r"The remainder is \boxed{070}.", "70", True),
    (r"The remainder is \boxed{71}.", "70", False),
    (r"Solving gives \boxed{x = 3}", "3", True),
    (r"\boxed{3\sqrt{2}}", r"\sqrt{18}", True),
    (r"\boxed{\{1, 2\}}", r"\{1,2\}", True),
    (r"\boxed{[0, \infty)}", r"[0,\infty)", True),
    (r"\boxed{\text{(B)}}", r"\text{(B)}", True),
    (r"\boxed{\$5}", "5", True),
    (r"First \boxed{3}, but rechecking, \boxed{4}.", "4", True),
    (r"First \boxed{3}, but rechecking, \boxed{4}.", "3", False),
    ("```python\nprint(2 + 3)\n```\n```output\n5\n```\nSo the sum is \\boxed{5}", "5", True),
    # no box: math-verify reads the whole response
    ("Adding them up, the answer is 5", "5", True),
    ("Adding them up, the answer is 6", "5", False),
    (r"The final answer is $\frac{1}{2}$", "0.5", True),
    # no answer at all
    (r"So the total is \boxed{12", "12", False),  # cut at the length limit inside its box
    (r"\boxed{}", "1", False),
    ("", "1", False),
    ("I am not sure how to proceed.", "1", False),
]


@pytest.fixture(scope="module")
def pool():
    with GraderPool(num_workers=2, timeout_s=5.0, warm_up=False) as pool:
        yield pool


@pytest.fixture(scope="module")
def hanging_pool():
    with GraderPool(num_workers=2, timeout_s=0.5, task_fn=hang_on_marker, warm_up=False) as pool:
        yield pool


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        (r"\frac{1}{2}", "0.5", True),
        ("070", "70", True),
        ("-070", "-70", True),
        ("7", "70", False),
        ("1,000", "1000", True),
        (r"\pi/2", r"\frac{\pi}{2}", True),
        ("0.333", r"\frac13", False),  # math-verify rounds to 6 places; 0.333 is not 1/3
        ("Evelyn", r"\text{Evelyn}", True),
        (r"\frac{1}{", "1", False),  # unparseable: False, never an exception
        ("", "1", False),
    ],
)
def test_verify_answer(pred, gold, expected):
    assert verify_answer(pred, gold) is expected


@pytest.mark.parametrize(
    "response, task",
    [
        (r"so \boxed{\frac{1}{2}}", Task(r"\frac{1}{2}", "0.5")),
        ("The answer is 5", Task("The answer is 5", "0.5", fallback=True)),
        (r"so \boxed{12", Task(None, "0.5")),
        ("  \n", Task(None, "0.5")),
    ],
)
def test_response_task(response, task):
    assert response_task(response, "0.5") == task


# (response, gold answer, correct) for base models prompted with the R1 template, read strictly
# (answer_format="answer_tag_strict"; until the paper's reading became "answer_tag", this table was its).
TAGGED_RESPONSES = [
    ("<think>64 km in 5 hours: 64 / 5 = 12.8.</think> <answer>12.8</answer>", "12.8", True),
    (r"<think>64 / 5</think> <answer>\boxed{12.8}</answer>", "12.8", True),
    (r"<think>64 / 5</think> <answer>\frac{64}{5}</answer>", "12.8", True),
    (r"<think>half of 25.6</think> <answer>The speed is \boxed{\dfrac{64}{5}} km/h.</answer>", "12.8", True),
    ("<think>64 / 5</think> <answer>12.5</answer>", "12.8", False),
    ("<answer>12</answer> No wait: <answer>12.8</answer>", "12.8", True),
    # no answer in this format, whatever the text says:
    ("<think>64 / 5 = 12.8, so the answer is 12.8</think>", "12.8", False),
    ("<think>64 / 5 = 12.8</think> <answer>12.8", "12.8", False),  # cut before </answer>
    (r"So the answer is \boxed{12.8}.", "12.8", False),  # a box outside any span
    (r"<answer>\boxed{12.8</answer>", "12.8", False),
    ("<answer> </answer>", "12.8", False),
]


@pytest.mark.parametrize(
    "response, task",
    [
        ("<think>..</think> <answer> 12.8 </answer>", Task("12.8", "0.5")),
        (r"<answer>\boxed{\frac{1}{2}}</answer>", Task(r"\frac{1}{2}", "0.5")),
        ("The answer is 5", Task(None, "0.5")),  # no whole-response fallback in this format
        (r"so \boxed{\frac{1}{2}}", Task(None, "0.5")),
    ],
)
def test_response_task_answer_tag_strict(response, task):
    assert response_task(response, "0.5", "answer_tag_strict") == task
    assert response_task(response, "0.5", "answer_tag_strict", evaluation=True) == task  # evaluated alike


def test_grade_responses_answer_tag_strict(pool):
    responses, answers, expected = zip(*TAGGED_RESPONSES)
    result = grade_responses(responses, answers, pool=pool, answer_format="answer_tag_strict")
    assert [(r, a, c) for r, a, c in zip(responses, answers, result.correct)] == TAGGED_RESPONSES


# The same R1 responses as the paper reads them: (response, gold, answer read in training, in evaluation,
# correct in training, in evaluation). Training (math_r1_style) applies the rules to the text after the last
# <answer>, evaluation (eval_checkpoint.py, "math") to the whole response: the last box, what follows "the
# answer is", else the last number.
PAPER_TAGGED_RESPONSES = [
    ("<think>64 km in 5 hours: 64 / 5 = 12.8.</think> <answer>12.8</answer>", "12.8", "12.8", "12.8", True, True),
    (r"<think>64 / 5</think> <answer>\boxed{12.8}</answer>", "12.8", "12.8", "12.8", True, True),
    (r"<think>64 / 5</think> <answer>\frac{64}{5}</answer>", "12.8", "5", "5", False, False),
    (r"<answer>It is \boxed{\dfrac{64}{5}} km/h.</answer>", "12.8", r"\dfrac{64}{5}", r"\dfrac{64}{5}", True, True),
    ("<think>64 / 5</think> <answer>12.5</answer>", "12.8", "12.5", "12.5", False, False),
    ("<answer>12</answer> No wait: <answer>12.8</answer>", "12.8", "12.8", "12.8", True, True),
    # "12.8</think>" does not parse as a whole, and a fragment of it (12.8) is never graded in its place:
    # incorrect, as Qwen-Math's grade_answer has it (the official reward is 0)
    ("<think>64 / 5 = 12.8, so the answer is 12.8</think>", "12.8", "12.8</think>", "12.8</think>", False, False),
    ("<think>64 / 5 = 12.8</think> <answer>12.8", "12.8", "12.8", "12.8", True, True),  # cut before </answer>
    (r"So the answer is \boxed{12.8}.", "12.8", "12.8", "12.8", True, True),
    # a box that never closes is read to the end: after the last <answer> in training, 12.8; in the whole
    # response in evaluation, "12.8</answer>", which does not parse (no fragment of it is graded, as in
    # Qwen-Math's grade_answer)
    (r"<answer>\boxed{12.8</answer>", "12.8", "12.8", "12.8</answer>", True, False),
    ("<answer> </answer>", "12.8", None, None, False, False),
    # a box in the reasoning: evaluation reads it, training the last answer
    (r"<think>is it \boxed{12.5}?</think> <answer>12.8</answer>", "12.8", "12.8", "12.5", True, False),
    # "the answer is" in the reasoning: evaluation reads all that follows it, tags included
    ("<think>so the answer is 12</think> <answer>12.8</answer>", "12.8", "12.8", "12</think> <answer>12.8</answer>",
     True, False),  # fmt: skip
]


@pytest.mark.parametrize("response, gold, train_pred, eval_pred, train, evaluation", PAPER_TAGGED_RESPONSES)
def test_grade_responses_answer_tag(pool, response, gold, train_pred, eval_pred, train, evaluation):
    in_training = response_task(response, gold, "answer_tag")
    in_evaluation = response_task(response, gold, "answer_tag", evaluation=True)
    assert (in_training, in_evaluation) == (Task(train_pred, gold), Task(eval_pred, gold))
    assert pool.grade([in_training, in_evaluation]).correct == [train, evaluation]
    assert grade_responses([response], [gold], pool=pool, answer_format="answer_tag").correct == [train]


def test_evaluation_reads_the_other_formats_as_training_does():
    response = r"<think>\boxed{1}</think> <answer>2</answer> so \boxed{3}"
    for answer_format in ["boxed", "answer_tag_strict", "answer_rules"]:
        evaluated = response_task(response, "3", answer_format, evaluation=True)
        assert evaluated == response_task(response, "3", answer_format)
    assert response_task(response, "3", "answer_tag", evaluation=True) == response_task(response, "3", "answer_rules")


def test_grade_responses_is_boxed_by_default(pool):
    responses, answers, _ = zip(*RESPONSES)
    assert grade_responses(responses, answers, pool=pool) == grade_responses(
        responses, answers, pool=pool, answer_format="boxed"
    )


def test_grade_responses_rejects_an_unknown_format(pool):
    with pytest.raises(KeyError, match="unknown answer format 'answer-tag'; did you mean 'answer_tag'"):
        grade_responses([], [], pool=pool, answer_format="answer-tag")


def test_grade_responses(pool):
    responses, answers, expected = zip(*RESPONSES)
    result = grade_responses(responses, answers, pool=pool)
    assert [(r, a, c) for r, a, c in zip(responses, answers, result.correct)] == RESPONSES
    assert not any(result.timed_out)


def test_each_distinct_pair_is_graded_once(pool):
    # A GRPO group: 16 samples of one prompt, most of them agreeing (answers that take sympy to grade).
    responses = [r"\boxed{\frac{1}{\sqrt{2}}}"] * 10 + [r"\boxed{\frac{\sqrt{3}}{2}}"] * 5 + [r"\boxed{\sin(\pi/4)}"]
    before = pool.counts.copy()
    result = grade_responses(responses, [r"\frac{\sqrt{2}}{2}"] * 16, pool=pool)
    assert result.correct == [True] * 10 + [False] * 5 + [True]
    assert pool.counts["pairs"] - before["pairs"] == 16
    assert pool.counts["sent"] - before["sent"] == 3


def test_string_rules_need_no_worker(pool):
    before = pool.counts.copy()
    pairs = [
        ("70", "070"), (r"\text{(B)}", r"\text{(B)}"), ("7", "70"), (None, "1"),  # spelling, numbers, no answer
        (r"\dfrac{3}{4}", "0.75"), ("0.0000673", ".0000672"), (r"50\%", r"\frac{1}{2}"),  # exact values
        ("(2, 1)", "(1,2)"), (r"\{2, 1\}", "1, 2"), (r"\left(3, 4\right]", "(3,4]"), ("[3, 4]", "(3,4]"),  # order, brackets
        (r"\textbf{(C)}\ 12", r"\text{(C)}"), ("(D)", r"\text{(C)}"),  # choice letters
        (r"y = 2 \sqrt{5}", r"2\sqrt{5}"), ("n = x^2+1", "x^2 + 1"), ("2x+3", "y = 2x + 3"),  # `x = ` and the value
    ]  # fmt: skip
    result = pool.grade(pairs)
    expected = [True, True, False, False, True, False, True, False, True, True, False, True, False, True, True, True]
    assert result.correct == expected
    assert pool.counts["sent"] == before["sent"]


@pytest.mark.parametrize(
    "pred, gold",
    [
        ("x = 58,500", "58,500"),  # math-verify reads the list 58, 500 there
        (r"e = \sqrt{2}", r"\sqrt{2}"),  # Euler's number, to math-verify
        (r"x = 1 \pm \sqrt{19}", r"1 \pm \sqrt{19}"),
        (r"x = y \le 3", r"y \le 3"),
        ("y = 2x + 3", "2x + 5"),  # another value
    ],
)
def test_assignments_the_rules_leave_to_math_verify(pred, gold):
    assert equivalence.string_verdict(pred, gold) is None


def test_counts_say_how_each_pair_was_settled():
    pairs = [
        ("70", "070"), ("70", "070"), (r"\sqrt{4}", "2"), (r"\sqrt{4}", "2"), (HANG, "1"), (None, "1"), ("  ", "1")
    ]  # fmt: skip
    with GraderPool(num_workers=2, timeout_s=0.5, task_fn=hang_on_marker, warm_up=False) as pool:
        assert pool.grade(pairs).timed_out == [False] * 4 + [True] + [False] * 2
        pool.grade(pairs[2:3])  # remembered: still math-verify's verdict
        counts = pool.counts
    assert (counts["by_rules"], counts["by_math_verify"], counts["by_timeout"], counts["no_answer"]) == (2, 3, 1, 2)
    assert sum(counts[key] for key in ("by_rules", "by_math_verify", "by_timeout", "no_answer")) == counts["pairs"]
    assert (counts["sent"], counts["cached"], counts["timeouts"]) == (2, 1, 1)


def test_text_no_rule_can_read_goes_to_a_worker(pool):
    before = pool.counts.copy()
    assert pool.grade([("$ $", "(1, 2)"), ("(", "(1, 2)"), (r"\sqrt{2}", r"\frac{2}{\sqrt{2}}")]).correct == [False, False, True]
    assert pool.counts["sent"] == before["sent"] + 3


def test_a_hanging_task_is_killed_and_only_it_fails(hanging_pool):
    pairs = [(HANG, "1"), (r"\frac{1}{2}", "0.5"), ("0.25", r"\frac14"), (r"\sqrt{4}", "3")]
    started = time.monotonic()
    result = hanging_pool.grade(pairs)
    elapsed = time.monotonic() - started
    assert result.correct == [False, True, True, False]
    assert result.timed_out == [True, False, False, False]
    assert elapsed < 10  # the task sleeps for 600 s: the call must not wait for it
    assert hanging_pool.counts["timeouts"] == 1


def test_the_rest_of_a_killed_workers_chunk_is_graded():
    # One worker, one chunk: the hanging task is first, the three after it go back to the queue.
    with GraderPool(num_workers=1, timeout_s=0.5, task_fn=hang_on_marker, chunk_size=8, warm_up=False) as pool:
        result = pool.grade([(HANG, "1"), (r"\frac{1}{2}", "0.5"), ("0.25", r"\frac14"), (r"\sqrt{4}", "3")])
        assert result.timed_out == [True, False, False, False]
        assert result.correct == [False, True, True, False]
        # ... and the replacement worker serves the next call.
        assert pool.grade([(r"\frac{3}{6}", "0.5")]).correct == [True]


def test_the_pool_is_usable_after_a_timeout(hanging_pool):
    hanging_pool.grade([(HANG, "2")])
    result = hanging_pool.grade([(r"\frac{2}{4}", "0.5"), (r"\sqrt{9}", "3")])
    assert result.correct == [True, True]
    assert not any(result.timed_out)


def test_a_worker_that_died_while_idle_is_replaced_silently(pool):
    pool.grade([(r"\frac{6}{12}", "0.5")])  # make sure the workers are up
    for worker in pool._workers:
        worker.process.kill()
        worker.process.join()
    result = pool.grade([(r"\frac{5}{10}", "0.5"), (r"\frac{4}{8}", "0.5")])
    assert result.correct == [True, True]
    assert not any(result.timed_out)


def test_close_is_idempotent_and_final():
    pool = GraderPool(num_workers=1, warm_up=False)
    assert pool.grade([(r"\frac{1}{2}", "0.5")]).correct == [True]
    processes = [w.process for w in pool._workers]
    pool.close()
    pool.close()
    assert pool.closed and not any(p.is_alive() for p in processes)
    with pytest.raises(RuntimeError, match="closed"):
        pool.grade([(r"\frac{1}{3}", "0.5")])


def test_get_grader_is_shared_and_refuses_conflicting_settings():
    shared = get_grader()
    assert get_grader() is shared
    assert get_grader(num_workers=shared.num_workers) is shared
    with pytest.raises(ValueError, match="timeout_s"):
        get_grader(timeout_s=shared.timeout_s + 1)


def test_length_mismatch():
    with pytest.raises(ValueError, match="2 responses but 1 answers"):
        grade_responses(["a", "b"], ["1"])


@pytest.mark.parametrize("kwargs", [{"num_workers": 0}, {"timeout_s": 0}])
def test_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        GraderPool(**kwargs)


@pytest.mark.parametrize("module", [grader, equivalence, units], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_verdicts_are_remembered_across_calls_but_timeouts_are_not():
    # The trainer grades every step twice (reward, then the accuracy metric): the second costs no worker.
    with GraderPool(num_workers=1, timeout_s=0.5, task_fn=hang_on_marker, cache_size=2, warm_up=False) as pool:
        pairs = [(r"\sin(\pi/6)", "0.5"), (HANG, "1")]
        first = pool.grade(pairs)
        sent = pool.counts["sent"]
        second = pool.grade(pairs)
        assert first.correct == second.correct == [True, False]
        assert second.timed_out == [False, True]  # the hanging task was tried again, not cached
        assert pool.counts["sent"] == sent + 1 and pool.counts["cached"] == 1 and pool.counts["timeouts"] == 2
        # cache_size=2: a third and fourth verdict push the first one out
        pool.grade([(r"\sqrt{2}", "1.5"), (r"\sqrt{3}", "1.5")])
        sent = pool.counts["sent"]
        pool.grade([(r"\sin(\pi/6)", "0.5")])
        assert pool.counts["sent"] == sent + 1
