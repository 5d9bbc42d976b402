"""What every output directory records about how it was made, and how files are written into it.

Training runs (``rlvr.train.rundir``) and evaluations (``python -m rlvr.evaluate``) write the same
``meta.json`` (``run_meta``): git commit and dirty flag, package versions, Python, host, start time, and
whatever the caller adds (world size, the reward's spec, the prompt, each benchmark's protocol, the
grader's version). Files are written through a temporary name and moved into place, so that a reader
(``analysis``, or a run resumed after a crash) never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

REPO = Path(__file__).resolve().parents[1]
PACKAGES = (
    "torch", "transformers", "deepspeed", "vllm", "math-verify", "sympy", "hydra-core", "omegaconf", "datasets",
    "submitit", "wandb",
)  # fmt: skip


def git_state(repo: Path = REPO) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout

    try:
        return {"commit": git("rev-parse", "HEAD").strip(), "dirty": bool(git("status", "--porcelain").strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_meta(**extra: Any) -> dict[str, Any]:
    """The provenance of an output directory, plus ``extra`` (JSON-serialisable) keys."""
    return {
        "git": git_state(),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "host": socket.gethostname(),
        "start_time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def write_text_atomic(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_json(path: Path, payload: Any) -> Path:
    return write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


def write_parquet(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Path:
    """Rows as a parquet table with ``columns`` in that order, moved into place only when complete."""
    import pandas as pd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    pd.DataFrame(list(rows), columns=list(columns)).to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
