r"""Reading problem sets from local files and hub datasets: the Python side of the `data` configs.

A *source* is a local file (``.json``: a list of row objects; ``.jsonl``: one object per line;
``.parquet``) or a hub dataset name (also a local dataset folder), read with ``datasets.load_dataset``.
Every source becomes a list of ``Problem(id, problem, answer)`` by one rule, so that the paper's
DeepScaleR files, MATH-500 from the hub and a majority-vote label file all load the same way:

- columns: problem = first of ``problem``, ``prompt``, ``question``; answer = ``answer``, or else the
  last ``\boxed{}`` of ``solution``; id = first of ``id``, ``unique_id``, or else the row index.
  ``fields`` names other columns.
- answers and ids are text: ``7`` becomes ``"7"``, an integral float ``142.0`` becomes ``"142"``;
  text is kept as written (AMC's ``"142.0"`` stays, the grader reads it as 142).
- a row without a problem or an answer is never turned into a ``Problem``: it is an error that
  names the file, the row and its id, or with ``on_bad_row="skip"`` it is dropped, counted and
  logged (majority-vote files have empty labels where no sample boxed an answer).
- ids are unique within what one call loads. When several sources load together each id gets its
  source's name in front (``deepscaler_level4/7395``), because the level files all count from 0.

A config node names sources with a *source spec*: ``{source, split?, format?, fields?}``, where
``source`` is one path or name or a list of them; ``train`` and ``heldout`` take a spec or a list
of specs (see ``load_problem_set``).
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import numbers
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence, Union

from omegaconf import DictConfig, ListConfig, OmegaConf

from rlvr.data.problems import Problem, ProblemSet
from rlvr.rewards.extract import last_boxed

log = logging.getLogger(__name__)

FORMATS = ("auto", "json", "jsonl", "parquet", "hub")
BAD_ROW_POLICIES = ("error", "skip")
FIELDS = ("problem", "answer", "id", "solution")
SPEC_KEYS = ("source", "split", "format", "fields")

_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".parquet": "parquet"}
_DEFAULT_COLUMNS = {"problem": ("problem", "prompt", "question"), "id": ("id", "unique_id")}
_DATA_FOLDERS = ("train", "eval", "mv_labels")  # the layout of $RLVR_DATA (paths.data_root)
_HUB_SPLIT = "train"
_BAD_ROWS_SHOWN = 5

PathLike = Union[str, os.PathLike]
SourceLike = Union[PathLike, Sequence[PathLike]]


class DataError(ValueError):
    """A data source that cannot become problems as asked; the message says which file and row."""


class MissingColumnError(DataError):
    """A column named in ``fields`` (or a required default) is not in the source."""


class Loaded(NamedTuple):
    """What a load returns: the usable problems, and how many rows were dropped as unusable."""

    problems: list[Problem]
    skipped: int


@dataclass(frozen=True)
class Table:
    """One source's rows as plain dicts. ``where`` names it in messages (a path, or a hub name and split)."""

    where: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Columns:
    """Which column holds what in one source. Exactly one of ``answer`` / ``solution`` is set;
    ``id`` None means the row index is the id."""

    problem: str
    answer: str | None
    solution: str | None
    id: str | None


@dataclass(frozen=True)
class _Entry:
    """One source to read, with the options of the spec it came from."""

    source: str
    split: str | None
    format: str
    fields: Mapping[str, str] | None


# --------------------------------------------------------------------------------------------------
# Reading a source into a Table.


def resolve_format(source: PathLike, format: str = "auto") -> str:
    """The reader for ``source``: ``format`` itself unless it is ``auto``; then the file extension, and
    ``hub`` for anything that is not a file and has no known extension (a hub name or a dataset folder)."""
    if format not in FORMATS:
        raise ValueError(f"unknown data format {format!r}; available: {', '.join(FORMATS)}")
    if format != "auto":
        return format
    path = Path(source)
    if path.suffix.lower() in _EXTENSIONS:
        return _EXTENSIONS[path.suffix.lower()]
    if path.is_file():
        raise DataError(f"cannot tell the format of {path} from its extension; "
                        "set format to one of json, jsonl, parquet")
    return "hub"


def read_table(source: PathLike, *, split: str | None = None, format: str = "auto") -> Table:
    """Read one source's rows. ``split`` is for hub datasets only (default ``train``)."""
    kind = resolve_format(source, format)
    if kind == "hub":
        return _read_hub(str(source), split or _HUB_SPLIT)
    if split is not None:
        raise ValueError(f"split={split!r} was given for the {kind} file {source}; split is for hub datasets only")
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(_missing_file_message(path))
    if kind == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return Table(str(path), tuple(table.column_names), table.to_pylist())
    rows = _read_json(path) if kind == "json" else _read_jsonl(path)
    return Table(str(path), _columns_of(rows), rows)


def _read_json(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        try:
            rows = json.load(f)
        except json.JSONDecodeError as e:
            raise DataError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise DataError(f"{path}: expected a JSON list of row objects, got {type(rows).__name__}"
                        f"{'' if not isinstance(rows, list) else ' with non-object items'}")
    return rows


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path} line {line_no} is not valid JSON: {e}") from None
            if not isinstance(row, dict):
                raise DataError(f"{path} line {line_no}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def _read_hub(name: str, split: str) -> Table:
    import datasets  # heavy, and only hub sources need it

    try:
        dataset = datasets.load_dataset(name, split=split)
    except Exception as e:  # its errors do not say that the name was read as a hub dataset, or why
        raise DataError(
            f"could not load {name!r} (split {split!r}) as a hub dataset: {type(e).__name__}: {e}. "
            f"It was read as one because it is not a file and does not end in {', '.join(_EXTENSIONS)}"
        ) from e
    return Table(f"{name} (split {split})", tuple(dataset.column_names), dataset.to_list())


def _columns_of(rows: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Every key of any row, in order of first appearance (JSON rows need not share their keys)."""
    return tuple(dict.fromkeys(key for row in rows for key in row))


def _missing_file_message(path: Path) -> str:
    """Say where the file was looked for and, for a path in the data layout, what $RLVR_DATA has to do with it."""
    message = f"data file not found: {path}"
    parts = path.parts
    if not any(folder in parts for folder in _DATA_FOLDERS):
        return message
    env = os.environ.get("RLVR_DATA")
    if not env:
        return (f"{message}. RLVR_DATA is not set, so paths.data_root is 'data' relative to the working directory "
                f"({Path.cwd()}); set RLVR_DATA to the folder that holds {', '.join(_DATA_FOLDERS)}")
    root = Path(env)
    if path.is_relative_to(root):
        return (f"{message}. RLVR_DATA={env} has no {path.relative_to(root)}; "
                f"is it the folder that holds {', '.join(_DATA_FOLDERS)}?")
    start = min(parts.index(folder) for folder in _DATA_FOLDERS if folder in parts)
    candidate = root.joinpath(*parts[start:])
    hint = f"; did you mean {candidate}?" if candidate.is_file() else ""
    return f"{message}. It is not under RLVR_DATA={env}{hint}"


# --------------------------------------------------------------------------------------------------
# Rows into problems.


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
    return Columns(problem=problem, answer=answer, solution=solution, id=ident)


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


@dataclass(frozen=True)
class _BadRow:
    index: int
    id: str | None
    fault: str

    def __str__(self) -> str:
        ident = "" if self.id is None else f" (id {self.id!r})"
        return f"row {self.index}{ident}: {self.fault}"


def _row_problem(row: Mapping[str, Any], index: int, columns: Columns) -> Problem | _BadRow:
    """One row as a ``Problem``, or what makes it unusable."""
    ident = str(index) if columns.id is None else as_text(row.get(columns.id))
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
            return _BadRow(index, ident, f"missing {name}")
        if not value.strip():
            return _BadRow(index, ident, f"empty {name}")
    return Problem(id=ident, problem=problem, answer=answer)


def _table_problems(
    table: Table, columns: Columns, *, on_bad_row: str, limit: int | None
) -> tuple[list[tuple[int, Problem]], list[_BadRow]]:
    """The usable rows of ``table`` (with their row index) up to ``limit``, and the bad rows met on the way."""
    good: list[tuple[int, Problem]] = []
    bad: list[_BadRow] = []
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


# --------------------------------------------------------------------------------------------------
# Loading one or more sources.


def _check_policy(on_bad_row: str) -> None:
    if on_bad_row not in BAD_ROW_POLICIES:
        raise ValueError(f"unknown on_bad_row {on_bad_row!r}; available: {', '.join(BAD_ROW_POLICIES)}")


def _plain(value: Any) -> Any:
    """OmegaConf containers (what Hydra passes to a ``_target_``) as plain dicts and lists."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _as_sources(source: Any) -> list[str]:
    source = _plain(source)
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise ValueError("no data source given")
    for item in sources:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"a data source is a path or a hub dataset name, got {type(item).__name__}: {item!r}")
    return [os.fspath(item) for item in sources]


def source_names(sources: Sequence[str]) -> list[str]:
    """Each source's shortest trailing path part (extension dropped) that no other source ends in:
    the file stem, unless two files share it (``Level_1/train``, ``Level_2/train``).

    >>> source_names(["d/deepscaler_level1.json", "d/deepscaler_level2.json"])
    ['deepscaler_level1', 'deepscaler_level2']
    >>> source_names(["a/Level_1/train.json", "a/Level_2/train.json", "HuggingFaceH4/MATH-500"])
    ['Level_1/train', 'Level_2/train', 'MATH-500']
    """
    parts = []
    for source in sources:
        path = Path(source)
        if path.suffix.lower() in _EXTENSIONS:
            path = path.with_suffix("")
        parts.append(path.parts[1:] if path.anchor else path.parts)
    tails = [_distinct_tail(own, [p for j, p in enumerate(parts) if j != i]) for i, own in enumerate(parts)]
    return ["/".join(own[-k:]) for own, k in zip(parts, tails)]


def _distinct_tail(own: tuple[str, ...], others: Sequence[tuple[str, ...]]) -> int:
    """How many trailing parts of ``own`` no other path ends in; all of them for a source given twice
    (whose ids then clash, and that error names both rows)."""
    for k in range(1, len(own) + 1):
        if all(other[-k:] != own[-k:] for other in others):
            return k
    return len(own)


def id_matches(full_id: str, wanted: str) -> bool:
    """Whether ``wanted`` names ``full_id``: the same id, or the id without its source's prefix.

    >>> id_matches("deepscaler_level4/7395", "7395"), id_matches("7395", "7395"), id_matches("17395", "7395")
    (True, True, False)
    """
    return full_id == wanted or full_id.endswith("/" + wanted)


def _load(entries: Sequence[_Entry], *, on_bad_row: str, limit: int | None, prefix: bool) -> Loaded:
    _check_policy(on_bad_row)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 (or None for all rows), got {limit}")
    names: list[str | None] = source_names([e.source for e in entries]) if prefix else [None] * len(entries)
    problems: list[Problem] = []
    origins: list[str] = []  # "where row i", for the duplicate-id error
    skipped = 0
    for entry, name in zip(entries, names):
        room = None if limit is None else limit - len(problems)
        if room == 0:
            break
        table = read_table(entry.source, split=entry.split, format=entry.format)
        good, bad = _table_problems(table, resolve_columns(table, entry.fields), on_bad_row=on_bad_row, limit=room)
        skipped += len(bad)
        for index, problem in good:
            problems.append(problem if name is None else replace(problem, id=f"{name}/{problem.id}"))
            origins.append(f"{table.where} row {index}")
    _check_unique_ids(problems, origins)
    return Loaded(problems, skipped)


def _check_unique_ids(problems: Sequence[Problem], origins: Sequence[str]) -> None:
    """Rewards and rollout logs are keyed by id, so two problems with one id would be mixed up."""
    seen: dict[str, int] = {}
    for i, problem in enumerate(problems):
        if problem.id in seen:
            raise DataError(f"duplicate id {problem.id!r}: {origins[seen[problem.id]]} and {origins[i]}")
        seen[problem.id] = i


def load_problems(
    source: SourceLike,
    *,
    split: str | None = None,
    format: str = "auto",
    fields: Mapping[str, str] | None = None,
    on_bad_row: str = "error",
    limit: int | None = None,
) -> Loaded:
    """Problems from one source or a list of sources (concatenated in order; ids prefixed by source
    name when there are several).

    Args:
        source: a path, a hub dataset name (or local dataset folder), or a list of them.
        split: the split of a hub dataset (default ``train``); an error for files.
        format: ``auto`` (by extension; hub otherwise), ``json``, ``jsonl``, ``parquet`` or ``hub``.
        fields: our name -> column name, for ``problem``, ``answer``, ``id``, ``solution``.
        on_bad_row: ``error`` (default) or ``skip`` rows without a problem or an answer.
        limit: keep the first ``limit`` usable rows.
    """
    entries = [_Entry(s, split, format, _plain(fields)) for s in _as_sources(source)]
    return _load(entries, on_bad_row=on_bad_row, limit=limit, prefix=len(entries) > 1)


def source_specs(spec: Any) -> list[dict[str, Any]]:
    """A spec (``{source, split?, format?, fields?}``, or a bare path / name), or a list of specs, as a
    list of checked plain dicts."""
    spec = _plain(spec)
    specs = [spec] if isinstance(spec, (Mapping, str, os.PathLike)) else list(spec)
    if not specs:
        raise ValueError("an empty list of data source specs")
    checked = []
    for item in specs:
        if isinstance(item, (str, os.PathLike)):
            item = {"source": os.fspath(item)}
        if not isinstance(item, Mapping):
            raise TypeError(f"a data source spec is a mapping {{{', '.join(SPEC_KEYS)}}}, "
                            f"got {type(item).__name__}: {item!r}")
        unknown = sorted(set(item) - set(SPEC_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} in data source spec {item}; "
                             f"available: {', '.join(SPEC_KEYS)}")
        if item.get("source") is None:
            raise ValueError(f"data source spec {item} has no source")
        checked.append(dict(item))
    return checked


def load_specs(spec: Any, *, on_bad_row: str = "error", limit: int | None = None) -> Loaded:
    """Problems from a spec or a list of specs, concatenated; ids get their source's name in front
    when more than one source is read in all."""
    entries = [
        _Entry(source, item.get("split"), item.get("format") or "auto", item.get("fields"))
        for item in source_specs(spec)
        for source in _as_sources(item["source"])
    ]
    return _load(entries, on_bad_row=on_bad_row, limit=limit, prefix=len(entries) > 1)


def load_problem_set(
    *,
    name: str,
    train: Any,
    heldout: Any = None,
    on_bad_row: str = "error",
    max_train: int | None = None,
    max_heldout: int | None = None,
) -> ProblemSet:
    """The ``_target_`` of the file- and hub-backed data configs::

        _target_: rlvr.data.load_problem_set
        name: deepscaler
        train: {source: [${paths.data_root}/train/deepscaler_level1.json, ...]}
        heldout: {source: HuggingFaceH4/MATH-500, split: test}

    ``train`` and ``heldout`` are each a spec or a list of specs; ``heldout: null`` watches nothing.
    ``max_train`` / ``max_heldout`` keep the first N usable rows (for smoke runs).
    """
    loaded_train = load_specs(train, on_bad_row=on_bad_row, limit=max_train)
    loaded_heldout = Loaded([], 0) if heldout is None else load_specs(heldout, on_bad_row=on_bad_row, limit=max_heldout)
    skipped = loaded_train.skipped + loaded_heldout.skipped
    log.info("data %s: %d training and %d held-out problems; %d unusable rows skipped",
             name, len(loaded_train.problems), len(loaded_heldout.problems), skipped)
    return ProblemSet(
        name=name, train=tuple(loaded_train.problems), heldout=tuple(loaded_heldout.problems), skipped=skipped
    )


# --------------------------------------------------------------------------------------------------
# One-shot RL and writing files.


def find_problem(problems: Sequence[Problem], row_id: str) -> Problem:
    """The problem whose id is ``row_id``, or ends in ``/<row_id>`` when no id is exactly ``row_id``."""
    exact = [p for p in problems if p.id == row_id]
    if exact:
        return exact[0]
    matches = [p for p in problems if id_matches(p.id, row_id)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(p.id for p in matches)
        raise DataError(f"row id {row_id!r} is ambiguous: it matches {listed}; give the full id")
    raise DataError(f"no problem has id {row_id!r}{_close_ids_hint(row_id, [p.id for p in problems])}")


def _close_ids_hint(wanted: str, ids: Sequence[str]) -> str:
    by_key: dict[str, str] = {}
    for ident in ids:
        by_key.setdefault(ident, ident)
        by_key.setdefault(ident.rsplit("/", 1)[-1], ident)
    close = difflib.get_close_matches(wanted, by_key, n=5)
    return f"; close ids: {', '.join(dict.fromkeys(by_key[k] for k in close))}" if close else ""


def one_shot(base: ProblemSet, *, row_id: str | int, copies: int) -> ProblemSet:
    """One-shot RL (Wang et al. 2025, "pi_1"): train on a single problem of ``base``, repeated ``copies``
    times so that a rollout batch can be filled with it. Copies are ``<id>#0``, ``<id>#1``, ... so that
    ids stay unique; the held-out problems are ``base``'s.

    ``row_id`` is the full id or the id without its source prefix (``7395`` for ``deepscaler_level4/7395``);
    a YAML ``row_id: 7395`` arrives as an int, hence ``str | int``.
    """
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    problem = find_problem(base.train, str(row_id))
    train = tuple(replace(problem, id=f"{problem.id}#{i}") for i in range(copies))
    name = f"{base.name}/one_shot:{problem.id}"
    return ProblemSet(name=name, train=train, heldout=base.heldout, skipped=base.skipped)


def write_problems_json(path: PathLike, rows: Iterable[Problem | Mapping[str, Any]]) -> Path:
    """Write rows as a JSON list in the data files' layout (a ``Problem`` becomes ``{id, prompt, answer}``;
    mappings are written as they are), through a temporary file so a reader never sees half a file."""
    path = Path(path)
    records = [
        {"id": row.id, "prompt": row.problem, "answer": row.answer} if isinstance(row, Problem) else dict(row)
        for row in rows
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
    return path
