"""Pandera schemas for the canonical export (raw) and the feature table.

Raw tables arrive with their columns renamed to the canonical names below; timestamps are
parsed to UTC before validation so that an unparseable cell fails one row, not the file.
Each check's `error` is the reason a failing row gets in the quarantine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pa_compute
from pandera.engines.pandas_engine import Engine
from pandera.typing import Series

UTC_NS = pd.DatetimeTZDtype("ns", "UTC")
NOT_IN_FUTURE = "not_in_future"  # the name of `with_time_bound`'s check


class RawLeads(pa.DataFrameModel):
    """One row per lead; any other columns are attributes."""

    lead_id: Series[str] = pa.Field(
        nullable=False, str_length={"min_value": 1, "error": "lead_id empty"}
    )

    class Config:
        strict = False


class TimedRawLeads(RawLeads):
    """Leads of a time-aware export."""

    created_at: Series[UTC_NS] = pa.Field(nullable=False)  # type: ignore[valid-type]


class LabelledRawLeads(RawLeads):
    """Leads of a single-table export carrying its own 0/1 label."""

    label: Series[float] = pa.Field(
        nullable=False, isin={"allowed_values": [0.0, 1.0], "error": "label not an allowed value"}
    )


class RawActivities(pa.DataFrameModel):
    """One row per marketing or sales event."""

    lead_id: Series[str] = pa.Field(
        nullable=False, str_length={"min_value": 1, "error": "lead_id empty"}
    )
    occurred_at: Series[UTC_NS] = pa.Field(nullable=False)  # type: ignore[valid-type]
    activity_type: Series[str] = pa.Field(
        nullable=False, str_length={"min_value": 1, "error": "activity_type empty"}
    )

    class Config:
        strict = False


class RawOutcomes(pa.DataFrameModel):
    """One row per converted lead."""

    lead_id: Series[str] = pa.Field(
        nullable=False, str_length={"min_value": 1, "error": "lead_id empty"}
    )
    converted_at: Series[UTC_NS] = pa.Field(nullable=False)  # type: ignore[valid-type]

    class Config:
        strict = False


def with_time_bound(
    schema: pa.DataFrameSchema, *, column: str, latest: pd.Timestamp
) -> pa.DataFrameSchema:
    """Add a 'not in the future' check to a timestamp column of a schema."""
    existing = list(schema.columns[column].checks)
    check = pa.Check.le(latest, name=NOT_IN_FUTURE, error=f"{column} in the future")
    return schema.update_column(column, checks=[*existing, check])


def surely_passes(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> bool:
    """Whether every row of `frame` passes `schema`, told from a few whole-column reductions.

    A fraction of the cost of a validation. It knows what the raw schemas use (dtypes,
    `nullable`, a minimum text length of 1, an upper bound as in `with_time_bound`) and
    answers False to anything else: False means "validate to find the failing rows".
    """
    if schema.checks or schema.unique or schema.index is not None or schema.dtype is not None:
        return False
    if schema.strict or schema.ordered or schema.coerce or not frame.columns.is_unique:
        return False
    for name, column in schema.columns.items():
        if name not in frame or column.regex or column.unique or column.coerce:
            return False
        values = frame[name]
        if not column.nullable and values.isna().any():
            return False
        if isinstance(values.dtype, pd.CategoricalDtype):
            # text kept encoded (`features.validation.as_text`), which `schema_failures`
            # validates as text: every row passes when every category does
            values = pd.Series(values.cat.categories)
        if column.dtype is not None and not np.all(
            column.dtype.check(Engine.dtype(values.dtype), values)
        ):
            return False
        if not all(_surely_passes_check(values, check) for check in column.checks):
            return False
    return True


def _surely_passes_check(values: pd.Series, check: pa.Check) -> bool:
    """Whether no value fails one built-in check (missing values are the `nullable` test's)."""
    if not check.ignore_na:
        return False
    if check.name == "str_length" and check.statistics == {
        "min_value": 1,
        "max_value": None,
        "exact_value": None,
    }:
        shortest = pa_compute.min(pa_compute.binary_length(pa_arrow.array(values))).as_py()
        return shortest is None or shortest > 0  # (in bytes: only "" has none)
    if check.name in ("less_than_or_equal_to", NOT_IN_FUTURE):
        return not (values > check.statistics["max_value"]).any()
    return False


def feature_table_schema(
    *, categorical: list[str], numeric: list[str], training: bool
) -> pa.DataFrameSchema:
    """Strict schema of the feature table (plus `label` and `cohort` when training).

    One row per (lead, as-of moment): a training table holds a lead at several snapshots.
    Its numerics are float32 (half the memory; LightGBM bins them anyway).
    """
    columns: dict[str, pa.Column] = {
        "lead_id": pa.Column(str, nullable=False),
        "as_of": pa.Column(UTC_NS, nullable=True),
    }
    columns |= {name: pa.Column("category", nullable=True) for name in categorical}
    number = np.float32 if training else float
    columns |= {
        name: pa.Column(number, nullable=True, checks=pa.Check(_finite_or_missing, name="finite"))
        for name in numeric
    }
    if training:
        columns["label"] = pa.Column(int, pa.Check.isin([0, 1]))
        columns["cohort"] = pa.Column(str, pa.Check.isin(["train", "calibration", "test"]))
    return pa.DataFrameSchema(
        columns, strict=True, ordered=False, unique=["lead_id", "as_of"], name="FeatureTable"
    )


def _finite_or_missing(values: pd.Series) -> pd.Series:
    return values.isna() | values.abs().lt(float("inf"))


class RawFeedback(pa.DataFrameModel):
    """Sales' verdict on a handed-over lead (the SAL step); `accepted` parsed from yes/no."""

    lead_id: Series[str] = pa.Field(
        nullable=False, str_length={"min_value": 1, "error": "lead_id empty"}
    )
    decided_at: Series[UTC_NS] = pa.Field(nullable=False)  # type: ignore[valid-type]
    accepted: Series[float] = pa.Field(
        nullable=False, isin={"allowed_values": [0.0, 1.0], "error": "accepted not yes/no"}
    )

    class Config:
        strict = False
