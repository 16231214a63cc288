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
