"""``python -m rlvr.evaluate``: evaluate a model, or a run's checkpoint, on the paper's benchmarks.

    python -m rlvr.evaluate eval=heldout eval.limit=50                    # the tiny model, on CPU
    python -m rlvr.evaluate model=qwen2.5_math_7b eval=paper engine=vllm  # MATH-500, AMC, AIME 2024/2025
    python -m rlvr.evaluate model=qwen2.5_math_7b checkpoint=<run dir>/checkpoints/step_300
    python -m rlvr.evaluate -m model=qwen2.5_math_7b prompt=default,python_prefix eval=math500   # Table 3

Prints a table and writes, in its output directory, ``summary.json`` (model, checkpoint, prompt,
protocol and metrics of each benchmark) and ``samples.parquet`` (one row per problem and sample,
columns ``rlvr.evaluate.RECORD_COLUMNS``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any, Mapping

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import rlvr  # noqa: F401  (registers the config resolvers)
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


def model_path_for(cfg: DictConfig) -> str:
    """The weights to evaluate: ``checkpoint`` when given (checked against the run it comes from), else the model's."""
    from rlvr.models import resolve_model_path

    if cfg.get("checkpoint") is None:
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
    from rlvr.data.prompts import resolve_prompt
    from rlvr.evaluate.benchmarks import load_benchmarks
    from rlvr.evaluate.runner import RECORD_COLUMNS, evaluate_benchmarks, summarize_benchmarks
    from rlvr.rollout import load_engine
    from rlvr.train.distributed import choose_device
    from rlvr.train.rundir import write_parquet

    output_dir = Path(output_dir)
    benchmarks = load_benchmarks(cfg.eval)  # a missing data file fails before any model loads
    prompt = resolve_prompt(cfg.model.prompt, cfg.get("prompt"))
    model_path = model_path_for(cfg)
    tokenizer, engine = load_engine(cfg, model_path, choose_device(cfg.trainer.device))
    records = evaluate_benchmarks(
        engine, tokenizer, benchmarks, prompt, seed=cfg.seed, prompts_per_call=cfg.eval.prompts_per_call
    )
    summaries = summarize_benchmarks(records, benchmarks)
    summary = {
        "model": cfg.model.name,
        "model_path": model_path,
        "checkpoint": cfg.get("checkpoint"),
        "experiment_name": cfg.get("experiment_name"),
        "prompt": prompt,
        "engine": OmegaConf.to_container(cfg.engine, resolve=True),
        "seed": cfg.seed,
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "benchmarks": {b.name: {"protocol": b.describe(), "metrics": summaries[b.name]} for b in benchmarks},
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_parquet(output_dir / "samples.parquet", records, RECORD_COLUMNS)
    print(f"{cfg.model.name} ({model_path}), prompt {prompt['name']}\n{format_table(summaries, benchmarks)}")
    print(f"results: {output_dir / 'summary.json'}, {output_dir / 'samples.parquet'}")
    return summary


@hydra.main(version_base="1.3", config_path="../../conf", config_name="evaluate")
def main(cfg: DictConfig) -> float:
    summary = run(cfg, HydraConfig.get().runtime.output_dir)
    first = next(iter(summary["benchmarks"].values()))
    return first["metrics"]["accuracy"]


if __name__ == "__main__":
    main()
