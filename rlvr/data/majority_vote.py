r"""Majority-vote labels from a model's own samples (the paper's "majority vote" reward).

For each problem: sample ``label.num_samples`` responses (the paper: 64 at temperature 1, top_p 1,
3072 new tokens), extract each answer, group answers that math-verify judges equal (``\frac12`` and
``0.5`` are one vote), and take the largest group's most common spelling as the label (the voting
itself is ``rlvr.rewards.voting``, shared with the online votes of ``reward=ttrl``). The rows
(``{id, prompt, answer, true_answer, votes, answered, num_samples, unanimous, label_correct}``) are
readable by the data loaders; the report says how often the label equals the true answer and how
often the vote was unanimous. ``python -m rlvr.label`` is the command; ``reward=majority_vote`` trains
on the labels and ``reward=incorrect`` on the wrong ones (``rlvr.data.relabel``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

from rlvr.config import LabelConfig
from rlvr.data.problems import Problem
from rlvr.data.prompts import Prompt, encode_prompt
from rlvr.rewards import grade_answers
from rlvr.rewards.extract import extract_answer
from rlvr.rewards.voting import cluster_answers, majority, vote_counts
from rlvr.rollout import SamplingParams


def label_problems(
    engine,
    tokenizer,
    problems: Sequence[Problem],
    prompt: Prompt,
    label: LabelConfig,
    *,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Majority-vote labels for (the first ``label.num_problems`` distinct) ``problems``.

    Returns the rows to write and a report. A problem none of whose samples gives an answer gets no row
    (counted in the report as ``no_answer``): an empty label would train towards nothing.
    """
    unique = list({p.id: p for p in problems}.values())  # training sets may repeat a problem
    if label.num_problems:
        unique = unique[: label.num_problems]
    answer_format = prompt.answer_format
    params = dict(
        n=label.num_samples,
        temperature=label.temperature,
        top_p=label.top_p,
        max_new_tokens=label.max_new_tokens,
        stop=prompt.stop,
    )
    per_call = max(1, label.prompts_per_call)
    votes: list[list[tuple[str, int]]] = []
    answered: list[int] = []
    for start in tqdm(range(0, len(unique), per_call), desc="labelling", unit="batch"):
        chunk = unique[start : start + per_call]
        prompts = [encode_prompt(p.problem, prompt, tokenizer) for p in chunk]
        groups = engine.generate(prompts, SamplingParams(seed=seed + start, **params))
        for completions in groups:
            answers = [extract_answer(c.text, answer_format) for c in completions]
            votes.append(vote_counts(answers))
            answered.append(sum(a is not None and bool(a.strip()) for a in answers))

    def same_answer(preds: list[str], golds: list[str]) -> list[bool]:
        return grade_answers(preds, golds).correct

    clusters = cluster_answers(votes, same_answer)
    rows = []
    for problem, groups, n_answered in zip(unique, clusters, answered):
        top = majority(groups)
        if top is None:
            continue
        label, count = top.answer, top.votes
        rows.append(
            {
                "id": problem.id,
                "prompt": problem.problem,
                "answer": label,
                "true_answer": problem.answer,
                "votes": count,
                "answered": n_answered,
                "num_samples": params["n"],
                "unanimous": count == params["n"],
            }
        )
    correct = grade_answers([r["answer"] for r in rows], [r["true_answer"] for r in rows]).correct
    for row, right in zip(rows, correct):
        row["label_correct"] = bool(right)
    n = len(rows)
    report = {
        "problems": len(unique),
        "labelled": n,
        "no_answer": len(unique) - n,
        "label_accuracy": sum(correct) / n if n else float("nan"),
        "unanimous_frac": sum(r["unanimous"] for r in rows) / n if n else float("nan"),
        "mean_vote_share": sum(r["votes"] / r["num_samples"] for r in rows) / n if n else float("nan"),
        "sampling": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        "answer_format": answer_format,
    }
    return rows, report


def write_labels(path: str | Path, rows: list[dict[str, Any]], report: dict[str, Any]) -> Path:
    """Write the labelled rows and ``<path>.report.json`` atomically (a partial file is never read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, payload in ((path, rows), (report_path(path), report)):
        tmp = target.with_name(f".{target.name}.tmp.{os.getpid()}")
        tmp.write_text(json.dumps(payload, indent=1) + "\n")
        tmp.replace(target)
    return path


def report_path(path: str | Path) -> Path:
    """Where ``write_labels`` puts the report of the label file ``path``: ``<stem>.report.json`` beside it."""
    path = Path(path)
    return path.with_name(path.stem + ".report.json")
