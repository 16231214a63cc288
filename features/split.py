"""Train / calibration / test cohorts: by time when timestamps exist, else stratified."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

TRAIN, CALIBRATION, TEST = "train", "calibration", "test"
COHORTS = (TRAIN, CALIBRATION, TEST)


def _validate_fractions(train_fraction: float, calibration_fraction: float) -> None:
    if not (0 < train_fraction < 1 and 0 < calibration_fraction < 1):
        raise ValueError("split fractions must lie strictly between 0 and 1")
    if train_fraction + calibration_fraction >= 1:
        raise ValueError("train_fraction + calibration_fraction must leave a test cohort")


def split_by_order(
    order: pd.Series, *, train_fraction: float, calibration_fraction: float
) -> pd.Series:
    """Cohort per row by rank of `order` (oldest first; ties broken by position), newest last."""
    _validate_fractions(train_fraction, calibration_fraction)
    n = len(order)
    rank = order.rank(method="first").to_numpy() - 1  # ties keep their row order
    n_train = round(n * train_fraction)
    n_calibration = round(n * calibration_fraction)
    cohort = np.where(
        rank < n_train, TRAIN, np.where(rank < n_train + n_calibration, CALIBRATION, TEST)
    )
    return pd.Series(cohort, index=order.index, name="cohort")


def split_stratified(
    labels: pd.Series, *, train_fraction: float, calibration_fraction: float, seed: int
) -> pd.Series:
    """Cohort per row by a stratified random split (exports without timestamps)."""
    _validate_fractions(train_fraction, calibration_fraction)
    _, rest_index = train_test_split(
        labels.index, train_size=train_fraction, stratify=labels, random_state=seed
    )
    rest = labels.loc[rest_index]
    share = calibration_fraction / (1 - train_fraction)
    calibration_index, test_index = train_test_split(
        rest.index, train_size=share, stratify=rest, random_state=seed
    )
    cohort = pd.Series(TRAIN, index=labels.index, name="cohort", dtype=object)
    cohort[calibration_index] = CALIBRATION
    cohort[test_index] = TEST
    return cohort


def cohort_rows(table: pd.DataFrame, cohort: str) -> pd.DataFrame:
    """Rows of one cohort, oldest first so 'newest slice' means something.

    Ties (and exports without timestamps) keep the table's order, which is the export's
    row order: for a time-ordered single table that order is time.
    """
    rows = table[table["cohort"] == cohort]
    return rows.sort_values("as_of", kind="stable").reset_index(drop=True)


def cohort_weeks(as_of: pd.Series, *, fallback_weeks: float) -> float:
    """How many weeks of leads a cohort holds (its as-of span), for weekly volumes."""
    if as_of.isna().all() or len(as_of) < 2:
        return fallback_weeks
    span = (as_of.max() - as_of.min()) / pd.Timedelta(weeks=1)
    return max(float(span), 1.0)


@dataclass(frozen=True)
class MomentSplit:
    """Cohort of each snapshot moment ("" for a moment dropped in a purge gap)."""

    cohort: np.ndarray
    purged: bool


def split_snapshot_moments(
    moments: pd.DatetimeIndex,
    rows: np.ndarray,
    *,
    horizon_days: float,
    train_fraction: float,
    calibration_fraction: float,
) -> MomentSplit:
    """Train, calibration and test cohorts of whole snapshot moments, newest last, with gaps.

    Train keeps the moments T with T + horizon <= the first calibration moment, calibration
    those with T + horizon <= the first test moment: no label window of an earlier cohort
    reaches into a later cohort's period. The fractions apply to the rows (`rows` per moment)
    kept after the gaps; the two cut moments are the ones that come closest to them. When
    the moments span too little time for the gaps, the cohorts touch (`purged` False).
    """
    _validate_fractions(train_fraction, calibration_fraction)
    if len(moments) < 3:
        raise ValueError(
            f"{len(moments)} snapshot moment(s): three cohorts need at least three"
            " (more data, or a smaller label.snapshot_every_days or label.horizon_days)"
        )
    fractions = np.array(
        [train_fraction, calibration_fraction, 1 - train_fraction - calibration_fraction]
    )
    cuts = _best_cuts(moments, rows, gap=pd.Timedelta(days=horizon_days), fractions=fractions)
    purged = cuts is not None
    if cuts is None:
        cuts = _best_cuts(moments, rows, gap=pd.Timedelta(0), fractions=fractions)
    assert cuts is not None  # without gaps, any 1 <= c < t < K is valid
    train_end, first_calibration, calibration_end, first_test = cuts
    cohort = np.full(len(moments), "", dtype=object)
    cohort[:train_end] = TRAIN
    cohort[first_calibration:calibration_end] = CALIBRATION
    cohort[first_test:] = TEST
    return MomentSplit(cohort=cohort, purged=purged)


def _best_cuts(
    moments: pd.DatetimeIndex, rows: np.ndarray, *, gap: pd.Timedelta, fractions: np.ndarray
) -> tuple[int, int, int, int] | None:
    """(train end, first calibration, calibration end, first test) moment positions whose
    row shares come closest to `fractions`, each cohort non-empty; None if there is none."""
    n = len(moments)
    before = np.concatenate([[0], np.cumsum(rows, dtype=float)])
    # moments strictly before position i whose label window (T, T + gap] ends by moment i
    ends = np.minimum(np.searchsorted(moments, moments - gap, side="right"), np.arange(n))
    first_calibration, first_test = np.triu_indices(n, k=1)  # every c < t
    valid = (first_calibration >= 1) & (first_test <= n - 1)
    train_end = ends[first_calibration]
    calibration_end = np.maximum(ends[first_test], first_calibration)
    valid &= (train_end >= 1) & (calibration_end > first_calibration)
    if not valid.any():
        return None
    shares = np.stack(
        [
            before[train_end],
            before[calibration_end] - before[first_calibration],
            before[n] - before[first_test],
        ]
    )
    shares = shares / shares.sum(axis=0)
    error = np.abs(shares - fractions[:, None]).sum(axis=0)
    error[~valid] = np.inf
    best = int(np.argmin(error))  # ties: the earliest cuts
    return (
        int(train_end[best]),
        int(first_calibration[best]),
        int(calibration_end[best]),
        int(first_test[best]),
    )


def holds_snapshots(table: pd.DataFrame) -> bool:
    """True when leads sit in the table at several moments (snapshots of the open lead base)."""
    return bool(table["lead_id"].duplicated().any())
