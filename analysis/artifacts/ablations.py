"""The ablations: Figures 8-12 and 16, each a set of training curves of one sweep (and a gain table).

- fig8: rewarding code reasoning itself (reward=python): accuracy and code rate per model;
- fig9: rewards that also require "no Python" (ground_truth_no_python, incorrect_no_python, format_no_python;
  fig15 draws them against the rewards they extend);
- fig10: random rewards with gamma = P(reward 1): one curve per gamma, and the final gain per gamma;
- fig11: random rewards under each clipping setting, with the clip fractions the trainer logged
  (``actor/clip_frac``, ``_low``, ``_high``): the clipping bias is what makes random rewards help;
- fig12: random rewards without clipping, several seeds: each seed, their mean and a 95% bootstrap band;
- fig16: a reward for not repeating oneself (reward=no_repetition).

Every figure selects its runs by config keys, so runs of other sweeps that match (fig1's random runs are
fig10's gamma 0.5 and fig11's standard clip) are drawn too, once per config (``one_run_per_config``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from analysis.artifacts import Built, artifact, benchmark_for, save_table
from analysis.curves import (curve_frame, default_gamma, gain_table, one_run_per_config, plot_curves, require,
                             require_sweep, save_curves)  # fmt: skip
from analysis.load import RunData
from analysis.names import MAIN_ALGORITHMS, main_algorithm

CLIP_FRACTIONS = ("actor/clip_frac", "actor/clip_frac_low", "actor/clip_frac_high")
# The clip and algorithm of every sweep but the clipping ablations.
STANDARD = {"clip": "standard", "algorithm": list(MAIN_ALGORITHMS)}
# Settings whose objective has no clip: the paper's "clipping disabled" (fig12.yaml runs no_old_logprob).
UNCLIPPED = ("none", "no_old_logprob")

TITLES = {
    "fig8": "Rewarding code reasoning (reward=python): accuracy and code rate",
    "fig9": "Rewards that forbid Python: accuracy and code rate",
    "fig10": "Random rewards: one curve per gamma",
    "fig11": "Random rewards under each clipping setting, with clip fractions",
    "fig12": "Random rewards without clipping: each seed (thin), their mean and 95% band",
    "fig16": "No-repetition reward over training",
}


def runs_of(data: RunData, name: str, needs: str, names: Sequence[str], **where) -> tuple[pd.DataFrame, list[str]]:
    """Metrics of the training runs matching ``where`` that evaluated the reported benchmark (``benchmark_for``),
    one per config, and the columns ``eval/<benchmark>/<names>``; MissingRuns naming experiment ``name`` when
    there are none."""
    metrics = require(main_algorithm(data.select("metrics", kind="train", **where)), needs, name)
    benchmark = benchmark_for(data)
    columns = [f"eval/{benchmark}/{n}" for n in names]
    return require(one_run_per_config(metrics, columns[0]), f"{needs}, evaluated on {benchmark}", name), columns


def curves_artifact(name: str, metrics: pd.DataFrame, columns: Sequence[str], out: Path, *, keys: Sequence[str],
                    line: str, panels: Sequence[str] = ("model",), **style) -> Built:  # fmt: skip
    """The curves of ``columns`` per run, drawn one line per ``line`` and one panel per ``panels``, saved."""
    curves = curve_frame(metrics, columns, keys)
    fig = plot_curves(curves, line=line, panels=panels, title=TITLES[name], **style)
    return save_curves(Built(name, TITLES[name]), curves, fig, out, name)


def with_gains(built: Built, table: pd.DataFrame, out: Path) -> Built:
    """Add the gain table ``<name>_gain`` to ``built``."""
    built.tables[f"{built.name}_gain"] = table
    built.files += save_table(table, out, f"{built.name}_gain")
    return built


@artifact("fig8", TITLES["fig8"])
def build_fig8(data: RunData, out: Path) -> Built:
    needs = "training runs with reward=python"
    metrics, columns = runs_of(data, "fig8", needs, ["accuracy", "code_rate"], reward="python", **STANDARD)
    return curves_artifact("fig8", metrics, columns, out, keys=["model", "reward"], line="model", panels=())


@artifact("fig9", TITLES["fig9"])
def build_fig9(data: RunData, out: Path) -> Built:
    rewards = ["ground_truth_no_python", "incorrect_no_python", "format_no_python"]
    needs = f"training runs with reward in {', '.join(rewards)}"
    metrics, columns = runs_of(data, "fig9", needs, ["accuracy", "code_rate"], reward=rewards, **STANDARD)
    return curves_artifact("fig9", metrics, columns, out, keys=["model", "reward"], line="reward")


@artifact("fig16", TITLES["fig16"])
def build_fig16(data: RunData, out: Path) -> Built:
    needs = "training runs with reward=no_repetition"
    metrics, columns = runs_of(data, "fig16", needs, ["accuracy"], reward="no_repetition", **STANDARD)
    return curves_artifact("fig16", metrics, columns, out, keys=["model", "reward"], line="model", panels=())


@artifact("fig10", TITLES["fig10"])
def build_fig10(data: RunData, out: Path) -> Built:
    needs = "training runs with reward=random (one per gamma)"
    metrics, columns = runs_of(data, "fig10", needs, ["accuracy"], reward="random", **STANDARD)
    metrics = require_sweep(metrics, "gamma", needs, "fig10")
    built = curves_artifact("fig10", metrics, columns, out, keys=["model", "gamma"], line="gamma")
    return with_gains(built, gain_table(metrics, columns[0], ["model", "gamma"]), out)


@artifact("fig11", TITLES["fig11"])
def build_fig11(data: RunData, out: Path) -> Built:
    needs = "training runs with reward=random (gamma 0.5), one per clip setting"
    metrics, columns = runs_of(data, "fig11", needs, ["accuracy"], reward="random", algorithm=list(MAIN_ALGORITHMS))
    metrics = require(metrics[default_gamma(metrics)], needs, "fig11")  # fig10's other gammas are not fig11's
    metrics = require_sweep(metrics, "clip", needs, "fig11")
    fractions = [c for c in CLIP_FRACTIONS if c in metrics and metrics[c].notna().any()]
    built = curves_artifact("fig11", metrics, columns + fractions, out, keys=["model", "clip"], line="clip")
    gains = gain_table(metrics, columns[0], ["model", "clip"])
    return with_gains(built, gains.merge(mean_fractions(metrics, ["model", "clip"]), on=["model", "clip"]), out)


def mean_fractions(metrics: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per group of ``keys``: each clip fraction's mean over the steps it was logged, averaged over runs
    (NaN where it was not logged), named without the ``actor/`` prefix.

    >>> m = pd.DataFrame({"run_id": ["a", "a", "b"], "clip": "standard", "actor/clip_frac": [0.1, 0.3, 0.4]})
    >>> mean_fractions(m, ["clip"]).round(6).to_dict("records")  # run a: 0.2, run b: 0.4
    [{'clip': 'standard', 'clip_frac': 0.3, 'clip_frac_low': nan, 'clip_frac_high': nan}]
    """
    metrics = metrics.reindex(columns=[*keys, "run_id", *CLIP_FRACTIONS])
    per_run = metrics.groupby([*keys, "run_id"], sort=False, dropna=False)[list(CLIP_FRACTIONS)].mean()
    table = per_run.groupby(level=list(range(len(keys))), sort=False, dropna=False).mean().reset_index()
    return table.rename(columns={c: c.removeprefix("actor/") for c in CLIP_FRACTIONS})


@artifact("fig12", TITLES["fig12"])
def build_fig12(data: RunData, out: Path) -> Built:
    needs = "training runs with reward=random and clip=none or no_old_logprob (several seeds)"
    metrics, columns = runs_of(data, "fig12", needs, ["accuracy"], reward="random", clip=UNCLIPPED,
                                algorithm=list(MAIN_ALGORITHMS))  # fmt: skip
    metrics = require(metrics[default_gamma(metrics)], needs.replace("random", "random (gamma 0.5)"), "fig12")
    metrics = require_sweep(metrics, "seed", needs, "fig12")
    built = curves_artifact("fig12", metrics, columns, out, keys=["model", "clip"], line="clip",
                            each_run=True, band=True)  # fmt: skip
    return with_gains(built, gain_table(metrics, columns[0], ["model", "clip"]), out)
