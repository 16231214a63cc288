"""The synthetic export: drawing a world and writing its canonical tables and its truth."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pipelines.config import section
from pipelines.errors import InputError
from pipelines.io import utc_moment
from pipelines.synthetic.events import draw_activity, unsubscribe
from pipelines.synthetic.interest import (
    Episodes,
    Latents,
    concat_episodes,
    draw_first_episodes,
    draw_latents,
    draw_reengagements,
)
from pipelines.synthetic.leads import draw_leads
from pipelines.synthetic.outcomes import (
    NEVER,
    conversion_days,
    conversion_offsets,
    stop_at_conversion,
)
from pipelines.synthetic.sampling import Events, Leads, take_events
from pipelines.synthetic.truth import SyntheticTruth, truth_probability
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
    PROFILES,
    SECONDS_PER_DAY,
    SENIORITY_TITLES,
    SOURCES,
    STUDENT_DOMAINS,
)


class SyntheticExport(NamedTuple):
    """A synthetic export: the three canonical tables and the never-for-training truth.

    `truth` has one row per lead (latents, and p_true at created_at + observation_days);
    `episodes` one per interest episode: together they are a `SyntheticTruth`.
    """

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    episodes: pd.DataFrame


class _World(NamedTuple):
    """Everything the generator drew, before it becomes tables."""

    leads: Leads
    latents: Latents
    episodes: Episodes
    events: Events
    converted: np.ndarray  # seconds after creation; NEVER when not by the simulated end


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
    leads = draw_leads(
        rng,
        n_leads=n_leads,
        days=days,
        competitor_domains=competitor_domains,
        personal_domains=personal_domains,
    )
    world = _draw_world(rng, leads, days=days, observation_days=observation_days)
    export = _export_tables(
        rng,
        world,
        origin=origin,
        data_end=days * SECONDS_PER_DAY,
        simulated_until=(days + observation_days) * SECONDS_PER_DAY,
        competitor_domains=competitor_domains,
        personal_domains=personal_domains,
    )
    return _with_p_true(export, world, observation_days=observation_days, horizon_days=horizon_days)


def _draw_world(
    rng: np.random.Generator, leads: Leads, *, days: int, observation_days: int
) -> _World:
    """Latents, interest episodes, conversions and activity of the drawn leads.

    Episodes and conversions run to the data end plus observation_days, so the truth at
    created_at + observation_days exists for every lead; events run to the data end.
    """
    latents = draw_latents(rng, leads)
    data_end_days = (days * SECONDS_PER_DAY - leads.created) / SECONDS_PER_DAY
    simulated_days = data_end_days + observation_days
    episodes = concat_episodes(
        [
            draw_first_episodes(rng, len(leads)),
            draw_reengagements(
                rng, latents, after_days=np.zeros(len(leads)), until_days=simulated_days
            ),
        ]
    )
    converted = conversion_offsets(
        conversion_days(rng, latents, episodes, until_days=simulated_days)
    )
    events = draw_activity(rng, leads, latents, episodes, end_days=data_end_days)
    events = unsubscribe(rng, leads, events)
    return _World(leads, latents, episodes, stop_at_conversion(events, converted), converted)


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
    world: _World,
    *,
    origin: pd.Timestamp,
    data_end: int,
    simulated_until: int,
    competitor_domains: list[str],
    personal_domains: list[str],
) -> SyntheticExport:
    """The tables, with everything after the data end (seconds after origin) dropped; the
    truth without p_true yet."""
    leads = world.leads
    created, events = leads.created, world.events
    occurred = created[events.lead] + events.offset
    events = take_events(events, occurred <= data_end)
    occurred = occurred[occurred <= data_end]
    converted = np.where(world.converted < NEVER, created + world.converted, -1)
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
        truth=_truth_table(world, lead_ids=lead_ids, origin=origin, until=simulated_until),
        episodes=pd.DataFrame(
            {
                "lead_id": lead_ids.iloc[world.episodes.lead].reset_index(drop=True),
                "started_at": _timestamps(
                    origin,
                    created[world.episodes.lead] + world.episodes.start * SECONDS_PER_DAY,
                ),
                "amplitude": world.episodes.amplitude,
            }
        ),
    )


def _truth_table(
    world: _World, *, lead_ids: pd.Series, origin: pd.Timestamp, until: int
) -> pd.DataFrame:
    """One row per lead: creation, the latents the truth needs, the latent profile."""
    latents = world.latents
    n = len(lead_ids)
    return pd.DataFrame(
        {
            "lead_id": lead_ids,
            "created_at": _timestamps(origin, world.leads.created),
            "simulated_until": _timestamps(origin, np.full(n, until)),
            "profile": _strings(world.leads.profile, PROFILES),  # latent, for analysis only
            "conversion_scale": latents.conversion_scale,
            "base_hazard": latents.base_hazard,
            "tau_days": latents.tau,
            "reengage_rate": latents.reengage_rate,
            "amplitude_shape": latents.amplitude_shape,
            "amplitude_scale": latents.amplitude_scale,
        }
    )


def _with_p_true(
    export: SyntheticExport, world: _World, *, observation_days: int, horizon_days: int
) -> SyntheticExport:
    """The truth table with as_of = created_at + observation_days and p_true at it (NaN for
    leads converted at or before as_of), computed by `truth_probability` itself."""
    truth = export.truth
    as_of = truth["created_at"] + pd.Timedelta(days=observation_days)
    p_true = truth_probability(
        SyntheticTruth(leads=truth, episodes=export.episodes),
        truth["lead_id"],
        as_of,
        horizon_days,
    )
    early = world.converted <= observation_days * SECONDS_PER_DAY
    p_true[early] = np.nan
    columns = {"lead_id": truth["lead_id"], "as_of": as_of, "p_true": p_true}
    return export._replace(
        truth=truth.drop(columns="lead_id").assign(**columns)[
            [*columns, *truth.columns.drop("lead_id")]
        ]
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
    micro = np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    values = np.datetime64(start.tz_localize(None), "us") + micro.astype("timedelta64[us]")
    return pd.Series(values, copy=False).dt.tz_localize("UTC")


def export_summary(
    export: SyntheticExport, *, horizon_days: int, data_end: pd.Timestamp
) -> dict[str, float]:
    """Headline counts of an export: events, conversions, early converters and censoring (at
    created_at + observation_days), and the share of conversions after day 200 of a lead."""
    truth = export.truth
    converted_at = truth["lead_id"].map(export.outcomes.set_index("lead_id")["converted_at"])
    horizon = pd.Timedelta(days=horizon_days)
    early = converted_at <= truth["as_of"]
    censored = truth["as_of"] + horizon > data_end
    eligible = ~early & ~censored
    won = (converted_at > truth["as_of"]) & (converted_at <= truth["as_of"] + horizon)
    created = truth["lead_id"].map(export.leads.set_index("lead_id")["created_at"])
    conversion_age = (converted_at - created).dropna()
    late = float((conversion_age > pd.Timedelta(days=200)).mean()) if len(conversion_age) else 0.0
    return {
        "leads": len(export.leads),
        "events": len(export.activities),
        "conversions": len(export.outcomes),
        "early_converters": int(early.sum()),
        "censored_leads": int(censored.sum()),
        "eligible_leads": int(eligible.sum()),
        "eligible_conversion_rate": float(won[eligible].mean()) if eligible.any() else 0.0,
        "conversions_after_200_days": late,  # share of conversions
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
