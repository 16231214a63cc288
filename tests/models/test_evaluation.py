"""Shared metrics: calibration error, lift and gains, bootstrap intervals, curve data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models.evaluation import (
    AGE_BANDS,
    age_band,
    age_band_frame,
    bootstrap_rate_by_group,
    calibration_points,
    classification_metrics,
    ece_vs_truth,
    expected_calibration_error,
    gains_points,
    lift_and_gains,
    metrics_by_age_band,
    pr_points,
    precision_at_volume,
    roc_points,
)


@pytest.fixture
def calibrated() -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from known probabilities: the probabilities are calibrated by design."""
    rng = np.random.default_rng(3)
    p = rng.beta(1.0, 9.0, 50_000)
    return (rng.random(p.shape[0]) < p).astype(int), p


# 10 leads, scores high to low; conversions at ranks 1, 2, 4 and 9 (4 of 10, base rate 0.4).
Y10 = np.array([1, 1, 0, 1, 0, 0, 0, 0, 1, 0])
S10 = np.linspace(1.0, 0.1, 10)


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_ece_small_when_calibrated_large_when_shifted(
    calibrated: tuple[np.ndarray, np.ndarray], strategy: str
) -> None:
    y, p = calibrated
    assert expected_calibration_error(y, p, strategy=strategy) < 0.01
    shifted = np.clip(p + 0.1, 0.0, 1.0)
    assert expected_calibration_error(y, shifted, strategy=strategy) > 0.08


def test_ece_against_true_probabilities_is_zero_for_the_truth(
    calibrated: tuple[np.ndarray, np.ndarray],
) -> None:
    _, p = calibrated
    assert expected_calibration_error(p, p) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(p, p * 0.5) == pytest.approx(p.mean() * 0.5, rel=1e-9)


def test_ece_by_hand_with_uniform_bins() -> None:
    # bin [0, 0.5): p 0.1, 0.1 vs y 0, 1 -> gap |1 - 0.2| = 0.8; bin [0.5, 1]: |1 - 0.9| = 0.1
    ece = expected_calibration_error([0, 1, 1], [0.1, 0.1, 0.9], n_bins=2, strategy="uniform")
    assert ece == pytest.approx((0.8 + 0.1) / 3)


def test_ece_rejects_bad_strategy_and_range() -> None:
    with pytest.raises(ValueError, match="strategy"):
        expected_calibration_error([0, 1], [0.1, 0.9], strategy="equal")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([0, 1], [0.1, 1.5])


def test_lift_and_gains_by_hand() -> None:
    out = lift_and_gains(Y10, S10, fractions=(0.1, 0.2, 0.5))
    # top 1: 1 of 4 conversions, rate 1.0 vs 0.4; top 2: 2 of 4; top 5: 3 of 4, rate 0.6
    assert out["lift_at_10"] == pytest.approx(2.5)
    assert out["gains_at_10"] == pytest.approx(0.25)
    assert out["lift_at_20"] == pytest.approx(2.5)
    assert out["gains_at_20"] == pytest.approx(0.5)
    assert out["lift_at_50"] == pytest.approx(1.5)
    assert out["gains_at_50"] == pytest.approx(0.75)


def test_lift_ties_are_broken_by_input_order() -> None:
    y = np.repeat([0, 1], 500)
    assert lift_and_gains(y, np.ones(1000), fractions=(0.5,))["gains_at_50"] == 0.0
    assert lift_and_gains(y[::-1], np.ones(1000), fractions=(0.5,))["gains_at_50"] == 1.0
    # with three tied score levels in shuffled order, the top 20% are the first rows of the
    # top level in input order
    rng = np.random.default_rng(0)
    score = np.repeat([3.0, 2.0, 1.0], [400, 300, 300])[rng.permutation(1000)]
    y = (rng.random(1000) < 0.3).astype(int)
    top_rows = np.flatnonzero(score == 3.0)[:200]
    assert precision_at_volume(y, score, 200) == y[top_rows].mean()
    gains = lift_and_gains(y, score, fractions=(0.2,))["gains_at_20"]
    assert gains == y[top_rows].sum() / y.sum()


def test_lift_does_not_depend_on_score_scale() -> None:
    assert lift_and_gains(Y10, S10) == lift_and_gains(Y10, S10 * 100 - 7)


def test_precision_at_volume_by_hand() -> None:
    assert precision_at_volume(Y10, S10, 2) == 1.0
    assert precision_at_volume(Y10, S10, 4) == 0.75
    assert precision_at_volume(Y10, S10, 50) == 0.4  # more than all leads: all leads


def test_classification_metrics_keys_and_values(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = calibrated
    metrics = classification_metrics(y, p)
    expected = {
        "roc_auc", "pr_auc", "log_loss", "brier", "ece", "base_rate", "n",
        "lift_at_5", "lift_at_10", "lift_at_20", "gains_at_5", "gains_at_10", "gains_at_20",
    }  # fmt: skip
    assert set(metrics) == expected
    assert 0.5 < metrics["roc_auc"] < 1.0
    assert metrics["base_rate"] == pytest.approx(y.mean())
    assert metrics["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert metrics["lift_at_5"] > metrics["lift_at_20"] > 1.0
    assert metrics["n"] == len(y)


def test_random_scores_have_auc_and_lift_near_one_half_and_one() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(40_000) < 0.1).astype(int)
    metrics = classification_metrics(y, rng.random(40_000))
    assert metrics["roc_auc"] == pytest.approx(0.5, abs=0.02)
    assert metrics["lift_at_10"] == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_not_a_crash(label: int) -> None:
    y = np.full(20, label)
    p = np.linspace(0.05, 0.95, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no sklearn warnings leak either
        metrics = classification_metrics(y, p)
    assert np.isnan(metrics["roc_auc"]) and np.isnan(metrics["pr_auc"])
    assert np.isfinite(metrics["brier"]) and np.isfinite(metrics["log_loss"])
    assert roc_points(y, p).empty and pr_points(y, p).empty


def test_metrics_reject_missing_and_mismatched_input() -> None:
    with pytest.raises(ValueError, match="missing"):
        classification_metrics([0, 1], [0.2, np.nan])
    with pytest.raises(ValueError, match="values"):
        lift_and_gains([0, 1, 1], [0.2, 0.3])


def test_bootstrap_ci_covers_true_rate_and_is_deterministic() -> None:
    rng = np.random.default_rng(11)
    groups = np.repeat(["IQL", "MQL", "SQL"], [3000, 1000, 500])
    true_rate = {"IQL": 0.02, "MQL": 0.10, "SQL": 0.35}
    y = (rng.random(groups.shape[0]) < pd.Series(groups).map(true_rate).to_numpy()).astype(int)
    table = bootstrap_rate_by_group(y, groups, n_boot=2000, seed=1)
    assert table.index.tolist() == ["IQL", "MQL", "SQL"]
    assert table["n"].tolist() == [3000, 1000, 500]
    for group, rate in true_rate.items():
        row = table.loc[group]
        assert row["ci_low"] <= rate <= row["ci_high"]
        assert row["ci_low"] <= row["rate"] <= row["ci_high"]
        assert row["rate"] == pytest.approx(y[groups == group].mean())
    pd.testing.assert_frame_equal(table, bootstrap_rate_by_group(y, groups, n_boot=2000, seed=1))
    other = bootstrap_rate_by_group(y, groups, n_boot=2000, seed=2)
    assert not np.allclose(other["ci_low"], table["ci_low"])


def test_bootstrap_interval_narrows_with_more_leads() -> None:
    y = np.tile([1, 0, 0, 0], 1000)
    groups = np.where(np.arange(4000) < 400, "small", "large")
    table = bootstrap_rate_by_group(y, groups, n_boot=500, seed=0)
    width = table["ci_high"] - table["ci_low"]
    assert width["small"] > width["large"]


def test_bootstrap_keeps_category_order() -> None:
    stages = pd.Series(pd.Categorical(["SQL", "IQL", "MQL"], categories=["IQL", "MQL", "SQL"]))
    table = bootstrap_rate_by_group([1, 0, 0], stages, n_boot=10)
    assert table.index.tolist() == ["IQL", "MQL", "SQL"]


def test_curves_are_tidy_small_and_labelled(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = calibrated
    roc = pd.concat([roc_points(y, p), roc_points(y, -p, model="points")])
    assert roc.columns.tolist() == ["model", "fpr", "tpr"]
    assert set(roc["model"]) == {"model", "points"}
    assert (roc.groupby("model").size() <= 200).all()
    first = roc[roc["model"] == "model"]
    assert first["fpr"].iloc[0] == 0.0 and first["tpr"].iloc[-1] == 1.0
    assert first["fpr"].is_monotonic_increasing
    pr = pr_points(y, p)
    assert pr.columns.tolist() == ["model", "recall", "precision"] and len(pr) <= 200
    calibration = calibration_points(y, p, n_bins=10)
    assert calibration.columns.tolist() == ["model", "mean_predicted", "fraction_converted"]
    np.testing.assert_allclose(
        calibration["mean_predicted"], calibration["fraction_converted"], atol=0.02
    )


def test_gains_points_by_hand() -> None:
    gains = gains_points(Y10, S10, n_points=10)
    assert gains.columns.tolist() == ["model", "share_contacted", "share_converted"]
    np.testing.assert_allclose(gains["share_contacted"], np.linspace(0, 1, 11))
    expected = [0, 1, 2, 2, 3, 3, 3, 3, 3, 4, 4]
    np.testing.assert_allclose(gains["share_converted"], np.array(expected) / 4)


def test_age_bands_are_closed_on_the_left() -> None:
    ages = [0.0, 13.99, 14.0, 29.5, 30.0, 59.0, 60.0, 119.0, 120.0, 239.9, 240.0, 900.0, -1.0]
    assert list(age_band(ages)) == [
        "0-14", "0-14", "14-30", "14-30", "30-60", "30-60", "60-120", "60-120",
        "120-240", "120-240", "240+", "240+", "0-14",
    ]  # fmt: skip
    assert [name for name, _, _ in AGE_BANDS] == list(age_band([1.0]).categories)


def test_metrics_by_age_band_by_hand() -> None:
    # 0-14: two leads, one converted; 30-60: three leads, all converted (one class); 240+: one
    age = [3.0, 10.0, 31.0, 45.0, 59.0, 400.0]
    y = [0, 1, 1, 1, 1, 0]
    p = [0.2, 0.6, 0.5, 0.7, 0.9, 0.1]
    truth = [0.2, 0.6, 0.4, np.nan, 0.8, 0.1]
    bands = metrics_by_age_band(y_true=y, y_prob=p, age_days=age, p_true=truth)
    assert list(bands) == [name for name, _, _ in AGE_BANDS]
    young = bands["0-14"]
    assert young["count"] == 2
    assert young["mean_predicted"] == pytest.approx(0.4)
    assert young["mean_observed"] == pytest.approx(0.5)
    assert young["roc_auc"] == pytest.approx(1.0)
    assert young["mean_true"] == pytest.approx(0.4)
    assert young["ece_vs_truth"] == pytest.approx(0.0, abs=1e-12)
    middle = bands["30-60"]
    assert middle["count"] == 3 and middle["mean_observed"] == pytest.approx(1.0)
    assert middle["roc_auc"] is None  # one class: no AUC, and null in metrics.json
    assert middle["truth_count"] == 2  # the lead without a truth is left out of the truth
    assert middle["mean_true"] == pytest.approx(0.6)
    # two quantile bins of one lead each: (|0.5 - 0.4| + |0.9 - 0.8|) / 2
    assert middle["ece_vs_truth"] == pytest.approx(0.1)
    assert bands["14-30"] == {
        "count": 0,
        "mean_predicted": None,
        "mean_observed": None,
        "roc_auc": None,
        "truth_count": 0,
        "mean_true": None,
        "ece_vs_truth": None,
    }
    assert bands["240+"]["count"] == 1 and bands["240+"]["roc_auc"] is None
    assert "mean_true" not in metrics_by_age_band(y_true=y, y_prob=p, age_days=age)["0-14"]


def test_age_band_frame_shares_and_order() -> None:
    bands = metrics_by_age_band(
        y_true=[0, 1, 0, 1], y_prob=[0.1, 0.8, 0.3, 0.4], age_days=[250.0, 5.0, 20.0, 21.0]
    )
    frame = age_band_frame(bands)
    assert list(frame["band"]) == [name for name, _, _ in AGE_BANDS]
    assert frame["share"].tolist() == pytest.approx([0.25, 0.5, 0, 0, 0, 0.25])
    assert frame["mean_true"].isna().all()
    assert frame.loc[frame["band"] == "14-30", "mean_predicted"].item() == pytest.approx(0.35)


def test_ece_vs_truth_zero_for_the_truth_and_the_gap_when_shifted(
    calibrated: tuple[np.ndarray, np.ndarray],
) -> None:
    _, p = calibrated
    assert ece_vs_truth(p, p) == pytest.approx(0.0, abs=1e-12)
    # every bin is off by exactly 0.02, whatever the binning
    assert ece_vs_truth(p * 0.9, p * 0.9 + 0.02) == pytest.approx(0.02)
    bands = metrics_by_age_band(
        y_true=(p > 0.5).astype(int), y_prob=p, age_days=np.arange(p.shape[0]) % 300, p_true=p
    )
    assert all(band["ece_vs_truth"] == pytest.approx(0.0, abs=1e-12) for band in bands.values())
