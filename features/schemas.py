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


def with_time_bound(schema: pa.DataFrameSchema, *, column: str, latest: pd.Timestamp) -> pa.DataFrameSchema:
    """Add a 'not in the future' check to a timestamp column of a schema."""
    existing = list(schema.columns[column].checks)
    check = pa.Check.le(latest, name="not_in_future", error=f"{column} is in the future")
    return schema.update_column(column, checks=[*existing, check])
