"""The learned points card on small synthetic data: direction, size, whole points, thresholds."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from models.scorecard import card_thresholds, fit_card


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 6000
    frame = pd.DataFrame(
        {
            "n_demo_request_30d": rng.poisson(0.3, n).astype(float),
            "n_page_pricing_30d": rng.poisson(1.0, n).astype(float),
            "is_personal_email": rng.integers(0, 2, n).astype(float),
            "seniority": pd.Categorical(rng.choice(["vp", "manager", "individual"], n)),
            **{f"noise_{i}": rng.normal(size=n) for i in range(14)},
        }
    )
    logit = (
        -2.0
        + 1.2 * frame["n_demo_request_30d"]
        + 0.4 * frame["n_page_pricing_30d"]
        - 0.8 * frame["is_personal_email"]
        + frame["seniority"].map({"vp": 1.0, "manager": 0.3, "individual": 0.0}).astype(float)
    )
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture(scope="module")
def card(leads: pd.DataFrame):
    return fit_card(
        leads.drop(columns="label"),
        leads["label"].to_numpy(),
        categorical=["seniority"],
        increasing=["n_*_30d"],
        max_variables=12,
    )


def test_a_demo_request_earns_points(card, leads: pd.DataFrame) -> None:
    lead = leads.drop(columns="label").head(1).copy()
    lead["n_demo_request_30d"] = 0.0
    before = card.points(lead)[0]
    lead["n_demo_request_30d"] = 2.0
    assert card.points(lead)[0] > before
    personal = lead.assign(is_personal_email=1.0)
    work = lead.assign(is_personal_email=0.0)
    assert card.points(personal)[0] < card.points(work)[0]


def test_small_card_of_whole_points(card) -> None:
    assert 1 <= len(card.variables) <= 12
    assert all(float(row["points"]).is_integer() for row in card.table)
    assert not any(v.startswith("noise_") for v in card.variables[:3])


def test_thresholds_hit_their_policy(card, leads: pd.DataFrame) -> None:
    y = leads["label"].to_numpy()
    points = card.points(leads)
    policy = SimpleNamespace(
        sql_policy="precision",
        sql_precision=0.6,
        mql_policy="recall",
        mql_recall=0.8,
        sql_capacity_per_week=0,
        deal_value=0,
        contact_cost=0,
        mql_precision_floor=0,
    )
    none = np.zeros(len(y), dtype=bool)
    chosen = card_thresholds(
        y=y, points=points, policy=policy, timing=None, forced=none, excluded=none
    )
    sql = points >= chosen["sql_points"]
    mql = points >= chosen["mql_points"]
    assert y[sql].mean() >= 0.6
    assert y[mql].sum() / y.sum() >= 0.8
    assert chosen["mql_points"] <= chosen["sql_points"]


def test_an_unanswered_question_is_counted_once() -> None:
    """A form question left blank, with its missing indicator beside it (as X Education has):
    the card's points for a blank answer match the data's log-odds, not twice their size."""
    rng = np.random.default_rng(1)
    n = 6000
    answered = rng.random(n) < 0.6
    occupation = np.where(answered, rng.choice(["working", "student"], n, p=[0.3, 0.7]), None)
    minutes = rng.exponential(10, n)
    # log-odds: blank -1.0, student +0.5, working +2.0 (20 points double the odds)
    logit = -1.0 + np.select([~answered, occupation == "student"], [-1.0, 0.5], 2.0)
    logit = logit + 0.08 * minutes
    frame = pd.DataFrame(
        {
            "occupation": pd.Categorical(occupation),
            "is_missing_occupation": (~answered).astype(float),
            "minutes": minutes,
        }
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    card = fit_card(frame, y, categorical=["occupation"], points_to_double_odds=20.0)
    lead = frame.head(1).assign(minutes=10.0)
    student = lead.assign(occupation="student", is_missing_occupation=0.0)
    blank = lead.assign(occupation=np.nan, is_missing_occupation=1.0)
    gap = card.points(student)[0] - card.points(blank)[0]
    assert gap == pytest.approx(1.5 * 20 / np.log(2), abs=12)  # 43 points


def test_a_number_that_counts_only_when_known() -> None:
    """A number with a single known value (minutes of a one-hour webinar, blank for leads
    who did not attend): one bin, from the smallest value seen, earning points against a blank."""
    rng = np.random.default_rng(2)
    attended = rng.random(4000) < 0.3
    minutes = pd.DataFrame({"webinar_minutes": np.where(attended, 60.0, np.nan)})
    converted = (rng.random(4000) < np.where(attended, 0.4, 0.1)).astype(int)
    card = fit_card(minutes, converted)
    assert [row["bin"] for row in card.table] == [">= 60", "missing"]
    points = card.points(pd.DataFrame({"webinar_minutes": [np.nan, 60.0, 75.0]}))
    assert points[0] == 0 and points[1] == points[2] > 0
