"""The trained model on a synthetic export: determinism, calibration against truth, behaviour."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build import build_feature_table
from features.split import CALIBRATION, TEST, cohort_rows
from models.artifact import ScoringBundle
from models.calibration import fit_calibrator
from models.evaluation import expected_calibration_error
from models.rules import PointsBaseline
from models.thresholds import (
    choose_thresholds,
    threshold_for_precision,
    threshold_for_recall,
    threshold_for_volume,
)
from models.train import early_stopping_split, predict_raw, prepare_matrix, train_model
from pipelines.config import load_params, parse_params
from pipelines.stages.calibrate import calibrate_and_choose
from pipelines.stages.featurize import build_training_table, feature_config
from pipelines.synthetic.export import export_from_params
from pipelines.synthetic.truth import SyntheticTruth, truth_probability

ROOT = Path(__file__).resolve().parents[2]
N_LEADS = 10_000
MAX_TRAINING_ROWS = 20_000  # snapshots give ~10 rows per lead: a sample keeps the test fast


@pytest.fixture(scope="module")
def world() -> dict:
    params = load_params(ROOT / "params.yaml")
    typed = parse_params(params)
    export = export_from_params(params, n_leads=N_LEADS, seed=7)
    config = feature_config(typed.features, behavioural=True, lead_age=True)
    leads = export.leads.assign(created_at=export.leads["created_at"].astype("datetime64[ns, UTC]"))
    table, _ = build_training_table(
        leads=leads,
        activities=export.activities,
        outcomes=export.outcomes,
        config=config,
        label=replace(typed.label, max_training_rows=MAX_TRAINING_ROWS),
        split=typed.split,
        labelled_source=False,
    )
    booster, spec, _ = train_model(
        table=table, config=config, options=typed.train, purge_days=typed.label.horizon_days
    )
    calibrator, info, thresholds = calibrate_and_choose(
        table=table,
        booster=booster,
        spec=spec,
        calibration=typed.calibration,
        policy=typed.thresholds,
    )
    rules = PointsBaseline.from_params(params["rules"])
    bundle = {
        "feature_config": config.to_dict(),
        "model_spec": spec.to_dict(),
        "calibrator": calibrator.to_dict(),
        "thresholds": thresholds,
        "rules": rules.to_params(),
        "stage_policy": {"hand_raiser_to_sql": True, "disqualify_when": rules.disqualify_when},
        "references": {},
    }
    return {
        "params": params,
        "typed": typed,
        "export": export,
        "leads": leads,
        "config": config,
        "table": table,
        "booster": booster,
        "spec": spec,
        "scorer": ScoringBundle(booster=booster, bundle=bundle),
        "calibration_info": info,
    }


def test_training_is_deterministic(world):
    again, _, _ = train_model(
        table=world["table"],
        config=world["config"],
        options=world["typed"].train,
        purge_days=world["typed"].label.horizon_days,
    )
    assert again.model_to_string() == world["booster"].model_to_string()
    test = cohort_rows(world["table"], TEST)
    X = prepare_matrix(test, world["spec"])
    np.testing.assert_array_equal(predict_raw(again, X), predict_raw(world["booster"], X))


def test_early_stopping_holds_out_the_newest_snapshots_after_one_horizon():
    moments = pd.Series(pd.date_range("2025-01-01", periods=30, freq="14D", tz="UTC"))
    as_of = moments.repeat(100).reset_index(drop=True)  # 100 open leads per snapshot
    labels = pd.Series(np.arange(len(as_of)) % 7 == 0).astype(int)
    fit, stop = early_stopping_split(labels, fraction=0.15, as_of=as_of, purge_days=90)
    # whole snapshots: the newest ones decide when to stop
    assert as_of[stop].min() > as_of[fit].max()
    assert set(as_of[stop]) == set(moments.tail(4)) or set(as_of[stop]) == set(moments.tail(5))
    # no fit row's label window (T, T + 90 days] reaches into the early-stopping period
    assert (as_of[fit] + pd.Timedelta(days=90)).max() <= as_of[stop].min()
    assert (as_of[fit] + pd.Timedelta(days=104)).max() > as_of[stop].min()  # no wider
    unpurged, _ = early_stopping_split(labels, fraction=0.15, as_of=as_of)
    assert len(unpurged) == len(fit) + 6 * 100


def test_calibrated_probabilities_match_the_true_probabilities(world):
    test = cohort_rows(world["table"], TEST)
    export = world["export"]
    truth = SyntheticTruth(leads=export.truth, episodes=export.episodes)
    p_true = truth_probability(
        truth, test["lead_id"], test["as_of"], world["typed"].label.horizon_days
    )
    probability = world["scorer"].probability(test)
    # the test cohort's snapshots, 10 quantile bins: the truth has no label noise, so what
    # remains is the model's estimation error; 0.01 (the bound) leaves headroom for
    # it while failing a miscalibrated model
    # (measured 0.0045 on ~4k rows converting at ~2.4%; the same scores scaled by 1.5: 0.016)
    assert expected_calibration_error(p_true, probability) < 0.01
    assert expected_calibration_error(p_true, np.clip(probability * 1.5, 0, 1)) > 0.01
    # and against outcomes, calibration-in-the-large: mean probability near the realised rate
    assert abs(probability.mean() - test["label"].mean()) < 0.02


def test_a_demo_request_never_lowers_a_leads_probability(world):
    # one snapshot per lead: the feature builder describes each lead once per call
    test = cohort_rows(world["table"], TEST).drop_duplicates("lead_id").head(1500)
    leads = world["leads"].set_index("lead_id").loc[test["lead_id"]].reset_index()
    activities = world["export"].activities
    activities = activities[activities["lead_id"].isin(test["lead_id"])]
    demo = pd.DataFrame(
        {
            "lead_id": test["lead_id"].to_numpy(),
            "occurred_at": test["as_of"].to_numpy(),
            "activity_type": "demo_request",
            "page": None,
        }
    )
    as_of = test["as_of"].reset_index(drop=True)
    kwargs = {"leads": leads, "as_of": as_of, "config": world["config"]}
    before = build_feature_table(activities=activities, **kwargs)
    after = build_feature_table(activities=pd.concat([activities, demo]), **kwargs)
    scorer = world["scorer"]
    p_before, p_after = scorer.probability(before), scorer.probability(after)
    assert np.all(p_after >= p_before - 1e-12)
    assert (p_after > p_before).mean() > 0.5  # and it usually raises it
    assert set(scorer.score(after)["stage"]) <= {"SQL", "DISQUALIFIED"}


def test_a_competitor_domain_never_raises_a_leads_probability(world):
    test = cohort_rows(world["table"], TEST)
    business = test[(test["is_personal_email"] == 0) & (test["is_student_domain"] == 0)]
    competitor = business.assign(is_competitor_domain=1.0)
    scorer = world["scorer"]
    assert np.all(scorer.probability(competitor) <= scorer.probability(business) + 1e-12)
    assert set(scorer.score(competitor)["stage"]) == {"DISQUALIFIED"}


def test_reasons_are_in_words_and_point_upwards(world):
    table = world["table"]
    # a hand-raise's pull fades: leads who asked for a demo in the last two weeks
    recent = (table["n_demo_request_30d"] > 0) & (table["days_since_last_hand_raise"] <= 14)
    raisers = table[recent].head(200)
    assert len(raisers) > 40
    reasons = world["scorer"].reasons(raisers, top_k=3)
    assert all(r.count(";") <= 2 for r in reasons)
    # their hand-raise (the demo itself, or how recent it is) is among the reasons
    mentions = [any(w in r for w in ("Demo", "demo", "hand-raise")) for r in reasons]
    assert sum(mentions) > len(reasons) / 2
    assert not any("n_demo_request" in r or "decayed_" in r for r in reasons)


def test_isotonic_falls_back_to_sigmoid_on_a_small_cohort(world):
    rows = cohort_rows(world["table"], CALIBRATION).head(300)
    X = prepare_matrix(rows, world["spec"])
    calibrator, info = fit_calibrator(
        booster=world["booster"],
        X=X,
        y=rows["label"],
        method="isotonic",
        min_rows_isotonic=1000,
        min_positives_isotonic=50,
    )
    assert calibrator.method == "sigmoid"
    assert "too small for isotonic" in info["fallback_reason"]


def test_threshold_policies_hit_their_targets_on_the_calibration_cohort(world):
    rows = cohort_rows(world["table"], CALIBRATION)
    y = rows["label"].to_numpy()
    p = world["scorer"].probability(rows)
    precise = threshold_for_precision(y, p, target=0.4)
    assert precise.feasible and precise.precision >= 0.4
    # the lowest such threshold: one step lower would miss the target (or add nothing)
    lower = p[p < precise.threshold]
    if lower.size:
        below = p >= lower.max()
        assert y[below].mean() < 0.4 or below.sum() == precise.volume
    recall = threshold_for_recall(y, p, target=0.8)
    assert recall.recall >= 0.8
    capacity = threshold_for_volume(y, p, volume=250)
    assert 0 < capacity.volume <= 250
    # leads that all look alike cannot be split: no threshold reaches 90% when half convert
    impossible = threshold_for_precision(np.array([0, 1, 0, 1]), np.full(4, 0.5), target=0.9)
    assert not impossible.feasible and "no threshold reaches" in impossible.message
    stages = choose_thresholds(
        y=y, p=p, policy={"sql_precision": 0.3, "mql_recall": 0.95}, weeks=10
    )
    assert stages["mql"].threshold <= stages["sql"].threshold
