"""OmegaConf resolvers the config files use, registered when ``rlvr`` is imported.

Only what a config cannot otherwise express: integer arithmetic for the clip ablations that tie the
mini-batch to the rollout size (``conf/clip/one_update_*.yaml``), and a fallback for a key that is set but
null (``oc.select`` only falls back for a missing one): sweep folders of runs outside an experiment.
"""

from __future__ import annotations

from omegaconf import OmegaConf


def multiply(*factors: int) -> int:
    """``${mul:a,b}`` -> a * b.

    >>> multiply(64, 16)
    1024
    """
    product = 1
    for factor in factors:
        product *= int(factor)
    return product


def divide_exactly(numerator: int, denominator: int) -> int:
    """``${div:a,b}`` -> a / b, refusing to round: a batch size that does not divide is a config error.

    >>> divide_exactly(128, 16)
    8
    """
    numerator, denominator = int(numerator), int(denominator)
    if denominator <= 0 or numerator % denominator:
        raise ValueError(f"${{div:{numerator},{denominator}}}: {numerator} is not a multiple of {denominator}")
    return numerator // denominator


def first_set(*values: object) -> object:
    """``${first_set:${experiment_name},adhoc}`` -> the first value that is not null.

    >>> first_set(None, "adhoc"), first_set("fig1", "adhoc")
    ('adhoc', 'fig1')
    """
    return next((value for value in values if value is not None), None)


def register_resolvers() -> None:
    for name, fn in (("mul", multiply), ("div", divide_exactly), ("first_set", first_set)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
