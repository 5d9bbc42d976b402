"""From a typed config to the parts of a run: the one module that puts models, rollout engines, data,
rewards and benchmarks together.

    build_training(cfg, plan, dist, run_path)  -> TrainingParts   (python -m rlvr.train)
    build_evaluation(cfg)                      -> EvaluationParts (python -m rlvr.evaluate)
    build_labelling(cfg)                       -> LabellingParts  (python -m rlvr.label)

Order matters on GPUs: the rollout engine is built before the DeepSpeed policy (vLLM sizes its memory
share against what is free; an HF engine must hold a whole, unpartitioned copy of the model).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra.utils import instantiate

from rlvr.config import LabelConfig, RunConfig, to_yaml
from rlvr.data import Problem, ProblemSet
from rlvr.data.majority_vote import label_problems, write_labels
from rlvr.data.prompts import Prompt, encode_prompt, resolve_prompt
from rlvr.evaluate import Benchmark, load_benchmarks
from rlvr.hf import load_tokenizer, torch_dtype
from rlvr.logs import third_party_output_to_log
from rlvr.models import resolve_model_path
from rlvr.outputs import run_meta
from rlvr.rewards import GRADER_VERSION, Reward
from rlvr.rollout import RolloutEngine, build_engine
from rlvr.seeding import derive_seed, seed_everything
from rlvr.train import checkpoint
from rlvr.train import distributed as D
from rlvr.train.loggers import build_logger
from rlvr.train.parts import TrainingParts
from rlvr.train.plan import StepPlan
from rlvr.train.policy import count_parameters, init_policy, load_reference
from rlvr.train.resume import Attempt, ResumeError, config_hash
from rlvr.train.rundir import RunDir, check_free_space, check_writable, run_disk_bytes

log = logging.getLogger(__name__)


@dataclass
class EvaluationParts:
    model_path: str
    tokenizer: Any
    engine: RolloutEngine
    prompt: Prompt
    benchmarks: list[Benchmark]


@dataclass
class LabellingParts:
    model_path: str
    tokenizer: Any
    engine: RolloutEngine
    prompt: Prompt
    data: ProblemSet


# ---------------------------------------------------------------------------------------- the commands
def build_training(
    cfg: RunConfig, plan: StepPlan, dist: D.DistInfo, run_path: str | Path, *, resume_from: int | None = None
) -> TrainingParts:
    """The parts of a training run; with ``resume_from``, the policy, optimizer and random states of that
    step's checkpoint in ``run_path`` (``rlvr.train.resume.resume_point`` says which, and checks it may)."""
    config_yaml = to_yaml(cfg)
    check_writable(run_path, dist.rank)  # before minutes of loading
    model_path = resolve_model_path(cfg.model, cfg.paths.cache_dir)  # builds the tiny model once
    tokenizer, engine = build_rollout(cfg, model_path, str(dist.device))
    # After the engine: vLLM seeds the global random states with its own seed, the same on every rank.
    seed_everything(derive_seed(cfg.seed, "init", dist.rank))
    with third_party_output_to_log(cfg.verbose):
        policy, ds_config = init_policy(model_path, cfg.model, cfg.algorithm, cfg.trainer, dist.world_size)
        reference = None
        if cfg.algorithm.kl.coef > 0:  # the paper uses none; loaded only when asked for
            reference = load_reference(
                model_path, ds_config, dtype=cfg.model.dtype, trust_remote_code=cfg.model.trust_remote_code
            )
        start = None if resume_from is None else checkpoint.load(policy, Path(run_path), resume_from)
    if start is not None and start.config_hash != config_hash(config_yaml):
        raise ResumeError(f"the checkpoint of step {start.step} in {run_path} was written by another config")
    parameters, dtype_bytes = count_parameters(policy.module), torch_dtype(cfg.model.dtype).itemsize
    check_free_space(run_path, run_disk_bytes(parameters, dtype_bytes, cfg.trainer, start_step=resume_from or 0))
    reward = build_reward(cfg)
    prompt = resolve_prompt(cfg.model.prompt, cfg.prompt)
    data = build_data(cfg, engine=engine, tokenizer=tokenizer, prompt=prompt, is_main=dist.is_main)
    # Every relabelling keeps the data's held-out problems, so eval=heldout needs no second load of the data.
    benchmarks = load_benchmarks(cfg.eval, built_data=(cfg.data, data))
    problems = fitting_problems(data.train, prompt, tokenizer, cfg.algorithm.max_prompt_len, cfg.algorithm.rollout_batch_size)
    logger = build_logger(cfg.logger, run_dir=Path(run_path), run_name=cfg.name, config=yaml.safe_load(config_yaml),
                          resume_step=resume_from, is_main=dist.is_main)  # fmt: skip
    run_dir = RunDir(run_path, is_main=dist.is_main, logger=logger)
    run_dir.write_start(
        config_yaml,
        run_meta(
            world_size=dist.world_size,
            model_path=model_path,
            num_parameters=count_parameters(policy.module),
            reward=reward.spec(),
            data={"name": data.name, "train": len(data.train), "heldout": len(data.heldout), "skipped_rows": data.skipped},
            prompt=prompt.describe(),
            eval={b.name: b.describe() for b in benchmarks},
            grader_version=GRADER_VERSION,
        ),
        asdict(Attempt.now(restart=run_dir.attempts, resumed_from_step=resume_from)),
    )
    return TrainingParts(
        config=cfg, plan=plan, dist=dist, run_dir=run_dir, tokenizer=tokenizer, engine=engine, policy=policy,
        reference=reference, reward=reward, prompt=prompt, problems=problems, benchmarks=benchmarks,
        config_hash=config_hash(config_yaml), start=start,
    )  # fmt: skip


def build_evaluation(cfg: RunConfig) -> EvaluationParts:
    benchmarks = load_benchmarks(cfg.eval)  # a missing data file fails before any model loads
    model_path = evaluated_model_path(cfg)
    tokenizer, engine = build_rollout(cfg, model_path, D.choose_device(cfg.trainer.device))
    return EvaluationParts(model_path, tokenizer, engine, resolve_prompt(cfg.model.prompt, cfg.prompt), benchmarks)


def build_labelling(cfg: RunConfig) -> LabellingParts:
    model_path = resolve_model_path(cfg.model, cfg.paths.cache_dir)
    tokenizer, engine = build_rollout(cfg, model_path, D.choose_device(cfg.trainer.device))
    prompt = resolve_prompt(cfg.model.prompt, cfg.prompt)
    return LabellingParts(model_path, tokenizer, engine, prompt, instantiate(cfg.data, _convert_="all"))


# ---------------------------------------------------------------------------------------- the parts
def build_rollout(cfg: RunConfig, model_path: str, device: str) -> tuple[Any, RolloutEngine]:
    """The tokenizer at ``model_path`` and the run's engine for it (the model's dtype and remote-code
    setting): what the trainer, the labeller and the evaluator all start from."""
    trust = cfg.model.trust_remote_code
    tokenizer = load_tokenizer(model_path, trust_remote_code=trust)
    engine = build_engine(cfg.engine, model_path, tokenizer, dtype=cfg.model.dtype, trust_remote_code=trust, device=device)
    return tokenizer, engine


def build_reward(cfg: RunConfig) -> Reward:
    """The ``reward`` config's reward, its parameters checked against the function's signature, and its votes
    per prompt (``ttrl``'s ``n_votes``) against the group it trains on."""
    reward = instantiate(cfg.reward, _convert_="all")
    votes, group = reward.votes_per_prompt(), cfg.algorithm.group_size
    if votes is not None and votes < group:
        raise ValueError(
            f"reward {reward.label!r} votes over {votes} samples per prompt (reward.n_votes) but trains on "
            f"algorithm.group_size={group} of them: n_votes must be at least group_size"
        )
    return reward


def build_data(cfg: RunConfig, *, engine: RolloutEngine, tokenizer: Any, prompt: Prompt, is_main: bool) -> ProblemSet:
    """The data config's problems, relabelled when the reward asks for it (majority_vote, incorrect, one_shot)."""
    data = instantiate(cfg.data, _convert_="all")
    if cfg.relabel is not None:
        relabel = instantiate(cfg.relabel, _convert_="all")
        labels = cfg.relabel.get("labels")
        if labels is not None and cfg.label.make_if_missing:
            make_labels_if_missing(Path(labels["source"]), data.train, engine, tokenizer, prompt, cfg.label,
                                   seed=cfg.seed, is_main=is_main)  # fmt: skip
        data = relabel(data)
    if data.skipped and is_main:
        log.info("data %r: skipped %d unusable rows (see the warnings above)", data.name, data.skipped)
    return data


def make_labels_if_missing(
    path: Path, problems: list[Problem], engine: RolloutEngine, tokenizer: Any, prompt: Prompt, label: LabelConfig,
    *, seed: int, is_main: bool,
) -> None:  # fmt: skip
    """Label ``problems`` with this model's own majority votes when ``path`` has none (``label.make_if_missing``:
    the tiny model); rank 0 labels, the others wait."""
    if not path.exists() and is_main:
        log.info("no majority-vote labels at %s: labelling %s problems first", path, label.num_problems)
        rows, report = label_problems(engine, tokenizer, problems, prompt, label, seed=seed)
        write_labels(path, rows, report)
    D.barrier()


def fitting_problems(problems, prompt: Prompt, tokenizer: Any, max_prompt_len: int, rollout_batch_size: int) -> list[Problem]:
    """Training problems whose prompt fits ``max_prompt_len`` tokens (the others are dropped, and counted)."""
    kept = [p for p in problems if len(encode_prompt(p.problem, prompt, tokenizer)) <= max_prompt_len]
    if len(kept) < len(problems):
        log.info("dropped %d of %d training prompts longer than %d tokens", len(problems) - len(kept), len(problems),
                 max_prompt_len)  # fmt: skip
    if len(kept) < rollout_batch_size:
        raise ValueError(
            f"only {len(kept)} training prompts fit algorithm.max_prompt_len={max_prompt_len}; "
            f"need at least rollout_batch_size={rollout_batch_size}"
        )
    return kept


def evaluated_model_path(cfg: RunConfig) -> str:
    """The weights to evaluate: ``checkpoint`` when given (checked against the run it comes from), else the model's."""
    if cfg.checkpoint is None:
        return resolve_model_path(cfg.model, cfg.paths.cache_dir)
    path = Path(cfg.checkpoint)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"checkpoint={path}: no config.json there; expected a run's <run dir>/checkpoints/step_<n> "
            "(or any folder saved with save_pretrained)"
        )
    run_config = path.parent.parent / "config.yaml"
    if run_config.is_file():
        trained = (yaml.safe_load(run_config.read_text()) or {}).get("model", {}).get("name")
        if trained is not None and trained != cfg.model.name:
            raise ValueError(
                f"checkpoint={path} was trained from model {trained!r} (its run's config.yaml), but model="
                f"{cfg.model.name!r}: add model={trained} so that its prompt format and settings are used"
            )
    return str(path)
