"""The points baseline on hand-built feature frames (columns named as features.build names them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from features.build import FeatureConfig, build_feature_table
from models.rules import PointsBaseline
from models.stages import DISQUALIFIED, IQL, MQL, SQL, stage_rank
from pipelines.config import RulesParams

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"

RULES = {
    "attribute_points": {
        "seniority": {"c_level": 15, "vp": 12, "director": 10, "manager": 5},
        "company_size": {"201-1000": 10, "1000+": 10},
    },
    "flag_points": {"is_competitor_domain": -50, "is_personal_email": -5, "has_unsubscribed": -10},
    "activity_points": {"demo_request": 30, "page_view": 1},
    "page_points": {"pricing": 5, "careers": -5},
    "page_window_days": 30,
    "numeric_points": {},
    "max_behaviour_points": None,
    "mql_points": 30,
    "sql_points": 60,
    "hand_raiser_to_sql": True,
    "disqualify_when": {"is_competitor_domain": 1, "n_page_careers_total": 3},
}


def baseline(**changes: object) -> PointsBaseline:
    return PointsBaseline.from_params({**RULES, **changes})


def features(**columns: list[object]) -> pd.DataFrame:
    """A feature frame with every rule column at its neutral value, overridden per column."""
    n = len(next(iter(columns.values())))
    base: dict[str, list[object]] = {
        "seniority": ["individual"] * n,
        "company_size": ["11-50"] * n,
        "is_competitor_domain": [0.0] * n,
        "is_personal_email": [0.0] * n,
        "has_unsubscribed": [0.0] * n,
        "decayed_demo_request": [0.0] * n,
        "decayed_page_view": [0.0] * n,
        "n_page_pricing_30d": [0.0] * n,
        "n_page_careers_30d": [0.0] * n,
        "n_page_careers_total": [0.0] * n,
        "is_hand_raiser": [0.0] * n,
    }
    base.update(columns)
    frame = pd.DataFrame(base)
    for column in ("seniority", "company_size"):
        frame[column] = frame[column].astype("category")
    return frame


def test_points_by_hand() -> None:
    X = features(
        seniority=["vp", "manager", None],
        company_size=["1000+", "1-10", "201-1000"],
        is_personal_email=[0.0, 1.0, 0.0],
        decayed_demo_request=[1.0, 0.0, 0.0],
        decayed_page_view=[3.0, 2.0, 0.0],
        n_page_pricing_30d=[2.0, 0.0, 0.0],
        n_page_careers_30d=[0.0, 1.0, 0.0],
    )
    # vp 12 + 1000+ 10 + demo 30 + 3 views + 2 pricing * 5 = 65
    # manager 5 + personal -5 + 2 views - 5 careers = -3; missing seniority 0 + 201-1000 10 = 10
    assert baseline().decision_function(X).tolist() == [65.0, -3.0, 10.0]


def test_point_contributions_add_up_to_the_score() -> None:
    X = features(seniority=["vp", "director"], decayed_page_view=[80.0, 1.0])
    model = baseline(max_behaviour_points=50)
    parts = model.point_contributions(X)
    np.testing.assert_allclose(parts.sum(axis=1), model.decision_function(X))
    assert parts.loc[0, "behaviour_cap"] == -30.0  # 80 behaviour points capped at 50


def test_demo_request_one_half_life_ago_earns_half_the_points() -> None:
    X = features(decayed_demo_request=[1.0, 0.5])
    points = baseline().decision_function(X)
    assert points.tolist() == [30.0, 15.0]


def test_decay_end_to_end_from_the_feature_builder() -> None:
    """A demo request 14 days before the as-of moment, half-life 14 days: 15 of 30 points."""
    as_of = pd.Timestamp("2025-03-01", tz="UTC")
    leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": [as_of, as_of]})
    activities = pd.DataFrame(
        {
            "lead_id": ["a", "b"],
            "occurred_at": [as_of, as_of - pd.Timedelta(days=14)],
            "activity_type": ["demo_request", "demo_request"],
            "page": [None, None],
        }
    )
    config = FeatureConfig(decay_half_life_days=14.0, page_categories={"pricing": ("pricing",)})
    table = build_feature_table(
        leads=leads, activities=activities, as_of=pd.Series([as_of, as_of]), config=config
    )
    model = baseline(activity_points={"demo_request": 30}, page_points={}, flag_points={})
    np.testing.assert_allclose(model.decision_function(table), [30.0, 15.0])


def test_missing_values_earn_no_points() -> None:
    X = features(decayed_demo_request=[np.nan], seniority=[None], is_personal_email=[np.nan])
    assert baseline().decision_function(X).tolist() == [0.0]


def test_numeric_tiers_stack() -> None:
    X = pd.DataFrame({"total_visits": [0.0, 5.0, 12.0, np.nan]})
    model = baseline(numeric_points={"total_visits": [[5, 10], [10, 5]]})
    assert model.decision_function(X).tolist() == [0.0, 10.0, 15.0, 0.0]


def test_competitor_never_gains_and_is_disqualified() -> None:
    rng = np.random.default_rng(1)
    n = 200
    X = features(
        seniority=rng.choice(["c_level", "vp", "manager", "individual"], n).tolist(),
        company_size=rng.choice(["1-10", "1000+"], n).tolist(),
        decayed_demo_request=rng.random(n).tolist(),
        decayed_page_view=rng.poisson(5, n).astype(float).tolist(),
        is_hand_raiser=(rng.random(n) < 0.3).astype(float).tolist(),
    )
    competitor = X.assign(is_competitor_domain=1.0)
    model = baseline()
    assert (model.decision_function(competitor) < model.decision_function(X)).all()
    assert (model.predict_stage(competitor) == DISQUALIFIED).all()


def test_stages_from_points_and_hand_raise() -> None:
    X = features(
        decayed_demo_request=[0.0, 1.0, 2.0, 0.0, 0.0],
        is_hand_raiser=[0.0, 0.0, 0.0, 1.0, 1.0],
        n_page_careers_total=[0.0, 0.0, 0.0, 0.0, 3.0],
    )
    assert baseline().predict_stage(X).tolist() == [IQL, MQL, SQL, SQL, DISQUALIFIED]
    off = baseline(hand_raiser_to_sql=False).predict_stage(X).tolist()
    assert off == [IQL, MQL, SQL, IQL, DISQUALIFIED]


def test_hand_raise_overrides_points_only_within_its_window() -> None:
    X = features(
        decayed_demo_request=[0.0, 0.0, 2.0],
        is_hand_raiser=[1.0, 1.0, 1.0],
        days_since_last_hand_raise=[10.0, 40.0, 40.0],
    )
    # 40 days after the hand-raise the points decide: few points IQL, many points SQL
    assert baseline(hand_raiser_window_days=30).predict_stage(X).tolist() == [SQL, IQL, SQL]
    assert baseline(hand_raiser_window_days=None).predict_stage(X).tolist() == [SQL, SQL, SQL]
    assert "days_since_last_hand_raise" in baseline(hand_raiser_window_days=30).configured_columns()


def test_rules_window_defaults_to_the_thresholds_window() -> None:
    assert RulesParams().baseline_kwargs(hand_raiser_window_days=30.0) == {
        "hand_raiser_window_days": 30.0
    }
    assert RulesParams().baseline_kwargs() == {}  # no window anywhere: the baseline's, forever
    own = RulesParams(hand_raiser_window_days=7.0)
    assert own.baseline_kwargs(hand_raiser_window_days=30.0)["hand_raiser_window_days"] == 7.0
    model = PointsBaseline(**RulesParams().baseline_kwargs(hand_raiser_window_days=30.0))
    assert model.to_params()["hand_raiser_window_days"] == 30.0
    assert PointsBaseline().to_params()["hand_raiser_window_days"] is None


def test_more_points_never_mean_a_lower_stage() -> None:
    X = features(decayed_demo_request=np.linspace(0, 3, 50).tolist())
    ranks = stage_rank(baseline().predict_stage(X))
    assert (np.diff(ranks) >= 0).all()


def fitted_data(n: int = 2000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    demo = rng.exponential(0.5, n)
    X = features(decayed_demo_request=demo.tolist(), decayed_page_view=rng.poisson(3, n).tolist())
    y = (rng.random(n) < 1 / (1 + np.exp(-(demo * 2 - 2)))).astype(int)
    return X, y


def test_predict_proba_is_monotone_in_points() -> None:
    X, y = fitted_data()
    model = baseline().fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    order = np.argsort(model.decision_function(X), kind="stable")
    assert (np.diff(proba[order, 1]) >= 0).all()
    assert proba[:, 1].min() >= 0.0 and proba[:, 1].max() <= 1.0
    points = model.decision_function(X)
    top, bottom = points >= np.quantile(points, 0.9), points <= np.quantile(points, 0.1)
    assert proba[top, 1].mean() > proba[bottom, 1].mean() + 0.2  # it learned the direction


def test_predict_is_sql_points_threshold() -> None:
    X, y = fitted_data()
    model = baseline().fit(X, y)
    expected = (model.decision_function(X) >= 60).astype(int)
    np.testing.assert_array_equal(model.predict(X), expected)


def test_fit_records_columns_and_leaves_input_alone() -> None:
    X, y = fitted_data(300)
    X = X.drop(columns=["has_unsubscribed"])
    before = X.copy()
    model = baseline().fit(X, y)
    assert "has_unsubscribed" in model.missing_columns_
    assert "decayed_demo_request" in model.used_columns_
    pd.testing.assert_frame_equal(X, before)


def test_unfitted_proba_raises_but_points_do_not() -> None:
    X, _ = fitted_data(10)
    model = baseline()
    with pytest.raises(NotFittedError):
        model.predict_proba(X)
    assert model.decision_function(X).shape == (10,)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mql_points": 70, "sql_points": 60}, "mql_points"),
        ({"page_window_days": 0}, "window"),
        ({"hand_raiser_window_days": -1}, "hand_raiser_window_days"),
    ],
)
def test_fit_rejects_bad_config(changes: dict[str, object], message: str) -> None:
    X, y = fitted_data(50)
    with pytest.raises(ValueError, match=message):
        baseline(**changes).fit(X, y)


def test_fit_needs_two_classes() -> None:
    X, _ = fitted_data(50)
    with pytest.raises(ValueError, match="two classes"):
        baseline().fit(X, np.zeros(50))


def test_clone_gives_an_unfitted_equal_copy() -> None:
    X, y = fitted_data(300)
    model = baseline().fit(X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "calibrator_")
    np.testing.assert_allclose(copy.fit(X, y).predict_proba(X), model.predict_proba(X))


def test_params_round_trip_is_json_ready() -> None:
    model = baseline(numeric_points={"visits": [[5, 10]]}, max_behaviour_points=80)
    payload = json.loads(json.dumps(model.to_params()))
    again = PointsBaseline.from_params(payload)
    assert again.to_params() == payload
    X = features(seniority=["vp"], decayed_demo_request=[1.0])
    assert again.decision_function(X).tolist() == model.decision_function(X).tolist()


def test_from_params_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown rules keys"):
        PointsBaseline.from_params({**RULES, "mql_point": 30})


def test_shipped_params_build_a_valid_baseline() -> None:
    rules = yaml.safe_load(PARAMS.read_text())["rules"]
    model = PointsBaseline.from_params(rules)
    X, y = fitted_data(200)
    model.fit(X, y)
    assert model.to_params()["mql_points"] <= model.to_params()["sql_points"]


def test_shipped_rules_only_name_columns_the_feature_builder_makes() -> None:
    params = yaml.safe_load(PARAMS.read_text())
    config = FeatureConfig.from_params(params["features"], behavioural=True)
    model = PointsBaseline.from_params(params["rules"])
    missing = set(model.configured_columns()) - set(config.feature_columns())
    assert not missing


def test_rules_may_name_columns_as_the_export_does() -> None:
    # the feature builder names a declared "Industry" column `industry`, "Employees" `employees`
    frame = pd.DataFrame(
        {
            "industry": ["software", "retail", None],
            "employees": [5.0, 500.0, None],
            "bounced": [0, 1, 0],
        }
    )
    as_export = PointsBaseline(
        attribute_points={"Industry": {"software": 10}},
        numeric_points={"Employees": [[100, 15]]},
        flag_points={"Bounced": -20},
        activity_points={},
        page_points={},
    )
    as_table = PointsBaseline(
        attribute_points={"industry": {"software": 10}},
        numeric_points={"employees": [[100, 15]]},
        flag_points={"bounced": -20},
        activity_points={},
        page_points={},
    )
    points = as_export.decision_function(frame)
    assert points.tolist() == [10.0, -5.0, 0.0]
    assert points.tolist() == as_table.decision_function(frame).tolist()
