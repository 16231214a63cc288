"""`extract` stage: read the export, validate it with pandera, quarantine bad rows.

Every input row ends in exactly one place: a clean table under `data/interim/` or the
quarantine file with its reason. Structural faults stop the stage with a one-line reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from features.validation import (
    ExportStructureError,
    canonicalise,
    mask_sentinels,
    validate_export,
)
from features.vocabulary import slug_map
from pipelines.artifacts import INTERIM_DIR
from pipelines.config import SourceParams, load_config
from pipelines.errors import DataQualityError, InputError
from pipelines.io import read_table, write_json, write_table

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSpec:
    """Where the export is and what its columns are called (from the `source` params)."""

    leads: Path
    activities: Path | None = None
    outcomes: Path | None = None
    id_column: str = "lead_id"
    created_at_column: str | None = "created_at"
    label_column: str | None = None
    csv_separator: str = ","
    missing_values: list[str] = field(default_factory=list)
    missing_values_by_column: dict[str, list[str]] = field(default_factory=dict)
    activity_type_map: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, source: SourceParams) -> SourceSpec:
        """The files to read: a labelled single-table export reads no outcomes."""
        return cls(
            leads=Path(source.leads),
            activities=Path(source.activities) if source.activities else None,
            outcomes=Path(source.outcomes) if source.outcomes and not source.label_column else None,
            id_column=source.id_column or "lead_id",
            created_at_column=source.created_at_column,
            label_column=source.label_column,
            csv_separator=source.csv_separator or ",",
            missing_values=list(source.missing_values),
            missing_values_by_column={
                column: list(values) for column, values in source.missing_values_by_column.items()
            },
            activity_type_map=dict(source.activity_type_map),
        )


@contextmanager
def structure_errors_as_input_errors() -> Iterator[None]:
    """A structural fault found by the row checks stops the stage as an input error."""
    try:
        yield
    except ExportStructureError as exc:
        raise InputError(str(exc)) from exc


def read_export(spec: SourceSpec) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """Read the export's tables and rename their columns to the canonical names."""
    read = {"separator": spec.csv_separator, "missing_values": spec.missing_values}
    raw_leads = mask_sentinels(read_table(spec.leads, **read), spec.missing_values_by_column)
    if spec.id_column == "__row_number__":
        # Exports without an id: the 1-based row number is the id (documented in README).
        raw_leads.insert(0, "__row_number__", (raw_leads.index + 1).astype(str))
    lead_renames = {spec.id_column: "lead_id"}
    if spec.created_at_column:
        lead_renames[spec.created_at_column] = "created_at"
    if spec.label_column:
        lead_renames[spec.label_column] = "label"
    leads = canonicalise(
        raw_leads, renames=lead_renames, required=list(lead_renames.values()), table="leads"
    )
    activities = outcomes = None
    if spec.activities is not None:
        renames = {spec.id_column: "lead_id"}
        activities = canonicalise(
            read_table(spec.activities, **read),
            renames=renames,
            required=["lead_id", "occurred_at", "activity_type"],
            table="activities",
        )
        for column in ("occurred_at", "activity_type"):
            if column not in activities:
                raise InputError(f"activities: required column {column!r} is missing")
    if spec.outcomes is not None:
        outcomes = canonicalise(
            read_table(spec.outcomes, **read),
            renames={spec.id_column: "lead_id"},
            required=["lead_id"],
            table="outcomes",
        )
        if "converted_at" not in outcomes:
            raise InputError("outcomes: required column 'converted_at' is missing")
    if spec.label_column is None and outcomes is None:
        raise InputError("source needs either an outcomes file or a label_column")
    return leads, activities, outcomes


def run_extract(
    *, spec: SourceSpec, max_bad_row_share: float, max_future_skew_hours: float, out_dir: Path
) -> dict[str, Any]:
    """Read, validate and write the clean tables and the quarantine; return the summary."""
    try:
        slug_map(spec.activity_type_map)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    with structure_errors_as_input_errors():
        leads, activities, outcomes = read_export(spec)
    read = {"leads": len(leads)}
    if activities is not None:
        read["activities"] = len(activities)
    if outcomes is not None:
        read["outcomes"] = len(outcomes)
    if read["leads"] == 0:
        raise InputError(f"{spec.leads}: no lead rows")
    latest = pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=max_future_skew_hours)
    with structure_errors_as_input_errors():
        result = validate_export(
            leads=leads,
            activities=activities,
            outcomes=outcomes,
            timed=spec.created_at_column is not None,
            labelled=spec.label_column is not None,
            latest=latest,
            activity_type_map=spec.activity_type_map,
        )
    summary = result.summary(read=read)
    write_table(result.quarantine, out_dir / "quarantine.csv")
    write_json(summary, out_dir / "extract_summary.json")
    for table, counts in summary.items():
        share = counts["quarantined"] / max(counts["read"], 1)
        if share > max_bad_row_share:
            raise DataQualityError(
                f"{table}: {counts['quarantined']} of {counts['read']} rows ({share:.1%}) are bad,"
                f" above extract.max_bad_row_share={max_bad_row_share:.1%};"
                f" see {out_dir / 'quarantine.csv'}"
            )
    write_table(result.leads, out_dir / "leads.parquet")
    write_table(result.activities, out_dir / "activities.parquet")
    write_table(result.outcomes, out_dir / "outcomes.parquet")
    return summary


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    out_dir: Annotated[Path, typer.Option(help="Where the clean tables go.")] = INTERIM_DIR,
) -> None:
    """Validate the export named in params; write clean tables and the quarantine."""
    config = load_config(params)
    summary = run_extract(
        spec=SourceSpec.from_params(config.source),
        max_bad_row_share=config.extract.max_bad_row_share,
        max_future_skew_hours=config.extract.max_future_skew_hours,
        out_dir=out_dir,
    )
    for table, counts in summary.items():
        reasons = ", ".join(f"{r}: {n}" for r, n in counts["quarantined_by_reason"].items())
        logger.info(
            "%s: read %d, kept %d, quarantined %d%s",
            table,
            counts["read"],
            counts["kept"],
            counts["quarantined"],
            f" ({reasons})" if reasons else "",
        )
