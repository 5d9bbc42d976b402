import ast
import doctest
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _pool_tasks import HANG, fail_on_zero, greeting, set_greeting, square_or_hang, squares_from_a_fresh_pool

import rlvr.rewards.pool as pool_module
from rlvr.rewards.pool import WorkerPool

REPO = Path(__file__).resolve().parents[2]


def test_results_come_back_in_order_whatever_the_chunks():
    with WorkerPool(square_or_hang, num_workers=2, timeout_s=5.0, chunk_size=3) as pool:
        assert pool.run([(n,) for n in range(20)]) == [n * n for n in range(20)]
        assert pool.run([]) == []
        assert pool.counts["started"] == 2 and pool.counts["timeouts"] == 0


def test_a_hanging_task_is_killed_and_the_rest_of_its_chunk_runs():
    # One worker, one chunk: the hanging task is second, the two after it go back to the queue.
    with WorkerPool(square_or_hang, num_workers=1, timeout_s=0.5, chunk_size=8) as pool:
        started = time.monotonic()
        assert pool.run([(3,), (HANG,), (4,), (5,)]) == [9, None, 16, 25]
        assert time.monotonic() - started < 10  # the task sleeps for 600 s: the call must not wait for it
        assert pool.counts["timeouts"] == 1 and pool.counts["started"] == 2  # the killed worker was replaced
        assert pool.run([(6,)]) == [36]  # ... and the replacement serves the next call


def test_each_worker_runs_the_initializer_before_its_tasks():
    with WorkerPool(greeting, num_workers=2, timeout_s=5.0, initializer=set_greeting, initargs=("hello",)) as pool:
        assert pool.run([()] * 4) == ["hello"] * 4


def test_a_pool_starts_inside_a_loky_worker():
    # hydra/launcher=local_pool runs each job in a loky worker, whose global start method is "loky": every
    # multiprocessing child of it failed with "cannot find context for 'loky'" before the pool reset it.
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=1, reuse=False)
    try:
        assert executor.submit(squares_from_a_fresh_pool, 5).result(timeout=120) == [0, 1, 4, 9, 16]
    finally:
        executor.shutdown(wait=True)


def test_a_task_that_raises_gets_the_error_result_and_is_no_timeout():
    with WorkerPool(fail_on_zero, num_workers=1, timeout_s=5.0, error_result="error") as pool:
        assert pool.run([(2,), (0,), (4,)]) == [0.5, "error", 0.25]
        assert pool.counts["timeouts"] == 0


def test_close_is_idempotent_and_final():
    pool = WorkerPool(square_or_hang, num_workers=1, timeout_s=5.0)
    assert pool.run([(2,)]) == [4]
    processes = [w.process for w in pool._workers]
    pool.close()
    pool.close()
    assert pool.closed and not any(p.is_alive() for p in processes)
    with pytest.raises(RuntimeError, match="this WorkerPool is closed"):
        pool.run([(3,)])


@pytest.mark.parametrize("kwargs", [{"num_workers": 0, "timeout_s": 1.0}, {"num_workers": 1, "timeout_s": 0}])
def test_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        WorkerPool(square_or_hang, **kwargs)


def test_the_pool_imports_only_the_standard_library():
    # It knows nothing about what its tasks compute: no math-verify, no sympy, nothing of rlvr.
    tree = ast.parse(Path(pool_module.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names) | {"__future__"}


def test_importing_the_pool_loads_neither_math_verify_nor_sympy():
    check = 'import sys, rlvr.rewards.pool; assert "math_verify" not in sys.modules and "sympy" not in sys.modules'
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True)


def test_doctests():
    result = doctest.testmod(pool_module)
    assert result.attempted > 0 and result.failed == 0
