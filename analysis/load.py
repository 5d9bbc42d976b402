"""Reading run directories into tidy pandas frames.

Two kinds of run are found under a root, at any depth:

- training runs (``python -m rlvr.train``): ``config.yaml``, ``meta.json``, ``metrics.jsonl``,
  ``rollouts/step_<n>.parquet`` (read on demand: ``RunData.rollouts``), ``eval/step_<n>.parquet`` (the
  contract of ``rlvr.train.rundir``);
- evaluation runs (``python -m rlvr.evaluate``): ``summary.json`` and ``samples.parquet`` beside Hydra's
  ``.hydra/config.yaml``.

An evaluation of a training run's checkpoint is a point of that run's curve, not a run of its own: one
inside the run directory (``<run dir>/evals/<eval>_<prompt>/step_<n>/``, what ``python -m rlvr.evaluate
checkpoints=<dir>`` writes), or one elsewhere whose ``summary.json`` names ``<run dir>/checkpoints/step_<n>``
of a run read with it. Its records join the run's ``evals`` at step n and, when it used the run's own prompt,
its metrics the run's ``metrics`` at step n (``eval/<benchmark>/<metric>``, as the trainer logs them); what
the trainer evaluated itself at that step wins. A half-written or damaged one is reported in ``skipped``.

``load_runs(root)`` returns a ``RunData`` whose frames are keyed by each run's own config (``KEYS``:
model, reward, gamma, clip, algorithm, seed, prompt, experiment) plus ``run_id`` and ``step``, so runs
of one sweep and of different sweeps mix freely. A run that is half-written (still training, or
killed) or damaged (a file missing or unreadable) is reported in ``RunData.skipped`` with the reason and
left out, never mixed in.

Each run's ``grader_version`` (the version of the grading rules that scored its answers, from its
``meta.json``; for an evaluation run also from ``summary.json``; None for runs older than the field) is a
column of ``RunData.runs``. Numbers graded by different rules are not comparable: ``grader_warning`` says
so when runs that carry more than one version are read together.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import yaml

# What identifies a run, from its config; every frame carries these columns.
KEYS = ("run_id", "kind", "experiment", "model", "reward", "gamma", "clip", "algorithm", "seed", "prompt")
TRAIN_FILES = ("config.yaml", "meta.json", "metrics.jsonl")
# rollouts/*.parquet columns read by default (rlvr.train.rundir.ROLLOUT_COLUMNS without prompt and response texts)
ROLLOUT_SUMMARY_COLUMNS = ("step", "prompt_id", "sample", "answer", "reward", "correct", "advantage",
                           "response_tokens", "finished", "is_code")  # fmt: skip
_STEP_FILE = re.compile(r"step_(\d+)\.parquet")
_STEP_DIR = re.compile(r"step_(\d+)")
EVALS_DIR = "evals"  # <run dir>/evals/<eval>_<prompt>/step_<n>/: its checkpoints evaluated afterwards (rlvr.evaluate.checkpoints)


class DamagedRun(ValueError):
    """A run directory that cannot be read as a whole; the message says which file and why."""


@dataclass(frozen=True)
class RunRecord:
    """One training run, read in full."""

    path: Path
    config: dict[str, Any]
    meta: dict[str, Any]
    metrics: pd.DataFrame  # one row per logged step, columns = metric keys, sorted by step

    def rollouts(self, step: int) -> pd.DataFrame:
        return pd.read_parquet(self.path / "rollouts" / f"step_{step}.parquet")

    @property
    def rollout_steps(self) -> list[int]:
        return _steps(self.path / "rollouts")

    @property
    def eval_steps(self) -> list[int]:
        return _steps(self.path / "eval")

    def evals(self, step: int) -> pd.DataFrame:
        return pd.read_parquet(self.path / "eval" / f"step_{step}.parquet")


@dataclass
class RunData:
    """Every readable run under a root, as tidy frames (see the module docstring)."""

    runs: pd.DataFrame  # one row per run: KEYS + path, total_steps, last_step, grader_version
    metrics: pd.DataFrame  # one row per (training run, step): KEYS + step + metric columns
    evals: pd.DataFrame  # one row per (run, step, benchmark, problem, sample): KEYS + step + rlvr.evaluate.RECORD_COLUMNS
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (run directory, why it was left out)

    def rollouts(self, columns: Iterable[str] | None = ROLLOUT_SUMMARY_COLUMNS, **where: Any) -> pd.DataFrame:
        """The training samples (``rollouts/step_<n>.parquet``) of the training runs matching ``where``, keyed
        like the other frames. Read on demand, only ``columns`` (default: everything but the texts), since a
        paper run logs 300 steps x 1,024 samples; ``columns=None`` reads them all. The samples' own reward
        is ``reward_value``."""
        runs = self.select("runs", kind="train", **where)
        frames = []
        for row in runs.to_dict("records"):
            keys = {k: row[k] for k in KEYS}
            for step in _steps(Path(row["path"]) / "rollouts"):
                path = Path(row["path"]) / "rollouts" / f"step_{step}.parquet"
                frame = pd.read_parquet(path, columns=None if columns is None else list(columns))
                # The sample's reward value; `reward` is the run's key (the reward's label) in every frame.
                frames.append(_with_keys(frame.rename(columns={"reward": "reward_value"}), keys))
        return _concat(frames, [*KEYS, "step"])

    def select(self, frame: str = "runs", **where: Any) -> pd.DataFrame:
        """Rows of one frame whose key columns equal the given values (a list or tuple: any of them).

        >>> data = RunData(pd.DataFrame({"reward": ["random", "format"], "clip": ["none", "standard"]}),
        ...                pd.DataFrame(), pd.DataFrame())
        >>> data.select(reward=["random", "python"])["clip"].tolist()
        ['none']
        """
        table = getattr(self, frame)
        mask = pd.Series(True, index=table.index)
        for key, value in where.items():
            if key not in table:
                return table.iloc[0:0]
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            mask &= table[key].isin(values)
        return table[mask]


def read_run(path: str | Path) -> RunRecord:
    """Load ``config.yaml``, ``meta.json`` and ``metrics.jsonl`` of a training run; errors name the file and line."""
    path = Path(path)
    for name in TRAIN_FILES:
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
        config=_read_yaml(path / "config.yaml"),
        meta=json.loads((path / "meta.json").read_text()),
        metrics=metrics,
    )


def find_runs(root: str | Path) -> list[Path]:
    """Run directories under ``root`` (or ``root`` itself): training runs (a ``metrics.jsonl`` or a
    ``config.yaml`` with ``meta.json``) and evaluation runs (a ``summary.json`` or ``samples.parquet``, or
    only the ``meta.json`` an evaluation writes: one that did not finish)."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"no runs root at {root}")
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        names = set(filenames)
        if names & {"metrics.jsonl", "summary.json", "samples.parquet", "meta.json"}:
            found.add(Path(dirpath))
            dirnames[:] = []  # a run's own folders (eval/, rollouts/, checkpoints/) hold no runs
        else:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
    return sorted(found)


def run_keys(config: dict[str, Any], run_id: str, kind: str) -> dict[str, Any]:
    """The key columns of a run, from its resolved config.

    >>> run_keys({"model": {"name": "tiny"}, "reward": {"label": "random", "gamma": 0.3}, "clip": {"name": "none"},
    ...           "algorithm": {"name": "grpo"}, "seed": 1, "experiment_name": "fig12"}, "r0", "train")["gamma"]
    0.3
    """
    def pick(*path: str) -> Any:
        node: Any = config
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    return {
        "run_id": run_id,
        "kind": kind,
        "experiment": pick("experiment_name"),
        "model": pick("model", "name"),
        "reward": pick("reward", "label"),
        "gamma": pick("reward", "gamma"),
        "clip": pick("clip", "name"),
        "algorithm": pick("algorithm", "name"),
        "seed": pick("seed"),
        "prompt": pick("prompt", "name") or "default",
    }


def load_runs(root: str | Path, *, progress: bool = True) -> RunData:
    """Every run under ``root`` (see the module docstring); unreadable or unfinished ones go to ``skipped``."""
    from tqdm.auto import tqdm

    root = Path(root)
    loaded: list[_TrainRun | _EvalOutput] = []
    skipped: list[tuple[Path, str]] = []
    for path in tqdm(find_runs(root), desc="reading runs", unit="run", disable=not progress):
        run_id = str(path.relative_to(root)) if path != root else path.name
        try:
            loaded.append(_read_eval_output(path, run_id) if _is_eval_run(path) else _load_train_run(path, run_id))
        except (DamagedRun, FileNotFoundError, ValueError, OSError) as err:
            skipped.append((path, str(err)))
            continue
        if isinstance(loaded[-1], _TrainRun):
            skipped += _read_points(loaded[-1])
    # evaluations elsewhere of a checkpoint of a run read here: points of that run's curve
    by_path = {run.path.resolve(): run for run in loaded if isinstance(run, _TrainRun)}
    for output in [o for o in loaded if isinstance(o, _EvalOutput)]:
        run = by_path.get(_checkpoint_run(output.summary.get("checkpoint")))
        if run is not None:
            run.points.append(output)
            loaded.remove(output)
    runs, metrics, evals = [], [], []
    for item in loaded:
        if isinstance(item, _TrainRun):
            run_metrics, run_evals = _with_points(item)
            metrics.append(run_metrics)
        else:
            run_evals = _with_keys(item.records, item.keys, step=item.step)
        runs.append(item.row)
        evals.append(run_evals)
    runs_frame = pd.DataFrame(runs, columns=[*KEYS, "path", "total_steps", "last_step", "grader_version"])
    return RunData(
        runs=runs_frame,
        metrics=_concat(metrics, [*KEYS, "step"]),
        evals=_concat(evals, [*KEYS, "step"]),
        skipped=skipped,
    )


def grader_versions(runs: pd.DataFrame) -> dict[str, int]:
    """How many of ``runs`` (rows of ``RunData.runs``) each grader version graded; runs that do not say
    (older runs) are not counted.

    >>> grader_versions(pd.DataFrame({"grader_version": ["2", None, "1", "2"]}))
    {'1': 1, '2': 2}
    """
    if "grader_version" not in runs:
        return {}
    return {str(v): int(n) for v, n in sorted(runs["grader_version"].dropna().astype(str).value_counts().items())}


def grader_warning(runs: pd.DataFrame) -> str | None:
    """A warning naming each grader version and its runs when ``runs`` carry more than one, else None.

    >>> grader_warning(pd.DataFrame({"grader_version": ["1", "1", None]})) is None
    True
    >>> print(grader_warning(pd.DataFrame({"grader_version": ["2", None, "1", "2"]})))
    runs graded by different grader versions are pooled: 1 (1 run), 2 (2 runs); 1 run does not say (older than the field). Their numbers are not comparable: select one version's runs, or re-grade.
    """
    versions = grader_versions(runs)
    if len(versions) < 2:
        return None
    plural = lambda n: f"{n} run{'' if n == 1 else 's'}"  # noqa: E731
    listed = ", ".join(f"{version} ({plural(n)})" for version, n in versions.items())
    unknown = int(runs["grader_version"].isna().sum())
    untold = f"; {plural(unknown)} {'does' if unknown == 1 else 'do'} not say (older than the field)" if unknown else ""
    return (f"runs graded by different grader versions are pooled: {listed}{untold}. "
            "Their numbers are not comparable: select one version's runs, or re-grade.")  # fmt: skip


# --------------------------------------------------------------------------------------------------


def _is_eval_run(path: Path) -> bool:
    """An evaluation output (``rlvr.evaluate``): its results, or only its ``meta.json`` (no training files)."""
    names = {p.name for p in path.iterdir()}
    return bool(names & {"summary.json", "samples.parquet"}) or not names & {"config.yaml", "metrics.jsonl"}


def _grader_version(*records: dict[str, Any]) -> str | None:
    """The first ``grader_version`` the records give, as text; None when none does (a run older than the field)."""
    for record in records:
        if isinstance(record, dict) and record.get("grader_version") is not None:
            return str(record["grader_version"])
    return None


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DamagedRun(f"{path.name}: not JSON ({err})") from None
    if not isinstance(meta, dict):
        raise DamagedRun(f"{path.name}: not a JSON object")
    return meta


@dataclass(eq=False)  # identity: compared by list.remove, and frames have no truth value
class _TrainRun:
    path: Path
    keys: dict[str, Any]
    row: dict[str, Any]  # of RunData.runs
    metrics: pd.DataFrame  # metrics.jsonl, without keys
    evals: pd.DataFrame  # eval/step_<n>.parquet, keyed
    points: list[_EvalOutput] = field(default_factory=list)  # evaluations of its checkpoints


@dataclass(eq=False)
class _EvalOutput:
    """A finished ``python -m rlvr.evaluate`` output, read."""

    path: Path
    summary: dict[str, Any]
    keys: dict[str, Any]  # as a run of its own
    row: dict[str, Any]  # as a run of its own
    records: pd.DataFrame  # samples.parquet
    step: int  # of the checkpoint it evaluated (0: a model's own weights)


def _load_train_run(path: Path, run_id: str) -> _TrainRun:
    for name in TRAIN_FILES:
        if not (path / name).is_file():
            raise DamagedRun(f"{name} is missing")
    try:
        record = read_run(path)
    except (ValueError, yaml.YAMLError) as err:
        raise DamagedRun(str(err)) from err
    keys = run_keys(record.config, run_id, "train")
    total = (record.config.get("trainer") or {}).get("total_steps")
    steps = record.metrics["step"].tolist() if "step" in record.metrics else []
    last = int(max(steps)) if steps else None
    if total is not None and (last is None or last < int(total)):
        raise DamagedRun(f"unfinished: metrics.jsonl stops at step {last} of {total}")
    evals = [_with_keys(_read_parquet(path / "eval" / f"step_{s}.parquet"), keys, step=s) for s in record.eval_steps]
    row = keys | {"path": str(path), "total_steps": total, "last_step": last,
                  "grader_version": _grader_version(record.meta)}  # fmt: skip
    return _TrainRun(path, keys, row, record.metrics, _concat(evals, [*KEYS, "step"]))


def _read_eval_output(path: Path, run_id: str) -> _EvalOutput:
    for name in ("summary.json", "samples.parquet"):
        if not (path / name).is_file():
            raise DamagedRun(f"{name} is missing (an evaluation that did not finish?)")
    summary = _read_meta(path / "summary.json")
    meta = _read_meta(path / "meta.json") if (path / "meta.json").is_file() else {}
    config = _read_yaml(path / ".hydra" / "config.yaml") if (path / ".hydra" / "config.yaml").is_file() else {}
    keys = run_keys(config, run_id, "eval")
    keys["model"] = keys["model"] or summary.get("model")
    keys["experiment"] = keys["experiment"] or summary.get("experiment_name")
    keys["prompt"] = (summary.get("prompt") or {}).get("name", keys["prompt"])
    step = _checkpoint_step(summary.get("checkpoint"))
    row = keys | {"path": str(path), "total_steps": None, "last_step": step,
                  "grader_version": _grader_version(meta, summary)}  # fmt: skip
    return _EvalOutput(path, summary, keys, row, _read_parquet(path / "samples.parquet"), step)


def _read_points(run: _TrainRun) -> list[tuple[Path, str]]:
    """Add the evaluations inside ``run`` (``<run dir>/evals/...``) to its points; the ones left out, with why."""
    folder = run.path / EVALS_DIR
    skipped = []
    for path in find_runs(folder) if folder.is_dir() else []:
        try:
            output = _read_eval_output(path, run.keys["run_id"])
            named = re.search(r"step_(\d+)$", str(output.summary.get("checkpoint") or "").rstrip("/"))
            if named is None and not _STEP_DIR.fullmatch(path.name):
                raise DamagedRun("summary.json names no checkpoint step_<n>: which step it evaluated is unknown")
            step = int(named[1]) if named else int(path.name.removeprefix("step_"))
            run.points.append(dataclasses.replace(output, step=step))
        except (DamagedRun, ValueError, OSError) as err:
            skipped.append((path, str(err)))
    return skipped


def _with_points(run: _TrainRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's metrics and records with its evaluated checkpoints added (see the module docstring). Per step,
    benchmark and prompt, the trainer's own evaluation wins, then the evaluation with more samples, then the newest."""
    evaluated = set(zip(run.evals["step"], run.evals["benchmark"], run.evals["prompt_name"])) if len(run.evals) else set()
    chosen: dict[tuple, tuple[tuple, _EvalOutput, pd.DataFrame]] = {}
    for point in run.points:
        for (benchmark, prompt), part in point.records.groupby(["benchmark", "prompt_name"], sort=False):
            key = (point.step, benchmark, prompt)
            rank = (len(part), str(point.summary.get("time") or ""))
            if key not in evaluated and (key not in chosen or rank > chosen[key][0]):
                chosen[key] = (rank, point, part)
    rows: dict[int, dict[str, Any]] = {}
    for (step, benchmark, prompt), (_, point, _) in chosen.items():
        if prompt == run.keys["prompt"]:
            values = ((point.summary.get("benchmarks") or {}).get(benchmark) or {}).get("metrics") or {}
            rows.setdefault(step, {"step": step}).update(
                {f"eval/{benchmark}/{name}": math.nan if v is None else v for name, v in values.items()})  # fmt: skip
    metrics = _fill_missing(run.metrics, pd.DataFrame(list(rows.values())))
    records = [_with_keys(part, run.keys, step=step) for (step, _, _), (_, _, part) in chosen.items()]
    evals = _concat([run.evals, *records], [*KEYS, "step"])
    return _with_keys(metrics, run.keys), evals.sort_values("step", kind="stable").reset_index(drop=True)


def _fill_missing(metrics: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` (one row per logged step) with the values of ``points`` (``step`` + metric columns) where
    it has none: a cell it leaves empty, a column or a step it lacks.

    >>> logged = pd.DataFrame({"step": [0, 1], "eval/a/accuracy": [0.5, None], "train/reward_mean": [0.1, 0.2]})
    >>> _fill_missing(logged, pd.DataFrame({"step": [0, 1, 2], "eval/a/accuracy": [0.9, 0.6, 0.7]})).values.tolist()
    [[0.0, 0.5, 0.1], [1.0, 0.6, 0.2], [2.0, 0.7, nan]]
    """
    if not len(points):
        return metrics
    merged = metrics.merge(points, on="step", how="outer", suffixes=("", " (checkpoint)"))
    for column in points.columns.drop("step"):
        if f"{column} (checkpoint)" in merged:
            merged[column] = merged[column].where(merged[column].notna(), merged.pop(f"{column} (checkpoint)"))
    return merged.sort_values("step", kind="stable").reset_index(drop=True)


def _checkpoint_run(checkpoint: str | None) -> Path | None:
    """The run directory of a checkpoint ``<run dir>/checkpoints/step_<n>`` (a relative one: from here), else None.

    >>> _checkpoint_run("/runs/r/checkpoints/step_300"), _checkpoint_run("Qwen/Qwen2.5-7B"), _checkpoint_run(None)
    (PosixPath('/runs/r'), None, None)
    """
    path = Path(str(checkpoint).rstrip("/")) if checkpoint else None
    if path is None or path.parent.name != "checkpoints" or not _STEP_DIR.fullmatch(path.name):
        return None
    return path.parent.parent.resolve()


def _checkpoint_step(checkpoint: str | None) -> int:
    """The training step of an evaluated checkpoint (``.../step_300`` -> 300); 0 for a model's own weights.

    >>> _checkpoint_step(None), _checkpoint_step("runs/x/checkpoints/step_300")
    (0, 300)
    """
    if not checkpoint:
        return 0
    match = re.search(r"step_(\d+)$", str(checkpoint).rstrip("/"))
    return int(match[1]) if match else 0


def _steps(folder: Path) -> list[int]:
    return sorted(int(m[1]) for p in folder.glob("step_*.parquet") if (m := _STEP_FILE.fullmatch(p.name)))


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as err:  # a truncated or foreign file: the run is damaged
        raise DamagedRun(f"{path.name}: unreadable parquet ({type(err).__name__}: {err})") from err


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise DamagedRun(f"{path.name}: not YAML ({err})") from err


def _with_keys(frame: pd.DataFrame, keys: dict[str, Any], step: int | None = None) -> pd.DataFrame:
    frame = frame.copy()
    if step is not None:
        frame["step"] = step
    for column, value in reversed(list(keys.items())):
        if column in frame:
            frame = frame.drop(columns=column)
        frame.insert(0, column, value)
    return frame


def _concat(frames: Iterable[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
