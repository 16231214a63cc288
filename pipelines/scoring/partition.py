"""Streaming input for batch scoring: read in batches, hash-partition by lead_id into buckets.

One pass over each input file sends every row to the bucket of its lead (a temporary Parquet
file per table and bucket), so a bucket holds whole leads with all their activities and
outcomes, and memory depends on the bucket size, never on the size of the lead base.
A lead's bucket comes from a fixed number of hash slots grouped into contiguous ranges, so the
output order (slot, then input row) is the same whatever the number of buckets.
"""

from __future__ import annotations

import csv
import ctypes
import logging
import multiprocessing
import platform
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pipelines.errors import InputError
from pipelines.io import NA_VALUES, check_file, table_format

logger = logging.getLogger(__name__)

N_SLOTS = 4096  # hash slots; buckets are contiguous slot ranges
ROW = "__row__"  # 0-based row of the source file (quarantine reports it 1-based)
SLOT = "__slot__"
BATCH_ROWS = 262_144  # fewest rows per Parquet batch
MAX_BATCH_ROWS = 1 << 20  # most rows per Parquet batch
BATCH_BYTES = 32 << 20  # target (uncompressed) bytes per Parquet batch
_PRIME = np.uint64(1_099_511_628_211)  # FNV prime
_ONE = np.uint64(1)
BUFFER_BYTES = 64 << 20  # bytes held across all buckets before they are flushed to disk
# a dictionary column with at most this many entries stays encoded in the bucket files
# (activity types, pages: a byte or so per row instead of the text); larger ones are decoded
SMALL_DICTIONARY = 4096


@dataclass(frozen=True)
class TableSource:
    """One input table: its file, how to read it, and the renames to canonical names."""

    name: str
    path: Path
    required: tuple[str, ...]
    renames: dict[str, str] = field(default_factory=dict)
    separator: str = ","
    missing_values: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None  # read only these (canonical names); None: all


def _csv_header(path: Path, separator: str) -> list[str]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle, delimiter=separator), None)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not header:
        raise InputError(f"{path}: no columns to read (empty file)")
    if len(header) == 1:
        for other in (";", "\t", "|"):
            if other != separator and other in header[0]:
                raise InputError(
                    f"{path}: one column only; the file seems separated by {other!r}"
                    " (set source.csv_separator)"
                )
    return header


def source_columns(source: TableSource) -> list[str]:
    """Column names of the file (stripped), read from its header or Parquet schema."""
    check_file(source.path)
    if table_format(source.path) == "parquet":
        try:
            names = pq.ParquetFile(source.path).schema_arrow.names
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{source.path}: not a readable parquet file ({exc})") from exc
    else:
        names = _csv_header(source.path, source.separator)
    return [str(n).strip() for n in names]


def canonical_names(source: TableSource, names: list[str]) -> list[str]:
    """Canonical column names; a missing required column is an InputError."""
    renamed = [source.renames.get(n, n) for n in names]
    # a canonical name also present under its source name: the mapped column wins
    mapped_targets = {source.renames[n] for n in names if n in source.renames}
    out = [
        f"__ignored_{i}__" if n in mapped_targets and names[i] not in source.renames else n
        for i, n in enumerate(renamed)
    ]
    for column in source.required:
        if column not in out:
            raise InputError(f"{source.name}: required column {column!r} is missing")
    return out


def iter_batches(
    source: TableSource, row_groups: list[int] | None = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of the file with canonical column names (CSV: every column as text).

    `row_groups` reads only those row groups of a Parquet file (a segment of it).
    """
    names = canonical_names(source, source_columns(source))
    path = source.path
    try:
        if table_format(path) == "parquet":
            # pre_buffer=False: with it, pyarrow keeps every row group's read buffer (RSS grows)
            reader = pq.ParquetFile(path, pre_buffer=False)
            batch_rows = parquet_batch_rows(reader.metadata)
            raw_names = reader.schema_arrow.names
            # use_threads=False: the workers already read in parallel, one core each
            batches = reader.iter_batches(
                batch_size=batch_rows,
                row_groups=row_groups,
                columns=projected(source, raw_names, names),
                use_threads=False,
            )
            for batch in batches:
                yield renamed(batch, raw_names, names)
            return
        raw_names = _csv_header(path, source.separator)
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=32 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=source.separator),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(raw_names, pa.string()),
                null_values=[*NA_VALUES, *source.missing_values],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                include_columns=projected(source, raw_names, names),
            ),
        )
        for batch in reader:
            yield renamed(batch, raw_names, names)
    except pa.ArrowInvalid as exc:
        message = str(exc).strip().splitlines()[0]
        if "UTF8" in message or "utf8" in message.lower():
            raise InputError(f"{path}: not UTF-8 text ({message})") from exc
        raise InputError(f"{path}: not a readable {table_format(path)} file ({message})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc


def projected(source: TableSource, raw_names: list[str], names: list[str]) -> list[str] | None:
    """The file's own names of the columns `source.columns` asks for (None: every column)."""
    if source.columns is None:
        return None
    return [raw for raw, name in zip(raw_names, names, strict=True) if name in source.columns]


def renamed(batch: pa.RecordBatch, raw_names: list[str], names: list[str]) -> pa.RecordBatch:
    """A batch with canonical column names (every column of the file, or a projection)."""
    if batch.num_columns == len(names):
        return batch.rename_columns(names)
    canonical = dict(zip(raw_names, names, strict=True))
    return batch.rename_columns([canonical[raw] for raw in batch.schema.names])


def parquet_batch_rows(metadata: pq.FileMetaData) -> int:
    """Rows per batch: about BATCH_BYTES of data, within [BATCH_ROWS, MAX_BATCH_ROWS].

    Few rows per batch are costly on dictionary columns (an exported pandas categorical):
    every batch carries the row group's whole dictionary, so a narrow table of 1M-row groups
    is read a row group at a time.
    """
    if metadata.num_row_groups == 0 or metadata.num_rows == 0:
        return BATCH_ROWS
    group = metadata.row_group(0)
    row_bytes = max(group.total_byte_size / max(group.num_rows, 1), 1.0)
    return int(min(max(BATCH_BYTES / row_bytes, BATCH_ROWS), MAX_BATCH_ROWS))


def text_hash(values: pa.Array) -> np.ndarray:
    """A stable 64-bit hash of each value's stripped text form (vectorised over the bytes)."""
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string())).cast(pa.large_string())
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + n + 1]
    buffer = text.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    starts = offsets[:-1] - offsets[0]
    lengths = np.diff(offsets)
    hashed = np.zeros(n, dtype=np.uint64)
    padded = np.append(data, np.uint8(0))  # reads past a string's end land on a 0 byte
    last = len(data)
    for j in range(int(lengths.max()) if n else 0):  # one pass per byte position, not per row
        active = lengths > j
        index = np.where(active, starts + j, last)
        # past its end a string's hash stays as it is: it must not depend on the batch
        hashed = hashed * np.where(active, _PRIME, _ONE) + padded[index].astype(np.uint64)
    hashed ^= lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    hashed ^= hashed >> np.uint64(33)  # murmur3 finaliser: spread the bits before the modulo
    hashed *= np.uint64(0xFF51AFD7ED558CCD)
    hashed ^= hashed >> np.uint64(33)
    if text.null_count:
        hashed[text.is_null().to_numpy(zero_copy_only=False)] = 0
    return hashed


def lead_slots(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Hash slot of each lead_id, from its text form (so ids typed 7 and "7" agree).

    A dictionary column (an exported categorical) is hashed through its dictionary: only the
    entries the rows use, once each, however many rows repeat them.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_dictionary(values.type):
        return (text_hash(values) % np.uint64(N_SLOTS)).astype(np.int32)
    indices = values.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    used = np.zeros(len(values.dictionary), dtype=bool)
    used[indices] = True
    positions = np.flatnonzero(used)
    entry_slots = np.zeros(len(values.dictionary), dtype=np.int32)
    entry_slots[positions] = lead_slots(values.dictionary.take(pa.array(positions)))
    slots = entry_slots[indices]
    if values.null_count:
        slots[values.is_null().to_numpy(zero_copy_only=False)] = 0  # as text_hash does
    return slots


def plain_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Large dictionaries decoded (a bucket must not carry a whole file's dictionary), small
    ones kept, with int32 indices so that every batch of a table has one schema."""
    if not any(pa.types.is_dictionary(f.type) for f in batch.schema):
        return batch
    columns = []
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            if len(column.dictionary) > SMALL_DICTIONARY:
                column = column.dictionary_decode()
            elif column.type.index_type != pa.int32():
                column = column.cast(pa.dictionary(pa.int32(), column.type.value_type))
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def decoded(table: pa.Table, *, keep: tuple[str, ...] = ()) -> pa.Table:
    """Dictionary columns (the small ones `plain_columns` kept) decoded to their values, but
    those named in `keep` (they become pandas categoricals)."""
    for index, field_ in enumerate(table.schema):
        if pa.types.is_dictionary(field_.type) and field_.name not in keep:
            column = table.column(index)
            values = pa.chunked_array(
                [chunk.dictionary_decode() for chunk in column.chunks], field_.type.value_type
            )
            table = table.set_column(index, field_.name, values)
    return table


def bucket_of_slot(slots: np.ndarray, n_buckets: int) -> np.ndarray:
    """Bucket of each slot: buckets are contiguous ranges of slots.

    As int16 when it fits, so that a stable argsort of the buckets is a radix sort."""
    small = n_buckets <= np.iinfo(np.int16).max
    return ((slots.astype(np.int64) * n_buckets) // N_SLOTS).astype(np.int16 if small else np.int32)


class BucketWriter:
    """Rows of one table sent to per-bucket Arrow files, buffered within a fixed budget.

    Each flush writes one uncompressed Arrow IPC part per bucket (no file stays open, so the
    number of buckets is not bounded by open-file limits); a bucket is read back part by part
    in write order, so rows keep their input order.
    """

    def __init__(self, *, directory: Path, table: str, n_buckets: int) -> None:
        self.directory = directory
        self.table = table
        self.n_buckets = n_buckets
        self._pending: dict[int, list[pa.RecordBatch]] = {}
        self._pending_bytes = 0
        self._parts: dict[int, list[Path]] = {}
        self._schema: pa.Schema | None = None
        self.rows = 0

    def add(self, batch: pa.RecordBatch, *, first_row: int) -> None:
        """Send a batch's rows to their buckets (adds the source row and slot columns)."""
        slots = lead_slots(batch.column("lead_id"))
        rows = np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
        batch = batch.append_column(ROW, pa.array(rows)).append_column(SLOT, pa.array(slots))
        buckets = bucket_of_slot(slots, self.n_buckets)
        order = np.argsort(buckets, kind="stable")
        bounds = np.searchsorted(buckets[order], np.arange(self.n_buckets + 1))
        taken = plain_columns(batch.take(pa.array(order)))  # decoded after the (cheap) take
        if self._schema is None:
            self._schema = taken.schema
        elif taken.schema != self._schema:
            taken = taken.cast(self._schema)  # e.g. a null-only CSV column in one batch
        for bucket in range(self.n_buckets):
            start, stop = int(bounds[bucket]), int(bounds[bucket + 1])
            if stop > start:
                self._pending.setdefault(bucket, []).append(taken.slice(start, stop - start))
        self._pending_bytes += taken.nbytes
        self.rows += batch.num_rows
        if self._pending_bytes >= BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write every buffered row to a new part file of its bucket."""
        for bucket, batches in self._pending.items():
            parts = self._parts.setdefault(bucket, [])
            path = self.directory / f"{self.table}-{bucket:05d}-{len(parts):05d}.arrow"
            table = pa.Table.from_batches(batches, self._schema).unify_dictionaries()
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, self._schema) as out:
                out.write_table(table)
            parts.append(path)
        self._pending = {}
        self._pending_bytes = 0

    def close(self) -> None:
        """Flush what is still buffered."""
        self.flush()

    def parts(self, bucket: int) -> list[Path]:
        """The part files of one bucket, in write order (empty when it got no rows)."""
        return list(self._parts.get(bucket, ()))


def read_parts(parts: list[Path], *, keep_encoded: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """One bucket's part files as a DataFrame indexed by source row, then deleted.

    Dictionary-encoded columns named in `keep_encoded` stay encoded (pandas categoricals)."""
    if not parts:
        return None
    tables = [pa.ipc.open_file(pa.memory_map(str(path))).read_all() for path in parts]
    # segments may type a null-only column differently: promote (copies out of the maps)
    table = pa.concat_tables(tables, promote_options="default")
    frame = decoded(table, keep=keep_encoded).to_pandas()
    del tables
    for path in parts:
        path.unlink()  # a scored bucket's disk space is given back at once
    return frame.set_index(ROW).rename_axis(None)


# glibc `mallopt` parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
_WORKER_ALLOCATORS: list[bool] = []  # set once the process has tuned its allocators


def tune_worker_allocators() -> None:
    """In a worker process (once): keep freed memory for reuse instead of returning it.

    Every batch and bucket allocates and frees buffers of tens of MB. By default they are
    mapped fresh each time (mimalloc for Arrow, glibc's mmap above 128 kB for numpy), so each
    reuse pays page faults: about a fifth of a worker's CPU time went to the kernel. Arrow
    then allocates through glibc, which serves blocks under 32 MB from its heap and keeps up to
    1 GB of freed heap (trimming above that); the largest live set is still the bound, so
    memory stays flat (measured: partitioning a segment 1.1-1.2x faster, half the system time,
    same peak RSS). The job's own process is left as it is; without glibc only Arrow's pool
    changes.
    """
    if _WORKER_ALLOCATORS or multiprocessing.parent_process() is None:
        return
    _WORKER_ALLOCATORS.append(True)
    pa.set_memory_pool(pa.system_memory_pool())
    libc = ctypes.CDLL(None)
    if hasattr(libc, "mallopt") and platform.libc_ver()[0] == "glibc":
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
        libc.mallopt(M_TOP_PAD, 128 << 20)


def partition(
    source: TableSource,
    *,
    directory: Path,
    n_buckets: int,
    segment: Segment | None = None,
) -> tuple[BucketWriter, list[str]]:
    """Send every row of one table (or of one segment of it) to its bucket files.

    Returns the writer and the columns.
    """
    tune_worker_allocators()
    name = source.name if segment is None else f"{source.name}-s{segment.index:03d}"
    writer = BucketWriter(directory=directory, table=name, n_buckets=n_buckets)
    first_row = 0 if segment is None else segment.first_row
    row_groups = None if segment is None else list(segment.row_groups)
    columns: list[str] = []
    try:
        for batch in iter_batches(source, row_groups):
            columns = columns or list(batch.schema.names)
            writer.add(batch, first_row=first_row + writer.rows)
    finally:
        writer.close()
    return writer, columns


@dataclass(frozen=True)
class Segment:
    """Contiguous row groups of a Parquet file, partitioned on their own (by a worker)."""

    index: int
    row_groups: tuple[int, ...]
    first_row: int


def segments(source: TableSource, n: int) -> list[Segment]:
    """Up to `n` segments of similar row counts (one, covering all, unless Parquet)."""
    if n <= 1 or table_format(source.path) != "parquet":
        return []
    metadata = pq.ParquetFile(source.path).metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    if len(sizes) < 2:
        return []
    total = sum(sizes)
    out: list[Segment] = []
    groups: list[int] = []
    first_row = row = 0
    for group, size in enumerate(sizes):
        groups.append(group)
        row += size
        if row >= total * (len(out) + 1) / n or group == len(sizes) - 1:
            out.append(Segment(index=len(out), row_groups=tuple(groups), first_row=first_row))
            groups, first_row = [], row
    return out


class BucketParts:
    """The bucket files of one table written by several segment writers, in row order."""

    def __init__(self, writers: list[BucketWriter]) -> None:
        self.writers = writers
        self.rows = sum(w.rows for w in writers)

    def parts(self, bucket: int) -> list[Path]:
        """Every part file of a bucket, segment after segment (so rows stay in input order)."""
        return [path for writer in self.writers for path in writer.parts(bucket)]


def estimate_rows(source: TableSource) -> int:
    """Rows of a file: exact for Parquet, estimated from the first MBs for CSV."""
    if table_format(source.path) == "parquet":
        return int(pq.ParquetFile(source.path).metadata.num_rows)
    size = source.path.stat().st_size
    with source.path.open("rb") as handle:
        head = handle.read(1 << 20)
    lines = max(head.count(b"\n"), 1)
    return int(size / max(len(head), 1) * lines)
