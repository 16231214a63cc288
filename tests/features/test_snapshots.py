"""Snapshots of the open lead base: moments, who is in them, labels, sampling, purged cohorts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.labels import (
    lead_clock,
    open_base_sizes,
    sample_snapshot,
    sample_snapshots,
    sampling_rate,
    snapshot_moments,
)
from features.split import CALIBRATION, TEST, TRAIN, split_snapshot_moments

DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2025-01-01", tz="UTC")


def test_moments_are_calendar_days_whose_label_window_lies_inside_the_data():
    created = pd.Series([START + 3.5 * DAY, START + 40 * DAY])
    data_end = START + 300.7 * DAY
    moments = snapshot_moments(
        created_at=created, data_end=data_end, observation_days=14, horizon_days=90, every_days=14
    )
    assert (moments == moments.floor("D")).all()
    assert (moments.to_series().diff().dropna() == 14 * DAY).all()
    assert (moments + 90 * DAY <= data_end).all()  # censoring: every window ends in the data
    assert moments[-1] + 91 * DAY > data_end  # and the newest possible moment is taken
    assert moments[0] >= created.min() + 14 * DAY  # some lead is old enough at the first
    assert moments[0] - 14 * DAY < created.min() + 14 * DAY
    too_short = snapshot_moments(
        created_at=created, data_end=START + 60 * DAY, observation_days=14, horizon_days=90,
        every_days=14,
    )  # fmt: skip
    assert len(too_short) == 0


def clock_of(created_days: list[float], converted_days: dict[int, float]):
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(len(created_days))],
            "created_at": [START + d * DAY for d in created_days],
        }
    )
    outcomes = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in converted_days],
            "converted_at": pd.Series(
                [START + d * DAY for d in converted_days.values()], dtype="datetime64[ns, UTC]"
            ),
        }
    )
    return lead_clock(leads=leads, outcomes=outcomes, observation_days=10)


def test_a_lead_is_in_every_snapshot_while_open_and_leaves_when_it_converts():
    # L0 converts on day 65; L1 never; L2 is created on day 50; L3 converted on day 5
    clock = clock_of([0, 0, 50, 0], {0: 65, 3: 5})
    moments = pd.DatetimeIndex([START + d * DAY for d in (10, 30, 60, 65, 80)])
    members, labels = {}, {}
    for moment in moments:
        positions, label = sample_snapshot(clock, moment, horizon_days=20, rate=1.0, seed=0)
        day = (moment - START).days
        members[day] = positions.tolist()
        labels[day] = dict(zip(positions.tolist(), label.tolist(), strict=True))
    # age >= observation_days (10): L2 joins at day 60; converted at or before T: gone
    assert members == {10: [0, 1], 30: [0, 1], 60: [0, 1, 2], 65: [1, 2], 80: [1, 2]}
    # label: converted in (T, T + 20 days]; day 65 is inside (60, 80] but not (10, 30]
    assert labels[10] == {0: 0, 1: 0}
    assert labels[60][0] == 1 and labels[60][1] == 0
    assert open_base_sizes(clock, moments).tolist() == [2, 2, 3, 2, 2]


def test_sampling_keeps_the_conversion_rate_respects_the_cap_and_is_seeded():
    generator = np.random.default_rng(3)
    n_leads = 30_000
    created = generator.uniform(0, 200, n_leads).tolist()
    converted = {i: created[i] + generator.exponential(150) for i in range(0, n_leads, 3)}
    clock = clock_of(created, converted)
    moments = pd.DatetimeIndex([START + d * DAY for d in range(20, 221, 14)])
    sizes = open_base_sizes(clock, moments)
    full = sample_snapshots(clock, moments, horizon_days=60, rate=1.0, max_rows=None, seed=1)
    assert sum(len(p) for p, _ in full) == sizes.sum()
    full_rate = np.concatenate([label for _, label in full]).mean()

    cap = 20_000
    rate = sampling_rate(int(sizes.sum()), max_rows=cap)
    assert rate == pytest.approx(cap / sizes.sum())
    sample = sample_snapshots(clock, moments, horizon_days=60, rate=rate, max_rows=cap, seed=1)
    rows = sum(len(p) for p, _ in sample)
    assert cap - 4 * np.sqrt(cap) < rows <= cap
    sampled_rate = np.concatenate([label for _, label in sample]).mean()
    noise = np.sqrt(full_rate * (1 - full_rate) / rows)
    assert abs(sampled_rate - full_rate) < 4 * noise
    # every moment keeps about the same share: the age mix of the base is kept
    shares = np.array([len(p) for p, _ in sample]) / sizes
    assert np.all(np.abs(shares - rate) < 5 * np.sqrt(rate / sizes))
    again = sample_snapshots(clock, moments, horizon_days=60, rate=rate, max_rows=cap, seed=1)
    other = sample_snapshots(clock, moments, horizon_days=60, rate=rate, max_rows=cap, seed=2)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(sample, again, strict=True))
    assert not all(np.array_equal(a, b) for (a, _), (b, _) in zip(sample, other, strict=True))
    assert sampling_rate(100, max_rows=cap) == 1.0


def weekly(n: int) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([START + 7 * k * DAY for k in range(n)])


def test_cohorts_are_newest_last_with_purge_gaps_of_one_horizon():
    moments = weekly(60)
    rows = np.linspace(100, 1000, 60).round()
    split = split_snapshot_moments(
        moments, rows, horizon_days=30, train_fraction=0.6, calibration_fraction=0.2
    )
    assert split.purged
    cohort = pd.Series(split.cohort, index=moments)
    train, calibration, test = (cohort.index[cohort == c] for c in (TRAIN, CALIBRATION, TEST))
    # no label window of an earlier cohort reaches into a later cohort's period
    assert train.max() + 30 * DAY <= calibration.min()
    assert calibration.max() + 30 * DAY <= test.min()
    # and the gaps are no wider than they need be: the next moment would reach in
    assert train.max() + 37 * DAY > calibration.min()
    assert calibration.max() + 37 * DAY > test.min()
    assert test.max() == moments.max()
    # fractions apply to the rows kept after the gaps
    kept = rows[split.cohort != ""].sum()
    for name, fraction in ((TRAIN, 0.6), (CALIBRATION, 0.2), (TEST, 0.2)):
        assert rows[split.cohort == name].sum() / kept == pytest.approx(fraction, abs=0.05)


def test_a_span_too_short_for_the_gaps_falls_back_to_touching_cohorts():
    moments = weekly(8)  # 49 days of moments cannot hold two 30-day gaps and three cohorts
    split = split_snapshot_moments(
        moments, np.full(8, 10), horizon_days=30, train_fraction=0.6, calibration_fraction=0.2
    )
    assert not split.purged
    assert "" not in split.cohort
    assert list(split.cohort) == sorted(split.cohort, key=[TRAIN, CALIBRATION, TEST].index)
    with pytest.raises(ValueError, match="at least three"):
        split_snapshot_moments(
            weekly(2), np.ones(2), horizon_days=30, train_fraction=0.6, calibration_fraction=0.2
        )
