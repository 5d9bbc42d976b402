"""Evaluating a policy on benchmarks through a rollout engine: one record per (problem, sample).

The same code runs from ``python -m rlvr.evaluate`` and inside the GRPO loop (``eval.every_steps``),
with any engine (HF generate on CPU, vLLM on GPUs). Generation is batched: ``prompts_per_call``
prompts, each with all its samples, go to the engine at once.

Each record says what the paper's analysis needs: the extracted answer, whether it is correct, whether
the response reasons in code (the paper's rule: "python" in the lower-cased response), its length,
whether it finished or hit the token limit. With a ``response_prefix`` prompt (Table 3's "Let's solve
this using Python.") the prefix is part of the prompt, so the response, its grade and its code flag
are about what the model wrote after it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tqdm.auto import tqdm

from rlvr.data import Problem
from rlvr.data.prompts import Prompt, encode_prompt
from rlvr.evaluate.benchmarks import Benchmark
from rlvr.evaluate.metrics import summarize
from rlvr.rewards import GraderPool, get_grader, is_code_reasoning
from rlvr.rewards.grader import read_response
from rlvr.rollout import RolloutEngine
from rlvr.seeding import derive_seed

# The per-sample table written to parquet; analysis code reads these columns.
RECORD_COLUMNS = (
    "benchmark",
    "benchmark_version",
    "problem_id",
    "sample",
    "prompt_name",
    "response",
    "answer",
    "gold",
    "correct",
    "is_code",
    "parse_failed",
    "finished",
    "response_tokens",
    "grader_timeout",
    "fallback_denied",
)


def evaluate_benchmarks(
    engine: RolloutEngine,
    tokenizer: Any,
    benchmarks: Sequence[Benchmark],
    prompt: Prompt,
    *,
    seed: int = 0,
    prompts_per_call: int = 64,
    shard: tuple[int, int] = (0, 1),
    pool: GraderPool | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Records of every sample of every benchmark, in benchmark, problem, sample order.

    ``prompt`` is the resolved prompt (``rlvr.data.prompts.resolve_prompt``). ``shard=(rank,
    world_size)`` evaluates every world_size-th problem from ``rank`` (the trainer's ranks split the
    work; their records together are the whole benchmark). Seeds depend on the problem's position in
    the benchmark, not on the shard or the batch, as far as the engine allows.
    """
    if prompts_per_call < 1:
        raise ValueError(f"prompts_per_call must be >= 1, got {prompts_per_call}")
    rank, world_size = shard
    records: list[dict[str, Any]] = []
    for bench in benchmarks:
        problems = list(bench.problems[rank::world_size])
        bar = tqdm(
            total=len(problems), desc=f"eval {bench.name}", unit="problem", disable=not progress, dynamic_ncols=True
        )
        with bar:
            for start in range(0, len(problems), prompts_per_call):
                chunk = problems[start : start + prompts_per_call]
                seed_here = derive_seed(seed, "eval", bench.name, rank + start * world_size)
                records += _evaluate_chunk(engine, tokenizer, bench, chunk, prompt, seed_here, pool)
                bar.update(len(chunk))
    return records


def _evaluate_chunk(
    engine: RolloutEngine,
    tokenizer: Any,
    bench: Benchmark,
    problems: Sequence[Problem],
    prompt: Prompt,
    seed: int,
    pool: GraderPool | None,
) -> list[dict[str, Any]]:
    tokens = [encode_prompt(p.problem, prompt, tokenizer) for p in problems]
    params = bench.sampling(seed=seed, stop=prompt.stop)
    groups = engine.generate(tokens, params)
    completions = [(p, i, c) for p, group in zip(problems, groups) for i, c in enumerate(group)]
    # What the grader grades is also the record's answer: each response is read once. One cut at the length
    # limit gets no answer from a fallback (its last number): `fallback_denied`.
    readings = [
        read_response(c.text, p.answer, prompt.answer_format, evaluation=True, truncated=c.finish_reason == "length",
                      options=p.option_map)
        for p, _, c in completions
    ]
    graded = (pool or get_grader()).grade([reading.task for reading in readings])
    records = []
    for (problem, sample, completion), (task, denied), correct, timed_out in zip(
        completions, readings, graded.correct, graded.timed_out
    ):
        answer = None if task.fallback else task.pred  # a whole response handed to math-verify is no extracted answer
        records.append(
            {
                "benchmark": bench.name,
                "benchmark_version": bench.version,
                "problem_id": problem.id,
                "sample": sample,
                "prompt_name": prompt.name,
                "response": completion.text,
                "answer": answer,
                "gold": problem.answer,
                "correct": bool(correct),
                "is_code": is_code_reasoning(completion.text),
                "parse_failed": answer is None,
                "finished": completion.finish_reason == "stop",
                "response_tokens": len(completion.token_ids),
                "grader_timeout": bool(timed_out),
                "fallback_denied": bool(denied),
            }
        )
    return records


def summarize_benchmarks(records: Sequence[Mapping[str, Any]], benchmarks: Sequence[Benchmark]) -> dict[str, dict[str, float]]:
    """Each benchmark's metrics (``rlvr.evaluate.metrics.summarize``) from the records of all shards."""
    return {
        bench.name: summarize([r for r in records if r["benchmark"] == bench.name], pass_k=bench.pass_k)
        for bench in benchmarks
    }


def flat_metrics(summaries: Mapping[str, Mapping[str, float]], prefix: str = "eval") -> dict[str, float]:
    """``{"eval/<benchmark>/<metric>": value}``, the keys the trainer logs to metrics.jsonl.

    >>> flat_metrics({"math500": {"accuracy": 0.5}})
    {'eval/math500/accuracy': 0.5}
    """
    return {f"{prefix}/{bench}/{name}": value for bench, metrics in summaries.items() for name, value in metrics.items()}
