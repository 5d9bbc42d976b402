"""Metric sinks besides ``metrics.jsonl``, which stays the record of truth: ``none``, ``wandb``, ``tensorboard``.

The trainer builds one with ``build_logger``, calls ``log(step, metrics)`` once per step, after
``RunDir.log_metrics`` wrote the same row, and ``close()`` at the end. Only rank 0 logs.

A resumed run logs again every step after its checkpoint, and the attempt that was killed may have logged
further. Each sink keeps every step once: wandb skips the steps it was sent already, TensorBoard purges the
events after the checkpoint. Values that are not finite are skipped: ``metrics.jsonl`` writes them as null,
so every sink shows the same gap.

What the loggers keep in the run directory:

    wandb_id.txt           the wandb run's id: a resumed run continues the same wandb run
    logger_state.json      {"last_step": n}: the last step sent to wandb, rewritten after each step
    wandb/                 wandb's own files (offline runs: ``wandb sync <run dir>/wandb/offline-run-*``)
    <logger.log_dir>/      TensorBoard's event files (``tensorboard`` by default)
"""

from __future__ import annotations

import json
import math
import secrets
import string
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Protocol

from rlvr.config import LoggerConfig
from rlvr.outputs import write_json
from rlvr.registry import Registry

DEFAULT_PROJECT = "spurious-rewards"
DEFAULT_GROUP = "adhoc"
WANDB_ID_FILE = "wandb_id.txt"
LOGGER_STATE_FILE = "logger_state.json"
# Tags that say which cell of the paper's grid a run is, read from the run's resolved config.
CONFIG_TAGS = {"model": ("model", "name"), "reward": ("reward", "label"), "clip": ("clip", "name")}


class MetricsLogger(Protocol):
    def log(self, step: int, metrics: Mapping[str, float]) -> None: ...

    def close(self) -> None: ...


# A constructor: (cfg, *, run_dir, run_name, config, resume_step) -> MetricsLogger; see ``build_logger``.
LoggerFactory = Callable[..., MetricsLogger]
LOGGERS: Registry[LoggerFactory] = Registry("logger")


def build_logger(
    cfg: LoggerConfig,
    *,
    run_dir: Path,
    run_name: str,
    config: dict[str, Any],
    resume_step: Optional[int],
    is_main: bool,
) -> MetricsLogger:
    """The logger ``cfg.name`` on rank 0, one that does nothing on the other ranks.

    ``config`` is the run's resolved config as a plain dict; ``resume_step`` is None for a fresh run, else
    the step of the checkpoint the run resumes from (the steps after it are logged again)."""
    make = LOGGERS.get(cfg.name)  # on every rank, so a misspelt name fails everywhere, not only on rank 0
    if not is_main:
        return NullLogger()
    return make(cfg, run_dir=Path(run_dir), run_name=run_name, config=config, resume_step=resume_step)


def finite_values(metrics: Mapping[str, float]) -> dict[str, float]:
    """The metrics as floats, without NaN and infinities (``metrics.jsonl`` writes those as null)."""
    values = {key: float(value) for key, value in metrics.items()}
    return {key: value for key, value in values.items() if math.isfinite(value)}


# ---------------------------------------------------------------------------------------------------- none
class NullLogger:
    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


@LOGGERS.register("none")
def no_logger(cfg: LoggerConfig, *, run_dir: Path, run_name: str, config: dict[str, Any],
              resume_step: Optional[int]) -> MetricsLogger:  # fmt: skip
    """Metrics go to ``metrics.jsonl`` only."""
    return NullLogger()


# --------------------------------------------------------------------------------------------------- wandb
class WandbLogger:
    """One wandb run per run directory; steps up to ``last_step`` were sent by an earlier attempt."""

    def __init__(self, run: Any, state_path: Path, last_step: Optional[int]) -> None:
        self.run, self.state_path, self.last_step = run, state_path, last_step

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.last_step is not None and step <= self.last_step:
            return  # sent before the attempt was killed; an online wandb run would refuse it anyway
        # commit=True writes the row now: a row left pending would be lost with a killed process although
        # logger_state.json already counts it as sent.
        self.run.log(finite_values(metrics), step=step, commit=True)
        self.last_step = step
        write_json(self.state_path, {"last_step": step})

    def close(self) -> None:
        self.run.finish()


@LOGGERS.register("wandb")
def wandb_logger(cfg: LoggerConfig, *, run_dir: Path, run_name: str, config: dict[str, Any],
                 resume_step: Optional[int]) -> MetricsLogger:  # fmt: skip
    """Weights & Biases: the full config, tags for the model, reward and clip; a resumed run continues the
    same wandb run. ``cfg.mode`` null leaves online/offline to ``WANDB_MODE``."""
    import wandb

    run_dir.mkdir(parents=True, exist_ok=True)
    run_id, last_step = _wandb_run_id(run_dir, resuming=resume_step is not None)
    run = wandb.init(
        project=cfg.project or DEFAULT_PROJECT,
        entity=cfg.entity,
        group=cfg.group or DEFAULT_GROUP,
        mode=cfg.mode,
        name=run_name,
        id=run_id,
        resume="allow",
        dir=str(run_dir),
        config=config,
        tags=wandb_tags(cfg, config),
    )
    return WandbLogger(run, run_dir / LOGGER_STATE_FILE, last_step)


def _wandb_run_id(run_dir: Path, *, resuming: bool) -> tuple[str, Optional[int]]:
    """The wandb run id and the last step it was sent: the earlier attempt's when resuming, else a new
    run (a fresh start in this directory means the earlier attempt left no checkpoint to continue)."""
    id_path, state_path = run_dir / WANDB_ID_FILE, run_dir / LOGGER_STATE_FILE
    if resuming and id_path.exists():
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        return id_path.read_text().strip(), state.get("last_step")
    run_id = new_wandb_id()
    id_path.write_text(run_id + "\n")
    state_path.unlink(missing_ok=True)
    return run_id, None


def new_wandb_id() -> str:
    """Eight lower-case letters and digits, like wandb's own ids (its generator is not public API)."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def wandb_tags(cfg: LoggerConfig, config: Mapping[str, Any]) -> list[str]:
    """``cfg.tags`` plus ``model:<name>``, ``reward:<label>``, ``clip:<name>`` (those the config has:
    a command that is not training may lack a reward or a clip)."""
    tags = list(cfg.tags)
    for tag, (group, key) in CONFIG_TAGS.items():
        value = (config.get(group) or {}).get(key)
        if value is not None:
            tags.append(f"{tag}:{value}")
    return tags


# --------------------------------------------------------------------------------------------- tensorboard
class TensorBoardLogger:
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in finite_values(metrics).items():
            self.writer.add_scalar(key, value, global_step=step)
        # Written at each step, not every two minutes: events of steps up to a checkpoint must outlive a kill,
        # since a resumed run does not log them again.
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


@LOGGERS.register("tensorboard")
def tensorboard_logger(cfg: LoggerConfig, *, run_dir: Path, run_name: str, config: dict[str, Any],
                       resume_step: Optional[int]) -> MetricsLogger:  # fmt: skip
    """TensorBoard event files in ``<run dir>/<cfg.log_dir>``, one scalar per metric and step."""
    from torch.utils.tensorboard import SummaryWriter

    # TensorBoard drops the events an earlier attempt wrote at or after purge_step: those after the checkpoint
    # when resuming, all of them on a fresh start (an attempt killed before its first checkpoint).
    purge_step = 0 if resume_step is None else resume_step + 1
    return TensorBoardLogger(SummaryWriter(log_dir=str(run_dir / cfg.log_dir), purge_step=purge_step))
