"""Problems, prompt formatting and the per-step prompt sampler."""

from rlvr.data.problems import Problem, ProblemSet
from rlvr.data.prompts import format_prompt
from rlvr.data.sampler import PromptSampler

__all__ = ["Problem", "ProblemSet", "PromptSampler", "format_prompt"]
