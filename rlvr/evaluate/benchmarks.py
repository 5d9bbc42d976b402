"""Benchmarks: the problems and the sampling protocol of each ``eval.benchmarks.<name>`` config node.

A node names where its problems come from, in one of two ways:

- ``file`` (a local file, normally under ``paths.data_root``) and ``hub`` (a source spec of a hub
  dataset, see ``rlvr.data.loaders``): the file when it exists, else the hub dataset;
- ``data``: a data config, whose held-out problems are the benchmark (``eval=heldout``, the tiny
  model's default: the synthetic arithmetic it trains on).

and how to sample: ``samples`` per problem, ``temperature`` (0: greedy), ``top_p``, ``max_new_tokens``,
and the ``pass_k`` values to report. ``version`` is logged with every result, so that a change of
protocol is never mistaken for a change of model.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from rlvr.config import BenchmarkConfig, DataConfig, EvalConfig, SourceSpec
from rlvr.data import DataError, Problem, ProblemSet, load_specs
from rlvr.rollout import SamplingParams

log = logging.getLogger(__name__)

BENCHMARK_KEYS = tuple(f.name for f in dataclasses.fields(BenchmarkConfig))
SAMPLING_KEYS = ("samples", "temperature", "top_p", "max_new_tokens", "pass_k")


@dataclass(frozen=True)
class Benchmark:
    name: str
    version: int
    problems: tuple[Problem, ...]
    source: str  # where the problems were read from, for the record
    samples: int  # per problem
    temperature: float
    top_p: float
    max_new_tokens: int
    pass_k: tuple[int, ...]

    def __post_init__(self) -> None:
        where = f"benchmark {self.name!r}"
        if not self.problems:
            raise DataError(f"{where} has no problems (source: {self.source})")
        if self.samples < 1:
            raise ValueError(f"{where}: samples must be >= 1, got {self.samples}")
        if self.temperature == 0 and self.samples > 1:
            raise ValueError(
                f"{where}: samples={self.samples} at temperature 0 would be {self.samples} copies of one greedy "
                "response; use samples=1, or a temperature > 0"
            )
        too_big = [k for k in self.pass_k if not 1 <= k <= self.samples]
        if too_big:
            raise ValueError(f"{where}: pass_k {too_big} needs 1 <= k <= samples={self.samples}")

    def sampling(self, *, seed: int | None, stop: tuple[str, ...] = ()) -> SamplingParams:
        return SamplingParams(
            n=self.samples,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            seed=seed,
            stop=stop,
        )

    def describe(self) -> dict[str, Any]:
        """The protocol, for summaries: everything but the problems themselves."""
        return {
            "version": self.version,
            "source": self.source,
            "problems": len(self.problems),
            "samples": self.samples,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "pass_k": list(self.pass_k),
        }


def load_benchmarks(eval_cfg: EvalConfig, *, built_data: tuple[DataConfig, ProblemSet] | None = None) -> list[Benchmark]:
    """Every benchmark of an ``eval`` config, with its ``limit`` (first N problems) and ``max_new_tokens``
    (instead of each benchmark's own) applied when set.

    ``built_data`` is a data config and the problem set already built from it (the trainer's): a ``data``
    benchmark naming that same config takes its held-out problems instead of loading the data again.
    """
    if not eval_cfg.benchmarks:
        raise ValueError("the eval config has no benchmarks; choose some with eval=<name> (e.g. eval=math500)")
    limit = eval_cfg.limit
    if limit is not None and limit < 1:
        raise ValueError(f"eval.limit must be >= 1 or null, got {limit}")
    return [
        build_benchmark(name, spec, limit=limit, max_new_tokens=eval_cfg.max_new_tokens, built_data=built_data)
        for name, spec in eval_cfg.benchmarks.items()
    ]


def build_benchmark(
    name: str,
    spec: BenchmarkConfig | Mapping[str, Any],
    *,
    limit: int | None = None,
    max_new_tokens: int | None = None,
    built_data: tuple[DataConfig, ProblemSet] | None = None,
) -> Benchmark:
    """One benchmark from its config (or, from Python, a mapping with the same keys, checked here as the
    config schema checks a file)."""
    spec = spec if isinstance(spec, BenchmarkConfig) else benchmark_config(name, spec)
    problems, source = benchmark_problems(name, spec, built_data)
    if limit is not None:
        problems = problems[:limit]
    return Benchmark(
        name=name,
        version=spec.version,
        problems=tuple(problems),
        source=source,
        samples=spec.samples,
        temperature=spec.temperature,
        top_p=spec.top_p,
        max_new_tokens=max_new_tokens if max_new_tokens is not None else spec.max_new_tokens,
        pass_k=tuple(spec.pass_k),
    )


def benchmark_config(name: str, spec: Mapping[str, Any]) -> BenchmarkConfig:
    """A mapping as a ``BenchmarkConfig``: unknown keys (with the closest known one) and missing sampling
    keys are errors that name the benchmark."""
    unknown = sorted(set(spec) - set(BENCHMARK_KEYS))
    if unknown:
        hints = {key: difflib.get_close_matches(key, BENCHMARK_KEYS, n=1) for key in unknown}
        said = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
        raise ValueError(f"eval.benchmarks.{name}: unknown keys {said}; known: {', '.join(BENCHMARK_KEYS)}")
    missing = [key for key in SAMPLING_KEYS if spec.get(key) is None]
    if missing:
        raise ValueError(f"eval.benchmarks.{name}: missing {', '.join(missing)}")
    hub = spec.get("hub")
    return BenchmarkConfig(**{"version": 1, **spec, "hub": SourceSpec(**hub) if isinstance(hub, Mapping) else hub})


def benchmark_problems(
    name: str, spec: BenchmarkConfig, built_data: tuple[DataConfig, ProblemSet] | None = None
) -> tuple[list[Problem], str]:
    """The benchmark's problems and a line saying where they came from."""
    if spec.data is not None:
        if built_data is not None and spec.data == built_data[0]:
            data = built_data[1]
        else:
            from hydra.utils import instantiate

            data = instantiate(spec.data, _convert_="all")
        return list(data.heldout), f"held-out problems of data {data.name!r}"
    file, hub = spec.file, spec.hub
    if file is None and hub is None:
        raise ValueError(f"eval.benchmarks.{name} needs a source: `file` and/or `hub`, or `data`")
    if file is not None and Path(file).is_file():
        return load_specs({"source": str(file), "fields": spec.fields}).problems, str(file)
    if hub is None:
        raise DataError(
            f"eval.benchmarks.{name}: {file} not found. Set RLVR_DATA (paths.data_root) to the folder that holds "
            "eval/, or give the benchmark a `hub` dataset"
        )
    where = f"{hub.source} (split {hub.split or 'train'})"
    if file is not None:
        log.info("benchmark %s: %s not found; loading %s from the hub", name, file, where)
    try:
        return load_specs(dataclasses.asdict(hub)).problems, where
    except Exception as error:  # no network, no such dataset, a missing column, ...
        local = f"{file} is not there, and " if file is not None else ""
        raise DataError(
            f"eval.benchmarks.{name}: {local}the hub dataset {where} could not be loaded: {error}. "
            "Offline, set RLVR_DATA (paths.data_root) to a folder with the eval/ files"
        ) from error
