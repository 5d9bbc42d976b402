"""``python -m rlvr.evaluate``: evaluate a model, or a run's checkpoint, on the paper's benchmarks.

    python -m rlvr.evaluate eval=heldout eval.limit=50                    # the tiny model, on CPU
    python -m rlvr.evaluate model=qwen2.5_math_7b eval=paper engine=vllm  # MATH-500, AMC, AIME 2024/2025
    python -m rlvr.evaluate model=qwen2.5_math_7b checkpoint=<run dir>/checkpoints/step_300
    python -m rlvr.evaluate -m model=qwen2.5_math_7b prompt=default,python_prefix eval=math500   # Table 3
    python -m rlvr.evaluate [-m] checkpoints=<run dir or folder of runs> eval=paper   # every checkpoint not evaluated yet

Prints a table and writes, in its output directory, ``meta.json`` (as a training run's: git commit,
package versions, host, the prompt, each benchmark's protocol, the grader's version), ``summary.json``
(model, checkpoint, prompt, protocol and metrics of each benchmark) and ``samples.parquet`` (one row per
problem and sample, columns ``rlvr.evaluate.RECORD_COLUMNS``). With ``checkpoints=``, each checkpoint's
evaluation goes into its run directory, ``<run dir>/evals/<eval>_<prompt>/step_<n>/`` (``rlvr.evaluate.checkpoints``);
``-m`` makes each one a job of a multirun (the checkpoint sweeper, ``conf/hydra/sweeper/checkpoints.yaml``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import rlvr  # noqa: F401  (registers the config resolvers and schemas)
from rlvr.evaluate.benchmarks import Benchmark

# The table's columns: (metric key, header). pass@k columns are added per benchmark.
TABLE_COLUMNS = (
    ("accuracy", "accuracy"),
    ("code_rate", "code rate"),
    ("accuracy_code", "acc. code"),
    ("accuracy_no_code", "acc. no code"),
    ("parse_failure_rate", "no answer"),
    ("truncated_rate", "truncated"),
)


def format_table(summaries: Mapping[str, Mapping[str, float]], benchmarks: list[Benchmark]) -> str:
    """One line per benchmark: its size and the metrics people compare first (pass@1 is the accuracy).

    >>> print(format_table({"math500": {"accuracy": 0.5, "pass@1": 0.5, "code_rate": 0.5, "accuracy_code": float("nan"),
    ...     "accuracy_no_code": 0.5, "parse_failure_rate": 0.0, "truncated_rate": 0.0}, "aime24": {"accuracy": 0.1,
    ...     "pass@8": 0.3, "code_rate": 0.5, "accuracy_code": 0.0, "accuracy_no_code": 0.2, "parse_failure_rate": 0.0,
    ...     "truncated_rate": 0.25}}, []))
    benchmark accuracy pass@8 code rate acc. code acc. no code no answer truncated
      math500    0.500            0.500                  0.500     0.000     0.000
       aime24    0.100  0.300     0.500     0.000        0.200     0.000     0.250
    """
    import pandas as pd

    pass_keys = sorted({k for m in summaries.values() for k in m if k.startswith("pass@") and k != "pass@1"},
                       key=lambda k: int(k.split("@")[1]))  # fmt: skip
    sizes = {b.name: f"{len(b.problems)} x {b.samples}" for b in benchmarks}
    rows = []
    for name, metrics in summaries.items():
        row = {"benchmark": name} | ({"problems x samples": sizes[name]} if name in sizes else {})
        row["accuracy"] = _cell(metrics["accuracy"])
        row |= {k: _cell(metrics.get(k, math.nan)) for k in pass_keys}
        row |= {header: _cell(metrics[key]) for key, header in TABLE_COLUMNS[1:]}
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)


def _cell(value: float) -> str:
    """Three decimals; blank where there is nothing to report (e.g. the accuracy of code responses when there are none)."""
    return "" if math.isnan(value) else f"{value:.3f}"


def run(cfg: DictConfig, output_dir: str | Path) -> dict[str, Any]:
    from rlvr.build import build_evaluation
    from rlvr.config import to_run_config, to_yaml
    from rlvr.evaluate.runner import RECORD_COLUMNS, evaluate_benchmarks, summarize_benchmarks
    from rlvr.logs import quiet_console
    from rlvr.outputs import run_meta, write_json, write_parquet
    from rlvr.plan import check_command
    from rlvr.rewards import GRADER_VERSION

    config = to_run_config(cfg)
    quiet_console(config.verbose)
    check_command(config, running="evaluate")
    output_dir = Path(output_dir)
    parts = build_evaluation(config)  # a missing benchmark file fails before any model loads
    meta = run_meta(
        world_size=1,
        model_path=parts.model_path,
        prompt=parts.prompt.describe(),
        eval={b.name: b.describe() for b in parts.benchmarks},
        grader_version=GRADER_VERSION,
    )
    write_json(output_dir / "meta.json", meta)
    records = evaluate_benchmarks(
        parts.engine, parts.tokenizer, parts.benchmarks, parts.prompt, seed=config.seed,
        prompts_per_call=config.eval.prompts_per_call,
    )  # fmt: skip
    summaries = summarize_benchmarks(records, parts.benchmarks)
    summary = {
        "model": config.model.name,
        "model_path": parts.model_path,
        "checkpoint": config.checkpoint,
        "experiment_name": config.experiment_name,
        "prompt": parts.prompt.describe(),
        "engine": yaml.safe_load(to_yaml(config.engine)),
        "seed": config.seed,
        "time": meta["start_time"],
        "benchmarks": {b.name: {"protocol": b.describe(), "metrics": summaries[b.name]} for b in parts.benchmarks},
    }
    write_parquet(output_dir / "samples.parquet", records, RECORD_COLUMNS)
    write_json(output_dir / "summary.json", summary)  # last: its presence says the evaluation is complete
    print(f"{config.model.name} ({parts.model_path}), prompt {parts.prompt.name}\n{format_table(summaries, parts.benchmarks)}")
    print(f"results: {output_dir / 'summary.json'}, {output_dir / 'samples.parquet'}")
    return summary


def run_checkpoints(overrides: list[str]) -> tuple[int, int]:
    """``checkpoints=<dir>`` without ``-m``: evaluate, one after another, each checkpoint under the folder that
    is not evaluated yet (``rlvr.evaluate.sweeper``), composed with its run's model and written to its
    evaluation folder in the run directory. Returns (evaluated, skipped as done)."""
    from hydra import compose
    from omegaconf import OmegaConf

    from rlvr.evaluate.sweeper import checkpoint_jobs, split_checkpoints

    roots, rest = split_checkpoints(overrides)
    compose_evaluate = lambda lines: compose("evaluate", overrides=lines)  # noqa: E731
    jobs = checkpoint_jobs(roots, rest, compose_evaluate)
    for job in jobs:
        name = f"{job.checkpoint.run_dir} step {job.checkpoint.step}"
        if job.done:
            print(f"evaluated before: {name} ({job.out_dir})")
            continue
        print(f"evaluating {name} ({job.model}) -> {job.out_dir}")
        cfg = compose_evaluate(list(job.overrides))
        (job.out_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, job.out_dir / ".hydra" / "config.yaml")  # as a -m job's folder has it
        OmegaConf.save(OmegaConf.create(list(job.overrides)), job.out_dir / ".hydra" / "overrides.yaml")
        run(cfg, job.out_dir)
    done = sum(job.done for job in jobs)
    print(f"checkpoints={','.join(roots)}: {len(jobs) - done} evaluated, {done} skipped as done before")
    return len(jobs) - done, done


@hydra.main(version_base="1.3", config_path="../../conf", config_name="evaluate")
def main(cfg: DictConfig) -> float | None:
    if cfg.checkpoints is not None:
        run_checkpoints(list(HydraConfig.get().overrides.task))
        return None
    summary = run(cfg, HydraConfig.get().runtime.output_dir)
    first = next(iter(summary["benchmarks"].values()))
    return first["metrics"]["accuracy"]


if __name__ == "__main__":
    main()
