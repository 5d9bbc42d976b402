"""The GRPO loop: generate -> score -> advantages -> old log-probs -> mini-batch updates -> log.

One step, with R = rollout_batch_size prompts and G = group_size samples each:
  1. push the policy's weights into the rollout engine; sample G responses for each of R prompts
     (each rank samples R / world_size prompts: whole groups stay on one rank);
  2. score them with the configured reward, and always with the ground-truth grader and the
     code-reasoning rule too (the paper's argument is about those, whatever the training reward);
  3. group-normalised advantages; log-probs of the sampling policy ("old") computed once;
  4. shuffle, split into mini-batches of M samples, one optimizer step per mini-batch (micro-batches
     accumulate inside it), ``epochs_per_rollout`` passes: R*G/M x epochs optimizer steps per rollout;
  5. write metrics, rollouts and (every ``checkpoint_every`` steps) a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from rlvr.algorithms import ADVANTAGE_ESTIMATORS, aggregate_loss, kl_penalty, policy_loss, zero_std_group_fraction
from rlvr.data import Problem, ProblemSet, PromptSampler, format_prompt
from rlvr.data.prompts import encode_prompt_text, resolve_prompt
from rlvr.evaluate import evaluate_benchmarks, flat_metrics, load_benchmarks, summarize_benchmarks
from rlvr.models import resolve_model_path
from rlvr.rewards import grade_responses, is_code_reasoning
from rlvr.rollout import Completion, SamplingParams, load_engine
from rlvr.seeding import derive_seed
from rlvr.train import distributed as D
from rlvr.train.batch import TokenBatch, make_token_batch, response_logprobs
from rlvr.train.plan import StepPlan, microbatch_loss_weight
from rlvr.train.rundir import RunDir
from rlvr.train.zero import deepspeed_config, full_parameters, load_policy, load_reference

log = logging.getLogger(__name__)


@dataclass
class Rollouts:
    """One step's samples on this rank; sample ``i`` of prompt ``p`` is row ``p * G + i``."""

    problems: list[Problem]  # per sample
    sample_indices: list[int]
    prompt_texts: list[str]
    prompt_tokens: list[list[int]]
    completions: list[Completion]

    @property
    def responses(self) -> list[str]:
        return [c.text for c in self.completions]


@dataclass
class Scores:
    rewards: torch.Tensor  # [N] training reward
    correct: torch.Tensor  # [N] bool, ground truth
    is_code: torch.Tensor  # [N] bool
    advantages: torch.Tensor  # [N]
    grader_timeouts: int


class GRPOTrainer:
    def __init__(self, cfg: DictConfig, run_path: str | Path, dist: D.DistInfo, plan: StepPlan) -> None:
        self.cfg, self.dist, self.plan = cfg, dist, plan
        self.alg, self.tcfg = cfg.algorithm, cfg.trainer
        self.run = RunDir(run_path, is_main=dist.is_main)
        torch.manual_seed(derive_seed(cfg.seed, "init", dist.rank))

        model_path = resolve_model_path(cfg.model, cfg.paths.cache_dir)  # builds the tiny model once
        # Built before any ZeRO-3 context exists, so that the engine's copy of the model stays whole.
        self.tokenizer, self.engine = load_engine(cfg, model_path, dist.device)
        ds_config = deepspeed_config(
            mini_batch_size=self.alg.mini_batch_size,
            micro_batch_size=self.tcfg.micro_batch_size,
            world_size=dist.world_size,
            zero_stage=self.tcfg.zero_stage,
            grad_clip=self.alg.grad_clip,
            dtype=cfg.model.dtype,
        )
        policy = load_policy(
            model_path,
            ds_config,
            dtype=cfg.model.dtype,
            trust_remote_code=cfg.model.trust_remote_code,
            gradient_checkpointing=cfg.model.gradient_checkpointing,
        )
        self.num_parameters = sum(getattr(p, "ds_numel", p.numel()) for p in policy.parameters())
        optimizer = torch.optim.AdamW(
            policy.parameters(), lr=self.alg.lr, betas=tuple(self.alg.betas), weight_decay=self.alg.weight_decay
        )
        import deepspeed

        self.policy, *_ = deepspeed.initialize(model=policy, optimizer=optimizer, config=ds_config)
        # Updates applied to the policy, and how many of them the engine's weights reflect (-1: never pushed).
        self._policy_version, self._engine_version = 0, -1
        self.reference = None
        if self.alg.kl.coef > 0:  # the paper uses none; loaded only when asked for
            self.reference = load_reference(
                model_path, ds_config, dtype=cfg.model.dtype, trust_remote_code=cfg.model.trust_remote_code
            )
        self.reward = instantiate(cfg.reward)
        self.prompt = resolve_prompt(cfg.model.prompt, cfg.get("prompt"))
        self.answer_format = self.prompt.get("answer_format") or "boxed"
        self.stop = tuple(self.prompt.get("stop") or ())  # e.g. "</answer>" for the R1 template
        advantage = OmegaConf.to_container(self.alg.advantage, resolve=True)
        self.advantage_fn = ADVANTAGE_ESTIMATORS.get(advantage.pop("estimator"))
        self.advantage_kwargs = advantage  # ddof, eps
        self.data = self._load_data()
        # Every relabelling keeps the data's held-out problems, so eval=heldout needs no second load of the data.
        self.benchmarks = load_benchmarks(cfg.eval, built_data=(cfg.data, self.data))
        self.train_problems = self._fitting_prompts(self.data.train)
        self.sampler = PromptSampler(len(self.train_problems), self.alg.rollout_batch_size, cfg.seed)
        self.run.write_start(
            cfg,
            world_size=dist.world_size,
            extra={
                "model_path": model_path,
                "num_parameters": self.num_parameters,
                "reward": self.reward.spec(),
                "data": {"name": self.data.name, "train": len(self.data.train), "heldout": len(self.data.heldout),
                         "skipped_rows": self.data.skipped},
                "prompt": self.prompt,
                "eval": {b.name: b.describe() for b in self.benchmarks},
            },
        )

    # ------------------------------------------------------------------ the loop
    def train(self) -> dict[str, float]:
        cfg, total = self.cfg, self.tcfg.total_steps
        self._say(f"model {cfg.model.name}: {self.num_parameters / 1e6:.2f} M parameters; {self.plan.describe()}")
        self._sync_weights()
        start_eval = self.evaluate(0)
        self._say(f"at start: {self._accuracies(start_eval)}")
        self.run.log_metrics(0, start_eval)
        bar = tqdm(range(1, total + 1), desc="GRPO", disable=not self.dist.is_main, dynamic_ncols=True)
        metrics: dict[str, float] = {}
        for step in bar:
            metrics = self.step(step)
            if self._evaluates_at(step):
                self._sync_weights()  # the engine still has the weights of before this step's update
                metrics.update(self.evaluate(step))
            if step == total:
                metrics["dist/replicas_identical"] = float(self.replicas_identical())
            self.run.log_metrics(step, metrics)
            if step % self.tcfg.checkpoint_every == 0 or step == total:
                self.save_checkpoint(step)
            bar.set_postfix(reward=f"{metrics['train/reward_mean']:.2f}", acc=f"{metrics['train/accuracy']:.2f}")
        self._say(f"after {total} steps: {self._accuracies(metrics)}; run directory: {self.run.path}")
        return {"start/" + k: v for k, v in start_eval.items()} | metrics

    def step(self, step: int) -> dict[str, float]:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        with _timer(timings, "perf/sync_s"):
            self._sync_weights()  # a no-op when an evaluation after the last step already pushed them
        with _timer(timings, "perf/rollout_s"):
            rollouts = self.generate(step)
            # An engine that can (vLLM with enable_sleep_mode) gives its GPU memory to the update; it takes
            # it back by itself in load_weights / generate.
            if hasattr(self.engine, "sleep"):
                self.engine.sleep()
        with _timer(timings, "perf/reward_s"):
            scores = self.score(step, rollouts)
        with _timer(timings, "perf/train_s"):
            batch = make_token_batch(
                rollouts.prompt_tokens, [c.token_ids for c in rollouts.completions], self.engine.pad_id
            ).to(self.dist.device)
            actor = self.update(step, batch, scores.advantages.to(self.dist.device))
        metrics = self._rollout_metrics(rollouts, scores, batch) | actor
        timings["perf/step_s"] = time.perf_counter() - started
        metrics |= timings
        metrics["perf/tokens_per_s"] = metrics.pop("_tokens") / timings["perf/step_s"]
        self._log_rollouts(step, rollouts, scores)
        return metrics

    # ------------------------------------------------------------------ phases
    def generate(self, step: int) -> Rollouts:
        G = self.alg.group_size
        indices = self.sampler.indices(step)[self.dist.rank :: self.dist.world_size]
        problems = [self.train_problems[i] for i in indices]
        texts = [self._prompt_text(p) for p in problems]
        tokens = [self._encode(t) for t in texts]
        params = SamplingParams(
            n=G,
            temperature=self.alg.temperature,
            top_p=self.alg.top_p,
            max_new_tokens=self.alg.max_response_len,
            seed=derive_seed(self.cfg.seed, "rollout", step, self.dist.rank),
            stop=self.stop,
        )
        groups = self.engine.generate(tokens, params)
        return Rollouts(
            problems=[p for p in problems for _ in range(G)],
            sample_indices=[i for _ in problems for i in range(G)],
            prompt_texts=[t for t in texts for _ in range(G)],
            prompt_tokens=[t for t in tokens for _ in range(G)],
            completions=[c for group in groups for c in group],
        )

    def score(self, step: int, rollouts: Rollouts) -> Scores:
        answers = [p.answer for p in rollouts.problems]
        rewards = self.reward(
            rollouts.responses,
            answers,
            seed=self.cfg.seed,
            step=step,
            prompt_ids=[p.id for p in rollouts.problems],
            sample_indices=rollouts.sample_indices,
            answer_format=self.answer_format,
        )
        graded = grade_responses(rollouts.responses, answers, answer_format=self.answer_format)
        rewards_t = torch.tensor(rewards, dtype=torch.float32)
        return Scores(
            rewards=rewards_t,
            correct=torch.tensor(graded.correct, dtype=torch.bool),
            is_code=torch.tensor([is_code_reasoning(r) for r in rollouts.responses], dtype=torch.bool),
            advantages=self.advantage_fn(rewards_t, self.alg.group_size, **self.advantage_kwargs),
            grader_timeouts=sum(graded.timed_out),
        )

    @torch.no_grad()
    def logprobs_of(self, model, batch: TokenBatch) -> torch.Tensor:
        """Response log-probs under ``model`` (the policy before the update, or the reference), [N, T]."""
        micro = self.tcfg.micro_batch_size
        chunks = [
            response_logprobs(model, batch.select(slice(i, i + micro)), self.alg.temperature)[0]
            for i in range(0, len(batch), micro)
        ]
        return torch.cat(chunks)

    def update(self, step: int, batch: TokenBatch, advantages: torch.Tensor) -> dict[str, float]:
        alg, clip = self.alg, self.cfg.clip
        self._policy_version += 1
        old = self.logprobs_of(self.policy, batch)
        ref = self.logprobs_of(self.reference, batch) if self.reference is not None else None
        means: dict[str, list[float]] = defaultdict(list)
        extremes = {"ratio_max": -float("inf"), "ratio_min": float("inf")}
        entropy_sum = torch.zeros(())
        micro, mini = self.tcfg.micro_batch_size, self.plan.mini_batch_per_rank
        micro_batches_per_optimizer_step = self.plan.grad_accumulation * self.dist.world_size
        generator = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "shuffle", step, self.dist.rank))
        for epoch in range(alg.epochs_per_rollout):
            order = torch.randperm(len(batch), generator=generator)
            for start in range(0, len(batch), mini):
                mini_idx = order[start : start + mini]
                # Only token-mean weights micro-batches by tokens; skip the collective otherwise.
                mini_tokens = (
                    D.all_reduce_sum(batch.response_mask[mini_idx].sum().cpu()).item()
                    if alg.loss_aggregation == "token-mean"
                    else 0.0
                )
                for m0 in range(0, mini, micro):
                    idx = mini_idx[m0 : m0 + micro].to(self.dist.device)
                    part = batch.select(idx)
                    logprobs, entropy = response_logprobs(
                        self.policy, part, alg.temperature, with_entropy=True, entropy_grad=alg.entropy_coef != 0
                    )
                    loss, stats = policy_loss(
                        logprobs,
                        old[idx],
                        advantages[idx],
                        part.response_mask,
                        clip=clip.mode,
                        clip_low=clip.low,
                        clip_high=clip.high,
                        aggregation=alg.loss_aggregation,
                        max_response_len=alg.max_response_len,
                    )
                    loss = loss + self._regularisers(logprobs, entropy, ref[idx] if ref is not None else None, part, means)
                    weight = microbatch_loss_weight(
                        alg.loss_aggregation, part.response_mask.sum().item(), mini_tokens, micro_batches_per_optimizer_step
                    )
                    self.policy.backward(loss * weight)
                    self.policy.step()  # DeepSpeed steps the optimizer only at the accumulation boundary
                    means["actor/loss"].append(loss.item())
                    for key in ("clip_frac_low", "clip_frac_high", "clip_frac", "ratio_mean", "approx_kl"):
                        means[f"actor/{key}"].append(stats[key].item())
                    extremes["ratio_max"] = max(extremes["ratio_max"], stats["ratio_max"].item())
                    extremes["ratio_min"] = min(extremes["ratio_min"], stats["ratio_min"].item())
                    if epoch == 0:
                        entropy_sum += (entropy.detach() * part.response_mask).sum().cpu()
                means["actor/grad_norm"].append(_as_float(self.policy.get_global_grad_norm()))
        return self._reduce_actor(means, extremes, entropy_sum, batch.response_mask.sum().cpu())

    def _regularisers(self, logprobs, entropy, ref_logprobs, part: TokenBatch, means) -> torch.Tensor:
        """The optional KL penalty and entropy bonus, aggregated like the policy loss (0 when off)."""
        alg = self.alg
        total = torch.zeros((), device=logprobs.device)
        if ref_logprobs is not None:
            kl = aggregate_loss(
                kl_penalty(logprobs, ref_logprobs, alg.kl.estimator),
                part.response_mask,
                alg.loss_aggregation,
                alg.max_response_len,
            )
            means["actor/kl_ref"].append(kl.item())
            total = total + alg.kl.coef * kl
        if alg.entropy_coef:
            bonus = aggregate_loss(entropy, part.response_mask, alg.loss_aggregation, alg.max_response_len)
            total = total - alg.entropy_coef * bonus
        return total

    # ------------------------------------------------------------------ evaluation and checkpoints
    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        """The eval config's benchmarks on the current policy (problems sharded over ranks): per-sample
        records to ``eval/step_<n>.parquet``, and ``eval/<benchmark>/<metric>`` returned on every rank."""
        records = evaluate_benchmarks(
            self.engine,
            self.tokenizer,
            self.benchmarks,
            self.prompt,
            seed=derive_seed(self.cfg.seed, "eval", step),
            prompts_per_call=self.cfg.eval.prompts_per_call,
            shard=(self.dist.rank, self.dist.world_size),
            progress=self.dist.is_main,
        )
        gathered = D.gather_to_main(records)
        metrics = None
        if gathered is not None:
            records = [record | {"step": step} for part in gathered for record in part]
            self.run.log_eval(step, records)
            metrics = flat_metrics(summarize_benchmarks(records, self.benchmarks))
        return D.broadcast_from_main(metrics)

    def _evaluates_at(self, step: int) -> bool:
        every = self.cfg.eval.every_steps
        return step in (0, self.tcfg.total_steps) or bool(every and step % every == 0)

    def replicas_identical(self) -> bool:
        """Do all ranks hold the same full weights? (Each rank hashes what it gathers; rank 0 compares.)"""
        digest = hashlib.sha256()
        for name, tensor in full_parameters(self.policy.module):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
        digests = D.gather_to_main(digest.hexdigest())
        return D.broadcast_from_main(digests is not None and len(set(digests)) == 1)

    def save_checkpoint(self, step: int) -> Path:
        """HF-format weights, tokenizer and trainer state, moved into place only when complete."""
        staging = self.run.staging_dir(step)
        state_dict = {name: tensor.detach().cpu().clone() for name, tensor in full_parameters(self.policy.module)}
        if self.dist.is_main:
            self.policy.module.save_pretrained(staging, state_dict=state_dict)
            self.tokenizer.save_pretrained(staging)
            state = {"step": step, "seed": self.cfg.seed, "world_size": self.dist.world_size}
            (staging / "trainer_state.json").write_text(json.dumps(state) + "\n")
        D.barrier()
        return self.run.commit_checkpoint(step, staging)

    # ------------------------------------------------------------------ helpers
    def _sync_weights(self) -> None:
        """Push the policy's weights into the engine, unless it has them since the last update."""
        if self._engine_version == self._policy_version:
            return
        self.engine.load_weights(full_parameters(self.policy.module))
        self._engine_version = self._policy_version

    def _prompt_text(self, problem: Problem) -> str:
        return format_prompt(problem.problem, self.prompt, self.tokenizer)

    def _encode(self, text: str) -> list[int]:
        return encode_prompt_text(text, self.prompt, self.tokenizer)

    def _load_data(self) -> ProblemSet:
        """The data config's problems, relabelled when the reward asks for it (majority_vote, ...)."""
        data = instantiate(self.cfg.data)
        if self.cfg.get("relabel") is not None:
            relabel = instantiate(self.cfg.relabel)
            labels = self.cfg.relabel.get("labels")
            if labels is not None and self.cfg.label.make_if_missing:
                self._make_labels_if_missing(Path(labels.source), data)
            data = relabel(data)
        if data.skipped:
            self._say(f"data {data.name!r}: skipped {data.skipped} unusable rows (see the warnings above)")
        return data

    def _make_labels_if_missing(self, path: Path, data: ProblemSet) -> None:
        """Label the data with this model's own majority votes (label.make_if_missing: the tiny model)."""
        from rlvr.label import label_problems, write_labels

        if not path.exists() and self.dist.is_main:
            self._say(f"no majority-vote labels at {path}: labelling {self.cfg.label.num_problems} problems first")
            rows, report = label_problems(
                self.engine, self.tokenizer, data.train, self.prompt, self.cfg.label, seed=self.cfg.seed
            )
            write_labels(path, rows, report)
        D.barrier()

    def _fitting_prompts(self, problems) -> list[Problem]:
        """Training problems whose prompt fits ``algorithm.max_prompt_len`` tokens (others are dropped, counted)."""
        limit = self.alg.max_prompt_len
        kept = [p for p in problems if len(self._encode(self._prompt_text(p))) <= limit]
        if len(kept) < len(problems):
            self._say(f"dropped {len(problems) - len(kept)} of {len(problems)} training prompts longer than {limit} tokens")
        if len(kept) < self.alg.rollout_batch_size:
            raise ValueError(
                f"only {len(kept)} training prompts fit algorithm.max_prompt_len={limit}; "
                f"need at least rollout_batch_size={self.alg.rollout_batch_size}"
            )
        return kept

    def _rollout_metrics(self, rollouts: Rollouts, scores: Scores, batch: TokenBatch) -> dict[str, float]:
        lengths = batch.response_mask.sum(-1).cpu()
        truncated = torch.tensor([c.finish_reason == "length" for c in rollouts.completions], dtype=torch.float32)
        n = len(rollouts.completions)
        local = torch.tensor(
            [
                scores.rewards.sum(),
                scores.correct.float().sum(),
                scores.is_code.float().sum(),
                zero_std_group_fraction(scores.rewards, self.alg.group_size) * (n // self.alg.group_size),
                lengths.sum(),
                truncated.sum(),
                scores.advantages.abs().sum(),
                scores.grader_timeouts,
                float(n),
                float(n // self.alg.group_size),
                float(sum(map(len, rollouts.prompt_tokens)) + lengths.sum()),
            ],
            dtype=torch.float64,
        )
        (reward, correct, code, zero_std, length, trunc, adv_abs, timeouts, count, groups, tokens) = D.all_reduce_sum(
            local
        ).tolist()
        max_len = D.all_reduce_max(lengths.max().double()).item()
        return {
            "train/reward_mean": reward / count,
            "train/accuracy": correct / count,
            "train/code_rate": code / count,
            "train/frac_zero_std_groups": zero_std / groups,
            "train/response_len_mean": length / count,
            "train/response_len_max": max_len,
            "train/truncated_frac": trunc / count,
            "train/advantage_abs_mean": adv_abs / count,
            "train/grader_timeouts": timeouts,
            "_tokens": tokens,
        }

    def _reduce_actor(self, means, extremes, entropy_sum, token_count) -> dict[str, float]:
        keys = sorted(means)
        local = torch.tensor([sum(means[k]) for k in keys] + [entropy_sum, token_count], dtype=torch.float64)
        counts = torch.tensor([len(means[k]) for k in keys], dtype=torch.float64)
        totals, counts = D.all_reduce_sum(local), D.all_reduce_sum(counts)
        out = {k: totals[i].item() / counts[i].item() for i, k in enumerate(keys)}
        out["actor/entropy"] = totals[-2].item() / max(totals[-1].item(), 1.0)
        high_low = D.all_reduce_max(torch.tensor([extremes["ratio_max"], -extremes["ratio_min"]], dtype=torch.float64))
        out["actor/ratio_max"], out["actor/ratio_min"] = high_low[0].item(), -high_low[1].item()
        out["actor/lr"] = self.policy.get_lr()[0]
        return out

    def _log_rollouts(self, step: int, rollouts: Rollouts, scores: Scores) -> None:
        every = self.tcfg.log_rollouts_every
        if not every or step % every:
            return
        rows = [
            {
                "step": step,
                "prompt_id": problem.id,
                "sample": sample,
                "prompt": prompt,
                "response": completion.text,
                "answer": problem.answer,
                "reward": reward,
                "correct": correct,
                "advantage": advantage,
                "response_tokens": len(completion.token_ids),
                "finished": completion.finish_reason == "stop",
                "is_code": is_code,
            }
            for problem, sample, prompt, completion, reward, correct, advantage, is_code in zip(
                rollouts.problems,
                rollouts.sample_indices,
                rollouts.prompt_texts,
                rollouts.completions,
                scores.rewards.tolist(),
                scores.correct.tolist(),
                scores.advantages.tolist(),
                scores.is_code.tolist(),
            )
        ]
        gathered = D.gather_to_main(rows)
        if gathered is not None:
            self.run.log_rollouts(step, [row for part in gathered for row in part])

    def _accuracies(self, metrics: dict[str, float]) -> str:
        return ", ".join(f"{b.name} accuracy {metrics[f'eval/{b.name}/accuracy']:.3f}" for b in self.benchmarks)

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            log.info(message)
            tqdm.write(message)


class _timer:
    def __init__(self, sink: dict[str, float], key: str) -> None:
        self.sink, self.key = sink, key

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.sink[self.key] = self.sink.get(self.key, 0.0) + time.perf_counter() - self.start


def _as_float(value: Any) -> float:
    if value is None:
        return float("nan")
    return float(value.item() if isinstance(value, torch.Tensor) else value)
