"""Tests for the synthetic export generator (pipelines.synthetic) and its `generate` stage."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from pipelines.errors import InputError
from pipelines.stages import generate
from pipelines.synthetic import world
from pipelines.synthetic.export import SyntheticExport, generate_export
from pipelines.synthetic.truth import conversion_logit, conversion_probability

COMPETITORS = ["rivalcrm.com", "pipelinepro.io", "leadforge.com"]
PERSONAL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"]
START = "2025-01-01"
DAYS = 365
OBSERVATION_DAYS = 14
HORIZON_DAYS = 90
DATA_END = pd.Timestamp(START, tz="UTC") + pd.Timedelta(days=DAYS)
HAND_RAISERS = ["trial_request", "demo_request", "contact_sales"]
PAGE_CATEGORIES = {  # the params.yaml rule: first matching substring wins
    "pricing": ["pricing", "plans", "quote"],
    "product": ["product", "features", "integrations", "solutions"],
    "careers": ["careers", "jobs"],
    "docs": ["docs", "documentation", "api"],
    "blog": ["blog", "resources", "ebook"],
}


def _export(n_leads: int = 3000, seed: int = 7) -> SyntheticExport:
    return generate_export(
        n_leads=n_leads,
        start=START,
        days=DAYS,
        seed=seed,
        observation_days=OBSERVATION_DAYS,
        horizon_days=HORIZON_DAYS,
        competitor_domains=COMPETITORS,
        personal_domains=PERSONAL,
    )


@pytest.fixture(scope="module")
def export() -> SyntheticExport:
    return _export()


def _lead_view(export: SyntheticExport) -> pd.DataFrame:
    """Truth joined with the outcome, the email domain and the label window."""
    frame = export.truth.merge(export.outcomes, on="lead_id", how="left")
    frame["domain"] = export.leads["email"].str.split("@").str[1].to_numpy()
    horizon_end = frame["as_of"] + pd.Timedelta(days=HORIZON_DAYS)
    frame["early"] = frame["converted_at"] <= frame["as_of"]
    frame["censored"] = horizon_end > DATA_END
    frame["eligible"] = ~frame["early"] & ~frame["censored"]
    frame["won"] = (frame["converted_at"] > frame["as_of"]) & (frame["converted_at"] <= horizon_end)
    return frame


@pytest.fixture(scope="module")
def lead_view(export: SyntheticExport) -> pd.DataFrame:
    return _lead_view(export)


def _events_with_as_of(export: SyntheticExport) -> pd.DataFrame:
    """Activities with the lead's as-of moment and conversion time beside each event."""
    events = export.activities.assign(lead_id=export.activities["lead_id"].astype("str"))
    leads = export.truth[["lead_id", "as_of"]].merge(export.outcomes, on="lead_id", how="left")
    return events.merge(leads, on="lead_id", how="left", validate="many_to_one")


@pytest.fixture(scope="module")
def events_with_as_of(export: SyntheticExport) -> pd.DataFrame:
    return _events_with_as_of(export)


def _category(page: pd.Series) -> pd.Series:
    """Page category by the params.yaml substring rule."""
    result = pd.Series(pd.NA, index=page.index, dtype="object")
    for name, needles in reversed(PAGE_CATEGORIES.items()):
        hit = page.str.contains("|".join(needles), regex=True, na=False)
        result = result.mask(hit, name)
    return result


def test_same_seed_gives_identical_frames() -> None:
    first, second = _export(n_leads=500, seed=3), _export(n_leads=500, seed=3)
    for left, right in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(left, right)


def test_other_seed_gives_other_frames() -> None:
    first, second = _export(n_leads=500, seed=3), _export(n_leads=500, seed=4)
    assert not first.leads.equals(second.leads)
    assert not first.activities.equals(second.activities)


def test_leads_have_the_canonical_columns(export: SyntheticExport) -> None:
    leads = export.leads
    assert leads["lead_id"].is_unique
    assert leads["lead_id"].str.fullmatch(r"L\d{7}").all()
    assert leads["created_at"].between(pd.Timestamp(START, tz="UTC"), DATA_END).all()
    assert leads["email"].str.fullmatch(r"[a-z]+\.[a-z]+@[a-z0-9.-]+").all()
    assert set(leads["source"]) <= set(world.SOURCES)
    for column in ("industry", "company_size", "country", "job_title"):
        assert 0.005 < leads[column].isna().mean() < 0.12, column
    assert leads["email"].str.endswith(".edu").any()
    assert leads["email"].str.split("@").str[1].isin(COMPETITORS).any()


def test_activities_refer_to_known_leads_inside_their_lifetime(
    export: SyntheticExport,
) -> None:
    created = export.leads.set_index("lead_id")["created_at"]
    events = export.activities
    lead_ids = events["lead_id"].astype("str")
    assert lead_ids.isin(created.index).all()
    assert (events["occurred_at"] >= lead_ids.map(created).to_numpy()).all()
    assert (events["occurred_at"] <= DATA_END).all()
    assert set(events["activity_type"].unique()) == set(world.ACTIVITY_TYPES)
    is_view = events["activity_type"] == "page_view"
    assert events.loc[is_view, "page"].notna().all()
    assert events.loc[~is_view, "page"].isna().all()
    assert 20 < len(events) / len(export.leads) < 50


def test_outcomes_refer_to_known_leads_inside_their_lifetime(export: SyntheticExport) -> None:
    outcomes = export.outcomes
    created = export.leads.set_index("lead_id")["created_at"]
    assert outcomes["lead_id"].is_unique
    assert outcomes["lead_id"].isin(created.index).all()
    assert (outcomes["converted_at"] >= outcomes["lead_id"].map(created)).all()
    assert (outcomes["converted_at"] <= DATA_END).all()


def test_unsubscribed_leads_open_no_email_afterwards(
    events_with_as_of: pd.DataFrame,
) -> None:
    events = events_with_as_of
    unsubscribed = events[events["activity_type"] == "email_unsubscribe"]
    assert unsubscribed["lead_id"].is_unique
    opens = events[events["activity_type"].isin(["email_open", "email_click"])]
    later = opens.merge(unsubscribed[["lead_id", "occurred_at"]], on="lead_id", suffixes=("", "_u"))
    assert (later["occurred_at"] <= later["occurred_at_u"]).all()


def test_early_converters_and_censored_leads_are_present(lead_view: pd.DataFrame) -> None:
    share_early = lead_view["early"].mean()
    assert 0.01 < share_early < 0.08
    assert lead_view.loc[lead_view["early"], "p_true"].isna().all()
    # An early conversion is visible when T is: T <= data end.
    observed = lead_view["as_of"] <= DATA_END
    assert lead_view.loc[~lead_view["early"] & observed, "p_true"].notna().all()
    assert lead_view["censored"].any()
    # Censoring also cuts late conversions: no lead converts after the data end.
    assert lead_view["converted_at"].max() <= DATA_END


def test_eligible_conversion_rate_is_plausible(lead_view: pd.DataFrame) -> None:
    eligible = lead_view[lead_view["eligible"]]
    assert len(eligible) > 1500
    assert 0.05 < eligible["won"].mean() < 0.14


def test_p_true_matches_realised_conversion_rate(lead_view: pd.DataFrame) -> None:
    eligible = lead_view[lead_view["eligible"]]
    p = eligible["p_true"].to_numpy()
    # Labels are independent Bernoulli(p_true) draws, so the realised rate minus mean(p)
    # has standard error sqrt(sum p(1-p)) / n; 4 SE makes a false alarm ~1 in 16,000.
    standard_error = np.sqrt(np.sum(p * (1 - p))) / len(p)
    assert abs(eligible["won"].mean() - p.mean()) < 4 * standard_error
    # The same holds within p_true bands, so p_true is a calibrated probability.
    bands = pd.cut(eligible["p_true"], [0, 0.05, 0.2, 1.0])
    for _, band in eligible.groupby(bands, observed=True):
        q = band["p_true"].to_numpy()
        band_se = np.sqrt(np.sum(q * (1 - q))) / len(q)
        assert abs(band["won"].mean() - q.mean()) < 4 * band_se + 1e-9


def test_hand_raisers_convert_much_more(
    lead_view: pd.DataFrame, events_with_as_of: pd.DataFrame
) -> None:
    events = events_with_as_of
    raised = events.loc[
        events["activity_type"].isin(HAND_RAISERS) & (events["occurred_at"] <= events["as_of"]),
        "lead_id",
    ]
    eligible = lead_view[lead_view["eligible"]]
    is_raiser = eligible["lead_id"].isin(raised)
    raiser_rate = eligible.loc[is_raiser, "won"].mean()
    assert 0.03 < is_raiser.mean() < 0.2
    assert 0.3 < raiser_rate < 0.7
    assert raiser_rate > 4 * eligible.loc[~is_raiser, "won"].mean()


def test_competitors_never_convert(lead_view: pd.DataFrame) -> None:
    competitors = lead_view[lead_view["domain"].isin(COMPETITORS)]
    assert len(competitors) > 30
    assert (competitors["p_true"].dropna() < 0.01).all()
    assert competitors["converted_at"].isna().all()


def test_job_seekers_browse_careers_pages(
    export: SyntheticExport, events_with_as_of: pd.DataFrame
) -> None:
    views = events_with_as_of[events_with_as_of["activity_type"] == "page_view"]
    careers_share = (
        _category(views["page"].astype("str")).eq("careers").groupby(views["lead_id"]).mean()
    )
    profile = export.truth.set_index("lead_id")["profile"]
    by_profile = careers_share.groupby(profile.reindex(careers_share.index)).mean()
    assert by_profile["job_seeker"] > 0.4
    assert by_profile["buyer"] < 0.1


def test_events_after_as_of_depend_on_the_outcome(
    lead_view: pd.DataFrame, events_with_as_of: pd.DataFrame
) -> None:
    events = events_with_as_of
    eligible = lead_view.loc[lead_view["eligible"], ["lead_id", "won"]].set_index("lead_id")
    after = events[
        (events["occurred_at"] > events["as_of"]) & events["activity_type"].isin(HAND_RAISERS)
    ]
    per_lead = after.groupby("lead_id").size().reindex(eligible.index, fill_value=0)
    by_outcome = per_lead.groupby(eligible["won"]).mean()
    assert by_outcome[True] > 3 * by_outcome[False]


def _observables(export: SyntheticExport, events_with_as_of: pd.DataFrame) -> pd.DataFrame:
    """The truth's observables rebuilt from the exported tables alone (events <= as-of)."""
    leads = export.leads.set_index("lead_id")
    events = events_with_as_of[events_with_as_of["occurred_at"] <= events_with_as_of["as_of"]]
    per_type = pd.crosstab(events["lead_id"], events["activity_type"]).reindex(
        leads.index, fill_value=0
    )
    category = _category(events["page"].astype("str"))

    def views(name: str) -> np.ndarray:
        per_lead = category.eq(name).groupby(events["lead_id"]).sum()
        return per_lead.reindex(leads.index, fill_value=0).to_numpy()

    active_days = events["occurred_at"].dt.floor("D").groupby(events["lead_id"]).nunique()
    last = events.groupby("lead_id")["occurred_at"].max()
    raises = events[events["activity_type"].isin(HAND_RAISERS)]
    first_raise = raises.groupby("lead_id")["occurred_at"].min().reindex(leads.index)
    as_of = export.truth.set_index("lead_id")["as_of"]
    days_since = ((as_of - last.reindex(leads.index)).dt.total_seconds() / 86_400).fillna(
        OBSERVATION_DAYS
    )
    domain = leads["email"].str.split("@").str[1]
    domain_type = np.select(
        [domain.isin(COMPETITORS), domain.isin(PERSONAL), domain.str.endswith(".edu")],
        [3, 1, 2],
        default=0,
    )
    # Student domains also include .ac.uk / .edu.au; map them by the generator's list.
    domain_type[domain.isin(world.STUDENT_DOMAINS).to_numpy()] = 2
    seniority = leads["job_title"].map(world.TITLE_SENIORITY).fillna("unknown")

    def codes(values: pd.Series, names: list[str] | tuple[str, ...]) -> np.ndarray:
        return pd.Categorical(values, categories=list(names)).codes

    return pd.DataFrame(
        {
            "industry": codes(leads["industry"], list(world.INDUSTRIES)),
            "company_size": codes(leads["company_size"], list(world.COMPANY_SIZES)),
            "seniority": codes(seniority, world.SENIORITIES),
            "domain_type": domain_type,
            "source": codes(leads["source"], world.SOURCES),
            "page_views": per_type["page_view"].to_numpy(),
            "product_views": views("product"),
            "pricing_views": views("pricing"),
            "careers_views": views("careers"),
            "content_downloads": per_type["content_download"].to_numpy(),
            "form_submits": per_type["form_submit"].to_numpy(),
            "email_clicks": per_type["email_click"].to_numpy(),
            "email_opens": per_type["email_open"].to_numpy(),
            "webinar_attended": per_type["webinar_attended"].to_numpy() > 0,
            "chat": per_type["chat"].to_numpy() > 0,
            "unsubscribed": per_type["email_unsubscribe"].to_numpy() > 0,
            "trial_requests": per_type["trial_request"].to_numpy(),
            "demo_requests": per_type["demo_request"].to_numpy(),
            "contact_sales_requests": per_type["contact_sales"].to_numpy(),
            "hand_raiser": per_type[HAND_RAISERS].sum(axis=1).to_numpy() > 0,
            "days_since_first_hand_raise": (
                (as_of - first_raise).dt.total_seconds() / 86_400
            ).to_numpy(),
            "active_days": active_days.reindex(leads.index, fill_value=0).to_numpy(),
            "days_since_last_activity": days_since.to_numpy(),
            "events": per_type.sum(axis=1).to_numpy(),  # not used by the truth
        },
        index=leads.index,
    )


def test_p_true_is_a_function_of_exported_observables_at_as_of(
    export: SyntheticExport, lead_view: pd.DataFrame, events_with_as_of: pd.DataFrame
) -> None:
    """Rebuild the observables from the exported tables alone and recompute p_true."""
    observables = _observables(export, events_with_as_of)
    recomputed = conversion_probability(observables)
    # Leads whose as-of moment is after the data end cannot be observed at T.
    observable = (lead_view["p_true"].notna() & (lead_view["as_of"] <= DATA_END)).to_numpy()
    np.testing.assert_allclose(
        recomputed[observable], lead_view["p_true"].to_numpy()[observable], rtol=1e-9
    )


# -- the realistic funnel: what points templates get wrong -----------------------------------


@pytest.fixture(scope="module")
def funnel() -> pd.DataFrame:
    """Eligible leads of a larger export: observables at T, outcome and latent profile."""
    export = _export(n_leads=15_000, seed=11)
    lead_view = _lead_view(export)
    frame = _observables(export, _events_with_as_of(export)).join(
        lead_view.set_index("lead_id")[["p_true", "won", "eligible", "profile"]]
    )
    return frame[frame["eligible"]]


def _one_lead(**values: object) -> pd.DataFrame:
    """Observables of a plain lead (software, 51-200, manager, business address) at T."""
    row: dict[str, object] = {
        "industry": list(world.INDUSTRIES).index("software"),
        "company_size": list(world.COMPANY_SIZES).index("51-200"),
        "seniority": world.SENIORITIES.index("manager"),
        "domain_type": 0,
        "source": 0,
        "page_views": 5,
        "product_views": 1,
        "pricing_views": 0,
        "careers_views": 0,
        "content_downloads": 0,
        "form_submits": 0,
        "email_clicks": 0,
        "email_opens": 0,
        "webinar_attended": False,
        "chat": False,
        "unsubscribed": False,
        "trial_requests": 0,
        "demo_requests": 0,
        "contact_sales_requests": 0,
        "hand_raiser": False,
        "days_since_first_hand_raise": np.nan,
        "active_days": 3,
        "days_since_last_activity": 2.0,
    }
    row.update(values)
    return pd.DataFrame([row])


def _logit(**values: object) -> float:
    return float(conversion_logit(_one_lead(**values))[0])


def test_activity_volume_is_a_weak_signal_and_opens_are_noise() -> None:
    plain = _logit()
    assert _logit(email_opens=40) == plain
    # Ten times the browsing, downloads and active days adds far less than one pricing view.
    busy = _logit(page_views=50, content_downloads=10, active_days=12)
    assert 0 < busy - plain < 0.5 * (_logit(pricing_views=1) - plain)


def test_fit_multiplies_intent() -> None:
    micro_personal = {
        "company_size": list(world.COMPANY_SIZES).index("1-10"),
        "domain_type": 1,
    }
    large_senior = {
        "company_size": list(world.COMPANY_SIZES).index("1000+"),
        "seniority": world.SENIORITIES.index("vp"),
    }
    demo = {"demo_requests": 1, "hand_raiser": True, "days_since_first_hand_raise": 1.0}
    small_gain = _logit(**micro_personal, **demo) - _logit(**micro_personal)
    large_gain = _logit(**large_senior, **demo) - _logit(**large_senior)
    assert large_gain > 3 * small_gain > 0


def test_a_demo_outweighs_a_trial_and_recent_requests_outweigh_stale_ones() -> None:
    def raised(kind: str, days: float) -> float:
        return _logit(**{kind: 1, "hand_raiser": True, "days_since_first_hand_raise": days})

    assert raised("demo_requests", 1.0) > raised("trial_requests", 1.0) + 2
    assert raised("demo_requests", 1.0) > raised("demo_requests", 12.0) + 2
    # Even a stale trial is worth more than no hand-raise (the truth is monotone in them).
    assert raised("trial_requests", 14.0) > _logit()


def test_researchers_are_busy_but_rarely_convert(funnel: pd.DataFrame) -> None:
    researchers = funnel[funnel["profile"] == "researcher"]
    buyers = funnel[funnel["profile"] == "buyer"]
    assert 0.08 < (funnel["profile"] == "researcher").mean() < 0.18
    assert researchers["events"].mean() > 2.5 * buyers["events"].mean()
    assert researchers["content_downloads"].mean() > 3 * buyers["content_downloads"].mean()
    assert researchers["p_true"].mean() < 0.06
    assert researchers["won"].mean() < 0.5 * buyers["won"].mean()


def test_tourists_convert_far_less_than_larger_companies_asking_for_a_demo(
    funnel: pd.DataFrame,
) -> None:
    sizes = list(world.COMPANY_SIZES)
    small = (funnel["company_size"] == sizes.index("1-10")) | (funnel["domain_type"] == 1)
    trial_only = (funnel["trial_requests"] > 0) & (
        funnel[["demo_requests", "contact_sales_requests"]].sum(axis=1) == 0
    )
    tourists = funnel[small & trial_only]
    large = funnel["company_size"].isin([sizes.index("201-1000"), sizes.index("1000+")])
    asks = (funnel["demo_requests"] + funnel["contact_sales_requests"]) > 0
    buyers = funnel[large & ~small & asks]
    assert len(tourists) > 30 and len(buyers) > 20
    assert tourists["p_true"].mean() < 0.15
    assert buyers["p_true"].mean() > 0.6
    assert buyers["won"].mean() > 3 * tourists["won"].mean()
    # Small shops and private addresses mostly try the product; larger companies ask.
    raised = funnel[funnel["hand_raiser"]]
    trial_share = (raised["trial_requests"] > 0).groupby(small.loc[raised.index]).mean()
    assert trial_share[True] > 1.5 * trial_share[False]


def test_recent_hand_raises_convert_better(funnel: pd.DataFrame) -> None:
    raised = funnel[funnel["hand_raiser"]]
    days = raised["days_since_first_hand_raise"]
    recent, stale = raised[days <= 3], raised[days >= 10]
    assert len(recent) > 20 and len(stale) > 50
    assert recent["p_true"].mean() > 1.4 * stale["p_true"].mean()
    assert recent["won"].mean() > stale["won"].mean()


def test_privacy_proxies_open_e_mail_whatever_the_intent(funnel: pd.DataFrame) -> None:
    opens_only = (funnel["email_opens"] >= 5) & (funnel["email_clicks"] == 0)
    assert opens_only.mean() > 0.05
    # Opens rank converters far worse than a single buying signal does.
    won = funnel["won"]
    assert roc_auc_score(won, funnel["email_opens"]) < 0.65
    assert roc_auc_score(won, funnel["pricing_views"]) > roc_auc_score(won, funnel["email_opens"])


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match="n_leads"):
        generate_export(
            n_leads=0,
            start=START,
            days=DAYS,
            seed=1,
            observation_days=OBSERVATION_DAYS,
            horizon_days=HORIZON_DAYS,
            competitor_domains=COMPETITORS,
            personal_domains=PERSONAL,
        )
    with pytest.raises(InputError, match="start"):
        generate_export(
            n_leads=10,
            start="not a date",
            days=DAYS,
            seed=1,
            observation_days=OBSERVATION_DAYS,
            horizon_days=HORIZON_DAYS,
            competitor_domains=COMPETITORS,
            personal_domains=PERSONAL,
        )


def _write_params(tmp_path: Path, *, kind: str) -> Path:
    params = {
        "source": {
            "kind": kind,
            "leads": str(tmp_path / "raw" / "leads.parquet"),
            "activities": str(tmp_path / "raw" / "activities.parquet"),
            "outcomes": str(tmp_path / "raw" / "outcomes.csv"),
        },
        "generate": {
            "n_leads": 2000,
            "start": START,
            "days": DAYS,
            "seed": 1,
            "truth_path": str(tmp_path / "truth" / "truth.parquet"),
        },
        "label": {"observation_days": OBSERVATION_DAYS, "horizon_days": HORIZON_DAYS},
        "features": {"competitor_domains": COMPETITORS, "personal_domains": PERSONAL},
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_main_writes_the_export_and_the_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    params = _write_params(tmp_path, kind="synthetic")
    with caplog.at_level(logging.INFO, logger="pipelines.stages.generate"):
        generate.main(params=params)
    leads = pd.read_parquet(tmp_path / "raw" / "leads.parquet")
    activities = pd.read_parquet(tmp_path / "raw" / "activities.parquet")
    outcomes = pd.read_csv(tmp_path / "raw" / "outcomes.csv")
    truth = pd.read_parquet(tmp_path / "truth" / "truth.parquet")
    assert len(leads) == len(truth) == 2000
    assert len(activities) > 20 * 2000
    assert set(outcomes.columns) == {"lead_id", "converted_at"}
    assert not (tmp_path / generate.SKIPPED_MARKER).exists()
    assert "2000 leads" in caplog.text and "eligible conversion rate" in caplog.text


def test_main_skips_a_non_synthetic_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    params = _write_params(tmp_path, kind="files")
    with caplog.at_level(logging.INFO, logger="pipelines.stages.generate"):
        generate.main(params=params)
    assert (tmp_path / generate.SKIPPED_MARKER).is_file()
    assert not (tmp_path / "raw").exists()
    assert "nothing to generate" in caplog.text


def test_main_reports_a_missing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    params = _write_params(tmp_path, kind="synthetic")
    config = yaml.safe_load(params.read_text())
    del config["generate"]["n_leads"]
    params.write_text(yaml.safe_dump(config))
    with pytest.raises(InputError, match="n_leads"):
        generate.main(params=params)
