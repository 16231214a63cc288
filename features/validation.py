"""Row checks of the canonical export: parse, validate with pandera, quarantine bad rows.

Pure DataFrame code shared by the extract stage and the batch scoring job: every input row
ends either in a clean table or in the quarantine with its reason. A structural fault (a
missing column, a column of the wrong type) raises `ExportStructureError`, which the
callers turn into their one-line input error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pa_compute

from features.schemas import (
    UTC_NS,
    LabelledRawLeads,
    RawActivities,
    RawLeads,
    RawOutcomes,
    TimedRawLeads,
    surely_passes,
    with_time_bound,
)
from features.vocabulary import apply_type_map


class ExportStructureError(ValueError):
    """The export's structure is wrong (a column missing or of the wrong type), not a row."""


QUARANTINE_COLUMNS = ["table", "source_row", "lead_id", "reason", "record"]
LABEL_VALUES = {"1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}
LABEL_VALUES |= {"y": 1.0, "n": 0.0, "1.0": 1.0, "0.0": 0.0}

TIMESTAMP_COLUMNS = {"created_at", "occurred_at", "converted_at"}


@dataclass(frozen=True)
class ExtractResult:
    """Clean tables plus every rejected row with its reason."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame
    quarantine: pd.DataFrame

    def summary(self, *, read: dict[str, int]) -> dict[str, Any]:
        """Counts per table: read, kept, quarantined, and quarantined rows by reason."""
        kept = {"leads": len(self.leads), "activities": len(self.activities)}
        kept["outcomes"] = len(self.outcomes)
        tables: dict[str, Any] = {}
        for table, n_read in read.items():
            bad = self.quarantine[self.quarantine["table"] == table]
            tables[table] = {
                "read": n_read,
                "kept": kept[table],
                "quarantined": len(bad),
                "quarantined_by_reason": bad["reason"].value_counts().sort_index().to_dict(),
            }
        return tables


def canonicalise(
    frame: pd.DataFrame, *, renames: dict[str, str], required: list[str], table: str
) -> pd.DataFrame:
    """Rename source columns to canonical names (a missing required one: ExportStructureError)."""
    missing = [source for source, canonical in renames.items() if canonical in required]
    missing = [c for c in missing if c not in frame.columns]
    if missing:
        raise ExportStructureError(f"{table}: required column {missing[0]!r} is missing")
    clashing = [c for s, c in renames.items() if c in frame.columns and s != c]
    out = frame.drop(columns=clashing).rename(columns=renames)
    return out.reset_index(drop=True)


# text columns of activities with few distinct values over many rows (see `as_text`)
ENCODED_TEXT_COLUMNS = ("activity_type", "page")


def as_text(values: pd.Series, *, keep_categories: bool = False) -> pd.Series:
    """Stripped text (pandas `str` dtype, missing stays missing) from any column type.

    With `keep_categories`, a categorical stays categorical, its categories stripped as text
    (each distinct value once), unless two of them strip to the same text.
    """
    if keep_categories and isinstance(values.dtype, pd.CategoricalDtype):
        categories = as_text(pd.Series(values.cat.categories))
        if categories.is_unique and categories.notna().all():
            return values.cat.rename_categories(categories.array)
    text = values.astype("str")
    return text if nothing_to_strip(text) else text.str.strip()


def nothing_to_strip(text: pd.Series) -> bool:
    """Whether a text column surely has no whitespace to strip (False: strip to find out).

    True when the column is pyarrow-backed and all its bytes are printable ASCII other than
    space: every whitespace character, ASCII or not, has a byte outside that range. A pass
    over the bytes costs a fraction of a strip.
    """
    if text.dtype != pd.StringDtype("pyarrow", na_value=np.nan):
        return False
    for chunk in pa_arrow.chunked_array(pa_arrow.array(text)).chunks:
        if not pa_arrow.types.is_large_string(chunk.type):  # (what pandas uses)
            return False
        data = chunk.buffers()[2]  # the bytes of all values (of a slice's neighbours too)
        if data is not None and data.size:
            data = np.frombuffer(data, dtype=np.uint8)
            if data.min() <= ord(" ") or data.max() >= 0x7F:
                return False
    return True


def parse_timestamp(values: pd.Series) -> pd.Series:
    """ISO 8601 to UTC (naive means UTC); unparseable cells become NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(UTC_NS)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC").astype(UTC_NS)
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    # a year like 2999 parses but overflows nanoseconds: one bad cell, not a crash
    in_range = parsed.between(
        pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    )
    return parsed.where(in_range).astype(UTC_NS)


def parse_label(values: pd.Series) -> pd.Series:
    """0/1, yes/no, true/false (any case) to 0.0/1.0; anything else becomes NaN."""
    text = values.astype("string").str.strip().str.lower()
    return text.map(LABEL_VALUES).astype(float)


def readable_reason(column: Any, check: str) -> str:
    """A failing row's reason: the check's own `error` (see `features.schemas`), in words
    for pandera's `not_nullable` (which has none)."""
    column = str(column)
    if check != "not_nullable":
        return check
    if column in TIMESTAMP_COLUMNS:
        return f"{column} missing or not an ISO 8601 timestamp"
    if column == "label":
        return "label missing or not 0/1 (yes/no)"
    return f"{column} missing"


def quarantine_rows(
    frame: pd.DataFrame, reasons: pd.Series, *, table: str, source: pd.DataFrame
) -> pd.DataFrame:
    """Quarantine records for the rows of `frame` named by the index of `reasons`.

    The lead_id is the validated one (from `frame`), the record the row as read (from
    `source`, the table `frame` was made from).
    """
    lead_id = pd.NA
    if "lead_id" in frame:
        lead_id = frame["lead_id"].loc[reasons.index].astype("string").to_numpy()
    records = []
    if len(reasons):
        records = source.loc[reasons.index].astype("string").to_dict(orient="records")
    return pd.DataFrame(
        {
            "table": table,
            "source_row": reasons.index.to_numpy() + 1,
            "lead_id": lead_id,
            "reason": reasons.to_numpy(),
            "record": [json.dumps(r, default=str, sort_keys=True) for r in records],
        },
        columns=QUARANTINE_COLUMNS,
    )


def schema_failures(frame: pd.DataFrame, schema: pa.DataFrameSchema, *, table: str) -> pd.Series:
    """Reasons (one string per failing row, indexed like `frame`) from a lazy validation.

    A categorical of text (see `as_text`) is validated as the text it encodes.
    """
    if surely_passes(frame, schema):  # the usual case, at a fraction of a validation's cost
        return pd.Series(dtype="string")
    encoded = [
        name
        for name in schema.columns
        if name in frame and isinstance(frame[name].dtype, pd.CategoricalDtype)
    ]
    if encoded:
        frame = frame.assign(**{name: frame[name].astype("str") for name in encoded})
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        structural = cases[cases["index"].isna()]
        if not structural.empty:
            first = structural.iloc[0]
            raise ExportStructureError(
                f"{table}: column {first['column']!r} failed {first['check']}"
                f" ({first['failure_case']})"
            ) from exc
        reasons = [
            readable_reason(column, str(check))
            for column, check in zip(cases["column"], cases["check"], strict=True)
        ]
        per_row = pd.Series(reasons, index=cases["index"].astype(int).to_numpy())
        return per_row.groupby(level=0).agg(lambda r: "; ".join(sorted(set(r))))
    return pd.Series(dtype="string")


def split_by_reasons(
    frame: pd.DataFrame, reasons: pd.Series, *, table: str, source: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows without a reason, quarantine records of the rest; see `quarantine_rows`)."""
    bad = quarantine_rows(frame, reasons, table=table, source=source)
    if reasons.empty:  # the usual case: every row is clean
        return frame, bad
    return frame[~frame.index.isin(reasons.index)], bad


def duplicate_lead_reasons(leads: pd.DataFrame) -> pd.Series:
    """Exact repeats keep their first copy; conflicting copies of a lead_id are all rejected."""
    # only rows whose lead_id repeats (or is missing) can be repeats or conflicts: compare those
    ids = leads["lead_id"]
    if ids.is_unique and not ids.hasnans:  # the usual case: nothing to compare
        return pd.Series(dtype="str", index=leads.index[:0])
    leads = leads[ids.duplicated(keep=False).to_numpy() | ids.isna().to_numpy()]
    exact_repeat = leads.astype("string").duplicated(keep="first")
    distinct = leads[~exact_repeat]
    conflicting = distinct["lead_id"].notna() & distinct["lead_id"].duplicated(keep=False)
    reasons = pd.concat(
        [
            pd.Series("exact duplicate of an earlier row", index=leads.index[exact_repeat]),
            pd.Series(
                "duplicate lead_id with conflicting values",
                index=distinct.index[conflicting.to_numpy()],
            ),
        ]
    )
    return reasons.sort_index()


def validate_leads(
    leads: pd.DataFrame, *, timed: bool, labelled: bool, latest: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean leads and their quarantine records."""
    frame = leads.copy()
    frame["lead_id"] = as_text(frame["lead_id"])
    model: type[RawLeads] = RawLeads
    if timed:
        frame["created_at"] = parse_timestamp(frame["created_at"])
        model = TimedRawLeads
    if labelled:
        frame["label"] = parse_label(frame["label"])
        model = LabelledRawLeads if not timed else _timed_labelled_model()
    schema = model.to_schema()
    if timed:
        schema = with_time_bound(schema, column="created_at", latest=latest)
    reasons = schema_failures(frame, schema, table="leads")
    duplicates = duplicate_lead_reasons(frame.drop(index=reasons.index) if len(reasons) else frame)
    all_reasons = pd.concat([reasons, duplicates]).sort_index()
    return split_by_reasons(frame, all_reasons, table="leads", source=leads)


def _timed_labelled_model() -> type[pa.DataFrameModel]:
    class TimedLabelledRawLeads(TimedRawLeads, LabelledRawLeads):
        """Leads with timestamps and their own label."""

    return TimedLabelledRawLeads


def text_positions(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Where each text value first is in `keys` (-1: nowhere), through pyarrow (~10x faster
    than pandas on large tables)."""
    value_set = pa_arrow.array(keys.astype("str"), type=pa_arrow.large_string())
    array = pa_arrow.array(values.astype("str"), type=pa_arrow.large_string())
    return pa_compute.fill_null(pa_compute.index_in(array, value_set=value_set), -1).to_numpy()


def text_isin(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """`values.isin(keys)` for text columns, through pyarrow (~10x faster on large tables)."""
    return text_positions(values, keys) >= 0


def validate_events(
    events: pd.DataFrame,
    *,
    table: str,
    model: type[pa.DataFrameModel],
    time_column: str,
    leads: pd.DataFrame,
    latest: pd.Timestamp,
    keep_categories: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate activities or outcomes, including the cross-table checks against clean leads.

    `keep_categories`: categorical activity types and pages stay categorical (`as_text`).
    """
    frame = events.copy()
    for column in ("lead_id", "activity_type", "page"):
        if column in frame:
            keep = keep_categories and column in ENCODED_TEXT_COLUMNS
            frame[column] = as_text(frame[column], keep_categories=keep)
    frame[time_column] = parse_timestamp(frame[time_column])
    schema = with_time_bound(model.to_schema(), column=time_column, latest=latest)
    reasons = schema_failures(frame, schema, table=table)
    ok = frame.drop(index=reasons.index) if len(reasons) else frame
    lead_row = text_positions(ok["lead_id"], leads["lead_id"])  # (clean lead ids are unique)
    known = lead_row >= 0
    extra = [pd.Series("lead_id not found in clean leads", index=ok.index[~known])]
    if table == "outcomes":
        ok, lead_row = ok[known], lead_row[known]
        if "created_at" in leads and len(ok):  # (no known lead: nothing to compare)
            before = ok["converted_at"].array < leads["created_at"].array[lead_row]
            extra.append(
                pd.Series("converted_at before the lead's created_at", index=ok.index[before])
            )
            ok = ok[~before]
        repeated = ok[ok["lead_id"].duplicated(keep=False).to_numpy()]  # (a lone one is kept)
        later = repeated.sort_values(["lead_id", "converted_at"]).duplicated("lead_id")
        extra.append(
            pd.Series(
                "later duplicate outcome for the lead (earliest kept)", index=later.index[later]
            )
        )
    all_reasons = pd.concat([reasons, *extra]).sort_index()
    return split_by_reasons(frame, all_reasons, table=table, source=events)


def validate_export(
    *,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    outcomes: pd.DataFrame | None,
    timed: bool,
    labelled: bool,
    latest: pd.Timestamp,
    keep_index: bool = False,
    keep_categories: bool = False,
    activity_type_map: Mapping[str, str] | None = None,
) -> ExtractResult:
    """Validate canonical raw tables; every row ends up clean or quarantined, never both.

    Each frame's index is its source row (0-based). The clean tables keep it with
    `keep_index` (batch scoring maps rows back to their hash slots), else it is reset.
    `keep_categories`: categorical activity types and pages stay categorical, so that the
    features look each distinct value up once (batch scoring reads them so).
    `activity_type_map` (`source.activity_type_map`): the export's activity type names
    replaced by canonical ones before the checks (matched by slug).
    """
    clean_leads, bad_leads = validate_leads(leads, timed=timed, labelled=labelled, latest=latest)
    quarantined = [bad_leads]
    clean_activities = empty_activities()
    if activities is not None:
        if "page" not in activities:  # optional column
            activities = activities.assign(page=pd.Series(pd.NA, index=activities.index))
        if activity_type_map and "activity_type" in activities:
            activities = activities.assign(
                activity_type=apply_type_map(activities["activity_type"], activity_type_map)
            )
        clean_activities, bad = validate_events(
            activities,
            table="activities",
            model=RawActivities,
            time_column="occurred_at",
            leads=clean_leads,
            latest=latest,
            keep_categories=keep_categories,
        )
        quarantined.append(bad)
    clean_outcomes = empty_outcomes()
    if outcomes is not None:
        clean_outcomes, bad = validate_events(
            outcomes,
            table="outcomes",
            model=RawOutcomes,
            time_column="converted_at",
            leads=clean_leads,
            latest=latest,
        )
        quarantined.append(bad)
    quarantine = pd.concat(quarantined, ignore_index=True)
    tables = [clean_leads, clean_activities, clean_outcomes[["lead_id", "converted_at"]]]
    if not keep_index:
        tables = [table.reset_index(drop=True) for table in tables]
    return ExtractResult(*tables, quarantine=quarantine)


def empty_activities() -> pd.DataFrame:
    """An activities table with no rows (single-table exports)."""
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype="string"),
            "occurred_at": pd.Series(dtype=UTC_NS),
            "activity_type": pd.Series(dtype="string"),
            "page": pd.Series(dtype="string"),
        }
    )


def empty_outcomes() -> pd.DataFrame:
    """An outcomes table with no rows."""
    return pd.DataFrame(
        {"lead_id": pd.Series(dtype="string"), "converted_at": pd.Series(dtype=UTC_NS)}
    )


def mask_sentinels(frame: pd.DataFrame, sentinels: dict[str, list[str]]) -> pd.DataFrame:
    """Per-column placeholder values (e.g. pdays 999 = never contacted) read as missing."""
    out = frame.copy()
    for column, values in sentinels.items():
        if column in out:
            text = out[column].astype("string").str.strip()
            out[column] = out[column].mask(text.isin(values).fillna(False))
    return out
