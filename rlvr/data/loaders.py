"""Problems from source specs: the Python side of the ``data`` configs.

A config node names sources with a *source spec*: ``{source, split?, format?, fields?}``, where
``source`` is one path or hub dataset name or a list of them (a bare path or name is a spec too);
``train`` and ``heldout`` take a spec or a list of specs (see ``load_problem_set``). Each source is
read into a table (``rlvr.data.sources``: formats, hub datasets, missing files) and its rows become
``Problem``s by one rule (``rlvr.data.rows``: columns, text, bad rows and ``on_bad_row``).

Ids are unique within what one call loads. When several sources load together each id gets its
source's name in front (``deepscaler_level4/7395``), because the level files all count from 0;
``find_problem`` also accepts the id without that prefix when it names one problem.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from rlvr.data.problems import DataError, Problem, ProblemSet
from rlvr.data.rows import check_on_bad_row, resolve_columns, table_problems
from rlvr.data.sources import EXTENSIONS, PathLike, read_table

log = logging.getLogger(__name__)

SPEC_KEYS = ("source", "split", "format", "fields")


class Loaded(NamedTuple):
    """What a load returns: the usable problems, and how many rows were dropped as unusable."""

    problems: list[Problem]
    skipped: int


@dataclass(frozen=True)
class _Entry:
    """One source to read, with the options of the spec it came from."""

    source: str
    split: str | None
    format: str
    fields: Mapping[str, str] | None


# --------------------------------------------------------------------------------------------------
# Source specs.


def _as_sources(source: Any) -> list[str]:
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise ValueError("no data source given")
    for item in sources:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"a data source is a path or a hub dataset name, got {type(item).__name__}: {item!r}")
    return [os.fspath(item) for item in sources]


def source_specs(spec: Any) -> list[dict[str, Any]]:
    """A spec (``{source, split?, format?, fields?}``, or a bare path / name), or a list of specs, as a
    list of checked plain dicts."""
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


# --------------------------------------------------------------------------------------------------
# Loading, with ids prefixed by source name.


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
        if path.suffix.lower() in EXTENSIONS:
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
    check_on_bad_row(on_bad_row)
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
        good, bad = table_problems(table, resolve_columns(table, entry.fields), on_bad_row=on_bad_row, limit=room)
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
# Finding one problem (one-shot RL) and writing problems.


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


def _record(problem: Problem) -> dict[str, Any]:
    record: dict[str, Any] = {"id": problem.id, "prompt": problem.problem, "answer": problem.answer}
    if problem.options:
        record["options"] = problem.option_map
    return record


def write_problems_json(path: PathLike, rows: Iterable[Problem | Mapping[str, Any]]) -> Path:
    """Write rows as a JSON list in the data files' layout (a ``Problem`` becomes ``{id, prompt, answer}``, and
    its ``options`` where it has them; mappings are written as they are), through a temporary file so a reader
    never sees half a file."""
    path = Path(path)
    records = [_record(row) if isinstance(row, Problem) else dict(row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
    return path
