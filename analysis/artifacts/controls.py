"""The spurious-reward controls of any model (``experiment=controls``): how much of ground truth's gain rewards
that carry no information about the answer also give.

Per model and control (``CONTROLS``: ground truth, random, random with the clip removed, format and incorrect
labels; runs picked by their reward, clip and gamma, so that fig1's and fig12's runs count too):

- gain: held-out accuracy at the last evaluated step minus at step 0, in points (``analysis.curves.gain_table``),
  on MATH-500 when the model's runs evaluated it, else on their first benchmark (the tiny model's held-out
  problems); its mean over seeds and 95% percentile-bootstrap interval (``analysis.stats.bootstrap_ci``). With
  3 seeds or fewer that interval is the range of the seeds: "above 0" means that every seed gained;
- share: the control's mean gain over ground truth's mean gain;
- code-rate change: the share of evaluation responses that reason in code (``eval/<benchmark>/code_rate``), last
  evaluated step minus step 0, and of training responses (``train/code_rate``), the end (smoothed over 10 steps)
  minus the first step's rollout, sampled before any update; in points, mean over seeds.

The verdict (``verdict``), stated in the report: a spurious control explains a large share of the ground-truth
gain when ground truth's own gain is reliably positive (its 95% interval above 0), the control's mean gain is at
least ``LARGE_SHARE`` (half) of ground truth's, and the control's own 95% interval lies above 0, each with at
least ``MIN_SEEDS`` seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.artifacts import Built, MissingRuns, artifact, save_figure, save_table
from analysis.curves import accuracy_columns, default_gamma, gain_table, one_run_per_config, run_gains
from analysis.load import RunData
from analysis.names import colours, display, main_algorithm, ordered, sort_by_model
from analysis.stats import smooth_curve

# Each control (conf/control/<name>.yaml): the reward label and the clip its runs carry. The clip removed is the
# paper's way, no_old_logprob (fig12.yaml's); clip=none (the textbook r * A, control random_ratio) is another run.
CONTROLS = {
    "ground_truth": ("ground_truth", "standard"),
    "random": ("random", "standard"),
    "random_no_clip": ("random", "no_old_logprob"),
    "format": ("format", "standard"),
    "incorrect": ("incorrect", "standard"),
}
SPURIOUS = tuple(name for name in CONTROLS if name != "ground_truth")
LARGE_SHARE = 0.5  # a spurious control's mean gain of at least half of ground truth's is "a large share"
MIN_SEEDS = 2  # an interval over fewer seeds says nothing about seed-to-seed noise
MAKE = "python -m rlvr.train -m experiment=controls model={model}"
TITLE = "Spurious-reward controls: how much of ground truth's gain random, format and incorrect rewards give"
RULE = (
    f"A spurious control explains a large share of the ground-truth gain when ground truth's own gain is "
    f"reliably positive (its 95% interval lies above 0), the control's mean gain is at least {LARGE_SHARE:.0%} of "
    f"ground truth's mean gain, and the control's own 95% interval lies above 0; each with at least {MIN_SEEDS} "
    "seeds. Intervals: percentile bootstrap of the mean over seeds; with 3 seeds or fewer it is the range of the "
    "seeds, so \"above 0\" means that every seed gained."
)


def control_runs(data: RunData) -> pd.DataFrame:
    """Metrics of the training runs that are controls, with a ``control`` column: the paper's GRPO
    (``main_algorithm``), random rewards at gamma 0.5, each control's reward and clip (``CONTROLS``).

    >>> m = pd.DataFrame({"kind": "train", "model": "m", "reward": ["random", "random", "random", "format"],
    ...                   "gamma": [0.5, 0.3, 0.5, None], "clip": ["standard", "standard", "no_old_logprob", "none"],
    ...                   "algorithm": "grpo"})
    >>> control_runs(RunData(m, m, pd.DataFrame()))[["clip", "control"]].values.tolist()
    [['standard', 'random'], ['no_old_logprob', 'random_no_clip']]
    """
    metrics = main_algorithm(data.select("metrics", kind="train", reward=[r for r, _ in CONTROLS.values()]))
    metrics = metrics[default_gamma(metrics)] if len(metrics) else metrics
    pieces = [metrics[(metrics["reward"] == reward) & (metrics["clip"] == clip)].assign(control=name)
              for name, (reward, clip) in CONTROLS.items()] if len(metrics) else []  # fmt: skip
    return pd.concat(pieces) if pieces else metrics.assign(control=pd.Series(dtype=object))


def train_rate_changes(metrics: pd.DataFrame, column: str, keys: list[str], window: int = 10) -> pd.DataFrame:
    """Per run: ``column``'s end (smoothed over ``window`` steps) minus its first logged value, in points. For
    ``train/code_rate`` the first value is the first step's rollout, sampled before any update.

    >>> m = pd.DataFrame({"run_id": "r", "control": "random", "step": [0, 1, 2, 3],
    ...                   "train/code_rate": [None, 0.5, 0.6, 0.8]})
    >>> train_rate_changes(m, "train/code_rate", ["control"], window=2).round(6).to_dict("records")  # 0.7 - 0.5
    [{'control': 'random', 'run_id': 'r', 'change': 20.0}]
    """
    rows = []
    for run_id, run in metrics.groupby("run_id", sort=False):
        run = run[run[column].notna()].sort_values("step") if column in run else run.iloc[0:0]
        if len(run) < 2:
            continue
        values = run[column].astype(float)
        end = smooth_curve(run["step"], values, window=window)[-1]
        rows.append({k: run[k].iloc[0] for k in keys} | {"run_id": run_id, "change": 100 * (end - values.iloc[0])})
    return pd.DataFrame(rows, columns=[*keys, "run_id", "change"])


def model_table(metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One model's controls: per control the gain (mean, 95% interval, n seeds), share of ground truth's gain
    and code-rate changes; per run the same. On MATH-500 when its runs evaluated it, else their first benchmark."""
    benchmark = accuracy_columns(metrics, preferred=("math500",))[0].split("/")[1]
    accuracy, code = f"eval/{benchmark}/accuracy", f"eval/{benchmark}/code_rate"
    metrics = one_run_per_config(metrics, accuracy)
    keys = ["model", "control"]
    table = gain_table(metrics, accuracy, keys)
    per_run = run_gains(metrics, accuracy, keys)
    evaluated = run_gains(metrics, code, keys) if code in metrics else pd.DataFrame(columns=["run_id", "gain"])
    per_run["code_rate_change"] = evaluated.set_index("run_id")["gain"].reindex(per_run["run_id"]).to_numpy()
    train = train_rate_changes(metrics, "train/code_rate", keys).set_index("run_id")["change"]
    per_run["train_code_rate_change"] = train.reindex(per_run["run_id"]).to_numpy()
    changes = per_run.groupby(keys, sort=False)[["code_rate_change", "train_code_rate_change"]].mean().reset_index()
    table = table.merge(changes, on=keys, how="left")
    truth = table.loc[table["control"] == "ground_truth", "gain"]
    table["share"] = table["gain"] / float(truth.iloc[0]) if len(truth) and truth.iloc[0] > 0 else np.nan
    table.insert(2, "benchmark", benchmark)
    per_run.insert(2, "benchmark", benchmark)
    columns = [*keys, "benchmark", "n", "start", "end", "gain", "low", "high", "share", "code_rate_change",
               "train_code_rate_change"]  # fmt: skip
    return table[columns], per_run


def reliably_positive(row: pd.Series | dict) -> bool:
    """The gain's 95% interval lies above 0, over at least ``MIN_SEEDS`` seeds."""
    return bool(row["n"] >= MIN_SEEDS and row["low"] > 0)


def verdict(table: pd.DataFrame) -> tuple[str, str]:
    """(outcome, sentence) for one model's table (``model_table``): whether spurious rewards explain a large share
    of its ground-truth gain, by the rule of ``RULE``. Outcomes: ``yes``, ``no``, ``no ground-truth gain`` and
    ``too few seeds``.

    >>> t = pd.DataFrame({"model": "m", "benchmark": "heldout", "control": ["ground_truth", "random", "format"],
    ...                   "gain": [20.0, 12.0, 3.0], "low": [10.0, 6.0, -1.0], "high": [30.0, 18.0, 7.0], "n": 3})
    >>> verdict(t)[0], verdict(t.assign(gain=[20.0, 8.0, 3.0]))[0], verdict(t.assign(low=[-5.0, 6.0, -1.0]))[0]
    ('yes', 'no', 'no ground-truth gain')
    """
    rows = {row["control"]: row for row in table.to_dict("records")}
    model, benchmark = display("model", table["model"].iloc[0]), display("benchmark", table["benchmark"].iloc[0])
    truth = rows["ground_truth"]
    said = f"ground truth's {_gain(truth)}"
    if truth["n"] < MIN_SEEDS:
        return "too few seeds", (f"Cannot tell on {model}: ground truth ran {_seeds(truth['n'])} and the rule needs at "
                                 f"least {MIN_SEEDS} (experiment=controls runs 3).")  # fmt: skip
    if not reliably_positive(truth):
        return "no ground-truth gain", (f"Ground truth itself does not gain reliably on {model}: it gives "
                                        f"{_gain(truth)} on {benchmark}, so there is no gain for spurious rewards "
                                        "to explain.")  # fmt: skip
    spurious = [rows[name] for name in SPURIOUS if name in rows]
    large = [r for r in spurious if reliably_positive(r) and r["gain"] >= LARGE_SHARE * truth["gain"]]
    if large:
        best, *others = sorted(large, key=lambda r: -r["gain"])
        also = f"; so do {', '.join(_name(r) for r in others)}" if others else ""
        return "yes", (f"Yes: spurious rewards explain a large share of the ground-truth gain on {model} "
                       f"({benchmark}): {_name(best)} gives {_gain(best)}, {best['gain'] / truth['gain']:.0%} of "
                       f"{said}{also}.")  # fmt: skip
    best = max(spurious, key=lambda r: r["gain"])
    few = [_name(r) for r in spurious if r["n"] < MIN_SEEDS]
    uncounted = f" ({', '.join(few)}: fewer than {MIN_SEEDS} seeds, not counted)" if few else ""
    return "no", (f"No: spurious rewards do not explain a large share of the ground-truth gain on {model} "
                  f"({benchmark}): the best spurious control, {_name(best)}, gives {_gain(best)}, "
                  f"{best['gain'] / truth['gain']:.0%} of {said}{uncounted}.")  # fmt: skip


def clip_sentence(table: pd.DataFrame) -> str | None:
    """Random rewards with and without the clip, side by side (None unless both ran); "the gain goes with the
    clip" when random reliably gains with the clip and, removed, gains less than half as much with 0 in its interval."""
    rows = {row["control"]: row for row in table.to_dict("records")}
    if "random" not in rows or "random_no_clip" not in rows:
        return None
    clipped, free = rows["random"], rows["random_no_clip"]
    said = f"Random rewards give {_gain(clipped)} with the standard clip and {_gain(free)} with the clip removed"
    unclipped_flat = free["n"] >= MIN_SEEDS and free["low"] <= 0 and free["gain"] < clipped["gain"] / 2
    if reliably_positive(clipped) and unclipped_flat:
        return said + ": the gain goes with the clip, as the paper's clipping-bias explanation predicts."
    return said + "."


def _name(row: dict) -> str:
    return display("control", row["control"]).lower()


def _gain(row: dict) -> str:
    """'+12.0 points (95% interval 6.0 to 18.0, 3 seeds)'."""
    return f"{row['gain']:+.1f} points (95% interval {row['low']:.1f} to {row['high']:.1f}, {_seeds(row['n'])})"


def _seeds(n: int) -> str:
    return f"{n} seed{'' if n == 1 else 's'}"


def plot_controls(table: pd.DataFrame, per_run: pd.DataFrame) -> Figure:
    """Per model (columns): the gain per control with its 95% interval and each seed as a dot, a dotted line at
    ``LARGE_SHARE`` of ground truth's gain; below, the code-rate change (evaluation responses, else training)."""
    models = list(dict.fromkeys(table["model"]))
    fig = Figure(figsize=(1.2 + 3.2 * len(models), 5.6), layout="constrained")
    axes = fig.subplots(2, len(models), squeeze=False)
    for col, model in enumerate(models):
        rows = table[table["model"] == model].set_index("control")
        controls = ordered("control", rows.index)
        rows = rows.reindex(controls)
        x = np.arange(len(controls))
        colour = colours("reward", [CONTROLS[c][0] for c in controls])  # a reward's colour in every figure
        bar_colours = [colour[CONTROLS[c][0]] for c in controls]
        hatches = ["//" if c == "random_no_clip" else "" for c in controls]
        top, bottom = axes[0][col], axes[1][col]
        top.bar(x, rows["gain"], 0.7, color=bar_colours, hatch=hatches, edgecolor="white")
        top.errorbar(x, rows["gain"], yerr=[rows["gain"] - rows["low"], rows["high"] - rows["gain"]], fmt="none",
                     ecolor="black", capsize=3, lw=0.8)  # fmt: skip
        seeds = per_run[per_run["model"] == model]
        for i, control in enumerate(controls):
            gains = seeds.loc[seeds["control"] == control, "gain"]
            top.scatter(np.full(len(gains), i + 0.18), gains, s=8, color="black", zorder=3)  # beside the whisker
        if "ground_truth" in rows.index and rows.loc["ground_truth", "gain"] > 0:
            top.axhline(LARGE_SHARE * rows.loc["ground_truth", "gain"], color="grey", linestyle=":", linewidth=1,
                        label=f"{LARGE_SHARE:.0%} of ground truth's gain")  # fmt: skip
            top.legend(fontsize=6, loc="best")
        top.set_title(f"{display('model', model)} · {display('benchmark', rows['benchmark'].iloc[0])}", fontsize=9)
        top.set_ylabel("accuracy gain (points)", fontsize=8)
        evaluated = rows["code_rate_change"].notna().any()
        change = rows["code_rate_change"] if evaluated else rows["train_code_rate_change"]
        bottom.bar(x, change.fillna(0), 0.7, color=bar_colours, hatch=hatches, edgecolor="white")
        responses = "evaluation" if evaluated else "training"
        bottom.set_ylabel(f"code-rate change (points,\n{responses} responses)", fontsize=8)
        for ax in (top, bottom):
            ax.axhline(0, color="grey", linewidth=0.8)
            ax.set_xticks(x, [display("control", c) for c in controls], rotation=30, ha="right", fontsize=7)
            ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Spurious-reward controls: gain from step 0 to the end of training\n"
                 "(bars: mean over seeds; whiskers: 95% bootstrap interval; dots: seeds)", fontsize=9)  # fmt: skip
    return fig


def report(table: pd.DataFrame, verdicts: pd.DataFrame, missing: dict[str, list[str]], left_out: dict[str, list[str]],
           figure: str) -> str:  # fmt: skip
    """``controls.md``: the rule, then per model its verdict, the clip comparison, the table and what is missing;
    the models left out (no ground truth, or no spurious control, evaluated) and what they lack."""
    lines = [f"# {TITLE}", "", f"**Rule.** {RULE}", "", f"![controls]({figure})", ""]
    for row in verdicts.to_dict("records"):
        model = row["model"]
        part = table[table["model"] == model]
        lines += [f"## {display('model', model)} ({display('benchmark', part['benchmark'].iloc[0])})", "",
                  row["sentence"], ""]  # fmt: skip
        if said := clip_sentence(part):
            lines += [said, ""]
        shown = part.drop(columns=["model", "benchmark"])
        shown["control"] = [display("control", c) for c in part["control"]]
        lines += [shown.to_markdown(index=False, floatfmt=".2f"), ""]
        if missing.get(model):
            command = f"{MAKE.format(model=model)} control={','.join(missing[model])}"
            lines += [f"Not run: {', '.join(missing[model])} ({command}).", ""]
    for model, lacking in left_out.items():
        command = f"{MAKE.format(model=model)} control={','.join(lacking)}"
        lines += [f"Left out: {display('model', model)}, which lacks {', '.join(lacking)} ({command}).", ""]
    lines += [
        "Columns: gain, start and end in accuracy points (end: the last evaluated step, smoothed over 10 steps); "
        "low/high: the gain's 95% interval; share: the mean gain over ground truth's (nan when ground truth did "
        "not gain); code_rate_change: the share of evaluation responses that reason in code, end minus step 0; "
        "train_code_rate_change: the same for training rollouts, end minus the first step (points).",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


@artifact("controls", TITLE)
def build(data: RunData, out: Path) -> Built:
    metrics = control_runs(data)
    models = sort_by_model(pd.DataFrame({"model": metrics["model"].unique()}))["model"] if len(metrics) else []
    tables, runs, verdicts, missing, left_out = [], [], [], {}, {}
    for model in models:  # a model is reported when it has ground truth and a spurious control, evaluated
        part = metrics[metrics["model"] == model]
        table, per_run = model_table(part) if accuracy_columns(part) else (pd.DataFrame({"control": []}), None)
        missing[model] = [c for c in CONTROLS if c not in set(table["control"])]
        if "ground_truth" in missing[model] or not set(SPURIOUS) - set(missing[model]):
            left_out[model] = missing[model]
            continue
        outcome, sentence = verdict(table)
        tables.append(table)
        runs.append(per_run)
        verdicts.append({"model": model, "outcome": outcome, "sentence": sentence})
    if not tables:
        raise MissingRuns(
            "needs training runs of ground truth and at least one spurious control (random, random with the clip "
            f"removed, format, incorrect) on one model, evaluated ({MAKE.format(model='<model>')}; on a CPU: "
            "model=tiny)"
        )
    table, per_run = pd.concat(tables, ignore_index=True), pd.concat(runs, ignore_index=True)
    verdicts = pd.DataFrame(verdicts)
    fig = plot_controls(table, per_run)
    tables = {"controls_gains": table, "controls_runs": per_run, "controls_verdicts": verdicts}
    built = Built("controls", TITLE, tables=tables, figures={"controls": fig}, runs=set(per_run["run_id"]))
    built.files += save_figure(fig, out, "controls")
    built.files += save_table(table, out, "controls_gains", floatfmt=".2f")
    built.files += save_table(per_run, out, "controls_runs", floatfmt=".2f")
    (out / "controls.md").write_text(report(table, verdicts, missing, left_out, "controls.png"))
    built.files.append(out / "controls.md")
    return built
