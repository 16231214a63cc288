"""An export's own activity names: open vocabulary, roles by params, the map, unknown names."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build import STANDARD_ACTIVITY_TYPES, FeatureConfig, build_feature_table
from features.naming import describe_feature
from features.validation import validate_export
from features.vocabulary import apply_type_map, slug, slug_map
from models.rules import PointsBaseline
from models.stages import SQL, assign_stages, hand_raiser_mask
from models.train import monotone_constraints
from pipelines.config import load_config, load_params
from pipelines.stages.featurize import check_activity_names, feature_config
from pipelines.synthetic.export import export_from_params

ROOT = Path(__file__).resolve().parents[2]
RENAMED = {
    "page_view": "Page View",
    "form_submit": "Form Submission",
    "content_download": "Content Download",
    "webinar_registered": "Webinar Registration",
    "webinar_attended": "Webinar Attended",
    "email_open": "Email Opened",
    "email_click": "Email Clicked",
    "email_unsubscribe": "Unsubscribed",
    "chat": "Chat Started",
    "trial_request": "Free Trial Signup",
    "demo_request": "Meeting Booked",
    "contact_sales": "Quote Request",
}
AS_OF = pd.Timestamp("2024-05-01", tz="UTC")


@pytest.fixture(scope="module")
def export():
    params = load_params(ROOT / "params.yaml")
    return export_from_params(params, n_leads=400, start="2024-01-02", days=150, seed=3)


@pytest.fixture(scope="module")
def settings():
    return load_config(ROOT / "params.yaml")


def renamed(activities: pd.DataFrame) -> pd.DataFrame:
    types = activities["activity_type"].astype(str).map(RENAMED)
    return activities.assign(activity_type=types)


def in_export_names(config: FeatureConfig) -> FeatureConfig:
    """The same roles, written in the export's names."""
    return replace(
        config,
        **{key: tuple(RENAMED[n] for n in names) for key, names in config.roles().items()},
    )


def table(export, activities: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    config = config.with_activity_types(activities["activity_type"])
    as_of = export.leads["created_at"] + pd.Timedelta(days=20)
    return build_feature_table(
        leads=export.leads, activities=activities, as_of=as_of, config=config
    )


def canonical_config(settings) -> FeatureConfig:
    return feature_config(settings.features, behavioural=True, lead_age=True)


def column_in_export_names(column: str) -> str:
    for canonical, theirs in RENAMED.items():
        for prefix in ("n_", "decayed_"):
            if column.startswith(f"{prefix}{canonical}"):
                return column.replace(f"{prefix}{canonical}", f"{prefix}{slug(theirs)}", 1)
    return column


def test_canonical_export_keeps_the_standard_columns(export, settings):
    config = canonical_config(settings).with_activity_types(export.activities["activity_type"])
    assert config.vocabulary() == STANDARD_ACTIVITY_TYPES
    fixed = replace(config, activity_types=None)  # the vocabulary of old bundles
    as_of = export.leads["created_at"] + pd.Timedelta(days=20)
    kwargs = {"leads": export.leads, "activities": export.activities, "as_of": as_of}
    assert build_feature_table(**kwargs, config=config).equals(
        build_feature_table(**kwargs, config=fixed)
    )


def test_renamed_types_with_roles_in_their_names_give_the_same_features(export, settings):
    canonical = table(export, export.activities, canonical_config(settings))
    theirs = table(export, renamed(export.activities), in_export_names(canonical_config(settings)))
    expected = canonical.rename(columns=column_in_export_names)
    assert sorted(theirs.columns) == sorted(expected.columns)
    pd.testing.assert_frame_equal(theirs[expected.columns], expected)
    assert theirs["is_hand_raiser"].sum() > 0
    assert theirs["n_form_conversions"].sum() > 0


def test_the_map_gives_exactly_the_canonical_features(export, settings):
    canonical = table(export, export.activities, canonical_config(settings))
    mapping = {theirs: ours for ours, theirs in RENAMED.items()}
    at_extract = apply_type_map(renamed(export.activities)["activity_type"], mapping)
    assert (at_extract == export.activities["activity_type"].astype(str)).all()
    mapped = feature_config(
        settings.features, behavioural=True, lead_age=True, activity_type_map=mapping
    )
    # the builder applies the bundle's map again: scoring reads the export's names as training did
    assert table(export, renamed(export.activities), mapped).equals(canonical)


def test_unseen_type_at_scoring_counts_as_other(export, settings):
    config = canonical_config(settings).with_activity_types(export.activities["activity_type"])
    lead = export.leads.iloc[:1]
    events = pd.DataFrame(
        {
            "lead_id": [lead["lead_id"].iloc[0]] * 2,
            "occurred_at": [AS_OF - pd.Timedelta(days=1)] * 2,
            "activity_type": ["Podcast Listened", "demo_request"],
            "page": [None, None],
        }
    )
    as_of = pd.Series(AS_OF, index=lead.index)
    row = build_feature_table(leads=lead, activities=events, as_of=as_of, config=config).iloc[0]
    assert row["n_other_7d"] == 1 and row["n_demo_request_7d"] == 1
    assert row["n_events_7d"] == 2 and "n_podcast_listened_7d" not in row


def test_cap_keeps_the_most_frequent_and_roles_beyond_it(settings):
    leads = pd.DataFrame({"lead_id": ["a", "b"], "created_at": [AS_OF - pd.Timedelta(days=9)] * 2})
    types = ["Page View"] * 5 + ["Email Opened"] * 3 + ["Meeting Booked"]
    events = pd.DataFrame(
        {
            "lead_id": ["a"] * 8 + ["b"],
            "occurred_at": [AS_OF - pd.Timedelta(days=2)] * 9,
            "activity_type": types,
            "page": [None] * 9,
        }
    )
    config = replace(
        canonical_config(settings), max_activity_types=2, hand_raiser_types=("Meeting Booked",)
    ).with_activity_types(events["activity_type"])
    assert config.vocabulary() == ("page_view", "email_opened")
    as_of = pd.Series(AS_OF, index=leads.index)
    features = build_feature_table(leads=leads, activities=events, as_of=as_of, config=config)
    assert features["n_other_7d"].tolist() == [0.0, 1.0]
    assert features["is_hand_raiser"].tolist() == [0.0, 1.0]
    assert features["is_returning_visitor"].tolist() == [0.0, 0.0]
    assert describe_feature("n_meeting_booked_30d") == "Meeting booked (last 30 days)"


def test_hand_raiser_in_their_name_is_sql_within_the_window(export, settings):
    config = replace(canonical_config(settings), hand_raiser_types=("Meeting Booked",))
    features = table(export, renamed(export.activities), config)
    recent = features["days_since_last_hand_raise"] <= 30
    assert recent.sum() > 0
    raised = hand_raiser_mask(features, window_days=30.0)
    stages = assign_stages(
        scores=np.zeros(len(features)),
        mql_threshold=0.5,
        sql_threshold=0.9,
        hand_raiser=raised,
        disqualified=np.zeros(len(features), dtype=bool),
        hand_raiser_to_sql=True,
    )
    assert (stages[recent.to_numpy()] == SQL).all()


def test_unknown_names_in_params_warn_and_are_reported(export, settings, caplog):
    config = replace(
        canonical_config(settings), hand_raiser_types=("Meeting Booked", "Quote Requested")
    )
    rules = replace(settings.rules, activity_points={"Meeting Booked": 25, "Webinar": 5})
    train = replace(settings.train, monotone_increasing=("n_*_*d", "n_Quote Request_total"))
    with caplog.at_level(logging.WARNING):
        unknown = check_activity_names(config, renamed(export.activities), rules=rules, train=train)
    assert unknown["features.hand_raiser_types"] == ["Quote Requested"]
    assert unknown["rules.activity_points"] == ["Webinar"]
    assert "train.monotone_increasing" not in unknown
    assert "Quote Requested" in caplog.text
    # the canonical lists on an export with its own names: every one of them is reported
    default = check_activity_names(
        canonical_config(settings),
        renamed(export.activities),
        rules=settings.rules,
        train=settings.train,
    )
    assert "demo_request" in default["features.hand_raiser_types"]
    assert "demo_request" in default["train.monotone_increasing"]


def test_points_and_monotone_patterns_take_their_names():
    frame = pd.DataFrame({"decayed_meeting_booked": [1.0, 0.0], "is_hand_raiser": [0.0, 0.0]})
    points = PointsBaseline(activity_points={"Meeting Booked": 25}).decision_function(frame)
    assert points.tolist() == [25.0, 0.0]
    names = ["n_meeting_booked_total", "decayed_meeting_booked", "n_page_view_7d"]
    constraints = monotone_constraints(
        names, increasing=["n_Meeting Booked_total", "decayed_Meeting Booked"], decreasing=[]
    )
    assert constraints == [1, 1, 0]


def test_validate_export_applies_the_map(export):
    latest = pd.Timestamp.now(tz="UTC")
    mapping = {"Meeting Booked": "demo_request", "Demo Call": "demo_request"}
    events = renamed(export.activities).head(200)
    result = validate_export(
        leads=export.leads,
        activities=events,
        outcomes=None,
        timed=True,
        labelled=False,
        latest=latest,
        activity_type_map=mapping,
    )
    assert "Meeting Booked" not in set(result.activities["activity_type"])
    assert (events["activity_type"] == "Meeting Booked").sum() == (
        result.activities["activity_type"] == "demo_request"
    ).sum()
    with pytest.raises(ValueError, match="mapped again"):
        slug_map({"a": "b", "b": "c"})
