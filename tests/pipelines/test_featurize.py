"""The features stage: snapshots of the open lead base, point in time, censored and purged;
the feature table's strict schema at the stage boundary, with failures in words."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.build import STANDARD_ACTIVITY_TYPES, FeatureConfig, build_feature_table
from features.split import CALIBRATION, TEST, TRAIN
from pipelines.config import LabelParams, SplitParams
from pipelines.errors import DataQualityError
from pipelines.stages.featurize import build_training_table, validate_feature_table

CONFIG = FeatureConfig(categorical=("industry",), numeric=("employees",), behavioural=False)
SNAPSHOT_CONFIG = FeatureConfig(
    categorical=("industry",),
    windows_days=(7, 30),
    page_categories={"pricing": ("pricing",)},
    lead_age=True,
)
START = pd.Timestamp("2025-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)
LABEL = LabelParams(horizon_days=30, snapshot_every_days=7)
SPLIT = SplitParams()


def small_export(n_leads: int = 600, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Leads created over 200 days, a few dozen events each, a third of them converting."""
    generator = np.random.default_rng(seed)
    created = START + pd.to_timedelta(generator.uniform(0, 200, n_leads), unit="D")
    lead_ids = [f"lead{i:04d}" for i in range(n_leads)]
    leads = pd.DataFrame(
        {
            "lead_id": lead_ids,
            "created_at": created,
            "industry": generator.choice(["software", "retail", "bank"], n_leads),
        }
    )
    per_lead = generator.integers(0, 40, n_leads)
    owner = np.repeat(np.arange(n_leads), per_lead)
    activities = pd.DataFrame(
        {
            "lead_id": np.array(lead_ids)[owner],
            "occurred_at": created[owner]
            + pd.to_timedelta(generator.exponential(40, owner.size), unit="D"),
            "activity_type": generator.choice(STANDARD_ACTIVITY_TYPES, owner.size),
            "page": generator.choice(["/pricing", "/blog", None], owner.size),
        }
    )
    converting = generator.random(n_leads) < 1 / 3
    outcomes = pd.DataFrame(
        {
            "lead_id": np.array(lead_ids)[converting],
            "converted_at": created[converting]
            + pd.to_timedelta(generator.uniform(1, 150, converting.sum()), unit="D"),
        }
    )
    data_end = START + 260 * DAY  # the export's end: nothing after it
    activities = activities[activities["occurred_at"] <= data_end].reset_index(drop=True)
    outcomes = outcomes[outcomes["converted_at"] <= data_end].reset_index(drop=True)
    return {"leads": leads, "activities": activities, "outcomes": outcomes}


def snapshot_table(export: dict[str, pd.DataFrame], **label: object) -> tuple[pd.DataFrame, dict]:
    return build_training_table(
        **export,
        config=SNAPSHOT_CONFIG,
        label=replace(LABEL, **label),
        split=SPLIT,
        labelled_source=False,
    )


@pytest.fixture(scope="module")
def export() -> dict[str, pd.DataFrame]:
    return small_export()


@pytest.fixture(scope="module")
def snapshots(export) -> tuple[pd.DataFrame, dict]:
    return snapshot_table(export)


def test_snapshots_hold_the_open_base_with_censored_labels(export, snapshots):
    table, summary = snapshots
    validate_feature_table(table, config=SNAPSHOT_CONFIG, training=True)
    leads = export["leads"].set_index("lead_id")
    converted_at = table["lead_id"].map(export["outcomes"].set_index("lead_id")["converted_at"])
    data_end = export["activities"]["occurred_at"].max()
    # every row's label window lies inside the data (censoring)
    assert (table["as_of"] + LABEL.horizon_days * DAY <= data_end).all()
    # a lead is in a snapshot once it is observation_days old, until it converts
    created = table["lead_id"].map(leads["created_at"])
    assert (table["as_of"] - created >= LABEL.observation_days * DAY).all()
    assert not (converted_at <= table["as_of"]).any()
    in_window = (converted_at > table["as_of"]) & (
        converted_at <= table["as_of"] + LABEL.horizon_days * DAY
    )
    assert (table["label"] == in_window.astype(int)).all()
    # the lead's age on the day, and the same lead in several snapshots
    expected_age = (table["as_of"] - created) / DAY
    np.testing.assert_allclose(table["lead_age_days"], expected_age, rtol=1e-6)
    assert table.groupby("lead_id").size().max() >= 5
    assert table.duplicated(["lead_id", "as_of"]).sum() == 0
    assert summary["rows"] == len(table) and summary["sampling_rate"] == 1.0
    assert summary["by_status"]["not_sampled"] == 0


def test_no_label_window_of_an_earlier_cohort_reaches_into_a_later_one(snapshots):
    table, summary = snapshots
    assert summary["purged"] is True
    period = table.groupby("cohort")["as_of"].agg(["min", "max"])
    horizon = LABEL.horizon_days * DAY
    assert period.loc[TRAIN, "max"] + horizon <= period.loc[CALIBRATION, "min"]
    assert period.loc[CALIBRATION, "max"] + horizon <= period.loc[TEST, "min"]
    for cohort in (TRAIN, CALIBRATION, TEST):
        got = summary["cohorts"][cohort]
        rows = table[table["cohort"] == cohort]
        assert got["rows"] == len(rows) and got["positives"] == rows["label"].sum()
        assert sum(got["age_mix"].values()) == len(rows)


def test_events_after_a_snapshot_change_none_of_its_features(export, snapshots):
    table, _ = snapshots
    moment = table.loc[table["cohort"] == CALIBRATION, "as_of"].max()
    events = export["activities"]
    later = events["occurred_at"] > moment
    generator = np.random.default_rng(5)
    altered = events.copy()
    # other types and pages, shuffled across leads, moved within (T, data end]
    altered.loc[later, "activity_type"] = generator.permutation(events.loc[later, "activity_type"])
    altered.loc[later, "lead_id"] = generator.permutation(events.loc[later, "lead_id"])
    altered.loc[later, "page"] = "/pricing"
    span = events["occurred_at"].max() - moment
    altered.loc[later, "occurred_at"] = moment + span * generator.uniform(0.01, 1, later.sum())
    last = events["occurred_at"].idxmax()  # the data end (hence the moments) stays
    altered.loc[last, "occurred_at"] = events.loc[last, "occurred_at"]
    extra = altered[later].head(500).assign(activity_type="demo_request")
    changed, _ = snapshot_table({**export, "activities": pd.concat([altered, extra])})
    assert export["activities"]["occurred_at"].max() == altered["occurred_at"].max()
    before = table[table["as_of"] <= moment].reset_index(drop=True)
    after = changed[changed["as_of"] <= moment].reset_index(drop=True)
    assert len(before) > 1000
    pd.testing.assert_frame_equal(before, after)
    assert not changed[changed["as_of"] > moment].equals(table[table["as_of"] > moment])


def test_each_snapshot_has_the_features_of_the_whole_base_built_at_that_moment(export, snapshots):
    table, _ = snapshots
    moment = table.loc[table["cohort"] == TEST, "as_of"].min()
    rows = table[table["as_of"] == moment].set_index("lead_id")
    leads = export["leads"].set_index("lead_id").loc[rows.index].reset_index()
    direct = build_feature_table(
        leads=leads,
        activities=export["activities"],
        as_of=pd.Series(moment, index=leads.index),
        config=SNAPSHOT_CONFIG,
    ).set_index("lead_id")
    numeric = SNAPSHOT_CONFIG.numeric_columns()
    np.testing.assert_allclose(rows[numeric], direct[numeric].astype(np.float32), rtol=0)
    assert rows["industry"].astype(str).equals(direct["industry"].astype(str))


def test_sampling_caps_the_rows_and_keeps_the_population(export, snapshots):
    table, _ = snapshots
    sampled, sampled_summary = snapshot_table(export, max_training_rows=len(table) // 4)
    assert len(sampled) <= len(table) // 4
    assert sampled_summary["sampling_rate"] == pytest.approx(0.25, rel=0.01)
    assert sampled_summary["by_status"]["not_sampled"] == len(table) - len(sampled)
    # a subset of the full table, with the same cohorts, and about the same mix
    merged = sampled.merge(table, on=["lead_id", "as_of"], suffixes=("", "_full"))
    assert len(merged) == len(sampled)
    assert (merged["cohort"] == merged["cohort_full"]).all()
    rate, sampled_rate = table["label"].mean(), sampled["label"].mean()
    assert abs(sampled_rate - rate) < 4 * np.sqrt(rate * (1 - rate) / len(sampled))
    assert sampled["as_of"].nunique() == table["as_of"].nunique()


def test_a_short_export_falls_back_to_cohorts_without_gaps(export):
    _, summary = snapshot_table(export, horizon_days=100)
    assert summary["purged"] is False
    assert all(summary["cohorts"][c]["rows"] > 0 for c in (TRAIN, CALIBRATION, TEST))


def training_table() -> pd.DataFrame:
    leads = pd.DataFrame({"lead_id": ["a", "b"], "industry": ["x", "y"], "employees": ["5", "9"]})
    moments = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[ns, UTC]")
    table = build_feature_table(leads=leads, activities=None, as_of=moments, config=CONFIG)
    return table.assign(
        label=[0, 1],
        cohort=["train", "test"],
        employees=lambda t: t["employees"].astype(np.float32),
    )


def test_a_valid_table_passes():
    table = training_table()
    pd.testing.assert_frame_equal(
        validate_feature_table(table, config=CONFIG, training=True), table
    )


def test_schema_failures_name_the_column_and_the_check():
    broken = training_table().assign(
        employees=np.array([np.inf, 3.0], dtype=np.float32), email=["a@b.com", "c@d.com"]
    )
    with pytest.raises(DataQualityError) as failure:
        validate_feature_table(broken, config=CONFIG, training=True)
    message = str(failure.value)
    assert "feature table failed its schema" in message
    assert "employees" in message and "finite" in message
    assert "email" in message  # strict: an undeclared column (here PII) is refused
    assert "\n" not in message  # one line for the CLI


def test_a_lead_twice_at_one_moment_is_refused():
    table = training_table()
    twice = pd.concat([table, table.head(1)], ignore_index=True)
    with pytest.raises(DataQualityError, match="lead_id"):
        validate_feature_table(twice, config=CONFIG, training=True)
    at_two_moments = twice.assign(
        as_of=pd.Series([START, START, START + DAY], dtype="datetime64[ns, UTC]")
    )
    validate_feature_table(at_two_moments, config=CONFIG, training=True)


def test_without_snapshots_each_lead_is_one_row_at_its_observation_age(export):
    table, summary = snapshot_table(export, snapshot_every_days=None)
    validate_feature_table(table, config=SNAPSHOT_CONFIG, training=True)
    assert table["lead_id"].is_unique  # the fixed-age cohort: one row per lead
    assert (table["lead_age_days"] == LABEL.observation_days).all()
    leads = export["leads"].set_index("lead_id")
    first = export["outcomes"].groupby("lead_id")["converted_at"].min()
    as_of = table["as_of"].to_numpy()
    assert (
        as_of == (leads.loc[table["lead_id"], "created_at"] + LABEL.observation_days * DAY)
    ).all()
    converted = table["lead_id"].map(first)
    horizon_end = table["as_of"] + LABEL.horizon_days * DAY
    expected = ((converted > table["as_of"]) & (converted <= horizon_end)).astype(int)
    assert (table["label"].to_numpy() == expected.to_numpy()).all()
    assert not (converted <= table["as_of"]).any()  # early converters are not open leads
    assert set(summary["by_status"]) >= {"eligible"} and summary["purged"] is None
