"""Pandera schemas for the canonical export (raw) and the feature table.

Raw tables arrive with their columns renamed to the canonical names below; timestamps are
parsed to UTC before validation so that an unparseable cell fails one row, not the file.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


class RawLeads(pa.DataFrameModel):
    """One row per lead; any other columns are attributes."""

    lead_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})

    class Config:
        strict = False


class TimedRawLeads(RawLeads):
    """Leads of a time-aware export."""

    created_at: Series[UTC_NS] = pa.Field(nullable=False)  # type: ignore[valid-type]


class LabelledRawLeads(RawLeads):
    """Leads of a single-table export carrying its own 0/1 label."""

    label: Series[float] = pa.Field(nullable=False, isin=[0.0, 1.0])


class RawActivities(pa.DataFrameModel):
    """One row per marketing or sales event."""

    lead_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    occurred_at: Series[UTC_NS] = pa.Field(nullable=False)  # type: ignore[valid-type]
    activity_type: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})

    class Config:
        strict = False


class RawOutcomes(pa.DataFrameModel):
    """One row per converted lead."""

    lead_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    converted_at: Series[UTC_NS] = pa.Field(nullable=False)  # type: ignore[valid-type]

    class Config:
        strict = False


def with_time_bound(
    schema: pa.DataFrameSchema, *, column: str, latest: pd.Timestamp
) -> pa.DataFrameSchema:
    """Add a 'not in the future' check to a timestamp column of a schema."""
    existing = list(schema.columns[column].checks)
    check = pa.Check.le(latest, name="not_in_future", error=f"{column} is in the future")
    return schema.update_column(column, checks=[*existing, check])


def feature_table_schema(
    *, categorical: list[str], numeric: list[str], training: bool
) -> pa.DataFrameSchema:
    """Strict schema of the feature table (plus `label` and `cohort` when training)."""
    columns: dict[str, pa.Column] = {
        "lead_id": pa.Column(str, unique=True, nullable=False),
        "as_of": pa.Column(UTC_NS, nullable=True),
    }
    columns |= {name: pa.Column("category", nullable=True) for name in categorical}
    columns |= {
        name: pa.Column(float, nullable=True, checks=pa.Check(_finite_or_missing, name="finite"))
        for name in numeric
    }
    if training:
        columns["label"] = pa.Column(int, pa.Check.isin([0, 1]))
        columns["cohort"] = pa.Column(str, pa.Check.isin(["train", "calibration", "test"]))
    return pa.DataFrameSchema(columns, strict=True, ordered=False, name="FeatureTable")


def _finite_or_missing(values: pd.Series) -> pd.Series:
    return values.isna() | values.abs().lt(float("inf"))
