"""Batch scoring on Spark: the single-machine job's checks, features and MLflow model, scaled out.

`leadscore score --engine spark ...` (or `spark-submit pipelines/scoring/spark.py ...`, same
options) reads leads, activities and outcomes as Spark DataFrames (Parquet files or directories).
Every row gets its lead's hash slot (`pipelines.scoring.partition.lead_slots`, as the single-machine
job) and the bucket of that slot; leads with their outcomes are cogrouped with the activities by
bucket, and each bucket goes through the single-machine job's steps: the extract stage's checks
(`validate_export`), open-lead selection and `features.build.build_feature_table` with the
model's configuration. `mlflow.pyfunc.spark_udf` then scores the model inputs with the same
registered model version, the thresholds in force passed as params. Output: Parquet partitioned
by stage, written to a temporary directory and renamed; the quarantine CSV and the JSON summary
go beside it, as in the single-machine job. pyspark is imported here only, so the default engine
never needs it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import json
import logging
import os
import posixpath
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import typer

from features.build import FeatureConfig, build_feature_table
from features.validation import QUARANTINE_COLUMNS, mask_sentinels
from models.artifact import REASONS_SHAP, model_input
from models.drift import observed_shares
from models.train import ModelSpec
from pipelines.errors import InputError, LeadscoreError
from pipelines.io import CSV_SUFFIXES
from pipelines.scoring.chunk import RunState, lead_age_days, new_state, validate_chunk
from pipelines.scoring.job import (
    check_approved,
    finish,
    load_model,
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
from pipelines.scoring.lifecycle import SigtermStop, stop_on_sigterm
from pipelines.scoring.options import (
    DEFAULT_MODEL_URI,
    DEFAULT_PARAMS,
    Activities,
    AsOf,
    ChunkSize,
    FailOnDrift,
    Leads,
    Model,
    Outcomes,
    Output,
    Params,
    Previous,
    Quarantine,
    Reasons,
    RequireApproved,
)
from pipelines.scoring.partition import N_SLOTS, ROW, SLOT, TableSource, canonical_names, lead_slots
from pipelines.scoring.settings import (
    APPROVED_STATUS,
    NO_SEGMENT,
    PROPOSED_STATUS,
    SEGMENT,
    TABLES,
    LoadedModel,
    ScoreSettings,
    Thresholds,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

logger = logging.getLogger(__name__)

# Session settings the job relies on (runtime SQL settings: set on a running session for the
# job's duration, then restored).
SESSION_CONF = {
    # timestamps reach the checks and the quarantine records as in the single-machine job
    "spark.sql.session.timeZone": "UTC",
    # pandas writes nanosecond timestamps, which Spark reads only as numbers (converted below)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # scored_at written as a plain UTC timestamp, not the legacy INT96
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # fewer, larger Arrow batches to and from Python (10k by default): ~1.3x faster end to end
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
}
KIND = "__kind__"  # what a prepared row is: one of the four kinds below
FEATURES, BAD, STATS, ERROR = "features", "bad", "stats", "error"
TABLE, SOURCE_ROW, REASON, RECORD = "__table__", "__source_row__", "__reason__", "__record__"
BUCKET = "__bucket__"
AGE = "__lead_age_days__"  # the output's lead_age_days (apart: it may also be a model feature)
OUTCOMES_PREFIX = "__outcomes__"  # outcome columns, beside the leads' in one DataFrame
SCORES = "__scores__"
RESULT_TYPE = (
    "probability double, stage string, rule_score double, rule_stage string, reasons string"
)
LEARNED_RESULT_TYPE = RESULT_TYPE.replace(
    "rule_stage string,", "rule_stage string, learned_points double,"
)  # the pyfunc's output when the bundle holds a learned card
CSV_ROWS = 10_000  # quarantine rows per CSV write


@dataclass(frozen=True)
class BucketSpec:
    """What preparing a bucket needs, shipped to the executors (no model, no Spark)."""

    feature_config: FeatureConfig
    model_spec: ModelSpec
    references: dict[str, Any]
    as_of: pd.Timestamp
    latest: pd.Timestamp
    timed: bool
    sentinels: dict[str, list[str]]
    lead_columns: tuple[str, ...]
    outcome_columns: tuple[str, ...] | None


def prepared_schema(spec: ModelSpec) -> pa.Schema:
    """One schema for every prepared row: model inputs, quarantine rows and bucket counters."""
    features = [
        pa.field(name, pa.string() if name in spec.categorical else pa.float64())
        for name in spec.features
    ]
    return pa.schema(
        [
            pa.field(KIND, pa.string()),
            pa.field("lead_id", pa.string()),
            *features,
            pa.field(AGE, pa.float64()),
            pa.field(TABLE, pa.string()),
            pa.field(SOURCE_ROW, pa.int64()),
            pa.field(SLOT, pa.int32()),
            pa.field(REASON, pa.string()),
            pa.field(RECORD, pa.string()),
        ]
    )


def tagged(frame: pd.DataFrame, *, kind: str, schema: pa.Schema) -> pa.Table:
    """`frame` as prepared rows of one kind; the columns it lacks are null."""
    arrays = [
        pa.array(frame[f.name], type=f.type, from_pandas=True)
        if f.name in frame
        else pa.nulls(len(frame), f.type)
        for f in schema
    ]
    arrays[schema.get_field_index(KIND)] = pa.array([kind] * len(frame), pa.string())
    return pa.Table.from_arrays(arrays, schema=schema)


def quoted(name: str) -> str:
    """A column name as a Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def source_frame(table: pa.Table, columns: Iterable[str]) -> pd.DataFrame:
    """Rows in file order indexed by source row, with their slot, as a single-machine bucket."""
    ordered = table.select([*columns, ROW, SLOT]).sort_by(ROW)
    return ordered.to_pandas().set_index(ROW).rename_axis(None)


def prepare_bucket(spec: BucketSpec, left: pa.Table, activities: pa.Table | None) -> pa.Table:
    """Prepared rows of one bucket (leads and outcomes in `left`); errors become an ERROR row."""
    try:
        return _prepare_bucket(spec, left, activities)
    except LeadscoreError as exc:  # raised again by the driver, as a one-line error
        payload = json.dumps({"message": str(exc), "exit_code": exc.exit_code})
        schema = prepared_schema(spec.model_spec)
        return tagged(pd.DataFrame({RECORD: [payload]}), kind=ERROR, schema=schema)


def _prepare_bucket(spec: BucketSpec, left: pa.Table, activities: pa.Table | None) -> pa.Table:
    """Validate, select the open leads and build their model inputs, as `score_bucket` does."""
    is_lead = pc.equal(left[TABLE], "leads")
    frames = {"leads": source_frame(left.filter(is_lead), spec.lead_columns)}
    if spec.outcome_columns is not None:
        outcomes = left.filter(pc.invert(is_lead)).select(
            [OUTCOMES_PREFIX + name for name in spec.outcome_columns] + [ROW, SLOT]
        )
        outcomes = outcomes.rename_columns([*spec.outcome_columns, ROW, SLOT])
        frames["outcomes"] = source_frame(outcomes, spec.outcome_columns)
    if activities is not None:
        names = [c for c in activities.column_names if c not in (ROW, SLOT, BUCKET)]
        frames["activities"] = source_frame(activities, names)
    state = new_state()
    state.read = {name: len(frame) for name, frame in frames.items()}
    # as in a single-machine bucket, a table with no rows here is absent (leads: an empty
    # table, so that the events of leads that are nowhere are quarantined, not lost)
    frames = {name: frame for name, frame in frames.items() if name == "leads" or len(frame)}
    if spec.sentinels:  # as extract does before validation
        frames["leads"] = mask_sentinels(frames["leads"], spec.sentinels)
    chunk = validate_chunk(
        leads=frames["leads"],
        activities=frames.get("activities"),
        outcomes=frames.get("outcomes"),
        as_of=spec.as_of,
        latest=spec.latest,
        timed=spec.timed,
        state=state,
    )
    table = build_feature_table(
        leads=chunk.open_leads,
        activities=chunk.activities,
        as_of=pd.Series(spec.as_of, index=chunk.open_leads.index, dtype="datetime64[ns, UTC]"),
        config=spec.feature_config,
    )
    for name, reference in spec.references.items():
        if name in table:  # the probability's share is counted once scored
            state.drift_counts[name] = observed_shares(table[name], reference) * len(table)
    inputs = model_input(table, spec.model_spec)
    inputs["lead_id"] = table["lead_id"].astype(str).to_numpy()
    inputs[AGE] = lead_age_days(chunk.open_leads, as_of=spec.as_of)
    bad_rows = chunk.quarantine.rename(
        columns={"table": TABLE, "source_row": SOURCE_ROW, "reason": REASON, "record": RECORD}
    ).assign(**{SLOT: chunk.quarantine_slots})
    counters = {
        "read": state.read,
        "quarantined": state.quarantined,
        "skipped": state.skipped,
        "drift_counts": {name: counts.tolist() for name, counts in state.drift_counts.items()},
    }
    schema = prepared_schema(spec.model_spec)
    return pa.concat_tables(
        [
            tagged(inputs, kind=FEATURES, schema=schema),
            tagged(bad_rows, kind=BAD, schema=schema),
            tagged(pd.DataFrame({RECORD: [json.dumps(counters)]}), kind=STATS, schema=schema),
        ]
    )


def score_counters(
    probability_reference: dict[str, Any] | None, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Stage counts and the probability's drift counts of scored rows, one JSON row in all."""
    state = new_state()
    for batch in batches:
        frame = batch.to_pandas()
        state.scored += len(frame)
        state.add_counts(state.stages, frame["stage"].value_counts())
        state.add_counts(state.rule_stages, frame["rule_stage"].value_counts())
        if probability_reference is not None:
            counts = observed_shares(frame["probability"], probability_reference) * len(frame)
            state.drift_counts["probability"] = state.drift_counts.get("probability", 0) + counts
    counters = {
        "scored": state.scored,
        "stages": state.stages,
        "rule_stages": state.rule_stages,
        "drift_counts": {name: np.asarray(c).tolist() for name, c in state.drift_counts.items()},
    }
    yield pa.record_batch({RECORD: [json.dumps(counters)]})


def state_of(counters: dict[str, Any]) -> RunState:
    """A RunState from a JSON counters record (missing fields are zero)."""
    drift = {name: np.asarray(counts) for name, counts in counters["drift_counts"].items()}
    return RunState(
        read=counters.get("read", {}),
        quarantined=counters.get("quarantined", {}),
        skipped=counters.get("skipped", {}),
        stages=counters.get("stages", {}),
        rule_stages=counters.get("rule_stages", {}),
        drift_counts=drift,
        scored=counters.get("scored", 0),
    )


class HadoopFiles:
    """Files wherever Spark resolves a path (local disk, HDFS, S3...), through Hadoop's API."""

    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _resolve(self, path: str) -> tuple[Any, Any]:
        hadoop_path = self._jvm.org.apache.hadoop.fs.Path(path)
        return hadoop_path, hadoop_path.getFileSystem(self._conf)

    def exists(self, path: str) -> bool:
        """Whether a file or directory is there."""
        hadoop_path, fs = self._resolve(path)
        return bool(fs.exists(hadoop_path))

    def delete(self, path: str) -> None:
        """Remove a file or a directory tree (nothing if absent)."""
        hadoop_path, fs = self._resolve(path)
        fs.delete(hadoop_path, True)

    def write_text(self, path: str, chunks: Iterable[str]) -> None:
        """Write UTF-8 text, chunk by chunk, to a new file (replaced if there)."""
        hadoop_path, fs = self._resolve(path)
        stream = fs.create(hadoop_path, True)
        try:
            for chunk in chunks:
                stream.write(bytearray(chunk.encode("utf-8")))
        finally:
            stream.close()

    def replace(self, source: str, target: str) -> None:
        """Move `source` (a file or a directory) to `target`, replacing what was there."""
        source_path, fs = self._resolve(source)
        target_path, _ = self._resolve(target)
        previous = None
        if fs.exists(target_path):  # a rename never overwrites: move the old one aside first
            previous = self._jvm.org.apache.hadoop.fs.Path(temporary_beside(target, "old"))
            fs.rename(target_path, previous)
        if not fs.rename(source_path, target_path):
            raise OSError(f"cannot rename {source} to {target}")
        if previous is not None:
            fs.delete(previous, True)

    def nanosecond_timestamps(self, file: str) -> dict[str, bool]:
        """Columns of a Parquet file stored as nanosecond timestamps: name -> adjusted to UTC."""
        jvm = self._jvm
        hadoop_path, _ = self._resolve(file)
        source = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(
            hadoop_path, self._conf
        )
        reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(source)
        try:
            fields = reader.getFooter().getFileMetaData().getSchema().getFields()
        finally:
            reader.close()
        annotations = {str(f.getName()): str(f.getLogicalTypeAnnotation()) for f in fields}
        return {
            name: annotation.endswith("true)")
            for name, annotation in annotations.items()
            if annotation.startswith("TIMESTAMP(NANOS")
        }


def temporary_beside(path: str, label: str) -> str:
    """A unique path in the directory of `path` (not hidden: Spark skips hidden paths)."""
    directory, name = posixpath.split(path.rstrip("/"))
    return posixpath.join(directory, f"{name}.{label}-{uuid.uuid4().hex[:12]}")


@contextmanager
def session_conf(spark: SparkSession, conf: dict[str, str]) -> Iterator[None]:
    """Runtime settings of the session set for the block, then put back as they were."""
    previous = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def spark_session() -> SparkSession:
    """The running session (spark-submit's), else a local one whose workers run this Python."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        from pyspark.errors import PySparkRuntimeError
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise LeadscoreError("--engine spark needs pyspark: pip install -e '.[spark]'") from exc
    try:
        return SparkSession.builder.appName("leadscore-score").getOrCreate()
    except PySparkRuntimeError as exc:  # e.g. no Java
        message = str(exc).strip().splitlines()[0]
        raise LeadscoreError(f"cannot start Spark (it needs Java 17+): {message}") from exc


def slot_of(ids: Column) -> Column:
    """Hash slot of each lead id: `lead_slots` of its text form, as the single-machine job."""
    from pyspark.sql.functions import arrow_udf

    def slots(values: pa.Array) -> pa.Array:  # shipped by value; workers import partition
        return pa.array(lead_slots(values), type=pa.int32())

    return arrow_udf(slots, "int")(ids.cast("string"))


def source_rows(frame: DataFrame) -> Column:
    """0-based row of each record in its dataset: files in path order, then rows in each file."""
    from pyspark.sql import functions as sf

    row = sf.col("_metadata.row_index")
    if len(frame.inputFiles()) <= 1:
        return row
    counts = sorted(frame.groupBy(sf.col("_metadata.file_path")).count().collect())
    offsets = itertools.accumulate([n for _, n in counts[:-1]], initial=0)
    pairs = [
        sf.lit(value)
        for (path, _), first in zip(counts, offsets, strict=True)
        for value in (path, first)
    ]
    return row + sf.create_map(*pairs)[sf.col("_metadata.file_path")]


def read_table(spark: SparkSession, files: HadoopFiles, source: TableSource) -> DataFrame:
    """A Parquet file or directory with canonical column names, source row and hash slot."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as sf

    path = str(source.path)
    if posixpath.splitext(path.rstrip("/"))[1].lower() in CSV_SUFFIXES:
        raise InputError(f"{path}: the Spark engine reads Parquet (use --engine local for CSV)")
    if not files.exists(path):
        raise InputError(f"{path}: file not found")
    try:
        frame = spark.read.parquet(path)
        data_files = frame.inputFiles()
        nanos = files.nanosecond_timestamps(data_files[0]) if data_files else {}
    except AnalysisException as exc:
        message = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: not a readable parquet file ({message})") from exc
    names = canonical_names(source, [c.strip() for c in frame.columns])
    columns = []
    for column, name in zip(frame.columns, names, strict=True):
        value = sf.col(quoted(column))
        if column in nanos:  # whole microseconds (floored), as Spark keeps timestamps
            nanoseconds = quoted(column)
            value = sf.expr(
                f"timestamp_micros(({nanoseconds} - pmod({nanoseconds}, 1000)) div 1000)"
            )
            value = value if nanos[column] else value.cast("timestamp_ntz")
        columns.append(value.alias(name))
    table = frame.select(*columns, source_rows(frame).alias(ROW))
    return table.withColumn(SLOT, slot_of(sf.col("lead_id")))


def write_quarantine(files: HadoopFiles, path: str, bad_rows: DataFrame) -> None:
    """The quarantine CSV, streamed from the executors in the single-machine job's order."""
    from pyspark.sql import functions as sf

    order = sf.array_position(sf.array(*[sf.lit(t) for t in TABLES]), sf.col(TABLE))
    # one sorted partition: one job, where a global sort would run one per partition
    ordered = bad_rows.coalesce(1).sortWithinPartitions(SLOT, order, SOURCE_ROW)
    rows = ordered.select(TABLE, SOURCE_ROW, "lead_id", REASON, RECORD).toLocalIterator()

    def chunks() -> Iterator[str]:
        yield pd.DataFrame(columns=QUARANTINE_COLUMNS).to_csv(index=False)
        while chunk := list(itertools.islice(rows, CSV_ROWS)):
            frame = pd.DataFrame.from_records(chunk, columns=QUARANTINE_COLUMNS)
            yield frame.to_csv(header=False, index=False)

    files.write_text(path, chunks())


def udf_params(model: LoadedModel, thresholds: Thresholds, settings: ScoreSettings) -> dict:
    """The pyfunc params for the thresholds and reasons in force, as far as the model takes them."""
    from mlflow.models import get_model_info

    params: dict[str, Any] = {
        "mql_threshold": thresholds.mql,
        "sql_threshold": thresholds.sql,
        "top_reasons": settings.top_reasons,
        "reasons_method": settings.reasons_method,
        "segments": json.dumps(thresholds.segments),  # approved per-segment thresholds
    }
    signature = get_model_info(pinned_uri(model)).signature
    accepted = (
        {p.name for p in signature.params.params} if signature and signature.params else set()
    )
    if "reasons_method" not in accepted and settings.reasons_method != REASONS_SHAP:
        logger.warning(
            "model version %s predates the reasons_method param: its reasons are SHAP's,"
            " not %s (retrain to choose)",
            model.version,
            settings.reasons_method,
        )
    return {key: value for key, value in params.items() if key in accepted}


def pinned_uri(model: LoadedModel) -> str:
    """The model's URI by version, so that an alias moving mid-run changes nothing."""
    if model.registered_name is not None and model.version.isdigit():
        return f"models:/{model.registered_name}/{model.version}"
    return model.uri


def prepare_buckets(tables: dict[str, DataFrame], *, spec: BucketSpec, n_buckets: int) -> DataFrame:
    """Prepared rows of every bucket: leads with their outcomes, cogrouped with the activities."""
    from pyspark.sql import functions as sf

    bucket = sf.expr(f"CAST(({SLOT} * {n_buckets}) div {N_SLOTS} AS INT)").alias(BUCKET)
    left = tables["leads"].select("*", sf.lit("leads").alias(TABLE), bucket)
    if spec.outcome_columns is not None:
        renamed = [sf.col(quoted(c)).alias(OUTCOMES_PREFIX + c) for c in spec.outcome_columns]
        right = tables["outcomes"].select(*renamed, ROW, SLOT, sf.lit("outcomes").alias(TABLE))
        left = left.unionByName(right.select("*", bucket), allowMissingColumns=True)
    # n_buckets partitions: about a bucket per task, not one task per shuffle partition
    left = left.repartition(n_buckets, BUCKET).groupBy(BUCKET)
    schema = spark_schema(prepared_schema(spec.model_spec))
    if "activities" in tables:
        events = tables["activities"].select("*", bucket).repartition(n_buckets, BUCKET)
        prepare = functools.partial(prepare_bucket, spec)
        return left.cogroup(events.groupBy(BUCKET)).applyInArrow(prepare, schema)

    def prepare_leads(leads_and_outcomes: pa.Table) -> pa.Table:
        """A bucket with no activities file (typed: pyspark reads the hints)."""
        return prepare_bucket(spec, leads_and_outcomes, None)

    return left.applyInArrow(prepare_leads, schema)


def bucket_counters(prepared: DataFrame) -> RunState:
    """The buckets' counters summed; a bucket's error is raised here, as the one-line error."""
    from pyspark.sql import functions as sf

    state = new_state()
    counters = prepared.filter(sf.col(KIND).isin(STATS, ERROR)).select(KIND, RECORD)
    for kind, record in sorted(counters.collect()):
        if kind == ERROR:
            error = json.loads(record)
            raise LeadscoreError(error["message"], exit_code=error["exit_code"])
        state.merge(state_of(json.loads(record)))
    return state


def write_scores(
    prepared: DataFrame,
    *,
    path: str,
    spec: BucketSpec,
    model: LoadedModel,
    thresholds: Thresholds,
    params: dict[str, Any],
    scored_at: pd.Timestamp,
) -> None:
    """Score the model inputs with `spark_udf`; write the output columns, partitioned by stage."""
    import mlflow
    from pyspark.sql import functions as sf

    result_type = LEARNED_RESULT_TYPE if model.learned else RESULT_TYPE
    predict = mlflow.pyfunc.spark_udf(
        prepared.sparkSession,
        pinned_uri(model),
        result_type=f"{result_type}, segment string" if model.segmented else result_type,
        env_manager="local",
        params=params,
    )
    features = sf.struct(*[sf.col(quoted(name)) for name in spec.model_spec.features])
    scores = prepared.filter(sf.col(KIND) == FEATURES).select(
        "lead_id", AGE, predict(features).alias(SCORES)
    )
    constants = {
        "model_version": sf.lit(model.version),
        "thresholds_status": row_status(model, thresholds, sf.col(f"{SCORES}.{SEGMENT}"))
        if model.segmented
        else sf.lit(thresholds.status),
        "scored_at": sf.lit(scored_at.to_pydatetime()),
        "lead_age_days": sf.col(AGE),
    }
    columns = [
        constants[name].alias(name)
        if name in constants
        else sf.col(name if name == "lead_id" else f"{SCORES}.{name}")
        for name in model.output_columns
    ]
    scores.select(*columns).write.mode("overwrite").partitionBy("stage").parquet(path)


def row_status(model: LoadedModel, thresholds: Thresholds, segment: Any) -> Any:
    """`thresholds_status` per row as the local engine's (`Thresholds.row_status`)."""
    from pyspark.sql import functions as sf

    own = sorted(model.scorer.segment_thresholds())
    approved = sorted(thresholds.segments)
    status = sf.lit(thresholds.status)
    if own:
        status = sf.when(segment.isin(own), sf.lit(PROPOSED_STATUS)).otherwise(status)
    if approved:
        status = sf.when(segment.isin(approved), sf.lit(APPROVED_STATUS)).otherwise(status)
    return status


def output_counters(spark: SparkSession, path: str, spec: BucketSpec) -> RunState:
    """Stage counts and the probability's drift counts, read back from the written output;
    stages per segment when the output has segments."""
    from pyspark.sql import functions as sf

    output = spark.read.parquet(path)
    written = output.select("stage", "rule_stage", "probability")
    count = functools.partial(score_counters, spec.references.get("probability"))
    state = new_state()
    for (record,) in written.mapInArrow(count, f"{RECORD} string").collect():
        state.merge(state_of(json.loads(record)))
    if SEGMENT in output.columns:
        segment = sf.coalesce(sf.col(SEGMENT), sf.lit(NO_SEGMENT))
        for value, stage, n in output.groupBy(segment, "stage").count().collect():
            state.by_segment.setdefault(str(value), {})[str(stage)] = int(n)
    return state


def run_spark_score(
    *,
    spark: SparkSession,
    leads: str,
    activities: str | None,
    outcomes: str | None,
    output: str,
    quarantine: str | None = None,
    as_of: pd.Timestamp,
    model: LoadedModel,
    settings: ScoreSettings,
    source: dict[str, Any],
    fail_on_drift: bool = False,
) -> dict[str, Any]:
    """Score every open lead on Spark; output, quarantine and summary as the local engine.

    SIGTERM stops the run (`StoppedError`): Spark jobs cancelled, temporary outputs removed.
    """
    started = time.perf_counter()
    files = HadoopFiles(spark)
    quarantine_path, summary_path = sidecar_paths(output, quarantine)
    paths = {"output": output, "quarantine": quarantine_path, "summary": summary_path}
    sources = table_sources(leads=leads, activities=activities, outcomes=outcomes, source=source)
    thresholds = thresholds_for(model)
    params = udf_params(model, thresholds, settings)
    used = dataclasses.replace(settings, reasons_method=params.get("reasons_method", REASONS_SHAP))
    scored_at = pd.Timestamp.now(tz="UTC").floor("s")
    latest = settings.latest_event(as_of)
    with stop_on_sigterm() as sigterm, session_conf(spark, SESSION_CONF):
        tables = {name: read_table(spark, files, s) for name, s in sources.items()}
        n_leads = tables["leads"].count()
        if n_leads == 0:
            raise InputError(f"{leads}: no lead rows")
        # at most chunk_size leads per bucket, and a few buckets per core to balance the load
        parallelism = spark.sparkContext.defaultParallelism
        n_buckets = max(-(-n_leads // max(settings.chunk_size, 1)), 4 * parallelism)
        spec = bucket_spec(tables, model=model, as_of=as_of, latest=latest, source=source)
        prepared = prepare_buckets(tables, spec=spec, n_buckets=n_buckets)
        summary = score_prepared(
            prepared,
            files=files,
            spec=spec,
            model=model,
            thresholds=thresholds,
            params=params,
            settings=settings,
            summary_of=functools.partial(
                run_summary,
                model=model,
                thresholds=thresholds,
                settings=used,
                as_of=as_of,
                paths=paths,
                inputs={name: s.path for name, s in sources.items()},
            ),
            n_buckets=n_buckets,
            scored_at=scored_at,
            paths=paths,
            started=started,
            stop=sigterm,
        )
        write_summary(files, summary, summary_path)
    return finish(
        summary, summary_path=summary_path, psi_warn=settings.psi_warn, fail_on_drift=fail_on_drift
    )


def bucket_spec(
    tables: dict[str, DataFrame],
    *,
    model: LoadedModel,
    as_of: pd.Timestamp,
    latest: pd.Timestamp,
    source: dict[str, Any],
) -> BucketSpec:
    """What the executors need to prepare a bucket: the model's configuration, the moment,
    the columns of the tables."""
    outcome_columns = None
    if "outcomes" in tables:
        outcome_columns = tuple(c for c in tables["outcomes"].columns if c not in (ROW, SLOT))
    return BucketSpec(
        feature_config=model.scorer.feature_config,
        model_spec=model.scorer.spec,
        references=dict(model.scorer.bundle.get("references") or {}),
        as_of=as_of,
        latest=latest,
        timed=bool(source.get("timed", True)),
        sentinels=dict(source.get("missing_values_by_column") or {}),
        lead_columns=tuple(c for c in tables["leads"].columns if c not in (ROW, SLOT)),
        outcome_columns=outcome_columns,
    )


def score_prepared(
    prepared: DataFrame,
    *,
    files: HadoopFiles,
    spec: BucketSpec,
    model: LoadedModel,
    thresholds: Thresholds,
    params: dict[str, Any],
    settings: ScoreSettings,
    summary_of: Callable[..., dict[str, Any]],
    n_buckets: int,
    scored_at: pd.Timestamp,
    paths: dict[str, str],
    started: float,
    stop: SigtermStop,
) -> dict[str, Any]:
    """Quarantine, scores and counters of the prepared buckets; the outputs renamed into place
    (no output with too many bad rows); the summary."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as sf

    spark = prepared.sparkSession
    prepared = prepared.persist(StorageLevel.DISK_ONLY)  # read by three jobs below
    output_tmp = temporary_beside(paths["output"], "tmp")
    quarantine_tmp = temporary_beside(paths["quarantine"], "tmp")
    timings: dict[str, float] = {}
    try:
        start = time.perf_counter()
        state = bucket_counters(prepared)
        logger.info(
            "read %s; scoring as of %s in %d bucket(s) on Spark (%s)",
            ", ".join(f"{n:,} {t}" for t, n in state.read.items()),
            spec.as_of.isoformat(),
            n_buckets,
            spark.sparkContext.master,
        )
        write_quarantine(files, quarantine_tmp, prepared.filter(sf.col(KIND) == BAD))
        timings["prepare"] = time.perf_counter() - start
        bad_rows_error = too_many_bad_rows(state, settings, quarantine=paths["quarantine"])
        if bad_rows_error is None:
            start = time.perf_counter()
            write_scores(
                prepared,
                path=output_tmp,
                spec=spec,
                model=model,
                thresholds=thresholds,
                params=params,
                scored_at=scored_at,
            )
            state.merge(output_counters(spark, output_tmp, spec))
            timings["score"] = time.perf_counter() - start
        timings["total"] = time.perf_counter() - started
        summary = summary_of(state=state, timings=timings, n_chunks=n_buckets, scored_at=scored_at)
        summary["engine"] = f"spark ({spark.sparkContext.master})"
        stop.disarm()  # the outputs are complete: rename them all, never half of them
        files.replace(quarantine_tmp, paths["quarantine"])
        if bad_rows_error is not None:
            summary["status"] = "failed: too many bad rows"
            write_summary(files, summary, paths["summary"])
            raise bad_rows_error
        files.replace(output_tmp, paths["output"])
    except BaseException:
        if stop.received:  # SIGTERM: nothing more written to the temporary outputs
            with contextlib.suppress(Exception):
                spark.sparkContext.cancelAllJobs()
        raise
    finally:
        prepared.unpersist()
        files.delete(output_tmp)
        files.delete(quarantine_tmp)
    return summary


def write_summary(files: HadoopFiles, summary: dict[str, Any], path: str) -> None:
    """The JSON summary, as `pipelines.io.write_json` writes it (temporary file, then rename)."""
    tmp = temporary_beside(path, "tmp")
    files.write_text(tmp, [json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"])
    files.replace(tmp, path)


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema of strings, doubles and integers."""
    from pyspark.sql import types

    spark_types = {
        pa.string(): types.StringType(),
        pa.float64(): types.DoubleType(),
        pa.int64(): types.LongType(),
        pa.int32(): types.IntegerType(),
    }
    return types.StructType([types.StructField(f.name, spark_types[f.type]) for f in schema])


def main_spark(
    *,
    leads: Leads,
    output: Output,
    activities: Activities = None,
    outcomes: Outcomes = None,
    as_of: AsOf = None,
    model: Model = DEFAULT_MODEL_URI,
    quarantine: Quarantine = None,
    chunk_size: ChunkSize = None,
    fail_on_drift: FailOnDrift = False,
    reasons: Reasons = None,
    params: Params = DEFAULT_PARAMS,
    previous: Previous = None,
    require_approved: RequireApproved = False,
) -> None:
    """Score every open lead on Spark (`leadscore score --engine spark`, and the spark-submit
    entry point); paths: any URI Spark reads."""
    if previous is not None:
        raise InputError("--previous is not supported with --engine spark yet")
    all_params = read_params(params)
    settings = settings_for(all_params, chunk_size=chunk_size, reasons=reasons)
    moment = parse_as_of(as_of)
    if require_approved:
        check_approved(model)
    loaded = load_model(model)
    summary = run_spark_score(
        spark=spark_session(),
        leads=str(leads),
        activities=None if activities is None else str(activities),
        outcomes=None if outcomes is None else str(outcomes),
        output=str(output),
        quarantine=None if quarantine is None else str(quarantine),
        as_of=moment,
        model=loaded,
        settings=settings,
        source=source_params(all_params),
        fail_on_drift=fail_on_drift,
    )
    logger.info("output %s; summary %s", summary["output"], sidecar_paths(str(output), None)[1])


if __name__ == "__main__":  # spark-submit pipelines/scoring/spark.py --leads ... --output ...
    from pipelines.cli import configure, guarded

    configure(verbose=False)
    typer.run(guarded(main_spark))
