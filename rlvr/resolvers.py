"""OmegaConf resolvers the config files use, registered when ``rlvr`` is imported.

Only integer arithmetic that a config cannot otherwise express: the clip ablations that tie the
mini-batch to the rollout size (``conf/clip/one_update_*.yaml``).
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


def register_resolvers() -> None:
    for name, fn in (("mul", multiply), ("div", divide_exactly)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
