"""A step's metrics: accumulated as tensors while the step runs, reduced across ranks once at its end.

Nothing here synchronises with the device during the step: values are detached tensors added on the
device, and ``reduce`` makes two collectives in all (one sum, one max) and one transfer to the host.
Every rank must add the same keys, which holds because every rank runs the same number of micro-batches.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

AllReduce = Callable[[torch.Tensor], torch.Tensor]


class StepMetrics:
    """Named metrics of one step, each a ratio of sums, a sum, a maximum or a minimum over ranks.

    >>> m = StepMetrics(torch.device("cpu"))
    >>> m.add_mean("actor/loss", torch.tensor(1.0)); m.add_mean("actor/loss", torch.tensor(3.0))
    >>> m.add_ratio("actor/entropy", torch.tensor(6.0), torch.tensor(4.0)); m.add_max("len", torch.tensor(7))
    >>> m.add_sum("timeouts", 2)
    >>> m.reduce(sum_all=lambda t: t, max_all=lambda t: t)
    {'actor/entropy': 1.5, 'actor/loss': 2.0, 'timeouts': 2.0, 'len': 7.0}
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._ratios: dict[str, list[torch.Tensor]] = {}  # key -> [numerator, denominator]
        self._sums: dict[str, torch.Tensor] = {}
        self._maxima: dict[str, torch.Tensor] = {}  # minima are stored negated

    def add_ratio(self, key: str, numerator: torch.Tensor | float, denominator: torch.Tensor | float) -> None:
        """Accumulate ``numerator / denominator``, both summed over the step and the ranks before dividing."""
        pair = self._ratios.setdefault(key, [self._zero(), self._zero()])
        pair[0] = pair[0] + self._value(numerator)
        pair[1] = pair[1] + self._value(denominator)

    def add_mean(self, key: str, value: torch.Tensor | float) -> None:
        """One observation of a quantity reported as its mean over all observations of the step."""
        self.add_ratio(key, value, 1.0)

    def add_sum(self, key: str, value: torch.Tensor | float) -> None:
        self._sums[key] = self._sums.get(key, self._zero()) + self._value(value)

    def add_max(self, key: str, value: torch.Tensor | float) -> None:
        value = self._value(value)
        self._maxima[key] = torch.maximum(self._maxima[key], value) if key in self._maxima else value

    def add_min(self, key: str, value: torch.Tensor | float) -> None:
        self.add_max(_NEGATED + key, -self._value(value))

    def reduce(self, sum_all: AllReduce, max_all: AllReduce) -> dict[str, float]:
        """Every metric over all ranks: ``sum_all`` / ``max_all`` all-reduce a 1-d tensor in place of the
        ranks' (``rlvr.train.distributed.all_reduce_sum`` / ``all_reduce_max``)."""
        ratios, sums, maxima = sorted(self._ratios), sorted(self._sums), sorted(self._maxima)
        summed = self._stack([v for k in ratios for v in self._ratios[k]] + [self._sums[k] for k in sums])
        peaks = self._stack([self._maxima[k] for k in maxima])
        summed = sum_all(summed) if summed.numel() else summed
        peaks = max_all(peaks) if peaks.numel() else peaks
        summed, peaks = summed.tolist(), peaks.tolist()  # the step's one transfer to the host
        out = {key: summed[2 * i] / summed[2 * i + 1] if summed[2 * i + 1] else float("nan") for i, key in enumerate(ratios)}
        out |= {key: summed[2 * len(ratios) + i] for i, key in enumerate(sums)}
        for key, peak in zip(maxima, peaks):
            out[key.removeprefix(_NEGATED)] = -peak if key.startswith(_NEGATED) else peak
        return out

    def _zero(self) -> torch.Tensor:
        return torch.zeros((), dtype=torch.float64, device=self.device)

    def _value(self, value: torch.Tensor | float) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value.detach().to(self.device, torch.float64)
        return torch.tensor(float(value), dtype=torch.float64, device=self.device)

    def _stack(self, values: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(values) if values else torch.zeros(0, dtype=torch.float64, device=self.device)


_NEGATED = "\x00min:"  # prefix of a negated minimum among the maxima


@contextlib.contextmanager
def timed(sink: dict[str, float], key: str) -> Iterator[None]:
    """Add the wall time of the block to ``sink[key]`` (``perf/*_s`` metrics)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        sink[key] = sink.get(key, 0.0) + time.perf_counter() - start


def accuracy_line(metrics: Mapping[str, float], benchmarks: Sequence[Any]) -> str:
    """``heldout accuracy 0.570, ...``: each benchmark's ``eval/<name>/accuracy``."""
    return ", ".join(f"{b.name} accuracy {metrics[f'eval/{b.name}/accuracy']:.3f}" for b in benchmarks)


def run_summary(start: Mapping[str, float], end: Mapping[str, float], benchmarks: Sequence[Any], steps: int,
                seconds: float, path: Path) -> str:  # fmt: skip
    """What a finished run says: accuracies after and before, its time, where its files and figures are."""
    before = ", ".join(f"{start[f'eval/{b.name}/accuracy']:.3f}" for b in benchmarks)
    return (
        f"after {steps} steps: {accuracy_line(end, benchmarks)} (before training: {before}); {seconds / 60:.1f} min\n"
        f"run directory: {path}\nfigures: python -m analysis {path} --out {path / 'figures'}"
    )
