"""``python -m benchmarks.bench_step``: our GRPO step against TRL's ``GRPOTrainer`` at equal settings.

    python -m benchmarks.bench_step                               # the tiny default: 3 warm-up + 10 timed steps each
    python -m benchmarks.bench_step trainer.single_process_zero_stage=null   # ours on ZeRO-3 (overrides: both sides)
    python -m benchmarks.bench_step --profile                     # also cProfile the timed steps (slower)

Both sides train the tiny model (its cached warm start, ``rlvr.models``) with its character tokenizer on the tiny
arithmetic data and our ground-truth reward, with the config's batch shape: R prompts x G samples per step,
R*G/M optimizer steps of M samples, micro-batches of m, temperature, new tokens, learning rate, Adam and clipping
(``trl_settings`` says how each field maps to ``GRPOConfig``, and refuses what TRL cannot match). Ours is
``GRPOTrainer.step`` as ``python -m rlvr.train`` runs it (DeepSpeed, HF generate on a copy of the policy); TRL's
is one generation and its R*G/M optimizer steps inside ``Trainer.train`` (no DeepSpeed, generating with the
policy itself), paused by a callback after each.

Each side runs in a worker process of its own, and the two alternate step by step (who goes first alternates
too), so that load from other jobs falls on both alike. Not one process: DeepSpeed ZeRO-3 over several
ranks replaces ``torch.nn.functional.linear`` for the whole process, and gloo's threads leave OpenMP thread teams behind
that make every later parallel kernel of the process wait passively (3x slower small matmuls), so a TRL
trainer next to ours would pay for our engine. On a machine that other jobs share, add ``--threads 1``: an
OpenMP team with a thread per core spins at every barrier while another job holds a core (on 2 cores next to
one busy job, TRL's step went from 0.4 to 17 s, ours from 0.4 to 6 s).

Phases, as medians over the timed steps: generation (ours: ``perf/rollout_s``; TRL: ``_generate``), old
log-probs (ours: ``logprobs_of`` before the update; TRL: its no-grad ``_get_per_token_logps_and_entropies``),
update (ours: ``update``; TRL: the rest of its step: forward/backward, clipping, optimizer steps, its
logging), grading (ours: ``perf/reward_s``; TRL: ``_calculate_rewards``), other (the rest of the step).
Needs TRL: ``pip install -r requirements-bench.txt``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

PHASES = ("generation", "old_logprobs", "update", "grading", "other")
PHASE_NAMES = {"generation": "generation", "old_logprobs": "old log-probs", "update": "update", "grading": "grading",
               "other": "other"}  # fmt: skip
# Our loss aggregation -> TRL's loss_type with the same weighting of tokens within one optimizer step.
LOSS_TYPES = {
    "seq-mean-token-mean": "grpo",  # each response's token mean, responses weigh the same
    "token-mean": "dapo",  # every token of the mini-batch weighs the same
    "seq-mean-token-sum-norm": "dr_grpo",  # token sums over a constant (max_completion_length)
}
# Our advantage estimator -> TRL's scale_rewards.
SCALE_REWARDS = {"grpo": "group", "dr_grpo": "none"}


# ---------------------------------------------------------------------------------------- equal settings
def trl_settings(cfg) -> dict[str, Any]:
    """``GRPOConfig`` keyword arguments for the settings of our run config ``cfg`` (a ``RunConfig``), for one
    process: one generation of R*G samples, cut into micro-batches of m, M/m of them per optimizer step.

    Known differences that stay: TRL's group std has eps 1e-4 (ours: ``algorithm.advantage.eps``), and it
    generates with the policy itself where ours pushes the weights into a copy first.
    """
    from rlvr.build import build_reward

    alg, clip, trainer = cfg.algorithm, cfg.clip, cfg.trainer
    refused = []
    if alg.loss_aggregation not in LOSS_TYPES:
        refused.append(f"algorithm.loss_aggregation={alg.loss_aggregation!r} (TRL has: {', '.join(LOSS_TYPES)})")
    if alg.advantage.estimator not in SCALE_REWARDS:
        refused.append(f"algorithm.advantage.estimator={alg.advantage.estimator!r}")
    if alg.advantage.whiten:
        refused.append("algorithm.advantage.whiten=true")
    if clip.mode != "standard":
        refused.append(f"clip.mode={clip.mode!r} (TRL clips like clip.mode=standard)")
    if build_reward(cfg).votes_per_prompt() is not None:
        refused.append(f"reward {cfg.reward['name']!r}, which votes over more samples than the group")
    if cfg.relabel is not None:
        refused.append("a reward that relabels the data")
    samples, mini, micro = alg.rollout_batch_size * alg.group_size, alg.mini_batch_size, trainer.micro_batch_size
    if samples % mini or mini % micro:
        refused.append(f"batch sizes {samples} / {mini} / {micro} that do not divide")
    if refused:
        raise ValueError("TRL's GRPOTrainer cannot match " + "; ".join(refused))
    return {
        "num_generations": alg.group_size,
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": mini // micro,
        "steps_per_generation": samples // micro,  # one generation of R*G samples: R*G/M optimizer steps
        "num_iterations": alg.epochs_per_rollout,
        "max_completion_length": alg.max_response_len,
        "temperature": alg.temperature,
        "top_p": alg.top_p,
        "top_k": 0,
        "repetition_penalty": 1.0,
        "learning_rate": alg.lr,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "adam_beta1": alg.betas[0],
        "adam_beta2": alg.betas[1],
        "adam_epsilon": alg.adam_eps,
        "weight_decay": alg.weight_decay,
        "max_grad_norm": alg.grad_clip,
        "beta": alg.kl.coef,  # 0: no KL and no reference model, as in the paper
        "entropy_coef": alg.entropy_coef,
        "epsilon": clip.low,
        "epsilon_high": clip.high,
        "loss_type": LOSS_TYPES[alg.loss_aggregation],
        "scale_rewards": SCALE_REWARDS[alg.advantage.estimator],
        "mask_truncated_completions": False,
        "use_vllm": False,
        "bf16": cfg.model.dtype == "bfloat16",
        "fp16": cfg.model.dtype == "float16",
        "gradient_checkpointing": cfg.model.gradient_checkpointing,
        "seed": cfg.seed,
    }


def optimizer_steps_per_rollout(settings: dict[str, Any]) -> int:
    """TRL's optimizer steps per generation: micro-batches per generation x iterations / accumulation.

    >>> optimizer_steps_per_rollout({"steps_per_generation": 4, "num_iterations": 1, "gradient_accumulation_steps": 2})
    2
    """
    micro_steps = settings["steps_per_generation"] * settings["num_iterations"]
    return micro_steps // settings["gradient_accumulation_steps"]


# ---------------------------------------------------------------------------------------- timings
class PhaseClock:
    """Wall time spent in wrapped methods, per phase, since the last ``take``; ``when`` (called with the
    method's arguments) decides whether a call counts."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.open: set[str] = set()  # phases running now

    def wrap(self, obj: Any, method: str, phase: str, when: Callable[..., bool] | None = None) -> None:
        inner = getattr(obj, method)

        def timed(*args, **kwargs):
            if when is not None and not when(*args, **kwargs):
                return inner(*args, **kwargs)
            self.open.add(phase)
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.open.discard(phase)
                self.spent[phase] = self.spent.get(phase, 0.0) + time.perf_counter() - started

        setattr(obj, method, timed)

    def take(self) -> dict[str, float]:
        spent, self.spent = self.spent, {}
        return spent


def with_other(times: dict[str, float]) -> dict[str, float]:
    """``times`` with ``other``: the step's time outside the named phases.

    >>> with_other({"step": 1.0, "generation": 0.25, "update": 0.5})["other"]
    0.25
    """
    named = sum(v for k, v in times.items() if k in PHASES and k != "other")
    return {**times, "other": times["step"] - named}


def medians(steps: list[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over steps (a phase a step did not report counts as 0 there).

    >>> medians([{"step": 1.0, "grading": 0.1}, {"step": 3.0}, {"step": 2.0, "grading": 0.3}])
    {'step': 2.0, 'grading': 0.1}
    """
    keys = dict.fromkeys(k for s in steps for k in s)
    return {k: statistics.median(s.get(k, 0.0) for s in steps) for k in keys}


def report(ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> str:
    """The table of medians (seconds per step) and the speed ratio: the median over rounds of TRL's step time
    over ours in the same round (neighbours in time share the machine's load, which drifts).

    >>> print(report([{"step": 0.5, "update": 0.2}, {"step": 2.0}], [{"step": 1.0, "update": 0.6}, {"step": 3.0}]))
    median s/step       ours     TRL   TRL/ours
    step               1.250   2.000      1.60x
    generation             -       -
    old log-probs          -       -
    update             0.100   0.300      3.00x
    grading                -       -
    other                  -       -
    ours is 1.75x as fast as TRL (median over rounds; a step took ours 0.500-2.000 s, TRL 1.000-3.000 s)
    """
    mine, trl = medians(ours), medians(theirs)
    cell = lambda v: f"{v:>8.3f}" if v is not None else f"{'-':>8}"  # noqa: E731
    lines = [f"{'median s/step':<16}{'ours':>8}{'TRL':>8}{'TRL/ours':>11}"]
    for key in ("step", *PHASES):
        a, b = mine.get(key), trl.get(key)
        ratio = f"{b / a:>10.2f}x" if a and b is not None else ""
        lines.append(f"{PHASE_NAMES.get(key, key):<16}{cell(a)}{cell(b)}{ratio}")
    paired = statistics.median(t["step"] / o["step"] for o, t in zip(ours, theirs))
    spread = lambda steps: f"{min(s['step'] for s in steps):.3f}-{max(s['step'] for s in steps):.3f} s"  # noqa: E731
    lines.append(f"ours is {paired:.2f}x as fast as TRL (median over rounds; a step took ours {spread(ours)}, "
                 f"TRL {spread(theirs)})")  # fmt: skip
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- the two sides
def compose_run(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    import rlvr  # noqa: F401  (registers the resolvers and schemas)
    from rlvr.config import to_run_config
    from rlvr.plan import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return to_run_config(compose("config", overrides=overrides))


class Gate:
    """A worker's end of the pipe: hands a step's times over and says whether to run another step. With
    ``profile_after``, cProfile runs from that many steps on."""

    def __init__(self, conn, profile_after: int | None) -> None:
        self.conn, self.profile_after = conn, profile_after
        self.steps = 0
        self.profiler = cProfile.Profile() if profile_after is not None else None

    def next(self, times: dict[str, float] | None) -> bool:
        if self.profiler is not None and self.steps > self.profile_after:
            self.profiler.disable()
        if times is not None:
            self.conn.send({"times": times})
        if self.conn.recv() != "step":
            return False
        self.steps += 1
        if self.profiler is not None and self.steps > self.profile_after:
            self.profiler.enable()
        return True


def run_ours(overrides: list[str], out: Path, gate: Gate) -> None:
    """Our trainer, built as ``python -m rlvr.train`` builds it (a world of one), one step per go."""
    from rlvr.train.__main__ import prepare_environment

    prepare_environment()
    import torch

    from rlvr.build import build_training
    from rlvr.train import distributed as D
    from rlvr.train.loop import GRPOTrainer
    from rlvr.train.plan import plan_step
    from rlvr.train.policy import count_parameters

    cfg = compose_run(overrides)
    dist = D.setup_distributed(D.choose_device(cfg.trainer.device))
    trainer = GRPOTrainer(build_training(cfg, plan_step(cfg, dist.world_size), dist, out / "run"))
    clock = PhaseClock()
    clock.wrap(trainer, "update", "update")
    # the old-log-prob pass; not the reference's log-probs, which update() computes
    clock.wrap(trainer, "logprobs_of", "old_logprobs", when=lambda *a, **k: "update" not in clock.open)
    gate.conn.send({"facts": {
        "engine": f"DeepSpeed ZeRO-{trainer.policy.zero_optimization_stage()}, {type(trainer.engine).__name__}",
        "parameters": count_parameters(trainer.policy.module), "threads": torch.get_num_threads(),
    }})  # fmt: skip
    times = None
    while gate.next(times):
        started = time.perf_counter()
        metrics = trainer.step(gate.steps)
        times = {"step": time.perf_counter() - started, **clock.take()}
        times |= {"generation": metrics["perf/rollout_s"], "grading": metrics["perf/reward_s"]}
        times = with_other(times)
    trainer.run.close()


def run_trl(overrides: list[str], out: Path, gate: Gate) -> None:
    """TRL's ``GRPOTrainer`` on the same model, data and reward, in ``Trainer.train`` (in this thread: OpenMP
    work from a second thread would slow every kernel, see above); a callback waits for the go after each
    generation's optimizer steps."""
    import torch
    import trl
    from datasets import Dataset
    from transformers import TrainerCallback

    from rlvr.build import build_data, build_reward, fitting_problems
    from rlvr.data.prompts import format_prompt, resolve_prompt
    from rlvr.hf import load_causal_lm, load_tokenizer
    from rlvr.models import resolve_model_path

    cfg = compose_run(overrides)
    settings = trl_settings(cfg)
    per_rollout = optimizer_steps_per_rollout(settings)
    model_path = resolve_model_path(cfg.model, cfg.paths.cache_dir)
    tokenizer = load_tokenizer(model_path, trust_remote_code=cfg.model.trust_remote_code)
    model = load_causal_lm(model_path, dtype=cfg.model.dtype, trust_remote_code=cfg.model.trust_remote_code)
    prompt = resolve_prompt(cfg.model.prompt, cfg.prompt)
    data = build_data(cfg, engine=None, tokenizer=tokenizer, prompt=prompt, is_main=True)
    alg = cfg.algorithm
    problems = fitting_problems(data.train, prompt, tokenizer, alg.max_prompt_len, alg.rollout_batch_size)
    dataset = Dataset.from_list(
        [{"prompt": format_prompt(p.problem, prompt, tokenizer), "answer": p.answer, "prompt_id": p.id}
         for p in problems]
    )
    reward, group = build_reward(cfg), alg.group_size

    def reward_fn(completions, answer, prompt_id, trainer_state=None, **_):
        """Our reward with the context our trainer gives it (a TRL batch holds whole groups, in order)."""
        step = 1 + (trainer_state.global_step // per_rollout if trainer_state is not None else 0)
        return reward(
            completions, answer, seed=cfg.seed, step=step, prompt_ids=prompt_id,
            sample_indices=[i % group for i in range(len(completions))], answer_format=prompt.answer_format,
            vote_pools=[completions[s : s + group] for s in range(0, len(completions), group)],
            report=lambda *_: None,
        )  # fmt: skip

    reward_fn.__name__ = reward.label
    clock, started = PhaseClock(), [0.0]

    class Pause(TrainerCallback):
        """After each generation's optimizer steps: hand the step's times over, wait for the next go."""

        def on_train_begin(self, args, state, control, **kwargs):
            control.should_training_stop = not gate.next(None)
            started[0] = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step % per_rollout:
                return
            times = {"step": time.perf_counter() - started[0], **clock.take()}
            times["update"] = times["step"] - times.pop("prepare", 0.0)  # forward/backward, clip, optimizer, logging
            control.should_training_stop = not gate.next(with_other(times))
            started[0] = time.perf_counter()

    args = trl.GRPOConfig(
        output_dir=str(out / "trl"), max_steps=10**6, use_cpu=True, report_to="none", save_strategy="no",
        logging_steps=per_rollout, disable_tqdm=True, log_completions=False, **settings,
    )  # fmt: skip
    trainer = trl.GRPOTrainer(model=model, reward_funcs=reward_fn, args=args, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[Pause()])  # fmt: skip
    clock.wrap(trainer, "_prepare_inputs", "prepare")  # generation, old log-probs, grading, batching, advantages
    clock.wrap(trainer, "_generate", "generation")
    no_grad = lambda *a, **k: not torch.is_grad_enabled()  # noqa: E731  (the old-log-prob pass, not the loss's)
    clock.wrap(trainer, "_get_per_token_logps_and_entropies", "old_logprobs", when=no_grad)
    clock.wrap(trainer, "_calculate_rewards", "grading")
    gate.conn.send({"facts": {
        "engine": f"TRL {trl.__version__} GRPOTrainer (loss_type={settings['loss_type']}, beta={settings['beta']}, "
                  f"{per_rollout} optimizer steps per generation), no DeepSpeed",
        "parameters": sum(p.numel() for p in model.parameters()), "threads": torch.get_num_threads(),
    }})  # fmt: skip
    trainer.train()


SIDES = {"ours": run_ours, "trl": run_trl}


def worker(side: str, conn, overrides: list[str], out: Path, profile_after: int | None, threads: int | None) -> None:
    """One side in a process of its own: answers each "step" with that step's times until "stop". Everything
    libraries print goes to ``<out>/<side>.log``."""
    if threads is not None:  # before torch is imported: OpenMP reads it once
        os.environ["OMP_NUM_THREADS"] = str(threads)
    log = open(out / f"{side}.log", "a")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    gate = Gate(conn, profile_after)
    try:
        SIDES[side](overrides, out / side, gate)
        if gate.profiler is not None:
            gate.profiler.dump_stats(out / f"{side}.pstats")
        conn.send({"closed": True})
    except BaseException:
        conn.send({"error": traceback.format_exc()})


class Worker:
    def __init__(self, ctx, side: str, overrides: list[str], out: Path, profile_after: int | None,
                 threads: int | None) -> None:  # fmt: skip
        self.side, self.log = side, out / f"{side}.log"
        self.conn, theirs = ctx.Pipe()
        args = (side, theirs, overrides, out, profile_after, threads)
        self.process = ctx.Process(target=worker, args=args, name=f"bench-{side}")
        self.process.start()

    def answer(self) -> dict[str, Any]:
        message = self.conn.recv()
        if "error" in message:
            raise RuntimeError(f"the {self.side} worker failed (its output: {self.log}):\n{message['error']}")
        return message

    def step(self) -> dict[str, float]:
        self.conn.send("step")
        return self.answer()["times"]

    def stop(self) -> None:
        self.conn.send("stop")
        self.answer()
        self.process.join(timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per side first")
    parser.add_argument("--out", type=Path, default=None, help="logs, runs, --profile files (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="write every step's times here")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed steps: <out>/{ours,trl}.pstats")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per side (default: torch's: all cores)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the run config (both sides)")
    args = parser.parse_args(argv)
    import multiprocessing

    from rlvr.models import resolve_model_path

    cfg = compose_run(args.overrides)
    settings = trl_settings(cfg)  # refuses settings TRL cannot match before anything starts
    resolve_model_path(cfg.model, cfg.paths.cache_dir)  # builds the tiny model once, before the workers load it
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_step_"))
    out.mkdir(parents=True, exist_ok=True)
    alg = cfg.algorithm
    print(
        f"GRPO step, model {cfg.model.name}: {alg.rollout_batch_size} prompts x {alg.group_size} samples, "
        f"mini-batch {alg.mini_batch_size}, micro-batch {cfg.trainer.micro_batch_size}, {alg.max_response_len} new "
        f"tokens, lr {alg.lr:g}, {optimizer_steps_per_rollout(settings)} optimizer steps per rollout, "
        f"loss {alg.loss_aggregation} (TRL: {settings['loss_type']}), reward {cfg.reward['name']}"
    )
    ctx = multiprocessing.get_context("spawn")
    profile_after = args.warmup if args.profile else None
    workers = [Worker(ctx, side, args.overrides, out, profile_after, args.threads) for side in SIDES]
    try:
        for w in workers:
            facts = w.answer()["facts"]
            threads = f"{facts['threads']} thread" + "s" * (facts["threads"] != 1)
            print(f"  {w.side:>4}: {facts['engine']}; {facts['parameters'] / 1e6:.2f} M parameters, {threads}")
        times: dict[str, list[dict[str, float]]] = {w.side: [] for w in workers}
        for number in range(args.warmup + args.steps):
            for w in workers if number % 2 == 0 else workers[::-1]:  # who goes first alternates
                times[w.side].append(w.step())
        for w in workers:
            w.stop()
    finally:  # a worker that failed leaves the other waiting for its next step
        for w in workers:
            if w.process.is_alive():
                w.process.terminate()
    timed = {side: steps[args.warmup :] for side, steps in times.items()}
    print(f"{args.warmup} warm-up + {args.steps} timed steps each, alternating, one process per side (logs: {out})")
    print(report(timed["ours"], timed["trl"]))
    if args.json is not None:
        args.json.write_text(json.dumps({"settings": settings, "overrides": args.overrides, "steps": timed}, indent=1))
    if args.profile:
        print(f"profiles: python -m pstats {out / 'ours.pstats'} (and trl.pstats); cProfile slows the timed steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
