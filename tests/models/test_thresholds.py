"""Threshold policies: targets hit on calibration, honest intervals on a new cohort, stage order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.stages import SQL, STAGE_ORDER, assign_stages
from models.thresholds import (
    MQL_OR_HIGHER,
    capacity_table,
    choose_thresholds,
    effect_at,
    funnel,
    stage_curve,
    stage_effect,
    stage_movement,
    threshold_for_precision,
    what_if_table,
)

WEEKS = 8.0
POLICIES = {
    "sql_precision": (
        {"sql_policy": "precision", "sql_precision": 0.45, "mql_recall": 0.8},
        "sql",
        "precision",
    ),
    "sql_capacity": (
        {"sql_policy": "capacity", "sql_capacity_per_week": 60, "mql_recall": 0.8},
        "sql",
        "leads_per_week",
    ),
    "sql_expected_value": (
        {
            "sql_policy": "expected_value",
            "deal_value": 5000,
            "contact_cost": 1000,
            "mql_recall": 0.8,
        },
        "sql",
        "precision",
    ),
    "mql_recall": (
        {"sql_policy": "precision", "sql_precision": 0.45, "mql_recall": 0.75},
        "mql",
        "recall",
    ),
    "mql_precision_floor": (
        {
            "sql_policy": "precision",
            "sql_precision": 0.45,
            "mql_policy": "precision_floor",
            "mql_precision_floor": 0.2,
        },
        "mql",
        "precision",
    ),
}


def cohort(seed: int, n: int = 4000) -> dict[str, np.ndarray]:
    """Calibrated synthetic leads: p is the true chance; hand-raisers convert more often."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.7, 6.0, n)
    forced = rng.random(n) < 0.03
    p = np.where(forced, np.clip(p + 0.35, 0, 1), p)
    excluded = rng.random(n) < 0.04
    return {"y": rng.binomial(1, p), "p": p, "forced": forced, "excluded": excluded}


def stages_for(data: dict[str, np.ndarray], choices: dict) -> np.ndarray:
    return assign_stages(
        scores=data["p"],
        mql_threshold=choices["mql"].threshold,
        sql_threshold=choices["sql"].threshold,
        hand_raiser=data["forced"],
        disqualified=data["excluded"],
        hand_raiser_to_sql=True,
    )


def choose(data: dict[str, np.ndarray], policy: dict) -> dict:
    return choose_thresholds(
        y=data["y"],
        p=data["p"],
        policy=policy,
        weeks=WEEKS,
        forced=data["forced"],
        excluded=data["excluded"],
    )


def row_of(effect: pd.DataFrame, stage_key: str) -> pd.Series:
    return effect.set_index("stage").loc[SQL if stage_key == "sql" else MQL_OR_HIGHER]


def test_stage_curve_matches_brute_force():
    data = cohort(3, n=300)
    curve = stage_curve(data["y"], data["p"], forced=data["forced"], excluded=data["excluded"])
    for threshold in curve["threshold"].to_numpy()[::17]:
        chosen = ((data["p"] >= threshold) | data["forced"]) & ~data["excluded"]
        row = effect_at(curve, threshold)
        assert row["volume"] == chosen.sum()
        assert row["conversions"] == data["y"][chosen].sum()
        assert row["expected_conversions"] == pytest.approx(data["p"][chosen].sum())
        assert row["recall"] == pytest.approx(data["y"][chosen].sum() / data["y"].sum())


@pytest.mark.parametrize("name", list(POLICIES))
def test_each_policy_hits_its_target_on_the_calibration_cohort(name):
    policy, key, _ = POLICIES[name]
    data = cohort(0)
    choices = choose(data, policy)
    choice = choices[key]
    assert choice.feasible, choice.message
    realised = row_of(stage_effect(data["y"], stages_for(data, choices), weeks=WEEKS), key)
    if name == "sql_precision":
        assert choice.precision >= 0.45 and realised["precision"] >= 0.45
    elif name == "sql_capacity":
        assert 0.9 * 60 <= realised["leads_per_week"] <= 60
    elif name == "sql_expected_value":
        # every lead above break-even is worth the call; hand-raisers go regardless
        assert choice.threshold == pytest.approx(1000 / 5000)
        free = ~data["forced"] & ~data["excluded"]
        assert ((data["p"][free] >= 0.2) == (stages_for(data, choices)[free] == SQL)).all()
    elif name == "mql_recall":
        assert realised["recall"] >= 0.75
        assert choice.recall == pytest.approx(realised["recall"])
    else:
        assert realised["precision"] >= 0.2
    assert choices["mql"].threshold <= choices["sql"].threshold


@pytest.mark.parametrize("name", list(POLICIES))
def test_interval_from_calibration_covers_the_test_cohort(name):
    """The expected range (chosen and measured on calibration) covers what the test cohort shows."""
    policy, key, metric = POLICIES[name]
    covered = []
    for seed in range(40):
        calibration, test = cohort(2 * seed + 100), cohort(2 * seed + 101)
        choices = choose(calibration, policy)
        expected = row_of(
            stage_effect(
                calibration["y"],
                stages_for(calibration, choices),
                weeks=WEEKS,
                n_boot=400,
                seed=seed,
                predictive=True,
            ),
            key,
        )
        realised = row_of(
            stage_effect(test["y"], stages_for(test, choices), weeks=WEEKS, n_boot=10), key
        )
        covered.append(expected[f"{metric}_low"] <= realised[metric] <= expected[f"{metric}_high"])
    # nominal 95%; selection on the calibration cohort costs a little
    assert np.mean(covered) >= 0.85, f"{name}: covered {np.mean(covered):.0%}"


def test_stage_order_always_holds():
    rng = np.random.default_rng(7)
    data = cohort(5, n=1500)
    for _ in range(60):
        policy = {
            "sql_policy": rng.choice(["precision", "capacity", "expected_value"]),
            "sql_precision": rng.uniform(0.05, 0.99),
            "sql_capacity_per_week": rng.uniform(0, 200),
            "deal_value": rng.uniform(100, 10000),
            "contact_cost": rng.uniform(0, 2000),
            "mql_policy": rng.choice(["recall", "precision_floor"]),
            "mql_recall": rng.uniform(0.05, 1.0),
            "mql_precision_floor": rng.uniform(0.01, 0.99),
        }
        choices = choose(data, policy)
        assert choices["mql"].threshold <= choices["sql"].threshold
        stages = stages_for(data, choices)  # raises if the order were broken
        assert set(stages) <= set(STAGE_ORDER)


def test_infeasible_targets_say_so_and_use_the_closest_threshold():
    data = cohort(1)
    overrides = {"forced": data["forced"], "excluded": data["excluded"]}
    impossible = threshold_for_precision(data["y"], data["p"], target=0.99, **overrides)
    curve = stage_curve(data["y"], data["p"], **overrides)
    assert not impossible.feasible and "no threshold reaches precision 99%" in impossible.message
    assert impossible.precision == pytest.approx(curve["precision"].max())
    tiny = choose(data, {"sql_policy": "capacity", "sql_capacity_per_week": 1, "mql_recall": 0.8})
    assert not tiny["sql"].feasible and "hand-raisers" in tiny["sql"].message
    assert tiny["sql"].volume == (data["forced"] & ~data["excluded"]).sum()
    unreachable = choose(data, {"sql_precision": 0.5, "mql_recall": 0.999})
    assert not unreachable["mql"].feasible and "disqualified" in unreachable["mql"].message


def test_disqualified_leads_never_reach_a_stage_and_hand_raisers_fill_capacity():
    data = cohort(2)
    curve = stage_curve(data["y"], data["p"], forced=data["forced"], excluded=data["excluded"])
    assert curve["volume"].iloc[-1] == (~data["excluded"]).sum()
    assert curve["volume"].iloc[0] == (data["forced"] & ~data["excluded"]).sum()
    table = capacity_table(curve, weeks=WEEKS, leads_per_week=[1, 60, 10_000])
    assert table["forced_only"].tolist() == [True, False, False]
    assert table["leads_per_week"].iloc[1] <= 60


def test_what_if_is_monotone_and_bounded():
    data = cohort(4)
    curve = stage_curve(data["y"], data["p"], forced=data["forced"], excluded=data["excluded"])
    what_if = what_if_table(curve, weeks=WEEKS, max_rows=50)
    assert len(what_if) <= 50
    assert what_if["leads_per_week"].is_monotonic_increasing
    assert what_if["threshold"].is_monotonic_decreasing
    assert what_if["recall"].between(0, 1).all()


def test_movement_and_funnel_add_up():
    data = cohort(6, n=1000)
    choices = choose(data, POLICIES["sql_precision"][0])
    model = stages_for(data, choices)
    rules = np.roll(model, 7)
    movement = stage_movement(rules, model)
    assert movement.to_numpy().sum() == 1000
    assert (
        movement.sum(axis=0)
        == pd.Series(model).value_counts().reindex(STAGE_ORDER, fill_value=0).to_numpy()
    ).all()
    steps = funnel(data["y"], model)
    assert steps["leads"].is_monotonic_decreasing
    assert (
        steps["conversions"].iloc[0] - steps["conversions"].iloc[-1]
        == steps["conversions_lost"].sum()
    )


def test_stage_effect_intervals_contain_the_estimate():
    data = cohort(8)
    effect = stage_effect(
        data["y"], stages_for(data, choose(data, POLICIES["sql_precision"][0])), weeks=WEEKS
    )
    for metric in ("leads_per_week", "precision", "recall"):
        finite = effect[metric].notna()
        assert (effect.loc[finite, f"{metric}_low"] <= effect.loc[finite, metric] + 1e-12).all()
        assert (effect.loc[finite, metric] <= effect.loc[finite, f"{metric}_high"] + 1e-12).all()
    assert effect.set_index("stage").loc["All leads", "recall"] == 1.0
