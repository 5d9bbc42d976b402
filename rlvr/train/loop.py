"""The GRPO loop: generate -> score -> advantages -> old log-probs -> mini-batch updates -> log.

One step, with R = rollout_batch_size prompts and G = group_size samples each:
  1. push the policy's weights into the rollout engine; sample G responses for each of R prompts
     (each rank samples R / world_size prompts: whole groups stay on one rank);
  2. score them with the configured reward, and always with the ground-truth grader and the
     code-reasoning rule too (the paper's argument is about those, whatever the training reward);
  3. group-normalised advantages;
  4. log-probs of the sampling policy ("old"), computed once;
  5. shuffle, split into mini-batches of M samples, one optimizer step per mini-batch (micro-batches
     accumulate inside it), ``epochs_per_rollout`` passes: R*G/M x epochs optimizer steps per rollout;
  6. write metrics, rollouts and (every ``checkpoint_every`` steps) a checkpoint.

Everything the loop works with is built beforehand (``rlvr.build.build_training``) and handed over as
``TrainingParts``.
"""

from __future__ import annotations

import logging
import time

import torch
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from rlvr.algorithms import ADVANTAGE_ESTIMATORS, policy_loss, regularisation_loss, whiten_advantages
from rlvr.data import PromptSampler
from rlvr.data.prompts import encode_prompt_text, format_prompt
from rlvr.evaluate import evaluate_benchmarks, flat_metrics, summarize_benchmarks
from rlvr.rewards import grade_responses, is_code_reasoning
from rlvr.rollout import SamplingParams
from rlvr.seeding import derive_seed
from rlvr.train import checkpoint
from rlvr.train import distributed as D
from rlvr.train.batch import TokenBatch, make_token_batch, response_logprobs
from rlvr.train.checkpoint import TrainerState
from rlvr.train.metrics import StepMetrics, accuracy_line, run_summary, timed
from rlvr.train.nonfinite import NonFiniteError, NonFiniteGuard, poisoned
from rlvr.train.parts import TrainingParts
from rlvr.train.plan import MicroBatch, rows_needing_old_logprobs, update_schedule
from rlvr.train.policy import count_parameters, full_parameters, replicas_identical
from rlvr.train.preemption import Preempted, PreemptionSignal
from rlvr.train.resume import mark_done
from rlvr.train.rollouts import Rollouts, Scores, add_rollout_metrics, rollout_rows

log = logging.getLogger(__name__)


class GRPOTrainer:
    def __init__(self, parts: TrainingParts) -> None:
        self.parts = parts
        cfg = parts.config
        self.cfg, self.alg, self.tcfg = cfg, cfg.algorithm, cfg.trainer
        self.dist, self.plan, self.run = parts.dist, parts.plan, parts.run_dir
        self.policy, self.engine = parts.policy, parts.engine
        self.sampler = PromptSampler(len(parts.problems), self.alg.rollout_batch_size, cfg.seed)
        self.advantage_fn = ADVANTAGE_ESTIMATORS.get(self.alg.advantage.estimator)
        self.nonfinite = NonFiniteGuard(self.tcfg.max_consecutive_nonfinite, is_main=self.dist.is_main)
        # Updates applied to the policy, and how many of them the engine's weights reflect (-1: never pushed).
        self._policy_version, self._engine_version = 0, -1

    # ------------------------------------------------------------------ the loop
    def train(self, preemption: PreemptionSignal | None = None) -> dict[str, float]:
        """Steps after the checkpoint it starts from (all of them for a fresh run) up to ``total_steps``.
        With ``preemption``, a signal stops it at the next step boundary with a checkpoint (``Preempted``)."""
        total, started, resumed = self.tcfg.total_steps, time.perf_counter(), self.parts.start
        millions = count_parameters(self.policy.module) / 1e6
        self._say(f"model {self.cfg.model.name}: {millions:.2f} M parameters; {self.plan.describe()}")
        if resumed is None:
            start = self.evaluate(0)
            self._say(f"at start: {accuracy_line(start, self.parts.benchmarks)}")
            self.run.log_metrics(0, start)
        else:
            start, self._policy_version = self.run.logged(0), resumed.policy_version
            self._say(f"continuing after step {resumed.step} of {total} (its checkpoint, attempt {self.run.attempts})")
        metrics: dict[str, float] = {}
        first = 1 if resumed is None else resumed.step + 1
        with logging_redirect_tqdm():
            bar = tqdm(range(first, total + 1), desc="GRPO", disable=not self.dist.is_main, dynamic_ncols=True,
                       initial=first - 1, total=total)  # fmt: skip
            for step in bar:
                metrics = self.step(step)
                if self._evaluates_at(step):
                    metrics |= self.evaluate(step)
                if step == total:
                    metrics["dist/replicas_identical"] = float(replicas_identical(self.policy.module))
                self.run.log_metrics(step, metrics)
                saved = step % self.tcfg.checkpoint_every == 0 or step == total
                if saved:
                    self.save_checkpoint(step)
                if preemption is not None and step < total and preemption.agreed(self.dist.collective_device):
                    if not saved:
                        self.save_checkpoint(step)
                    raise Preempted(step)
                bar.set_postfix(reward=f"{metrics['train/reward_mean']:.2f}", acc=f"{metrics['train/accuracy']:.2f}")
        result = {"start/" + k: v for k, v in start.items()} | metrics
        if self.dist.is_main:
            mark_done(self.run.path, total, result)
        self._say(run_summary(start, metrics, self.parts.benchmarks, total, time.perf_counter() - started, self.run.path))
        return result

    def step(self, step: int) -> dict[str, float]:
        metrics, timings, started = StepMetrics(self.dist.collective_device), {}, time.perf_counter()
        with timed(timings, "perf/sync_s"):
            self._sync_weights()  # a no-op when an evaluation after the last step already pushed them
        with timed(timings, "perf/rollout_s"):
            rollouts = self.generate(step)
            self.engine.sleep()  # an engine that can gives its accelerator memory to the update
        with timed(timings, "perf/reward_s"):
            scores = self.score(step, rollouts, metrics)
        with timed(timings, "perf/train_s"):
            advantages = self.advantages(scores.rewards, rollouts)
            batch = make_token_batch(rollouts.prompt_tokens, [c.token_ids for c in rollouts.completions], self.engine.pad_id)
            batch = batch.to(self.dist.device)
            schedule = self.schedule(step, batch)
            old = self.logprobs_of(self.policy, batch, rows_needing_old_logprobs(schedule))
            self.update(step, batch, schedule, old, advantages.to(self.dist.device), metrics)
            add_rollout_metrics(metrics, rollouts, scores, advantages, batch, self.alg.group_size)
            values = metrics.reduce(D.all_reduce_sum, D.all_reduce_max)
        values["actor/lr"] = self.policy.get_lr()[0]
        timings["perf/step_s"] = time.perf_counter() - started
        values |= timings
        values["perf/tokens_per_s"] = values["perf/tokens"] / timings["perf/step_s"]
        self._log_rollouts(step, rollouts, scores, advantages)
        return values

    # ------------------------------------------------------------------ phases
    def generate(self, step: int) -> Rollouts:
        """G samples per prompt of this rank; a reward that votes over more (``ttrl``) gets them in one call."""
        G = self.alg.group_size
        indices = self.sampler.indices(step)[self.dist.rank :: self.dist.world_size]
        problems = [self.parts.problems[i] for i in indices]
        texts = [format_prompt(p.problem, self.parts.prompt, self.parts.tokenizer) for p in problems]
        tokens = [encode_prompt_text(t, self.parts.prompt, self.parts.tokenizer) for t in texts]
        params = SamplingParams(
            n=self.parts.reward.votes_per_prompt() or G, temperature=self.alg.temperature, top_p=self.alg.top_p,
            max_new_tokens=self.alg.max_response_len, seed=derive_seed(self.cfg.seed, "rollout", step, self.dist.rank),
            stop=self.parts.prompt.stop,
        )
        groups = self.engine.generate(tokens, params)
        return Rollouts(
            problems=[p for p in problems for _ in range(G)],
            sample_indices=[i for _ in problems for i in range(G)],
            prompt_texts=[t for t in texts for _ in range(G)],
            prompt_tokens=[t for t in tokens for _ in range(G)],
            completions=[c for group in groups for c in group[:G]],
            vote_pools=[[c.text for c in group] for group in groups],
            vote_truncated=[[c.finish_reason == "length" for c in group] for group in groups],
        )

    def score(self, step: int, rollouts: Rollouts, metrics: StepMetrics) -> Scores:
        """The training reward, and correctness against the true answers (also where the reward trains towards
        labels: majority vote, incorrect) and against the labels trained on. What a reward reports of itself
        (TTRL: how good its labels were) goes into ``metrics`` as ``reward/<name>``."""
        answers, truths = [p.answer for p in rollouts.problems], [p.truth for p in rollouts.problems]
        answer_format = self.parts.prompt.answer_format
        # A response cut at the length limit gets no credit from a fallback (its last number); counted below.
        cut = [c.finish_reason == "length" for c in rollouts.completions]
        options = [p.option_map for p in rollouts.problems]
        rewards = self.parts.reward(
            rollouts.responses, answers, seed=self.cfg.seed, step=step, prompt_ids=[p.id for p in rollouts.problems],
            sample_indices=rollouts.sample_indices, answer_format=answer_format, vote_pools=rollouts.vote_pools,
            vote_truncated=rollouts.vote_truncated, truncated=cut, options=options, report=lambda name, total, n: metrics.add_ratio(f"reward/{name}", total, n),
        )  # fmt: skip
        graded = grade_responses(rollouts.responses, truths, answer_format=answer_format, truncated=cut, options=options)
        by_label = graded if truths == answers else grade_responses(
            rollouts.responses, answers, answer_format=answer_format, truncated=cut, options=options
        )
        metrics.add_ratio("train/fallback_denied_truncated", sum(graded.fallback_denied), len(cut))
        return Scores(
            rewards=torch.tensor(rewards, dtype=torch.float32),
            correct=torch.tensor(graded.correct, dtype=torch.bool),
            label_correct=torch.tensor(by_label.correct, dtype=torch.bool),
            is_code=torch.tensor([is_code_reasoning(r) for r in rollouts.responses], dtype=torch.bool),
            grader_timeouts=sum(graded.timed_out),
        )

    def advantages(self, rewards: torch.Tensor, rollouts: Rollouts) -> torch.Tensor:
        """Group-normalised advantages [N]; whitened over the rollout's tokens on all ranks if asked."""
        settings = self.alg.advantage
        advantages = self.advantage_fn(rewards, self.alg.group_size, ddof=settings.ddof, eps=settings.eps)
        if not settings.whiten:
            return advantages
        lengths = torch.tensor([len(c.token_ids) for c in rollouts.completions], dtype=torch.float32)
        return whiten_advantages(advantages, lengths, lambda t: D.all_reduce_sum(t.to(self.dist.collective_device)).cpu())

    @torch.no_grad()
    def logprobs_of(self, model, batch: TokenBatch, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Response log-probs [N, T] under ``model`` (the policy before the update, or the reference), of the
        ``rows`` given (default: all; the others are left 0), a micro-batch at a time, shortest together."""
        out = torch.zeros_like(batch.response_mask)
        rows = torch.arange(len(batch)) if rows is None else rows
        rows = rows[torch.argsort(batch.response_mask.sum(-1).cpu()[rows], stable=True)].to(out.device)
        for start in range(0, len(rows), self.tcfg.micro_batch_size):
            idx = rows[start : start + self.tcfg.micro_batch_size]
            out[idx] = response_logprobs(model, batch.select(idx), self.alg.temperature,
                                         chunk_tokens=self.tcfg.logprob_chunk_tokens)[0]  # fmt: skip
        return out

    def schedule(self, step: int, batch: TokenBatch) -> list[list[MicroBatch]]:
        """This rank's micro-batches of the step, per optimizer step (``rlvr.train.plan.update_schedule``)."""
        shuffle = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "shuffle", step, self.dist.rank))
        orders = [torch.randperm(len(batch), generator=shuffle) for _ in range(self.alg.epochs_per_rollout)]
        return update_schedule(orders, batch.response_mask, self.plan, self.tcfg.micro_batch_size,
                               self.alg.loss_aggregation, D.all_reduce_sum, self.dist.collective_device)  # fmt: skip

    def update(self, step: int, batch: TokenBatch, schedule: list[list[MicroBatch]], old: torch.Tensor,
               advantages: torch.Tensor, metrics: StepMetrics) -> None:  # fmt: skip
        """The ``schedule``'s updates of the policy on one rollout (``batch``, its ``old`` log-probs [N, T], of
        the rows after the first mini-batch, and ``advantages`` [N]); ``actor/*`` metrics go into ``metrics``."""
        alg, clip = self.alg, self.cfg.clip
        self._policy_version += 1
        ref = self.logprobs_of(self.parts.reference, batch) if self.parts.reference is not None else None
        first_epoch = len(schedule) // alg.epochs_per_rollout  # its mini-batches see every sample once
        for number, minibatch in enumerate(schedule):
            for micro in minibatch:
                idx = micro.indices.to(self.dist.device)
                part = batch.select(idx)
                logprobs, entropy = response_logprobs(
                    self.policy, part, alg.temperature, with_entropy=True, entropy_grad=alg.entropy_coef != 0,
                    chunk_tokens=self.tcfg.logprob_chunk_tokens,
                )
                old_part = logprobs.detach() if number == 0 else old[idx]  # rows_needing_old_logprobs
                loss, stats = policy_loss(
                    logprobs, old_part, advantages[idx], part.response_mask, clip=clip.mode, clip_low=clip.low,
                    clip_high=clip.high, aggregation=alg.loss_aggregation, max_response_len=alg.max_response_len,
                    pack_size=alg.pack_size,
                )  # fmt: skip
                extra, kl = regularisation_loss(
                    logprobs, entropy, None if ref is None else ref[idx], part.response_mask, kl_coef=alg.kl.coef,
                    kl_estimator=alg.kl.estimator, entropy_coef=alg.entropy_coef, aggregation=alg.loss_aggregation,
                    max_response_len=alg.max_response_len, pack_size=alg.pack_size,
                )  # fmt: skip
                if kl is not None:
                    metrics.add_mean("actor/kl_ref", kl)
                loss = loss + extra
                self.policy.backward(poisoned(loss) * micro.weight)  # not finite: NaN, and the step is skipped
                self.policy.step()  # DeepSpeed steps the optimizer only at the accumulation boundary
                metrics.add_mean("actor/loss", loss)
                for key in ("clip_frac_low", "clip_frac_high", "clip_frac", "ratio_mean", "approx_kl"):
                    metrics.add_mean(f"actor/{key}", stats[key])
                metrics.add_max("actor/ratio_max", stats["ratio_max"])
                metrics.add_min("actor/ratio_min", stats["ratio_min"])
                if number < first_epoch:
                    metrics.add_ratio("actor/entropy", (entropy.detach() * part.response_mask).sum(), part.response_mask.sum())
            if self.nonfinite.after_step(self.policy, metrics, step, number + 1):  # skipped too often in a row
                self.save_checkpoint(step)  # the weights before the skipped steps
                raise NonFiniteError(self.nonfinite.stop_message(step, self.run.path))

    # ------------------------------------------------------------------ evaluation, logs and checkpoints
    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        """The eval config's benchmarks on the current policy (problems sharded over ranks): per-sample
        records to ``eval/step_<n>.parquet``, and ``eval/<benchmark>/<metric>`` returned on every rank."""
        self._sync_weights()
        records = evaluate_benchmarks(
            self.engine,
            self.parts.tokenizer,
            self.parts.benchmarks,
            self.parts.prompt,
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
            metrics = flat_metrics(summarize_benchmarks(records, self.parts.benchmarks))
        return D.broadcast_from_main(metrics)

    def save_checkpoint(self, step: int) -> None:
        """Everything needed to continue exactly after ``step``, committed atomically (``rlvr.train.checkpoint``)."""
        state = TrainerState(step, self.cfg.seed, self.dist.world_size, self._policy_version, self.parts.config_hash)
        checkpoint.save(self.policy, self.parts.tokenizer, self.run.path, state, is_main=self.dist.is_main,
                        keep_last=self.tcfg.keep_last)  # fmt: skip

    def _log_rollouts(self, step: int, rollouts: Rollouts, scores: Scores, advantages: torch.Tensor) -> None:
        every = self.tcfg.log_rollouts_every
        if every and step % every == 0:
            gathered = D.gather_to_main(rollout_rows(step, rollouts, scores, advantages))
            if gathered is not None:
                self.run.log_rollouts(step, [row for part in gathered for row in part])

    def _evaluates_at(self, step: int) -> bool:
        every = self.cfg.eval.every_steps
        return step in (0, self.tcfg.total_steps) or bool(every and step % every == 0)

    def _sync_weights(self) -> None:
        """Push the policy's weights into the engine, unless it has them since the last update."""
        if self._engine_version != self._policy_version:
            self.engine.load_weights(full_parameters(self.policy.module))
            self._engine_version = self._policy_version

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            log.info(message)
