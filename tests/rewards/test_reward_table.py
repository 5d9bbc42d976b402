r"""Every registered reward on a table of real-looking responses, expected values worked out by hand.

Columns (the compounds are built from their config files, as a run builds them):
  GT    ground_truth                     FMT   format
  R0    random, gamma=0                  R1    random, gamma=1
  PY    python                           NOREP no_repetition
  INV   inverse(python)                  ALL   all_of(format, no_repetition)
  GTNP  ground_truth_no_python.yaml      FNP   format_no_python.yaml
"""

from pathlib import Path

import pytest

from rlvr.rewards import REWARDS, Reward, build_reward

OmegaConf = pytest.importorskip("omegaconf").OmegaConf
instantiate = pytest.importorskip("hydra.utils").instantiate

CONF = Path(__file__).resolve().parents[2] / "conf" / "reward"
COLUMNS = ["GT", "FMT", "R0", "R1", "PY", "NOREP", "INV", "ALL", "GTNP", "FNP"]

LOOP = "Let me compute. " * 40
R1_THINK = "<think>The car covers 64 km in 5 hours, so its speed is 64 / 5 = 12.8 km per hour.</think>"

# (id, response, gold answer, answer_format, expected per column)
TABLE = [
    # Qwen2.5-Math in language: a correct box, no code.
    (
        "math_language",
        r"Half of the 10 outcomes are even. Therefore, the answer is $\boxed{\frac{1}{2}}$.",
        "0.5",
        "boxed",
        #GT FMT R0 R1 PY NOREP INV ALL GTNP FNP
        [1, 1,  0, 1, 0, 1,    1,  1,  1,   1],
    ),
    # Qwen2.5-Math reasoning in code: right and formatted, but it uses python, so the no-python compounds give 0.
    (
        "math_code",
        "Let's compute it.\n```python\ndef f():\n    return 1 / 2\n\nprint(f())\n```\n```output\n0.5\n```\n"
        r"The answer is \boxed{0.5}",
        r"\frac{1}{2}",
        "boxed",
        [1, 1, 0, 1, 1, 1, 0, 1, 0, 0],
    ),
    # Only mentioning python counts as code reasoning (the paper's rule).
    (
        "mentions_python",
        r"I could check this in Python, but by hand $3 \times 4 = 12$, so the answer is \boxed{12}.",
        "12",
        "boxed",
        [1, 1, 0, 1, 1, 1, 0, 1, 0, 0],
    ),
    # R1 template, a box inside the answer span.
    ("r1_boxed", R1_THINK + r" <answer>\boxed{12.8}</answer>", "12.8", "answer_tag", [1, 1, 0, 1, 0, 1, 1, 1, 1, 1]),
    # R1 template, a bare answer.
    ("r1_plain", R1_THINK + " <answer>12.8</answer>", "12.8", "answer_tag", [1, 1, 0, 1, 0, 1, 1, 1, 1, 1]),
    # R1 template, a wrong answer: well formatted, not correct.
    ("r1_wrong", R1_THINK + " <answer>12.5</answer>", "12.8", "answer_tag", [0, 1, 0, 1, 0, 1, 1, 1, 0, 1]),
    # The boxed R1 response read in the boxed format: its box is found all the same.
    ("r1_boxed_as_boxed", R1_THINK + r" <answer>\boxed{12.8}</answer>", "12.8", "boxed",
     [1, 1, 0, 1, 0, 1, 1, 1, 1, 1]),  # fmt: skip
    # A bare fraction in the span: the paper's reading takes its last number (5); the strict one the span.
    ("r1_fraction", R1_THINK + r" <answer>\frac{64}{5}</answer>", "12.8", "answer_tag",
     [0, 1, 0, 1, 0, 1, 1, 1, 0, 1]),  # fmt: skip
    ("r1_fraction_strict", R1_THINK + r" <answer>\frac{64}{5}</answer>", "12.8", "answer_tag_strict",
     [1, 1, 0, 1, 0, 1, 1, 1, 1, 1]),  # fmt: skip
    # No answer at all: math-verify finds nothing in the text, nothing is formatted.
    ("no_answer", "I am not sure how to solve this problem.", "3", "boxed", [0, 0, 0, 1, 0, 1, 1, 0, 0, 0]),
    ("no_answer_tag", "<think>I am not sure how to solve this problem.</think>", "3", "answer_tag_strict",
     [0, 0, 0, 1, 0, 1, 1, 0, 0, 0]),  # fmt: skip
    # ... but the paper's R1 format reward only asks for text after the last <answer> (or any text without one).
    ("no_answer_tag_paper", "<think>I am not sure how to solve this problem.</think>", "3", "answer_tag",
     [0, 1, 0, 1, 0, 1, 1, 1, 0, 1]),  # fmt: skip
    # Cut at the length limit inside the final box: no final answer for the ground truth, even though 12 is
    # right; the paper's format reward counts the box all the same (box_only_format reads it to the end).
    ("truncated_box", r"Adding the cases gives 7 + 5 = 12, so the answer is \boxed{12", "12", "boxed",
     [0, 1, 0, 1, 0, 1, 1, 1, 0, 1]),  # fmt: skip
    # Cut before </answer>: no answer in the strict reading; the paper's reads the box to the end: 12, right.
    ("truncated_tag", r"<think>7 + 5 = 12</think> <answer>\boxed{12", "12", "answer_tag_strict",
     [0, 0, 0, 1, 0, 1, 1, 0, 0, 0]),  # fmt: skip
    ("truncated_tag_paper", r"<think>7 + 5 = 12</think> <answer>\boxed{12", "12", "answer_tag",
     [1, 1, 0, 1, 0, 1, 1, 1, 1, 1]),  # fmt: skip
    # Degenerate repetition: a 16-character sentence 40 times, no answer.
    ("loop", LOOP, "1", "boxed", [0, 0, 0, 1, 0, 0, 1, 0, 0, 0]),
    # ... and the same loop before a correct box: right and formatted, but looping.
    ("loop_then_answer", LOOP + r"So the answer is \boxed{1}.", "1", "boxed", [1, 1, 0, 1, 0, 0, 1, 0, 1, 1]),
]


@pytest.fixture(scope="module")
def rewards() -> dict[str, Reward]:
    stems = ["ground_truth_no_python", "format_no_python"]
    from_file = {stem: instantiate(OmegaConf.load(CONF / f"{stem}.yaml")) for stem in stems}
    return {
        "GT": build_reward("ground_truth"),
        "FMT": build_reward("format"),
        "R0": build_reward("random", gamma=0.0),
        "R1": build_reward("random", gamma=1.0),
        "PY": build_reward("python"),
        "NOREP": build_reward("no_repetition"),
        "INV": build_reward("inverse", reward={"name": "python"}),
        "ALL": build_reward("all_of", rewards=[{"name": "format"}, {"name": "no_repetition"}]),
        "GTNP": from_file["ground_truth_no_python"],
        "FNP": from_file["format_no_python"],
    }


def names_in(spec: dict) -> set[str]:
    """Every reward name in a spec, inner rewards included."""
    found = {spec["name"]}
    for value in spec["params"].values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and "version" in item:
                found |= names_in(item)
    return found


def test_the_table_covers_every_registered_reward(rewards):
    assert list(rewards) == COLUMNS
    # ttrl scores a response against its prompt's other samples, not alone: tests/rewards/test_ttrl.py
    assert set().union(*(names_in(r.spec()) for r in rewards.values())) == set(REWARDS.names()) - {"ttrl"}


@pytest.mark.parametrize(
    "response, answer, answer_format, expected", [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_every_reward_on_real_looking_responses(rewards, response, answer, answer_format, expected):
    context = {"seed": 0, "step": 0, "prompt_ids": [0], "sample_indices": [0], "answer_format": answer_format}
    got = {column: reward([response], [answer], **context)[0] for column, reward in rewards.items()}
    assert got == dict(zip(COLUMNS, map(float, expected)))


def test_the_table_as_one_batch(rewards):
    # The same values when the rows of one format are scored together, as a trainer's batch is.
    for answer_format in ["boxed", "answer_tag", "answer_tag_strict"]:
        rows = [row for row in TABLE if row[3] == answer_format]
        responses, answers = [row[1] for row in rows], [row[2] for row in rows]
        context = {
            "seed": 0, "step": 0, "prompt_ids": list(range(len(rows))), "sample_indices": [0] * len(rows),
            "answer_format": answer_format,
        }  # fmt: skip
        for i, (column, reward) in enumerate(rewards.items()):
            assert reward(responses, answers, **context) == [float(row[4][i]) for row in rows], column
