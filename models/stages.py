"""Funnel stages (DISQUALIFIED < IQL < MQL < SQL) from scores, thresholds and overrides.

The same rules serve the model (scores are calibrated probabilities) and the points
baseline (scores are points), so both are staged identically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.vocabulary import slug

logger = logging.getLogger(__name__)

DISQUALIFIED = "DISQUALIFIED"
IQL = "IQL"
MQL = "MQL"
SQL = "SQL"
STAGE_ORDER: tuple[str, ...] = (DISQUALIFIED, IQL, MQL, SQL)

HAND_RAISER_COLUMN = "is_hand_raiser"
LAST_HAND_RAISE_COLUMN = "days_since_last_hand_raise"
NEVER_RAISED_DAYS = 3650.0  # the recency a lead that never raised a hand is given

_STAGE_NAMES = np.array(STAGE_ORDER, dtype=object)
_RANK = {stage: rank for rank, stage in enumerate(STAGE_ORDER)}


def stage_rank(stages: np.ndarray | pd.Series | list[str]) -> np.ndarray:
    """Position of each stage in `STAGE_ORDER` (0 = DISQUALIFIED ... 3 = SQL)."""
    values = pd.Series(np.asarray(stages, dtype=object))
    ranks = values.map(_RANK)
    if ranks.isna().any():
        unknown = sorted(set(values[ranks.isna()].astype(str)))
        raise ValueError(f"unknown stage(s) {unknown}; expected one of {STAGE_ORDER}")
    return ranks.to_numpy(dtype=np.int64)


def feature_column(frame: pd.DataFrame, name: str) -> str | None:
    """The feature table's column for a name in the rules: as written, else as the feature
    builder names a declared column ("Industry" -> `industry`); None when neither exists."""
    if name in frame.columns:
        return name
    return slug(name) if slug(name) in frame.columns else None


def disqualified_mask(
    X: pd.DataFrame,
    disqualify_when: Mapping[str, float],
) -> np.ndarray:
    """True where any listed feature is >= its value; listed columns absent from X are skipped."""
    mask = np.zeros(len(X), dtype=bool)
    named = {name: feature_column(X, name) for name in disqualify_when}
    missing = [name for name, column in named.items() if column is None]
    if missing:
        logger.debug("disqualify rules skipped, columns not in the table: %s", missing)
    for name, limit in disqualify_when.items():
        column = named[name]
        if column is not None:
            values = pd.to_numeric(X[column], errors="coerce")
            values = values.to_numpy(dtype=float, na_value=np.nan)
            mask |= values >= float(limit)  # NaN compares False: missing never disqualifies
    return mask


def hand_raiser_mask(frame: pd.DataFrame, *, window_days: float | None) -> np.ndarray:
    """True where a lead's last hand-raise is at most `window_days` old (None: ever raised).

    The window is the time sales has to act on a demo / trial / contact request; after it
    the lead is scored like any other. Without the `days_since_last_hand_raise` column
    (older feature tables) every lead with `is_hand_raiser >= 1` counts, whatever the window.
    """
    if window_days is not None and float(window_days) < 0:
        raise ValueError(f"hand_raiser_window_days must be >= 0 or null, got {window_days}")
    raised = np.zeros(len(frame), dtype=bool)
    if HAND_RAISER_COLUMN in frame.columns:
        flags = pd.to_numeric(frame[HAND_RAISER_COLUMN], errors="coerce")
        raised = flags.to_numpy(dtype=float, na_value=0.0) >= 1.0
    if LAST_HAND_RAISE_COLUMN not in frame.columns:
        return raised
    days = pd.to_numeric(frame[LAST_HAND_RAISE_COLUMN], errors="coerce")
    days = days.to_numpy(dtype=float, na_value=np.nan)
    ever = days < NEVER_RAISED_DAYS  # NaN and the "never" value are no hand-raise
    if HAND_RAISER_COLUMN in frame.columns:
        ever &= raised
    if window_days is None:
        return ever
    return ever & (days <= float(window_days))


LAST_ACTIVITY_COLUMN = "days_since_last_activity"


def sql_ineligible_mask(frame: pd.DataFrame, *, activity_days: float | None) -> np.ndarray:
    """True where a lead may not reach SQL by its score: no activity in the last `activity_days`.

    An SQL is ready for a sales conversation, which a lead that has shown no interest lately is
    not, however well it fits (it stays MQL at most). None, or a table without the
    `days_since_last_activity` column (exports without an activity log), lets every lead through.
    """
    if activity_days is None or LAST_ACTIVITY_COLUMN not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    if float(activity_days) < 0:
        raise ValueError(f"sql_requires_activity_days must be >= 0 or null, got {activity_days}")
    days = pd.to_numeric(frame[LAST_ACTIVITY_COLUMN], errors="coerce")
    days = days.to_numpy(dtype=float, na_value=np.nan)
    return ~(days <= float(activity_days))  # NaN (no activity at all) is not ready either


def _optional_flags(flags: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if flags is None:
        return np.zeros(n, dtype=bool)
    out = np.asarray(flags, dtype=bool).reshape(-1)
    if out.shape[0] != n:
        raise ValueError(f"{name} has {out.shape[0]} entries, scores have {n}")
    return out


def assign_stages(
    *,
    scores: np.ndarray,
    mql_threshold: float | np.ndarray,
    sql_threshold: float | np.ndarray,
    hand_raiser: np.ndarray | None,
    disqualified: np.ndarray | None,
    hand_raiser_to_sql: bool,
    sql_ineligible: np.ndarray | None = None,
) -> np.ndarray:
    """Stage per lead: SQL at score >= sql, MQL at >= mql, else IQL; overrides applied after.

    Hand-raisers (`hand_raiser_mask`: within their window) go to SQL when `hand_raiser_to_sql`;
    disqualified leads are DISQUALIFIED whatever their score or hand-raise (negative rules
    win). A missing score (NaN) is IQL.
    """
    if np.any(np.asarray(mql_threshold) > np.asarray(sql_threshold)):
        raise ValueError(
            f"mql_threshold ({mql_threshold}) must not exceed sql_threshold ({sql_threshold})"
        )
    values = np.asarray(scores, dtype=float).reshape(-1)
    n = values.shape[0]
    raised = _optional_flags(hand_raiser, n, "hand_raiser")
    out_of_play = _optional_flags(disqualified, n, "disqualified")
    rank = np.full(n, _RANK[IQL], dtype=np.int64)
    rank[values >= mql_threshold] = _RANK[MQL]
    not_ready = _optional_flags(sql_ineligible, n, "sql_ineligible")
    rank[(values >= sql_threshold) & ~not_ready] = _RANK[SQL]  # not ready: MQL at most
    if hand_raiser_to_sql:
        rank[raised] = _RANK[SQL]
    rank[out_of_play] = _RANK[DISQUALIFIED]
    return _STAGE_NAMES[rank]
