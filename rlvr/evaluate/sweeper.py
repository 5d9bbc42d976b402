"""``checkpoints=<dir>``: the evaluations of a folder of training runs' checkpoints, as jobs.

One job per complete checkpoint (``rlvr.evaluate.checkpoints``) of every run under the folder: the
command line's other overrides, then ``model=<the run's model>`` (its prompt format and settings; a
different ``model=`` on the command line is refused) and ``checkpoint=<run dir>/checkpoints/step_<n>``.
``python -m rlvr.evaluate checkpoints=<dir>`` runs the pending ones one after another in its own process;
with ``-m``, the checkpoint sweeper (``hydra_plugins/rlvr_checkpoints``) hands each pending one to the
launcher as a job of a multirun, whose output folder is the checkpoint's evaluation folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from omegaconf import DictConfig

from rlvr.evaluate.checkpoints import Checkpoint, complete_checkpoints, eval_dir, eval_folder, find_run_dirs, is_evaluated, run_model

_PLAIN = re.compile(r"[\w/.:@+-]+")  # what Hydra's override grammar reads as a plain value


@dataclass(frozen=True)
class CheckpointJob:
    checkpoint: Checkpoint
    model: str
    out_dir: Path  # <run dir>/evals/<eval>_<prompt>/step_<n>
    done: bool  # its summary.json exists
    overrides: tuple[str, ...]  # the job's command line: the other overrides, model=, checkpoint=


def override(key: str, value: object) -> str:
    """``key=value`` as Hydra's override grammar reads it back: quoted unless the value is a plain word or path.

    >>> override("checkpoint", "/runs/0_tiny/checkpoints/step_2"), override("checkpoint", "/my runs/step_2")
    ('checkpoint=/runs/0_tiny/checkpoints/step_2', "checkpoint='/my runs/step_2'")
    """
    text = str(value)
    return f"{key}={text}" if _PLAIN.fullmatch(text) else f"{key}='" + text.replace("'", "\\'") + "'"


def split_checkpoints(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the folders of ``checkpoints=`` (a sweep ``a,b`` gives several), the other overrides)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    roots, rest = [], []
    for parsed in OverridesParser.create().parse_overrides(list(overrides)):
        if parsed.key_or_group != "checkpoints":
            rest.append(parsed.input_line)
        elif parsed.is_sweep_override():
            roots += list(parsed.sweep_string_iterator())
        elif parsed.value() is not None:
            roots.append(parsed.get_value_element_as_str())
    return roots, rest


def checkpoint_jobs(roots: Sequence[str], overrides: Sequence[str], compose: Callable[[list[str]], DictConfig]) -> list[CheckpointJob]:
    """Every complete checkpoint of every run under ``roots``, in run and step order, with its evaluation folder
    under the eval config and prompt that ``overrides`` (no sweeps) compose to with the run's model
    (``compose``: the overrides -> the composed evaluate config), and whether it is evaluated already."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    given = {o.key_or_group: o for o in parsed}
    if "checkpoint" in given:
        raise ValueError("checkpoint= and checkpoints= together: give one checkpoint, or a folder of runs")
    model_given = given["model"].get_value_element_as_str() if "model" in given else None
    rest = [o.input_line for o in parsed if o.key_or_group != "model"]
    folders: dict[str, str] = {}  # model -> evaluation folder name
    jobs = []
    for root in roots:
        for run in find_run_dirs(root):
            model = run_model(run)
            if model_given is not None and model_given != model:
                raise ValueError(
                    f"checkpoints={root}: run {run} was trained from model {model!r} (its config.yaml), but model="
                    f"{model_given!r}: leave model= out, each run's checkpoints are evaluated with the run's own model"
                )
            if model not in folders:
                cfg = compose([*rest, f"model={model}"])  # the model may choose the eval (tiny: heldout)
                folders[model] = eval_folder(cfg.eval.name, cfg.prompt.name, cfg.eval.limit)
            for checkpoint in complete_checkpoints(run):
                out = eval_dir(checkpoint, folders[model])
                line = (*rest, f"model={model}", override("checkpoint", checkpoint.path))
                jobs.append(CheckpointJob(checkpoint, model, out, is_evaluated(out), line))
    return jobs
