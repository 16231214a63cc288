"""The local engine: every open lead scored on one machine, streamed in chunks.

One pass hash-partitions leads, activities and outcomes by lead_id into temporary buckets
(`pipelines.scoring.partition`); each bucket is then scored by `pipelines.scoring.chunk`:
validated with the export's row checks (bad rows to the quarantine), reduced to the leads open
at the as-of moment, turned into features by `features.build.build_feature_table` with the
model's own configuration, and scored. With `score.workers` > 1 (default 2) a pool of worker
processes (`pipelines.scoring.workers`) partitions the inputs (a large Parquet file in one
segment of row groups each) and scores the buckets; results are merged in bucket order, so
output and summary are the same whatever the number of workers or chunks. Output and
quarantine are written in the run's temporary directory and renamed at the end; a stopped run
leaves neither workers nor temporary files (`pipelines.scoring.lifecycle`). A finished run is
recorded in MLflow's `scoring` experiment (`pipelines.scoring.record`) unless `--no-record`.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.errors import InputError
from pipelines.io import table_format, write_json
from pipelines.scoring.job import (
    check_approved,
    finish,
    load_model,
    not_approved,
    parse_as_of,
    read_params,
    run_summary,
    settings_for,
    sidecar_paths,
    source_params,
    table_sources,
    thresholds_for,
    too_many_bad_rows,
)
from pipelines.scoring.lifecycle import RunFiles, stop_on_sigterm
from pipelines.scoring.output import OutputWriter, empty_output, publish, start_quarantine
from pipelines.scoring.partition import (
    BucketParts,
    TableSource,
    canonical_names,
    estimate_rows,
    source_columns,
)
from pipelines.scoring.previous import PREVIOUS, check_previous, previous_source
from pipelines.scoring.record import record_scoring_run
from pipelines.scoring.settings import LoadedModel, ScoreSettings
from pipelines.scoring.workers import (
    partition_all,
    scored_buckets,
    start_partitioners,
    start_workers,
)

if TYPE_CHECKING:  # imported when used: the workers start before LightGBM, pandera, MLflow
    from pipelines.scoring.chunk import BucketJob, BucketResult, RunState

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]  # (chunk done, chunks, leads scored so far)
Recorder = Callable[..., Any]  # (summary, summary_path=, output=): after the output is in place


def main_local(
    *,
    leads: str,
    output: str,
    activities: str | None,
    outcomes: str | None,
    as_of: str | None,
    model: str,
    quarantine: str | None,
    chunk_size: int | None,
    fail_on_drift: bool,
    reasons: str | None,
    workers: int | None,
    params: str,
    previous: str | None = None,
    require_approved: bool = False,
    record: bool = True,
    log_scores: bool = False,
) -> None:
    """`leadscore score` on this machine: settings from params.yaml and the options; the run,
    recorded in MLflow unless `record` is off."""
    all_params = read_params(params)
    settings = settings_for(all_params, chunk_size=chunk_size, workers=workers, reasons=reasons)
    moment = parse_as_of(as_of)
    if require_approved:  # before any input is read: a production job stops at once
        check_approved(model)
    inputs = {"leads": leads, "activities": activities, "outcomes": outcomes}
    paths = {name: Path(path) for name, path in inputs.items() if path is not None}
    for path in paths.values():
        source_columns(TableSource(name="input", path=path, required=()))
    if previous is not None:
        check_previous(previous_source(Path(previous)))
    with progress_reporter() as progress:
        summary = run_score(
            leads=paths["leads"],
            activities=paths.get("activities"),
            outcomes=paths.get("outcomes"),
            output=Path(output),
            quarantine=None if quarantine is None else Path(quarantine),
            as_of=moment,
            model=model,
            settings=settings,
            source=source_params(all_params),
            fail_on_drift=fail_on_drift,
            progress=progress,
            previous=None if previous is None else Path(previous),
            require_approved=require_approved,
            record=functools.partial(record_scoring_run, log_scores=log_scores) if record else None,
        )
    logger.info(
        "model loaded in %.1f s (while the inputs were partitioned); output %s; summary %s",
        summary["timings_s"].get("model_load", 0.0),
        summary["output"],
        sidecar_paths(Path(output), None if quarantine is None else Path(quarantine))[1],
    )


def bucket_plan(n_rows: int, settings: ScoreSettings) -> tuple[int, int]:
    """(buckets, worker processes) for about `n_rows` leads: chunk_size leads in memory at once
    in all, so with several workers each gets a share."""
    n_buckets = max(1, -(-n_rows // max(settings.chunk_size, 1)))
    workers = max(1, min(settings.workers, n_buckets, os.cpu_count() or 1))
    if workers > 1:
        n_buckets = max(1, -(-n_rows // max(settings.chunk_size // workers, 1)))
    return n_buckets, workers


def run_score(
    *,
    leads: Path,
    activities: Path | None,
    outcomes: Path | None,
    output: Path,
    quarantine: Path | None = None,
    as_of: pd.Timestamp,
    model: LoadedModel | str,
    settings: ScoreSettings,
    source: dict[str, Any],
    fail_on_drift: bool = False,
    progress: Progress | None = None,
    previous: Path | None = None,
    require_approved: bool = False,
    record: Recorder | None = None,
) -> dict[str, Any]:
    """Score every open lead; write output, quarantine and summary atomically; the summary.

    `model`: loaded, or its URI, then loaded while the workers partition the inputs.
    `previous`: the last run's output: `previous_stage` and the stage changes (its lead_id
    and stage columns are partitioned with the inputs, so each bucket joins its own slice).
    SIGTERM stops the run (`StoppedError`): workers killed, temporary files removed, no output.
    `require_approved`: never with unapproved thresholds. `record`: called once all is written.
    """
    started = time.perf_counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    paths = job_paths(output, quarantine)
    sources = checked_sources(
        leads=leads, activities=activities, outcomes=outcomes, previous=previous, source=source
    )
    n_buckets, workers = bucket_plan(estimate_rows(sources["leads"]), settings)
    scored_at = pd.Timestamp.now(tz="UTC").floor("s")
    latest = settings.latest_event(as_of)
    timings: dict[str, float] = {}
    with stop_on_sigterm() as sigterm:
        with ExitStack() as stack:
            files = RunFiles(stack)
            workdir = files.directory(output.parent)
            writers, job, pool = partition_and_load(
                sources,
                model=model,
                job_of=functools.partial(
                    bucket_job,
                    settings=settings,
                    as_of=as_of,
                    latest=latest,
                    source=source,
                    scored_at=scored_at,
                    previous=None if previous is None else str(previous),
                    require_approved=require_approved,
                ),
                n_buckets=n_buckets,
                workers=workers,
                directory=workdir,
                stack=stack,
                timings=timings,
            )
            state = state_of_inputs(writers, leads=leads, as_of=as_of, n_buckets=n_buckets)
            temporary = temporary_paths(files, workdir=workdir, paths=paths)
            start = time.perf_counter()
            tasks = [{name: w.parts(b) for name, w in writers.items()} for b in range(n_buckets)]
            results = scored_buckets(tasks, job, pool=pool, workers=workers, directory=workdir)
            write_results(
                results,
                n_buckets=n_buckets,
                temporary=temporary,
                state=state,
                progress=progress,
                empty=empty_output(with_previous=previous is not None, **job.model.extras),
            )
            timings["score"] = time.perf_counter() - start
            timings["total"] = time.perf_counter() - started
            summary = run_summary(
                state=state,
                model=job.model,
                thresholds=job.thresholds,
                settings=settings,
                as_of=as_of,
                scored_at=scored_at,
                paths=paths,
                inputs={name: s.path for name, s in sources.items() if name != PREVIOUS},
                n_chunks=n_buckets,
                timings=timings,
                previous=previous,
            )
            sigterm.disarm()  # the files are complete: rename them all, never half of them
            publish_all(summary, state=state, settings=settings, temporary=temporary, paths=paths)
        write_json(summary, paths["summary"])
    if record is not None:
        record(summary, summary_path=paths["summary"], output=output)
    return finish(
        summary,
        summary_path=paths["summary"],
        psi_warn=settings.psi_warn,
        fail_on_drift=fail_on_drift,
    )


def checked_sources(
    *,
    leads: Path,
    activities: Path | None,
    outcomes: Path | None,
    previous: Path | None,
    source: dict[str, Any],
) -> dict[str, TableSource]:
    """The tables to partition (with the previous output's), every structural fault raised
    before any work."""
    sources = table_sources(leads=leads, activities=activities, outcomes=outcomes, source=source)
    for table_source in sources.values():
        canonical_names(table_source, source_columns(table_source))
    if previous is not None:
        sources[PREVIOUS] = previous_source(previous)
        check_previous(sources[PREVIOUS])
    return sources


def temporary_paths(files: RunFiles, *, workdir: Path, paths: dict[str, Path]) -> dict[str, Path]:
    """Where the output and the quarantine are written before they are renamed into place."""
    quarantine_dir = files.directory(paths["quarantine"].parent)
    return {
        "output": workdir / paths["output"].name,
        "quarantine": quarantine_dir / paths["quarantine"].name,
    }


def job_paths(output: Path, quarantine: Path | None) -> dict[str, Path]:
    """The output, quarantine and summary paths (the quarantine is a CSV file)."""
    quarantine_path, summary_path = sidecar_paths(output, quarantine)
    if table_format(quarantine_path) != "csv":
        raise InputError(f"{quarantine_path}: the quarantine is a CSV file (use .csv)")
    return {"output": output, "quarantine": quarantine_path, "summary": summary_path}


def state_of_inputs(
    writers: dict[str, BucketParts], *, leads: Path, as_of: pd.Timestamp, n_buckets: int
) -> RunState:
    """The run's counters, with the rows read from each table (no lead: an InputError)."""
    from pipelines.scoring.chunk import new_state  # imported with the job, not before

    state = new_state()
    state.read = {name: w.rows for name, w in writers.items() if name != PREVIOUS}
    if state.read["leads"] == 0:
        raise InputError(f"{leads}: no lead rows")
    logger.info(
        "read %s; scoring as of %s in %d chunk(s)",
        ", ".join(f"{n:,} {t}" for t, n in state.read.items()),
        as_of.isoformat(),
        n_buckets,
    )
    return state


def partition_and_load(
    sources: dict[str, TableSource],
    *,
    model: LoadedModel | str,
    job_of: Callable[..., BucketJob],
    n_buckets: int,
    workers: int,
    directory: Path,
    stack: ExitStack,
    timings: dict[str, float],
) -> tuple[dict[str, BucketParts], BucketJob, ProcessPoolExecutor | None]:
    """Partition the inputs into bucket files while this process loads the model: the bucket
    files, the job, and the scoring workers' pool (None with one worker).

    The partitioners fork from this process, and the fork server starts, before LightGBM,
    pandera and MLflow are imported here (`job_of` imports them).
    """
    start = time.perf_counter()
    partitioners = start_partitioners(workers=workers, stack=stack) if workers > 1 else None
    partitioned = partition_all(
        sources, directory=directory, n_buckets=n_buckets, pool=partitioners, workers=workers
    )
    pool = start_workers(workers=workers, stack=stack) if workers > 1 else None
    job = job_of(model, timings=timings)
    writers = partitioned()
    if partitioners is not None:
        partitioners.shutdown()  # their memory back before the scoring workers start
    timings["partition"] = time.perf_counter() - start
    return writers, job, pool


def bucket_job(
    model: LoadedModel | str,
    *,
    settings: ScoreSettings,
    as_of: pd.Timestamp,
    latest: pd.Timestamp,
    source: dict[str, Any],
    scored_at: pd.Timestamp,
    timings: dict[str, float],
    previous: str | None = None,
    require_approved: bool = False,
) -> BucketJob:
    """What every bucket is scored with: the model (loaded now if a URI) and its thresholds."""
    if isinstance(model, str):
        load_start = time.perf_counter()
        model = load_model(model)
        timings["model_load"] = time.perf_counter() - load_start
    thresholds = thresholds_for(model)
    # the chunk-scoring code (LightGBM, pandera) once the workers are busy partitioning
    from pipelines.scoring.chunk import BucketJob
    from pipelines.thresholds.approvals import APPROVED

    if require_approved and thresholds.status != APPROVED:  # the model was given loaded
        raise not_approved(model.uri, model.version)

    return BucketJob(
        model=model,
        thresholds=thresholds,
        settings=settings,
        as_of=as_of,
        latest=latest,
        timed=bool(source.get("timed", True)),
        scored_at=scored_at,
        sentinels=dict(source.get("missing_values_by_column") or {}),
        previous=previous,
    )


def write_results(
    results: Iterable[BucketResult],
    *,
    n_buckets: int,
    temporary: dict[str, Path],
    state: RunState,
    progress: Progress | None,
    empty: pd.DataFrame | None = None,
) -> None:
    """Append each bucket's scores and bad rows, in bucket order, to the temporary files
    (`empty`: the output written when no lead is scored, by default `empty_output()`)."""
    writer = OutputWriter(temporary["output"], fmt=table_format(temporary["output"]))
    quarantine = start_quarantine(temporary["quarantine"])
    for bucket, result in enumerate(results):
        if result is not None:
            scored, bad, bucket_state = result
            state.merge(bucket_state)
            if len(scored):  # an empty bucket's frame may lack types (its text columns)
                writer.write(scored)
            bad.to_csv(quarantine, mode="a", header=False, index=False)
        if progress is not None:
            progress(bucket + 1, n_buckets, state.scored)
    if state.scored == 0:
        writer.write(empty_output() if empty is None else empty)
    writer.close()


def publish_all(
    summary: dict[str, Any],
    *,
    state: RunState,
    settings: ScoreSettings,
    temporary: dict[str, Path],
    paths: dict[str, Path],
) -> None:
    """Rename the quarantine, then the output, into place; too many bad rows: no output."""
    bad_rows_error = too_many_bad_rows(state, settings, quarantine=paths["quarantine"])
    publish(temporary["quarantine"], paths["quarantine"])
    if bad_rows_error is not None:
        summary["status"] = "failed: too many bad rows"
        write_json(summary, paths["summary"])
        raise bad_rows_error
    publish(temporary["output"], paths["output"])


@contextmanager
def progress_reporter() -> Iterator[Progress]:
    """A rich progress bar on a terminal, plain log lines otherwise."""
    bar = None
    if sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        bar = RichProgress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
    task = bar.add_task("scoring", total=None) if bar is not None else None

    def report(done: int, total: int, scored: int) -> None:
        if bar is not None and task is not None:
            bar.update(task, completed=done, total=total, description=f"{scored:,} leads scored")
        else:
            logger.info("chunk %d/%d done, %d leads scored", done, total, scored)

    if bar is None:
        yield report
        return
    with bar:
        yield report
