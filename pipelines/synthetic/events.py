"""Drawing each lead's activity: events driven by its interest, plus the noise a CRM records."""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.interest import Episodes, Latents
from pipelines.synthetic.sampling import (
    Events,
    Leads,
    choice_by_group,
    concat_events,
    fixed_pages,
    page_codes,
    pageless_events,
    seconds,
    take_events,
    weights,
)
from pipelines.synthetic.world import (
    ACTIVITY_CODE,
    BROWSE_MIX,
    BROWSE_RATE,
    BROWSE_TYPES,
    BUYING_AMPLITUDE,
    BUYING_PAGES,
    BUYING_TYPES,
    EMAIL_ENGAGEMENT_TYPES,
    HAND_RAISER_SPLIT,
    HAND_RAISER_TYPES,
    INTEREST_FLOOR,
    OPENS_PER_DAY,
    PAGE_CATEGORIES,
    PAGE_CATEGORY_CODE,
    PAGE_MIX,
    PRICING_SHARE,
    PRIVACY_PROXY_OPENS_PER_DAY,
    PRIVACY_PROXY_SHARE,
    PROFILE_ACTIVITY,
    SMALL_SEGMENT,
    TOURIST_DAYS,
    TOURIST_FOLLOW_UP_VIEWS,
    TOURIST_TRIAL_RATE,
    UNSUBSCRIBE_DAYS,
    UNSUBSCRIBE_RATE,
    WEBINAR_ATTENDANCE_SHIFT,
)

HAND_RAISE = -1  # placeholder type code: a hand-raiser type drawn by the lead's segment


def draw_activity(
    rng: np.random.Generator,
    leads: Leads,
    latents: Latents,
    episodes: Episodes,
    *,
    end_days: np.ndarray,
) -> Events:
    """Interest-driven events, habitual and proxy opens, tourists and webinar attendance,
    each lead's up to its end_days (days after creation)."""
    events = concat_events(
        [
            _interest_events(rng, leads, latents, episodes, end_days=end_days),
            _habitual_opens(rng, latents, end_days=end_days),
            _tourist_trials(rng, leads, end_days=end_days),
            _privacy_proxy_opens(rng, leads, end_days=end_days),
        ]
    )
    return concat_events([events, _webinar_attendance(rng, leads, events)])


def _source_rates(leads: Leads, latents: Latents) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per lead, events per day at interest 1 by source (browsing types, then buying types);
    the type code of each source and whether it is a buying source."""
    browse = (latents.style * BROWSE_RATE * PROFILE_ACTIVITY[leads.profile])[:, None] * BROWSE_MIX[
        leads.profile
    ]
    buying = latents.buying[:, None] * weights(BUYING_TYPES)[None, :]
    kinds = np.array(
        [ACTIVITY_CODE[t] for t in BROWSE_TYPES]
        + [ACTIVITY_CODE.get(t, HAND_RAISE) for t in BUYING_TYPES],
        dtype=np.int8,
    )
    is_buying = np.arange(len(kinds)) >= len(BROWSE_TYPES)
    return np.column_stack([browse, buying]), kinds, is_buying


def _interest_events(
    rng: np.random.Generator,
    leads: Leads,
    latents: Latents,
    episodes: Episodes,
    *,
    end_days: np.ndarray,
) -> Events:
    """Poisson events at rate (browsing rate + buying rate * A_e / BUYING_AMPLITUDE) * I_e(t)
    for each episode e, plus the same at the floor level INTEREST_FLOOR.

    By superposition each episode emits its own events, with times decaying from its start
    (truncated at the lead's end), and the floor emits events uniformly over the lifetime.
    """
    rates, kinds, is_buying = _source_rates(leads, latents)
    ep_lead = episodes.lead
    tau = latents.tau[ep_lead]
    room = np.maximum(end_days[ep_lead] - episodes.start, 0.0)
    mass = episodes.amplitude * tau * -np.expm1(-room / tau)  # interest-days before the end
    n = len(leads)
    # One row per episode, then one per lead for the floor.
    row_lead = np.concatenate([ep_lead, np.arange(n, dtype=np.int32)])
    row_mass = np.concatenate([mass, INTEREST_FLOOR * end_days])
    # Buying signals come from strong episodes: their rate is also scaled by the episode's
    # amplitude (the floor's is its level), so they mark high interest, not just some.
    strength = np.concatenate([episodes.amplitude, np.full(n, INTEREST_FLOOR)]) / BUYING_AMPLITUDE
    scale = np.where(is_buying[None, :], strength[:, None], 1.0)
    counts = rng.poisson(row_mass[:, None] * scale * rates[row_lead])
    per_row = counts.sum(axis=1)
    row = np.repeat(np.arange(len(row_lead)), per_row)
    source = np.repeat(np.tile(np.arange(len(kinds)), len(row_lead)), counts.ravel())
    lead = row_lead[row]
    u = rng.random(len(row))
    from_episode = row < len(ep_lead)
    ep = np.minimum(row, len(ep_lead) - 1)  # (every lead has its first episode)
    ep_tau = latents.tau[lead]
    # Inverse CDF of the exponential decay truncated at the end; uniform for the floor.
    decayed = episodes.start[ep] - ep_tau * np.log1p(-u * -np.expm1(-room[ep] / ep_tau))
    days = np.where(from_episode, decayed, u * end_days[lead])
    kind = kinds[source]
    raise_hand = kind == HAND_RAISE
    hand_raiser_codes = np.array([ACTIVITY_CODE[t] for t in HAND_RAISER_TYPES], dtype=np.int8)
    kind[raise_hand] = hand_raiser_codes[
        choice_by_group(rng, leads.segment[lead[raise_hand]], HAND_RAISER_SPLIT)
    ]
    buying = is_buying[source]
    page = np.where(
        buying,
        fixed_pages(rng, kind, BUYING_PAGES),
        _browse_pages(rng, leads, lead=lead, kind=kind),
    ).astype(np.int16)
    return Events(lead.astype(np.int32), seconds(days), kind, page)


def _browse_pages(
    rng: np.random.Generator, leads: Leads, *, lead: np.ndarray, kind: np.ndarray
) -> np.ndarray:
    """Page codes of browsing events: the profile's page mix with its pricing share."""
    profile = leads.profile
    is_pricing = rng.random(len(lead)) < PRICING_SHARE[profile][lead]
    others = np.array([PAGE_CATEGORY_CODE[c] for c in PAGE_CATEGORIES if c != "pricing"])
    category = np.where(
        is_pricing,
        PAGE_CATEGORY_CODE["pricing"],
        others[choice_by_group(rng, profile[lead], PAGE_MIX)],
    )
    return page_codes(rng, category, kind == ACTIVITY_CODE["page_view"])


def _habitual_opens(rng: np.random.Generator, latents: Latents, *, end_days: np.ndarray) -> Events:
    """E-mail opens by habit: marketing e-mails arrive on a schedule whatever the interest."""
    n_opens = rng.poisson(OPENS_PER_DAY * latents.style * end_days)
    lead = np.repeat(np.arange(len(end_days), dtype=np.int32), n_opens)
    days = rng.random(len(lead)) * end_days[lead]
    return pageless_events(lead, seconds(days), "email_open")


def _tourist_trials(rng: np.random.Generator, leads: Leads, *, end_days: np.ndarray) -> Events:
    """Tourists: a curious free-trial sign-up soon after creation, then a look at the docs."""
    tourist = (leads.segment == SMALL_SEGMENT) & (
        rng.random(len(leads)) < TOURIST_TRIAL_RATE[leads.profile]
    )
    trial_lead = np.flatnonzero(tourist).astype(np.int32)
    trial_days = rng.exponential(TOURIST_DAYS, size=len(trial_lead))
    n_views = rng.poisson(TOURIST_FOLLOW_UP_VIEWS, size=len(trial_lead))
    view_lead = np.repeat(trial_lead, n_views)
    view_days = np.repeat(trial_days, n_views) + rng.exponential(1.0, size=len(view_lead))
    docs = np.full(len(view_lead), PAGE_CATEGORY_CODE["docs"])
    views = Events(
        view_lead,
        seconds(view_days),
        np.full(len(view_lead), ACTIVITY_CODE["page_view"], dtype=np.int8),
        page_codes(rng, docs, docs >= 0),
    )
    events = concat_events(
        [pageless_events(trial_lead, seconds(trial_days), "trial_request"), views]
    )
    return take_events(events, events.offset <= seconds(end_days)[events.lead])


def _privacy_proxy_opens(rng: np.random.Generator, leads: Leads, *, end_days: np.ndarray) -> Events:
    """Privacy proxies open every marketing e-mail: opens that say nothing about intent."""
    n = len(leads)
    proxied = rng.random(n) < PRIVACY_PROXY_SHARE[leads.domain_type]
    n_opens = rng.poisson(PRIVACY_PROXY_OPENS_PER_DAY * end_days * proxied)
    lead = np.repeat(np.arange(n, dtype=np.int32), n_opens)
    days = rng.random(len(lead)) * end_days[lead]
    return pageless_events(lead, seconds(days), "email_open")


def _webinar_attendance(rng: np.random.Generator, leads: Leads, events: Events) -> Events:
    """Some webinar registrants attend, one to ten days after registering."""
    registered = events.kind == ACTIVITY_CODE["webinar_registered"]
    attend_p = np.clip(
        0.4 + 0.12 * leads.intent_z + WEBINAR_ATTENDANCE_SHIFT[leads.profile], 0.1, 0.8
    )
    attends = registered & (rng.random(len(events.lead)) < attend_p[events.lead])
    lead = events.lead[attends]
    offset = events.offset[attends] + seconds(rng.uniform(1.0, 10.0, size=len(lead)))
    return pageless_events(lead, offset, "webinar_attended")


def unsubscribe(rng: np.random.Generator, leads: Leads, events: Events) -> Events:
    """Add one unsubscribe for some leads and drop their e-mail engagement after it."""
    n = len(leads)
    rate = UNSUBSCRIBE_RATE[leads.profile] * np.exp(-0.3 * leads.fit_z)
    unsubscribes = rng.random(n) < rate
    at = np.full(n, np.iinfo(np.int64).max)
    days_at = rng.exponential(UNSUBSCRIBE_DAYS, size=n)
    at[unsubscribes] = seconds(days_at[unsubscribes])
    email = np.isin(events.kind, [ACTIVITY_CODE[t] for t in EMAIL_ENGAGEMENT_TYPES])
    kept = take_events(events, ~(email & (events.offset > at[events.lead])))
    lead = np.flatnonzero(unsubscribes).astype(np.int32)
    return concat_events([kept, pageless_events(lead, at[lead], "email_unsubscribe")])
