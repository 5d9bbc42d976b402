"""Reading one data source into a table of rows.

A *source* is a local file (``.json``: a list of row objects; ``.jsonl``: one object per line;
``.parquet``) or a hub dataset name (also a local dataset folder), read with ``datasets.load_dataset``.
The format comes from the file extension unless a spec sets ``format``; anything that is not a file
and has no known extension is read as a hub dataset. A missing file is reported with where it was
looked for and, for a path in the data layout, what ``$RLVR_DATA`` has to do with it.

Turning the rows into problems is ``rlvr.data.rows``; specs, several sources and ids are ``rlvr.data.loaders``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

from rlvr.data.problems import DataError

FORMATS = ("auto", "json", "jsonl", "parquet", "hub")
EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".parquet": "parquet"}

_DATA_FOLDERS = ("train", "eval", "mv_labels")  # the layout of $RLVR_DATA (paths.data_root)
_HUB_SPLIT = "train"

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class Table:
    """One source's rows as plain dicts. ``where`` names it in messages (a path, or a hub name and split)."""

    where: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


def resolve_format(source: PathLike, format: str = "auto") -> str:
    """The reader for ``source``: ``format`` itself unless it is ``auto``; then the file extension, and
    ``hub`` for anything that is not a file and has no known extension (a hub name or a dataset folder).

    >>> resolve_format("train/deepscaler_level1.json"), resolve_format("HuggingFaceH4/MATH-500")
    ('json', 'hub')
    """
    if format not in FORMATS:
        raise ValueError(f"unknown data format {format!r}; available: {', '.join(FORMATS)}")
    if format != "auto":
        return format
    path = Path(source)
    if path.suffix.lower() in EXTENSIONS:
        return EXTENSIONS[path.suffix.lower()]
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
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as e:  # truncated, or not parquet at all
            raise DataError(f"{path} is not a readable parquet file: {e}") from None
        return Table(str(path), tuple(table.column_names), table.to_pylist())
    rows = _read_json(path) if kind == "json" else _read_jsonl(path)
    return Table(str(path), _columns_of(rows), rows)


def _read_text(path: Path) -> str:
    """The file as text; bytes that are not UTF-8 are an error naming the line, column and byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        text = data.decode("utf-8", "surrogateescape")  # the same characters up to the bad byte
        row = _row_at(text, len(data[: e.start].decode("utf-8", "surrogateescape")))
        where = "" if row is None else f" (in row {row})"
        raise DataError(
            f"{path} is not UTF-8 text: byte 0x{data[e.start]:02x} at line {line} column {column}{where}; "
            "re-encode the file as UTF-8"
        ) from None


def _read_json(path: Path) -> list[dict[str, Any]]:
    text = _read_text(path)
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as e:
        row = _row_at(text, e.pos)
        where = "" if row is None else f" in row {row}"
        raise DataError(f"{path} is not valid JSON{where}: {e} (a truncated or hand-edited file?)") from None
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of row objects, got {type(rows).__name__}")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"{path} row {index}: expected a JSON object, got {type(row).__name__}: {str(row)[:80]}")
    return rows


def _row_at(text: str, pos: int) -> int | None:
    """Which item of a JSON list ``text`` position ``pos`` falls in (0-based), counting the items that parse
    before it; None when the text is not a list.

    >>> _row_at('[{"a": 1}, {"a": 2}, {"a": ', 25), _row_at('{"a": 1}', 3)
    (2, None)
    """
    decoder, i = json.JSONDecoder(), _skip_space(text, 0)
    if not text.startswith("[", i):
        return None
    row, i = 0, i + 1
    while True:
        try:
            _, end = decoder.raw_decode(text, _skip_space(text, i))
        except json.JSONDecodeError:
            return row
        i = _skip_space(text, end)
        if end > pos or not text.startswith(",", i):
            return row
        row, i = row + 1, i + 1


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line_no, line in enumerate(_read_text(path).split("\n"), start=1):  # not splitlines: U+2028 is text
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path} line {line_no} is not valid JSON: {e} (a truncated or hand-edited file?)") from None
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
            f"It was read as one because it is not a file and does not end in {', '.join(EXTENSIONS)}"
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
