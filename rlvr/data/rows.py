r"""A source's rows into ``Problem(id, problem, answer)``, by one rule for every source.

The paper's DeepScaleR files, MATH-500 from the hub and a majority-vote label file all load the same way:

- columns: problem = first of ``problem``, ``prompt``, ``question``; answer = ``answer``, or else the
  last ``\boxed{}`` of ``solution``; id = first of ``id``, ``unique_id``, or else the row index.
  ``fields`` names other columns.
- answers and ids are text: ``7`` becomes ``"7"``, an integral float ``142.0`` becomes ``"142"``;
  text is kept as written (AMC's ``"142.0"`` stays, the grader reads it as 142).
- multiple-choice options, where a source has them: column ``options`` or ``choices`` (or ``fields.options``),
  a mapping of letter to content (``{"A": "3", "B": "5"}``) or a list whose items are options A, B, ...
  A gold letter that names no option is a bad row.
- a row without a problem or an answer, or with a cell that is not text or a number (a list, an object,
  bytes) or not valid Unicode (a lone surrogate from a JSON escape), is never turned into a ``Problem``:
  it is an error that names the file, the row and its id, or with ``on_bad_row="skip"`` it is dropped,
  counted and logged (majority-vote files have empty labels where no sample boxed an answer).
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from rlvr.data.problems import DataError, Problem
from rlvr.data.sources import Table
from rlvr.rewards.equivalence import gold_choice
from rlvr.rewards.extract import last_boxed

log = logging.getLogger(__name__)

BAD_ROW_POLICIES = ("error", "skip")
FIELDS = ("problem", "answer", "id", "solution", "options")

_DEFAULT_COLUMNS = {"problem": ("problem", "prompt", "question"), "id": ("id", "unique_id"),
                    "options": ("options", "choices")}  # fmt: skip
_BAD_ROWS_SHOWN = 5


class MissingColumnError(DataError):
    """A column named in ``fields`` (or a required default) is not in the source."""


@dataclass(frozen=True)
class Columns:
    """Which column holds what in one source. Exactly one of ``answer`` / ``solution`` is set;
    ``id`` None means the row index is the id."""

    problem: str
    answer: str | None
    solution: str | None
    id: str | None
    options: str | None = None


def resolve_columns(table: Table, fields: Mapping[str, str] | None = None) -> Columns:
    """Which column holds the problem, answer (or solution) and id in ``table`` (see the module docstring)."""
    fields = dict(fields or {})
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))} in fields; available: {', '.join(FIELDS)}")
    if "answer" in fields and "solution" in fields:
        raise ValueError("fields names both an answer and a solution column; name one "
                         "(the answer is read from one place)")
    for key, column in fields.items():
        if column not in table.columns:
            raise MissingColumnError(
                f"column {column!r} (fields.{key}) is not in {table.where}; its columns are: {', '.join(table.columns)}"
            )
    problem = fields.get("problem") or _first_present(_DEFAULT_COLUMNS["problem"], table.columns)
    if problem is None:
        raise MissingColumnError(
            f"{table.where} has no problem column (looked for {', '.join(_DEFAULT_COLUMNS['problem'])}); "
            f"its columns are: {', '.join(table.columns)}; name one with fields.problem"
        )
    answer, solution = fields.get("answer"), fields.get("solution")
    if answer is None and solution is None:
        if "answer" in table.columns:
            answer = "answer"
        elif "solution" in table.columns:
            solution = "solution"
        else:
            raise MissingColumnError(
                f"{table.where} has neither an answer nor a solution column; its columns are: "
                f"{', '.join(table.columns)}; name one with fields.answer or fields.solution"
            )
    ident = fields.get("id") or _first_present(_DEFAULT_COLUMNS["id"], table.columns)
    options = fields.get("options") or _first_present(_DEFAULT_COLUMNS["options"], table.columns)
    return Columns(problem=problem, answer=answer, solution=solution, id=ident, options=options)


def _first_present(names: Sequence[str], columns: Sequence[str]) -> str | None:
    return next((name for name in names if name in columns), None)


def as_text(value: Any) -> str | None:
    """A cell as text, or None when missing. Integers (and integral floats, which is what a column of
    integers with a gap becomes in pandas) lose any ``.0``; strings are kept exactly as written.

    >>> as_text(7), as_text(142.0), as_text(12.8), as_text("142.0"), as_text(float("nan"))
    ('7', '142', '12.8', '142.0', None)
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def check_on_bad_row(on_bad_row: str) -> None:
    """Refuse an unknown bad-row policy before any source is read."""
    if on_bad_row not in BAD_ROW_POLICIES:
        raise ValueError(f"unknown on_bad_row {on_bad_row!r}; available: {', '.join(BAD_ROW_POLICIES)}")


@dataclass(frozen=True)
class BadRow:
    """A row that cannot become a ``Problem``, and why."""

    index: int
    id: str | None
    fault: str

    def __str__(self) -> str:
        ident = "" if self.id is None else f" (id {self.id!r})"
        return f"row {self.index}{ident}: {self.fault}"


def _cell_fault(name: str, value: Any) -> str | None:
    """What makes a cell unusable as text: a type that is neither text nor a number (a list, an object, bytes),
    or a lone surrogate (a JSON escape such as ``\\ud800``: no tokenizer can encode it); None if it is fine.

    >>> _cell_fault("answer", ["7"]), _cell_fault("problem", "x\\ud800y"), _cell_fault("answer", 7)
    ('answer is a list, not text or a number', 'problem is not valid Unicode: a lone surrogate at character 1', None)
    """
    if value is None or isinstance(value, numbers.Number):
        return None
    if not isinstance(value, str):
        return f"{name} is a {type(value).__name__}, not text or a number"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"{name} is not valid Unicode: a lone surrogate at character {e.start}"
    return None


def parse_options(value: Any) -> tuple[tuple[str, str], ...] | str:
    """A cell of multiple-choice options as (letter, content) pairs (empty: none), or what is wrong with it.

    >>> parse_options({"A": 3, "b": "x+1"}), parse_options(["3", "5"]), parse_options(None)
    ((('A', '3'), ('B', 'x+1')), (('A', '3'), ('B', '5')), ())
    >>> parse_options("A) 3"), parse_options({"AB": "3"}), parse_options(["3", ""])
    ('options is a str, not a mapping of letters to options or a list', "options has a key 'AB' that is not one letter", 'option B is empty')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if hasattr(value, "tolist") and not isinstance(value, Mapping):  # a parquet list column arrives as an array
        value = value.tolist()
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, (list, tuple)):
        pairs = [(chr(ord("A") + i), item) for i, item in enumerate(value)]
    else:
        return f"options is a {type(value).__name__}, not a mapping of letters to options or a list"
    options = []
    for key, content in pairs:
        letter = str(key).strip().strip("()").upper()
        if len(letter) != 1 or not letter.isalpha():
            return f"options has a key {key!r} that is not one letter"
        fault = _cell_fault(f"option {letter}", content)  # the rule for every cell: text or a number
        if fault is not None:
            return fault
        text = as_text(content)
        if text is None or not text.strip():
            return f"option {letter} is empty"
        options.append((letter, text))
    return tuple(options)


def _row_problem(row: Mapping[str, Any], index: int, columns: Columns) -> Problem | BadRow:
    """One row as a ``Problem``, or what makes it unusable."""
    fault = None if columns.id is None else _cell_fault("id", row.get(columns.id))
    if fault is not None:
        return BadRow(index, None, fault)
    ident = str(index) if columns.id is None else as_text(row.get(columns.id))
    for name in ("problem", "answer", "solution"):
        column = getattr(columns, name)
        fault = None if column is None else _cell_fault(name, row.get(column))
        if fault is not None:
            return BadRow(index, ident, fault)
    problem = as_text(row.get(columns.problem))
    if columns.solution is not None:
        solution = as_text(row.get(columns.solution))
        answer = None if solution is None else last_boxed(solution)
        what = "answer (the last \\boxed{} of the solution)"
    else:
        answer = as_text(row.get(columns.answer))
        what = "answer"
    for name, value in (("id", ident), ("problem", problem), (what, answer)):
        if value is None:
            return BadRow(index, ident, f"missing {name}")
        if not value.strip():
            return BadRow(index, ident, f"empty {name}")
    options = () if columns.options is None else parse_options(row.get(columns.options))
    if isinstance(options, str):
        return BadRow(index, ident, options)
    letter = gold_choice(answer)
    if options and letter is not None and letter not in dict(options):
        return BadRow(index, ident, f"answer {answer!r} names no option (options: {', '.join(k for k, _ in options)})")
    return Problem(id=ident, problem=problem, answer=answer, options=options)


def table_problems(
    table: Table, columns: Columns, *, on_bad_row: str, limit: int | None
) -> tuple[list[tuple[int, Problem]], list[BadRow]]:
    """The usable rows of ``table`` (with their row index) up to ``limit``, and the bad rows met on the way.

    A bad row raises ``DataError`` with ``on_bad_row="error"``; with ``"skip"`` the bad rows of the
    table are logged in one warning (the first few by row and id) and returned.
    """
    good: list[tuple[int, Problem]] = []
    bad: list[BadRow] = []
    for index, row in enumerate(table.rows):
        if limit is not None and len(good) >= limit:
            break
        result = _row_problem(row, index, columns)
        if isinstance(result, Problem):
            good.append((index, result))
        elif on_bad_row == "error":
            raise DataError(f"{table.where} {result}; pass on_bad_row='skip' to drop such rows")
        else:
            bad.append(result)
    if bad:
        shown = "; ".join(map(str, bad[:_BAD_ROWS_SHOWN]))
        more = f"; and {len(bad) - _BAD_ROWS_SHOWN} more" if len(bad) > _BAD_ROWS_SHOWN else ""
        log.warning("skipped %d of %d rows of %s without a usable problem or answer: %s%s",
                    len(bad), len(bad) + len(good), table.where, shown, more)
    return good, bad
