"""Honest labels: as-of moments, conversion within the horizon, early converters, censoring.

Two populations: one snapshot per lead at created_at + observation_days (`label_leads`), and
snapshots of the open lead base at calendar moments (`snapshot_moments`, `sample_snapshot`),
the population the batch job scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ELIGIBLE = "eligible"
CONVERTED_BEFORE_AS_OF = "converted_before_as_of"
CENSORED = "censored"
DAY_NS = 86_400 * 10**9


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


# --- Snapshots of the open lead base -------------------------------------------------------
# The batch job scores every open lead on a scoring day, whatever its age; training draws its
# rows from the same population: calendar snapshot moments T, each holding the leads open at T.

NEVER_NS = np.iinfo(np.int64).max  # "never converted": later than any moment


@dataclass(frozen=True)
class LeadClock:
    """Per lead (aligned with the leads table), nanoseconds since the epoch (UTC)."""

    eligible_from_ns: np.ndarray  # created_at + observation_days: its first snapshot moment
    converted_ns: np.ndarray  # first conversion; NEVER_NS for none


def lead_clock(
    *, leads: pd.DataFrame, outcomes: pd.DataFrame, observation_days: float
) -> LeadClock:
    """When each lead may first be in a snapshot, and when it converted (first conversion)."""
    created = leads["created_at"] + pd.Timedelta(days=observation_days)
    first_conversion = outcomes.groupby(outcomes["lead_id"].astype(str))["converted_at"].min()
    converted = leads["lead_id"].astype(str).map(first_conversion)
    converted_ns = pd.DatetimeIndex(converted).as_unit("ns").asi8.copy()
    converted_ns[pd.isna(converted).to_numpy()] = NEVER_NS
    return LeadClock(
        eligible_from_ns=pd.DatetimeIndex(created).as_unit("ns").asi8.copy(),
        converted_ns=converted_ns,
    )


def snapshot_moments(
    *,
    created_at: pd.Series,
    data_end: pd.Timestamp,
    observation_days: float,
    horizon_days: float,
    every_days: float,
) -> pd.DatetimeIndex:
    """Calendar snapshot moments, oldest first, every `every_days` days.

    The newest is the last midnight whose horizon ends by `data_end` (censoring: every label
    window lies inside the data); the oldest is the earliest at which some lead is
    `observation_days` old. Empty when the data is too short for one.
    """
    if every_days <= 0:
        raise ValueError("label.snapshot_every_days must be positive")
    newest = (data_end - pd.Timedelta(days=horizon_days)).floor("D")
    oldest = created_at.min() + pd.Timedelta(days=observation_days)
    if pd.isna(oldest) or newest < oldest:
        return pd.DatetimeIndex([], tz="UTC")
    step = pd.Timedelta(days=every_days)
    count = int((newest - oldest) // step) + 1
    return pd.DatetimeIndex([newest - step * k for k in range(count - 1, -1, -1)])


def open_at(clock: LeadClock, moment: pd.Timestamp) -> np.ndarray:
    """Leads in the snapshot at `moment`: old enough and not converted at or before it."""
    moment_ns = moment.value
    return (clock.eligible_from_ns <= moment_ns) & (clock.converted_ns > moment_ns)


def open_base_sizes(clock: LeadClock, moments: pd.DatetimeIndex) -> np.ndarray:
    """Number of leads in each snapshot (eligible (lead, moment) pairs per moment)."""
    return np.array([int(open_at(clock, moment).sum()) for moment in moments], dtype=np.int64)


def sampling_rate(eligible_pairs: int, *, max_rows: int) -> float:
    """The one Bernoulli rate q for every pair: all of them, or about `max_rows`.

    The same q for every (lead, moment) keeps the population's mix (ages, conversion rate),
    so the sample needs no weights.
    """
    if max_rows <= 0:
        raise ValueError("label.max_training_rows must be positive")
    return 1.0 if eligible_pairs <= max_rows else max_rows / eligible_pairs


def sample_snapshot(
    clock: LeadClock,
    moment: pd.Timestamp,
    *,
    horizon_days: float,
    rate: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(lead positions, labels) of the sampled leads of the snapshot at `moment`.

    label = converted in (T, T + horizon_days]. The draw depends on the seed, the moment and
    the lead's position only, so a moment's sample does not depend on the other moments.
    """
    keep = open_at(clock, moment)
    if rate < 1.0:
        generator = np.random.default_rng([seed, moment.value // DAY_NS])
        keep &= generator.random(keep.size) < rate
    positions = np.flatnonzero(keep)
    horizon_end_ns = (moment + pd.Timedelta(days=horizon_days)).value
    labels = (clock.converted_ns[positions] <= horizon_end_ns).astype(np.int64)
    return positions, labels


def sample_snapshots(
    clock: LeadClock,
    moments: pd.DatetimeIndex,
    *,
    horizon_days: float,
    rate: float,
    max_rows: int | None,
    seed: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(lead positions, labels) per moment, at most `max_rows` in all.

    Bernoulli sampling at `rate` overshoots its expected size by chance now and then; the
    excess is dropped uniformly at random, which leaves a uniform sample of the pairs.
    """
    samples = [
        sample_snapshot(clock, moment, horizon_days=horizon_days, rate=rate, seed=seed)
        for moment in moments
    ]
    sizes = np.array([len(positions) for positions, _ in samples], dtype=np.int64)
    total = int(sizes.sum())
    if max_rows is None or total <= max_rows:
        return samples
    keep = np.zeros(total, dtype=bool)
    generator = np.random.default_rng([seed, total])
    keep[generator.choice(total, size=max_rows, replace=False)] = True
    kept_per_moment = np.split(keep, np.cumsum(sizes)[:-1])
    return [
        (positions[mask], labels[mask])
        for (positions, labels), mask in zip(samples, kept_per_moment, strict=True)
    ]
