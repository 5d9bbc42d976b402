"""experiment=controls: five spurious-reward controls x three seeds on whichever model the command line names, at
the paper's recipe, or at the model's own scale when its file resizes the run (the tiny model)."""

from __future__ import annotations

import pytest
import yaml

from conftest import CONF, compose_run
from rlvr.config import to_yaml
from rlvr.plan import format_plan, plan_runs
from rlvr.train.plan import plan_step
from rlvr.train.resume import differing_keys

# control -> (reward label, clip, gamma)
CONTROLS = {
    "ground_truth": ("ground_truth", "standard", None),
    "random": ("random", "standard", 0.5),
    "random_no_clip": ("random", "no_old_logprob", 0.5),  # the paper's "clip removed" (fig12.yaml)
    "format": ("format", "standard", None),
    "incorrect": ("incorrect", "standard", None),
}
MODEL_FILES = sorted(f.stem for f in (CONF / "model").glob("*.yaml"))


def test_the_control_group_holds_the_five_controls():
    assert set(CONTROLS) <= {f.stem for f in (CONF / "control").glob("*.yaml")}  # others may use the group too


@pytest.mark.parametrize("model", ["tiny", "qwen2.5_math_7b"])
def test_fifteen_runs_each_control_with_three_seeds_on_the_command_lines_model(model):
    runs = plan_runs(["experiment=controls", f"model={model}"])  # composes every point, checks its batch
    assert len(runs) == 15
    if model == "qwen2.5_math_7b":  # what `python -m rlvr.plan experiment=controls model=...` prints last
        # 8 GPUs x 150 s per step x 300 steps = 100 GPU-hours a run
        assert "15 runs, 1500.0 GPU-hours" in format_plan([run for run, _ in runs], "experiment=controls")
    seen = {}
    for run, cfg in runs:
        assert cfg.model.name == model and cfg.experiment_name == "controls"
        assert (cfg.reward.label, cfg.clip.name, cfg.reward.get("gamma")) == CONTROLS[cfg.control_name]
        assert run.overrides == (f"control={cfg.control_name}", f"seed={cfg.seed}")
        seen.setdefault(cfg.control_name, set()).add(cfg.seed)
    assert seen == {control: {0, 1, 2} for control in CONTROLS}


def test_a_paper_model_runs_the_papers_recipe_exactly_as_fig12_does():
    control = compose_run("experiment=controls", "model=qwen2.5_math_7b", "control=random_no_clip")
    fig12 = compose_run("experiment=fig12", "model=qwen2.5_math_7b")
    # the same run in every key but the names of its experiment and control
    assert differing_keys(_plain(fig12), _plain(control)) == ["control_name", "experiment_name"]
    assert (control.trainer.total_steps, control.eval.every_steps, control.algorithm.name) == (300, 50, "grpo_official")
    assert control.algorithm.rollout_batch_size == 64 and control.resources.gpus == 8


def test_the_tiny_model_keeps_its_own_scale():
    cfg = compose_run("experiment=controls", "control=random")  # model=tiny is the default
    # model/tiny.yaml comes after the trainer and algorithm groups: its 40 steps and CPU batch win over the
    # paper's 300 steps (trainer=paper), and grpo_official's whitening and packed loss stay
    assert cfg.model.name == "tiny" and cfg.trainer.total_steps == 40
    assert (cfg.algorithm.rollout_batch_size, cfg.algorithm.group_size, cfg.algorithm.mini_batch_size) == (8, 8, 32)
    assert cfg.algorithm.name == "grpo_official" and cfg.algorithm.advantage.whiten
    tiny_fig11 = compose_run("experiment=tiny_fig11", "clip=standard")  # the tiny random-reward run, but evaluated
    assert differing_keys(_plain(tiny_fig11), _plain(cfg)) == ["control_name", "eval.every_steps", "experiment_name"]


@pytest.mark.parametrize("model", MODEL_FILES)
def test_every_model_file_composes_with_the_controls(model):
    cfg = compose_run("experiment=controls", f"model={model}", "control=incorrect")  # the one that needs labels
    plan_step(cfg, world_size=max(cfg.resources.gpus, 1))
    # towards the wrong majority answers of the model's own label file
    assert cfg.relabel["labels"]["source"].endswith(f"/{cfg.model.label_name}.json")


def test_a_control_on_the_command_line_replaces_the_sweeps_controls():
    runs = plan_runs(["experiment=controls", "model=qwen2.5_math_7b", "control=format,incorrect", "seed=0"])
    assert sorted((cfg.control_name, cfg.seed) for _, cfg in runs) == [("format", 0), ("incorrect", 0)]


def test_a_control_without_the_experiment_sets_only_its_reward_and_clip():
    cfg, default = compose_run("control=random_no_clip"), compose_run("reward=random", "clip=no_old_logprob")
    assert differing_keys(_plain(default), _plain(cfg)) == ["control_name"]


def _plain(cfg) -> dict:
    """The config as its run directory's config.yaml holds it."""
    return yaml.safe_load(to_yaml(cfg))
