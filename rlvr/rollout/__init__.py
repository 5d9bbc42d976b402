"""Rollout engines behind one interface (see ``rlvr.rollout.base``)."""

from rlvr.rollout.base import Completion, RolloutEngine, SamplingParams
from rlvr.rollout.hf import HFEngine

__all__ = ["Completion", "HFEngine", "RolloutEngine", "SamplingParams"]
