"""The calibrate stage on snapshots of the open lead base: thresholds in both units, the window."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.train import ModelSpec
from pipelines.config import CalibrationParams, ThresholdsParams
from pipelines.stages.calibrate import calibrate_and_choose, table_snapshots

EVERY = 14.0
MOMENTS = 6


def snapshot_table(n_leads: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Every lead at six scoring moments; a few hand-raised 10 days (or 40 days) before one."""
    rng = np.random.default_rng(seed)
    lead = np.repeat(np.arange(n_leads), MOMENTS)
    step = np.tile(np.arange(MOMENTS), n_leads)
    score = rng.random(lead.size)
    raised = rng.choice([np.nan, 10.0, 40.0], size=lead.size, p=[0.9, 0.05, 0.05])
    return pd.DataFrame(
        {
            "lead_id": lead,
            "as_of": pd.Timestamp("2025-06-01", tz="UTC") + pd.to_timedelta(step * EVERY, "D"),
            "label": rng.binomial(1, 0.02 + 0.2 * score),
            "cohort": "calibration",
            "engagement_score": score,
            "is_hand_raiser": np.where(np.isnan(raised), 0.0, 1.0),
            "days_since_last_hand_raise": raised,
        }
    )


@pytest.fixture(scope="module")
def chosen() -> tuple[pd.DataFrame, dict]:
    table = snapshot_table()
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4, "num_threads": 1},
        lgb.Dataset(table[["engagement_score"]], table["label"]),
        num_boost_round=20,
    )
    _, _, thresholds = calibrate_and_choose(
        table=table,
        booster=booster,
        spec=ModelSpec(features=("engagement_score",), categorical=()),
        calibration=CalibrationParams(),
        # a capacity below the hand-raisers: SQL holds exactly the leads the window forces
        policy=ThresholdsParams(
            sql_policy="capacity", sql_capacity_per_week=1, bootstrap_samples=50
        ),
        snapshot_every_days=EVERY,
    )
    return table, json.loads(json.dumps(thresholds))  # as thresholds.json holds it


def test_thresholds_state_both_units_and_the_snapshots(chosen):
    _, thresholds = chosen
    assert thresholds["snapshot_every_days"] == EVERY
    assert thresholds["snapshot_moments"] == MOMENTS
    assert thresholds["cohort_weeks"] == MOMENTS * EVERY / 7
    for stage in ("sql", "mql"):
        for key in ("precision", "volume", "volume_per_week", "in_stage_per_scoring_day"):
            assert np.isfinite(thresholds[stage][key]), (stage, key)
        assert thresholds[stage]["entering_per_week"] == thresholds[stage]["volume_per_week"]
    assert {"in_stage_per_scoring_day", "entering_per_week"} <= set(thresholds["what_if"][0])


def test_only_recent_hand_raisers_are_forced_into_sql(chosen):
    table, thresholds = chosen
    recent = (table["days_since_last_hand_raise"] <= 30).sum()
    assert thresholds["hand_raiser_window_days"] == 30
    assert thresholds["sql"]["volume"] == recent  # the 40-day-old hand-raises are not in SQL
    assert thresholds["sql"]["in_stage_per_scoring_day"] == pytest.approx(recent / MOMENTS)


def test_the_table_says_whether_it_holds_snapshots(tmp_path: Path):
    assert table_snapshots(tmp_path) == {"snapshot_every_days": None, "sample_rate": 1.0}
    summary = {"sampling_rate": 0.25, "snapshots": {"every_days": 7.0, "moments": 40}}
    (tmp_path / "features_summary.json").write_text(json.dumps(summary))
    assert table_snapshots(tmp_path) == {"snapshot_every_days": 7.0, "sample_rate": 0.25}
