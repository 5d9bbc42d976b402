"""``python -m rlvr.plan experiment=<name>``: the runs a sweep would launch, without launching anything.

    python -m rlvr.plan experiment=fig1                # 24 runs: overrides, GPUs, estimated GPU-hours
    python -m rlvr.plan experiment=fig10 seed=0,1      # extra sweeps multiply the matrix, as with -m
    python -m rlvr.plan experiment=controls control=format   # a swept key given again replaces its values, as with -m

Every run is composed exactly as ``python -m rlvr.train -m ...`` would compose it (the experiment's
``hydra.sweeper.params`` first, then the command line), and its batch arithmetic is checked, so a
sweep that would fail on the cluster fails here in seconds.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf

import rlvr  # noqa: F401  (registers the config resolvers and schemas)
from rlvr.config import RunConfig, to_run_config

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@dataclass(frozen=True)
class PlannedRun:
    overrides: tuple[str, ...]  # only the swept values: what tells this run apart
    name: str
    gpus: int
    total_steps: int
    seconds_per_step: float | None
    command: str = "train"  # or "evaluate": no training steps, cost unknown
    sbatch: str | None = None  # the job's resources under a SLURM launcher (hydra/launcher=slurm)

    @property
    def gpu_hours(self) -> float | None:
        if self.seconds_per_step is None or self.command != "train":
            return None
        return max(self.gpus, 1) * self.seconds_per_step * self.total_steps / 3600


def expand_sweep(overrides: Sequence[str]) -> list[list[str]]:
    """Cartesian product of sweep overrides (``a=1,2``, ``range(..)``, ``choice(..)``), like Hydra's basic sweeper.

    >>> expand_sweep(["model=a,b", "clip=none", "seed=range(0,2)"])
    [['model=a', 'clip=none', 'seed=0'], ['model=a', 'clip=none', 'seed=1'], ['model=b', 'clip=none', 'seed=0'], ['model=b', 'clip=none', 'seed=1']]
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    options: list[list[str]] = []
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.input_line.split("=", 1)[0]
        if override.is_sweep_override():
            options.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        else:
            options.append([override.input_line])
    return [list(combo) for combo in itertools.product(*options)]


def sweeper_params(cfg: DictConfig) -> list[str]:
    """``hydra.sweeper.params`` of a composed config (with its hydra node) as override strings."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    return [f"{key}={value}" for key, value in params.items()]


def plan_runs(overrides: Sequence[str]) -> list[tuple[PlannedRun, DictConfig]]:
    """Every run of ``overrides`` (an experiment plus any extra sweeps), composed and checked."""
    from hydra import compose, initialize_config_dir

    from rlvr.build import build_reward
    from rlvr.launcher import describe_shape, job_shape
    from rlvr.train.plan import plan_step

    base = [o for o in overrides if not _is_sweep(o)]
    runs = []
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        with_hydra = compose("config", overrides=base, return_hydra_config=True)
        params, launcher = sweeper_params(with_hydra), slurm_launcher_params(with_hydra)
        points = expand_sweep(sweep_axes(params, overrides))
        configs = [compose("config", overrides=base + point) for point in points]
    for point, cfg in zip(points, configs):
        typed = to_run_config(cfg)  # a missing or mistyped value fails here, named
        command = check_command(typed)
        gpus = typed.resources.gpus if command == "train" else min(typed.resources.gpus, 1)  # evaluation: one GPU
        shape = None if launcher is None else job_shape(launcher, command, typed.resources.gpus)
        if command == "train":  # a sweep point that cannot run fails here, named
            plan_step(typed, world_size=max(gpus, 1) if shape is None else shape["nodes"] * shape["tasks_per_node"])
        build_reward(typed)  # an unknown reward parameter fails here too
        run = PlannedRun(
            overrides=tuple(point),
            name=typed.name,
            gpus=gpus,
            total_steps=typed.trainer.total_steps if command == "train" else 0,
            seconds_per_step=typed.resources.seconds_per_step,
            command=command,
            sbatch=None if shape is None else describe_shape(launcher, shape),
        )
        runs.append((run, cfg))
    return runs


def sweep_axes(params: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """The axes of the sweep that ``-m`` runs, as Hydra's basic sweeper makes them: the experiment's ``params``,
    each replaced by the command line's sweep of its key (or dropped when the command line gives the key one
    value, which every run then takes), then the command line's other sweeps.

    >>> sweep_axes(["control=a,b", "seed=0,1,2"], ["experiment=controls", "model=x,y", "control=b,c", "seed=1"])
    ['control=b,c', 'model=x,y']
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    given = {o.get_key_element(): o for o in parser.parse_overrides(list(overrides))}
    axes = []
    for param in parser.parse_overrides(list(params)):
        key = param.get_key_element()
        if key not in given:
            axes.append(param.input_line)
        elif given[key].is_sweep_override():
            axes.append(given.pop(key).input_line)
    return axes + [o.input_line for o in given.values() if o.is_sweep_override()]


def slurm_launcher_params(cfg: DictConfig) -> dict | None:
    """The launcher config when it is our SLURM launcher (``hydra/launcher=slurm`` or ``slurm_cpu``)."""
    launcher = OmegaConf.select(cfg, "hydra.launcher")
    if launcher is None or launcher.get("_target_") != "hydra_plugins.rlvr_launcher.SlurmLauncher":
        return None
    return OmegaConf.to_container(launcher, resolve=True)


COMMANDS = ("train", "evaluate")


def check_command(cfg: RunConfig, running: str | None = None) -> str:
    """The config's ``command`` (which module runs it); with ``running``, refuse a config meant for the other.

    >>> from types import SimpleNamespace
    >>> check_command(SimpleNamespace(command="evaluate", experiment_name="table3"), running="train")
    Traceback (most recent call last):
    ValueError: experiment table3 is run by `python -m rlvr.evaluate -m experiment=table3`, not rlvr.train
    """
    command = cfg.command
    if command not in COMMANDS:
        raise ValueError(f"command={command!r}; available: {', '.join(COMMANDS)}")
    if running is not None and command != running:
        experiment = cfg.experiment_name
        raise ValueError(
            f"experiment {experiment} is run by `python -m rlvr.{command} -m experiment={experiment}`, not rlvr.{running}"
        )
    return command


def format_plan(runs: Sequence[PlannedRun], title: str) -> str:
    header = ("#", "overrides", "GPUs", "steps", "GPU-h (est.)") + (("sbatch (each job)",) if runs and runs[0].sbatch else ())
    rows = [
        (str(i), " ".join(r.overrides) or "(none)", str(r.gpus) if r.gpus else "CPU",
         str(r.total_steps) if r.command == "train" else "eval",
         "?" if r.gpu_hours is None else f"{r.gpu_hours:.1f}") + ((r.sbatch,) if r.sbatch else ())
        for i, r in enumerate(runs)
    ]  # fmt: skip
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    line = lambda row: "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()  # noqa: E731
    known = [r.gpu_hours for r in runs if r.gpu_hours is not None]
    total = f"{sum(known):.1f} GPU-hours (estimated)" + (" + runs of unknown cost" if len(known) < len(runs) else "")
    arrays = len({r.sbatch for r in runs if r.sbatch})
    shapes = [f"{arrays} job array(s) on SLURM: one per resource shape"] if arrays else []
    return "\n".join(
        [title, line(header), line(tuple("-" * w for w in widths)), *map(line, rows),
         f"{len(runs)} runs, {total}", *shapes, f"launch: python -m rlvr.{runs[0].command if runs else 'train'} -m {title}"]
    )  # fmt: skip


def _is_sweep(override: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides([override])[0].is_sweep_override()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    runs = plan_runs(args)
    print(format_plan([r for r, _ in runs], " ".join(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
