"""The monitor's inputs: a past scoring output, the outcomes known since, sales feedback.

Scores are our own output, so a fault there is structural (one-line error). Outcomes and
feedback are exports: bad rows are quarantined with their reason (the extract stage's
validation helpers) and the rest is used.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from features.schemas import RawFeedback, RawOutcomes
from features.validation import (
    ExportStructureError,
    as_text,
    parse_label,
    parse_timestamp,
    schema_failures,
    split_by_reasons,
)
from pipelines.errors import InputError
from pipelines.io import read_table, utc_moment

logger = logging.getLogger(__name__)

SEGMENT = "segment"  # written by scoring when the model's thresholds are per segment
SCORE_COLUMNS = ("lead_id", "probability", "stage", "rule_score", "rule_stage", "model_version")
# pandera's not-null reason says "missing"; after parsing, unreadable cells are missing too
READABLE = {
    "decided_at missing": "decided_at missing or not an ISO 8601 timestamp",
    "accepted missing": "accepted missing or not yes/no",
}


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], *, path: Path) -> None:
    """A missing column is a structural fault: one line naming it."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: required column {missing[0]!r} is missing")


def numeric(frame: pd.DataFrame, column: str, *, path: Path) -> pd.Series:
    """A numeric column of the scores; any unreadable value is a structural fault."""
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any():
        raise InputError(f"{path}: column {column!r} has missing or non-numeric values")
    return values.astype(float)


def read_scores(path: Path) -> tuple[pd.DataFrame, str]:
    """(a `leadscore score` output with `start`: the moment its scores describe, its source).

    `start` is the scores' `as_of` column when present, else the run summary's `as_of`
    (beside the scores, same `scored_at`), else `scored_at`: a run scored as of a past
    moment describes that moment, not the moment it ran.
    """
    frame = read_table(path)
    require_columns(frame, (*SCORE_COLUMNS, "scored_at"), path=path)
    if frame.empty:
        raise InputError(f"{path}: no scored leads")
    scored_at = parse_timestamp(frame["scored_at"])
    if scored_at.isna().any():
        raise InputError(f"{path}: column 'scored_at' has missing or unreadable timestamps")
    out = frame.assign(
        lead_id=as_text(frame["lead_id"]),
        probability=numeric(frame, "probability", path=path),
        rule_score=numeric(frame, "rule_score", path=path),
        stage=frame["stage"].astype("str"),
        rule_stage=frame["rule_stage"].astype("str"),
        model_version=frame["model_version"].astype("str"),
        scored_at=scored_at,
    )
    if "lead_age_days" in frame:
        out["lead_age_days"] = pd.to_numeric(frame["lead_age_days"], errors="coerce")
    if SEGMENT in frame:  # per-segment thresholds: the lead's value as text, missing stays so
        out[SEGMENT] = as_text(frame[SEGMENT])
    start, source = start_of(out, path=path)
    return out.assign(start=start), source


def start_of(scores: pd.DataFrame, *, path: Path) -> tuple[pd.Series, str]:
    """(the moment each row describes, where it came from)."""
    if "as_of" in scores:
        as_of = parse_timestamp(scores["as_of"])
        if as_of.notna().all():
            return as_of, "as_of column"
    summary_path = path.with_name(f"{path.stem}.summary.json")
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
            as_of = utc_moment(str(summary["as_of"]), what="summary as_of")
            ran = utc_moment(str(summary["scored_at"]), what="summary scored_at")
        except (OSError, ValueError, KeyError, InputError):
            logger.warning("%s: unreadable run summary; windows start at scored_at", summary_path)
        else:
            if (scores["scored_at"] == ran).all():
                return pd.Series(as_of, index=scores.index).astype(scores["scored_at"].dtype), (
                    f"as_of of {summary_path.name}"
                )
    return scores["scored_at"], "scored_at"


def validated_events(
    path: Path,
    *,
    table: str,
    required: tuple[str, ...],
    time_column: str,
    model: type,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clean rows, quarantine records) of an outcomes or feedback export."""
    source = read_table(path)
    require_columns(source, required, path=path)
    frame = source.assign(
        lead_id=as_text(source["lead_id"]), **{time_column: parse_timestamp(source[time_column])}
    )
    if table == "feedback":
        frame["accepted"] = parse_label(source["accepted"])
        reason = source["reason"] if "reason" in source else pd.Series(pd.NA, index=source.index)
        frame["reason"] = as_text(reason.astype("string"))
    try:
        reasons = schema_failures(frame, model.to_schema(), table=table)
    except ExportStructureError as exc:
        raise InputError(f"{path}: {exc}") from exc
    reasons = reasons.replace(READABLE)
    clean, bad = split_by_reasons(frame, reasons, table=table, source=source)
    if len(bad):
        logger.warning("%s: %d bad rows quarantined", path, len(bad))
    return clean.reset_index(drop=True), bad


def read_outcomes(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Conversions (lead_id, converted_at) and the quarantined rows."""
    return validated_events(
        path,
        table="outcomes",
        required=("lead_id", "converted_at"),
        time_column="converted_at",
        model=RawOutcomes,
    )


def read_feedback(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sales' decisions (lead_id, decided_at, accepted 0/1, reason) and the quarantined rows."""
    clean, bad = validated_events(
        path,
        table="feedback",
        required=("lead_id", "decided_at", "accepted"),
        time_column="decided_at",
        model=RawFeedback,
    )
    return clean[["lead_id", "decided_at", "accepted", "reason"]], bad
