from __future__ import annotations

import pytest

from rlvr.data import PromptSampler, format_prompt
from rlvr.data.prompts import Prompt
from rlvr.data.arithmetic import arithmetic_problems, worked_solution


def test_problems_are_correct_sums_and_seeded():
    data = arithmetic_problems(train_size=500, heldout_size=50, seed=3)
    for p in data.train[:100] + data.heldout:
        a, b = map(int, p.problem.split("+"))
        assert int(p.answer) == a + b and 0 <= a < 100 and 0 <= b < 100
    assert data == arithmetic_problems(train_size=500, heldout_size=50, seed=3)
    assert data != arithmetic_problems(train_size=500, heldout_size=50, seed=4)
    assert len({p.id for p in data.heldout}) == 50
    assert not {p.id for p in data.heldout} & {p.id for p in data.train}


def test_one_digit_operands_are_common():
    # digit count uniform in {1, 2}: about half the operands have one digit
    data = arithmetic_problems(train_size=4000, heldout_size=10)
    one_digit = sum(int(x) < 10 for p in data.train for x in p.problem.split("+")) / 8000
    assert 0.45 < one_digit < 0.55


def test_worked_solutions_end_in_the_boxed_answer():
    p = arithmetic_problems(train_size=1, heldout_size=1).train[0]
    assert worked_solution(p, "language") == f"\\boxed{{{p.answer}}}"
    assert worked_solution(p, "code").startswith("python") and worked_solution(p, "code").endswith(f"\\boxed{{{p.answer}}}")
    with pytest.raises(ValueError, match="unknown solution style"):
        worked_solution(p, "latin")


def test_sampler_is_a_pure_function_of_seed_and_step():
    sampler = PromptSampler(num_problems=10, batch_size=3, seed=0)
    assert sampler.steps_per_epoch == 3
    epoch = [i for step in (1, 2, 3) for i in sampler.indices(step)]
    assert len(set(epoch)) == 9  # no repeats within an epoch
    assert sampler.indices(4) != sampler.indices(1)  # a new epoch reshuffles
    assert PromptSampler(10, 3, 0).indices(5) == sampler.indices(5)
    with pytest.raises(ValueError, match="larger than the data set"):
        PromptSampler(num_problems=2, batch_size=3, seed=0)


def test_prompt_styles():
    assert format_prompt("1+1", Prompt(style="template", template="Q: {problem}\nA:")) == "Q: 1+1\nA:"
    assert format_prompt("1+1", Prompt(style="raw")) == "1+1"
    with pytest.raises(ValueError, match="chat template"):
        format_prompt("1+1", Prompt(style="chat"), tokenizer=None)
    with pytest.raises(ValueError, match="unknown prompt style"):
        format_prompt("1+1", Prompt(style="poem"))
