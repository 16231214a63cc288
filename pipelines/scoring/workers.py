"""The local engine's worker processes: partitioners forked from the job, scorers from a fork
server, and the two steps they run (partition every input, score every bucket in order).

Light on purpose: the job starts its workers before it imports LightGBM, pandera or MLflow.
Every pool is shut down when the job's stack closes; on an error (SIGTERM included) its
processes are killed first, so a stopped job never waits for a bucket to finish.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from pipelines.scoring.lifecycle import exit_with_job
from pipelines.scoring.partition import (
    BucketParts,
    BucketWriter,
    Segment,
    TableSource,
    estimate_rows,
    partition,
    segments,
)

if TYPE_CHECKING:  # imported when used: the workers start before LightGBM, pandera, MLflow
    from pipelines.scoring.chunk import BucketJob, BucketResult

CHUNK_MODULE = "pipelines.scoring.chunk"  # what the workers run (imported by the fork server)
BUNDLE_MODULE = "models.bundle"  # the model's code: LightGBM (imported by the fork server)


def _worker_context() -> multiprocessing.context.BaseContext:
    """Forkserver: a clean server (no OpenMP pool, which a fork would break) that has imported
    the chunk-scoring code and LightGBM once; each worker is forked from it, so it starts in
    milliseconds with nothing left to import."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([CHUNK_MODULE, BUNDLE_MODULE])
    return context


def start_fork_server() -> None:
    """Start the fork server now (idempotent), so its imports overlap the model loading.

    Its workers run LightGBM with one OpenMP thread: the default (a thread per core) in every
    worker oversubscribes the cores, and the spinning threads then slow every worker down.
    The server reads the variable when it starts, and its workers inherit it.
    """
    _worker_context()
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous


def kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's processes now: a failed or stopped job does not wait for their tasks."""
    kill = getattr(pool, "kill_workers", None)  # Python 3.14+
    if kill is not None:
        kill()
        return
    with contextlib.suppress(RuntimeError):  # the pool's own thread may be changing the dict
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()


def shut_down_with(pool: ProcessPoolExecutor, stack: ExitStack) -> ProcessPoolExecutor:
    """Shut `pool` down when `stack` closes; after an error, kill its processes first."""

    def close(
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            kill_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)

    stack.push(close)
    return pool


def start_workers(*, workers: int, stack: ExitStack) -> ProcessPoolExecutor:
    """A pool of `workers` scoring processes, shut down when `stack` closes.

    Workers come from the fork server (see `start_fork_server`), which starts now and imports
    while the inputs are partitioned; they start with the first bucket and read the job (model
    included) from its file once each (`chunk.job_in`).
    """
    start_fork_server()
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=_worker_context(), initializer=exit_with_job
    )
    return shut_down_with(pool, stack)


def start_partitioners(*, workers: int, stack: ExitStack) -> ProcessPoolExecutor:
    """A pool of `workers` processes forked from this one for the partition tasks, shut down
    when `stack` closes (or earlier, by the caller, once the inputs are partitioned).

    Partitioning needs only pyarrow and numpy, which this process has imported: its forks
    start at once, while this process loads the model. They are forked before this process
    runs a thread or loads LightGBM (whose OpenMP pool a fork would break).
    """
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=exit_with_job)
    return shut_down_with(pool, stack)


def partition_all(
    sources: dict[str, TableSource],
    *,
    directory: Path,
    n_buckets: int,
    pool: ProcessPoolExecutor | None,
    workers: int,
) -> Callable[[], dict[str, BucketParts]]:
    """Partition every table: in this process, or in the workers when there is a pool.

    With a pool, a Parquet file of several row groups is split in one segment per worker
    (each written to its own files) and every other table is one task; the largest pieces go
    first. The tasks are submitted at once; the returned function waits for them (this
    process meanwhile loads the model; the reading buffers stay out of its memory).
    """
    if pool is None:
        parts = {
            name: BucketParts([partition(source, directory=directory, n_buckets=n_buckets)[0]])
            for name, source in sources.items()
        }
        return lambda: parts
    pieces: list[tuple[int, str, Segment | None]] = []
    for name, table_source in sources.items():
        rows = estimate_rows(table_source)
        table_segments = segments(table_source, workers)
        pieces += [(rows // len(table_segments), name, s) for s in table_segments] or [
            (rows, name, None)
        ]
    futures: dict[str, list[Future[tuple[BucketWriter, list[str]]]]] = {n: [] for n in sources}
    for _, name, piece in sorted(pieces, key=lambda p: -p[0]):  # stable: segments stay in order
        futures[name].append(
            pool.submit(
                partition, sources[name], directory=directory, n_buckets=n_buckets, segment=piece
            )
        )
    return lambda: {
        name: BucketParts([future.result()[0] for future in table_futures])
        for name, table_futures in futures.items()
    }


def scored_buckets(
    tasks: list[dict[str, list[Path]]],
    job: BucketJob,
    *,
    pool: ProcessPoolExecutor | None,
    workers: int,
    directory: Path,
) -> Iterable[BucketResult]:
    """Results of every bucket in bucket order: in this process, or in the pool's workers.

    The workers get the job through a file in `directory`. At most one bucket more than there
    are workers is in flight, so memory stays bounded.
    """
    from pipelines.scoring.chunk import score_parts, write_job

    if pool is None:
        return (score_parts(task, job) for task in tasks)
    job_file = write_job(job, directory / "job.pickle")

    def in_order() -> Iterator[BucketResult]:
        pending: deque[Future[BucketResult]] = deque()
        remaining = iter(tasks)
        for task in remaining:
            pending.append(pool.submit(score_parts, task, job_file))
            if len(pending) > workers:
                break
        while pending:
            result = pending.popleft().result()
            task = next(remaining, None)
            if task is not None:
                pending.append(pool.submit(score_parts, task, job_file))
            yield result

    return in_order()
