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
from pipelines.synthetic.interest import (
    Episodes,
    Latents,
    concat_episodes,
    draw_reengagements,
)
from pipelines.synthetic.outcomes import conversion_days
from pipelines.synthetic.truth import SyntheticTruth, load_truth, truth_probability

COMPETITORS = ["rivalcrm.com", "pipelinepro.io", "leadforge.com"]
PERSONAL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"]
START = "2024-01-02"
ORIGIN = pd.Timestamp(START, tz="UTC")
DAYS = 730
OBSERVATION_DAYS = 14
HORIZON_DAYS = 90
HORIZON = pd.Timedelta(days=HORIZON_DAYS)
DATA_END = ORIGIN + pd.Timedelta(days=DAYS)
SNAPSHOT_DAYS = (300, 450, 600)  # snapshot moments T, in days after the start
HAND_RAISERS = ["trial_request", "demo_request", "contact_sales"]
ASKS = ["demo_request", "contact_sales"]
PAGE_CATEGORIES = {  # the params.yaml rule: first matching substring wins
    "pricing": ["pricing", "plans", "quote"],
    "product": ["product", "features", "integrations", "solutions"],
    "careers": ["careers", "jobs"],
    "docs": ["docs", "documentation", "api"],
    "blog": ["blog", "resources", "ebook"],
}


def _export(n_leads: int = 12_000, seed: int = 7, days: int = DAYS) -> SyntheticExport:
    return generate_export(
        n_leads=n_leads,
        start=START,
        days=days,
        seed=seed,
        observation_days=OBSERVATION_DAYS,
        horizon_days=HORIZON_DAYS,
        competitor_domains=COMPETITORS,
        personal_domains=PERSONAL,
    )


@pytest.fixture(scope="module")
def export() -> SyntheticExport:
    return _export()


@pytest.fixture(scope="module")
def truth(export: SyntheticExport) -> SyntheticTruth:
    return SyntheticTruth(leads=export.truth, episodes=export.episodes)


@pytest.fixture(scope="module")
def activities(export: SyntheticExport) -> pd.DataFrame:
    """Activities with plain string lead ids and each page's category."""
    events = export.activities
    return events.assign(
        lead_id=events["lead_id"].astype("str"), category=_category(events["page"].astype("str"))
    )


def _category(page: pd.Series) -> pd.Series:
    """Page category by the params.yaml substring rule."""
    result = pd.Series(pd.NA, index=page.index, dtype="object")
    for name, needles in reversed(PAGE_CATEGORIES.items()):
        hit = page.str.contains("|".join(needles), regex=True, na=False)
        result = result.mask(hit, name)
    return result


def _conversions(export: SyntheticExport) -> pd.Series:
    return export.outcomes.set_index("lead_id")["converted_at"]


def _snapshot(
    export: SyntheticExport, truth: SyntheticTruth, activities: pd.DataFrame, day: int
) -> pd.DataFrame:
    """The open base at T = start + day: age, label, truth and a few observables at T."""
    at = ORIGIN + pd.Timedelta(days=day)
    leads = export.leads.set_index("lead_id")
    converted = _conversions(export).reindex(leads.index)
    is_open = (leads["created_at"] + pd.Timedelta(days=OBSERVATION_DAYS) <= at) & ~(converted <= at)
    ids = leads.index[is_open.to_numpy()]
    recent = activities[
        (activities["occurred_at"] <= at) & (activities["occurred_at"] > at - pd.Timedelta(30, "D"))
    ]

    def count(mask: pd.Series) -> np.ndarray:
        return recent[mask].groupby("lead_id").size().reindex(ids, fill_value=0).to_numpy()

    domain = leads.loc[ids, "email"].str.split("@").str[1]
    return pd.DataFrame(
        {
            "age": (at - leads.loc[ids, "created_at"]).dt.total_seconds().to_numpy() / 86_400,
            "label": ((converted[ids] > at) & (converted[ids] <= at + HORIZON)).to_numpy(),
            "p": truth_probability(truth, ids, at, HORIZON_DAYS),
            "profile": export.truth.set_index("lead_id").loc[ids, "profile"].to_numpy(),
            "opens_30": count(recent["activity_type"] == "email_open"),
            "pricing_30": count(recent["category"] == "pricing"),
            "hand_raises_30": count(recent["activity_type"].isin(HAND_RAISERS)),
            "competitor": domain.isin(COMPETITORS).to_numpy(),
        },
        index=ids,
    )


@pytest.fixture(scope="module")
def snapshots(
    export: SyntheticExport, truth: SyntheticTruth, activities: pd.DataFrame
) -> dict[int, pd.DataFrame]:
    return {day: _snapshot(export, truth, activities, day) for day in SNAPSHOT_DAYS}


def _within_sampling_error(label: np.ndarray, p: np.ndarray, *, sigmas: float = 4.0) -> bool:
    """Independent Bernoulli(p) labels: |rate - mean p| within `sigmas` standard errors."""
    standard_error = np.sqrt(np.sum(p * (1 - p))) / len(p)
    return abs(label.mean() - p.mean()) < sigmas * standard_error + 1e-12


# -- the canonical export ---------------------------------------------------------------------


def test_same_seed_gives_identical_frames() -> None:
    first, second = _export(n_leads=500, seed=3), _export(n_leads=500, seed=3)
    for left, right in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(left, right)


def test_other_seed_gives_other_frames() -> None:
    first, second = _export(n_leads=500, seed=3), _export(n_leads=500, seed=4)
    assert not first.leads.equals(second.leads)
    assert not first.activities.equals(second.activities)


def test_tables_have_the_canonical_columns(export: SyntheticExport) -> None:
    leads = export.leads
    assert list(leads.columns) == [
        "lead_id", "created_at", "email", "first_name", "last_name",
        "industry", "company_size", "country", "job_title", "source",
    ]  # fmt: skip
    assert list(export.activities.columns) == ["lead_id", "occurred_at", "activity_type", "page"]
    assert list(export.outcomes.columns) == ["lead_id", "converted_at"]
    assert leads["lead_id"].is_unique
    assert leads["lead_id"].str.fullmatch(r"L\d{7}").all()
    assert leads["created_at"].between(ORIGIN, DATA_END).all()
    assert leads["email"].str.fullmatch(r"[a-z]+\.[a-z]+@[a-z0-9.-]+").all()
    assert set(leads["source"]) <= set(world.SOURCES)
    for column in ("industry", "company_size", "country", "job_title"):
        assert 0.005 < leads[column].isna().mean() < 0.12, column
    assert leads["email"].str.endswith(".edu").any()
    assert leads["email"].str.split("@").str[1].isin(COMPETITORS).any()


def test_activities_refer_to_known_leads_inside_their_lifetime(
    export: SyntheticExport, activities: pd.DataFrame
) -> None:
    created = export.leads.set_index("lead_id")["created_at"]
    assert activities["lead_id"].isin(created.index).all()
    assert (activities["occurred_at"] >= activities["lead_id"].map(created)).all()
    assert (activities["occurred_at"] <= DATA_END).all()
    assert set(activities["activity_type"].unique()) == set(world.ACTIVITY_TYPES)
    is_view = activities["activity_type"] == "page_view"
    assert activities.loc[is_view, "page"].notna().all()
    assert activities.loc[~is_view, "page"].isna().all()
    assert 15 < len(activities) / len(export.leads) < 50


def test_pre_sales_activity_stops_at_conversion(
    export: SyntheticExport, activities: pd.DataFrame
) -> None:
    converted = activities["lead_id"].map(_conversions(export))
    assert converted.notna().any()
    assert not (activities["occurred_at"] >= converted).any()


def test_outcomes_refer_to_known_leads_inside_the_data(export: SyntheticExport) -> None:
    outcomes = export.outcomes
    created = export.leads.set_index("lead_id")["created_at"]
    assert outcomes["lead_id"].is_unique
    assert outcomes["lead_id"].isin(created.index).all()
    assert (outcomes["converted_at"] > outcomes["lead_id"].map(created)).all()
    assert (outcomes["converted_at"] <= DATA_END).all()


def test_unsubscribed_leads_open_no_email_afterwards(activities: pd.DataFrame) -> None:
    unsubscribed = activities[activities["activity_type"] == "email_unsubscribe"]
    assert unsubscribed["lead_id"].is_unique
    opens = activities[activities["activity_type"].isin(["email_open", "email_click"])]
    later = opens.merge(unsubscribed[["lead_id", "occurred_at"]], on="lead_id", suffixes=("", "_u"))
    assert (later["occurred_at"] <= later["occurred_at_u"]).all()


# -- leads live long ----------------------------------------------------------------------------


def test_conversions_happen_at_every_age(export: SyntheticExport) -> None:
    outcomes = export.outcomes
    created = outcomes["lead_id"].map(export.leads.set_index("lead_id")["created_at"])
    age = (outcomes["converted_at"] - created).dt.days
    assert 0.05 < (age > 200).mean() < 0.5
    assert (age > 400).sum() > 10
    assert (age < OBSERVATION_DAYS).mean() > 0.2  # and the newest leads convert most


def test_the_open_base_converts_at_a_few_percent_the_youngest_most(
    snapshots: dict[int, pd.DataFrame],
) -> None:
    for day, snapshot in snapshots.items():
        assert 0.01 < snapshot["label"].mean() < 0.06, day
        young = snapshot.loc[snapshot["age"] < 30, "p"].mean()
        old = snapshot.loc[snapshot["age"] >= 240, "p"].mean()
        assert young > 2 * old > 0, day


def test_p_true_is_the_truth_at_created_at_plus_observation_days(
    export: SyntheticExport, truth: SyntheticTruth
) -> None:
    frame = export.truth
    converted = frame["lead_id"].map(_conversions(export))
    early = (converted <= frame["as_of"]).to_numpy()
    # (an early conversion after the data end is not in the export, only NaN in p_true)
    observed = (frame["as_of"] <= DATA_END).to_numpy()
    assert 0.03 < early.mean() < 0.15
    assert frame.loc[early, "p_true"].isna().all()
    assert frame.loc[~early & observed, "p_true"].notna().all()
    expected = truth_probability(truth, frame["lead_id"], frame["as_of"], HORIZON_DAYS)
    known = frame["p_true"].notna().to_numpy()
    assert known.sum() > 0.8 * len(frame)
    np.testing.assert_allclose(frame.loc[known, "p_true"], expected[known], rtol=1e-12)


# -- the exact truth ----------------------------------------------------------------------------


def test_truth_matches_realised_conversions_of_the_open_base(
    snapshots: dict[int, pd.DataFrame],
) -> None:
    # At one moment the leads' futures are independent given their states, so the labels
    # are independent Bernoulli(truth) draws: the realised rate matches within sampling error,
    # overall and within truth bands.
    for day, snapshot in snapshots.items():
        label, p = snapshot["label"].to_numpy(), snapshot["p"].to_numpy()
        assert _within_sampling_error(label, p), day
        for band in (p < 0.02, (p >= 0.02) & (p < 0.1), p >= 0.1):
            assert band.sum() > 50, day
            assert _within_sampling_error(label[band], p[band]), day


def _toy_truth() -> SyntheticTruth:
    """Three leads: a fresh hand-raiser, a dormant lead that re-engages often, a slow one."""
    created = pd.Timestamp("2025-01-01", tz="UTC")
    leads = pd.DataFrame(
        {
            "lead_id": ["A", "B", "C"],
            "created_at": [created] * 3,
            "simulated_until": [created + pd.Timedelta(days=1000)] * 3,
            "conversion_scale": [0.02, 0.03, 0.004],
            "base_hazard": [1e-4, 3e-4, 4e-4],
            "tau_days": [20.0, 15.0, 28.0],
            "reengage_rate": [0.01, 0.04, 0.003],
            "amplitude_shape": [0.5, 0.4, 1.0],
            "amplitude_scale": [1.2, 2.5, 0.6],
        }
    )
    days = [0.0, 95.0, 0.0, 10.0, 0.0]
    episodes = pd.DataFrame(
        {
            "lead_id": ["A", "A", "B", "B", "C"],
            "started_at": [created + pd.Timedelta(days=d) for d in days],
            "amplitude": [2.0, 1.5, 1.0, 0.5, 3.0],
        }
    )
    return SyntheticTruth(leads=leads, episodes=episodes)


def test_truth_matches_a_monte_carlo_of_the_generator() -> None:
    """Simulate many futures of each toy lead with the generator's own draws (re-engagements
    after T, conversion by cumulative hazard) and compare with the formula."""
    toy = _toy_truth()
    at_day, copies = 100.0, 40_000
    expected = truth_probability(
        toy, toy.leads["lead_id"], toy.leads["created_at"] + pd.Timedelta(days=at_day), 90
    )
    rng = np.random.default_rng(0)
    lead = np.repeat(np.arange(3), copies)
    latent = toy.leads
    latents = Latents(
        style=np.ones(len(lead)),
        buying=np.zeros(len(lead)),
        conversion_scale=latent["conversion_scale"].to_numpy()[lead],
        base_hazard=latent["base_hazard"].to_numpy()[lead],
        tau=latent["tau_days"].to_numpy()[lead],
        reengage_rate=latent["reengage_rate"].to_numpy()[lead],
        amplitude_shape=latent["amplitude_shape"].to_numpy()[lead],
        amplitude_scale=latent["amplitude_scale"].to_numpy()[lead],
    )
    known = toy.episodes.assign(
        lead=toy.episodes["lead_id"].map({"A": 0, "B": 1, "C": 2}),
        start=(toy.episodes["started_at"] - latent["created_at"][0]).dt.days.astype(float),
    )
    copy_of = [np.flatnonzero(lead == i) for i in known["lead"]]
    past = Episodes(
        np.concatenate(copy_of).astype(np.int32),
        np.concatenate([np.full(copies, s) for s in known["start"]]),
        np.concatenate([np.full(copies, a) for a in known["amplitude"]]),
    )
    future = draw_reengagements(
        rng,
        latents,
        after_days=np.full(len(lead), at_day),
        until_days=np.full(len(lead), at_day + 90),
    )
    converted = conversion_days(
        rng, latents, concat_episodes([past, future]), until_days=np.full(len(lead), at_day + 90)
    )
    for i in range(3):
        mine = converted[lead == i]
        still_open = mine > at_day
        won = mine[still_open] <= at_day + 90
        p = np.full(still_open.sum(), expected[i])
        assert still_open.sum() > 10_000
        assert _within_sampling_error(won, p), (i, won.mean(), expected[i])
    # The future episodes matter: without them lead B's truth would be far lower.
    assert expected[1] > 0.2


def test_truth_is_a_probability_that_depends_only_on_the_state_at_t(
    export: SyntheticExport, truth: SyntheticTruth
) -> None:
    ids = export.leads["lead_id"].iloc[::7]
    at = ORIGIN + pd.Timedelta(days=400)
    p = truth_probability(truth, ids, at, HORIZON_DAYS)
    created = export.leads.set_index("lead_id").loc[ids, "created_at"].to_numpy()
    assert np.isnan(p[created > at]).all()
    defined = p[created <= at]
    assert ((defined >= 0) & (defined <= 1)).all() and (defined > 0.5).any()
    # Episodes after T (larger, and one more per lead) change nothing at T ...
    episodes = truth.episodes
    after = episodes["started_at"] > at
    future = episodes.loc[after].assign(amplitude=lambda frame: 10 * frame["amplitude"])
    extra = pd.DataFrame(
        {"lead_id": ids, "started_at": at + pd.Timedelta(days=1), "amplitude": 5.0}
    )
    changed = SyntheticTruth(
        leads=truth.leads, episodes=pd.concat([episodes.loc[~after], future, extra])
    )
    np.testing.assert_array_equal(truth_probability(changed, ids, at, HORIZON_DAYS), p)
    # ... while one started before T does.
    before = pd.DataFrame(
        {"lead_id": ids, "started_at": at - pd.Timedelta(days=1), "amplitude": 5.0}
    )
    raised = SyntheticTruth(leads=truth.leads, episodes=pd.concat([episodes, before]))
    lifted = truth_probability(raised, ids, at, HORIZON_DAYS)
    competitor = ids.map(export.truth.set_index("lead_id")["profile"]).eq("competitor")
    buyers = (created <= at) & ~competitor.to_numpy()
    assert (lifted[buyers] > p[buyers]).all()
    with pytest.raises(ValueError, match="not in the truth"):
        truth_probability(truth, ["nobody"], at, HORIZON_DAYS)


def test_interest_decays_after_a_hand_raise(
    export: SyntheticExport, truth: SyntheticTruth, activities: pd.DataFrame
) -> None:
    """Hand-raises come with high interest that fades within weeks."""
    raises = activities[activities["activity_type"].isin(HAND_RAISERS)]
    first = raises.groupby("lead_id")["occurred_at"].min()
    first = first[first + pd.Timedelta(days=74) <= DATA_END]
    later = first + pd.Timedelta(days=60)
    converted = _conversions(export).reindex(first.index)
    # (a lead raising its hand is open then: pre-sales activity stops at conversion)
    soon = ((converted > first) & (converted <= first + pd.Timedelta(days=14))).mean()
    still_open = ~(converted <= later)
    first, later, converted = first[still_open], later[still_open], converted[still_open]
    assert len(first) > 200
    right_after = truth_probability(truth, first.index, first, 14)
    sixty_days_on = truth_probability(truth, first.index, later, 14)
    assert sixty_days_on.mean() < 0.25 * right_after.mean()
    # and so do the realised conversions in the two weeks after either moment
    late = ((converted > later) & (converted <= later + pd.Timedelta(days=14))).mean()
    assert late < 0.35 * soon


def test_recent_hand_raisers_convert_much_more(snapshots: dict[int, pd.DataFrame]) -> None:
    pooled = pd.concat(snapshots.values())
    raised = pooled["hand_raises_30"] > 0
    assert 0.005 < raised.mean() < 0.1
    assert pooled.loc[raised, "label"].mean() > 3 * pooled.loc[~raised, "label"].mean()
    assert pooled.loc[raised, "p"].mean() > 3 * pooled.loc[~raised, "p"].mean()


# -- the realistic funnel: what points templates get wrong -----------------------------------


def test_a_demo_request_means_far_more_from_a_large_company_than_from_a_small_one(
    export: SyntheticExport, truth: SyntheticTruth, activities: pd.DataFrame
) -> None:
    """Fit multiplies intent: the same request from a one-person shop or a gmail address
    converts far less often in the following horizon."""
    asks = activities[activities["activity_type"].isin(ASKS)]
    first = asks.groupby("lead_id")["occurred_at"].min()
    first = first[first + HORIZON <= DATA_END]
    leads = export.leads.set_index("lead_id").loc[first.index]
    domain = leads["email"].str.split("@").str[1]
    small = (leads["company_size"] == "1-10") | domain.isin(PERSONAL)
    large = leads["company_size"].isin(["201-1000", "1000+"]) & ~small & ~domain.isin(COMPETITORS)
    converted = _conversions(export).reindex(first.index)
    won = (converted > first) & (converted <= first + HORIZON)
    p = pd.Series(truth_probability(truth, first.index, first, HORIZON_DAYS), index=first.index)
    assert small.sum() > 40 and large.sum() > 40
    assert won[large].mean() > 1.8 * won[small].mean()
    assert p[large].mean() > 2 * p[small].mean()


def test_tourists_convert_far_less_than_larger_companies_asking_for_a_demo(
    export: SyntheticExport, activities: pd.DataFrame
) -> None:
    raised = activities[activities["activity_type"].isin(HAND_RAISERS)]
    kinds = raised.groupby("lead_id")["activity_type"].agg(set)
    leads = export.leads.set_index("lead_id").loc[kinds.index]
    domain = leads["email"].str.split("@").str[1]
    small = (leads["company_size"] == "1-10") | domain.isin(PERSONAL)
    trial_only = kinds.map(lambda types: types == {"trial_request"})
    large = leads["company_size"].isin(["201-1000", "1000+"]) & ~small & ~domain.isin(COMPETITORS)
    asks = kinds.map(lambda types: bool(types & set(ASKS)))
    converted = kinds.index.isin(export.outcomes["lead_id"])
    assert (small & trial_only).sum() > 50 and (large & asks).sum() > 50
    assert converted[large & asks].mean() > 2.5 * converted[small & trial_only].mean()
    # Small shops and private addresses mostly try the product; larger companies ask.
    trial_share = kinds.map(lambda types: "trial_request" in types).groupby(small).mean()
    assert trial_share[True] > 1.5 * trial_share[False]


def test_researchers_are_busy_but_rarely_convert(
    export: SyntheticExport, activities: pd.DataFrame, snapshots: dict[int, pd.DataFrame]
) -> None:
    profile = export.truth.set_index("lead_id")["profile"]
    events = activities.groupby("lead_id").size().reindex(profile.index, fill_value=0)
    downloads = (
        activities[activities["activity_type"] == "content_download"]
        .groupby("lead_id")
        .size()
        .reindex(profile.index, fill_value=0)
    )
    assert 0.08 < (profile == "researcher").mean() < 0.18
    by_profile = events.groupby(profile).mean()
    assert by_profile["researcher"] > 2.5 * by_profile["buyer"]
    assert (
        downloads.groupby(profile).mean()["researcher"]
        > 3 * downloads.groupby(profile).mean()["buyer"]
    )
    pooled = pd.concat(snapshots.values())
    rates = pooled.groupby("profile")[["p", "label"]].mean()
    assert rates.loc["researcher", "p"] < 0.25 * rates.loc["buyer", "p"]
    assert rates.loc["researcher", "label"] < 0.5 * rates.loc["buyer", "label"]


def test_e_mail_opens_carry_no_signal(snapshots: dict[int, pd.DataFrame]) -> None:
    pooled = pd.concat(snapshots.values())
    assert ((pooled["opens_30"] >= 2) & (pooled["pricing_30"] == 0)).mean() > 0.05
    opens = roc_auc_score(pooled["label"], pooled["opens_30"])
    assert abs(opens - 0.5) < 0.05
    assert roc_auc_score(pooled["label"], pooled["pricing_30"]) > opens + 0.05


def test_competitors_never_convert(
    export: SyntheticExport, snapshots: dict[int, pd.DataFrame]
) -> None:
    domain = export.leads["email"].str.split("@").str[1]
    competitors = export.leads.loc[domain.isin(COMPETITORS), "lead_id"]
    assert len(competitors) > 100
    assert not competitors.isin(export.outcomes["lead_id"]).any()
    pooled = pd.concat(snapshots.values())
    assert (pooled.loc[pooled["competitor"], "p"] == 0).all()


def test_job_seekers_browse_careers_pages(
    export: SyntheticExport, activities: pd.DataFrame
) -> None:
    views = activities[activities["activity_type"] == "page_view"]
    careers_share = views["category"].eq("careers").groupby(views["lead_id"]).mean()
    profile = export.truth.set_index("lead_id")["profile"]
    by_profile = careers_share.groupby(profile.reindex(careers_share.index)).mean()
    assert by_profile["job_seeker"] > 0.4
    assert by_profile["buyer"] < 0.1


def test_events_after_t_depend_on_the_outcome(
    export: SyntheticExport, activities: pd.DataFrame, snapshots: dict[int, pd.DataFrame]
) -> None:
    """A feature builder that reads past T is detectably wrong: hand-raises in the horizon
    are far more frequent for the leads that convert in it."""
    day = SNAPSHOT_DAYS[1]
    at = ORIGIN + pd.Timedelta(days=day)
    snapshot = snapshots[day]
    after = activities[
        (activities["occurred_at"] > at)
        & (activities["occurred_at"] <= at + HORIZON)
        & activities["activity_type"].isin(HAND_RAISERS)
    ]
    per_lead = after.groupby("lead_id").size().reindex(snapshot.index, fill_value=0)
    by_outcome = (per_lead > 0).groupby(snapshot["label"]).mean()
    assert by_outcome[True] > 3 * by_outcome[False]


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match="n_leads"):
        _export(n_leads=0)
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


# -- the stage ----------------------------------------------------------------------------------


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
    assert len(leads) == 2000
    assert len(activities) > 15 * 2000
    assert set(outcomes.columns) == {"lead_id", "converted_at"}
    assert not (tmp_path / generate.SKIPPED_MARKER).exists()
    assert "2000 leads" in caplog.text and "after day 200" in caplog.text
    # The truth read back (directory or file) gives the p_true it stores.
    truth = load_truth(tmp_path / "truth")
    assert load_truth(tmp_path / "truth" / "truth.parquet").leads.equals(truth.leads)
    assert len(truth.leads) == 2000 and len(truth.episodes) >= 2000
    known = truth.leads["p_true"].notna().to_numpy()
    recomputed = truth_probability(
        truth, truth.leads["lead_id"], truth.leads["as_of"], HORIZON_DAYS
    )
    np.testing.assert_allclose(recomputed[known], truth.leads["p_true"][known], rtol=1e-9)


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
