"""Threshold policies: targets hit on calibration, honest intervals on a new cohort, stage order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.stages import IQL, SQL, STAGE_ORDER, assign_stages
from models.thresholds import (
    MQL_OR_HIGHER,
    CohortTiming,
    capacity_table,
    choose_thresholds,
    cohort_timing,
    effect_at,
    funnel,
    snapshot_timing,
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


# -- snapshots of the open lead base: several rows per lead, one per scoring moment ----------

EVERY = 14.0
START = pd.Timestamp("2025-03-01", tz="UTC")


def moments(*steps: int) -> pd.Series:
    return pd.Series([START + pd.Timedelta(days=EVERY * k) for k in steps])


def panel(seed: int, n_leads: int = 3000, n_moments: int = 8) -> dict:
    """Snapshot rows of an open base: a lead's chance drifts slowly, so it stays in a stage
    for a while; some leads are not in the base at some moments; p is the true chance."""
    rng = np.random.default_rng(seed)
    lead = np.repeat(np.arange(n_leads), n_moments)
    step = np.tile(np.arange(n_moments), n_leads)
    drift = np.cumsum(rng.normal(0, 0.5, (n_leads, n_moments)), axis=1).reshape(-1)
    logit = -3.0 + rng.normal(0, 1.2, n_leads)[lead] + drift
    p = 1 / (1 + np.exp(-logit))
    keep = rng.random(lead.size) < 0.85
    lead, step, p = lead[keep], step[keep], p[keep]
    return {
        "lead_id": lead,
        "as_of": moments(*step),
        "p": p,
        "y": rng.binomial(1, p),
        "forced": rng.random(p.size) < 0.02,
        "excluded": rng.random(p.size) < 0.03,
    }


def timing_of(data: dict, **kwargs: float) -> CohortTiming:
    return snapshot_timing(data["lead_id"], data["as_of"], every_days=EVERY, **kwargs)


def entering_brute_force(data: dict, in_stage: np.ndarray) -> int:
    """Rows in the stage whose lead was not in it one snapshot earlier (first moment left out)."""
    frame = pd.DataFrame({"lead": data["lead_id"], "as_of": data["as_of"], "in": in_stage})
    earlier = frame.assign(as_of=frame["as_of"] + pd.Timedelta(days=EVERY))
    both = frame.merge(earlier, on=["lead", "as_of"], how="left", suffixes=("", "_before"))
    entered = both["in"] & ~both["in_before"].fillna(False).astype(bool)
    return int(entered[both["as_of"] > frame["as_of"].min()].sum())


def test_snapshot_timing_finds_the_same_lead_one_snapshot_earlier():
    lead_id = np.array(["a", "a", "a", "b", "c", "c"])
    timing = snapshot_timing(lead_id, moments(0, 1, 2, 1, 0, 2), every_days=EVERY)
    # c skipped the middle snapshot: at the last one it has no previous snapshot
    assert timing.previous.tolist() == [-1, 0, 1, -1, -1, -1]
    assert timing.counted.tolist() == [False, True, True, True, False, True]
    assert (timing.moments, timing.weeks, timing.entering_weeks) == (3, 6.0, 4.0)


def test_a_lead_enters_once_while_it_stays_and_again_when_it_comes_back():
    # one lead over six scoring days: out, in, in, in, out, in
    data = {"lead_id": np.zeros(6, dtype=int), "as_of": moments(*range(6))}
    stages = np.array([IQL, SQL, SQL, SQL, IQL, SQL])
    effect = stage_effect(np.zeros(6), stages, timing=timing_of(data), n_boot=10)
    sql = effect.set_index("stage").loc[SQL]
    weeks = 5 * EVERY / 7  # entering is counted on the five moments with one before them
    assert sql["entering_per_week"] == pytest.approx(2 / weeks)
    assert sql["leads_per_week"] == sql["entering_per_week"]
    assert sql["in_stage_per_scoring_day"] == pytest.approx(4 / 6)
    curve = stage_curve(np.zeros(6), np.where(stages == SQL, 0.9, 0.1), timing=timing_of(data))
    assert effect_at(curve, 0.5)["entering"] == pytest.approx(2)


def test_curve_counts_entering_leads_as_a_brute_force_does():
    data = panel(1, n_leads=300, n_moments=6)
    overrides = {"forced": data["forced"], "excluded": data["excluded"]}
    curve = stage_curve(data["y"], data["p"], timing=timing_of(data), **overrides)
    for threshold in curve["threshold"].to_numpy()[::37]:
        in_stage = ((data["p"] >= threshold) | data["forced"]) & ~data["excluded"]
        row = effect_at(curve, threshold)
        assert row["volume"] == in_stage.sum()
        assert row["entering"] == pytest.approx(entering_brute_force(data, in_stage))


def test_capacity_limits_new_sqls_per_week_not_sqls_on_a_scoring_day():
    data = panel(2)
    timing = timing_of(data)
    policy = {"sql_policy": "capacity", "sql_capacity_per_week": 40, "mql_recall": 0.8}
    overrides = {"forced": data["forced"], "excluded": data["excluded"]}
    sql = choose_thresholds(y=data["y"], p=data["p"], policy=policy, timing=timing, **overrides)[
        "sql"
    ]
    in_stage = ((data["p"] >= sql.threshold) | data["forced"]) & ~data["excluded"]
    entering = entering_brute_force(data, in_stage) / timing.entering_weeks
    assert sql.feasible and 0.9 * 40 <= entering <= 40
    assert sql.entering_per_week == pytest.approx(entering) == pytest.approx(sql.volume_per_week)
    # leads stay in SQL for several snapshots: far more sit in it than enter it each week
    assert sql.in_stage_per_scoring_day == pytest.approx(in_stage.sum() / timing.moments)
    assert sql.in_stage_per_scoring_day > 1.5 * sql.entering_per_week
    curve = stage_curve(data["y"], data["p"], timing=timing, **overrides)
    lower = curve[curve["threshold"] < sql.threshold]["entering"]
    assert lower.iloc[0] > 40 * timing.entering_weeks  # the next threshold down would overflow


def test_precision_target_is_met_on_the_calibration_snapshots():
    data = panel(3)
    policy = {"sql_policy": "precision", "sql_precision": 0.3, "mql_recall": 0.8}
    overrides = {"forced": data["forced"], "excluded": data["excluded"]}
    choices = choose_thresholds(
        y=data["y"], p=data["p"], policy=policy, timing=timing_of(data), **overrides
    )
    in_sql = stages_for(data, choices) == SQL
    # of the leads in SQL on a scoring day, at least 30% convert
    assert choices["sql"].feasible and data["y"][in_sql].mean() >= 0.3
    assert choices["sql"].precision == pytest.approx(data["y"][in_sql].mean())


def test_one_row_per_lead_keeps_todays_volumes():
    data = cohort(9)
    policy = POLICIES["sql_capacity"][0]
    before = choose(data, policy)
    timing = CohortTiming.one_row_per_lead(WEEKS)
    after = choose_thresholds(
        y=data["y"],
        p=data["p"],
        policy=policy,
        timing=timing,
        forced=data["forced"],
        excluded=data["excluded"],
    )
    for key in ("mql", "sql"):
        assert after[key] == before[key]
        assert before[key].volume_per_week == pytest.approx(before[key].volume / WEEKS)
        assert before[key].entering_per_week == before[key].volume_per_week
        assert before[key].in_stage_per_scoring_day == before[key].volume
    rows = pd.DataFrame({"lead_id": range(4), "as_of": moments(0, 0, 0, 7)})
    assert cohort_timing(rows, snapshots=False, every_days=EVERY, fallback_weeks=1).weeks == 14
    # a snapshot table with a single moment: every lead in a stage entered it
    single = {"lead_id": np.arange(5), "as_of": moments(0, 0, 0, 0, 0)}
    curve = stage_curve(np.zeros(5), np.linspace(0, 1, 5), timing=timing_of(single))
    assert (curve["entering"] == curve["volume"]).all()


def test_sampled_snapshots_give_the_volumes_of_the_whole_base():
    data = panel(4, n_leads=6000)
    stages = np.where(data["p"] >= 0.2, SQL, IQL)
    full = stage_effect(data["y"], stages, timing=timing_of(data), n_boot=400)
    keep = np.random.default_rng(5).random(data["p"].size) < 0.5
    half = {
        k: (v[keep] if k != "as_of" else v[keep].reset_index(drop=True)) for k, v in data.items()
    }
    sampled = stage_effect(
        half["y"], stages[keep], timing=timing_of(half, sample_rate=0.5), n_boot=10
    )
    for metric in ("in_stage_per_scoring_day", "entering_per_week"):
        want, got = full.set_index("stage")[metric], sampled.set_index("stage")[metric]
        assert got[SQL] == pytest.approx(want[SQL], rel=0.1)
    # both intervals hold their estimate
    for metric in ("in_stage_per_scoring_day", "entering_per_week"):
        assert (full[f"{metric}_low"] <= full[metric] + 1e-9).all()
        assert (full[metric] <= full[f"{metric}_high"] + 1e-9).all()


def test_sql_threshold_is_chosen_on_the_leads_that_may_reach_sql():
    rng = np.random.default_rng(3)
    n = 20_000
    p = rng.uniform(0, 0.6, n)
    y = (rng.random(n) < p).astype(int)
    # a third of the leads show no recent activity and convert far less than their score says
    stale = rng.random(n) < 0.33
    y[stale] = (rng.random(stale.sum()) < p[stale] * 0.2).astype(int)
    policy = {"sql_precision": 0.45, "mql_recall": 0.8}
    plain = choose_thresholds(y=y, p=p, policy=policy, weeks=10.0)
    guarded = choose_thresholds(y=y, p=p, policy=policy, weeks=10.0, sql_ineligible=stale)
    in_sql = (p >= guarded["sql"].threshold) & ~stale
    assert y[in_sql].mean() >= 0.45  # the promise holds for the leads that reach SQL
    assert guarded["sql"].threshold < plain["sql"].threshold  # stale leads no longer dilute it
    assert guarded["mql"].threshold == plain["mql"].threshold  # MQL-or-higher is unchanged
