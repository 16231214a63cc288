"""Reading and writing tables (CSV or Parquet by extension), atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.errors import InputError

CSV_SUFFIXES = {".csv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
# Text read as missing in CSV files (both readers): pandas' default markers except "NA", which
# is a value in lead data (North America, Namibia); `source.missing_values: [NA]` adds it back.
# Typed columns (numbers, timestamps, labels) read any unparseable text as missing anyway.
NA_VALUES = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]


def utc_moment(value: str, *, what: str) -> pd.Timestamp:
    """A date or ISO 8601 timestamp as a UTC moment (naive means UTC); `what` names it in the
    one-line error."""
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} {value!r} is not a date or ISO 8601 timestamp") from exc
    if pd.isna(moment):
        raise InputError(f"{what} {value!r} is not a date or ISO 8601 timestamp")
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def table_format(path: Path) -> str:
    """'csv' or 'parquet' from the file extension; anything else is an InputError."""
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise InputError(f"{path}: unsupported file type '{suffix}' (use .csv or .parquet)")


def check_file(path: Path) -> None:
    """Structural checks before reading: exists, is a file, not empty, known format."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    table_format(path)


def read_table(
    path: Path,
    *,
    separator: str = ",",
    missing_values: list[str] | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV (all columns as text) or Parquet file; structural faults raise InputError."""
    path = Path(path)
    check_file(path)
    fmt = table_format(path)
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path, columns=columns)
            if missing_values:
                frame = frame.replace(dict.fromkeys(missing_values, pd.NA))
        else:
            # Text first: types are coerced by the raw schemas, so a bad cell quarantines
            # one row instead of failing the whole read.
            frame = pd.read_csv(
                path,
                sep=separator,
                dtype=str,
                keep_default_na=False,
                na_values=[*NA_VALUES, *(missing_values or [])],
                encoding="utf-8",
                usecols=columns,
                skipinitialspace=False,
            )
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: no columns to read (empty file)") from exc
    except pd.errors.ParserError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: not a readable CSV ({first_line})") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable {fmt} file ({exc})") from exc
    except ValueError as exc:
        # usecols naming a column the file lacks
        raise InputError(f"{path}: {exc}") from exc
    if len(frame.columns) == 1 and separator not in {"\t"} and fmt == "csv":
        only = str(frame.columns[0])
        for other in (";", "\t", "|"):
            if other != separator and other in only:
                raise InputError(
                    f"{path}: one column only; the file seems separated by {other!r}"
                    " (set source.csv_separator)"
                )
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o644)  # mkstemp makes 0600; outputs are shared data, not secrets
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write a CSV or Parquet file atomically (temp file, then rename)."""
    path = Path(path)
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return path


def write_json(payload: Any, path: Path) -> Path:
    """Write JSON atomically, keys sorted so reruns give identical files."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    return Path(path)


class ParquetChunkWriter:
    """Append DataFrame chunks to one Parquet file; call `close` to finish it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table.cast(self._writer.schema))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
