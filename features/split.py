"""Train / calibration / test cohorts: by time when timestamps exist, else stratified."""

from __future__ import annotations

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
