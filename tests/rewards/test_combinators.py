import doctest
import json
from pathlib import Path

import pytest

import rlvr.rewards
import rlvr.rewards.combinators as combinators
from rlvr.rewards import REWARDS, Reward, build_reward

omegaconf = pytest.importorskip("omegaconf")
instantiate = pytest.importorskip("hydra.utils").instantiate
OmegaConf = omegaconf.OmegaConf

CONF = Path(__file__).resolve().parents[2] / "conf" / "reward"
# The reward files of this package; others in conf/reward are `@package _global_` files owned elsewhere.
REWARD_FILES = [
    "ground_truth", "format", "random", "python", "no_repetition", "ground_truth_no_python", "format_no_python",
]  # fmt: skip

CODE = "```python\nprint(2 + 3)\n```\n```output\n5\n```\nSo the sum is \\boxed{5}"
LANGUAGE = r"Adding them, the sum is \boxed{5}."
WRONG = r"Adding them, the sum is \boxed{6}."
NO_ANSWER = "I am not sure."
RESPONSES = [CODE, LANGUAGE, WRONG, NO_ANSWER]
ANSWERS = ["5"] * 4
CONTEXT = {"seed": 3, "step": 2, "prompt_ids": ["p"] * 4, "sample_indices": [0, 1, 2, 3]}


def test_inverse():
    # python: [1, 0, 0, 0] -> inverse: [0, 1, 1, 1]
    assert build_reward("inverse", reward={"name": "python"})(RESPONSES, ANSWERS) == [0.0, 1.0, 1.0, 1.0]


def test_all_of_is_the_product():
    # ground truth [1, 1, 0, 0] x no python [0, 1, 1, 1] = [0, 1, 0, 0]
    no_python = {"name": "inverse", "reward": {"name": "python"}}
    reward = build_reward("all_of", rewards=[{"name": "ground_truth"}, no_python])
    assert reward(RESPONSES, ANSWERS) == [0.0, 1.0, 0.0, 0.0]
    # a single inner reward is itself
    assert build_reward("all_of", rewards=[{"name": "format"}])(RESPONSES, ANSWERS) == [1.0, 1.0, 1.0, 0.0]


def test_inner_rewards_may_be_rewards_dicts_or_omegaconf_nodes():
    python = build_reward("python")
    as_object = build_reward("all_of", rewards=[build_reward("format"), build_reward("inverse", reward=python)])
    as_dicts = build_reward("all_of", rewards=[{"name": "format"}, {"name": "inverse", "reward": {"name": "python"}}])
    node = OmegaConf.create({"rewards": [{"name": "format"}, {"name": "inverse", "reward": {"name": "python"}}]})
    as_nodes = build_reward("all_of", rewards=node.rewards)  # a ListConfig of DictConfigs, as Hydra passes them
    expected = [0.0, 1.0, 1.0, 0.0]
    assert as_object(RESPONSES, ANSWERS) == as_dicts(RESPONSES, ANSWERS) == as_nodes(RESPONSES, ANSWERS) == expected
    assert as_object.spec() == as_dicts.spec() == as_nodes.spec()
    assert as_object.params["rewards"][1].params["reward"] is python  # a given Reward is used as is


def test_nested_combinators():
    double = build_reward("inverse", reward={"name": "inverse", "reward": {"name": "python"}})
    assert double(RESPONSES, ANSWERS) == build_reward("python")(RESPONSES, ANSWERS)
    # not (format and no python) = [1, 0, 0, 1]
    no_python = {"name": "inverse", "reward": {"name": "python"}}
    nand = build_reward("inverse", reward={"name": "all_of", "rewards": [{"name": "format"}, no_python]})
    assert nand(RESPONSES, ANSWERS) == [1.0, 0.0, 0.0, 1.0]


def test_inner_rewards_are_built_once(monkeypatch):
    reward = build_reward("all_of", rewards=[{"name": "format"}, {"name": "inverse", "reward": {"name": "python"}}])
    assert all(isinstance(inner, Reward) for inner in reward.params["rewards"])

    def no_building(*args, **kwargs):
        raise AssertionError("a reward was built during a call")

    monkeypatch.setattr(rlvr.rewards, "build_reward", no_building)
    monkeypatch.setattr(rlvr.rewards, "Reward", no_building)
    assert reward(RESPONSES, ANSWERS) == [0.0, 1.0, 1.0, 0.0]


def test_context_reaches_every_inner_reward():
    random = build_reward("random", gamma=0.5)
    draws = random(RESPONSES, ANSWERS, **CONTEXT)
    assert build_reward("inverse", reward={"name": "random", "gamma": 0.5})(RESPONSES, ANSWERS, **CONTEXT) == [
        1.0 - d for d in draws
    ]
    both = build_reward("all_of", rewards=[{"name": "random", "gamma": 0.5}, {"name": "format"}])
    assert both(RESPONSES, ANSWERS, **CONTEXT) == [d * f for d, f in zip(draws, [1.0, 1.0, 1.0, 0.0])]
    # a context key an inner reward needs is still named when it is missing
    with pytest.raises(TypeError, match="sample_indices"):
        both(RESPONSES, ANSWERS, **{k: v for k, v in CONTEXT.items() if k != "sample_indices"})


def test_answer_format_reaches_inner_rewards():
    reward = build_reward("all_of", rewards=[{"name": "ground_truth"}, {"name": "format"}])
    responses = ["<think>64 / 5</think> <answer>12.8</answer>", r"\boxed{12.8}"]
    assert reward(responses, ["12.8"] * 2, answer_format="answer_tag_strict") == [1.0, 0.0]
    assert reward(responses, ["12.8"] * 2) == [0.0, 1.0]
    # the paper's R1 reading finds the box of a response without tags too
    assert reward(responses, ["12.8"] * 2, answer_format="answer_tag") == [1.0, 1.0]


def test_spec_is_nested_plain_and_json_serialisable():
    cfg = OmegaConf.load(CONF / "ground_truth_no_python.yaml")
    reward = instantiate(cfg)
    spec = reward.spec()
    assert spec == {
        "name": "all_of",
        "version": 1,
        "params": {
            "rewards": [
                {"name": "ground_truth", "version": 4, "params": {"timeout_s": 5.0, "num_workers": None}},
                {"name": "inverse", "version": 1, "params": {"reward": {"name": "python", "version": 1, "params": {}}}},
            ]
        },
    }
    assert json.loads(json.dumps(spec)) == spec
    assert type(spec["params"]["rewards"]) is list and type(spec["params"]["rewards"][0]["params"]) is dict


@pytest.mark.parametrize(
    "name, params, error, message",
    [
        ("inverse", {}, TypeError, "reward 'inverse' needs parameter 'reward'"),
        ("all_of", {}, TypeError, "reward 'all_of' needs parameter 'rewards'"),
        ("all_of", {"rewards": []}, TypeError, "all_of.rewards: expected a non-empty list of rewards"),
        ("all_of", {"rewards": {"name": "format"}}, TypeError, "all_of.rewards: expected a non-empty list"),
        ("inverse", {"reward": [{"name": "python"}]}, TypeError, "inverse.reward: expected a reward or a mapping"),
        ("inverse", {"reward": "python"}, TypeError, "inverse.reward: expected a reward or a mapping with a 'name'"),
        ("inverse", {"reward": {"gamma": 0.5}}, TypeError, "with a 'name'"),
        ("inverse", {"reward": {"name": "pyhton"}}, KeyError, "inverse.reward: unknown reward 'pyhton'; did you mean"),
        (
            "all_of",
            {"rewards": [{"name": "format"}, {"name": "random", "gama": 0.5}]},
            TypeError,
            r"all_of.rewards\[1\]: reward 'random' has no parameter 'gama' \(did you mean 'gamma'\?\)",
        ),
        (
            "all_of",
            {"rewards": [{"name": "inverse", "reward": {"name": "pythn"}}]},
            KeyError,
            r"all_of.rewards\[0\]: inverse.reward: unknown reward 'pythn'; did you mean 'python'",
        ),
        ("all_of", {"reward": [{"name": "format"}]}, TypeError, r"no parameter 'reward' \(did you mean 'rewards'\?\)"),
    ],
)
def test_bad_inner_rewards_fail_at_construction(name, params, error, message):
    with pytest.raises(error, match=message):
        build_reward(name, **params)


def test_combinators_called_directly_without_inner_rewards():
    with pytest.raises(TypeError, match="needs an inner reward"):
        combinators.inverse_reward(["a"], ["1"])
    with pytest.raises(TypeError, match="at least one inner reward"):
        combinators.all_of_reward(["a"], ["1"])


# ---------------------------------------------------------------------------------------------------
# The config files: each builds a working reward whose label is its file name.


def test_the_reward_files_are_all_here():
    assert set(REWARD_FILES) <= {f.stem for f in CONF.glob("*.yaml")}


@pytest.mark.parametrize("stem", REWARD_FILES)
def test_reward_file_instantiates(stem):
    text = (CONF / f"{stem}.yaml").read_text()
    assert text.startswith("# ") and "${" not in text  # a one-line description; no interpolation to resolve
    cfg = OmegaConf.load(CONF / f"{stem}.yaml")
    assert cfg._target_ == "rlvr.rewards.build_reward" and cfg.label == stem
    for convert in ["none", "all"]:  # Hydra's default hands nested mappings over as DictConfig
        reward = instantiate(cfg, _convert_=convert)
        assert isinstance(reward, Reward) and reward.label == stem and reward.name in REWARDS
        values = reward(RESPONSES, ANSWERS, **CONTEXT)
        assert len(values) == len(RESPONSES) and all(v in (0.0, 1.0) for v in values)
        json.dumps(reward.spec())


@pytest.mark.parametrize(
    "stem, expected",
    [
        # CODE, LANGUAGE, WRONG, NO_ANSWER
        ("ground_truth_no_python", [0.0, 1.0, 0.0, 0.0]),
        ("format_no_python", [0.0, 1.0, 1.0, 0.0]),
        ("no_repetition", [1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_new_reward_files_values(stem, expected):
    assert instantiate(OmegaConf.load(CONF / f"{stem}.yaml"))(RESPONSES, ANSWERS, **CONTEXT) == expected


def test_compound_files_grade_as_ground_truth_does():
    gt = OmegaConf.to_container(OmegaConf.load(CONF / "ground_truth.yaml"))
    inner = OmegaConf.to_container(OmegaConf.load(CONF / "ground_truth_no_python.yaml"))["rewards"][0]
    assert inner == {k: v for k, v in gt.items() if k not in ("_target_", "label")}


def test_doctests():
    result = doctest.testmod(combinators)
    assert result.attempted > 0 and result.failed == 0
