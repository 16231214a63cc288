"""Drawing the activity stream of each lead over its lifetime, before any outcome."""

from __future__ import annotations

import numpy as np

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
    BASE_MIX,
    BASE_TYPES,
    BURST_PAGES,
    BURST_RATE,
    BURST_SIZE,
    BURST_TYPES,
    BUYER,
    DECAY_DAYS,
    DECAY_SHARE,
    EMAIL_ENGAGEMENT_TYPES,
    ENGAGEMENT_STYLE_SD,
    HAND_RAISE_DAYS,
    HAND_RAISE_RATE,
    HAND_RAISER_SPLIT,
    HAND_RAISER_TYPES,
    MEAN_BASE_EVENTS,
    PAGE_CATEGORIES,
    PAGE_CATEGORY_CODE,
    PAGE_MIX,
    PRICING_SHARE,
    PRIVACY_PROXY_OPENS_PER_DAY,
    PRIVACY_PROXY_SHARE,
    PROFILE_ACTIVITY,
    PROFILE_BURSTS,
    SMALL_SEGMENT,
    TOURIST_DAYS,
    TOURIST_FOLLOW_UP_VIEWS,
    TOURIST_TRIAL_RATE,
    UNSUBSCRIBE_DAYS,
    UNSUBSCRIBE_RATE,
    WEBINAR_ATTENDANCE_SHIFT,
)


def draw_activity(rng: np.random.Generator, leads: Leads, *, lifetime_days: float) -> Events:
    """The decaying base stream plus bursts, tourists, proxy opens and webinar attendance."""
    events = concat_events(
        [
            _base_stream(rng, leads, lifetime_days=lifetime_days),
            _intent_bursts(rng, leads, lifetime_days=lifetime_days),
            _tourist_trials(rng, leads, lifetime_days=lifetime_days),
            _privacy_proxy_opens(rng, leads, lifetime_days=lifetime_days),
        ]
    )
    return concat_events([events, _webinar_attendance(rng, leads, events)])


def _base_stream(rng: np.random.Generator, leads: Leads, *, lifetime_days: float) -> Events:
    """Each lead's base events: types by profile, times decaying after creation, pages."""
    lead, kind = _base_types(rng, leads)
    days_after = _base_days_after(
        rng, n_leads=len(leads), lead=lead, kind=kind, lifetime_days=lifetime_days
    )
    page = _base_pages(rng, leads, lead=lead, kind=kind)
    return Events(lead, seconds(days_after), kind, page)


def _base_types(rng: np.random.Generator, leads: Leads) -> tuple[np.ndarray, np.ndarray]:
    """Lead index and type code of each base event (the lead's events grouped by type)."""
    n = len(leads)
    profile, fit_z, intent_z = leads.profile, leads.fit_z, leads.intent_z
    activity = np.array(list(PROFILE_ACTIVITY.values()))[profile]
    # Volume is mostly a personal habit (engagement style), only weakly tied to intent.
    style = rng.normal(0.0, ENGAGEMENT_STYLE_SD, n)
    volume = np.exp(0.15 * intent_z + 0.1 * fit_z + style)
    total = MEAN_BASE_EVENTS * activity * volume / volume.mean()
    # Hand-raises follow intent and fit, not the lead's browsing volume.
    hand_raise = HAND_RAISE_RATE[profile] * np.exp(0.9 * intent_z + 0.5 * fit_z)
    expected = np.column_stack(
        [
            total[:, None] * BASE_MIX[profile],
            hand_raise[:, None] * HAND_RAISER_SPLIT[leads.segment],
        ]
    )
    kinds = np.array([ACTIVITY_CODE[t] for t in (*BASE_TYPES, *HAND_RAISER_TYPES)], dtype=np.int8)
    counts = rng.poisson(expected)
    lead = np.repeat(np.arange(n, dtype=np.int32), counts.sum(axis=1))
    kind = np.repeat(np.tile(kinds, n), counts.ravel())
    return lead, kind


def _base_days_after(
    rng: np.random.Generator,
    *,
    n_leads: int,
    lead: np.ndarray,
    kind: np.ndarray,
    lifetime_days: float,
) -> np.ndarray:
    """Days from creation of each base event: a truncated exponential decay mixed with a
    flat baseline; hand-raises on their own clock."""
    tau = rng.uniform(*DECAY_DAYS, size=n_leads).astype(np.float32)
    decay_mass = DECAY_SHARE * (1.0 - np.exp(-lifetime_days / tau))
    p_decay = (decay_mass / (decay_mass + (1.0 - DECAY_SHARE)))[lead]
    u = rng.random(len(lead), dtype=np.float32)
    tau_e = tau[lead]
    decayed = -tau_e * np.log1p(-u * (1.0 - np.exp(-lifetime_days / tau_e)))
    from_decay = rng.random(len(lead), dtype=np.float32) < p_decay
    days_after = np.where(from_decay, decayed, u * lifetime_days)
    # Hand-raises come after some research: exponential from creation, wrapped into the
    # lifetime, so at T some are fresh and some are stale.
    raised = kind >= ACTIVITY_CODE[HAND_RAISER_TYPES[0]]
    days_after[raised] = np.fmod(
        rng.exponential(HAND_RAISE_DAYS, size=int(raised.sum())), lifetime_days
    )
    return days_after


def _base_pages(
    rng: np.random.Generator, leads: Leads, *, lead: np.ndarray, kind: np.ndarray
) -> np.ndarray:
    """Page codes of base events: a profile's page mix; the pricing share rises with intent
    and fit for buyers."""
    profile = leads.profile
    pricing = PRICING_SHARE[profile] * np.where(
        profile == BUYER, np.exp(0.5 * leads.intent_z + 0.3 * leads.fit_z), 1.0
    )
    is_pricing = rng.random(len(lead), dtype=np.float32) < np.minimum(pricing, 0.5)[lead]
    others = np.array([PAGE_CATEGORY_CODE[c] for c in PAGE_CATEGORIES if c != "pricing"])
    category = np.where(
        is_pricing,
        PAGE_CATEGORY_CODE["pricing"],
        others[choice_by_group(rng, profile[lead], PAGE_MIX)],
    )
    return page_codes(rng, category, kind == ACTIVITY_CODE["page_view"])


def _intent_bursts(rng: np.random.Generator, leads: Leads, *, lifetime_days: float) -> Events:
    """Intent bursts: a few days of buying-stage activity at a random point of the lifetime."""
    burst_rate = BURST_RATE * np.exp(0.8 * leads.intent_z - 0.32) * PROFILE_BURSTS[leads.profile]
    n_bursts = rng.poisson(burst_rate)
    burst_lead = np.repeat(np.arange(len(leads), dtype=np.int32), n_bursts)
    burst_at = rng.uniform(0.0, lifetime_days, size=len(burst_lead))
    burst_size = rng.poisson(BURST_SIZE, size=len(burst_lead))
    lead = np.repeat(burst_lead, burst_size)
    days = np.minimum(
        np.repeat(burst_at, burst_size) + rng.exponential(1.0, size=len(lead)), lifetime_days
    )
    # "hand_raise" (code -1 here) becomes a hand-raiser type drawn by the lead's segment.
    types = np.array([ACTIVITY_CODE.get(t, -1) for t in BURST_TYPES], dtype=np.int8)
    kind = types[rng.choice(len(types), size=len(lead), p=weights(BURST_TYPES))]
    raise_hand = kind < 0
    hand_raiser_codes = np.array([ACTIVITY_CODE[t] for t in HAND_RAISER_TYPES], dtype=np.int8)
    kind[raise_hand] = hand_raiser_codes[
        choice_by_group(rng, leads.segment[lead[raise_hand]], HAND_RAISER_SPLIT)
    ]
    return Events(lead, seconds(days), kind, fixed_pages(rng, kind, BURST_PAGES))


def _tourist_trials(rng: np.random.Generator, leads: Leads, *, lifetime_days: float) -> Events:
    """Tourists: a curious free-trial sign-up soon after creation, then a look at the docs."""
    tourist = (leads.segment == SMALL_SEGMENT) & (
        rng.random(len(leads)) < TOURIST_TRIAL_RATE[leads.profile]
    )
    trial_lead = np.flatnonzero(tourist).astype(np.int32)
    trial_days = np.minimum(rng.exponential(TOURIST_DAYS, size=len(trial_lead)), lifetime_days)
    n_views = rng.poisson(TOURIST_FOLLOW_UP_VIEWS, size=len(trial_lead))
    view_lead = np.repeat(trial_lead, n_views)
    view_days = np.minimum(
        np.repeat(trial_days, n_views) + rng.exponential(1.0, size=len(view_lead)),
        lifetime_days,
    )
    docs = np.full(len(view_lead), PAGE_CATEGORY_CODE["docs"])
    views = Events(
        view_lead,
        seconds(view_days),
        np.full(len(view_lead), ACTIVITY_CODE["page_view"], dtype=np.int8),
        page_codes(rng, docs, docs >= 0),
    )
    return concat_events([pageless_events(trial_lead, seconds(trial_days), "trial_request"), views])


def _privacy_proxy_opens(rng: np.random.Generator, leads: Leads, *, lifetime_days: float) -> Events:
    """Privacy proxies open every marketing e-mail: opens that say nothing about intent."""
    n = len(leads)
    proxied = rng.random(n) < PRIVACY_PROXY_SHARE[leads.domain_type]
    n_opens = rng.poisson(PRIVACY_PROXY_OPENS_PER_DAY * lifetime_days * proxied)
    lead = np.repeat(np.arange(n, dtype=np.int32), n_opens)
    days = rng.uniform(0.0, lifetime_days, size=len(lead))
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


def unsubscribe(
    rng: np.random.Generator, leads: Leads, events: Events, *, lifetime_days: float
) -> Events:
    """Add one unsubscribe for some leads and drop their e-mail engagement after it."""
    n = len(leads)
    rate = UNSUBSCRIBE_RATE[leads.profile] * np.exp(-0.3 * leads.fit_z)
    unsubscribes = rng.random(n) < rate
    at = np.full(n, np.iinfo(np.int64).max)
    days_at = np.minimum(rng.exponential(UNSUBSCRIBE_DAYS, size=n), lifetime_days)
    at[unsubscribes] = seconds(days_at[unsubscribes])
    email = np.isin(events.kind, [ACTIVITY_CODE[t] for t in EMAIL_ENGAGEMENT_TYPES])
    kept = take_events(events, ~(email & (events.offset > at[events.lead])))
    lead = np.flatnonzero(unsubscribes).astype(np.int32)
    return concat_events([kept, pageless_events(lead, at[lead], "email_unsubscribe")])
