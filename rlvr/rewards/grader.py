r"""Grading answers with math-verify in worker processes that are killed when they overrun.

math-verify can spend unbounded time in sympy on a pathological answer (``\boxed{9^{9^{9^9}}}``).
Its own timeouts use ``signal.alarm``, which only works in the main thread and can interrupt code
that does not expect it, so they are turned off here (``parsing_timeout=None``,
``timeout_seconds=None``) and the deadline is enforced from outside: each worker process grades one
task at a time, and a worker still busy ``timeout_s`` after it started a task is SIGKILLed and
replaced. Its task counts as incorrect and as a timeout; nothing else is lost and no step stalls.

Workers come from the ``forkserver`` start method: the trainer process holds CUDA and NCCL state that
``fork`` would copy, and a fork server that has math-verify preloaded forks a replacement worker in
milliseconds instead of re-importing sympy as ``spawn`` would.

The rule for a response depends on its answer format (``rlvr.rewards.extract``). ``boxed`` (the
default): the content of its last ``\boxed{}`` is the answer; a response without any box is handed
whole to math-verify, which extracts its last LaTeX or plain expression; an empty response, or one
whose last box never closes (cut at the length limit), is incorrect. Any other format, e.g.
``answer_tag``: the format's answer is graded, and a response that gives none (no closed
``<answer>`` span) is incorrect without being graded; there is no whole-response fallback, since the
format itself says where the answer is.

What is compared: first the string rules (``rlvr.rewards.equivalence.string_verdict``), which settle
most pairs in the trainer process without sympy: the same answer spelled differently (``\dfrac``, ``\left(``, spaces), two
plain numbers ("070" == "70", "142" == "142.0", "50\%" == "0.5"), tuples, intervals and answer sets
of plain numbers, choice letters (``\textbf{(C)}\ 12`` answers ``\text{(C)}``). They only ever say
"equal" for answers that are, and leave everything else to math-verify, which the workers run on
the answers after ``rewrite_for_parsing`` (spellings it misreads, such as ``10\,080``), with parsed
answers cached per worker and a numeric check that skips sympy's ``simplify`` for answers whose
values differ.
"""

from __future__ import annotations

import atexit
import cmath
import functools
import logging
import math
import multiprocessing
import os
import re
import signal
import threading
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from rlvr.rewards.equivalence import rewrite_for_parsing, string_verdict
from rlvr.rewards.extract import ANSWER_FORMATS, extract_answer, has_boxed, last_boxed

log = logging.getLogger(__name__)

DEFAULT_NUM_WORKERS = 2
DEFAULT_TIMEOUT_S = 5.0


class Task(NamedTuple):
    """One thing to grade. ``pred`` is a boxed answer, or the whole response when ``fallback``."""

    pred: str | None
    gold: str
    fallback: bool = False


# (pred, gold, fallback) -> correct; must be a module-level function so that it pickles by name.
TaskFn = Callable[[str, str, bool], bool]


@dataclass(frozen=True)
class GradeResult:
    """Per input pair: whether it was graded correct, and whether it was not graded at all.

    A task whose worker overran its deadline (or died) is ``correct=False, timed_out=True``.
    """

    correct: list[bool]
    timed_out: list[bool]


# --------------------------------------------------------------------------------------------------
# What runs inside a worker.

# math-verify's LaTeX extraction only looks between delimiters; `\$` is an escaped dollar sign.
_DELIMITED = re.compile(r"(?<!\\)\$|\\\(|\\\[")


def _as_latex(text: str) -> str:
    return text if _DELIMITED.search(text) else f"${text}$"


def _answer_latex(answer: str) -> str:
    """An answer as math-verify should read it: rewritten, then between math delimiters."""
    return _as_latex(rewrite_for_parsing(answer))


@functools.cache
def _extraction_config() -> tuple[Any, ...]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return (LatexExtractionConfig(), ExprExtractionConfig())


def _parse(text: str) -> tuple[Any, ...]:
    """math-verify's readings of ``text`` (its extraction, then its LaTeX parser)."""
    from math_verify import parse

    return tuple(parse(text, extraction_config=_extraction_config(), parsing_timeout=None))


# Answers are short; whole responses are not cached (16k of them could hold hundreds of MB).
_CACHED_ANSWER_CHARS = 1_000


@functools.lru_cache(maxsize=16_384)
def _parse_answer_cached(text: str) -> tuple[Any, ...]:
    return _parse(text)


def _parse_answer(text: str) -> tuple[Any, ...]:
    """``_parse`` of a gold or extracted answer, cached: a gold answer is parsed once per worker, not
    once per response graded against it (sympy objects are immutable, so sharing them is safe)."""
    return _parse_answer_cached(text) if len(text) <= _CACHED_ANSWER_CHARS else _parse(text)


def _value_at(expr: Any, point: dict) -> complex | None:
    """``expr``'s value with its symbols set to ``point``, or None where it has none (or not a finite one)."""
    try:
        value = complex(expr.evalf(30, subs=point))
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return value if cmath.isfinite(value) else None


# Where two expressions in the same symbols are compared, in tenths: one value per symbol at each
# point, none that answers are special at (0, 1, -1).
_PROBES = ((7, 13, 23, 31), (17, 3, 29, 11))


def _clearly_unequal(gold: Any, pred: Any) -> bool:
    """Two expressions that math-verify cannot call equal: in the same symbols (or none), with values
    at one point farther apart than its rounding to 6 places allows. Equal expressions agree at every
    point, so this only skips the slow symbolic ``simplify`` that would end in "not equal".

    Not for a bare symbol (math-verify matches ``\\text{east}`` with the letters e*a*s*t as text),
    percentages (it compares "50\\%" with 50 by its own rule), sets, relations or matrices.
    """
    from sympy import Expr, Rational, Symbol, UnevaluatedExpr

    if not (isinstance(gold, Expr) and isinstance(pred, Expr)) or isinstance(gold, Symbol) or isinstance(pred, Symbol):
        return False
    if gold.has(UnevaluatedExpr) or pred.has(UnevaluatedExpr) or gold.free_symbols != pred.free_symbols:
        return False
    symbols = sorted(gold.free_symbols, key=str)
    if len(symbols) > len(_PROBES[0]):
        return False
    for probe in _PROBES[: 1 if not symbols else None]:
        point = {symbol: Rational(tenths, 10) for symbol, tenths in zip(symbols, probe)}
        a, b = _value_at(gold, point), _value_at(pred, point)
        if a is not None and b is not None and abs(a - b) > 1e-6 + 1e-9 * max(abs(a), abs(b)):
            return True
    return False


def _verify(gold: Sequence[Any], pred: Sequence[Any]) -> bool:
    from math_verify import verify

    # Not symmetric: math-verify wants the gold answer first. `allow_set_relation_comp` lets an
    # inequality answer a gold interval: "x \le 0" == "(-\infty, 0]".
    return any(
        verify(g, p, timeout_seconds=None, allow_set_relation_comp=True)
        for g in gold
        for p in pred
        if not _clearly_unequal(g, p)
    )


def verify_answer(pred: str, gold: str) -> bool:
    r"""Whether an extracted answer (a box's content) equals the gold answer. Never raises.

    The string rules (``string_verdict``) settle what they can; otherwise both sides, after
    ``rewrite_for_parsing``, are read as LaTeX (wrapped in ``$...$`` when they carry no math
    delimiters) and compared by math-verify. Runs without a deadline: call it through a
    ``GraderPool`` unless the input is trusted.

    >>> verify_answer(r"\frac{1}{2}", "0.5"), verify_answer("070", "70"), verify_answer("7", "70")
    (True, True, False)
    >>> verify_answer(r"10\,080", r"10,\!080"), verify_answer(r"x \le 0", r"(-\infty, 0]")
    (True, True)
    """
    try:
        verdict = string_verdict(pred, gold)
        if verdict is not None:
            return verdict
        return _verify(_parse_answer(_answer_latex(gold)), _parse_answer(_answer_latex(pred)))
    except Exception:
        return False


def verify_response(response: str, gold: str) -> bool:
    """Whether a whole response (one without ``\\boxed{}``) ends on the gold answer, per math-verify's
    own extraction of the last LaTeX or plain expression. Never raises.

    >>> verify_response("The answer is 5", "5"), verify_response("I give up.", "5")
    (True, False)
    """
    try:
        return _verify(_parse_answer(_answer_latex(gold)), _parse(response))
    except Exception:
        return False


def grade_task(pred: str, gold: str, fallback: bool) -> bool:
    """The default ``TaskFn``: a boxed answer, or a whole response when ``fallback``."""
    return verify_response(pred, gold) if fallback else verify_answer(pred, gold)


# One pair of each kind of answer MATH-500 has. The LaTeX parser (ANTLR) learns its prediction tables
# lazily, per process, and a fresh worker parses several times slower until it has seen each construct.
_WARM_UP_PAIRS = [
    (r"\frac{\sqrt{3}}{2}", "0.5"), (r"3\sqrt{2} + 1", r"\sqrt{18}"), (r"\frac{7\pi}{4}", r"2\pi"),
    (r"x \le 0", r"(-\infty, 0]"), (r"\left( 3, \frac{\pi}{2} \right)", "(1, 2)"),
    (r"\{1, \sqrt{2}\}", r"-2, \frac{1}{2}"), (r"(-\infty, 2) \cup (3, \infty)", r"[0, 5)"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}"),
    (r"(x+3)(x-7)", r"x^2 + 10x + 21"), (r"y = 2x + 3", r"5x - 7y + 11z + 4 = 0"), (r"1 \pm \sqrt{19}", r"2 - 3i"),
    (r"10^\circ", r"\text{(C)}"), (r"\text{Evelyn}", r"15\mbox{ cm}^2"), (r"18.90 \text{ dollars}", r"50\%"),
    (r"2^{10} \cdot 3!", r"\log_2 8"), (r"\cos x \sin^2 x", r"\cot x"), (r"204_5", r"\binom{10}{3}"),
]  # fmt: skip


def _warm_up(full: bool) -> None:
    """Build math-verify's regexes and (``full``) teach its LaTeX parser each construct before deadlines count."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its "timeout is disabled" warning is by design here
    for pred, gold in _WARM_UP_PAIRS if full else _WARM_UP_PAIRS[:1]:
        verify_answer(pred, gold)
    _parse_answer_cached.cache_clear()  # what it cached here is not what will be graded


_READY = "ready"


def _worker_main(conn: Connection, task_fn: TaskFn, warm_up: bool = True) -> None:
    """Receive chunks of ``(task_id, pred, gold, fallback)``; answer ``(task_id, correct)`` per task
    as it finishes, so the parent always knows which task a stuck worker is on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's to handle; it then closes the pool
    _warm_up(full=warm_up)
    conn.send(_READY)
    while True:
        try:
            chunk = conn.recv()
        except EOFError:  # the parent is gone
            return
        if chunk is None:
            return
        for task_id, pred, gold, fallback in chunk:
            try:
                correct = bool(task_fn(pred, gold, fallback))
            except Exception:
                correct = False
            conn.send((task_id, correct))


# --------------------------------------------------------------------------------------------------
# The parent side.


@functools.cache
def _mp_context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    # The fork server is one per process; preloading sets what every worker is forked with. It has no
    # effect if something else already started the server; workers then import math-verify themselves.
    ctx.set_forkserver_preload(["__main__", "math_verify", __name__])
    return ctx


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


def _fast_verdict(task: Task) -> bool | None:
    """A verdict that needs no worker (no answer, or one the string rules settle), or None."""
    if task.pred is None or not task.pred.strip():
        return False
    if task.fallback:
        return None
    try:
        return string_verdict(task.pred, task.gold)
    except Exception:  # a bug in a rule must not fail the step: the worker grades it (and catches the same)
        log.exception("grading rule failed on %r vs %r", task.pred[:200], task.gold[:200])
        return None


class GraderPool:
    """Worker processes that grade ``(pred, gold)`` pairs, each task under a hard deadline.

    Workers start on first use and live until ``close()`` (also run at exit). Distinct tasks are
    dispatched in small chunks to idle workers; each worker reports per task, and its deadline is
    ``timeout_s`` after it started its current task. On a timeout only that task is failed: the
    rest of the killed worker's chunk goes back to the front of the queue and is graded normally.
    Not for use across ``fork``: a forked child must build its own pool (``get_grader`` does).

    Args:
        num_workers: worker processes; each grades one task at a time.
        timeout_s: per-task deadline in seconds.
        task_fn: module-level ``(pred, gold, fallback) -> bool`` run in the workers (tests inject a slow one).
        chunk_size: most tasks sent to a worker at once; chunks shrink when the queue is short so
            that all workers get a share.
        start_timeout_s: a worker not ready after this long is an error, not a timeout.
        cache_size: verdicts remembered across calls (least recently used dropped first), so that the
            trainer's ground-truth metric does not grade again what the ground-truth reward just graded.
            Timeouts are never cached: a slow answer gets a fresh chance next time.
        warm_up: grade one answer of each kind before a worker reports ready (about 2 s of CPU per
            worker), so that the first steps do not pay for the LaTeX parser learning its grammar
            (they would take about twice as long). Tests that do not time steps turn it off.
    """

    def __init__(
        self,
        num_workers: int = DEFAULT_NUM_WORKERS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        task_fn: TaskFn = grade_task,
        chunk_size: int = 8,
        start_timeout_s: float = 120.0,
        cache_size: int = 65_536,
        warm_up: bool = True,
    ) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers!r}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.num_workers = int(num_workers)
        self.timeout_s = float(timeout_s)
        self.task_fn = task_fn
        self.chunk_size = max(1, int(chunk_size))
        self.start_timeout_s = start_timeout_s
        self.warm_up = bool(warm_up)
        # Cumulative, for logging: pairs asked, distinct tasks, graded without a worker, sent to one,
        # timed out (or worker died), workers started.
        self.counts: Counter[str] = Counter()
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[Task, bool] = OrderedDict()
        self.pid = os.getpid()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        atexit.register(self.close)

    # -- public -----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def grade(self, pairs: Iterable[tuple]) -> GradeResult:
        """Grade ``(pred, gold)`` or ``(pred, gold, fallback)`` pairs; ``pred=None`` is incorrect."""
        tasks = [Task(p[0], str(p[1]), *p[2:]) for p in pairs]
        distinct = list(dict.fromkeys(tasks))
        verdicts = {task: _fast_verdict(task) for task in distinct}
        with self._lock:
            if self._closed:
                raise RuntimeError("this GraderPool is closed")
            cached = self._recall([t for t, v in verdicts.items() if v is None])
            verdicts.update(cached)
            # Grouped by gold answer, so that a chunk reuses the gold's parse cached in its worker.
            todo = sorted((task for task, verdict in verdicts.items() if verdict is None), key=lambda t: t.gold)
            if todo:
                verdicts.update(zip(todo, self._run(todo)))
                self._remember({t: verdicts[t] for t in todo if verdicts[t] is not None})
            self.counts.update(
                pairs=len(tasks),
                distinct=len(distinct),
                fast=len(distinct) - len(todo) - len(cached),
                cached=len(cached),
                sent=len(todo),
            )
        return GradeResult(
            correct=[verdicts[t] is True for t in tasks],
            timed_out=[verdicts[t] is None for t in tasks],
        )

    def _recall(self, tasks: list[Task]) -> dict[Task, bool]:
        """Cached verdicts of ``tasks``; each one found becomes the most recently used."""
        found = {t: self._cache[t] for t in tasks if t in self._cache}
        for task in found:
            self._cache.move_to_end(task)
        return found

    def _remember(self, verdicts: dict[Task, bool]) -> None:
        for task, verdict in verdicts.items():
            self._cache[task] = verdict
            self._cache.move_to_end(task)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def close(self) -> None:
        """Stop the workers; idempotent. Idle workers exit on their own, the rest are killed."""
        with self._lock:  # a grade() in another thread finishes first: it cannot outlast its deadlines
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

    def __enter__(self) -> GraderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        task_fn = self.task_fn.__name__
        return f"GraderPool(num_workers={self.num_workers}, timeout_s={self.timeout_s}, task_fn={task_fn})"

    # -- scheduling -------------------------------------------------------------------------------

    def _run(self, todo: list[Task]) -> list[bool | None]:
        """Verdicts for ``todo`` in order; None where the task was not graded."""
        if os.getpid() != self.pid:
            raise RuntimeError("a GraderPool cannot be used from a forked process; use get_grader() there")
        queue = deque(range(len(todo)))
        verdicts: dict[int, bool | None] = {}
        try:
            self._fill()
            while len(verdicts) < len(todo):
                self._dispatch(queue, todo)
                self._collect(queue, verdicts)
                self._enforce_deadlines(queue, verdicts)
        except BaseException:
            # Interrupted mid-call: results still on their way would be mistaken for the next call's.
            for i, worker in enumerate(self._workers):
                if worker.inflight:
                    self._stop(worker)
                    self._workers[i] = self._start_worker()
            raise
        return [verdicts[i] for i in range(len(todo))]

    def _fill(self) -> None:
        while len(self._workers) < self.num_workers:
            self._workers.append(self._start_worker())

    def _start_worker(self) -> _Worker:
        ctx = _mp_context()
        parent_conn, child_conn = ctx.Pipe()
        args = (child_conn, self.task_fn, self.warm_up)
        process = ctx.Process(target=_worker_main, args=args, name="grader", daemon=True)
        process.start()
        child_conn.close()  # so that the worker's death reads as EOF here
        self.counts["started"] += 1
        return _Worker(process, parent_conn, started_at=time.monotonic())

    def _dispatch(self, queue: deque[int], todo: list[Task]) -> None:
        idle = [w for w in self._workers if w.idle]
        if not idle or not queue:
            return
        size = min(self.chunk_size, math.ceil(len(queue) / len(self._workers)))
        for worker in idle:
            if not worker.process.is_alive():  # died while idle (e.g. the OOM killer): no task of ours was lost
                self._replace(worker, queue, verdicts={}, reason="died while idle")
                continue
            ids = [queue.popleft() for _ in range(min(size, len(queue)))]
            if not ids:
                return
            worker.inflight.extend(ids)
            worker.deadline = time.monotonic() + self.timeout_s
            try:
                worker.conn.send([(i, *todo[i]) for i in ids])
            except OSError:  # it died while idle: none of these ran, so none of them fails
                worker.inflight.clear()
                queue.extendleft(reversed(ids))
                self._replace(worker, queue, verdicts={}, reason="died while idle")

    def _collect(self, queue: deque[int], verdicts: dict[int, bool | None]) -> None:
        """Wait for the first message or deadline, then read everything that has arrived."""
        waiting = [w for w in self._workers if not w.ready or w.inflight]
        ready = wait([w.conn for w in waiting], timeout=self._wait_s(waiting))
        for worker in waiting:
            if worker.conn in ready:
                self._read(worker, queue, verdicts)

    def _wait_s(self, waiting: list[_Worker]) -> float:
        limits = [w.deadline if w.ready else w.started_at + self.start_timeout_s for w in waiting]
        return max(0.0, min(limits, default=0.0) - time.monotonic())

    def _read(self, worker: _Worker, queue: deque[int], verdicts: dict[int, bool | None]) -> None:
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if message == _READY:
                    worker.ready = True
                    continue
                task_id, correct = message
                assert worker.inflight.popleft() == task_id, "grader worker answered out of order"
                verdicts[task_id] = correct
                worker.deadline = time.monotonic() + self.timeout_s if worker.inflight else math.inf
        except (EOFError, OSError):
            self._replace(worker, queue, verdicts, reason="died")

    def _enforce_deadlines(self, queue: deque[int], verdicts: dict[int, bool | None]) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            # A result that arrived since _collect read the pipe wins: the next _collect reads it.
            if worker.ready and worker.inflight and now > worker.deadline and not worker.conn.poll():
                self._replace(worker, queue, verdicts, reason=f"timed out after {self.timeout_s:g} s")
            elif not worker.ready and now > worker.started_at + self.start_timeout_s:
                raise RuntimeError(f"a grader worker was not ready after {self.start_timeout_s:.0f} s")

    def _replace(self, worker: _Worker, queue: deque[int], verdicts: dict[int, bool | None], reason: str) -> None:
        """Kill a worker; fail the one task it was running, requeue the rest of its chunk, start another."""
        self._stop(worker)
        if not worker.ready:
            raise RuntimeError(
                f"a grader worker exited with code {worker.process.exitcode} before it was ready (its traceback "
                f"is above). Is {self.task_fn.__module__}.{self.task_fn.__name__} importable in a fresh process, "
                "and does the main script keep its work under `if __name__ == '__main__':`?"
            )
        if worker.inflight:
            verdicts[worker.inflight.popleft()] = None
            self.counts["timeouts"] += 1
            log.warning("a grader worker %s; its task counts as incorrect", reason)
        queue.extendleft(reversed(worker.inflight))
        self._workers[self._workers.index(worker)] = self._start_worker()

    @staticmethod
    def _stop(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5.0)
        worker.conn.close()


# --------------------------------------------------------------------------------------------------
# One pool per process, shared by rewards and metrics.

_shared: GraderPool | None = None
_shared_lock = threading.Lock()


def get_grader(num_workers: int | None = None, timeout_s: float | None = None) -> GraderPool:
    """The process-wide pool, created on first call; None means "whatever it has (or the default)".

    Asking for settings that differ from the existing pool's is an error rather than a silent
    restart, since two callers would otherwise fight over it.
    """
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed or _shared.pid != os.getpid():
            _shared = GraderPool(
                DEFAULT_NUM_WORKERS if num_workers is None else num_workers,
                DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s,
            )
            return _shared
        asked = {"num_workers": num_workers, "timeout_s": timeout_s}
        clash = {k: v for k, v in asked.items() if v is not None and v != getattr(_shared, k)}
        if clash:
            raise ValueError(f"the shared grader already runs with {_shared!r}; asked for {clash}")
        return _shared


def response_task(response: str, gold: str, answer_format: str = "boxed") -> Task:
    """What to grade for one response (see the module docstring for the rule).

    >>> response_task("<think>half of 25.6</think> <answer>12.8</answer>", "12.8", "answer_tag")
    Task(pred='12.8', gold='12.8', fallback=False)
    >>> response_task("so it is 12.8", "12.8", "answer_tag")
    Task(pred=None, gold='12.8', fallback=False)
    """
    if answer_format != "boxed":
        return Task(extract_answer(response, answer_format), str(gold))
    boxed = last_boxed(response)
    if boxed is not None:
        return Task(boxed, str(gold))
    if has_boxed(response) or not response.strip():
        return Task(None, str(gold))
    return Task(response, str(gold), fallback=True)


def grade_responses(
    responses: Sequence[str], answers: Sequence[str], pool: GraderPool | None = None, answer_format: str = "boxed"
) -> GradeResult:
    """Extract each response's answer in ``answer_format`` and grade it against its gold answer on
    ``pool`` (default: shared). An unknown format fails before anything is graded."""
    if len(responses) != len(answers):
        raise ValueError(f"{len(responses)} responses but {len(answers)} answers")
    ANSWER_FORMATS.entry(answer_format)  # did-you-mean error, even for an empty batch
    pool = get_grader() if pool is None else pool
    return pool.grade([response_task(r, a, answer_format) for r, a in zip(responses, answers)])


def grade_answers(preds: Sequence[str | None], golds: Sequence[str], pool: GraderPool | None = None) -> GradeResult:
    r"""Grade already-extracted answers (not whole responses) against gold answers on ``pool``.

    For comparing two answers, e.g. a majority-vote label with the true answer; a ``None`` or blank
    prediction is incorrect.
    """
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions but {len(golds)} gold answers")
    pool = get_grader() if pool is None else pool
    return pool.grade([Task(None if p is None else str(p), str(g)) for p, g in zip(preds, golds)])
