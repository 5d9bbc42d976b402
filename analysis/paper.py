"""The paper's published numbers, in one place, each with where it was read.

Shao et al., "Spurious Rewards: Rethinking Training Signals in RLVR", arXiv:2506.10947. Every number
below was read in a plain-text copy of the full **arXiv v1** PDF (12 Jun 2025; its margin stamp reads
"arXiv:2506.10947v1 [cs.AI]"), unless its entry says otherwise; ``SOURCES`` names the table, figure or
section of each dictionary. Numbers are as printed: percentages (0-100) and percentage points.
Models are keyed by their ``conf/model`` names, rewards by their ``conf/reward`` labels, prompts by
their ``conf/prompt`` names. What the paper does not give (or what could not be read) is left out of a
dictionary or set to ``None``, and said so here; nothing is estimated from plots. How models, rewards and
the rest are named and ordered in figures (the paper's model order included) is ``analysis.names``.

Known inconsistencies in the paper itself (kept as printed, not reconciled):

- The accuracy of Qwen2.5-Math-7B's natural-language answers before training is 35.0% in Table 1, but
  28.0% in §1, and 29% in App. B.1.3 (which also says 64% for code answers against Table 1's 60.9%).
  Figure 7's subsets agree with 28.0%: (20 + 29) correct of 175 language answers.
- Figure 7 is read from the PDF's text layer. Panels (a)-(c) are complete and self-consistent. In
  panel (d) the Lang->Lang size prints as 56, but 175 - 129 = 46 Lang problems before and 70 - 24 = 46
  after, and both printed accuracies are k/46; 46 is recorded. Panel (e) prints subset sizes 24/129/56
  that do not add up (they repeat panel (d)'s); the sizes recorded (57/142/33) are the only ones that
  fit its printed totals (325 Code before, 410 Code after, 268 Code->Code) and every printed accuracy,
  and its Code->Lang accuracy after is recorded as 71.9 (41/57; printed 71.2, which no k/57 gives).
  With these, Figure 7 reproduces Table 2's Qwen2.5-Math-7B row to the printed digit (doctest of
  ``fig7_frame``), which is the check that the reading is right.

A later revision's abstract (hf-mirror.puppyis.cool/papers/2506.10947.md, the version that adds the
"clipping bias" explanation to the abstract; most likely v2) repeats +21.4 (random), +29.1 (ground
truth) and the 65% -> "over 90%" code-reasoning frequency; its tables could not be read, and a later
revision may number them differently, so table numbers here are v1's.
"""

from __future__ import annotations

import pandas as pd

PAPER = "Shao et al. 2025, Spurious Rewards: Rethinking Training Signals in RLVR, arXiv:2506.10947"
TRANSITIONS = ("Code->Code", "Code->Lang", "Lang->Code", "Lang->Lang")

SOURCES: dict[str, str] = {
    "PUBLISHED_GAINS": "arXiv:2506.10947v1, abstract, §1 and Figure 1 (MATH-500, after 300 steps, smoothed "
    "over 10 steps; App. A.5)",
    "CODE_RATE": "arXiv:2506.10947v1, abstract (65% -> over 90%), §4.1-4.2 (65.0% before; random reaches 95.6%)",
    "TABLE1": "arXiv:2506.10947v1, Table 1 (§4.1): MATH-500 responses of each model before RL training",
    "TABLE2": "arXiv:2506.10947v1, Table 2 (§4.2): partial contribution to the gain, averaged over rewards",
    "FIG7": "arXiv:2506.10947v1, Figure 7 (§4.2): Qwen2.5-Math-7B, MATH-500, step 0 vs step 150",
    "TABLE3": "arXiv:2506.10947v1, Table 3 (§4.3): response forced to begin with \"Let's solve this using Python.\"",
    "TABLE5": "arXiv:2506.10947v1, Table 5 (App. F.1): Qwen2.5-Math-7B MATH-500 accuracy per prompt",
    "FIG4_ONE_SHOT_END": "arXiv:2506.10947v1, App. A.6: the paper's one-shot run of Qwen2.5-7B ends at 54.8% on "
    "MATH-500 (its step is not printed); Wang et al.'s released pi_1 checkpoint scores 71.2%",
    "AIME_GAINS": "arXiv:2506.10947v1, §2.3 (on App. C's Figure 14, fig13 here): Qwen2.5-Math-7B's AIME 2024 "
    "gains; on AIME 2025 the rewards other than ground truth gain -0.4 to +4.5 (which is which is not said)",
    "COMPOUND_GAINS": "arXiv:2506.10947v1, §4.3 (on Figure 9): OLMo2-7B-SFT's MATH-500 gain under the format "
    "and incorrect rewards once the no-Python condition is added",
}

# MATH-500 gain in points of the model after RLVR over the model before (SOURCES["PUBLISHED_GAINS"]).
# Only Qwen2.5-Math-7B's gains are printed as text; the other models' gains appear only inside the Figure 1
# graphic, whose text layer does not say which number belongs to which bar, so they are not transcribed.
PUBLISHED_GAINS: dict[tuple[str, str], float] = {
    ("qwen2.5_math_7b", "ground_truth"): 29.1,
    ("qwen2.5_math_7b", "majority_vote"): 27.1,
    ("qwen2.5_math_7b", "one_shot"): 26.0,
    ("qwen2.5_math_7b", "incorrect"): 24.1,
    ("qwen2.5_math_7b", "random"): 21.4,
    ("qwen2.5_math_7b", "format"): 13.8,
}

# Code-reasoning frequency (% of MATH-500 responses containing "python") before and after RLVR with
# spurious rewards (SOURCES["CODE_RATE"]). "after" is a lower bound: the paper says "over 90%".
CODE_RATE_BEFORE: dict[str, float] = {"qwen2.5_math_7b": 65.0}
CODE_RATE_AFTER_AT_LEAST: dict[str, float] = {"qwen2.5_math_7b": 90.0}

# Table 1: code frequency, accuracy of code answers, accuracy of language-only answers (%), before RL.
# The caption says the unlisted models "never generated code": their code rate is 0 and the two
# accuracies are not given (None; with no code answers, the language accuracy is the overall one).
TABLE1: dict[str, dict[str, float | None]] = {
    "qwen2.5_math_7b": {"code_rate": 65.0, "acc_code": 60.9, "acc_lang": 35.0},
    "qwen2.5_math_1.5b": {"code_rate": 53.6, "acc_code": 52.6, "acc_lang": 17.2},
    "qwen2.5_7b": {"code_rate": 92.2, "acc_code": 39.9, "acc_lang": 61.5},
    "olmo2_7b_sft": {"code_rate": 98.0, "acc_code": 21.0, "acc_lang": 40.0},
    "qwen2.5_1.5b": {"code_rate": 0.0, "acc_code": None, "acc_lang": None},
    "olmo2_7b": {"code_rate": 0.0, "acc_code": None, "acc_lang": None},
    "llama3.1_8b_instruct": {"code_rate": 0.0, "acc_code": None, "acc_lang": None},
    "llama3.2_3b_instruct": {"code_rate": 0.0, "acc_code": None, "acc_lang": None},
}

# Table 2: "Avg. Total Gain" (points) and each transition's partial contribution C_d (% of the gain),
# "averaged over rewards that successfully steered the model's reasoning strategy". For Qwen2.5-Math-7B
# that is the mean over the five rewards of Figure 7 (ground truth, majority vote, format, incorrect,
# random), each at step 150: the mean of the per-reward ratios, not a ratio of means (see fig7_frame).
# Which rewards were averaged for the other two models is not said. No other model is given.
TABLE2: dict[str, dict[str, float]] = {
    "qwen2.5_math_7b": {"gain": 23.5, "Code->Code": 11.6, "Code->Lang": 8.6, "Lang->Code": 58.3, "Lang->Lang": 21.4},
    "qwen2.5_math_1.5b": {"gain": 28.5, "Code->Code": 2.8, "Code->Lang": 2.0, "Lang->Code": 78.7, "Lang->Lang": 16.5},
    "qwen2.5_7b": {"gain": 30.6, "Code->Code": 0.2, "Code->Lang": 93.9, "Lang->Code": 0.0, "Lang->Lang": 5.9},
}

# Figure 7 (Qwen2.5-Math-7B only): per reward, per transition (problems of 500, accuracy % at step 0,
# accuracy % at step 150); overall accuracy 49.4% at step 0 for every panel. Panels (d) and (e): see the
# module docstring for the entries recorded from arithmetic on the printed totals instead of as printed.
FIG7_MODEL = "qwen2.5_math_7b"
FIG7_PROBLEMS = 500
FIG7_STEP = 150
FIG7: dict[str, dict[str, tuple[int, float, float]]] = {
    "ground_truth": {"Code->Code": (165, 63.6, 72.1), "Code->Lang": (160, 58.1, 78.1),
                     "Lang->Code": (72, 27.8, 77.8), "Lang->Lang": (103, 28.2, 88.3)},
    "majority_vote": {"Code->Code": (243, 60.9, 70.8), "Code->Lang": (82, 61.0, 78.0),
                      "Lang->Code": (119, 23.5, 80.7), "Lang->Lang": (56, 37.5, 89.3)},
    "format": {"Code->Code": (314, 60.8, 67.5), "Code->Lang": (11, 63.6, 45.5),
               "Lang->Code": (152, 23.7, 78.3), "Lang->Lang": (23, 56.5, 91.3)},
    "incorrect": {"Code->Code": (301, 60.5, 69.8), "Code->Lang": (24, 66.7, 83.3),
                  "Lang->Code": (129, 22.5, 77.5), "Lang->Lang": (46, 43.5, 82.6)},
    "random": {"Code->Code": (268, 61.2, 57.8), "Code->Lang": (57, 59.6, 71.9),
               "Lang->Code": (142, 23.9, 69.0), "Lang->Lang": (33, 45.5, 93.9)},
}  # fmt: skip
FIG7_ACCURACY_AFTER: dict[str, float] = {  # "All" accuracy at step 150, as printed
    "ground_truth": 78.2, "majority_vote": 76.4, "format": 71.4, "incorrect": 73.6, "random": 65.0,
}  # fmt: skip

# Table 3 (python_prefix) and Table 5 (simplerl, Qwen2.5-Math-7B only): MATH-500 accuracy (%) with the
# model's own prompt ("original"), with the other prompt ("prompted") and the printed difference (points;
# Table 5 prints no difference). Keyed (model, prompt as in conf/prompt). The paper's SimpleRL-Zoo prompt
# (Table 4) is a chat with system "You are a helpful Assistant." and the step-by-step \boxed{} instruction
# after the problem; conf/prompt/simplerl.yaml writes the same instruction. No number for prompt=none.
TABLE3: dict[tuple[str, str], dict[str, float | None]] = {
    ("qwen2.5_math_1.5b", "python_prefix"): {"original": 36.2, "prompted": 60.4, "diff": 24.2},
    ("qwen2.5_math_7b", "python_prefix"): {"original": 49.4, "prompted": 64.4, "diff": 15.0},
    ("qwen2.5_1.5b", "python_prefix"): {"original": 3.0, "prompted": 13.0, "diff": 10.0},
    ("qwen2.5_7b", "python_prefix"): {"original": 41.6, "prompted": 22.2, "diff": -19.4},
    ("llama3.2_3b_instruct", "python_prefix"): {"original": 36.8, "prompted": 8.2, "diff": -28.6},
    ("llama3.1_8b_instruct", "python_prefix"): {"original": 36.8, "prompted": 15.2, "diff": -21.6},
    ("olmo2_7b", "python_prefix"): {"original": 9.0, "prompted": 7.8, "diff": -1.2},
    ("olmo2_7b_sft", "python_prefix"): {"original": 21.4, "prompted": 18.6, "diff": -2.8},
    ("qwen2.5_math_7b", "simplerl"): {"original": 49.4, "prompted": 63.2, "diff": None},  # Table 5
}
TABLE3_SOURCE: dict[str, str] = {
    "python_prefix": "arXiv:2506.10947v1 Table 3",
    "simplerl": "arXiv:2506.10947v1 Table 5",
}


def fig7_frame() -> pd.DataFrame:
    """Figure 7 as rows (reward, transition): problems, % of problems, accuracy before/after (%), the
    transition's contribution to the gain (points) and its share of the reward's gain (%, the paper's
    partial contribution C_d). Correct answers are recovered as round(problems * accuracy / 100).

    Averaged over the five rewards, the shares reproduce Table 2's Qwen2.5-Math-7B row and gain:

    >>> f = fig7_frame()
    >>> f.groupby("transition").share_of_gain.mean().round(1).tolist()
    [11.6, 8.6, 58.3, 21.4]
    >>> round(float(f.groupby("reward", sort=False).contribution_pts.sum().mean()), 1)
    23.5
    >>> f.groupby("reward", sort=False).problems.sum().unique().tolist()
    [500]
    """
    rows = []
    for reward, cells in FIG7.items():
        counts = {t: (n, round(n * before / 100), round(n * after / 100)) for t, (n, before, after) in cells.items()}
        gain = sum(after - before for _, before, after in counts.values())
        for transition, (n, before, after) in counts.items():
            rows.append({
                "model": FIG7_MODEL, "reward": reward, "transition": transition, "problems": n,
                "problems_pct": 100 * n / FIG7_PROBLEMS, "acc_before": cells[transition][1],
                "acc_after": cells[transition][2], "contribution_pts": 100 * (after - before) / FIG7_PROBLEMS,
                "share_of_gain": 100 * (after - before) / gain,
            })  # fmt: skip
    return pd.DataFrame(rows)


# Figure 4(b), App. A.6: MATH-500 accuracy (%) at the end of one-shot RL (SOURCES["FIG4_ONE_SHOT_END"]). The
# figure's curves carry no printed numbers; this is the one end point the text gives. Keyed (model, reward).
FIG4_END: dict[tuple[str, str], float] = {("qwen2.5_7b", "one_shot"): 54.8}
FIG4_RELEASED_CHECKPOINT: dict[tuple[str, str], float] = {("qwen2.5_7b", "one_shot"): 71.2}  # Wang et al.'s

# AIME avg@8 gains (points) after RLVR, Qwen2.5-Math-7B (SOURCES["AIME_GAINS"]); keyed (model, reward, benchmark).
# Figures 13-15 (v1: 14-16) print no other number.
AIME_GAINS: dict[tuple[str, str, str], float] = {
    ("qwen2.5_math_7b", "ground_truth", "aime24"): 15.3,
    ("qwen2.5_math_7b", "format", "aime24"): 10.3,
    ("qwen2.5_math_7b", "incorrect", "aime24"): 10.2,
    ("qwen2.5_math_7b", "random", "aime24"): 10.2,
}
# The AIME 2025 range of the rewards other than ground truth, for Qwen2.5-Math-7B: (lowest, highest) gain.
AIME25_OTHER_REWARDS_RANGE: dict[str, tuple[float, float]] = {"qwen2.5_math_7b": (-0.4, 4.5)}

# MATH-500 gain (points) under the no-Python compounds (SOURCES["COMPOUND_GAINS"]): "OLMo2-7B-SFT - which
# degrades under standalone format or incorrect rewards - gains +8.9 and +5.5 points, respectively, once the
# no-code reward is added". Read as the compound run's gain over the model before training; keyed (model, reward).
COMPOUND_GAINS: dict[tuple[str, str], float] = {
    ("olmo2_7b_sft", "format_no_python"): 8.9,
    ("olmo2_7b_sft", "incorrect_no_python"): 5.5,
}
