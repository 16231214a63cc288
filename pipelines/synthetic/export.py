"""The synthetic export: drawing a world and writing its canonical tables and its truth."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pipelines.config import section
from pipelines.errors import InputError
from pipelines.io import utc_moment
from pipelines.synthetic.events import draw_activity, unsubscribe
from pipelines.synthetic.leads import draw_leads
from pipelines.synthetic.outcomes import NEVER, Outcomes, draw_outcomes
from pipelines.synthetic.sampling import Leads, take_events
from pipelines.synthetic.world import (
    ACTIVITY_TYPES,
    ALL_PAGE_PATHS,
    BUSINESS_DOMAIN,
    BUSINESS_TLDS,
    COMPANY_SIZES,
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    COUNTRIES,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    LIFETIME_EXTRA_DAYS,
    PROFILES,
    SECONDS_PER_DAY,
    SENIORITY_TITLES,
    SOURCES,
    STUDENT_DOMAINS,
)


class SyntheticExport(NamedTuple):
    """A synthetic export: the three canonical tables and the never-for-training truth."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame


def generate_export(
    *,
    n_leads: int,
    start: str,
    days: int,
    seed: int,
    observation_days: int,
    horizon_days: int,
    competitor_domains: list[str],
    personal_domains: list[str],
) -> SyntheticExport:
    """A synthetic CRM export whose conversions follow a known, checkable probability."""
    _check_arguments(
        n_leads=n_leads, days=days, observation_days=observation_days, horizon_days=horizon_days
    )
    origin = utc_moment(start, what="generate.start")
    rng = np.random.default_rng(seed)
    lifetime_days = float(observation_days + horizon_days + LIFETIME_EXTRA_DAYS)
    as_of = observation_days * SECONDS_PER_DAY
    leads = draw_leads(
        rng,
        n_leads=n_leads,
        days=days,
        competitor_domains=competitor_domains,
        personal_domains=personal_domains,
    )
    events = draw_activity(rng, leads, lifetime_days=lifetime_days)
    events = unsubscribe(rng, leads, events, lifetime_days=lifetime_days)
    outcomes = draw_outcomes(rng, leads, events, as_of_offset=as_of, horizon_days=horizon_days)
    return _export_tables(
        rng,
        leads,
        outcomes,
        origin=origin,
        as_of_offset=as_of,
        data_end=days * SECONDS_PER_DAY,
        competitor_domains=competitor_domains,
        personal_domains=personal_domains,
    )


def _check_arguments(*, n_leads: int, days: int, observation_days: int, horizon_days: int) -> None:
    """Reject sizes and windows that cannot make an export."""
    for name, value, minimum in (
        ("n_leads", n_leads, 1),
        ("days", days, 1),
        ("observation_days", observation_days, 0),
        ("horizon_days", horizon_days, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _export_tables(
    rng: np.random.Generator,
    leads: Leads,
    outcomes: Outcomes,
    *,
    origin: pd.Timestamp,
    as_of_offset: int,
    data_end: int,
    competitor_domains: list[str],
    personal_domains: list[str],
) -> SyntheticExport:
    """The four tables, with everything after the data end (seconds after origin) dropped."""
    created, events = leads.created, outcomes.events
    occurred = created[events.lead] + events.offset
    events = take_events(events, occurred <= data_end)
    occurred = occurred[occurred <= data_end]
    converted = np.where(outcomes.converted < NEVER, created + outcomes.converted, -1)
    outcome_leads = np.flatnonzero((converted >= 0) & (converted <= data_end))

    width = max(7, len(str(len(leads))))
    lead_ids = "L" + pd.Series(np.arange(1, len(leads) + 1)).astype("str").str.zfill(width)
    return SyntheticExport(
        leads=_leads_table(
            rng,
            leads,
            lead_ids=lead_ids,
            origin=origin,
            competitor_domains=competitor_domains,
            personal_domains=personal_domains,
        ),
        activities=pd.DataFrame(
            {
                "lead_id": pd.Categorical.from_codes(events.lead, categories=lead_ids),
                "occurred_at": _timestamps(origin, occurred),
                "activity_type": pd.Categorical.from_codes(events.kind, ACTIVITY_TYPES),
                "page": pd.Categorical.from_codes(events.page, ALL_PAGE_PATHS),
            }
        ),
        outcomes=pd.DataFrame(
            {
                "lead_id": lead_ids.iloc[outcome_leads].reset_index(drop=True),
                "converted_at": _timestamps(origin, converted[outcome_leads]),
            }
        ),
        truth=pd.DataFrame(
            {
                "lead_id": lead_ids,
                "as_of": _timestamps(origin, created + as_of_offset),
                "p_true": outcomes.p_true,
                "profile": _strings(leads.profile, PROFILES),  # latent, for analysis only
            }
        ),
    )


def _leads_table(
    rng: np.random.Generator,
    leads: Leads,
    *,
    lead_ids: pd.Series,
    origin: pd.Timestamp,
    competitor_domains: list[str],
    personal_domains: list[str],
) -> pd.DataFrame:
    """The leads table: ids, creation times, contact details and attributes as text."""
    n = len(lead_ids)
    company_domains = _company_domains(int(leads.company.max()) + 1)
    pools = [company_domains, personal_domains, STUDENT_DOMAINS, competitor_domains]
    offsets = np.cumsum([0, *(len(pool) for pool in pools)])[:-1]
    sizes = np.array([max(len(pool), 1) for pool in pools])
    domain_type = leads.domain_type
    # A business address uses its company's domain; the others one of their pool at random.
    within = np.where(
        domain_type == BUSINESS_DOMAIN,
        leads.company,
        (rng.random(n) * sizes[domain_type]).astype(np.int64),
    )
    all_domains = [str(d) for pool in pools for d in pool]
    domain = _strings(offsets[domain_type] + within, all_domains)
    first = _strings(leads.first_name, FIRST_NAMES)
    last = _strings(leads.last_name, LAST_NAMES)
    titles = [title for group in SENIORITY_TITLES.values() for title in group]
    return pd.DataFrame(
        {
            "lead_id": lead_ids,
            "created_at": _timestamps(origin, leads.created),
            "email": first + "." + last + "@" + domain,
            "first_name": first.str.capitalize(),
            "last_name": last.str.capitalize(),
            "industry": _strings(leads.industry, list(INDUSTRIES)),
            "company_size": _strings(leads.company_size, list(COMPANY_SIZES)),
            "country": _strings(leads.country, list(COUNTRIES)),
            "job_title": _strings(leads.title, titles),
            "source": _strings(leads.source, SOURCES),
        }
    )


def _company_domains(n_companies: int) -> np.ndarray:
    """Fake business domains such as acme-corp.com, one per company."""
    company = np.arange(n_companies)
    word = np.asarray(COMPANY_WORDS)[company % len(COMPANY_WORDS)]
    rest = company // len(COMPANY_WORDS)
    suffix = np.asarray(COMPANY_SUFFIXES)[rest % len(COMPANY_SUFFIXES)]
    rest //= len(COMPANY_SUFFIXES)
    tld = np.asarray(BUSINESS_TLDS)[rest % len(BUSINESS_TLDS)]
    rest //= len(BUSINESS_TLDS)
    number = np.where(rest > 0, rest.astype(str), "")
    return np.char.add(np.char.add(np.char.add(word, suffix), number), tld)


def _strings(codes: np.ndarray, values: tuple[str, ...] | list[str]) -> pd.Series:
    """A string Series from integer codes into `values` (-1 is missing)."""
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(values))).astype("str")


def _timestamps(start: pd.Timestamp, seconds: np.ndarray) -> pd.Series:
    """UTC timestamps (microsecond resolution) at `seconds` after `start`."""
    values = np.datetime64(start.tz_localize(None), "us") + seconds.astype("timedelta64[s]")
    return pd.Series(values, copy=False).dt.tz_localize("UTC")


def export_summary(
    export: SyntheticExport, *, horizon_days: int, data_end: pd.Timestamp
) -> dict[str, float]:
    """Headline counts of an export: events, conversions, early converters, censoring."""
    truth = export.truth
    converted_at = truth["lead_id"].map(export.outcomes.set_index("lead_id")["converted_at"])
    horizon = pd.Timedelta(days=horizon_days)
    early = converted_at <= truth["as_of"]
    censored = truth["as_of"] + horizon > data_end
    eligible = ~early & ~censored
    won = (converted_at > truth["as_of"]) & (converted_at <= truth["as_of"] + horizon)
    return {
        "leads": len(export.leads),
        "events": len(export.activities),
        "conversions": len(export.outcomes),
        "early_converters": int(early.sum()),
        "censored_leads": int(censored.sum()),
        "eligible_leads": int(eligible.sum()),
        "eligible_conversion_rate": float(won[eligible].mean()) if eligible.any() else 0.0,
    }


def export_from_params(params: dict[str, Any], **overrides: Any) -> SyntheticExport:
    """The export the `generate`, `label` and `features` params describe; `overrides` replace
    `generate` keys (n_leads, start, days, seed), e.g. for benchmarks and tests."""
    generate = {**section(params, "generate"), **overrides}
    label = section(params, "label")
    features = section(params, "features")
    try:
        return generate_export(
            n_leads=generate["n_leads"],
            start=str(generate["start"]),
            days=generate["days"],
            seed=generate["seed"],
            observation_days=label["observation_days"],
            horizon_days=label["horizon_days"],
            competitor_domains=list(features.get("competitor_domains") or []),
            personal_domains=list(features.get("personal_domains") or []),
        )
    except KeyError as exc:
        raise InputError(f"params.yaml is missing the key {exc.args[0]!r}") from exc
