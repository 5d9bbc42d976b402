"""Problems and where they come from.

``problems`` (Problem, ProblemSet, DataError), ``sources`` (one file or hub dataset into rows), ``rows``
(rows into problems), ``loaders`` (source specs: the ``data`` configs), ``relabel`` (what the
majority_vote, incorrect and one_shot rewards train on), ``labels`` (the incorrect-label filter),
``majority_vote`` (labelling by the model's own votes), ``arithmetic`` (the tiny model's task),
``prompts`` and ``sampler`` (the per-step prompt sampler).
"""

from rlvr.data.labels import LabelReport, incorrect_labels
from rlvr.data.loaders import Loaded, load_problem_set, load_specs
from rlvr.data.problems import DataError, Problem, ProblemSet
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
    "load_problem_set",
    "load_specs",
]
