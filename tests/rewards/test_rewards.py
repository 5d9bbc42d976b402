import doctest
import math

import pytest

import rlvr.rewards
from conftest import GROUND_TRUTH_SPECS
import rlvr.rewards.functions as functions
from rlvr.rewards import REWARDS, build_reward

CODE = "```python\nprint(2 + 3)\n```\n```output\n5\n```\nSo the sum is \\boxed{5}"


# Parameters a reward cannot be built without (the combinators' inner rewards).
REQUIRED = {"inverse": {"reward": {"name": "python"}}, "all_of": {"rewards": [{"name": "format"}]}}


def test_registry_holds_the_papers_rewards():
    assert REWARDS.names() == ["all_of", "format", "ground_truth", "inverse", "no_repetition", "python", "random", "ttrl"]
    assert all(REWARDS.entry(name).doc for name in REWARDS)
    # format 2: the paper's readings of R1-template responses and of boxes; ground_truth 2: the R1 reading, 3 and
    # ttrl 2: no answer from a fallback for a truncated response (3: votes too); ground_truth 4: options
    assert {name: REWARDS.entry(name).version for name in REWARDS} == {
        "all_of": 1, "format": 2, "ground_truth": 4, "inverse": 1, "no_repetition": 1, "python": 1, "random": 1,
        "ttrl": 3,
    }  # fmt: skip


@pytest.mark.parametrize(
    "response, answer, expected",
    [
        (r"Adding the two cases, the answer is \boxed{\frac{1}{2}}.", "0.5", 1.0),
        (r"The remainder is \boxed{070}.", "70", 1.0),
        (r"The remainder is \boxed{71}.", "70", 0.0),
        ("Adding them up, the answer is 5", "5", 1.0),
        (r"So the total is \boxed{12", "12", 0.0),
        ("", "1", 0.0),
        (CODE, "5", 1.0),
    ],
)
def test_ground_truth(response, answer, expected):
    assert build_reward("ground_truth")([response], [answer]) == [expected]


@pytest.mark.parametrize(
    "response, expected",
    [
        (r"so the answer is \boxed{\frac{1}{2}}", 1.0),
        (r"a wrong answer is still well formatted: \boxed{-3}", 1.0),
        (r"\boxed{ }", 0.0),
        (r"\boxed{}", 0.0),
        (r"So the total is \boxed{12", 1.0),  # a box cut at the length limit counts (box_only_format)
        (r"\boxed{3} then \boxed{", 0.0),  # the last box decides
        (r"so it is $\boxed 12$", 1.0),  # a box without braces counts
        (r"\fbox{12}", 0.0),  # only "boxed" counts
        ("The answer is 5", 0.0),
        ("", 0.0),
        (CODE, 1.0),
    ],
)
def test_format(response, expected):
    assert build_reward("format")([response], ["0"]) == [expected]


@pytest.mark.parametrize(
    "response, expected, code_fence",
    [
        # contain_python_wo_backticks: "python" anywhere, in any case (the paper's Fig. 8 reward)
        (CODE, 1.0, 1.0),
        ("Let me verify with Python: 2 + 3 = 5", 1.0, 0.0),
        ("PYTHON", 1.0, 0.0),
        ("```\nprint(2 + 3)\n```", 0.0, 0.0),  # a fence without the word
        ("```Python\nprint(2 + 3)\n```", 1.0, 1.0),  # contain_python: "```python" in the lower-cased text
        ("``` python\nprint(2 + 3)\n```", 1.0, 0.0),  # a space after the backticks: no fence for python
        ("``python", 1.0, 0.0),
        (r"By Vieta, \boxed{5}", 0.0, 0.0),
        ("", 0.0, 0.0),
    ],
)
def test_python(response, expected, code_fence):
    assert build_reward("python")([response], ["5"]) == [expected]
    assert build_reward("python", code_fence=False)([response], ["5"]) == [expected]
    assert build_reward("python", code_fence=True)([response], ["5"]) == [code_fence]


@pytest.mark.parametrize(
    "response, answer, expected",
    [
        ("<think>64 / 5 = 12.8</think> <answer>12.8</answer>", "12.8", 1.0),
        (r"<think>64 / 5</think> <answer>\boxed{\frac{64}{5}}</answer>", "12.8", 1.0),
        ("<think>64 / 5</think> <answer>12.5</answer>", "12.8", 0.0),
        ("<think>64 / 5 = 12.8</think> <answer>12.8", "12.8", 0.0),  # no closing tag: no answer
        (r"the answer is \boxed{12.8}", "12.8", 0.0),  # not this format's answer
    ],
)
def test_ground_truth_answer_tag_strict(response, answer, expected):
    # Until the paper's reading became `answer_tag` (ground_truth version 2), this table was `answer_tag`'s.
    assert build_reward("ground_truth")([response], [answer], answer_format="answer_tag_strict") == [expected]


# The paper's math_r1_style reward: after the last <answer>, the box, "the answer is", else the last number.
@pytest.mark.parametrize(
    "response, answer, expected",
    [
        ("<think>64 / 5 = 12.8</think> <answer>12.8</answer>", "12.8", 1.0),
        (r"<think>64 / 5</think> <answer>\boxed{\frac{64}{5}}</answer>", "12.8", 1.0),
        ("<think>64 / 5</think> <answer>12.5</answer>", "12.8", 0.0),
        (r"<think>64 / 5</think> <answer>\frac{64}{5}</answer>", "12.8", 0.0),  # read as its last number, 5
        ("<think>64 / 5 = 12.8</think> <answer>12.8", "12.8", 1.0),  # no closing tag: read all the same
        (r"the answer is \boxed{12.8}", "12.8", 1.0),  # no tags: the whole response
        ("<think>64 / 5 = 12.8 km per hour</think>", "12.8", 1.0),  # no tags, no box: the last number
        ("<think>I am lost.</think>", "12.8", 0.0),
    ],
)
def test_ground_truth_answer_tag(response, answer, expected):
    assert build_reward("ground_truth")([response], [answer], answer_format="answer_tag") == [expected]


@pytest.mark.parametrize(
    "response, expected",
    [
        ("<think>..</think> <answer>12.8</answer>", 1.0),
        ("<think>..</think> <answer>wrong but well formatted</answer>", 1.0),
        (r"<answer>\boxed{12.8}</answer>", 1.0),
        ("<answer>  </answer>", 0.0),
        (r"<answer>\boxed{}</answer>", 0.0),
        ("<think>..</think> <answer>12.8", 0.0),
        (r"\boxed{12.8}", 0.0),
        ("", 0.0),
    ],
)
def test_format_answer_tag_strict(response, expected):
    # Until the paper's reading became `answer_tag` (format version 2), this table was `answer_tag`'s.
    assert build_reward("format")([response], ["0"], answer_format="answer_tag_strict") == [expected]


# The paper's box_only_format_r1_style: the text after the last <answer> (all of it without one) is not empty.
@pytest.mark.parametrize(
    "response, expected",
    [
        ("<think>..</think> <answer>12.8</answer>", 1.0),
        ("<answer>  </answer>", 1.0),  # spaces are text
        (r"<answer>\boxed{}</answer>", 1.0),  # the raw text, not its box
        ("<think>..</think> <answer>12.8", 1.0),
        (r"\boxed{12.8}", 1.0),
        ("<think>I am lost.</think>", 1.0),
        ("<think>..</think> <answer></answer>", 0.0),
        ("<think>..</think> <answer>", 0.0),
        ("", 0.0),
    ],
)
def test_format_answer_tag(response, expected):
    assert build_reward("format")([response], ["0"], answer_format="answer_tag") == [expected]


@pytest.mark.parametrize("name", ["ground_truth", "format"])
def test_answer_format_defaults_to_boxed(name):
    responses = [r"so \boxed{5}", "<answer>5</answer>", "The answer is 7"]
    reward = build_reward(name)
    expected = reward(responses, ["5"] * 3)
    assert reward(responses, ["5"] * 3, answer_format=None) == reward(responses, ["5"] * 3, answer_format="boxed")
    assert reward(responses, ["5"] * 3, answer_format="boxed") == expected


@pytest.mark.parametrize(
    "response, answer_format, cut_reward",
    [
        ("so the sum is 5", "boxed", 0.0),  # no box: math-verify would read the last number
        (r"so the sum is \boxed{5}. But wait", "boxed", 1.0),  # the box marks the answer, cut or not
        ("<answer>the sum is 5", "answer_tag", 0.0),  # the last number
        ("<answer>the answer is 5", "answer_tag", 1.0),  # "the answer is" marks it
    ],
)
@pytest.mark.parametrize("spec", GROUND_TRUTH_SPECS)
def test_a_truncated_response_gets_no_reward_from_a_fallback(spec, response, answer_format, cut_reward):
    # majority_vote, incorrect and one_shot are ground_truth against other labels: the same rule.
    reward = build_reward(**spec)
    both = reward([response] * 2, ["5"] * 2, answer_format=answer_format, truncated=[False, True])
    assert both == [1.0, cut_reward]
    assert reward([response], ["5"], answer_format=answer_format, truncated=None) == [1.0]


def test_truncated_flags_must_match_the_responses():
    with pytest.raises(ValueError, match="2 responses but 1 truncated flags"):
        build_reward("ground_truth")(["5", "5"], ["5", "5"], truncated=[True])


@pytest.mark.parametrize("name", ["ground_truth", "format"])
def test_an_unknown_answer_format_names_the_known_ones(name):
    with pytest.raises(KeyError, match="unknown answer format 'answer'; did you mean 'answer_tag'"):
        build_reward(name)([r"\boxed{5}"], ["5"], answer_format="answer")


@pytest.mark.parametrize(
    "response, expected",
    [
        ("Let me compute. " * 40, 0.0),
        ("Let me compute. " * 10 + r"so \boxed{5}", 0.0),  # a loop anywhere, even before an answer
        ("Let me compute. " * 9 + r"so \boxed{5}", 1.0),
        ("a" * 100, 0.0),
        ("a" * 99, 1.0),
        (CODE, 1.0),
        ("", 1.0),
    ],
)
def test_no_repetition(response, expected):
    assert build_reward("no_repetition")([response], ["5"]) == [expected]


def test_no_repetition_parameters():
    text = "Let me compute. " * 3
    assert build_reward("no_repetition")([text], ["5"]) == [1.0]
    assert build_reward("no_repetition", min_repeats=3)([text], ["5"]) == [0.0]
    assert build_reward("no_repetition", min_repeats=3, max_len=15)([text], ["5"]) == [1.0]  # the block is 16
    # blocks of 17 to 32 characters: the 16-character sentence counts only as its double, 32 characters
    longer_blocks = build_reward("no_repetition", min_len=17, max_len=32, min_repeats=3)
    assert longer_blocks(["Let me compute. " * 5, "Let me compute. " * 6], ["5", "5"]) == [1.0, 0.0]
    with pytest.raises(TypeError, match="did you mean 'min_repeats'"):
        build_reward("no_repetition", min_repeat=3)
    with pytest.raises(ValueError, match="min_repeats >= 2"):
        build_reward("no_repetition", min_repeats=1)([text], ["5"])


def grpo_batch(num_prompts=64, group_size=16, step=7):
    """Context for one GRPO step: ``group_size`` samples of each prompt, grouped together."""
    prompt_ids = [f"math/{p}" for p in range(num_prompts) for _ in range(group_size)]
    sample_indices = [s for _ in range(num_prompts) for s in range(group_size)]
    responses = [f"response {i}" for i in range(len(prompt_ids))]
    # vote_pools: what the trainer samples per prompt for a voting reward (ttrl); here just the group
    vote_pools = [responses[p * group_size : (p + 1) * group_size] for p in range(num_prompts)]
    context = {"seed": 1, "step": step, "prompt_ids": prompt_ids, "sample_indices": sample_indices, "vote_pools": vote_pools}
    return responses, ["0"] * len(responses), context


def part(context, lo, hi):
    return {**context, "prompt_ids": context["prompt_ids"][lo:hi], "sample_indices": context["sample_indices"][lo:hi]}


def test_random_does_not_depend_on_how_the_batch_is_split():
    reward = build_reward("random", gamma=0.5)
    responses, answers, context = grpo_batch()
    one_process = reward(responses, answers, **context)
    half = len(responses) // 2 + 5  # not on a group boundary
    two_processes = reward(responses[:half], answers[:half], **part(context, 0, half)) + reward(
        responses[half:], answers[half:], **part(context, half, len(responses))
    )
    assert two_processes == one_process
    flipped = {**context, "prompt_ids": context["prompt_ids"][::-1], "sample_indices": context["sample_indices"][::-1]}
    assert reward(responses[::-1], answers[::-1], **flipped)[::-1] == one_process


def test_random_depends_on_seed_step_prompt_and_sample():
    reward = build_reward("random", gamma=0.5)
    responses, answers, context = grpo_batch(num_prompts=8)
    base = reward(responses, answers, **context)
    assert reward(responses, answers, **context) == base
    assert reward(responses, answers, **{**context, "seed": 2}) != base
    assert reward(responses, answers, **{**context, "step": 8}) != base
    # Not the same draws for every sample of a prompt, nor for every prompt.
    assert len(set(base[:16])) == 2 and base[:16] != base[16:32]


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.7])
def test_random_rate_is_gamma(gamma):
    responses, answers, context = grpo_batch(num_prompts=1250, group_size=16)  # 20,000 draws
    rate = sum(build_reward("random", gamma=gamma)(responses, answers, **context)) / len(responses)
    sigma = math.sqrt(gamma * (1 - gamma) / len(responses))  # binomial standard error
    assert abs(rate - gamma) < 5 * sigma


@pytest.mark.parametrize("gamma, value", [(0.0, 0.0), (1.0, 1.0), (0, 0.0), (1, 1.0)])
def test_random_extremes(gamma, value):
    responses, answers, context = grpo_batch(num_prompts=64)
    assert build_reward("random", gamma=gamma)(responses, answers, **context) == [value] * len(responses)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan")])
def test_random_rejects_gamma_outside_unit_interval(gamma):
    responses, answers, context = grpo_batch(num_prompts=1)
    with pytest.raises(ValueError, match=f"gamma must be in \\[0, 1\\], got {gamma}"):
        build_reward("random", gamma=gamma)(responses, answers, **context)


def test_random_names_a_missing_context_key():
    responses, answers, context = grpo_batch(num_prompts=1)
    del context["sample_indices"]
    with pytest.raises(TypeError, match="sample_indices"):
        build_reward("random")(responses, answers, **context)


def test_random_draws_integer_ids_alike_whatever_their_type():
    np = pytest.importorskip("numpy")
    assert functions.uniform_draw(1, 2, np.int64(3), np.int32(4)) == functions.uniform_draw(1, 2, 3, 4)


@pytest.mark.parametrize("name", REWARDS.names())
def test_length_mismatch_is_an_error(name):
    _, _, context = grpo_batch(num_prompts=1, group_size=2)
    with pytest.raises(ValueError, match="2 responses but 1 answers"):
        build_reward(name, **REQUIRED.get(name, {}))(["a", "b"], ["1"], **{**context, "vote_pools": [["a", "b"]]})


@pytest.mark.parametrize("name", REWARDS.names())
def test_unused_context_is_ignored(name):
    _, _, context = grpo_batch(num_prompts=1, group_size=1)
    reward = build_reward(name, **REQUIRED.get(name, {}))
    context["vote_pools"] = [[r"\boxed{1}"]]
    assert reward([r"\boxed{1}"], ["1"], **context, anything="else") in ([0.0], [1.0])


def test_build_reward_exposes_what_the_trainer_logs():
    reward = build_reward("random", gamma=0.3)
    assert (reward.name, reward.label, reward.version, reward.params) == ("random", "random", 1, {"gamma": 0.3})
    assert reward.spec() == {"name": "random", "version": 1, "params": {"gamma": 0.3}}
    assert "gamma" in repr(reward)


def test_build_reward_takes_a_label_for_logs():
    reward = build_reward("random", label="random_0.3", gamma=0.3)
    assert (reward.name, reward.label, reward.params) == ("random", "random_0.3", {"gamma": 0.3})
    assert "label" not in reward.spec() and "random_0.3" in repr(reward)


def test_build_reward_rejects_a_parameter_typo():
    with pytest.raises(TypeError, match=r"no parameter 'gama' \(did you mean 'gamma'\?\); accepted: gamma"):
        build_reward("random", gama=0.3)
    with pytest.raises(TypeError, match="accepted: none"):
        build_reward("format", gamma=0.3)


def test_build_reward_rejects_an_unknown_name():
    with pytest.raises(KeyError, match="did you mean 'random'.*available: all_of, format, ground_truth, inverse"):
        build_reward("randm")


def test_hydra_instantiates_a_reward():
    instantiate = pytest.importorskip("hydra.utils").instantiate
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create({"_target_": "rlvr.rewards.build_reward", "name": "random", "gamma": 0.5})
    reward = instantiate(cfg)
    assert (reward.name, reward.params) == ("random", {"gamma": 0.5})
    responses, answers, context = grpo_batch(num_prompts=2)
    assert reward(responses, answers, **context) == build_reward("random", gamma=0.5)(responses, answers, **context)


@pytest.mark.parametrize("module", [functions, rlvr.rewards])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_ground_truth_grades_an_options_content_as_its_letter_where_the_options_are_given():
    from rlvr.rewards.functions import ground_truth_reward

    responses, answers = [r"\boxed{\frac{1}{2}}", r"\boxed{3}", r"\boxed{B}"], ["B"] * 3
    options = [{"A": "3", "B": "0.5"}] * 3
    assert ground_truth_reward(responses, answers, options=options) == [1.0, 0.0, 1.0]
    assert ground_truth_reward(responses, answers) == [0.0, 0.0, 1.0]
