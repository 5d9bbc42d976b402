"""The RL math as pure tensor functions: advantages, per-token policy losses, loss aggregation, KL."""

from rlvr.algorithms.advantages import ADVANTAGE_ESTIMATORS, group_advantages, whiten_advantages, zero_std_group_fraction
from rlvr.algorithms.kl import KL_ESTIMATORS, kl_penalty
from rlvr.algorithms.losses import (
    LOSS_AGGREGATIONS,
    POLICY_LOSSES,
    aggregate_loss,
    masked_mean,
    policy_loss,
    regularisation_loss,
)

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "KL_ESTIMATORS",
    "LOSS_AGGREGATIONS",
    "POLICY_LOSSES",
    "aggregate_loss",
    "group_advantages",
    "kl_penalty",
    "masked_mean",
    "policy_loss",
    "regularisation_loss",
    "whiten_advantages",
    "zero_std_group_fraction",
]
