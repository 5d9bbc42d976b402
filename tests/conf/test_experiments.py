"""The paper's experiment matrix as config: every experiment composes at every sweep point, and the
model, clip and algorithm files carry the paper's settings."""

from __future__ import annotations

import sys
from functools import lru_cache

import pytest
from omegaconf import OmegaConf

from conftest import CONF, REPO, compose_config, compose_run, run_module
from rlvr.plan import expand_sweep
from rlvr.plan import plan_runs as _plan_runs
from rlvr.train.plan import ConfigError, plan_step

EXPERIMENTS = sorted(f.stem for f in (CONF / "experiment").glob("*.yaml"))


@lru_cache(maxsize=None)
def _planned(overrides: tuple[str, ...]):
    return _plan_runs(list(overrides))


def plan_runs(overrides: list[str]):
    """Composing a sweep takes a while; each is composed once per session."""
    return _planned(tuple(overrides))


PAPER_FIGURES = ["fig1", "fig2", "fig3", "fig4", "fig8", "fig9", "fig10", "fig11", "fig12", "fig16"]
# Experiments that run on the command line's model (default: tiny), with no tiny_ twin: test_controls_experiment.py.
ANY_MODEL = ["controls"]
# The tiny model and its variants with a code prior (tiny_mechanism's): CPU models.
TINY_MODELS = {"tiny", "tiny_code", "tiny_bad_code", "tiny_no_code"}


def test_every_figure_has_a_paper_and_a_tiny_experiment():
    assert set(PAPER_FIGURES) | {f"tiny_{f}" for f in PAPER_FIGURES} <= set(EXPERIMENTS)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_plans_at_every_sweep_point(experiment):
    runs = plan_runs([f"experiment={experiment}"])  # composes each point and checks its batch arithmetic
    assert len(runs) >= 1
    names = [cfg.name for _, cfg in runs]
    for run, cfg in runs:
        assert cfg.experiment_name == experiment
        for override in run.overrides:  # every swept value reached the run's config
            key, value = override.split("=", 1)
            chosen = {"model": cfg.model.name, "reward": cfg.reward.label, "clip": cfg.clip.name,
                      "prompt": cfg.prompt.name, "method": cfg.reward.label,
                      "control": cfg.control_name}.get(key)  # fmt: skip
            assert str(chosen if chosen is not None else OmegaConf.select(cfg, key)) == value, override
        if experiment.startswith("tiny_"):
            assert cfg.model.name in TINY_MODELS and cfg.resources.gpus == 0
        elif experiment not in ANY_MODEL:
            assert cfg.model.name != "tiny" and cfg.resources.gpus > 0
    assert len(set(zip(names, (r.overrides for r, _ in runs)))) == len(runs)


@pytest.mark.parametrize(
    "experiment,count",
    [("fig1", 24), ("fig2", 24), ("fig3", 36), ("fig4", 20), ("fig9", 15), ("fig10", 5), ("fig11", 4), ("fig12", 4),
     ("tiny_fig1", 6), ("tiny_fig4", 2), ("table3", 16), ("tiny_mechanism", 60)],
)
def test_sweep_sizes(experiment, count):
    # fig1: 4 models x 6 rewards; fig3: 6 models x 6 rewards; fig4: 10 models x 2 methods; fig9: 5 models x 3
    # compounds; fig10: 5 gammas; fig11: 4 clip settings
    assert len(plan_runs([f"experiment={experiment}"])) == count


def test_fig10_sweeps_the_papers_gammas_and_fig11_the_clip_settings():
    gammas = sorted(cfg.reward.gamma for _, cfg in plan_runs(["experiment=fig10"]))
    assert gammas == [0.0, 0.001, 0.3, 0.5, 0.7]
    fig11 = {cfg.clip.name: cfg for _, cfg in plan_runs(["experiment=fig11"])}
    assert set(fig11) == {"standard", "no_old_logprob", "one_update_minibatch", "one_update_rollout"}
    assert all(cfg.reward.label == "random" for cfg in fig11.values())


def test_fig4_runs_ttrl_with_its_authors_recipe_and_one_shot_with_the_papers():
    runs = {(cfg.model.name, cfg.reward.label): cfg for _, cfg in plan_runs(["experiment=fig4"])}
    assert {model for model, _ in runs} == set(PAPER_MODELS)
    ttrl, one_shot = runs["qwen2.5_math_7b", "ttrl"], runs["qwen2.5_math_7b", "one_shot"]
    # TTRL's scripts/ttrl_math_grpo_7b.sh: 128 prompts, 32 votes, 16 trained on (and voting), updates of 16
    assert (ttrl.reward.name, ttrl.reward.n_votes, ttrl.reward.votes_from) == ("ttrl", 32, "kept")
    assert (ttrl.algorithm.rollout_batch_size, ttrl.algorithm.group_size, ttrl.algorithm.mini_batch_size) == (128, 16, 16)
    assert ttrl.relabel._target_ == "rlvr.data.relabel.test_time"  # trains on the test prompts (MATH-500)
    assert ttrl.data.heldout.source == "HuggingFaceH4/MATH-500"
    assert (one_shot.reward.name, one_shot.relabel._target_) == ("ground_truth", "rlvr.data.relabel.one_shot")
    assert (one_shot.algorithm.rollout_batch_size, one_shot.algorithm.mini_batch_size) == (64, 128)  # the paper's
    for cfg in (ttrl, one_shot):
        assert cfg.trainer.total_steps == 100 and cfg.eval.every_steps == 10 and cfg.algorithm.name == "grpo_official"
    assert plan_step(ttrl, world_size=8).optimizer_steps_per_rollout == 128
    tiny = {cfg.reward.label: cfg for _, cfg in plan_runs(["experiment=tiny_fig4"])}
    assert tiny["ttrl"].reward.n_votes == 32 and tiny["ttrl"].algorithm.group_size == 8  # tiny's batch, TTRL's votes


def test_fig9_sweeps_the_three_compounds_on_the_five_models_of_its_appendix_figure():
    runs = plan_runs(["experiment=fig9"])
    assert {cfg.reward.label for _, cfg in runs} == {"ground_truth_no_python", "incorrect_no_python", "format_no_python"}
    incorrect = next(cfg for _, cfg in runs if cfg.reward.label == "incorrect_no_python")
    assert incorrect.relabel._target_ == "rlvr.data.relabel.incorrect" and incorrect.trainer.total_steps == 60


def test_extra_command_line_sweeps_multiply_the_matrix():
    assert len(plan_runs(["experiment=fig10", "seed=0,1"])) == 10


def test_expand_sweep_is_a_cartesian_product():
    points = expand_sweep(["a=1,2", "b=x", "c=range(0,3)"])
    assert len(points) == 6 and ["a=2", "b=x", "c=2"] in points


def test_plan_cli_prints_the_matrix_with_gpu_hours():
    out = run_module([sys.executable, "-m", "rlvr.plan", "experiment=fig10"], cwd=REPO).stdout
    assert out.count("reward.gamma=") == 5 and "5 runs" in out
    # qwen2.5_math_7b: 8 GPUs x 150 s per step x 300 steps = 100 GPU-hours per run, 500 in all
    assert "100.0" in out and "500.0 GPU-hours" in out


# --------------------------------------------------------------------------------------------- models
PAPER_MODELS = {
    "qwen2.5_math_7b": "Qwen/Qwen2.5-Math-7B",
    "qwen2.5_math_1.5b": "Qwen/Qwen2.5-Math-1.5B",
    "qwen2.5_7b": "Qwen/Qwen2.5-7B",
    "qwen2.5_1.5b": "Qwen/Qwen2.5-1.5B",
    "llama3.1_8b": "meta-llama/Llama-3.1-8B",
    "llama3.1_8b_instruct": "meta-llama/Llama-3.1-8B-Instruct",
    "llama3.2_3b": "meta-llama/Llama-3.2-3B",
    "llama3.2_3b_instruct": "meta-llama/Llama-3.2-3B-Instruct",
    "olmo2_7b": "allenai/OLMo-2-1124-7B",
    "olmo2_7b_sft": "allenai/OLMo-2-1124-7B-SFT",
}


@pytest.mark.parametrize("name,hub", sorted(PAPER_MODELS.items()))
def test_model_files_name_the_hub_weights_and_a_prompt_format(name, hub):
    cfg = compose_config(f"model={name}")
    assert cfg.model.name_or_path == hub and cfg.model.dtype == "bfloat16" and cfg.model.gradient_checkpointing
    assert (cfg.algorithm.max_prompt_len, cfg.algorithm.max_response_len) == (1024, 3072)
    assert cfg.data._target_ == "rlvr.data.load_problem_set"  # real models train on DeepScaleR, not arithmetic
    prompt = cfg.model.prompt
    if prompt.style == "chat":
        assert prompt.answer_format == "boxed" and not prompt.stop
    else:  # base models without a chat template: R1-style prompt, stop at </answer>, answer in the tag
        assert prompt.style == "template" and prompt.template.endswith("<|user|>\n{problem}\n<|assistant|>\n<think>")
        assert "{problem}" in prompt.template and list(prompt.stop) == ["</answer>"]
        assert prompt.answer_format == "answer_tag"
        assert name in {"llama3.1_8b", "llama3.2_3b", "olmo2_7b"}


def test_model_files_cover_every_paper_model():
    files = {f.stem for f in (CONF / "model").glob("*.yaml")}
    assert files == set(PAPER_MODELS) | TINY_MODELS


def test_mv_label_names_match_the_papers_label_files(tmp_path):
    from conftest import DATA_DIR

    shipped = {f.stem for f in (DATA_DIR / "mv_labels").glob("*.json") if not f.stem.endswith("_incorrect")}
    ours = {compose_config(f"model={m}").model.label_name for m in PAPER_MODELS}
    assert shipped <= ours  # the paper has labels for 8 of the 10 models (not the base Llamas)


# ------------------------------------------------------------------------------------- clip, algorithm
def test_one_update_clips_tie_the_mini_batch_to_the_rollout():
    paper = "model=qwen2.5_math_7b"
    cfg = compose_run(paper, "clip=one_update_minibatch")
    assert cfg.algorithm.mini_batch_size == 64 * 16 == cfg.algorithm.rollout_batch_size * cfg.algorithm.group_size
    assert plan_step(cfg, world_size=8).optimizer_steps_per_rollout == 1
    cfg = compose_run(paper, "clip=one_update_rollout")
    assert (cfg.algorithm.rollout_batch_size, cfg.algorithm.group_size, cfg.algorithm.mini_batch_size) == (8, 16, 128)
    assert plan_step(cfg, world_size=8).optimizer_steps_per_rollout == 1
    tiny = compose_run("clip=one_update_rollout")  # the same relation at the tiny scale: 32 / 8 = 4 prompts
    assert tiny.algorithm.rollout_batch_size == 4 and plan_step(tiny, world_size=1).optimizer_steps_per_rollout == 1


@pytest.mark.parametrize(
    "clip,override",
    [("one_update_minibatch", "algorithm.mini_batch_size=128"), ("one_update_minibatch", "algorithm.epochs_per_rollout=2"),
     ("one_update_rollout", "algorithm.rollout_batch_size=64")],
)
def test_an_override_that_breaks_one_update_per_rollout_is_refused(clip, override):
    # 64 x 16 / 128 = 8 steps; 1024 / 1024 x 2 epochs = 2; 64 x 16 / 128 = 8: none is "one update" any more
    cfg = compose_run("model=qwen2.5_math_7b", f"clip={clip}", override)
    assert cfg.clip.steps_per_rollout == 1
    with pytest.raises(ConfigError, match=rf"clip={clip} means 1 optimizer step\(s\) per rollout"):
        plan_step(cfg, world_size=8)


def test_clip_ranges():
    assert (compose_config("clip=standard").clip.low, compose_config("clip=standard").clip.high) == (0.2, 0.2)
    assert compose_config("clip=higher").clip.high == 0.28
    assert compose_config("clip=none").clip.mode == "none"


def test_paper_algorithm_has_no_kl_and_no_entropy_and_dr_grpo_differs_where_it_should():
    grpo = compose_config("model=qwen2.5_math_7b").algorithm
    assert grpo.kl.coef == 0 and grpo.entropy_coef == 0 and grpo.advantage.ddof == 1
    assert grpo.loss_aggregation == "seq-mean-token-mean" and grpo.temperature == 1.0 and grpo.top_p == 1.0
    dr = compose_config("model=qwen2.5_math_7b", "algorithm=dr_grpo").algorithm
    assert dr.advantage.estimator == "dr_grpo" and dr.loss_aggregation == "seq-mean-token-sum-norm"


@pytest.mark.parametrize(
    "override,field", [("algorithm.kl.estimator=k9", "algorithm.kl.estimator"), ("algorithm.kl.coef=-1", "algorithm.kl.coef")]
)
def test_bad_kl_settings_are_named(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        plan_step(compose_run(override), world_size=1)


def test_table3_is_an_evaluation_that_rlvr_train_refuses():
    runs = plan_runs(["experiment=table3"])
    assert {run.command for run, _ in runs} == {"evaluate"} and {run.gpus for run, _ in runs} == {1}
    assert {(cfg.model.name, cfg.prompt.name) for _, cfg in runs} >= {("qwen2.5_math_7b", "python_prefix"), ("olmo2_7b", "default")}
    assert {tuple(cfg.eval.benchmarks) for _, cfg in runs} == {("math500",)}
    result = run_module([sys.executable, "-m", "rlvr.train", "experiment=tiny_table3"], check=False)
    assert result.returncode != 0 and "is run by `python -m rlvr.evaluate -m experiment=tiny_table3`" in result.stderr


def test_plan_doctests():
    import doctest

    import rlvr.plan

    assert doctest.testmod(rlvr.plan).failed == 0


@pytest.mark.parametrize("name", sorted(e for e in EXPERIMENTS if not e.startswith("tiny_") and e not in ANY_MODEL))
def test_each_tiny_experiment_sweeps_the_same_axes_as_its_paper_experiment(name):
    """tiny_<name> is <name> at CPU scale: the same swept keys, the same values on every axis but the model."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        paper, tiny = (
            dict(compose("config", [f"experiment={e}"], return_hydra_config=True).hydra.sweeper.params)
            for e in (name, f"tiny_{name}")
        )
    assert set(paper) == set(tiny) and tiny["model"] == "tiny"
    assert {k: v for k, v in paper.items() if k != "model"} == {k: v for k, v in tiny.items() if k != "model"}


def test_plan_on_slurm_prints_each_jobs_resources_and_splits_shapes_into_arrays():
    import doctest

    import rlvr.launcher

    assert doctest.testmod(rlvr.launcher).failed == 0
    runs = plan_runs(["experiment=fig3", "hydra/launcher=slurm"])
    shapes = {cfg.model.name: run.sbatch for run, cfg in runs}
    # OLMo 2 7B and Llama 3.1 8B: 8 GPUs, one task each; Llama 3.2 3B: 4 (conf/model/*.yaml resources.gpus)
    assert shapes["olmo2_7b"].startswith("nodes=1 gpus/node=8 tasks/node=8") and "time=1440min" in shapes["olmo2_7b"]
    assert shapes["llama3.2_3b"].startswith("nodes=1 gpus/node=4 tasks/node=4")
    from rlvr.plan import format_plan

    assert "2 job array(s) on SLURM: one per resource shape" in format_plan([r for r, _ in runs], "fig3")
    tiny = plan_runs(["experiment=tiny_fig1", "hydra/launcher=slurm_cpu"])
    assert {run.sbatch for run, _ in tiny} == {"nodes=1 tasks/node=2 cpus/task=1 mem(GB)=8 time=60min"}


def test_tiny_mechanism_runs_two_at_a_time_unless_the_command_names_a_launcher():
    from hydra import compose, initialize_config_dir

    def launcher(*overrides: str) -> str:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("config", overrides=list(overrides), return_hydra_config=True).hydra.launcher._target_

    assert launcher("experiment=tiny_mechanism").endswith("JoblibLauncher")
    assert launcher("experiment=tiny_mechanism", "hydra/launcher=slurm_cpu") == "hydra_plugins.rlvr_launcher.SlurmLauncher"
    assert launcher("experiment=tiny_fig1").endswith("BasicLauncher")


def test_tiny_mechanism_switches_only_the_clip_between_random_settings():
    """3 variants x 4 settings x 5 seeds. The random settings differ in the objective and nothing else, except
    one update per rollout, whose mini-batch is the whole rollout (128 samples): 1 optimizer step, not 8."""
    runs = [cfg for _, cfg in plan_runs(["experiment=tiny_mechanism"])]
    assert {cfg.model.name for cfg in runs} == {"tiny_code", "tiny_bad_code", "tiny_no_code"}
    assert sorted({cfg.seed for cfg in runs}) == [0, 1, 2, 3, 4]
    settings = {(cfg.control_name, cfg.reward.label, cfg.clip.name, cfg.clip.mode) for cfg in runs}
    assert settings == {("random", "random", "standard", "standard"), ("random_ratio", "random", "none", "none"),
                        ("random_one_update", "random", "one_update_minibatch", "standard"),
                        ("ground_truth", "ground_truth", "standard", "standard")}  # fmt: skip
    for cfg in runs:
        alg = cfg.algorithm
        assert (alg.rollout_batch_size, alg.group_size, alg.lr, alg.adam_eps) == (8, 16, 1e-3, 1e-3)
        steps = alg.rollout_batch_size * alg.group_size // alg.mini_batch_size
        assert steps == (1 if cfg.control_name == "random_one_update" else 8)
        assert cfg.eval.name == "heldout_sampled" and cfg.eval.benchmarks["heldout"].temperature == 1.0
        assert cfg.algorithm.name == "grpo_official" and cfg.trainer.total_steps == 30
