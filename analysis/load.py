"""Reading one run directory into plain Python and pandas objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml


@dataclass(frozen=True)
class RunRecord:
    path: Path
    config: dict[str, Any]
    meta: dict[str, Any]
    metrics: pd.DataFrame  # one row per logged step, columns = metric keys, sorted by step

    def rollouts(self, step: int) -> pd.DataFrame:
        return pd.read_parquet(self.path / "rollouts" / f"step_{step}.parquet")

    @property
    def rollout_steps(self) -> list[int]:
        return sorted(int(p.stem.removeprefix("step_")) for p in (self.path / "rollouts").glob("step_*.parquet"))


def read_run(path: str | Path) -> RunRecord:
    """Load ``config.yaml``, ``meta.json`` and ``metrics.jsonl`` of a run; errors name the file and line."""
    path = Path(path)
    for name in ("config.yaml", "meta.json", "metrics.jsonl"):
        if not (path / name).exists():
            raise FileNotFoundError(f"{path} is not a complete run directory: {name} is missing")
    rows = []
    for number, line in enumerate((path / "metrics.jsonl").read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path / 'metrics.jsonl'}:{number}: not JSON ({err})") from None
    metrics = pd.DataFrame(rows).sort_values("step").reset_index(drop=True) if rows else pd.DataFrame({"step": []})
    return RunRecord(
        path=path,
        config=yaml.safe_load((path / "config.yaml").read_text()),
        meta=json.loads((path / "meta.json").read_text()),
        metrics=metrics,
    )
