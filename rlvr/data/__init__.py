"""Problems, loading them from files and hub datasets, prompt formatting and the per-step prompt sampler."""

from rlvr.data.labels import LabelReport, incorrect_labels, incorrect_problem_set
from rlvr.data.loaders import (
    DataError,
    Loaded,
    load_problem_set,
    load_problems,
    load_specs,
    one_shot,
    write_problems_json,
)
from rlvr.data.problems import Problem, ProblemSet
from rlvr.data.prompts import format_prompt
from rlvr.data.sampler import PromptSampler

__all__ = [
    "DataError",
    "LabelReport",
    "Loaded",
    "Problem",
    "ProblemSet",
    "PromptSampler",
    "format_prompt",
    "incorrect_labels",
    "incorrect_problem_set",
    "load_problem_set",
    "load_problems",
    "load_specs",
    "one_shot",
    "write_problems_json",
]
