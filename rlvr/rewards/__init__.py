"""Rewards picked by name from config, and the grader behind the ground-truth one.

The config node ``{_target_: rlvr.rewards.build_reward, name: random, label: random, gamma: 0.5}``
makes ``hydra.utils.instantiate(cfg.reward)`` return a ``Reward``: the registered function with its
parameters bound, plus what the trainer logs: ``label`` (the display name, for run names and metric
keys) and ``spec()`` (name, version and parameters, inner rewards included).

Compound rewards (``inverse``, ``all_of``; see ``rlvr.rewards.combinators``) take inner rewards as
parameters, written as ``{name: ..., **params}`` mappings in config; they are built here, once.

A reward that votes over more samples than it scores (``ttrl``, ``rlvr.rewards.ttrl``) says how many per
prompt in ``Reward.votes_per_prompt``: the trainer samples that many and passes them as ``vote_pools``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any, Sequence

from rlvr.rewards import combinators, ttrl  # noqa: F401  (register inverse, all_of and ttrl)
from rlvr.rewards.extract import (
    ANSWER_FORMATS,
    EVALUATION_FORMATS,
    evaluation_format,
    extract_answer,
    format_answer,
    is_code_reasoning,
    last_boxed,
)
from rlvr.rewards.functions import REWARDS, RewardFn
from rlvr.rewards.grader import GRADER_VERSION, GradeResult, GraderPool, get_grader, grade_answers, grade_responses
from rlvr.rewards.repetition import has_repeated_block

__all__ = [
    "REWARDS",
    "ANSWER_FORMATS",
    "EVALUATION_FORMATS",
    "Reward",
    "build_reward",
    "extract_answer",
    "format_answer",
    "evaluation_format",
    "has_repeated_block",
    "last_boxed",
    "is_code_reasoning",
    "GraderPool",
    "GradeResult",
    "get_grader",
    "grade_responses",
    "grade_answers",
    "GRADER_VERSION",
]


class Reward:
    """A registered reward function with its config parameters bound.

    ``reward(responses, answers, **context) -> list[float]``. ``label`` names it in logs and run
    names; ``spec()`` says exactly which reward produced the numbers. Parameters arrive as plain
    Python values (Hydra's DictConfig and ListConfig are converted), inner rewards as ``Reward``s.
    """

    def __init__(self, name: str, *, label: str | None = None, **params: Any) -> None:
        entry = REWARDS.entry(name)
        _check_params(name, entry.fn, params)
        params = {key: _plain(value) for key, value in params.items()}
        for param, arity in getattr(entry.fn, "inner_rewards", {}).items():
            if param not in params:
                raise TypeError(f"reward {name!r} needs parameter {param!r}: its inner reward{'s' * (arity == 'list')}")
            params[param] = _build_inner(f"{name}.{param}", arity, params[param])
        self.name = name
        self.label = name if label is None else str(label)
        self.version = entry.version
        self.params = params
        self.fn: RewardFn = entry.fn

    def __call__(self, responses: Sequence[str], answers: Sequence[str], **context: Any) -> list[float]:
        rewards = self.fn(responses, answers, **self.params, **context)
        if len(rewards) != len(responses):
            raise RuntimeError(f"reward {self.name!r} returned {len(rewards)} values for {len(responses)} responses")
        return rewards

    def votes_per_prompt(self) -> int | None:
        """Samples per prompt this reward (or an inner one: the most of them) votes over; None: it scores
        each group on its own, so the trainer samples ``group_size`` per prompt.

        >>> build_reward("ttrl").votes_per_prompt(), build_reward("ttrl", n_votes=16).votes_per_prompt()
        (64, 16)
        >>> build_reward("all_of", rewards=[{"name": "ttrl", "n_votes": 8}, {"name": "format"}]).votes_per_prompt()
        8
        >>> build_reward("format").votes_per_prompt() is None
        True
        """
        counts = []
        param = getattr(self.fn, "votes_param", None)
        if param is not None:
            default = inspect.signature(self.fn).parameters[param].default
            counts.append(int(self.params.get(param, default)))
        for value in self.params.values():
            for inner in value if isinstance(value, list) else [value]:
                if isinstance(inner, Reward) and inner.votes_per_prompt() is not None:
                    counts.append(inner.votes_per_prompt())
        return max(counts) if counts else None

    def spec(self) -> dict[str, Any]:
        """``{name, version, params}`` as plain, JSON-serialisable values; inner rewards as their own specs.

        >>> build_reward("inverse", reward={"name": "random", "gamma": 0.3}).spec()  # doctest: +NORMALIZE_WHITESPACE
        {'name': 'inverse', 'version': 1,
         'params': {'reward': {'name': 'random', 'version': 1, 'params': {'gamma': 0.3}}}}
        """
        return {"name": self.name, "version": self.version, "params": _spec_value(self.params)}

    def __repr__(self) -> str:
        label = "" if self.label == self.name else f", label={self.label!r}"
        return f"Reward({self.name!r}{label}, version={self.version}, params={self.params})"


def build_reward(name: str, label: str | None = None, **params: Any) -> Reward:
    """The reward ``name`` from ``REWARDS`` with ``params`` bound; unknown names or parameters fail here,
    inner rewards' included (the message says where).

    ``label`` is its display name in logs and run names (default: ``name``).

    >>> reward = build_reward("random", gamma=0.0)
    >>> reward.name, reward.label, reward.version, reward.params
    ('random', 'random', 1, {'gamma': 0.0})
    >>> reward(["x"], ["1"], seed=0, step=0, prompt_ids=[0], sample_indices=[0])
    [0.0]
    >>> build_reward("all_of", rewards=[{"name": "format"}, {"name": "inverse", "reward": {"name": "pyton"}}])
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    KeyError: "all_of.rewards[1]: inverse.reward: unknown reward 'pyton'; did you mean 'python'? available: ..."
    """
    return Reward(name, label=label, **params)


def _build_inner(where: str, arity: str, value: Any) -> Reward | list[Reward]:
    """An inner reward parameter, built: one reward, or a non-empty list of them (``arity``)."""
    if arity == "one":
        return _as_reward(where, value)
    if not isinstance(value, list) or not value:
        raise TypeError(f"{where}: expected a non-empty list of rewards, got {value!r}")
    return [_as_reward(f"{where}[{i}]", item) for i, item in enumerate(value)]


def _as_reward(where: str, value: Any) -> Reward:
    """A ``Reward`` as is, or one built from a ``{name: ..., label: ..., **params}`` mapping."""
    if isinstance(value, Reward):
        return value
    if not isinstance(value, dict) or "name" not in value:
        raise TypeError(f"{where}: expected a reward or a mapping with a 'name', got {value!r}")
    try:
        return build_reward(**value)
    except (KeyError, TypeError, ValueError) as error:
        # Say where in the nesting it failed; the message keeps the registry's did-you-mean.
        raise type(error)(f"{where}: {error.args[0] if error.args else error}") from None


def _plain(value: Any) -> Any:
    """Hydra's DictConfig / ListConfig (and any mapping or list) as plain dicts and lists; the rest as is."""
    if isinstance(value, Reward) or isinstance(value, (str, bytes)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    return value


def _spec_value(value: Any) -> Any:
    if isinstance(value, Reward):
        return value.spec()
    if isinstance(value, dict):
        return {k: _spec_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_spec_value(v) for v in value]
    return value


def accepted_params(fn: RewardFn) -> list[str]:
    """Config parameters of a reward: its keyword-only arguments that have a default."""
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
    ]


def _check_params(name: str, fn: RewardFn, params: dict[str, Any]) -> None:
    accepted = accepted_params(fn)
    for param in params:
        if param not in accepted:
            close = difflib.get_close_matches(param, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"reward {name!r} has no parameter {param!r}{hint}; accepted: {', '.join(accepted) or 'none'}"
            )
