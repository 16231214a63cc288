"""Honest labels: as-of moments, conversion within the horizon, early converters, censoring."""

from __future__ import annotations

import pandas as pd

ELIGIBLE = "eligible"
CONVERTED_BEFORE_AS_OF = "converted_before_as_of"
CENSORED = "censored"


def data_end_of(*timestamps: pd.Series) -> pd.Timestamp:
    """The last moment the export knows about: the latest timestamp in any table."""
    ends = [s.max() for s in timestamps if len(s) and pd.notna(s.max())]
    if not ends:
        raise ValueError("no timestamps to find the end of the data")
    return max(ends)


def label_leads(
    *,
    leads: pd.DataFrame,
    outcomes: pd.DataFrame,
    observation_days: float,
    horizon_days: float,
    data_end: pd.Timestamp,
) -> pd.DataFrame:
    """`lead_id`, `as_of`, `label`, `status` per lead.

    T = created_at + observation_days; label = converted in (T, T + horizon_days].
    Leads converted at or before T are not open (status converted_before_as_of); leads whose
    horizon ends after the data ends are censored. Only `eligible` rows are for training.
    """
    as_of = leads["created_at"] + pd.Timedelta(days=observation_days)
    first_conversion = outcomes.groupby("lead_id")["converted_at"].min()
    converted_at = leads["lead_id"].map(first_conversion)
    horizon_end = as_of + pd.Timedelta(days=horizon_days)
    status = pd.Series(ELIGIBLE, index=leads.index, dtype=object)
    status[(horizon_end > data_end).to_numpy()] = CENSORED
    # An early converter is not an open lead whatever else holds, so it wins over censoring.
    status[(converted_at <= as_of).fillna(False).to_numpy(bool)] = CONVERTED_BEFORE_AS_OF
    label = ((converted_at > as_of) & (converted_at <= horizon_end)).fillna(False)
    return pd.DataFrame(
        {
            "lead_id": leads["lead_id"].astype(str),
            "as_of": as_of,
            "label": label.astype(int),
            "status": status,
        },
        index=leads.index,
    )


def label_from_column(leads: pd.DataFrame) -> pd.DataFrame:
    """Single-table exports: the label is a column; the as-of moment is creation, if known."""
    if "created_at" in leads:
        as_of = leads["created_at"]
    else:
        as_of = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[ns, UTC]")
    return pd.DataFrame(
        {
            "lead_id": leads["lead_id"].astype(str),
            "as_of": as_of,
            "label": leads["label"].astype(int),
            "status": ELIGIBLE,
        },
        index=leads.index,
    )
