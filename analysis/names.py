"""How things are named and ordered in every figure and table, in one place.

Config names (``conf/model``, ``conf/reward``, ``conf/clip``, ``conf/eval``) are what runs carry; the names
below are what a reader sees. ``ORDERS`` is the order of lines, bars, panels and rows (the paper's where it
has one), and so also each value's colour: a reward has one colour in every figure. A new model, reward,
clip setting, benchmark or metric gets its display name here; one without a name is shown as it is, and one
without a place in ``ORDERS`` comes after the known ones.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

# The paper's model order (its Table 3); models it does not use go after these.
MODEL_ORDER = (
    "qwen2.5_math_7b", "qwen2.5_math_1.5b", "qwen2.5_7b", "qwen2.5_1.5b", "olmo2_7b", "olmo2_7b_sft",
    "llama3.1_8b", "llama3.1_8b_instruct", "llama3.2_3b", "llama3.2_3b_instruct",
)  # fmt: skip

MODEL_NAMES = {
    "qwen2.5_math_7b": "Qwen2.5-Math-7B", "qwen2.5_math_1.5b": "Qwen2.5-Math-1.5B",
    "qwen2.5_7b": "Qwen2.5-7B", "qwen2.5_1.5b": "Qwen2.5-1.5B",
    "olmo2_7b": "OLMo2-7B", "olmo2_7b_sft": "OLMo2-7B-SFT",
    "llama3.1_8b": "Llama3.1-8B", "llama3.1_8b_instruct": "Llama3.1-8B-Instruct",
    "llama3.2_3b": "Llama3.2-3B", "llama3.2_3b_instruct": "Llama3.2-3B-Instruct",
    "tiny": "tiny model", "tiny_code": "tiny, code better (like Qwen2.5-Math)",
    "tiny_bad_code": "tiny, code worse (like OLMo2-SFT)", "tiny_no_code": "tiny, no code (like Llama)",
}  # fmt: skip
# In the paper's order: Figure 1's six training signals first (bars left to right, legend top to bottom).
REWARD_NAMES = {
    "ground_truth": "Ground truth", "majority_vote": "Majority vote", "one_shot": "One-shot RL",
    "format": "Format", "incorrect": "Incorrect", "random": "Random", "python": "Python",
    "no_repetition": "No repetition", "ground_truth_no_python": "Ground truth + no Python",
    "format_no_python": "Format + no Python", "incorrect_no_python": "Incorrect + no Python", "ttrl": "TTRL",
}  # fmt: skip
CLIP_NAMES = {
    "standard": "standard clip", "higher": "clip-higher", "none": "no clipping",
    "no_old_logprob": "no clipping (paper's code)", "one_update_minibatch": "one update (big mini-batch)",
    "one_update_rollout": "one update (small rollout)",
}  # fmt: skip
# The spurious-reward controls of experiment=controls (conf/control/), in their report's order.
CONTROL_NAMES = {
    "ground_truth": "Ground truth", "random": "Random", "random_no_clip": "Random, clip removed",
    "format": "Format", "incorrect": "Incorrect", "random_ratio": "Random, no clip (ratio objective)",
    "random_one_update": "Random, one update per rollout",
}  # fmt: skip
BENCHMARK_NAMES = {
    "math500": "MATH-500", "amc": "AMC", "aime24": "AIME 2024", "aime25": "AIME 2025", "heldout": "held-out",
}  # fmt: skip
METRIC_NAMES = {
    "accuracy": "accuracy", "code_rate": "code reasoning rate",
    "actor/clip_frac": "clipped tokens", "actor/clip_frac_low": "clipped tokens, low side (A<0, r<1-ε)",
    "actor/clip_frac_high": "clipped tokens, high side (A>0, r>1+ε)",
    "reward/ttrl/label_hit_rate": "TTRL label = true answer", "reward/ttrl/majority_share": "majority's share of votes",
    "reward/ttrl/true_answer_share": "true answer's share of votes",
    "reward/ttrl/reward_agreement": "TTRL reward = true reward", "train/reward_truth_agreement": "reward = true reward",
}  # fmt: skip
# Legend titles: what a line stands for.
LINE_NAMES = {"reward": "training signal", "gamma": "random reward's γ", "clip": "clipping", "model": "model",
              "control": "control"}  # fmt: skip
# The order lines, bars, panels and rows appear in (and so their colours): the paper's where it has one.
# Prompts: the model's own first, then Table 3's intervention and the others of conf/prompt.
# The paper's GRPO, as a run's `algorithm` names it: its official code's exact recipe (grpo_official: advantages
# whitened over the rollout's tokens, packed token-mean loss; what the paper's experiment files run) or the same
# algorithm with per-sequence means (grpo, the default). The figures of the paper's main setting take either;
# where one analysis holds both, only the first present here is shown, so the two are never pooled.
MAIN_ALGORITHMS = ("grpo_official", "grpo")

ORDERS: dict[str, list[Any]] = {
    "model": [*MODEL_ORDER, "tiny", "tiny_code", "tiny_bad_code", "tiny_no_code"], "reward": list(REWARD_NAMES), "clip": list(CLIP_NAMES),
    "prompt": ["default", "python_prefix", "none", "simplerl"], "control": list(CONTROL_NAMES),
}  # fmt: skip


def main_algorithm(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the first of ``MAIN_ALGORITHMS`` that ``frame`` holds (all rows when it has no algorithm key).

    >>> main_algorithm(pd.DataFrame({"algorithm": ["grpo", "grpo_official", "dr_grpo"]}))["algorithm"].tolist()
    ['grpo_official']
    """
    if "algorithm" not in frame or frame.empty:
        return frame
    present = [name for name in MAIN_ALGORITHMS if (frame["algorithm"] == name).any()]
    return frame[frame["algorithm"] == present[0]] if present else frame.iloc[0:0]


def display(key: str, value: Any) -> str:
    """How a key's value is written in figures.

    >>> display("model", "qwen2.5_math_7b"), display("gamma", 0.3), display("seed", 2), display("model", "new_one")
    ('Qwen2.5-Math-7B', 'γ = 0.3', 'seed 2', 'new_one')
    """
    if key == "gamma":
        return "γ = default" if is_missing(value) else f"γ = {value:g}"
    if key == "seed":
        return f"seed {value}"
    names = {"model": MODEL_NAMES, "reward": REWARD_NAMES, "clip": CLIP_NAMES, "benchmark": BENCHMARK_NAMES,
             "control": CONTROL_NAMES}  # fmt: skip
    return names.get(key, {}).get(value, str(value))


def metric_label(column: str) -> str:
    """A metric column as an axis label.

    >>> metric_label("eval/math500/accuracy"), metric_label("eval/amc/code_rate"), metric_label("actor/clip_frac")
    ('MATH-500 accuracy', 'AMC code reasoning rate', 'clipped tokens')
    """
    if column.startswith("eval/"):
        _, benchmark, name = column.split("/", 2)
        return f"{display('benchmark', benchmark)} {METRIC_NAMES.get(name, name)}"
    return METRIC_NAMES.get(column, column)


def rank(key: str, value: Any) -> int:
    """A value's place in ``ORDERS[key]``; unknown values (and keys without an order) come after.

    >>> rank("reward", "format"), rank("reward", "brand_new"), rank("prompt", "python_prefix")
    (3, 12, 1)
    """
    known = ORDERS.get(key, [])
    return known.index(value) if value in known else len(known)


def model_sort_key(model: str) -> tuple[int, str]:
    """The paper's models in its order first, then the others by name.

    >>> sorted(["tiny", "qwen2.5_7b", "qwen2.5_math_7b"], key=model_sort_key)
    ['qwen2.5_math_7b', 'qwen2.5_7b', 'tiny']
    """
    return (MODEL_ORDER.index(model), "") if model in MODEL_ORDER else (len(MODEL_ORDER), str(model))


def ordered(key: str, values: Iterable[Any]) -> list[Any]:
    """Distinct values in the paper's order for ``key`` (unknown ones after, as they come; numbers sorted).

    >>> ordered("reward", ["random", "format", "brand_new", "ground_truth"])
    ['ground_truth', 'format', 'random', 'brand_new']
    >>> ordered("gamma", [0.7, 0.0, 0.3])
    [0.0, 0.3, 0.7]
    """
    distinct = list(dict.fromkeys(map(as_key, values)))
    if key not in ORDERS:
        try:
            return sorted(distinct)
        except TypeError:  # mixed None and numbers
            return distinct
    return sorted(distinct, key=lambda v: rank(key, v))


def colours(key: str, values: Sequence[Any]) -> dict[Any, str]:
    """A colour per value: a known value's place in the paper's order, so that a reward (or model, or clip
    setting) has one colour in every figure; otherwise the place among ``values``.

    >>> colours("reward", ["random", "format"]), colours("gamma", [0.0, 0.5])
    ({'random': 'C5', 'format': 'C3'}, {0.0: 'C0', 0.5: 'C1'})
    """
    known = ORDERS.get(key, [])
    if all(v in known for v in values):
        return {v: f"C{known.index(v) % 10}" for v in values}
    return {v: f"C{i % 10}" for i, v in enumerate(values)}


def sort_by(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows in the paper's order of each key (``ordered``), the first key first.

    >>> t = pd.DataFrame({"model": ["tiny", "olmo2_7b", "olmo2_7b"], "reward": ["random", "random", "format"]})
    >>> sort_by(t, ["model", "reward"]).values.tolist()
    [['olmo2_7b', 'format'], ['olmo2_7b', 'random'], ['tiny', 'random']]
    """
    orders = {k: ordered(k, table[k]) for k in keys}

    def place(i: int) -> tuple[int, ...]:
        return tuple(orders[k].index(as_key(table[k].iloc[i])) for k in keys)

    order = sorted(range(len(table)), key=place)
    return table.iloc[order].reset_index(drop=True)


def sort_by_model(table: pd.DataFrame, then: Sequence[str] = ()) -> pd.DataFrame:
    """Rows in the paper's model order (``model_sort_key``), then by ``then``; keeps row order within ties.

    >>> sort_by_model(pd.DataFrame({"model": ["tiny", "qwen2.5_7b", "qwen2.5_math_7b"]})).model.tolist()
    ['qwen2.5_math_7b', 'qwen2.5_7b', 'tiny']
    """
    ranks = table["model"].map(lambda model: model_sort_key(model)[0]).rename("_rank")
    rows = table.assign(_rank=ranks).sort_values(["_rank", "model", *then], kind="stable")
    return rows.drop(columns="_rank").reset_index(drop=True)


def is_missing(value: Any) -> bool:
    """None or NaN (a key a run's config does not set, e.g. the gamma of a reward that has none)."""
    return value is None or (isinstance(value, float) and np.isnan(value))


def as_key(value: Any) -> Any:
    """A value as a dict key or list item: NaN != NaN, so every missing value becomes None."""
    return None if is_missing(value) else value
