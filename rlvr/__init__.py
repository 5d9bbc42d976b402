"""Spurious Rewards (Shao et al. 2025), reproduced: GRPO with configurable rewards, models and clipping."""

from rlvr.config import register_schemas
from rlvr.resolvers import register_resolvers

register_resolvers()
register_schemas()
