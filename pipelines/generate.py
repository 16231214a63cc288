"""The `generate` stage: a synthetic CRM/marketing export with a checkable ground truth.

Each lead gets a latent fit (from firmographics) and a latent intent. They drive an
activity stream that decays after creation, with intent bursts. At the as-of moment
T = created_at + observation_days the conversion probability `p_true` is an explicit
logistic function of what is observable at T (attributes and events with
occurred_at <= T); the label is drawn from it. Events after T depend on the outcome, so a
feature builder that reads the future is detectably wrong. Everything after the data end
(start + days) is dropped.

`truth.p_true` is NaN for early converters (converted at or before T). For leads whose T
falls after the data end it is computed on the uncensored stream, so it cannot be checked
against the export; those leads are censored anyway.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, NamedTuple

import numpy as np
import pandas as pd
import typer

from pipelines.config import load_params, section
from pipelines.errors import InputError
from pipelines.io import write_table

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
SKIPPED_MARKER = Path("data/raw/synthetic/SKIPPED")

# ---------------------------------------------------------------------------------------
# Vocabularies
# ---------------------------------------------------------------------------------------
ACTIVITY_TYPES = (
    "page_view",
    "form_submit",
    "content_download",
    "webinar_registered",
    "webinar_attended",
    "email_open",
    "email_click",
    "email_unsubscribe",
    "chat",
    "trial_request",
    "demo_request",
    "contact_sales",
)
_T = {name: code for code, name in enumerate(ACTIVITY_TYPES)}
HAND_RAISER_TYPES = ("trial_request", "demo_request", "contact_sales")
EMAIL_ENGAGEMENT_TYPES = ("email_open", "email_click")

# Page paths by category; each path matches only its own category under the
# first-substring-wins rule of params `features.page_categories`.
PAGE_PATHS: dict[str, tuple[str, ...]] = {
    "home": ("/",),
    "pricing": ("/pricing", "/pricing/enterprise", "/pricing/compare", "/plans"),
    "product": (
        "/product",
        "/product/integrations",
        "/product/analytics",
        "/features",
        "/solutions/sales-teams",
        "/solutions/marketing",
    ),
    "blog": (
        "/blog/lead-scoring-101",
        "/blog/mql-vs-sql",
        "/blog/crm-hygiene",
        "/blog/sales-playbook",
        "/resources/ebook-pipeline-benchmarks",
    ),
    "docs": ("/docs/getting-started", "/docs/api/rest", "/docs/connectors/salesforce"),
    "careers": ("/careers", "/careers/engineering", "/careers/sales", "/jobs/open-positions"),
    "company": ("/about", "/customers/case-studies", "/contact"),
}
PAGE_CATEGORIES = tuple(PAGE_PATHS)
_P = {name: code for code, name in enumerate(PAGE_CATEGORIES)}

PROFILES = ("buyer", "job_seeker", "student", "competitor")
_BUYER, _JOB_SEEKER, _STUDENT, _COMPETITOR = range(4)
PROFILE_SHARES = {"buyer": 0.86, "job_seeker": 0.06, "student": 0.05, "competitor": 0.03}

DOMAIN_TYPES = ("business", "personal", "student", "competitor")
_BUSINESS, _PERSONAL, _STUDENT_DOMAIN, _COMPETITOR_DOMAIN = range(4)
# P(domain type | profile); rows follow PROFILES, columns DOMAIN_TYPES.
DOMAIN_TYPE_GIVEN_PROFILE = np.array(
    [
        [0.80, 0.20, 0.00, 0.00],
        [0.15, 0.85, 0.00, 0.00],
        [0.00, 0.20, 0.80, 0.00],
        [0.00, 0.00, 0.00, 1.00],
    ]
)

INDUSTRIES = {  # name: share among companies
    "software": 0.20,
    "financial_services": 0.12,
    "professional_services": 0.12,
    "healthcare": 0.10,
    "manufacturing": 0.12,
    "retail": 0.10,
    "media": 0.06,
    "education": 0.06,
    "government": 0.04,
    "other": 0.08,
}
COMPANY_SIZES = {"1-10": 0.22, "11-50": 0.26, "51-200": 0.24, "201-1000": 0.17, "1000+": 0.11}
COUNTRIES = {
    "US": 0.38, "GB": 0.10, "DE": 0.09, "FR": 0.06, "CA": 0.06, "AU": 0.04, "NL": 0.04,
    "IN": 0.08, "BR": 0.05, "ES": 0.04, "SE": 0.03, "JP": 0.03,
}  # fmt: skip
SOURCES = (
    "organic_search", "paid_search", "social", "referral", "email", "event", "direct", "partner",
)  # fmt: skip
# P(source | profile); rows follow PROFILES, columns SOURCES.
SOURCE_GIVEN_PROFILE = np.array(
    [
        [0.26, 0.18, 0.10, 0.10, 0.12, 0.08, 0.10, 0.06],
        [0.40, 0.05, 0.35, 0.05, 0.02, 0.03, 0.10, 0.00],
        [0.40, 0.05, 0.30, 0.05, 0.05, 0.10, 0.05, 0.00],
        [0.35, 0.05, 0.10, 0.00, 0.10, 0.10, 0.30, 0.00],
    ]
)

SENIORITY_TITLES: dict[str, tuple[str, ...]] = {
    "executive": ("CEO", "CTO", "CFO", "COO", "CMO", "Founder"),
    "vp": ("VP Sales", "VP Marketing", "VP Engineering", "VP Operations", "VP Revenue"),
    "director": (
        "Director of Sales",
        "Director of Marketing",
        "Director of IT",
        "Director of Operations",
    ),
    "manager": (
        "Marketing Manager",
        "Sales Manager",
        "IT Manager",
        "Product Manager",
        "Operations Manager",
    ),
    "individual": (
        "Software Engineer",
        "Data Analyst",
        "Marketing Specialist",
        "Sales Representative",
        "Business Analyst",
        "Consultant",
    ),
    "student": ("Student", "Intern", "Graduate Student", "PhD Candidate"),
}
SENIORITIES = (*SENIORITY_TITLES, "unknown")  # unknown: job title missing
_SENIORITY_UNKNOWN = len(SENIORITIES) - 1
TITLE_SENIORITY = {title: level for level, titles in SENIORITY_TITLES.items() for title in titles}
# P(seniority | profile) over the titled levels; rows follow PROFILES.
SENIORITY_GIVEN_PROFILE = np.array(
    [
        [0.08, 0.08, 0.14, 0.30, 0.40, 0.00],
        [0.00, 0.00, 0.02, 0.18, 0.75, 0.05],
        [0.00, 0.00, 0.00, 0.00, 0.05, 0.95],
        [0.00, 0.02, 0.08, 0.45, 0.45, 0.00],
    ]
)

FIRST_NAMES = (
    "anna", "ben", "carla", "david", "elena", "farid", "grace", "hugo", "ines", "jonas",
    "kemal", "lena", "marco", "nadia", "oscar", "priya", "quentin", "rosa", "sami", "tara",
    "umar", "vera", "wei", "ximena", "yusuf", "zoe", "liam", "emma", "noah", "mia",
)  # fmt: skip
LAST_NAMES = (
    "smith", "mueller", "garcia", "rossi", "novak", "kim", "patel", "silva", "jensen", "dubois",
    "tanaka", "kowalski", "ahmed", "nguyen", "olsen", "fischer", "moreau", "costa", "berg",
    "walsh", "ibrahim", "larsen", "romero", "schmidt", "chen", "lopez", "hansen", "ward",
)  # fmt: skip
COMPANY_WORDS = (
    "acme", "globex", "initech", "umbrella", "stark", "wayne", "hooli", "vandelay", "soylent",
    "tyrell", "wonka", "cyberdyne", "aperture", "gringotts", "monarch", "oscorp", "nakatomi",
    "duff", "zenith", "apex", "nimbus", "vertex", "quantum", "silverline", "bluepeak", "redwood",
    "ironclad", "northwind", "brightpath", "clearwater",
)  # fmt: skip
COMPANY_SUFFIXES = ("-corp", "-labs", "-group", "-tech", "-systems", "-solutions", "-inc", "")
BUSINESS_TLDS = (".com", ".io", ".co", ".de", ".co.uk", ".net")
STUDENT_DOMAINS = (
    "northfield.edu", "lakeside.edu", "stateuniversity.edu", "riverdale.edu",
    "kingsbridge.ac.uk", "southcoast.edu.au",
)  # fmt: skip

# ---------------------------------------------------------------------------------------
# The ground truth: p_true = sigmoid(logit) of observables at T (see `conversion_logit`).
# ---------------------------------------------------------------------------------------
INTERCEPT = -5.1
INDUSTRY_COEF = {
    "software": 0.50,
    "financial_services": 0.35,
    "professional_services": 0.20,
    "healthcare": 0.10,
    "manufacturing": 0.00,
    "retail": -0.10,
    "media": -0.10,
    "education": -0.40,
    "government": -0.50,
    "other": -0.20,
    None: -0.15,  # missing
}
COMPANY_SIZE_COEF = {
    "1-10": -0.60,
    "11-50": -0.10,
    "51-200": 0.30,
    "201-1000": 0.45,
    "1000+": 0.25,
    None: -0.20,
}
SENIORITY_COEF = {
    "executive": 0.50,
    "vp": 0.55,
    "director": 0.45,
    "manager": 0.20,
    "individual": 0.00,
    "student": -1.20,
    "unknown": -0.20,
}
DOMAIN_TYPE_COEF = {"business": 0.00, "personal": -0.60, "student": -1.00, "competitor": -10.0}
SOURCE_COEF = {
    "organic_search": 0.00,
    "paid_search": 0.05,
    "social": -0.25,
    "referral": 0.30,
    "email": 0.00,
    "event": 0.20,
    "direct": 0.05,
    "partner": 0.25,
}
# Behaviour before or at T; "log1p_*" terms are log(1 + count), saturating.
BEHAVIOUR_COEF = {
    "log1p_page_views": 0.15,
    "log1p_pricing_views": 0.55,
    "log1p_content_downloads": 0.30,
    "log1p_form_submits": 0.20,
    "log1p_email_clicks": 0.25,
    "log1p_email_opens": 0.05,
    "log1p_active_days": 0.35,
    "log1p_careers_views": -0.50,
    "webinar_attended": 0.45,  # any
    "chat": 0.30,  # any
    "hand_raiser": 1.90,  # any trial_request / demo_request / contact_sales
    "unsubscribed": -0.70,
    "days_since_last_activity": -0.07,  # per day; observation_days when no activity
}
INTERACTION_COEF = {
    "hand_raiser_x_senior": 0.50,  # senior: executive, vp, director
    "hand_raiser_x_personal_domain": -0.60,
    "pricing_viewer_x_mid_large_company": 0.40,  # any pricing view, size 51-200 and up
}
_SENIOR = ("executive", "vp", "director")
_MID_LARGE = ("51-200", "201-1000", "1000+")

# ---------------------------------------------------------------------------------------
# Behaviour (latent) parameters
# ---------------------------------------------------------------------------------------
MEAN_BASE_EVENTS = 33.0  # expected base events over a lead's lifetime (before bursts)
LIFETIME_EXTRA_DAYS = 60  # events run to T + horizon + this, then stop
DECAY_SHARE = 0.6  # share of base events in the decaying (post-creation) component
DECAY_DAYS = (4.0, 14.0)  # per-lead decay time constant range
PROFILE_ACTIVITY = {"buyer": 1.0, "job_seeker": 0.7, "student": 0.8, "competitor": 0.9}
# Relative base-stream mix per profile (columns: BASE_TYPES); hand-raisers are added below.
BASE_TYPES = (
    "page_view",
    "form_submit",
    "content_download",
    "webinar_registered",
    "email_open",
    "email_click",
    "chat",
)
BASE_MIX = np.array(
    [
        [0.50, 0.04, 0.05, 0.025, 0.28, 0.07, 0.015],
        [0.80, 0.05, 0.02, 0.005, 0.10, 0.02, 0.005],
        [0.60, 0.06, 0.12, 0.030, 0.15, 0.04, 0.005],
        [0.75, 0.03, 0.08, 0.040, 0.07, 0.02, 0.010],
    ]
)
HAND_RAISER_BASE = np.array([0.0035, 0.0001, 0.0008, 0.0015])  # per base event, by profile
HAND_RAISER_SPLIT = np.array([0.35, 0.45, 0.20])  # trial, demo, contact_sales
# Baseline page mix without pricing (columns: PAGE_CATEGORIES minus pricing), by profile.
PAGE_MIX = np.array(
    [
        [0.20, 0.25, 0.27, 0.11, 0.03, 0.14],
        [0.15, 0.08, 0.10, 0.02, 0.55, 0.10],
        [0.20, 0.15, 0.35, 0.20, 0.05, 0.05],
        [0.10, 0.45, 0.10, 0.28, 0.02, 0.05],
    ]
)
PRICING_SHARE = np.array([0.08, 0.02, 0.04, 0.30])  # baseline share of page views, by profile
BURST_RATE = 0.35  # expected intent bursts per lead at average intent (none for job seekers)
BURST_SIZE = 5.0  # expected extra events per burst
BURST_TYPES = {
    "page_view": 0.56,
    "content_download": 0.08,
    "webinar_registered": 0.05,
    "email_click": 0.10,
    "email_open": 0.10,
    "form_submit": 0.04,
    "chat": 0.02,
    "trial_request": 0.015,
    "demo_request": 0.025,
    "contact_sales": 0.01,
}
BURST_PAGES = {"pricing": 0.40, "product": 0.40, "docs": 0.20}
CONVERTER_EVENTS = 4.0  # expected buying events between T and conversion
CONVERTER_TYPES = {
    "page_view": 0.55,
    "demo_request": 0.20,
    "contact_sales": 0.10,
    "trial_request": 0.05,
    "chat": 0.10,
}
CONVERTER_PAGES = {"pricing": 0.60, "product": 0.25, "docs": 0.15}
AFTER_CONVERSION_KEEP = 0.3  # share of base events kept after a lead converts
EARLY_CONVERSION_HAND_RAISER = 0.30  # P(convert before T | hand-raised before T)
EARLY_CONVERSION_OTHER = 0.003
UNSUBSCRIBE_RATE = np.array([0.07, 0.10, 0.08, 0.03])  # by profile
UNSUBSCRIBE_DAYS = 30.0  # mean days from creation to unsubscribe
MISSING_SHARE = {"industry": 0.04, "company_size": 0.06, "country": 0.02, "job_title": 0.03}


class SyntheticExport(NamedTuple):
    """A synthetic export: the three canonical tables and the never-for-training truth."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame


class _Events(NamedTuple):
    """Columnar events: lead index, seconds since the lead's creation, type code, page code."""

    lead: np.ndarray  # int32
    offset: np.ndarray  # int64 seconds
    kind: np.ndarray  # int8
    page: np.ndarray  # int16, -1 when not a page view


_PATHS = tuple(path for paths in PAGE_PATHS.values() for path in paths)
_PATH_START = np.cumsum([0, *(len(p) for p in PAGE_PATHS.values())])[:-1]
_PATH_COUNT = np.array([len(p) for p in PAGE_PATHS.values()])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _coef_table(coefficients: dict, names: tuple[str, ...] | dict[str, float]) -> np.ndarray:
    """Coefficients in the order of `names`; the missing-value (None) one last, for code -1."""
    return np.array([coefficients[name] for name in names] + [coefficients.get(None, 0.0)])


def _weights(mapping: dict[str, float]) -> np.ndarray:
    """Normalised probabilities from a {name: weight} mapping."""
    values = np.array(list(mapping.values()), dtype=float)
    return values / values.sum()


def _choice_by_group(rng: np.random.Generator, group: np.ndarray, table: np.ndarray) -> np.ndarray:
    """One categorical draw per row, from the table row given by `group` (few groups)."""
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random(len(group))
    out = np.empty(len(group), dtype=np.int16)
    for g in range(table.shape[0]):
        mask = group == g
        out[mask] = np.searchsorted(cumulative[g], u[mask], side="right")
    return out


def _concat(parts: list[_Events]) -> _Events:
    """Concatenate event batches column by column."""
    return _Events(*(np.concatenate(columns) for columns in zip(*parts, strict=True)))


def _take(events: _Events, mask: np.ndarray) -> _Events:
    """The events where `mask` is true."""
    return _Events(*(column[mask] for column in events))


def _page_codes(
    rng: np.random.Generator, category: np.ndarray, is_page_view: np.ndarray
) -> np.ndarray:
    """A path code per event from its page category (-1 where not a page view)."""
    u = rng.random(len(category))
    path = _PATH_START[category] + (u * _PATH_COUNT[category]).astype(np.int64)
    return np.where(is_page_view, path, -1).astype(np.int16)


def _fixed_pages(rng: np.random.Generator, kind: np.ndarray, mix: dict[str, float]) -> np.ndarray:
    """Page codes for events whose page category follows one fixed mix."""
    categories = np.array([_P[name] for name in mix])
    category = categories[rng.choice(len(mix), size=len(kind), p=_weights(mix))]
    return _page_codes(rng, category, kind == _T["page_view"])


def _draw_leads(
    rng: np.random.Generator,
    *,
    n_leads: int,
    days: int,
    competitor_domains: list[str],
    personal_domains: list[str],
) -> dict[str, np.ndarray]:
    """Lead attributes as code arrays, plus the latent profile, fit and intent."""
    shares = np.array(list(PROFILE_SHARES.values()))
    if not competitor_domains:
        shares[_COMPETITOR] = 0.0
    profile = rng.choice(len(PROFILES), size=n_leads, p=shares / shares.sum()).astype(np.int8)
    domain_table = DOMAIN_TYPE_GIVEN_PROFILE.copy()
    if not personal_domains:
        domain_table[:, _BUSINESS] += domain_table[:, _PERSONAL]
        domain_table[:, _PERSONAL] = 0.0
        domain_table[_STUDENT] = [0.0, 0.0, 1.0, 0.0]
    domain_type = _choice_by_group(rng, profile, domain_table).astype(np.int8)

    # Companies give leads consistent firmographics; a few companies send many leads.
    n_companies = max(20, n_leads // 3)
    company = (n_companies * rng.random(n_leads) ** 2).astype(np.int64)
    company_industry = rng.choice(len(INDUSTRIES), size=n_companies, p=_weights(INDUSTRIES))
    company_size = rng.choice(len(COMPANY_SIZES), size=n_companies, p=_weights(COMPANY_SIZES))
    company_country = rng.choice(len(COUNTRIES), size=n_companies, p=_weights(COUNTRIES))
    industry = company_industry[company].astype(np.int16)
    size = company_size[company].astype(np.int16)
    country = company_country[company].astype(np.int16)
    student = profile == _STUDENT
    industry[student] = np.where(
        rng.random(student.sum()) < 0.6, list(INDUSTRIES).index("education"), -1
    )
    size[student] = np.where(rng.random(student.sum()) < 0.3, len(COMPANY_SIZES) - 1, -1)
    competitor = profile == _COMPETITOR
    industry[competitor] = list(INDUSTRIES).index("software")
    mid_sizes = [list(COMPANY_SIZES).index(s) for s in ("51-200", "201-1000")]
    size[competitor] = rng.choice(mid_sizes, size=competitor.sum())

    seniority = _choice_by_group(rng, profile, SENIORITY_GIVEN_PROFILE)
    counts = np.array([len(t) for t in SENIORITY_TITLES.values()])
    starts = np.cumsum([0, *counts])[:-1]
    title = starts[seniority] + (rng.random(n_leads) * counts[seniority]).astype(np.int64)
    source = _choice_by_group(rng, profile, SOURCE_GIVEN_PROFILE)

    missing = {name: rng.random(n_leads) < share for name, share in MISSING_SHARE.items()}
    industry[missing["industry"]] = -1
    size[missing["company_size"]] = -1
    country[missing["country"]] = -1
    title[missing["job_title"]] = -1
    seniority = np.where(missing["job_title"], _SENIORITY_UNKNOWN, seniority)

    # Latent fit: the firmographic part of the truth plus noise the truth cannot see.
    fit = (
        _coef_table(INDUSTRY_COEF, INDUSTRIES)[industry]
        + _coef_table(COMPANY_SIZE_COEF, COMPANY_SIZES)[size]
        + _coef_table(SENIORITY_COEF, SENIORITIES)[seniority]
        + rng.normal(0.0, 0.4, n_leads)
    )
    fit_z = (fit - fit.mean()) / (fit.std() or 1.0)
    source_intent = np.array([0.0, 0.1, -0.2, 0.3, 0.0, 0.2, 0.1, 0.2])
    intent_z = rng.normal(0.0, 1.0, n_leads) + source_intent[source]

    created = np.sort(rng.integers(0, days * SECONDS_PER_DAY, size=n_leads))
    return {
        "created": created,
        "profile": profile,
        "domain_type": domain_type,
        "company": company,
        "industry": industry,
        "size": size,
        "country": country,
        "seniority": seniority.astype(np.int8),
        "title": title,
        "source": source,
        "first": rng.integers(0, len(FIRST_NAMES), size=n_leads),
        "last": rng.integers(0, len(LAST_NAMES), size=n_leads),
        "fit_z": fit_z,
        "intent_z": intent_z,
    }


def _draw_base_events(
    rng: np.random.Generator, leads: dict[str, np.ndarray], *, lifetime_days: float
) -> _Events:
    """The decaying base stream plus intent bursts and webinar attendance, per lead."""
    n = len(leads["profile"])
    profile, fit_z, intent_z = leads["profile"], leads["fit_z"], leads["intent_z"]
    activity = np.array(list(PROFILE_ACTIVITY.values()))[profile]
    total = MEAN_BASE_EVENTS * activity * np.exp(0.45 * intent_z + 0.2 * fit_z - 0.12)
    hand_raise = HAND_RAISER_BASE[profile] * np.exp(0.9 * intent_z + 0.5 * fit_z)
    mix = np.column_stack([BASE_MIX[profile], hand_raise[:, None] * HAND_RAISER_SPLIT])
    kinds = np.array([_T[t] for t in (*BASE_TYPES, *HAND_RAISER_TYPES)], dtype=np.int8)
    counts = rng.poisson(total[:, None] * mix)
    lead = np.repeat(np.arange(n, dtype=np.int32), counts.sum(axis=1))
    kind = np.repeat(np.tile(kinds, n), counts.ravel())

    # Time since creation: a truncated exponential decay mixed with a flat baseline.
    tau = rng.uniform(*DECAY_DAYS, size=n).astype(np.float32)
    decay_mass = DECAY_SHARE * (1.0 - np.exp(-lifetime_days / tau))
    p_decay = (decay_mass / (decay_mass + (1.0 - DECAY_SHARE)))[lead]
    u = rng.random(len(lead), dtype=np.float32)
    tau_e = tau[lead]
    decayed = -tau_e * np.log1p(-u * (1.0 - np.exp(-lifetime_days / tau_e)))
    from_decay = rng.random(len(lead), dtype=np.float32) < p_decay
    days_after = np.where(from_decay, decayed, u * lifetime_days)
    del tau_e, decayed, u, p_decay, from_decay

    # Baseline pages: pricing share rises with intent and fit for buyers.
    pricing = PRICING_SHARE[profile] * np.where(
        profile == _BUYER, np.exp(0.5 * intent_z + 0.3 * fit_z), 1.0
    )
    is_pricing = rng.random(len(lead), dtype=np.float32) < np.minimum(pricing, 0.5)[lead]
    others = np.array([_P[c] for c in PAGE_CATEGORIES if c != "pricing"])
    category = np.where(
        is_pricing, _P["pricing"], others[_choice_by_group(rng, profile[lead], PAGE_MIX)]
    )
    page = _page_codes(rng, category, kind == _T["page_view"])
    base = _Events(lead, _seconds(days_after), kind, page)
    del days_after, category, is_pricing

    # Intent bursts: a few days of buying-stage activity at a random point of the lifetime.
    burst_rate = BURST_RATE * np.exp(0.8 * intent_z - 0.32) * (profile != _JOB_SEEKER)
    n_bursts = rng.poisson(burst_rate)
    burst_lead = np.repeat(np.arange(n, dtype=np.int32), n_bursts)
    burst_at = rng.uniform(0.0, lifetime_days, size=len(burst_lead))
    burst_size = rng.poisson(BURST_SIZE, size=len(burst_lead))
    b_lead = np.repeat(burst_lead, burst_size)
    b_days = np.minimum(
        np.repeat(burst_at, burst_size) + rng.exponential(1.0, size=len(b_lead)), lifetime_days
    )
    b_types = np.array([_T[t] for t in BURST_TYPES], dtype=np.int8)
    b_kind = b_types[rng.choice(len(b_types), size=len(b_lead), p=_weights(BURST_TYPES))]
    burst = _Events(b_lead, _seconds(b_days), b_kind, _fixed_pages(rng, b_kind, BURST_PAGES))

    events = _concat([base, burst])
    # Some registrants attend, one to ten days later.
    registered = events.kind == _T["webinar_registered"]
    attend_p = np.clip(0.4 + 0.12 * intent_z, 0.1, 0.8)
    attends = registered & (rng.random(len(events.lead)) < attend_p[events.lead])
    a_lead = events.lead[attends]
    a_offset = events.offset[attends] + _seconds(rng.uniform(1.0, 10.0, size=len(a_lead)))
    attended = _Events(
        a_lead,
        a_offset,
        np.full(len(a_lead), _T["webinar_attended"], dtype=np.int8),
        np.full(len(a_lead), -1, dtype=np.int16),
    )
    return _concat([events, attended])


def _seconds(days: np.ndarray) -> np.ndarray:
    """Whole seconds from fractional days."""
    return (np.asarray(days, dtype=np.float64) * SECONDS_PER_DAY).astype(np.int64)


def _unsubscribe(
    rng: np.random.Generator,
    leads: dict[str, np.ndarray],
    events: _Events,
    *,
    lifetime_days: float,
) -> _Events:
    """Add one unsubscribe for some leads and drop their e-mail engagement after it."""
    n = len(leads["profile"])
    rate = UNSUBSCRIBE_RATE[leads["profile"]] * np.exp(-0.3 * leads["fit_z"])
    unsubscribes = rng.random(n) < rate
    at = np.full(n, np.iinfo(np.int64).max)
    days_at = np.minimum(rng.exponential(UNSUBSCRIBE_DAYS, size=n), lifetime_days)
    at[unsubscribes] = _seconds(days_at[unsubscribes])
    email = np.isin(events.kind, [_T[t] for t in EMAIL_ENGAGEMENT_TYPES])
    kept = _take(events, ~(email & (events.offset > at[events.lead])))
    u_lead = np.flatnonzero(unsubscribes).astype(np.int32)
    unsub = _Events(
        u_lead,
        at[u_lead],
        np.full(len(u_lead), _T["email_unsubscribe"], dtype=np.int8),
        np.full(len(u_lead), -1, dtype=np.int16),
    )
    return _concat([kept, unsub])


def _observables_at_as_of(
    leads: dict[str, np.ndarray], events: _Events, *, as_of_offset: int
) -> pd.DataFrame:
    """The observables the truth uses, per lead, from events with offset <= as_of_offset."""
    n = len(leads["profile"])
    pre = _take(events, events.offset <= as_of_offset)
    n_types = len(ACTIVITY_TYPES)
    counts = np.bincount(
        pre.lead.astype(np.int64) * n_types + pre.kind, minlength=n * n_types
    ).reshape(n, n_types)
    category = np.full(len(pre.page), -1, dtype=np.int16)
    is_view = pre.page >= 0
    category[is_view] = np.searchsorted(_PATH_START, pre.page[is_view], side="right") - 1
    pricing_views = np.bincount(pre.lead[category == _P["pricing"]], minlength=n)
    careers_views = np.bincount(pre.lead[category == _P["careers"]], minlength=n)
    # Distinct calendar days (UTC) with any activity.
    created = leads["created"][pre.lead]
    day = (created + pre.offset) // SECONDS_PER_DAY - created // SECONDS_PER_DAY
    max_days = int(as_of_offset // SECONDS_PER_DAY) + 2
    seen = np.zeros(n * max_days, dtype=bool)  # a lead-by-day grid is cheaper than unique()
    seen[pre.lead.astype(np.int64) * max_days + day] = True
    active_days = seen.reshape(n, max_days).sum(axis=1)
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, pre.lead, pre.offset)
    # No activity before T counts as the whole observation window.
    days_since = (as_of_offset - np.maximum(last, 0)) / SECONDS_PER_DAY
    hand_raiser = counts[:, [_T[t] for t in HAND_RAISER_TYPES]].sum(axis=1) > 0
    return pd.DataFrame(
        {
            "industry": leads["industry"],
            "company_size": leads["size"],
            "seniority": leads["seniority"],
            "domain_type": leads["domain_type"],
            "source": leads["source"],
            "page_views": counts[:, _T["page_view"]],
            "pricing_views": pricing_views,
            "careers_views": careers_views,
            "content_downloads": counts[:, _T["content_download"]],
            "form_submits": counts[:, _T["form_submit"]],
            "email_clicks": counts[:, _T["email_click"]],
            "email_opens": counts[:, _T["email_open"]],
            "webinar_attended": counts[:, _T["webinar_attended"]] > 0,
            "chat": counts[:, _T["chat"]] > 0,
            "unsubscribed": counts[:, _T["email_unsubscribe"]] > 0,
            "hand_raiser": hand_raiser,
            "active_days": active_days,
            "days_since_last_activity": days_since,
        }
    )


def conversion_logit(observables: pd.DataFrame) -> np.ndarray:
    """The true log-odds of converting in (T, T + horizon] from the observables at T."""
    obs = observables
    b = BEHAVIOUR_COEF
    i = INTERACTION_COEF
    industry = _coef_table(INDUSTRY_COEF, INDUSTRIES)[obs["industry"].to_numpy()]
    size = _coef_table(COMPANY_SIZE_COEF, COMPANY_SIZES)[obs["company_size"].to_numpy()]
    seniority = _coef_table(SENIORITY_COEF, SENIORITIES)[obs["seniority"].to_numpy()]
    domain = _coef_table(DOMAIN_TYPE_COEF, DOMAIN_TYPES)[obs["domain_type"].to_numpy()]
    source = _coef_table(SOURCE_COEF, SOURCES)[obs["source"].to_numpy()]
    hand_raiser = obs["hand_raiser"].to_numpy(dtype=float)
    senior = np.isin(obs["seniority"], [SENIORITIES.index(s) for s in _SENIOR])
    mid_large = np.isin(obs["company_size"], [list(COMPANY_SIZES).index(s) for s in _MID_LARGE])
    personal = obs["domain_type"].to_numpy() == _PERSONAL
    pricing_viewer = obs["pricing_views"].to_numpy() > 0
    return (
        INTERCEPT
        + industry
        + size
        + seniority
        + domain
        + source
        + b["log1p_page_views"] * np.log1p(obs["page_views"])
        + b["log1p_pricing_views"] * np.log1p(obs["pricing_views"])
        + b["log1p_content_downloads"] * np.log1p(obs["content_downloads"])
        + b["log1p_form_submits"] * np.log1p(obs["form_submits"])
        + b["log1p_email_clicks"] * np.log1p(obs["email_clicks"])
        + b["log1p_email_opens"] * np.log1p(obs["email_opens"])
        + b["log1p_active_days"] * np.log1p(obs["active_days"])
        + b["log1p_careers_views"] * np.log1p(obs["careers_views"])
        + b["webinar_attended"] * obs["webinar_attended"]
        + b["chat"] * obs["chat"]
        + b["hand_raiser"] * hand_raiser
        + b["unsubscribed"] * obs["unsubscribed"]
        + b["days_since_last_activity"] * obs["days_since_last_activity"]
        + i["hand_raiser_x_senior"] * hand_raiser * senior
        + i["hand_raiser_x_personal_domain"] * hand_raiser * personal
        + i["pricing_viewer_x_mid_large_company"] * pricing_viewer * mid_large
    ).to_numpy(dtype=float)


def _converter_events(
    rng: np.random.Generator, converters: np.ndarray, *, as_of_offset: int, converted: np.ndarray
) -> _Events:
    """Buying-stage events between T and conversion for leads that convert after T."""
    n_events = rng.poisson(CONVERTER_EVENTS, size=len(converters))
    lead = np.repeat(converters.astype(np.int32), n_events)
    gap = converted[lead] - as_of_offset - 1  # conversion is at least one second after T
    offset = as_of_offset + 1 + (rng.random(len(lead)) * gap).astype(np.int64)
    types = np.array([_T[t] for t in CONVERTER_TYPES], dtype=np.int8)
    kind = types[rng.choice(len(types), size=len(lead), p=_weights(CONVERTER_TYPES))]
    return _Events(lead, offset, kind, _fixed_pages(rng, kind, CONVERTER_PAGES))


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


def _parse_start(start: str) -> pd.Timestamp:
    """The start moment in UTC; naive strings are UTC."""
    try:
        moment = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise InputError(f"generate.start: not a date or timestamp: {start!r}") from exc
    if pd.isna(moment):
        raise InputError(f"generate.start: not a date or timestamp: {start!r}")
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


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
    origin = _parse_start(start)
    rng = np.random.default_rng(seed)
    lifetime_days = float(observation_days + horizon_days + LIFETIME_EXTRA_DAYS)
    as_of = observation_days * SECONDS_PER_DAY
    data_end = days * SECONDS_PER_DAY

    leads = _draw_leads(
        rng,
        n_leads=n_leads,
        days=days,
        competitor_domains=competitor_domains,
        personal_domains=personal_domains,
    )
    events = _draw_base_events(rng, leads, lifetime_days=lifetime_days)
    events = _unsubscribe(rng, leads, events, lifetime_days=lifetime_days)

    observables = _observables_at_as_of(leads, events, as_of_offset=as_of)
    p_true = _sigmoid(conversion_logit(observables))

    # Early converters: mostly leads that raised a hand before T, converting after that.
    hand_raise = np.isin(events.kind, [_T[t] for t in HAND_RAISER_TYPES]) & (events.offset <= as_of)
    first_hand_raise = np.full(n_leads, as_of, dtype=np.int64)
    np.minimum.at(first_hand_raise, events.lead[hand_raise], events.offset[hand_raise])
    raised = observables["hand_raiser"].to_numpy()
    early_rate = np.where(raised, EARLY_CONVERSION_HAND_RAISER, EARLY_CONVERSION_OTHER)
    early = (rng.random(n_leads) < early_rate) & (leads["domain_type"] != _COMPETITOR_DOMAIN)
    early_from = np.where(raised, first_hand_raise, 0)
    converted = np.full(n_leads, np.iinfo(np.int64).max, dtype=np.int64)
    converted[early] = (early_from + rng.random(n_leads) * (as_of - early_from + 1)).astype(
        np.int64
    )[early]
    p_true[early] = np.nan

    # Open leads convert in (T, T + horizon] with probability p_true, uniformly in time.
    label = ~early & (rng.random(n_leads) < np.nan_to_num(p_true))
    delay = 1 + (rng.random(n_leads) * horizon_days * SECONDS_PER_DAY).astype(np.int64)
    converted[label] = as_of + delay[label]
    events = _concat(
        [
            events,
            _converter_events(rng, np.flatnonzero(label), as_of_offset=as_of, converted=converted),
        ]
    )
    # Converted leads mostly stop engaging with marketing; this never touches [0, T] of
    # open leads because they convert after T.
    after = events.offset > converted[events.lead]
    keep = ~after | (rng.random(len(events.lead), dtype=np.float32) < AFTER_CONVERSION_KEEP)
    events = _take(events, keep)

    created = leads["created"]
    occurred = created[events.lead] + events.offset
    events = _take(events, occurred <= data_end)
    occurred = occurred[occurred <= data_end]
    converted_abs = np.where(converted < np.iinfo(np.int64).max, created + converted, -1)
    outcome_leads = np.flatnonzero((converted_abs >= 0) & (converted_abs <= data_end))

    width = max(7, len(str(n_leads)))
    lead_ids = "L" + pd.Series(np.arange(1, n_leads + 1)).astype("str").str.zfill(width)
    return SyntheticExport(
        leads=_leads_frame(leads, lead_ids, origin, competitor_domains, personal_domains, rng),
        activities=pd.DataFrame(
            {
                "lead_id": pd.Categorical.from_codes(events.lead, categories=lead_ids),
                "occurred_at": _timestamps(origin, occurred),
                "activity_type": pd.Categorical.from_codes(events.kind, ACTIVITY_TYPES),
                "page": pd.Categorical.from_codes(events.page, _PATHS),
            }
        ),
        outcomes=pd.DataFrame(
            {
                "lead_id": lead_ids.iloc[outcome_leads].reset_index(drop=True),
                "converted_at": _timestamps(origin, converted_abs[outcome_leads]),
            }
        ),
        truth=pd.DataFrame(
            {
                "lead_id": lead_ids,
                "as_of": _timestamps(origin, created + as_of),
                "p_true": p_true,
                "profile": _strings(leads["profile"], PROFILES),  # latent, for analysis only
            }
        ),
    )


def _leads_frame(
    leads: dict[str, np.ndarray],
    lead_ids: pd.Series,
    origin: pd.Timestamp,
    competitor_domains: list[str],
    personal_domains: list[str],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The leads table: ids, creation times, contact details and attributes as text."""
    n = len(lead_ids)
    company_domains = _company_domains(int(leads["company"].max()) + 1)
    pools = [company_domains, personal_domains, STUDENT_DOMAINS, competitor_domains]
    offsets = np.cumsum([0, *(len(pool) for pool in pools)])[:-1]
    sizes = np.array([max(len(pool), 1) for pool in pools])
    domain_type = leads["domain_type"]
    within = np.where(
        domain_type == _BUSINESS,
        leads["company"],
        (rng.random(n) * sizes[domain_type]).astype(np.int64),
    )
    all_domains = [str(d) for pool in pools for d in pool]
    domain = _strings(offsets[domain_type] + within, all_domains)
    first = _strings(leads["first"], FIRST_NAMES)
    last = _strings(leads["last"], LAST_NAMES)
    titles = [title for group in SENIORITY_TITLES.values() for title in group]
    return pd.DataFrame(
        {
            "lead_id": lead_ids,
            "created_at": _timestamps(origin, leads["created"]),
            "email": first + "." + last + "@" + domain,
            "first_name": first.str.capitalize(),
            "last_name": last.str.capitalize(),
            "industry": _strings(leads["industry"], list(INDUSTRIES)),
            "company_size": _strings(leads["size"], list(COMPANY_SIZES)),
            "country": _strings(leads["country"], list(COUNTRIES)),
            "job_title": _strings(leads["title"], titles),
            "source": _strings(leads["source"], SOURCES),
        }
    )


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


def main(
    params: Annotated[Path, typer.Option(help="params.yaml path")] = Path("params.yaml"),
) -> None:
    """Write the synthetic export (when source.kind is synthetic) and its ground truth."""
    config = load_params(params)
    source = section(config, "source")
    if source.get("kind") != "synthetic":
        SKIPPED_MARKER.parent.mkdir(parents=True, exist_ok=True)
        SKIPPED_MARKER.write_text("")
        logger.info("source.kind is %r: nothing to generate", source.get("kind"))
        return
    generate = section(config, "generate")
    label = section(config, "label")
    features = section(config, "features")
    try:
        days = generate["days"]
        export = generate_export(
            n_leads=generate["n_leads"],
            start=str(generate["start"]),
            days=days,
            seed=generate["seed"],
            observation_days=label["observation_days"],
            horizon_days=label["horizon_days"],
            competitor_domains=list(features.get("competitor_domains") or []),
            personal_domains=list(features.get("personal_domains") or []),
        )
        truth_path = Path(generate["truth_path"])
        leads_path = source["leads"]
    except KeyError as exc:
        raise InputError(f"params.yaml is missing the key {exc.args[0]!r}") from exc
    if not leads_path:
        raise InputError("source.leads must name the file to write")
    write_table(export.leads, Path(leads_path))
    if source.get("activities"):
        write_table(export.activities, Path(source["activities"]))
    if source.get("outcomes"):
        write_table(export.outcomes, Path(source["outcomes"]))
    write_table(export.truth, truth_path)
    SKIPPED_MARKER.unlink(missing_ok=True)
    summary = export_summary(
        export,
        horizon_days=label["horizon_days"],
        data_end=_parse_start(str(generate["start"])) + pd.Timedelta(days=days),
    )
    logger.info(
        "generated %d leads, %d events, %d conversions, %d early converters, "
        "%d censored leads, eligible conversion rate %.1f%%",
        summary["leads"],
        summary["events"],
        summary["conversions"],
        summary["early_converters"],
        summary["censored_leads"],
        100 * summary["eligible_conversion_rate"],
    )
