"""Point-in-time features on hand-built frames whose expected values are worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.build import FeatureConfig, build_feature_table, seniority_from_title
from features.naming import describe_feature

T0 = pd.Timestamp("2025-03-01", tz="UTC")


def ts(days: float) -> pd.Timestamp:
    """A moment `days` after T0 (negative: before)."""
    return T0 + pd.Timedelta(days=days)


CONFIG = FeatureConfig(
    categorical=("industry", "source"),
    numeric=("employees",),
    email_column="email",
    competitor_domains=("rival.com",),
    personal_domains=("gmail.com",),
    student_domain_suffixes=(".edu",),
    job_title_column="job_title",
    windows_days=(7, 30),
    decay_half_life_days=7.0,
    page_categories={"pricing": ("pricing",), "careers": ("careers", "jobs")},
)


@pytest.fixture
def leads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": ["a", "b", "c"],
            "created_at": [ts(-40), ts(-10), ts(-5)],
            "industry": ["software", "retail", None],
            "source": ["paid_search", "organic_search", "event"],
            "employees": ["120", "oops", None],
            "email": ["ann@acme.com", "bob@gmail.com", "cy@rival.com"],
            "job_title": ["VP Marketing", "Student", None],
            "first_name": ["Ann", "Bob", "Cy"],
        }
    )


@pytest.fixture
def activities() -> pd.DataFrame:
    rows = [
        ("a", ts(-35), "page_view", "/pricing"),  # only in 'total'
        ("a", ts(-30), "page_view", "/blog/x"),  # exactly 30 days: inside the 30d window
        ("a", ts(-7), "demo_request", None),  # exactly 7 days: inside the 7d window
        ("a", ts(-7), "page_view", "/pricing/enterprise"),
        ("a", ts(0), "email_open", None),  # exactly at T: counts
        ("a", ts(1), "contact_sales", None),  # after T: never counts
        ("b", ts(-2), "page_view", "/careers/sales"),
        ("b", ts(-2), "email_unsubscribe", None),
        ("b", ts(-1), "custom_event", None),
        ("zz", ts(-1), "demo_request", None),  # unknown lead: ignored
    ]
    return pd.DataFrame(rows, columns=["lead_id", "occurred_at", "activity_type", "page"])


def build(leads: pd.DataFrame, activities: pd.DataFrame, as_of: pd.Timestamp = T0) -> pd.DataFrame:
    moments = pd.Series(as_of, index=leads.index)
    return build_feature_table(leads=leads, activities=activities, as_of=moments, config=CONFIG)


def test_window_counts_at_their_exact_edges(leads, activities):
    table = build(leads, activities).set_index("lead_id")
    a = table.loc["a"]
    assert a["n_page_view_7d"] == 1
    assert a["n_page_view_30d"] == 2
    assert a["n_page_view_total"] == 3
    assert a["n_demo_request_7d"] == 1
    assert a["n_email_open_7d"] == 1
    assert a["n_contact_sales_total"] == 0
    assert a["n_events_total"] == 5
    assert a["n_page_pricing_total"] == 2
    assert a["n_page_pricing_7d"] == 1


def test_recency_decay_and_hand_raiser_features_by_hand(leads, activities):
    a = build(leads, activities).set_index("lead_id").loc["a"]
    assert a["days_since_first_activity"] == pytest.approx(35)
    assert a["days_since_last_activity"] == pytest.approx(0)
    assert a["is_hand_raiser"] == 1
    assert a["days_since_first_hand_raise"] == pytest.approx(7)
    # half-life 7 days: the demo request 7 days ago weighs 1/2
    assert a["decayed_demo_request"] == pytest.approx(0.5)
    expected = 2 ** (-35 / 7) + 2 ** (-30 / 7) + 0.5 + 0.5 + 1.0
    assert a["engagement_score"] == pytest.approx(expected)
    assert a["active_days_total"] == 4
    assert a["active_days_30d"] == 3
    assert a["is_returning_visitor"] == 1
    assert a["n_form_conversions"] == 1


def test_last_hand_raise_and_lead_age(leads, activities):
    raises = pd.DataFrame(
        {
            "lead_id": ["a", "a"],
            "occurred_at": [ts(-20), ts(-2.5)],
            "activity_type": ["trial_request", "contact_sales"],
            "page": None,
        }
    )
    config = replace(CONFIG, lead_age=True)
    moments = pd.Series(T0, index=leads.index)
    table = build_feature_table(
        leads=leads, activities=pd.concat([activities, raises]), as_of=moments, config=config
    ).set_index("lead_id")
    # a: demo 7 days ago, trial 20 days ago, contact-sales 2.5 days ago (and one after T)
    assert table.loc["a", "days_since_first_hand_raise"] == pytest.approx(20)
    assert table.loc["a", "days_since_last_hand_raise"] == pytest.approx(2.5)
    assert np.isnan(table.loc["b", "days_since_last_hand_raise"])  # never: missing
    # days from created_at to the as-of moment, a model feature only when asked for
    assert table["lead_age_days"].tolist() == pytest.approx([40, 10, 5])
    assert "lead_age_days" in config.feature_columns()
    assert "lead_age_days" not in CONFIG.feature_columns()
    assert "lead_age_days" not in build(leads, activities)
    later = build_feature_table(
        leads=leads, activities=activities, as_of=moments + pd.Timedelta(hours=36), config=config
    )
    assert later["lead_age_days"].tolist() == pytest.approx([41.5, 11.5, 6.5])
    restored = FeatureConfig.from_dict(config.to_dict())
    assert restored == config


def test_negative_signals_and_other_types(leads, activities):
    b = build(leads, activities).set_index("lead_id").loc["b"]
    assert b["n_page_careers_total"] == 1
    assert b["has_unsubscribed"] == 1
    assert b["n_other_total"] == 1
    assert b["is_returning_visitor"] == 0
    assert b["is_hand_raiser"] == 0
    assert np.isnan(b["days_since_first_hand_raise"])


def test_lead_without_activity_has_zero_counts_and_missing_recency(leads, activities):
    c = build(leads, activities).set_index("lead_id").loc["c"]
    assert c["n_events_total"] == 0
    assert c["engagement_score"] == 0
    assert np.isnan(c["days_since_last_activity"])


def test_demographics_domain_flags_and_seniority(leads, activities):
    table = build(leads, activities).set_index("lead_id")
    assert table.loc["a", "employees"] == 120
    assert np.isnan(table.loc["b", "employees"])  # unparseable number -> missing, not a crash
    assert table["industry"].dtype == "category"
    assert table.loc[["a", "b", "c"], "is_personal_email"].tolist() == [0, 1, 0]
    assert table.loc[["a", "b", "c"], "is_competitor_domain"].tolist() == [0, 0, 1]
    assert table.loc[["a", "b", "c"], "seniority"].tolist() == ["vp", "student", "unknown"]


def test_no_pii_or_outcome_column_becomes_a_feature(leads, activities):
    leaky = leads.assign(converted=[1, 0, 0], converted_at=[ts(3), None, None])
    table = build(leaky, activities)
    assert set(table.columns) == {"lead_id", "as_of", *CONFIG.feature_columns()}
    for column in ("email", "first_name", "converted", "converted_at", "job_title"):
        assert column not in table.columns


def test_events_after_as_of_never_change_features(leads, activities):
    before = build(leads, activities)
    rng = np.random.default_rng(0)
    future = pd.DataFrame(
        {
            "lead_id": rng.choice(["a", "b", "c"], size=200),
            "occurred_at": [ts(float(d)) for d in rng.uniform(0.001, 90, size=200)],
            "activity_type": rng.choice(["demo_request", "page_view", "chat"], size=200),
            "page": "/pricing",
        }
    )
    added = build(leads, pd.concat([activities, future], ignore_index=True))
    pd.testing.assert_frame_equal(before, added)
    # removing every event after T changes nothing either
    past_only = activities[activities["occurred_at"] <= T0]
    pd.testing.assert_frame_equal(before, build(leads, past_only))
    # neither does shuffling the events' order or moving future events around in the future
    shuffled = pd.concat([activities, future]).sample(frac=1.0, random_state=3)
    shuffled.loc[shuffled["occurred_at"] > T0, "occurred_at"] += pd.Timedelta(days=5)
    pd.testing.assert_frame_equal(before, build(leads, shuffled))


def test_a_leads_features_do_not_depend_on_other_leads(leads, activities):
    together = build(leads, activities).set_index("lead_id")
    alone = build(leads.iloc[[0]], activities[activities["lead_id"] == "a"]).set_index("lead_id")
    numeric = CONFIG.demographic_numeric_columns() + CONFIG.behavioural_columns()
    pd.testing.assert_series_equal(together.loc["a", numeric], alone.loc["a", numeric])
    assert together.loc["a", "industry"] == alone.loc["a", "industry"]


def test_each_lead_uses_its_own_as_of_moment(leads, activities):
    moments = pd.Series([ts(-7), T0, T0], index=leads.index)
    table = build_feature_table(leads=leads, activities=activities, as_of=moments, config=CONFIG)
    a = table.set_index("lead_id").loc["a"]
    # as of day -7: the demo request and pricing view at exactly -7 count, the e-mail open not
    assert a["n_demo_request_total"] == 1
    assert a["n_email_open_total"] == 0
    assert a["days_since_last_activity"] == 0


def test_single_table_mode_has_only_declared_columns(leads):
    config = FeatureConfig(categorical=("industry",), numeric=("employees",), behavioural=False)
    moments = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[ns, UTC]")
    table = build_feature_table(leads=leads, activities=None, as_of=moments, config=config)
    assert list(table.columns) == ["lead_id", "as_of", "industry", "employees"]


def test_seniority_rules():
    titles = pd.Series(["Chief Revenue Officer", "Head of Growth", "Data Engineer", "Intern"])
    assert seniority_from_title(titles).tolist() == ["c_level", "director", "individual", "student"]


def test_missing_indicators_flag_unanswered_and_absent_columns(leads):
    config = FeatureConfig(
        categorical=("industry",),
        numeric=("employees",),
        missing_indicators=("industry", "employees", "job_title", "not_in_export"),
        behavioural=False,
    )
    blanked = leads.assign(job_title=["VP Marketing", "  ", None])
    moments = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[ns, UTC]")
    table = build_feature_table(leads=blanked, activities=None, as_of=moments, config=config)
    table = table.set_index("lead_id")
    assert table["is_missing_industry"].tolist() == [0.0, 0.0, 1.0]
    # "oops" is an answer (it only fails to parse as a number): not missing
    assert table["is_missing_employees"].tolist() == [0.0, 0.0, 1.0]
    assert table["is_missing_job_title"].tolist() == [0.0, 1.0, 1.0]  # blank counts as missing
    assert table["is_missing_not_in_export"].tolist() == [1.0, 1.0, 1.0]
    assert table["is_missing_industry"].dtype == float
    assert describe_feature("is_missing_job_title") == "Job title: not given"
    assert config.feature_columns() == [
        "industry",
        "employees",
        "is_missing_industry",
        "is_missing_employees",
        "is_missing_job_title",
        "is_missing_not_in_export",
    ]


def test_missing_indicators_come_from_params_and_skip_excluded_columns():
    config = FeatureConfig.from_params(
        {
            "categorical": ["Industry"],
            "missing_indicators": ["Industry", "Sales Notes"],
            "exclude": ["Sales Notes"],
        },
        behavioural=False,
    )
    assert config.missing_indicators == ("Industry",)
    assert config.missing_indicator_columns() == ["is_missing_industry"]
    assert FeatureConfig.from_dict(config.to_dict()) == config
    # a configuration stored before the key existed still loads, with no indicators
    stored = config.to_dict()
    del stored["missing_indicators"]
    assert FeatureConfig.from_dict(stored).missing_indicators == ()
