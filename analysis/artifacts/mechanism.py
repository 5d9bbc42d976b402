"""The paper's mechanism at CPU scale (``experiment=tiny_mechanism``): random rewards lift the tiny model only
when GRPO's clip is on, by amplifying the style it already prefers (the paper's Figs. 6, 11 and 12).

- ``mechanism``: held-out accuracy and code-reasoning rate (sampled, temperature 1) over training, one panel
  per tiny variant (``tiny_code``: code is the better, likelier style; ``tiny_bad_code``: the likelier but
  worse one; ``tiny_no_code``: one style only), one line per setting (random reward with the standard clip,
  without it, with one update per rollout; ground truth as the reference): the mean over seeds and its 95%
  bootstrap band;
- ``mechanism.csv``: one row per run (variant, setting, seed, code rate and accuracy at the start and the
  end, the mean clip fractions); ``mechanism_summary``: per variant and setting, the mean change with its
  95% interval over seeds and how many seeds raised the code rate by 10 points or more;
  ``mechanism_paired``: the clip's own effect, the change with the clip minus the change without it (or with
  one update per rollout), seed by seed: the runs of a seed share their samples' seeds and rewards;
- ``mechanism_theory`` and ``mechanism_bandit``: the exact expected update of a categorical policy under
  random rewards per clip setting, and the two-choice bandit over many seeds (``analysis.theory``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import theory
from analysis.artifacts import Built, MissingRuns, artifact, save_figure, save_table
from analysis.curves import curve_frame, plot_curves, save_curves
from analysis.load import RunData
from analysis.stats import bootstrap_ci

EXPERIMENT = "tiny_mechanism"
BENCHMARK = "heldout"
# (reward, clip) -> what the setting is called, in the figure's order.
SETTINGS = {
    ("random", "standard"): "random, clip 0.2",
    ("random", "none"): "random, no clip",
    ("random", "one_update_minibatch"): "random, one update per rollout",
    ("random", "one_update_rollout"): "random, one update per rollout",
    ("ground_truth", "standard"): "ground truth",
}
CLIP_FRACTIONS = ("actor/clip_frac", "actor/clip_frac_low", "actor/clip_frac_high")
CODE_RISE = 0.10  # a seed "amplifies" when its code rate rises by this much (README's claim)
TITLE = "Random rewards and the clip at tiny scale: accuracy and code rate over seeds"


def setting_of(reward: str, clip: str) -> str | None:
    """The mechanism setting a run belongs to, or None.

    >>> setting_of("random", "none"), setting_of("format", "standard")
    ('random, no clip', None)
    """
    return SETTINGS.get((reward, clip))


def mechanism_runs(data: RunData) -> pd.DataFrame:
    """The training metrics of ``tiny_mechanism``'s runs, each with its ``setting``; MissingRuns without them."""
    metrics = data.select("metrics", kind="train", experiment=EXPERIMENT)
    if metrics.empty:
        raise MissingRuns(f"no runs of experiment={EXPERIMENT}: python -m rlvr.train -m experiment={EXPERIMENT}")
    metrics = metrics.assign(setting=[setting_of(r, c) for r, c in zip(metrics["reward"], metrics["clip"])])
    metrics = metrics[metrics["setting"].notna()]
    column = f"eval/{BENCHMARK}/accuracy"
    if metrics.empty or column not in metrics or metrics[column].notna().sum() == 0:
        raise MissingRuns(f"{EXPERIMENT}'s runs have no {BENCHMARK} evaluation: python -m rlvr.train -m experiment={EXPERIMENT}")
    return metrics


def run_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per run: variant, setting, seed, code rate and accuracy at the first and last evaluation, and
    the mean of each clip fraction over its steps."""
    rows = []
    for run_id, run in metrics.groupby("run_id", sort=False):
        evals = run[run[f"eval/{BENCHMARK}/accuracy"].notna()].sort_values("step")
        if evals.empty:
            continue
        first, last = evals.iloc[0], evals.iloc[-1]
        row = {"variant": first["model"], "setting": first["setting"], "seed": first["seed"], "run_id": run_id,
               "start_step": int(first["step"]), "end_step": int(last["step"])}  # fmt: skip
        for name in ("code_rate", "accuracy"):
            start, end = first[f"eval/{BENCHMARK}/{name}"], last[f"eval/{BENCHMARK}/{name}"]
            row |= {f"{name}_start": start, f"{name}_end": end, f"{name}_change": end - start}
        for column in CLIP_FRACTIONS:
            row[column.split("/")[1]] = run[column].mean() if column in run else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per variant and setting: seeds, the mean change of code rate and accuracy with its 95% bootstrap
    interval over seeds, the seeds whose code rate rose by ``CODE_RISE`` or more, and the mean clip fraction."""
    rows = []
    for (variant, setting), group in runs.groupby(["variant", "setting"], sort=False):
        row = {"variant": variant, "setting": setting, "seeds": len(group)}
        for name in ("code_rate", "accuracy"):
            mean, low, high = bootstrap_ci(group[f"{name}_change"].tolist())
            row |= {f"{name}_change": mean, f"{name}_low": low, f"{name}_high": high}
        row["seeds_code_up_10"] = int((group["code_rate_change"] >= CODE_RISE - 1e-12).sum())
        row["clip_frac"] = group["clip_frac"].mean()
        rows.append(row)
    order = {label: i for i, label in enumerate(dict.fromkeys(SETTINGS.values()))}
    table = pd.DataFrame(rows)
    return table.sort_values(["variant", "setting"], key=lambda c: c.map(order) if c.name == "setting" else c,
                             ignore_index=True)  # fmt: skip


def paired_table(runs: pd.DataFrame, reference: str = SETTINGS[("random", "standard")]) -> pd.DataFrame:
    """Per variant and random-reward setting other than ``reference``: the clip's own effect, seed by seed.
    Runs of one seed share their sampling seeds and rewards (common random numbers), so the change under
    the clip minus the change under the other setting, paired by seed, removes what the draws did alike;
    its mean and 95% bootstrap interval over the pairs. Seeds missing on either side are left out."""
    rows = []
    # one label per setting, in the figure's order (both one_update clips are "one update per rollout")
    others = dict.fromkeys(label for (reward, _), label in SETTINGS.items() if reward == "random" and label != reference)
    for variant, group in runs.groupby("variant", sort=True):
        with_clip = group[group["setting"] == reference].set_index("seed")
        for setting in others:
            other = group[group["setting"] == setting].set_index("seed")
            seeds = sorted(set(with_clip.index) & set(other.index))
            if not seeds:
                continue
            row = {"variant": variant, "setting": setting, "pairs": len(seeds)}
            for name in ("code_rate", "accuracy"):
                differences = (with_clip.loc[seeds, f"{name}_change"] - other.loc[seeds, f"{name}_change"]).tolist()
                mean, low, high = bootstrap_ci(differences)
                row |= {f"{name}_clip_minus": mean, f"{name}_low": low, f"{name}_high": high}
            rows.append(row)
    return pd.DataFrame(rows)


@artifact("mechanism", TITLE)
def build_mechanism(data: RunData, out: Path) -> Built:
    metrics = mechanism_runs(data)
    columns = [f"eval/{BENCHMARK}/accuracy", f"eval/{BENCHMARK}/code_rate"]
    curves = curve_frame(metrics, columns, keys=["model", "setting"], window=1)
    fig = plot_curves(curves, line="setting", panels=("model",), title=TITLE, each_run=True, band=True,
                      caption="thick: mean over seeds; thin: each seed; band: 95% bootstrap interval")  # fmt: skip
    built = save_curves(Built("mechanism", TITLE), curves, fig, out, "mechanism")
    runs = run_table(metrics)
    built.tables["mechanism_runs"] = runs
    runs.to_csv(out / "mechanism.csv", index=False)
    built.files.append(out / "mechanism.csv")
    summary = summary_table(runs)
    built.tables["mechanism_summary"] = summary
    built.files += save_table(summary, out, "mechanism_summary")
    paired = paired_table(runs)
    built.tables["mechanism_paired"] = paired
    built.files += save_table(paired, out, "mechanism_paired")
    return with_theory(built, out)


def with_theory(built: Built, out: Path, *, priors: int = 10, seeds: int = 40) -> Built:
    """The theory's figures beside the runs: the exact expected update per clip setting (coarse grid, no
    Monte Carlo panel: ``python -m analysis.theory`` draws the full one) and the bandit over ``seeds``."""
    fig, expected = theory.expected_update_figure(np.round(np.linspace(0.05, 0.95, priors), 4), mc={"rollouts": 0})
    built.figures["mechanism_theory"] = fig
    built.tables["mechanism_theory"] = expected
    built.files += save_figure(fig, out, "mechanism_theory")
    bandit = theory.bandit_simulation(seeds=seeds, **theory.BANDIT_SETTINGS)
    fig = theory.bandit_figure(bandit)
    built.figures["mechanism_bandit"] = fig
    built.tables["mechanism_bandit"] = theory.bandit_summary(bandit)
    built.files += save_figure(fig, out, "mechanism_bandit")
    built.files += save_table(built.tables["mechanism_bandit"], out, "mechanism_bandit")
    return built
