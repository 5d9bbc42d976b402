"""Every config option composes, every `_target_` node instantiates on CPU, and typos fail at compose time."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

from conftest import CONF, compose_config, compose_run
from rlvr.train.plan import ConfigError, plan_step

GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "hydra")
OPTIONS = [(group, f.stem) for group in GROUPS for f in sorted((CONF / group).glob("*.yaml"))]


def test_groups_of_the_issue_exist():
    assert {"model", "reward", "algorithm", "clip", "data", "engine", "trainer"} <= set(GROUPS)


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_plans(group, option):
    cfg = compose_run(f"{group}={option}")  # typed: every field of every file checked against its schema
    if group != "model" or option == "tiny":
        plan_step(cfg, world_size=1)  # batch arithmetic and registry names hold for every option


@pytest.mark.parametrize("option", sorted(f.stem for f in (CONF / "reward").glob("*.yaml")))
def test_every_reward_instantiates_to_a_callable(option):
    reward = instantiate(compose_config(f"reward={option}").reward)
    assert reward.label == option and callable(reward)


def test_data_instantiates_with_disjoint_heldout():
    data = instantiate(compose_config().data)
    assert len(data.train) == 20_000 and len(data.heldout) == 200
    assert not {p.id for p in data.heldout} & {p.id for p in data.train}


def test_default_is_the_tiny_cpu_run(default_cfg):
    assert default_cfg.model.name == "tiny"
    assert default_cfg.reward.name == "ground_truth" and default_cfg.clip.name == "standard"
    assert default_cfg.algorithm.name == "grpo" and default_cfg.trainer.zero_stage == 3
    assert default_cfg.engine._target_ == "rlvr.rollout.HFEngine.from_pretrained"


def test_algorithm_file_has_the_paper_numbers_and_tiny_resizes_them(default_cfg):
    from omegaconf import OmegaConf

    grpo = OmegaConf.load(CONF / "algorithm" / "grpo.yaml")  # before model/tiny.yaml scales it down
    assert (grpo.rollout_batch_size, grpo.group_size, grpo.mini_batch_size) == (64, 16, 128)
    assert grpo.lr == 5e-7 and list(grpo.betas) == [0.9, 0.95] and grpo.advantage.eps == 1e-9
    assert default_cfg.algorithm.rollout_batch_size == 8  # the tiny model's CPU scale wins over the paper's


def test_overrides_reach_any_field():
    cfg = compose_config("reward=random", "reward.gamma=0.3", "algorithm.group_size=4", "clip=higher")
    assert cfg.reward.gamma == 0.3 and cfg.algorithm.group_size == 4 and cfg.clip.high == 0.28


def test_a_typo_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException):
        compose_config("algorithm.grup_size=4")


@pytest.mark.parametrize(
    "overrides,field",
    [
        (["algorithm.group_size=1"], "algorithm.group_size=1"),
        (["algorithm.mini_batch_size=48"], "algorithm.mini_batch_size=48"),
        (["trainer.micro_batch_size=5"], "trainer.micro_batch_size=5"),
        (["clip.mode=clipped"], "clip.mode='clipped'"),
        (["algorithm.loss_aggregation=mean"], "algorithm.loss_aggregation='mean'"),
        (["algorithm=grpo_official", "trainer.micro_batch_size=2"], "trainer.micro_batch_size=2 to be a multiple of algorithm.pack_size=4"),
    ],
)
def test_invalid_combinations_are_named(overrides, field):
    with pytest.raises(ConfigError, match=field.replace("(", r"\(").replace("[", r"\[")):
        plan_step(compose_run(*overrides), world_size=1)


def test_world_size_must_divide_the_batch():
    with pytest.raises(ConfigError, match="divisible by the number of processes"):
        plan_step(compose_run("algorithm.rollout_batch_size=9", "algorithm.mini_batch_size=8"), world_size=2)


def test_plan_counts_optimizer_steps_like_the_paper():
    # 64 prompts x 16 samples / 128 per mini-batch = 8 optimizer steps per rollout (paper, App. A)
    cfg = compose_run(
        "algorithm.rollout_batch_size=64", "algorithm.group_size=16", "algorithm.mini_batch_size=128",
        "trainer.micro_batch_size=4",
    )  # fmt: skip
    plan = plan_step(cfg, world_size=8)
    assert plan.optimizer_steps_per_rollout == 8
    assert plan.prompts_per_rank == 8 and plan.mini_batch_per_rank == 16 and plan.grad_accumulation == 4
