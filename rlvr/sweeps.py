"""``python -m rlvr.sweeps <multirun dir> [--watch [SECONDS]]``: one table of a sweep's runs.

    python -m rlvr.sweeps outputs/multirun/fig1/2026-11-29_10-00-00            # once
    python -m rlvr.sweeps outputs/multirun/fig1/2026-11-29_10-00-00 --watch    # every 60 s until all end

One row per job: its overrides, SLURM job id and state, attempts (a requeue after preemption adds one),
last step of total, and the latest training reward, accuracy, code rate and evaluation accuracy. Failed
jobs get the tail of their error log below the table. Everything is read from files the sweep writes
(the contract below) plus one call to ``sacct`` (else ``squeue``), so it works on a login node, on a
laptop holding a copy of the directory (states are then UNKNOWN), and for a local ``-m`` sweep.

    <multirun dir>/multirun.yaml                         Hydra, at sweep start
    <multirun dir>/<job num>_<run name>/                 .hydra/overrides.yaml, train.log; once training
                                                         started: config.yaml, meta.json ("attempts"),
                                                         metrics.jsonl; when finished: done.json
    <multirun dir>/.jobs/<job num>.json                  our launcher, at each attempt: job_num, job_id, overrides
    <multirun dir>/.submitit/<job id>/<job id>_0_log.err submitit: task 0's stderr
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

import yaml

TRAIN_KEYS = ("train/reward_mean", "train/accuracy", "train/code_rate")
PREFERRED_BENCHMARK = "math500"  # the paper's headline benchmark; another one is shown when a run has no math500
ERROR_TAIL_LINES = 10

# What each state means for "is this sweep over?". Anything not listed (a state this SLURM version adds) is
# "unknown": --watch keeps watching rather than stopping early.
CATEGORIES = {
    "done": {"DONE", "COMPLETED"},
    "running": {"RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING", "RESIZING"},
    # REQUEUED: preempted or timed out, and put back in the queue by submitit; it runs again.
    "pending": {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED", "RESV_DEL_HOLD"},
    # ENDED: our own word for a job that left the queue without writing done.json (no accounting to say why).
    "failed": {"FAILED", "CANCELLED", "TIMEOUT", "PREEMPTED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
               "DEADLINE", "REVOKED", "ENDED"},
}  # fmt: skip
SUMMARY_ORDER = ("done", "running", "pending", "failed", "unknown")

Runner = Callable[..., Any]  # subprocess.run, or a fake in tests


class NotAMultirunDir(ValueError):
    """The path given is not a multirun directory; the message says what was expected (and a guess)."""


@dataclass(frozen=True)
class RunStatus:
    """One job of a sweep, as its files and the scheduler describe it now."""

    job_num: int
    overrides: tuple[str, ...]
    path: Path | None  # the run directory; None while the job has not created it
    job_id: str | None  # SLURM job id of the latest attempt ("12345_0"); None for a local sweep
    state: str  # DONE (done.json), a SLURM state (RUNNING, PENDING, FAILED, ...), ENDED, or UNKNOWN
    attempts: int | None  # starts recorded in meta.json; None before training started
    step: int | None  # the step of the last metrics line
    total_steps: int | None
    latest: Mapping[str, float] = field(default_factory=dict)  # TRAIN_KEYS -> latest value
    eval_benchmark: str | None = None
    eval_accuracy: float | None = None
    error_log: Path | None = None  # set for failed jobs
    error_tail: tuple[str, ...] = ()

    @property
    def category(self) -> str:
        return state_category(self.state)


# ---------------------------------------------------------------------------------------------- reading files


def check_multirun_dir(path: Path) -> Path:
    """``path`` if it holds ``multirun.yaml``; else raise ``NotAMultirunDir`` naming the newest one below it."""
    if (path / "multirun.yaml").is_file():
        return path
    if not path.is_dir():
        raise NotAMultirunDir(f"{path}: no such directory")
    below = sorted(path.glob("*/multirun.yaml")) + sorted(path.glob("*/*/multirun.yaml"))
    hint = f"; the newest sweep below it is {max(below, key=lambda p: p.stat().st_mtime).parent}" if below else ""
    raise NotAMultirunDir(
        f"{path} is not a multirun directory (it has no multirun.yaml): pass the folder that "
        f"`python -m rlvr.train -m ...` created, e.g. outputs/multirun/<experiment>/<date>_<time>{hint}"
    )


def run_dirs(multirun: Path) -> dict[int, Path]:
    """Run directories by job number: ``<num>_<run name>`` (or Hydra's bare ``<num>``)."""
    found = {}
    for path in sorted(multirun.iterdir()):
        match = re.fullmatch(r"(\d+)(_.*)?", path.name)
        if match and path.is_dir():
            found.setdefault(int(match[1]), path)
    return found


def job_records(multirun: Path) -> dict[int, dict[str, Any]]:
    """The launcher's ``.jobs/<num>.json`` records by job number; an unreadable one (mid-write) is skipped."""
    records = {}
    for path in sorted((multirun / ".jobs").glob("*.json")):
        record = _read_json(path)
        num = record.get("job_num") if isinstance(record, dict) else None
        if isinstance(num, int):
            records[num] = record
    return records


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The lines of ``metrics.jsonl`` that parse; a torn line (the writer cut mid-line) is left out.

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "metrics.jsonl"
    >>> _ = f.write_text('{"step": 1, "train/accuracy": 0.5}\\n{"step": 2, "train/acc')
    >>> read_metrics(f)
    [{'step': 1, 'train/accuracy': 0.5}]
    """
    try:
        text = path.read_text(errors="replace")
    except OSError:  # not there yet: the job has not started training
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # the torn last line; a damaged middle line is not the monitor's business either
        if isinstance(row, dict):
            rows.append(row)
    return rows


def latest_values(rows: Sequence[Mapping[str, Any]], keys: Iterable[str]) -> dict[str, float]:
    """Each key's value on the last row that has it (evaluations and some metrics are not logged every step).

    >>> latest_values([{"a": 1, "b": 2}, {"a": 3}], ["a", "b", "c"])
    {'a': 3, 'b': 2}
    """
    latest = {}
    for key in keys:
        for row in reversed(rows):
            if row.get(key) is not None:
                latest[key] = row[key]
                break
    return latest


def eval_accuracy(rows: Sequence[Mapping[str, Any]]) -> tuple[str | None, float | None]:
    """The latest ``eval/math500/accuracy``, else that of the first benchmark the run evaluates.

    >>> eval_accuracy([{"eval/aime24/accuracy": 0.1, "eval/amc23/accuracy": 0.2}, {"step": 3}])
    ('aime24', 0.1)
    """
    benchmarks = [m[1] for row in rows for key in row if (m := re.fullmatch(r"eval/(.+)/accuracy", key))]
    if not benchmarks:
        return None, None
    name = PREFERRED_BENCHMARK if PREFERRED_BENCHMARK in benchmarks else benchmarks[0]
    return name, latest_values(rows, [f"eval/{name}/accuracy"]).get(f"eval/{name}/accuracy")


def tail_lines(path: Path, n: int = ERROR_TAIL_LINES, max_bytes: int = 64_000) -> list[str]:
    """The last ``n`` non-blank lines of a file, reading only its end (an error log can hold megabytes)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - max_bytes))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line.rstrip() for line in text.splitlines() if line.strip()][-n:]


def error_log(multirun: Path, job_id: str | None, run_dir: Path | None) -> Path | None:
    """Task 0's stderr from submitit, else the run's own ``train.log``."""
    candidates = []
    if job_id:
        folder = multirun / ".submitit" / job_id
        candidates += [folder / f"{job_id}_0_log.err", *sorted(folder.glob("*_0_log.err"))]
    if run_dir is not None:
        candidates.append(run_dir / "train.log")
    return next((p for p in candidates if p.is_file()), None)


# ---------------------------------------------------------------------------------------------- SLURM


def parse_job_states(text: str) -> dict[str, str]:
    """``JobID|State`` (sacct -P) or ``JobID State`` (squeue) lines as {job id: state}; a pending array
    range (``12345_[1-3,7%2]``: tasks 1 to 3 and 7, at most 2 at a time) is expanded to its tasks.

    >>> parse_job_states("12345_0|COMPLETED\\n12345_[1-3,7%2]|PENDING\\n12346|CANCELLED by 0\\n12347_4 RUNNING")
    {'12345_0': 'COMPLETED', '12345_1': 'PENDING', '12345_2': 'PENDING', '12345_3': 'PENDING', '12345_7': 'PENDING', '12346': 'CANCELLED', '12347_4': 'RUNNING'}
    """
    states = {}
    for line in text.splitlines():
        parts = line.strip().split("|" if "|" in line else None, 1)
        if len(parts) < 2 or not parts[1].split():
            continue  # a blank line
        job_id, state = parts[0].strip(), parts[1].split()[0].rstrip("+").upper()
        for one in _expand_array(job_id):
            states[one] = state
    return states


def slurm_states(job_ids: Iterable[str], run: Runner = subprocess.run) -> dict[str, str]:
    """The state of each job: from SLURM accounting (sacct), else the queue (squeue: a job it no longer lists
    has ENDED). Empty when neither command is there or answers (a laptop, a local sweep)."""
    job_ids = sorted(set(job_ids))
    if not job_ids:
        return {}
    sacct = _call(["sacct", "-j", ",".join(job_ids), "-X", "-n", "-P", "-o", "JobID,State"], run)
    states = parse_job_states(sacct or "")
    missing = [j for j in job_ids if j not in states]
    if missing:  # no accounting on this cluster, or not yet: what is still queued or running is in squeue
        queue = _call(["squeue", "-h", "-o", "%i %T"], run)
        if queue is not None:
            queued = parse_job_states(queue)
            states |= {j: queued.get(j, "ENDED") for j in missing}
    return {j: states[j] for j in job_ids if j in states}


def state_category(state: str) -> str:
    """done, running, pending, failed or unknown.

    >>> state_category("COMPLETED"), state_category("REQUEUED"), state_category("TIMEOUT"), state_category("UNKNOWN")
    ('done', 'pending', 'failed', 'unknown')
    """
    return next((name for name, states in CATEGORIES.items() if state in states), "unknown")


# ---------------------------------------------------------------------------------------------- one sweep


def read_sweep(multirun: Path, run: Runner = subprocess.run) -> list[RunStatus]:
    """Every job of a sweep, by job number: run directories and launcher records, with SLURM's states."""
    multirun = check_multirun_dir(Path(multirun))
    dirs, records = run_dirs(multirun), job_records(multirun)
    metas = {num: meta for num, path in dirs.items() if isinstance(meta := _read_json(path / "meta.json"), dict)}
    job_ids = {num: _job_id(records.get(num), metas.get(num, {})) for num in sorted(dirs.keys() | records.keys())}
    states = slurm_states([j for j in job_ids.values() if j], run)
    return [read_run(multirun, num, dirs.get(num), records.get(num, {}), metas.get(num, {}), job_id, states.get(job_id))
            for num, job_id in job_ids.items()]  # fmt: skip


def read_run(multirun: Path, job_num: int, run_dir: Path | None, record: Mapping[str, Any], meta: Mapping[str, Any],
             job_id: str | None, slurm_state: str | None) -> RunStatus:  # fmt: skip
    """One job's row: its files, plus the state SLURM gave (None: not known)."""
    rows = read_metrics(run_dir / "metrics.jsonl") if run_dir else []
    # done.json ends a training run; summary.json an evaluation (python -m rlvr.evaluate -m)
    done = run_dir is not None and any((run_dir / name).is_file() for name in ("done.json", "summary.json"))
    state = "DONE" if done else slurm_state or "UNKNOWN"
    overrides = _read_yaml(run_dir / ".hydra" / "overrides.yaml") if run_dir else None
    attempts = meta.get("attempts")
    benchmark, accuracy = eval_accuracy(rows)
    log = error_log(multirun, job_id, run_dir) if state_category(state) == "failed" else None
    return RunStatus(
        job_num=job_num,
        overrides=tuple(map(str, overrides if isinstance(overrides, list) else record.get("overrides") or ())),
        path=run_dir,
        job_id=job_id,
        state=state,
        attempts=len(attempts) if isinstance(attempts, list) else None,
        step=next((int(r["step"]) for r in reversed(rows) if "step" in r), None),
        total_steps=_total_steps(run_dir),
        latest=latest_values(rows, TRAIN_KEYS),
        eval_benchmark=benchmark,
        eval_accuracy=accuracy,
        error_log=log,
        error_tail=tuple(tail_lines(log)) if log else (),
    )


def is_finished(runs: Sequence[RunStatus]) -> bool:
    """Every job is done or failed: nothing left to watch."""
    return all(r.category in ("done", "failed") for r in runs)


# ---------------------------------------------------------------------------------------------- output


def summary_line(runs: Sequence[RunStatus]) -> str:
    """``5 runs: 1 done, 1 running, 2 pending, 1 failed`` (and ``, n unknown`` when states are not known)."""
    counts = {name: sum(r.category == name for r in runs) for name in SUMMARY_ORDER}
    parts = [f"{counts[name]} {name}" for name in SUMMARY_ORDER if name != "unknown" or counts[name]]
    return f"{len(runs)} run{'' if len(runs) == 1 else 's'}: " + ", ".join(parts)


def shared_overrides(runs: Sequence[RunStatus]) -> list[str]:
    """Overrides every run has (``experiment=fig1``): printed once above the table, not on each row."""
    known = [r.overrides for r in runs if r.overrides]
    if len(known) < 2:
        return []
    return [o for o in known[0] if all(o in overrides for overrides in known[1:])]


def table_rows(runs: Sequence[RunStatus]) -> list[tuple[str, ...]]:
    """The table's cells, one tuple per run (header: ``HEADER``); overrides shared by all runs left out."""
    shared = set(shared_overrides(runs))
    rows = []
    for r in runs:
        own = [o for o in r.overrides if o not in shared]
        step = "-" if r.step is None else f"{r.step}/{r.total_steps if r.total_steps is not None else '?'}"
        bench = "" if r.eval_benchmark in (None, PREFERRED_BENCHMARK) else f" ({r.eval_benchmark})"
        rows.append((
            str(r.job_num), " ".join(own) or "(none)", r.job_id or "-", r.state,
            "-" if r.attempts is None else str(r.attempts), step,
            *(_number(r.latest.get(key)) for key in TRAIN_KEYS), _number(r.eval_accuracy) + bench,
        ))  # fmt: skip
    return rows


HEADER = ("#", "overrides", "job id", "state", "attempts", "step", "reward", "accuracy", "code rate",
          f"eval ({PREFERRED_BENCHMARK})")  # fmt: skip


def format_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...] = HEADER) -> str:
    """Columns padded to their widest cell, like ``rlvr.plan``.

    >>> print(format_table([("0", "seed=1")], ("#", "overrides")))
    #  overrides
    -  ---------
    0  seed=1
    """
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    line = lambda row: "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, rows)])


def format_errors(runs: Sequence[RunStatus], multirun: Path) -> str:
    """For each failed job: which log, and its last lines."""
    blocks = []
    for r in runs:
        if r.category != "failed":
            continue
        where = "no error log found" if r.error_log is None else os.path.relpath(r.error_log, multirun)
        body = "\n".join(f"    {line}" for line in r.error_tail) or "    (empty)"
        blocks.append(f"job {r.job_num} {r.state} ({where}):\n{body}")
    return "\n\n".join(blocks)


def render(multirun: Path, runs: Sequence[RunStatus], now: str | None = None) -> str:
    shared = shared_overrides(runs)
    title = f"{multirun}" + (f"   every run: {' '.join(shared)}" if shared else "") + (f"   ({now})" if now else "")
    parts = [title, format_table(table_rows(runs)), summary_line(runs)]
    errors = format_errors(runs, multirun)
    return "\n".join(parts) + (f"\n\n{errors}" if errors else "")


# ---------------------------------------------------------------------------------------------- command


def watch(multirun: Path, every: float | None, run: Runner = subprocess.run,
          sleep: Callable[[float], None] = time.sleep, out: TextIO = sys.stdout) -> list[RunStatus]:  # fmt: skip
    """Print the table once (``every=None``), or every ``every`` seconds until each job is done or failed."""
    while True:
        runs = read_sweep(multirun, run)
        if every is not None and out.isatty():
            out.write("\x1b[2J\x1b[H")  # clear the screen: the table replaces the last one
        out.write(render(multirun, runs, time.strftime("%H:%M:%S") if every is not None else None) + "\n")
        out.flush()
        if every is None or is_finished(runs):
            return runs
        sleep(every)
        if not out.isatty():
            out.write("\n")  # in a log file, refreshes follow each other


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rlvr.sweeps", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("multirun_dir", type=Path, help="the folder `python -m rlvr.train -m ...` created")
    parser.add_argument("--watch", nargs="?", const=60.0, type=_positive_seconds, metavar="SECONDS",
                        help="refresh every SECONDS (default 60) until every run is done or failed")  # fmt: skip
    return parser.parse_args(_watch_value_last(list(argv)))


def main(argv: Sequence[str] | None = None, *, run: Runner = subprocess.run,
         sleep: Callable[[float], None] = time.sleep, out: TextIO = sys.stdout) -> int:  # fmt: skip
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        watch(args.multirun_dir, args.watch, run, sleep, out)
    except SystemExit as exit:  # argparse: --help (0) or a bad argument (2), already explained
        return int(exit.code or 0)
    except NotAMultirunDir as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C ends --watch; nothing went wrong
        return 0
    return 0


# ---------------------------------------------------------------------------------------------- helpers


def _call(cmd: list[str], run: Runner) -> str | None:
    """A command's stdout, or None when it is not installed, fails, or hangs (a slurmctld that is down)."""
    try:
        result = run(cmd, capture_output=True, text=True, timeout=30)
    except (FileNotFoundError, PermissionError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _expand_array(job_id: str) -> list[str]:
    """``12345_[1-3,7%2]`` -> its tasks; any other id as it is."""
    match = re.fullmatch(r"(\d+)_\[([\d,\-]+)(?:%\d+)?\]", job_id)
    if not match:
        return [job_id]
    tasks = []
    for part in match[2].split(","):
        first, _, last = part.partition("-")
        tasks += range(int(first), int(last or first) + 1)
    return [f"{match[1]}_{task}" for task in tasks]


def _job_id(record: Mapping[str, Any] | None, meta: Mapping[str, Any]) -> str | None:
    """The latest attempt's job id: the launcher's record (written at each attempt's start), else meta.json."""
    if record and record.get("job_id"):
        return str(record["job_id"])
    attempts = meta.get("attempts") if isinstance(meta, Mapping) else None
    if isinstance(attempts, list) and attempts and isinstance(attempts[-1], dict) and attempts[-1].get("job_id"):
        return str(attempts[-1]["job_id"])
    return None


def _total_steps(run_dir: Path | None) -> int | None:
    config = _read_yaml(run_dir / "config.yaml") if run_dir else None
    total = (config.get("trainer") or {}).get("total_steps") if isinstance(config, dict) else None
    return int(total) if isinstance(total, int) else None


def _number(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value:.3f}"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):  # absent, or caught mid-write: shown as not there yet
        return None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _positive_seconds(text: str) -> float:
    seconds = float(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"--watch takes a positive number of seconds, not {text}")
    return seconds


def _watch_value_last(argv: list[str]) -> list[str]:
    """``--watch DIR`` means watch DIR every 60 s, not "watch every DIR seconds": move a bare --watch last."""
    if "--watch" in argv:
        i = argv.index("--watch")
        following = argv[i + 1] if i + 1 < len(argv) else None
        if following is not None and not re.fullmatch(r"\d+(\.\d*)?", following):
            return argv[:i] + argv[i + 1 :] + ["--watch"]
    return argv


if __name__ == "__main__":
    sys.exit(main())
