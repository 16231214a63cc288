"""Funnel stages: thresholds, hand-raiser and disqualification overrides, monotone order."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.build import FeatureConfig
from models.bundle import ScoringBundle
from models.stages import (
    DISQUALIFIED,
    IQL,
    MQL,
    NEVER_RAISED_DAYS,
    SQL,
    STAGE_ORDER,
    assign_stages,
    disqualified_mask,
    hand_raiser_mask,
    sql_ineligible_mask,
    stage_rank,
)
from models.train import NEVER_DAYS, ModelSpec


def stages(scores: list[float], **overrides: object) -> list[str]:
    """Stages at MQL 0.3 / SQL 0.6 with no overrides unless given."""
    kwargs: dict[str, object] = {
        "mql_threshold": 0.3,
        "sql_threshold": 0.6,
        "hand_raiser": None,
        "disqualified": None,
        "hand_raiser_to_sql": False,
    }
    kwargs.update(overrides)
    return assign_stages(scores=np.array(scores), **kwargs).tolist()


def test_stage_order_is_lowest_to_highest() -> None:
    assert STAGE_ORDER == (DISQUALIFIED, IQL, MQL, SQL)


def test_thresholds_are_inclusive() -> None:
    assert stages([0.0, 0.29, 0.3, 0.59, 0.6, 1.0]) == [IQL, IQL, MQL, MQL, SQL, SQL]


def test_missing_score_is_iql() -> None:
    assert stages([np.nan]) == [IQL]


def test_hand_raiser_goes_to_sql_only_when_switched_on() -> None:
    raised = np.array([True, False])
    assert stages([0.1, 0.1], hand_raiser=raised, hand_raiser_to_sql=True) == [SQL, IQL]
    assert stages([0.1, 0.1], hand_raiser=raised, hand_raiser_to_sql=False) == [IQL, IQL]


def test_disqualification_beats_score_and_hand_raise() -> None:
    out = stages(
        [0.9, 0.1, 0.9],
        hand_raiser=np.array([True, True, False]),
        disqualified=np.array([True, True, False]),
        hand_raiser_to_sql=True,
    )
    assert out == [DISQUALIFIED, DISQUALIFIED, SQL]


def test_mql_above_sql_raises() -> None:
    with pytest.raises(ValueError, match="mql_threshold"):
        stages([0.5], mql_threshold=0.7, sql_threshold=0.6)


def test_equal_thresholds_skip_mql() -> None:
    assert stages([0.4, 0.5], mql_threshold=0.5, sql_threshold=0.5) == [IQL, SQL]


def test_override_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="hand_raiser"):
        stages([0.1, 0.2], hand_raiser=np.array([True]))


def test_stage_is_monotone_in_score() -> None:
    scores = np.random.default_rng(0).random(500)
    order = np.argsort(scores)
    ranks = stage_rank(np.array(stages(scores.tolist())))[order]
    assert (np.diff(ranks) >= 0).all()


def test_stage_rank_rejects_unknown_stage() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        stage_rank(["SQL", "HOT"])


def test_disqualified_mask_any_rule_at_or_above_its_value() -> None:
    X = pd.DataFrame(
        {
            "is_competitor_domain": [1.0, 0.0, 0.0, 0.0, np.nan],
            "n_page_careers_total": [0.0, 3.0, 2.0, 0.0, np.nan],
        }
    )
    rules = {"is_competitor_domain": 1, "n_page_careers_total": 3, "is_student_domain": 1}
    assert disqualified_mask(X, rules).tolist() == [True, True, False, False, False]


def test_disqualified_mask_skips_absent_columns_and_keeps_input() -> None:
    X = pd.DataFrame({"seniority": ["vp", "manager"]})
    before = X.copy()
    assert disqualified_mask(X, {"is_student_domain": 1}).tolist() == [False, False]
    pd.testing.assert_frame_equal(X, before)


def raisers(days: list[float], **columns: list[float]) -> pd.DataFrame:
    """Leads whose last hand-raise was `days` ago (NaN: never), flagged as the builder does."""
    flags = [0.0 if np.isnan(d) else 1.0 for d in days]
    return pd.DataFrame({"days_since_last_hand_raise": days, "is_hand_raiser": flags, **columns})


def test_hand_raise_sends_to_sql_only_within_the_window() -> None:
    leads = raisers([10.0, 30.0, 40.0, np.nan])
    assert hand_raiser_mask(leads, window_days=30).tolist() == [True, True, False, False]
    # a lead 40 days after its hand-raise is scored like any other lead
    staged = assign_stages(
        scores=np.array([0.1, 0.1, 0.1, 0.1]),
        mql_threshold=0.3,
        sql_threshold=0.6,
        hand_raiser=hand_raiser_mask(leads, window_days=30),
        disqualified=None,
        hand_raiser_to_sql=True,
    )
    assert staged.tolist() == [SQL, SQL, IQL, IQL]
    high = stages([0.7, 0.4], hand_raiser=hand_raiser_mask(raisers([40.0, 40.0]), window_days=30))
    assert high == [SQL, MQL]


def test_no_window_keeps_every_hand_raiser_and_never_invents_one() -> None:
    leads = raisers([10.0, 400.0, np.nan, NEVER_RAISED_DAYS])
    leads.loc[3, "is_hand_raiser"] = 0.0
    assert hand_raiser_mask(leads, window_days=None).tolist() == [True, True, False, False]
    # a window longer than "never" must not turn leads without a hand-raise into raisers
    assert hand_raiser_mask(leads, window_days=1e6).tolist() == [True, True, False, False]
    only_days = leads.drop(columns="is_hand_raiser")
    assert hand_raiser_mask(only_days, window_days=1e6).tolist() == [True, True, False, False]
    assert NEVER_RAISED_DAYS == NEVER_DAYS


def test_tables_without_the_recency_column_fall_back_to_the_flag() -> None:
    older = pd.DataFrame({"is_hand_raiser": [1.0, 0.0, np.nan]})
    assert hand_raiser_mask(older, window_days=30).tolist() == [True, False, False]
    assert hand_raiser_mask(pd.DataFrame({"x": [1.0]}), window_days=30).tolist() == [False]
    with pytest.raises(ValueError, match="hand_raiser_window_days"):
        hand_raiser_mask(older, window_days=-1)


def scoring_bundle(stage_policy: dict[str, object]) -> ScoringBundle:
    """A real (tiny) bundle: one feature, thresholds far above its leads' probabilities."""
    rng = np.random.default_rng(0)
    x = rng.random(400)
    y = (rng.random(400) < 0.3 * x).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4},
        lgb.Dataset(pd.DataFrame({"engagement_score": x}), y),
        num_boost_round=5,
    )
    bundle = {
        "feature_config": FeatureConfig().to_dict(),
        "model_spec": ModelSpec(features=("engagement_score",), categorical=()).to_dict(),
        "calibrator": {"method": "isotonic", "params": {"x": [0, 1], "y": [0, 1]}},
        "thresholds": {"mql": {"threshold": 0.5}, "sql": {"threshold": 0.9}},
        "rules": {},
        "stage_policy": stage_policy,
        "references": {},
    }
    return ScoringBundle(booster=booster, bundle=bundle)


def test_scoring_applies_the_window_the_bundle_carries() -> None:
    leads = raisers([10.0, 40.0, np.nan], engagement_score=[0.0, 0.0, 0.0])
    windowed = scoring_bundle({"hand_raiser_to_sql": True, "hand_raiser_window_days": 30})
    assert windowed.score(leads)["stage"].tolist() == [SQL, IQL, IQL]
    older = scoring_bundle({"hand_raiser_to_sql": True})  # bundles from before the window
    assert older.score(leads)["stage"].tolist() == [SQL, SQL, IQL]


def test_a_lead_without_recent_activity_never_reaches_sql_by_its_score():
    table = pd.DataFrame({"days_since_last_activity": [3.0, 89.0, 120.0, np.nan]})
    ineligible = sql_ineligible_mask(table, activity_days=90)
    assert ineligible.tolist() == [False, False, True, True]  # NaN: no activity at all
    stages = assign_stages(
        scores=np.array([0.9, 0.9, 0.9, 0.9]),
        mql_threshold=0.2,
        sql_threshold=0.5,
        hand_raiser=None,
        disqualified=None,
        hand_raiser_to_sql=True,
        sql_ineligible=ineligible,
    )
    assert stages.tolist() == [SQL, SQL, MQL, MQL]  # fit without interest: MQL at most


def test_no_activity_rule_when_off_or_without_an_activity_log():
    table = pd.DataFrame({"days_since_last_activity": [400.0]})
    assert not sql_ineligible_mask(table, activity_days=None).any()
    assert not sql_ineligible_mask(pd.DataFrame({"x": [1.0]}), activity_days=90).any()
