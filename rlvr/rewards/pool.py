"""A pool of worker processes that runs a task function under a hard per-task deadline.

Some work has no bound on its running time and cannot be interrupted from inside (sympy on a
pathological answer; ``signal.alarm`` only works in the main thread and can break code that does not
expect it). So the deadline is enforced from outside: each worker runs one task at a time and reports
per task, and a worker still busy ``timeout_s`` after it started a task is SIGKILLed and replaced. That
task gets no result (None); the rest of the worker's chunk is sent again, and nothing else is lost.

Workers come from the ``forkserver`` start method: a trainer process holds CUDA and NCCL state that
``fork`` would copy, and a fork server with the heavy imports preloaded forks a replacement worker in
milliseconds instead of re-importing them as ``spawn`` would.

Nothing here knows what the tasks compute: the task function, what a worker runs before it reports
ready and what the fork server preloads all come from the caller (``rlvr.rewards.grader`` for grading).
"""

from __future__ import annotations

import atexit
import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Callable, Self, Sequence

log = logging.getLogger(__name__)

_READY = "ready"


def _worker_main(
    conn: Connection,
    task_fn: Callable[..., Any],
    initializer: Callable[..., None] | None,
    initargs: tuple,
    error_result: Any,
) -> None:
    """Receive chunks of ``(task_id, *args)``; answer ``(task_id, task_fn(*args))`` per task as it
    finishes, so the parent always knows which task a stuck worker is on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then closes the pool
    if initializer is not None:
        initializer(*initargs)
    conn.send(_READY)
    while True:
        try:
            chunk = conn.recv()
        except EOFError:  # the parent is gone
            return
        if chunk is None:
            return
        for task_id, *args in chunk:
            try:
                result = task_fn(*args)
            except Exception:
                result = error_result
            conn.send((task_id, result))


def _forkserver_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    # A process that loky started (a job of hydra's joblib launcher) has "loky" as its global start method, and
    # every multiprocessing child sets its parent's global method first: "cannot find context for 'loky'".
    if multiprocessing.get_start_method(allow_none=True) not in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method(None, force=True)  # the platform's default again
    ctx = multiprocessing.get_context("forkserver")
    # The fork server is one per process; preloading sets what every worker is forked with. It has no
    # effect once something has started the server; workers then import what they need themselves.
    ctx.set_forkserver_preload(["__main__", __name__, *preload])
    return ctx


def _qualified_name(fn: Callable[..., Any]) -> str:
    """``module.name`` of a function, as a worker process has to import it.

    >>> _qualified_name(os.getpid)
    'posix.getpid'
    """
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    started_at: float
    ready: bool = False
    inflight: deque[int] = field(default_factory=deque)  # task ids sent, in the order it runs them
    deadline: float = math.inf  # when the task it is running now must be done

    @property
    def idle(self) -> bool:
        return self.ready and not self.inflight


class WorkerPool:
    """Worker processes that run ``task_fn(*task)`` on tuples of arguments, each under a hard deadline.

    Workers start on first use and live until ``close()`` (also run at exit). Tasks are dispatched in
    small chunks to idle workers; each worker reports per task, and its deadline is ``timeout_s``
    after it started its current task. On a timeout only that task goes without a result: the rest
    of the killed worker's chunk goes back to the front of the queue. Not for use across ``fork``: a
    forked child must build its own pool.

    Args:
        task_fn: a module-level function (workers import it by name), run as ``task_fn(*task)``. Its
            results must pickle and should not be None, which means "no result".
        num_workers: worker processes; each runs one task at a time.
        timeout_s: per-task deadline in seconds.
        chunk_size: most tasks sent to a worker at once; chunks shrink when the queue is short so
            that all workers get a share.
        start_timeout_s: a worker not ready after this long is an error, not a timeout.
        initializer: a module-level function each worker runs as ``initializer(*initargs)`` before it
            reports ready: what it costs does not count against any task's deadline.
        initargs: its arguments.
        preload: modules the fork server imports once, so that each worker starts with them.
        error_result: the result of a task whose function raised.
        name: what the worker processes and the messages about them are called.
    """

    def __init__(
        self,
        task_fn: Callable[..., Any],
        *,
        num_workers: int,
        timeout_s: float,
        chunk_size: int = 8,
        start_timeout_s: float = 120.0,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
        preload: Sequence[str] = (),
        error_result: Any = None,
        name: str = "pool",
    ) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers!r}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.task_fn = task_fn
        self.num_workers = int(num_workers)
        self.timeout_s = float(timeout_s)
        self.chunk_size = max(1, int(chunk_size))
        self.start_timeout_s = start_timeout_s
        self.initializer = initializer
        self.initargs = tuple(initargs)
        self.preload = tuple(preload)
        self.error_result = error_result
        self.name = name
        # Cumulative, for logging: workers started, tasks that timed out (or whose worker died).
        self.counts: Counter[str] = Counter()
        self.pid = os.getpid()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()  # one call at a time; close() waits for it
        self._closed = False
        atexit.register(self.close)

    # -- public -----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers started so far and still in use (e.g. to measure their CPU time)."""
        return [worker.process.pid for worker in self._workers]

    def run(self, tasks: Sequence[tuple]) -> list[Any]:
        """``task_fn(*task)`` for each task, in order; None where it overran its deadline or its worker died."""
        with self._lock:
            self._check_open()
            return self._run(tasks) if tasks else []

    def close(self) -> None:
        """Stop the workers; idempotent. Idle workers exit on their own, the rest are killed."""
        with self._lock:  # a call in another thread finishes first: it cannot outlast its deadlines
            if self._closed:
                return
            self._closed = True
            atexit.unregister(self.close)
            if os.getpid() != self.pid:  # a forked copy: the workers are not ours to stop
                return
            for worker in self._workers:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
            give_up = time.monotonic() + 1.0
            for worker in self._workers:
                worker.process.join(timeout=max(0.0, give_up - time.monotonic()))
                self._stop(worker)
            self._workers = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        task_fn = self.task_fn.__name__
        return f"{type(self).__name__}(num_workers={self.num_workers}, timeout_s={self.timeout_s}, task_fn={task_fn})"

    # -- for subclasses, which hold self._lock around them ---------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed")

    def _run(self, tasks: Sequence[tuple]) -> list[Any]:
        """Results for ``tasks`` in order; None where the task has none."""
        if os.getpid() != self.pid:
            raise RuntimeError(f"a {type(self).__name__} cannot be used from a forked process; make one there")
        queue = deque(range(len(tasks)))
        results: dict[int, Any] = {}
        try:
            self._fill()
            while len(results) < len(tasks):
                self._dispatch(queue, tasks)
                self._collect(queue, results)
                self._enforce_deadlines(queue, results)
        except BaseException:
            # Interrupted mid-call: results still on their way would be mistaken for the next call's.
            for i, worker in enumerate(self._workers):
                if worker.inflight:
                    self._stop(worker)
                    self._workers[i] = self._start_worker()
            raise
        return [results[i] for i in range(len(tasks))]

    # -- scheduling -------------------------------------------------------------------------------

    def _fill(self) -> None:
        while len(self._workers) < self.num_workers:
            self._workers.append(self._start_worker())

    def _start_worker(self) -> _Worker:
        ctx = _forkserver_context(self.preload)
        parent_conn, child_conn = ctx.Pipe()
        args = (child_conn, self.task_fn, self.initializer, self.initargs, self.error_result)
        process = ctx.Process(target=_worker_main, args=args, name=self.name, daemon=True)
        process.start()
        child_conn.close()  # so that the worker's death reads as EOF here
        self.counts["started"] += 1
        return _Worker(process, parent_conn, started_at=time.monotonic())

    def _dispatch(self, queue: deque[int], tasks: Sequence[tuple]) -> None:
        idle = [w for w in self._workers if w.idle]
        if not idle or not queue:
            return
        size = min(self.chunk_size, math.ceil(len(queue) / len(self._workers)))
        for worker in idle:
            if not worker.process.is_alive():  # died while idle (e.g. the OOM killer): no task of ours was lost
                self._replace(worker, queue, results={}, reason="died while idle")
                continue
            ids = [queue.popleft() for _ in range(min(size, len(queue)))]
            if not ids:
                return
            worker.inflight.extend(ids)
            worker.deadline = time.monotonic() + self.timeout_s
            try:
                worker.conn.send([(i, *tasks[i]) for i in ids])
            except OSError:  # it died while idle: none of these ran, so none of them fails
                worker.inflight.clear()
                queue.extendleft(reversed(ids))
                self._replace(worker, queue, results={}, reason="died while idle")

    def _collect(self, queue: deque[int], results: dict[int, Any]) -> None:
        """Wait for the first message or deadline, then read everything that has arrived."""
        waiting = [w for w in self._workers if not w.ready or w.inflight]
        ready = wait([w.conn for w in waiting], timeout=self._wait_s(waiting))
        for worker in waiting:
            if worker.conn in ready:
                self._read(worker, queue, results)

    def _wait_s(self, waiting: list[_Worker]) -> float:
        limits = [w.deadline if w.ready else w.started_at + self.start_timeout_s for w in waiting]
        return max(0.0, min(limits, default=0.0) - time.monotonic())

    def _read(self, worker: _Worker, queue: deque[int], results: dict[int, Any]) -> None:
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if message == _READY:
                    worker.ready = True
                    continue
                task_id, result = message
                assert worker.inflight.popleft() == task_id, f"{self.name} worker answered out of order"
                results[task_id] = result
                worker.deadline = time.monotonic() + self.timeout_s if worker.inflight else math.inf
        except (EOFError, OSError):
            self._replace(worker, queue, results, reason="died")

    def _enforce_deadlines(self, queue: deque[int], results: dict[int, Any]) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            # A result that arrived since _collect read the pipe wins: the next _collect reads it.
            if worker.ready and worker.inflight and now > worker.deadline and not worker.conn.poll():
                self._replace(worker, queue, results, reason=f"timed out after {self.timeout_s:g} s")
            elif not worker.ready and now > worker.started_at + self.start_timeout_s:
                raise RuntimeError(f"a {self.name} worker was not ready after {self.start_timeout_s:.0f} s")

    def _replace(self, worker: _Worker, queue: deque[int], results: dict[int, Any], reason: str) -> None:
        """Kill a worker; the one task it was running gets no result, the rest of its chunk is requeued."""
        self._stop(worker)
        if not worker.ready:
            imported = " and ".join(_qualified_name(fn) for fn in (self.task_fn, self.initializer) if fn is not None)
            raise RuntimeError(
                f"a {self.name} worker exited with code {worker.process.exitcode} before it was ready (its traceback "
                f"is above). Can a fresh process import {imported}, and does the main script keep its work under "
                "`if __name__ == '__main__':`?"
            )
        if worker.inflight:
            results[worker.inflight.popleft()] = None
            self.counts["timeouts"] += 1
            log.warning("a %s worker %s; its task gets no result", self.name, reason)
        queue.extendleft(reversed(worker.inflight))
        self._workers[self._workers.index(worker)] = self._start_worker()

    @staticmethod
    def _stop(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5.0)
        worker.conn.close()
