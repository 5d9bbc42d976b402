r"""The grader: which text of a response is graded, and a pool that grades it under a deadline.

What is graded depends on the response's answer format (``rlvr.rewards.extract``). ``boxed`` (the
default): the content of its last ``\boxed{}`` is the answer; a response without any box is handed
whole to math-verify, which extracts its last LaTeX or plain expression; an empty response, or one
whose last box never closes (cut at the length limit), is incorrect. Any other format, e.g.
``answer_tag``: the format's answer is graded, and a response that gives none is incorrect without
being graded; there is no math-verify fallback, since the format itself says how the answer is read.
Evaluation may read a format's responses another way (``evaluation=True``;
``rlvr.rewards.extract.EVALUATION_FORMATS``): the paper's evaluation grades R1-template responses whole.

Two exceptions to the paper's reading. A response known to be cut at the length limit (``truncated``)
gets no credit from a fallback, text nothing marks as its answer (the whole response without a box,
the paper's last number; ``rlvr.rewards.extract.answers_by_fallback``): "so x = 4. But wait, this is
not" was still thinking. ``GradeResult.fallback_denied`` counts those. And where the gold answer is a
choice letter and the box holds an option's content instead, the letter the response names next to the
box ("which is option (C)") is graded with it (``rlvr.rewards.extract.option_named_at_box``).

An empty gold answer is a data error, never a 0 for every response: grading refuses it.

How answers are compared is ``rlvr.rewards.verify``'s business: the string rules
(``rlvr.rewards.equivalence``, with ``rlvr.rewards.units`` for what follows a value), which settle most
pairs in the trainer process without sympy, then math-verify. ``GraderPool`` applies the string rules
itself and sends the rest to worker processes (``rlvr.rewards.pool``), where a task that overruns its
deadline is killed and counts as incorrect and as a timeout, so that no step stalls on a pathological answer.

``GRADER_VERSION`` names the rules: it changes whenever their code, or a package that decides
verdicts, does, so that results graded by different rules are never pooled without notice.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import inspect
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from rlvr.rewards import equivalence, extract, units, verify
from rlvr.rewards.equivalence import gold_choice, option_gold, stated_choice, string_verdict
from rlvr.rewards.extract import (
    ANSWER_FORMATS,
    answers_by_fallback,
    evaluation_format,
    extract_answer,
    has_boxed,
    last_boxed,
    option_named_at_box,
)
from rlvr.rewards.pool import WorkerPool
from rlvr.rewards.verify import grade_task, verify_answer, verify_response, warm_up_worker

__all__ = [
    "DEFAULT_NUM_WORKERS",
    "DEFAULT_TIMEOUT_S",
    "GRADER_VERSION",
    "GradeResult",
    "GraderPool",
    "Reading",
    "Task",
    "TaskFn",
    "get_grader",
    "grade_answers",
    "grade_responses",
    "grade_task",
    "read_response",
    "response_task",
    "rules_fingerprint",
    "verify_answer",
    "verify_response",
]

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
    ``fallback_denied`` (``grade_responses``; empty elsewhere): a truncated response whose answer would
    have come from a fallback, graded incorrect instead.
    """

    correct: list[bool]
    timed_out: list[bool]
    fallback_denied: list[bool] = field(default_factory=list)


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


class GraderPool(WorkerPool):
    """Worker processes that grade ``(pred, gold)`` pairs, each task under a hard deadline.

    Before anything is sent to a worker, equal pairs are merged, the string rules settle what they
    can and remembered verdicts are reused; the rest goes to the workers sorted by gold answer (see
    ``WorkerPool`` for deadlines, chunks and closing). Not for use across ``fork``: a forked child
    must build its own pool (``get_grader`` does).

    ``counts`` (cumulative, for logging and benchmarks) holds, next to the workers started and the tasks
    that timed out: the ``pairs`` asked, the ``distinct`` tasks among them, and of these how many were
    settled without a worker (``fast``), remembered (``cached``) or ``sent`` to one; and per pair how its
    verdict came about, which adds up to ``pairs``: ``no_answer``, ``by_rules`` (the string rules),
    ``by_math_verify`` (a worker, now or remembered) and ``by_timeout``.

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
        super().__init__(
            task_fn,
            num_workers=num_workers,
            timeout_s=timeout_s,
            chunk_size=chunk_size,
            start_timeout_s=start_timeout_s,
            # Even without the full warm-up, a worker grades one pair: math-verify builds its regexes then.
            initializer=warm_up_worker,
            initargs=(bool(warm_up),),
            preload=("math_verify", verify.__name__),
            error_result=False,  # a task function that raises has graded its pair incorrect
            name="grader",
        )
        self.warm_up = bool(warm_up)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[Task, bool] = OrderedDict()

    def grade(self, pairs: Iterable[tuple]) -> GradeResult:
        """Grade ``(pred, gold)`` or ``(pred, gold, fallback)`` pairs; ``pred=None`` is incorrect.

        A blank gold answer (or None) is an error (``check_golds``), before anything is graded."""
        pairs = list(pairs)
        check_golds([p[1] for p in pairs])
        tasks = [Task(p[0], str(p[1]), *p[2:]) for p in pairs]
        distinct = list(dict.fromkeys(tasks))
        verdicts = {task: _fast_verdict(task) for task in distinct}
        by_rules = {task for task, verdict in verdicts.items() if verdict is not None}
        with self._lock:
            self._check_open()
            cached = self._recall([t for t, v in verdicts.items() if v is None])
            verdicts.update(cached)
            # Grouped by gold answer, so that a chunk reuses the gold's parse cached in its worker.
            todo = sorted((task for task, verdict in verdicts.items() if verdict is None), key=lambda t: t.gold)
            if todo:
                verdicts.update(zip(todo, (None if r is None else bool(r) for r in self._run(todo))))
                self._remember({t: verdicts[t] for t in todo if verdicts[t] is not None})
            # Next to the pool's counts of workers started and timeouts: pairs asked, distinct tasks,
            # graded without a worker, remembered, sent to one.
            self.counts.update(
                pairs=len(tasks),
                distinct=len(distinct),
                fast=len(distinct) - len(todo) - len(cached),
                cached=len(cached),
                sent=len(todo),
            )
            self.counts.update(_settled_by(task, verdicts[task], task in by_rules) for task in tasks)
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


def _settled_by(task: Task, verdict: bool | None, by_rules: bool) -> str:
    """How a pair's verdict came about, as ``GraderPool.counts`` counts pairs: ``no_answer`` (nothing to
    grade), ``by_rules`` (the string rules), ``by_math_verify`` (a worker, now or remembered from an earlier
    call) or ``by_timeout`` (its worker overran the deadline or died: graded incorrect)."""
    if task.pred is None or not task.pred.strip():
        return "no_answer"
    if by_rules:
        return "by_rules"
    return "by_timeout" if verdict is None else "by_math_verify"


# Nothing but spaces, `$` and braces, bare or in `\text{}`-style wrappers.
_BLANK_GOLD = re.compile(r"(?:\s|\$|[{}]|\\(?:text\w*|math\w*|mbox|boxed)\b)*")


def check_golds(golds: Sequence[str | None]) -> None:
    r"""Refuse blank gold answers (``""``, ``"  "``, ``\text{ }``, None): each is a data error, and would
    otherwise grade every response against it incorrect without a word. The error names the first one's
    position in ``golds``; which data file and row it came from is the data loader's to say.

    >>> check_golds(["12", r"\frac{1}{2}"])
    >>> check_golds(["12", r"\text{ }"])
    Traceback (most recent call last):
    ValueError: gold answer 1 is blank ('\\text{ }'): a data error (an empty or damaged answer in the data file), not a wrong response
    """
    checked = set()  # a GRPO batch repeats each gold answer group-size times
    for index, gold in enumerate(golds):
        if gold in checked:
            continue
        checked.add(gold)
        if gold is None or _BLANK_GOLD.fullmatch(str(gold)):
            raise ValueError(
                f"gold answer {index} is blank ({gold!r}): a data error (an empty or damaged answer in the data"
                " file), not a wrong response"
            )


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


class Reading(NamedTuple):
    """What is graded of one response, and whether a fallback was denied it (a truncated response)."""

    task: Task
    fallback_denied: bool = False


def read_response(
    response: str, gold: str, answer_format: str = "boxed", *, evaluation: bool = False, truncated: bool = False,
    options: Mapping[str, str] | None = None,
) -> Reading:
    r"""What to grade for one response (see the module docstring for the rule).

    ``evaluation=True``: as the paper's evaluation grades a response in ``answer_format``
    (``rlvr.rewards.extract.evaluation_format``), e.g. an ``answer_tag`` one by the rules on the whole
    response, not on the text after its last ``<answer>``. ``truncated``: the response was cut at the
    length limit, so it gets no answer from a fallback. ``options``: the problem's multiple-choice options
    (letter -> content), where known: a marked answer that states no letter is then graded against the
    content of the gold letter's option (``rlvr.rewards.equivalence.option_gold``).

    >>> read_response("so x = 4. But wait, this is not the", "4")
    Reading(task=Task(pred='so x = 4. But wait, this is not the', gold='4', fallback=True), fallback_denied=False)
    >>> read_response("so x = 4. But wait, this is not the", "4", truncated=True)
    Reading(task=Task(pred=None, gold='4', fallback=False), fallback_denied=True)
    >>> read_response(r"so \boxed{4}. But wait, this is not the", "4", truncated=True).task.pred
    '4'
    """
    if evaluation:
        answer_format = evaluation_format(answer_format)
    gold = str(gold)
    if truncated and answers_by_fallback(response, answer_format):
        return Reading(Task(None, gold), fallback_denied=True)
    task = _task(response, gold, answer_format)
    if options and task.pred is not None and not task.fallback:  # a box's content may be an option's
        task = Task(task.pred, option_gold(task.pred, gold, options))
    return Reading(task)


def _task(response: str, gold: str, answer_format: str) -> Task:
    if answer_format != "boxed":
        return Task(extract_answer(response, answer_format), gold)
    boxed = last_boxed(response)
    if boxed is not None:
        return Task(_with_named_option(boxed, response, gold), gold)
    if has_boxed(response) or not response.strip():
        return Task(None, gold)
    return Task(response, gold, fallback=True)


def _with_named_option(boxed: str, response: str, gold: str) -> str:
    r"""The box's content, led by the option letter the response names next to the box where the gold
    answer is a letter and the box holds an option's content ("\boxed{\text{Plane}}, which is option (C)")."""
    if gold_choice(gold) is None or stated_choice(boxed) is not None:
        return boxed
    letter = option_named_at_box(response)
    return boxed if letter is None else f"({letter}) {boxed}"


def response_task(response: str, gold: str, answer_format: str = "boxed", *, evaluation: bool = False) -> Task:
    r"""What to grade for one response that was not truncated (``read_response``).

    >>> response_task("<think>half of 25.6</think> <answer>12.8</answer>", "12.8", "answer_tag")
    Task(pred='12.8', gold='12.8', fallback=False)
    >>> response_task("so it is 12.8", "12.8", "answer_tag_strict")
    Task(pred=None, gold='12.8', fallback=False)
    >>> response = r"<think>\boxed{12.5}? No.</think> <answer>12.8</answer>"
    >>> response_task(response, "12.8", "answer_tag").pred
    '12.8'
    >>> response_task(response, "12.8", "answer_tag", evaluation=True).pred
    '12.5'
    """
    return read_response(response, gold, answer_format, evaluation=evaluation).task


def grade_responses(
    responses: Sequence[str],
    answers: Sequence[str],
    pool: GraderPool | None = None,
    answer_format: str = "boxed",
    *,
    truncated: Sequence[bool] | None = None,
    options: Sequence[Mapping[str, str] | None] | None = None,
) -> GradeResult:
    """Extract each response's answer in ``answer_format`` and grade it against its gold answer on
    ``pool`` (default: shared). ``truncated``: per response, whether it was cut at the length limit
    (None: none was); such a response gets no credit from a fallback (``read_response``), counted in
    ``fallback_denied``. ``options``: per response, its problem's multiple-choice options where known
    (``read_response``). An unknown format or a blank gold answer fails before anything is graded."""
    if len(responses) != len(answers):
        raise ValueError(f"{len(responses)} responses but {len(answers)} answers")
    if truncated is not None and len(truncated) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(truncated)} truncated flags")
    if options is not None and len(options) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(options)} option sets")
    ANSWER_FORMATS.entry(answer_format)  # did-you-mean error, even for an empty batch
    check_golds(answers)  # before reading: a None would be read as the text "None"
    pool = get_grader() if pool is None else pool
    cut = [False] * len(responses) if truncated is None else [bool(t) for t in truncated]
    choices = [None] * len(responses) if options is None else options
    readings = [read_response(r, a, answer_format, truncated=t, options=o)
                for r, a, t, o in zip(responses, answers, cut, choices)]  # fmt: skip
    graded = pool.grade([reading.task for reading in readings])
    return replace(graded, fallback_denied=[reading.fallback_denied for reading in readings])


def grade_answers(preds: Sequence[str | None], golds: Sequence[str], pool: GraderPool | None = None) -> GradeResult:
    r"""Grade already-extracted answers (not whole responses) against gold answers on ``pool``.

    For comparing two answers, e.g. a majority-vote label with the true answer; a ``None`` or blank
    prediction is incorrect.
    """
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions but {len(golds)} gold answers")
    check_golds(golds)  # before `str`: a None would be the text "None"
    pool = get_grader() if pool is None else pool
    return pool.grade([Task(None if p is None else str(p), str(g)) for p, g in zip(preds, golds)])


# --------------------------------------------------------------------------------------------------
# The grader version.

# Packages that decide verdicts: math-verify, and the LaTeX parser and computer algebra under it.
VERDICT_PACKAGES = ("math-verify", "sympy", "latex2sympy2_extended")


def rules_fingerprint(sources: Mapping[str, str], packages: Mapping[str, str | None]) -> str:
    r"""A short hash of rule code (``{name: Python source}``) and package versions (None: not installed).

    Only code counts: comments, docstrings and formatting do not change it.

    >>> old = rules_fingerprint({"rules": "def f(x):\n    return x + 1"}, {"sympy": "1.14.0"})
    >>> old == rules_fingerprint({"rules": "def f(x):  # why\n    'Doc.'\n    return x+1"}, {"sympy": "1.14.0"})
    True
    >>> old == rules_fingerprint({"rules": "def f(x):\n    return x + 2"}, {"sympy": "1.14.0"})
    False
    >>> len(old)
    12
    """
    fingerprinted = {
        "code": {name: _code_structure(source) for name, source in sources.items()},
        "packages": dict(packages),
    }
    return hashlib.sha256(json.dumps(fingerprinted, sort_keys=True).encode()).hexdigest()[:12]


def _code_structure(source: str) -> str:
    """The syntax tree of ``source`` without its docstrings (any bare string statement), as text."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [statement for statement in body if not _is_bare_string(statement)]
    return repr(_without_empty_fields(tree))


def _is_bare_string(statement: ast.AST) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _without_empty_fields(node: Any) -> Any:
    """A syntax tree as nested lists, leaving out empty and None fields.

    Not ``ast.dump``: its text differs between Python versions (3.13 stopped printing empty fields,
    and new versions add fields) where the code does not.
    """
    if isinstance(node, ast.AST):
        fields = {name: value for name, value in ast.iter_fields(node) if value not in (None, [])}
        return [type(node).__name__, {name: _without_empty_fields(value) for name, value in fields.items()}]
    if isinstance(node, list):
        return [_without_empty_fields(item) for item in node]
    return node


def _installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _rule_sources() -> dict[str, str]:
    """The code that decides verdicts: how answers are compared, how they are read from responses,
    and the functions here that decide what is graded at all (and which gold answers are refused)."""
    modules = {module.__name__: inspect.getsource(module) for module in (equivalence, extract, units, verify)}
    deciding = (read_response, _task, _with_named_option, check_golds, _fast_verdict)
    functions = {f"{__name__}.{fn.__name__}": inspect.getsource(fn) for fn in deciding}
    return modules | functions


GRADER_VERSION: str = rules_fingerprint(_rule_sources(), {p: _installed_version(p) for p in VERDICT_PACKAGES})
