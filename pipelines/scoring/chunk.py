"""Scoring one chunk of the lead base: the part of the batch job that runs in the workers.

A chunk (bucket) holds whole leads with all their activities and outcomes. It is validated
with the extract stage's checks (bad rows to the quarantine), reduced to the leads open at the
as-of moment, turned into features by `features.build.build_feature_table` with the model's
own configuration, and scored with the model's scoring bundle. Nothing here imports MLflow:
the workers stay small, and the parent process loads the model once.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import build_feature_table
from features.schemas import UTC_NS
from features.validation import (
    ENCODED_TEXT_COLUMNS,
    QUARANTINE_COLUMNS,
    mask_sentinels,
    text_isin,
    validate_export,
)
from models.drift import observed_shares
from models.stages import STAGE_ORDER
from pipelines.scoring.partition import SLOT, read_parts, tune_worker_allocators
from pipelines.scoring.previous import (
    PREVIOUS,
    clean_previous,
    stage_changes,
    with_previous_stage,
)
from pipelines.scoring.settings import (
    LEARNED_POINTS,
    NO_SEGMENT,
    SEGMENT,
    SKIPPED_CONVERTED,
    SKIPPED_NOT_CREATED,
    TABLES,
    LoadedModel,
    ScoreSettings,
    Thresholds,
)


@dataclass
class RunState:
    """Counters accumulated chunk by chunk (all sums, so chunking never changes them)."""

    read: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    rule_stages: dict[str, int] = field(default_factory=dict)
    entering: dict[str, int] = field(default_factory=dict)  # with --previous: stage changes
    leaving: dict[str, int] = field(default_factory=dict)
    previous: dict[str, int] = field(default_factory=dict)
    drift_counts: dict[str, np.ndarray] = field(default_factory=dict)
    by_segment: dict[str, dict[str, int]] = field(default_factory=dict)  # value -> stage -> n
    scored: int = 0
    probability_sum: float = 0.0

    def add_counts(self, target: dict[str, int], counts: pd.Series) -> None:
        """Add value counts into one of the counters."""
        for key, value in counts.items():
            target[str(key)] = target.get(str(key), 0) + int(value)

    def merge(self, other: RunState) -> None:
        """Add the counters of one bucket (buckets are merged in bucket order)."""
        for mine, theirs in (
            (self.read, other.read),
            (self.skipped, other.skipped),
            (self.stages, other.stages),
            (self.rule_stages, other.rule_stages),
            (self.entering, other.entering),
            (self.leaving, other.leaving),
            (self.previous, other.previous),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        for table, reasons in other.quarantined.items():
            target = self.quarantined.setdefault(table, {})
            for key, value in reasons.items():
                target[key] = target.get(key, 0) + value
        for value, stages in other.by_segment.items():
            mine = self.by_segment.setdefault(value, {})
            for key, count in stages.items():
                mine[key] = mine.get(key, 0) + count
        for name, counts in other.drift_counts.items():
            self.drift_counts[name] = self.drift_counts.get(name, 0) + counts
        self.scored += other.scored
        self.probability_sum += other.probability_sum


def new_state() -> RunState:
    """Counters at zero, with every stage and skip reason present."""
    return RunState(
        skipped={SKIPPED_NOT_CREATED: 0, SKIPPED_CONVERTED: 0},
        stages=dict.fromkeys(STAGE_ORDER, 0),
        rule_stages=dict.fromkeys(STAGE_ORDER, 0),
        entering=dict.fromkeys(STAGE_ORDER, 0),
        leaving=dict.fromkeys(STAGE_ORDER, 0),
    )


@dataclass(frozen=True)
class BucketJob:
    """Everything scoring a bucket needs besides its files (sent once to each worker)."""

    model: LoadedModel
    thresholds: Thresholds
    settings: ScoreSettings
    as_of: pd.Timestamp
    latest: pd.Timestamp
    timed: bool
    scored_at: pd.Timestamp
    sentinels: dict[str, list[str]]
    previous: str | None = None  # the last run's output (`--previous`), for stage changes


BucketResult = tuple[pd.DataFrame, pd.DataFrame, RunState] | None
_LOADED_JOB: dict[str, BucketJob] = {}  # in a worker: the job file it has read, by path


def write_job(job: BucketJob, path: Path) -> Path:
    """Pickle the job once for the workers (the model included): see `job_in`."""
    path.write_bytes(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def job_in(path: Path) -> BucketJob:
    """The job of a job file, read once per worker process (the workers start, and partition
    the inputs, before the parent has loaded the model, so they cannot get it at start)."""
    if str(path) not in _LOADED_JOB:
        _LOADED_JOB.clear()
        _LOADED_JOB[str(path)] = pickle.loads(path.read_bytes())
    return _LOADED_JOB[str(path)]


def score_parts(parts: dict[str, list[Path]], job: BucketJob | Path) -> BucketResult:
    """Read (and delete) one bucket's files and score it: (scored, quarantined, counters).

    `job`: the job, or its file (`write_job`) in a worker process."""
    job = job if isinstance(job, BucketJob) else job_in(job)
    tune_worker_allocators()
    frames = {
        name: read_parts(
            table_parts, keep_encoded=ENCODED_TEXT_COLUMNS if name == "activities" else ()
        )
        for name, table_parts in parts.items()
    }
    previous = frames.pop(PREVIOUS, None)
    if previous is not None and job.previous is not None:
        previous = clean_previous(previous, path=job.previous)
    if all(frame is None for frame in frames.values()):
        if previous is None:
            return None
        return previous_only(previous)  # leads scored last time, all gone from the inputs
    if frames["leads"] is None:  # events of leads that are nowhere: quarantined, not lost
        frames["leads"] = no_leads(timed=job.timed)
    elif job.sentinels:  # as extract does before validation
        frames["leads"] = mask_sentinels(frames["leads"], job.sentinels)
    state = new_state()
    scored, bad = score_bucket(
        leads=frames["leads"],
        activities=frames.get("activities"),
        outcomes=frames.get("outcomes"),
        model=job.model,
        thresholds=job.thresholds,
        settings=job.settings,
        as_of=job.as_of,
        latest=job.latest,
        timed=job.timed,
        scored_at=job.scored_at,
        state=state,
    )
    if job.previous is not None:
        scored = with_previous_stage(scored, previous)
        state.merge(RunState(**stage_changes(scored, previous)))
    return scored, bad, state


def previous_only(previous: pd.DataFrame) -> BucketResult:
    """The result of a bucket with leads in the previous output only: they all leave."""
    from pipelines.scoring.output import empty_output

    state = new_state()
    scored = empty_output(with_previous=True)
    state.merge(RunState(**stage_changes(scored, previous)))
    return scored, pd.DataFrame(columns=QUARANTINE_COLUMNS), state


def no_leads(*, timed: bool) -> pd.DataFrame:
    """The leads table of a bucket that got none (its events then have no lead)."""
    columns = {"lead_id": pd.Series(dtype="str")}
    if timed:
        columns["created_at"] = pd.Series(dtype=UTC_NS)
    return pd.DataFrame(columns | {SLOT: pd.Series(dtype=np.int32)})


@dataclass(frozen=True)
class ValidatedChunk:
    """A chunk after validation: its open leads, clean activities and quarantined rows."""

    open_leads: pd.DataFrame  # in (slot, source row) order
    activities: pd.DataFrame | None
    quarantine: pd.DataFrame  # in (slot, table, source row) order
    quarantine_slots: np.ndarray  # the hash slot of each quarantined row


def validate_chunk(
    *,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    outcomes: pd.DataFrame | None,
    as_of: pd.Timestamp,
    latest: pd.Timestamp,
    timed: bool,
    state: RunState,
) -> ValidatedChunk:
    """Validate a chunk and keep the leads open at `as_of`; skips and bad rows go to `state`.

    The tables are indexed by source row and carry their hash slot (`SLOT`, removed here);
    the checks are the extract stage's own (`validate_export`). The orders are those of the
    slots, so they never depend on how the leads were chunked.
    """
    frames = {"leads": leads, "activities": activities, "outcomes": outcomes}
    slots = {name: frame.pop(SLOT) for name, frame in frames.items() if frame is not None}
    result = validate_export(
        **frames, timed=timed, labelled=False, latest=latest, keep_index=True, keep_categories=True
    )
    clean_leads = result.leads
    open_mask = np.ones(len(clean_leads), dtype=bool)
    if timed:
        not_created = (clean_leads["created_at"] > as_of).to_numpy()
        state.skipped[SKIPPED_NOT_CREATED] += int(not_created.sum())
        open_mask &= ~not_created
    if outcomes is not None:
        converted = result.outcomes.loc[result.outcomes["converted_at"] <= as_of, "lead_id"]
        is_converted = text_isin(clean_leads["lead_id"], converted) & open_mask
        state.skipped[SKIPPED_CONVERTED] += int(is_converted.sum())
        open_mask &= ~is_converted
    bad = result.quarantine
    for table, group in bad.groupby("table"):
        state.add_counts(
            state.quarantined.setdefault(str(table), {}), group["reason"].value_counts()
        )
    lead_slots = slots["leads"].loc[clean_leads.index].to_numpy()
    lead_order = np.lexsort((clean_leads.index, lead_slots))
    bad_slots = np.zeros(len(bad), dtype=np.int32)
    for table, table_slots in slots.items():
        mine = (bad["table"] == table).to_numpy()
        if mine.any():
            bad_slots[mine] = table_slots.reindex(bad.loc[mine, "source_row"] - 1).to_numpy()
    bad_order = np.lexsort(
        (bad["source_row"].to_numpy(), bad["table"].map(TABLES.index).to_numpy(), bad_slots)
    )
    return ValidatedChunk(
        open_leads=clean_leads.iloc[lead_order[open_mask[lead_order]]],
        activities=result.activities if activities is not None else None,
        quarantine=bad.iloc[bad_order].reset_index(drop=True),
        quarantine_slots=bad_slots[bad_order],
    )


def score_bucket(
    *,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    outcomes: pd.DataFrame | None,
    model: LoadedModel,
    thresholds: Thresholds,
    settings: ScoreSettings,
    as_of: pd.Timestamp,
    latest: pd.Timestamp,
    timed: bool,
    scored_at: pd.Timestamp,
    state: RunState,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scored rows, quarantine rows) of one bucket (see `validate_chunk`); counters to `state`."""
    chunk = validate_chunk(
        leads=leads,
        activities=activities,
        outcomes=outcomes,
        as_of=as_of,
        latest=latest,
        timed=timed,
        state=state,
    )
    scored = score_leads(
        leads=chunk.open_leads,
        activities=chunk.activities,
        model=model,
        thresholds=thresholds,
        settings=settings,
        as_of=as_of,
        scored_at=scored_at,
        state=state,
    )
    return scored, chunk.quarantine


def score_leads(
    *,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    model: LoadedModel,
    thresholds: Thresholds,
    settings: ScoreSettings,
    as_of: pd.Timestamp,
    scored_at: pd.Timestamp,
    state: RunState,
) -> pd.DataFrame:
    """Feature table (the training feature function) and scores of clean, open leads."""
    scorer = model.scorer
    table = build_feature_table(
        leads=leads,
        activities=activities,
        as_of=pd.Series(as_of, index=leads.index, dtype="datetime64[ns, UTC]"),
        config=scorer.feature_config,
    )
    scores = scorer.score(
        table,
        override={
            **thresholds.override(),
            "top_reasons": settings.top_reasons,
            "reasons_method": settings.reasons_method,
        },
    )
    status: object = thresholds.status
    if SEGMENT in scores:
        status = thresholds.row_status(scores[SEGMENT], own=scorer.segment_thresholds())
        counts = scores.groupby([scores[SEGMENT].fillna(NO_SEGMENT), "stage"]).size()
        for value, stages in counts.groupby(level=0):
            state.add_counts(state.by_segment.setdefault(str(value), {}), stages.droplevel(0))
    references = scorer.bundle.get("references") or {}
    drift_frame = table.assign(probability=scores["probability"].to_numpy())
    for name, reference in references.items():
        if name in drift_frame:
            counts = observed_shares(drift_frame[name], reference) * len(drift_frame)
            state.drift_counts[name] = state.drift_counts.get(name, 0) + counts
    state.scored += len(table)
    state.add_counts(state.stages, scores["stage"].value_counts())
    state.add_counts(state.rule_stages, scores["rule_stage"].value_counts())
    return pd.DataFrame(
        {  # `.array`: text columns stay text (no round trip through Python objects)
            "lead_id": table["lead_id"].astype(str).array,
            "probability": scores["probability"].to_numpy(dtype=float),
            "stage": scores["stage"].astype(str).array,
            "rule_score": scores["rule_score"].to_numpy(dtype=float),
            "rule_stage": scores["rule_stage"].astype(str).array,
            LEARNED_POINTS: scores[LEARNED_POINTS].to_numpy(dtype=float)
            if LEARNED_POINTS in scores
            else None,
            "reasons": scores["reasons"].astype(str).array,
            "model_version": model.version,
            "thresholds_status": status,
            "scored_at": pd.Series(scored_at, index=range(len(table))),
            "lead_age_days": lead_age_days(leads, as_of=as_of),
            SEGMENT: scores[SEGMENT].array if SEGMENT in scores else None,
        },
        columns=model.output_columns,
    )


def lead_age_days(leads: pd.DataFrame, *, as_of: pd.Timestamp) -> np.ndarray:
    """Days from each lead's `created_at` to the as-of moment (NaN without a creation time)."""
    if "created_at" not in leads:
        return np.full(len(leads), np.nan)
    age = (as_of - leads["created_at"]) / pd.Timedelta(days=1)
    return age.to_numpy(dtype=float, na_value=np.nan)
