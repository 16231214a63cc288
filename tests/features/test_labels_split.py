"""Labels as of T, early converters, censoring, and the cohort split."""

from __future__ import annotations

import pandas as pd
import pytest

from features.labels import CENSORED, CONVERTED_BEFORE_AS_OF, ELIGIBLE, label_leads
from features.split import CALIBRATION, TEST, TRAIN, split_by_order, split_stratified

DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2025-01-01", tz="UTC")


def test_labels_early_converters_and_censoring():
    leads = pd.DataFrame(
        {
            "lead_id": ["conv_in", "conv_edge", "conv_late", "early", "at_t", "never", "late"],
            "created_at": [START] * 6 + [START + 50 * DAY],
        }
    )
    # T = created + 10 days; horizon 30 days -> window (T, T + 30d]
    outcomes = pd.DataFrame(
        {
            "lead_id": ["conv_in", "conv_edge", "conv_late", "early", "at_t"],
            "converted_at": [
                START + 20 * DAY,
                START + 40 * DAY,  # exactly T + horizon: inside
                START + 41 * DAY,  # after the horizon: negative
                START + 3 * DAY,
                START + 10 * DAY,  # exactly at T: not an open lead
            ],
        }
    )
    data_end = START + 70 * DAY  # "late": T + 30d = 90d > 70d -> censored
    labels = label_leads(
        leads=leads, outcomes=outcomes, observation_days=10, horizon_days=30, data_end=data_end
    ).set_index("lead_id")
    assert labels["status"].to_dict() == {
        "conv_in": ELIGIBLE,
        "conv_edge": ELIGIBLE,
        "conv_late": ELIGIBLE,
        "early": CONVERTED_BEFORE_AS_OF,
        "at_t": CONVERTED_BEFORE_AS_OF,
        "never": ELIGIBLE,
        "late": CENSORED,
    }
    eligible = labels[labels["status"] == ELIGIBLE]["label"].to_dict()
    assert eligible == {"conv_in": 1, "conv_edge": 1, "conv_late": 0, "never": 0}
    assert labels.loc["conv_in", "as_of"] == START + 10 * DAY


def test_time_split_puts_newest_leads_last():
    moments = pd.Series(pd.date_range(START, periods=100, freq="D")).sample(frac=1, random_state=1)
    cohorts = split_by_order(moments, train_fraction=0.6, calibration_fraction=0.2)
    assert (cohorts == TRAIN).sum() == 60 and (cohorts == CALIBRATION).sum() == 20
    assert moments[cohorts == TRAIN].max() < moments[cohorts == CALIBRATION].min()
    assert moments[cohorts == CALIBRATION].max() < moments[cohorts == TEST].min()


def test_stratified_split_keeps_the_conversion_rate_and_is_seeded():
    labels = pd.Series([1] * 100 + [0] * 900)
    first = split_stratified(labels, train_fraction=0.6, calibration_fraction=0.2, seed=7)
    again = split_stratified(labels, train_fraction=0.6, calibration_fraction=0.2, seed=7)
    pd.testing.assert_series_equal(first, again)
    for cohort in (TRAIN, CALIBRATION, TEST):
        assert labels[first == cohort].mean() == pytest.approx(0.1, abs=0.005)


def test_fractions_must_leave_a_test_cohort():
    with pytest.raises(ValueError, match="test cohort"):
        split_by_order(pd.Series(range(10)), train_fraction=0.8, calibration_fraction=0.2)
