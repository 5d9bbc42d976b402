"""A grader task function that hangs on a marker answer, for the timeout tests.

It lives in its own importable module because the pool's worker processes import the task
function by name; a function defined inside a test could not be sent to them.
"""

import time

from rlvr.rewards.grader import grade_task

HANG = "HANG"


def hang_on_marker(pred: str, gold: str, fallback: bool) -> bool:
    """Like the real grader, but a prediction of ``HANG`` never finishes (in test time)."""
    if pred == HANG:
        time.sleep(600)
    return grade_task(pred, gold, fallback)
