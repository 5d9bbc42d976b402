"""Task functions for the generic worker pool's tests: no math, so that the pool is seen to need none.

They live in an importable module because the pool's worker processes import them by name; a
function defined inside a test could not be sent to them.
"""

import time

HANG = -1

_greeting = "not initialised"


def square_or_hang(n: int) -> int:
    """``n * n``, except that ``HANG`` never finishes (in test time)."""
    if n == HANG:
        time.sleep(600)
    return n * n


def fail_on_zero(n: int) -> float:
    return 1 / n


def set_greeting(greeting: str) -> None:
    """A worker initializer: what it sets is what the worker's tasks see."""
    global _greeting
    _greeting = greeting


def greeting() -> str:
    return _greeting


def squares_from_a_fresh_pool(n: int) -> list[int]:
    """What a job of hydra's joblib launcher does when it grades: start a pool of its own, in a loky worker."""
    from rlvr.rewards.pool import WorkerPool

    with WorkerPool(square_or_hang, num_workers=1, timeout_s=30.0) as pool:
        return pool.run([(i,) for i in range(n)])
