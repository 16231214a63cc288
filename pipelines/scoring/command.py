"""Batch scoring job: every open lead scored with the registered model, streamed in chunks.

One pass hash-partitions leads, activities and outcomes by lead_id into temporary buckets
(`pipelines.scoring.partition`); each bucket is then scored by `pipelines.scoring.chunk`: validated
with the extract stage's checks (bad rows to the quarantine), reduced to the leads open at the
as-of moment, turned into features by `features.build.build_feature_table` with the model's
own configuration, and scored. With `score.workers` > 1 (default 2) a pool of worker processes
partitions the inputs (a large Parquet file in one segment of row groups each) and scores the
buckets; results are merged in bucket order, so output and summary are the same whatever the
number of workers or chunks. Output, quarantine and summary are written to temporary files and
renamed at the end. `--engine spark` hands the same job to `pipelines.scoring.spark`.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
import os
import re
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
import typer

from models.drift import population_stability_index
from models.reasons import REASONS_PATH, REASONS_SHAP
from pipelines.config import load_params
from pipelines.errors import EXIT_GATE, EXIT_MODEL, DataQualityError, InputError, LeadscoreError
from pipelines.io import ParquetChunkWriter, atomic_path, table_format, utc_moment, write_json
from pipelines.scoring.partition import (
    BucketParts,
    BucketWriter,
    Segment,
    TableSource,
    canonical_names,
    estimate_rows,
    partition,
    segments,
    source_columns,
)
from pipelines.scoring.settings import (
    OUTPUT_COLUMNS,
    SKIPPED_CONVERTED,
    SKIPPED_NOT_CREATED,
    TABLES,
    LoadedModel,
    ScoreSettings,
    Thresholds,
)
from pipelines.tracking import MODEL_NAME, configure_tracking

if TYPE_CHECKING:  # imported when used: the workers start before LightGBM, pandera, MLflow
    from pipelines.scoring.chunk import BucketJob, BucketResult, RunState

CHUNK_MODULE = "pipelines.scoring.chunk"  # what the workers run (imported by the fork server)
BUNDLE_MODULE = "models.bundle"  # the model's code: LightGBM (imported by the fork server)

__all__ = [  # the job's names, importable from the job's module
    "OUTPUT_COLUMNS",
    "SKIPPED_CONVERTED",
    "SKIPPED_NOT_CREATED",
    "TABLES",
    "LoadedModel",
    "ScoreSettings",
    "Thresholds",
    "load_model",
    "main",
    "run_score",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@champion"


class ModelError(LeadscoreError):
    """The model cannot be found or loaded."""

    exit_code = EXIT_MODEL


class DriftGateError(LeadscoreError):
    """Drift above `score.psi_warn` with `--fail-on-drift`."""

    exit_code = EXIT_GATE


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


def start_workers(*, workers: int, stack: ExitStack) -> ProcessPoolExecutor:
    """A pool of `workers` scoring processes, shut down when `stack` closes.

    Workers come from the fork server (see `start_fork_server`), which starts now and imports
    while the inputs are partitioned; they start with the first bucket and read the job (model
    included) from its file once each (`score_chunk.job_in`).
    """
    start_fork_server()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context())
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)
    return pool


def start_partitioners(*, workers: int, stack: ExitStack) -> ProcessPoolExecutor:
    """A pool of `workers` processes forked from this one for the partition tasks, shut down
    when `stack` closes (or earlier, by the caller, once the inputs are partitioned).

    Partitioning needs only pyarrow and numpy, which this process has imported: its forks
    start at once, while this process loads the model. They are forked before this process
    runs a thread or loads LightGBM (whose OpenMP pool a fork would break).
    """
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)
    return pool


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


Progress = Callable[[int, int, int], None]  # (chunk done, chunks, leads scored so far)


def parse_as_of(value: str | None) -> pd.Timestamp:
    """The as-of moment in UTC (naive means UTC); default now."""
    return pd.Timestamp.now(tz="UTC") if value is None else utc_moment(value, what="--as-of")


def load_model(uri: str) -> LoadedModel:
    """Load the pyfunc model and unwrap its scoring bundle; resolve its registered version."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from models.bundle import ScoringBundle

    configure_tracking()
    try:
        model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        message = str(getattr(exc, "message", exc)).strip().splitlines()[0]
        raise ModelError(f"model {uri} not found or not loadable: {message}") from exc
    scorer = getattr(model.unwrap_python_model(), "scorer", None)
    if not isinstance(scorer, ScoringBundle):
        raise ModelError(f"model {uri} is not a leadscore model (no scoring bundle)")
    run_id = model.metadata.run_id
    name, version = registered_version(MlflowClient(), uri, run_id=run_id)
    return LoadedModel(uri=uri, scorer=scorer, version=version, registered_name=name, run_id=run_id)


def registered_version(client: Any, uri: str, *, run_id: str | None) -> tuple[str | None, str]:
    """(registered model name, version) behind a URI; runs:/ URIs map to a version if any."""
    from mlflow.exceptions import MlflowException

    if match := re.fullmatch(r"models:/([^/@]+)@(.+)", uri):
        version = client.get_model_version_by_alias(match[1], match[2]).version
        return match[1], str(version)
    if match := re.fullmatch(r"models:/([^/@]+)/(\d+)", uri):
        return match[1], match[2]
    if run_id:
        try:
            versions = client.search_model_versions(f"run_id='{run_id}'")
        except MlflowException:
            versions = []
        if versions:
            newest = max(versions, key=lambda v: int(v.version))
            return newest.name, str(newest.version)
        return None, f"run:{run_id}"
    return None, "unregistered"


def thresholds_for(model: LoadedModel) -> Thresholds:
    """Approved thresholds for the model version when recorded, else the proposed ones."""
    from mlflow.tracking import MlflowClient

    from pipelines.thresholds.approvals import APPROVED, PROPOSED, load_approval

    approval = None
    if model.registered_name is not None:
        approval = load_approval(
            client=MlflowClient(), model_name=model.registered_name, version=model.version
        )
    if approval:
        return Thresholds(
            mql=float(approval["mql_threshold"]),
            sql=float(approval["sql_threshold"]),
            status=APPROVED,
            approved_by=str(approval.get("approved_by") or "") or None,
        )
    mql, sql = model.scorer.thresholds()
    logger.warning(
        "no approved thresholds for model version %s: using the proposed ones"
        " (MQL >= %.4f, SQL >= %.4f); every row is marked 'proposed'",
        model.version,
        mql,
        sql,
    )
    return Thresholds(mql=mql, sql=sql, status=PROPOSED)


def source_params(params: dict[str, Any]) -> dict[str, Any]:
    """Column mapping and CSV options from the `source` section (canonical names if absent)."""
    source = params.get("source") or {}
    renames = {}
    id_column = source.get("id_column") or "lead_id"
    if id_column != "__row_number__":
        renames[id_column] = "lead_id"
    created = source.get("created_at_column", "created_at")
    if created:
        renames[created] = "created_at"
    return {
        "renames": renames,
        "timed": created is not None,
        "separator": source.get("csv_separator") or ",",
        "missing_values": tuple(str(v) for v in source.get("missing_values") or ()),
        "missing_values_by_column": {
            str(column): [str(v) for v in values]
            for column, values in (source.get("missing_values_by_column") or {}).items()
        },
    }


def drift_report(state: RunState, references: dict[str, Any], *, psi_warn: float) -> dict[str, Any]:
    """PSI per referenced feature and of the probability, against the training distribution."""
    psi = {}
    if state.scored:
        for name, counts in state.drift_counts.items():
            observed = np.asarray(counts, dtype=float) / state.scored
            psi[name] = round(population_stability_index(references[name]["shares"], observed), 6)
    drifted = sorted(name for name, value in psi.items() if value > psi_warn)
    return {"psi": dict(sorted(psi.items())), "psi_warn": psi_warn, "drifted": drifted}


class OutputWriter:
    """Scored chunks appended to a temporary CSV or Parquet file (renamed by the caller)."""

    def __init__(self, path: Path, *, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self._parquet = ParquetChunkWriter(path) if fmt == "parquet" else None
        self._header = True

    def write(self, frame: pd.DataFrame) -> None:
        """Append one chunk."""
        if self._parquet is not None:
            if len(frame) or self._parquet._writer is None:
                self._parquet.write(frame)
            return
        if len(frame) or self._header:
            out = frame.assign(scored_at=frame["scored_at"].map(pd.Timestamp.isoformat))
            out.to_csv(
                self.path, mode="w" if self._header else "a", header=self._header, index=False
            )
            self._header = False

    def close(self) -> None:
        """Finish the file."""
        if self._parquet is not None:
            self._parquet.close()


def empty_output() -> pd.DataFrame:
    """The output's columns with their types and no rows."""
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=object),
            "probability": pd.Series(dtype=float),
            "stage": pd.Series(dtype=object),
            "rule_score": pd.Series(dtype=float),
            "rule_stage": pd.Series(dtype=object),
            "reasons": pd.Series(dtype=object),
            "model_version": pd.Series(dtype=object),
            "thresholds_status": pd.Series(dtype=object),
            "scored_at": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


def sidecar_paths(output: Path, quarantine: Path | None) -> tuple[Path, Path]:
    """(quarantine, summary) paths: beside the output unless given."""
    stem = output.with_suffix("")
    summary = stem.with_name(stem.name + ".summary.json")
    return quarantine or stem.with_name(stem.name + ".quarantine.csv"), summary


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
) -> dict[str, Any]:
    """Score every open lead; write output, quarantine and summary atomically; the summary.

    `model`: loaded, or its URI, then loaded while the workers partition the inputs.
    """
    started = time.perf_counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    out_format = table_format(output)
    quarantine_path, summary_path = sidecar_paths(output, quarantine)
    if table_format(quarantine_path) != "csv":
        raise InputError(f"{quarantine_path}: the quarantine is a CSV file (use .csv)")
    timed = bool(source.get("timed", True))
    common = {"separator": source.get("separator", ","), "renames": source.get("renames", {})}
    common["missing_values"] = tuple(source.get("missing_values") or ())
    lead_required = ("lead_id", "created_at") if timed else ("lead_id",)
    sources = {"leads": TableSource(name="leads", path=leads, required=lead_required, **common)}
    if activities is not None:
        required = ("lead_id", "occurred_at", "activity_type")
        sources["activities"] = TableSource(
            name="activities", path=activities, required=required, **common
        )
    if outcomes is not None:
        sources["outcomes"] = TableSource(
            name="outcomes", path=outcomes, required=("lead_id", "converted_at"), **common
        )
    for table_source in sources.values():  # every structural fault before any work
        canonical_names(table_source, source_columns(table_source))
    n_rows = estimate_rows(sources["leads"])
    n_buckets = max(1, -(-n_rows // max(settings.chunk_size, 1)))
    workers = max(1, min(settings.workers, n_buckets, os.cpu_count() or 1))
    if workers > 1:  # chunk_size leads in memory at once in all: each worker gets a share
        n_buckets = max(1, -(-n_rows // max(settings.chunk_size // workers, 1)))
    scored_at = pd.Timestamp.now(tz="UTC").floor("s")
    latest = settings.latest_event(as_of)
    with ExitStack() as stack:
        workdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix=".score-", dir=output.parent))
        )
        start = time.perf_counter()
        partitioners = start_partitioners(workers=workers, stack=stack) if workers > 1 else None
        partitioned = partition_all(
            sources, directory=workdir, n_buckets=n_buckets, pool=partitioners, workers=workers
        )
        pool = start_workers(workers=workers, stack=stack) if workers > 1 else None
        if isinstance(model, str):
            load_start = time.perf_counter()
            model = load_model(model)
            timings["model_load"] = time.perf_counter() - load_start
        thresholds = thresholds_for(model)
        # the chunk-scoring code (LightGBM, pandera) once the workers are busy partitioning
        from pipelines.scoring.chunk import BucketJob, new_state
        from features.validation import QUARANTINE_COLUMNS

        state = new_state()
        job = BucketJob(
            model=model,
            thresholds=thresholds,
            settings=settings,
            as_of=as_of,
            latest=latest,
            timed=timed,
            scored_at=scored_at,
            sentinels=dict(source.get("missing_values_by_column") or {}),
        )
        writers = partitioned()
        if partitioners is not None:
            partitioners.shutdown()  # their memory back before the scoring workers start
        for name, table_writer in writers.items():
            state.read[name] = table_writer.rows
        timings["partition"] = time.perf_counter() - start
        if state.read["leads"] == 0:
            raise InputError(f"{leads}: no lead rows")
        logger.info(
            "read %s; scoring as of %s in %d chunk(s)",
            ", ".join(f"{n:,} {t}" for t, n in state.read.items()),
            as_of.isoformat(),
            n_buckets,
        )
        output_tmp = stack.enter_context(atomic_path(output))
        quarantine_tmp = stack.enter_context(atomic_path(quarantine_path))
        writer = OutputWriter(output_tmp, fmt=out_format)
        pd.DataFrame(columns=QUARANTINE_COLUMNS).to_csv(quarantine_tmp, index=False)
        start = time.perf_counter()
        tasks = [
            {name: w.parts(bucket) for name, w in writers.items()} for bucket in range(n_buckets)
        ]
        results = scored_buckets(tasks, job, pool=pool, workers=workers, directory=workdir)
        for bucket, result in enumerate(results):
            if result is not None:
                scored, bad, bucket_state = result
                state.merge(bucket_state)
                writer.write(scored)
                bad.to_csv(quarantine_tmp, mode="a", header=False, index=False)
            if progress is not None:
                progress(bucket + 1, n_buckets, state.scored)
        if state.scored == 0:
            writer.write(empty_output())
        writer.close()
        timings["score"] = time.perf_counter() - start
        timings["total"] = time.perf_counter() - started
        summary = run_summary(
            state=state,
            model=model,
            thresholds=thresholds,
            settings=settings,
            as_of=as_of,
            scored_at=scored_at,
            paths={"output": output, "quarantine": quarantine_path, "summary": summary_path},
            inputs={name: s.path for name, s in sources.items()},
            n_chunks=n_buckets,
            timings=timings,
        )
        bad_rows_error = too_many_bad_rows(state, settings, quarantine=quarantine_path)
        if bad_rows_error is not None:
            summary["status"] = "failed: too many bad rows"
            quarantine_tmp.replace(quarantine_path)
            write_json(summary, summary_path)
            raise bad_rows_error
    write_json(summary, summary_path)
    log_summary(summary)
    if summary["drift"]["drifted"] and fail_on_drift:
        raise DriftGateError(
            f"drift above score.psi_warn={settings.psi_warn} in"
            f" {', '.join(summary['drift']['drifted'])} (--fail-on-drift); see {summary_path}"
        )
    return summary


def too_many_bad_rows(
    state: RunState, settings: ScoreSettings, *, quarantine: Path | str
) -> DataQualityError | None:
    """The error to stop with when a table's bad rows pass `score.max_bad_row_share`."""
    for table, reasons in state.quarantined.items():
        n_bad, n_read = sum(reasons.values()), state.read[table]
        if n_bad > settings.max_bad_row_share * max(n_read, 1):
            return DataQualityError(
                f"{table}: {n_bad} of {n_read} rows ({n_bad / max(n_read, 1):.1%}) are bad,"
                f" above score.max_bad_row_share={settings.max_bad_row_share:.1%};"
                f" no output written; see {quarantine}"
            )
    return None


def run_summary(
    *,
    state: RunState,
    model: LoadedModel,
    thresholds: Thresholds,
    settings: ScoreSettings,
    as_of: pd.Timestamp,
    scored_at: pd.Timestamp,
    paths: dict[str, Path],
    inputs: dict[str, Path],
    n_chunks: int,
    timings: dict[str, float],
) -> dict[str, Any]:
    """The JSON run summary: counts, stages, quarantine by reason, drift, timings (no PII)."""
    references = model.scorer.bundle.get("references") or {}
    drift = drift_report(state, references, psi_warn=settings.psi_warn)
    quarantined = {t: dict(sorted(r.items())) for t, r in sorted(state.quarantined.items())}
    return {
        "status": "ok",
        "as_of": as_of.isoformat(),
        "scored_at": scored_at.isoformat(),
        "model": {
            "uri": model.uri,
            "registered_name": model.registered_name,
            "version": model.version,
            "run_id": model.run_id,
        },
        "thresholds": {
            "status": thresholds.status,
            "mql": thresholds.mql,
            "sql": thresholds.sql,
        },
        "inputs": {name: str(path) for name, path in inputs.items()},
        "output": str(paths["output"]),
        "quarantine": str(paths["quarantine"]),
        "counts": {
            "leads_read": state.read.get("leads", 0),
            "activities_read": state.read.get("activities", 0),
            "outcomes_read": state.read.get("outcomes", 0),
            "scored": state.scored,
            "skipped": dict(state.skipped),
            "quarantined": {t: sum(r.values()) for t, r in quarantined.items()},
        },
        "quarantined_by_reason": quarantined,
        "stages": dict(state.stages),
        "rule_stages": dict(state.rule_stages),
        "drift": drift,
        "chunks": n_chunks,
        "chunk_size": settings.chunk_size,
        "reasons_method": settings.reasons_method,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def log_summary(summary: dict[str, Any]) -> None:
    """Headline log lines, and a warning per drifted feature."""
    counts = summary["counts"]
    logger.info(
        "scored %d leads (%s); skipped %s; quarantined %s",
        counts["scored"],
        ", ".join(f"{k} {v}" for k, v in summary["stages"].items()),
        ", ".join(f"{v} {k}" for k, v in counts["skipped"].items()) or "none",
        ", ".join(f"{v} {k}" for k, v in counts["quarantined"].items()) or "none",
    )
    drift = summary["drift"]
    for name in drift["drifted"]:
        logger.warning(
            "drift: PSI of %s is %.3f, above score.psi_warn=%.2f: the incoming leads no longer"
            " look like the training data",
            name,
            drift["psi"][name],
            drift["psi_warn"],
        )


def settings_for(
    params: dict[str, Any],
    *,
    chunk_size: int | None,
    reasons: str | None,
    workers: int | None = None,
) -> ScoreSettings:
    """The `score` params with the command line's overrides."""
    overrides: dict[str, Any] = {}
    if chunk_size is not None:
        overrides["chunk_size"] = chunk_size
    if workers is not None:
        overrides["workers"] = workers
    if reasons is not None:
        if reasons not in (REASONS_PATH, REASONS_SHAP):
            raise InputError(f"--reasons must be {REASONS_PATH} or {REASONS_SHAP}, not {reasons!r}")
        overrides["reasons_method"] = reasons
    return ScoreSettings(**{**ScoreSettings.from_params(params).__dict__, **overrides})


def main(
    leads: Annotated[Path, typer.Option(help="Leads file (CSV or Parquet).")],
    output: Annotated[
        Path, typer.Option(help="Scores file (.csv or .parquet), written atomically.")
    ],
    activities: Annotated[
        Path | None, typer.Option(help="Activities file (CSV or Parquet).")
    ] = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="Outcomes file: converted leads are not scored.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this ISO 8601 moment (default: now, UTC).")
    ] = None,
    model: Annotated[
        str, typer.Option(help="MLflow model URI (models:/name@alias, models:/name/N, runs:/).")
    ] = DEFAULT_MODEL_URI,
    quarantine: Annotated[
        Path | None, typer.Option(help="Bad rows with reasons (default: beside the output).")
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option(min=1, help="Leads per chunk (default: score.chunk_size).")
    ] = None,
    fail_on_drift: Annotated[
        bool, typer.Option(help="Exit 4 when a PSI is above score.psi_warn.")
    ] = False,
    reasons: Annotated[
        str | None, typer.Option(help="Reasons method: path (fast) or shap (exact, ~25x slower).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes scoring chunks (default: score.workers, 2)."),
    ] = None,
    params: Annotated[Path, typer.Option(help="params.yaml (score and source sections).")] = Path(
        "params.yaml"
    ),
    engine: Annotated[
        Literal["local", "spark"],
        typer.Option(help="local, or spark: Parquet in, a Parquet directory out (see README)."),
    ] = "local",
) -> None:
    """Score every open lead with the registered model; stream in chunks; atomic output."""
    if engine == "spark":  # imported here only: the local engine never needs pyspark
        from pipelines.scoring.spark import main_spark

        return main_spark(
            leads=leads,
            output=output,
            activities=activities,
            outcomes=outcomes,
            as_of=as_of,
            model=model,
            quarantine=quarantine,
            chunk_size=chunk_size,
            fail_on_drift=fail_on_drift,
            reasons=reasons,
            params=params,
        )
    all_params = load_params(params) if params.exists() else {}
    settings = settings_for(all_params, chunk_size=chunk_size, workers=workers, reasons=reasons)
    moment = parse_as_of(as_of)
    for path in (leads, activities, outcomes):
        if path is not None:
            source_columns(TableSource(name="input", path=path, required=()))
    with progress_reporter() as progress:
        summary = run_score(
            leads=leads,
            activities=activities,
            outcomes=outcomes,
            output=output,
            quarantine=quarantine,
            as_of=moment,
            model=model,
            settings=settings,
            source=source_params(all_params),
            fail_on_drift=fail_on_drift,
            progress=progress,
        )
    logger.info(
        "model loaded in %.1f s (while the inputs were partitioned); output %s; summary %s",
        summary["timings_s"].get("model_load", 0.0),
        summary["output"],
        sidecar_paths(output, quarantine)[1],
    )


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
