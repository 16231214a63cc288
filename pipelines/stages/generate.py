"""The `generate` stage: a synthetic CRM/marketing export with a checkable ground truth.

Each lead has a latent profile (buyer, researcher, job seeker, student, competitor), a latent
fit (from firmographics) and a latent intent. They drive an activity stream that decays after
creation, with intent bursts. At the as-of moment T = created_at + observation_days the
conversion probability `p_true` is an explicit function of what is observable at T (attributes
and events with occurred_at <= T): a logistic function capped at MAX_CONVERSION, defined by the
named constants below; the label is drawn from it. Events after T depend on the outcome, so a
feature builder that reads the future is detectably wrong. Everything after the data end
(start + days) is dropped.

The world reproduces what classic points templates (points per activity, per attribute, a
flat bonus per hand-raise) are known to get wrong in real B2B funnels:

- Activity volume is a weak signal. Browsing volume is mostly a personal habit
  (`ENGAGEMENT_STYLE_SD`), not intent. About 13% of leads are researchers (analysts,
  consultants, existing customers' staff) who read the blog and docs, download content,
  register for webinars and open e-mails heavily, yet rarely buy. E-mail opens are pure
  noise: privacy proxies (Apple Mail Privacy Protection and the like) "open" every e-mail.
  In the truth, page views, downloads and active days enter as log1p with small
  coefficients and opens with zero, so piling up low-intent activity does not make a buyer.
  Buying signals are pricing views (mainly whether there is one), chat, e-mail clicks and
  hand-raises.
- Hand-raisers are heterogeneous. Small shops and private e-mail addresses mostly start free
  trials, and some are tourists who sign up out of curiosity whatever their intent
  (`TOURIST_TRIAL_RATE`); mid-size and large companies ask for demos and for sales. A demo
  or contact-sales request weighs far more than a trial (`HAND_RAISE_COEF`). Speed to lead:
  the weight decays with `days_since_first_hand_raise` towards `SPEED_FLOOR`, so a request
  from the last couple of days converts far better than one 10+ days old.
- Fit multiplies intent. Every intent term (hand-raises included) is scaled by a fit
  multiplier from company size, seniority and e-mail domain (`FIT_MULTIPLIER`), so fit without
  intent is worth little and the same demo request means much more from a director at a
  large company than from a one-person shop on a gmail address. A sum of points can't
  express this.

Overall about 9% of the eligible leads convert. Every term of the truth is something the
feature table can express (counts per type and page category, windows, hand-raise recency,
days since last activity, firmographics, domain flags), so a model can learn it.

`truth.p_true` is NaN for early converters (converted at or before T). For leads whose T
falls after the data end it is computed on the uncensored stream, so it cannot be checked
against the export; those leads are censored anyway.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import numpy as np
import pandas as pd
import typer

from features.build import STANDARD_ACTIVITY_TYPES
from pipelines.config import load_params, section
from pipelines.errors import InputError
from pipelines.io import utc_moment, write_table

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
SKIPPED_MARKER = Path("data/raw/synthetic/SKIPPED")
TRUTH_DEFAULT = "data/synthetic_truth/truth.parquet"

# ---------------------------------------------------------------------------------------
# Vocabularies
# ---------------------------------------------------------------------------------------
# The canonical activity types, in the feature builder's order (one list for both).
ACTIVITY_TYPES = STANDARD_ACTIVITY_TYPES
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

PROFILES = ("buyer", "researcher", "job_seeker", "student", "competitor")
_BUYER, _RESEARCHER, _JOB_SEEKER, _STUDENT, _COMPETITOR = range(5)
# Researchers: analysts, consultants, existing customers' staff, content consumers.
PROFILE_SHARES = {
    "buyer": 0.73,
    "researcher": 0.13,
    "job_seeker": 0.06,
    "student": 0.05,
    "competitor": 0.03,
}

DOMAIN_TYPES = ("business", "personal", "student", "competitor")
_BUSINESS, _PERSONAL, _STUDENT_DOMAIN, _COMPETITOR_DOMAIN = range(4)
# P(domain type | profile); rows follow PROFILES, columns DOMAIN_TYPES.
DOMAIN_TYPE_GIVEN_PROFILE = np.array(
    [
        [0.80, 0.20, 0.00, 0.00],
        [0.70, 0.30, 0.00, 0.00],
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
        [0.35, 0.05, 0.12, 0.05, 0.20, 0.15, 0.06, 0.02],
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
        [0.02, 0.02, 0.08, 0.28, 0.60, 0.00],
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
# The ground truth: p_true = MAX_CONVERSION * sigmoid(logit) of observables at T (see
# `conversion_probability` and `conversion_logit`):
#   logit = INTERCEPT + fit (additive, small) + negatives
#           + fit_multiplier * (intent + hand_raise_weight * speed_to_lead)
# ---------------------------------------------------------------------------------------
INTERCEPT = -5.0
# Even a perfect lead is sometimes lost (budget freeze, a competitor, no decision).
MAX_CONVERSION = 0.8
# Additive fit: who the lead is matters little on its own (no intent, no deal).
INDUSTRY_COEF = {
    "software": 0.30,
    "financial_services": 0.20,
    "professional_services": 0.00,
    "healthcare": 0.00,
    "manufacturing": 0.00,
    "retail": 0.00,
    "media": 0.00,
    "education": -0.30,
    "government": -0.30,
    "other": 0.00,
    None: 0.00,  # missing
}
COMPANY_SIZE_COEF = {
    "1-10": -0.30,
    "11-50": 0.00,
    "51-200": 0.10,
    "201-1000": 0.15,
    "1000+": 0.10,
    None: -0.10,
}
SENIORITY_COEF = {
    "executive": 0.10,
    "vp": 0.15,
    "director": 0.15,
    "manager": 0.05,
    "individual": 0.00,
    "student": -1.00,
    "unknown": -0.10,
}
DOMAIN_TYPE_COEF = {"business": 0.00, "personal": -0.40, "student": -1.00, "competitor": -10.0}
SOURCE_COEF = {
    "organic_search": 0.00,
    "paid_search": 0.00,
    "social": -0.20,
    "referral": 0.20,
    "email": 0.00,
    "event": 0.00,
    "direct": 0.00,
    "partner": 0.20,
}
# Fit x intent: every intent signal (hand-raises included) is scaled by the product of these
# multipliers, so the same demo request means far more from a VP at a 500-person company
# than from a one-person shop on a gmail address.
FIT_MULTIPLIER = {
    "company_size": {
        "1-10": 0.40,
        "11-50": 0.80,
        "51-200": 1.00,
        "201-1000": 1.20,
        "1000+": 1.20,
        None: 0.80,
    },
    "seniority": {
        "executive": 1.30,
        "vp": 1.30,
        "director": 1.30,
        "manager": 1.00,
        "individual": 0.80,
        "student": 0.50,
        "unknown": 0.80,
    },
    # A competitor's "intent" is research on us, not buying: it counts for nothing.
    "domain_type": {"business": 1.00, "personal": 0.60, "student": 0.50, "competitor": 0.00},
}
# Intent before or at T; "log1p_*" terms are log(1 + count): they saturate, and the
# coefficients of low-intent volume (page views, downloads, opens) are small or zero.
INTENT_COEF = {
    "log1p_page_views": 0.03,
    "log1p_product_views": 0.20,
    "log1p_pricing_views": 0.65,
    "pricing_viewer": 2.00,  # any pricing view
    "log1p_content_downloads": 0.03,
    "log1p_form_submits": 0.05,
    "log1p_email_clicks": 0.50,
    "log1p_email_opens": 0.00,  # noise: privacy proxies open every e-mail
    "log1p_active_days": 0.05,
    "webinar_attended": 0.05,  # any
    "chat": 1.30,  # any
}
# Hand-raise weight: the strongest type present before T (a demo outweighs a trial).
HAND_RAISE_COEF = {"trial_request": 4.00, "demo_request": 9.50, "contact_sales": 10.00}
# Speed to lead: the hand-raise weight is multiplied by
# SPEED_FLOOR + (1 - SPEED_FLOOR) * exp(-days_since_first_hand_raise / SPEED_DAYS).
SPEED_FLOOR = 0.30
SPEED_DAYS = 5.0
NEGATIVE_COEF = {
    "log1p_careers_views": -0.50,
    "unsubscribed": -0.70,
    "days_since_last_activity": -0.06,  # per day; observation_days when no activity
}

# ---------------------------------------------------------------------------------------
# Behaviour (latent) parameters
# ---------------------------------------------------------------------------------------
MEAN_BASE_EVENTS = 26.0  # expected base events over a lead's lifetime (before bursts)
LIFETIME_EXTRA_DAYS = 60  # events run to T + horizon + this, then stop
ENGAGEMENT_STYLE_SD = 0.8  # log-sd of a lead's activity volume that says nothing of intent
DECAY_SHARE = 0.6  # share of base events in the decaying (post-creation) component
DECAY_DAYS = (4.0, 14.0)  # per-lead decay time constant range
# Per profile (rows/keys follow PROFILES): activity volume, intent shift, burst multiplier.
PROFILE_ACTIVITY = {
    "buyer": 1.0,
    "researcher": 4.0,
    "job_seeker": 0.7,
    "student": 0.8,
    "competitor": 0.9,
}
RESEARCHER_CONSULTANT_SHARE = 0.35  # researchers working in professional services
PROFILE_INTENT = np.array([0.0, -1.2, 0.0, 0.0, 0.0])
PROFILE_BURSTS = np.array([1.0, 0.3, 0.0, 1.0, 1.0])
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
        [0.56, 0.04, 0.05, 0.025, 0.22, 0.07, 0.015],
        [0.50, 0.04, 0.12, 0.060, 0.24, 0.035, 0.005],
        [0.80, 0.05, 0.02, 0.005, 0.10, 0.02, 0.005],
        [0.60, 0.06, 0.12, 0.030, 0.15, 0.04, 0.005],
        [0.75, 0.03, 0.08, 0.040, 0.07, 0.02, 0.010],
    ]
)
HAND_RAISE_DAYS = 25.0  # mean days from creation to a (non-tourist) hand-raise
HAND_RAISE_RATE = np.array([0.16, 0.06, 0.002, 0.017, 0.035])  # per lifetime, by profile
# Which hand-raise a lead makes depends on its segment (rows: SEGMENTS; columns:
# HAND_RAISER_TYPES): small shops and private addresses try the product, larger
# companies ask for a demo or for sales.
SEGMENTS = ("small", "mid", "large")  # small: 1-10 or a personal / student address
HAND_RAISER_SPLIT = np.array(
    [
        [0.70, 0.22, 0.08],
        [0.40, 0.42, 0.18],
        [0.20, 0.50, 0.30],
    ]
)
# Tourists: free-trial sign-ups out of curiosity, independent of intent, in the small
# segment; by profile. They happen soon after creation and come with a few docs views.
TOURIST_TRIAL_RATE = np.array([0.06, 0.04, 0.02, 0.12, 0.0])
TOURIST_DAYS = 7.0  # mean days from creation to the tourist's sign-up
TOURIST_FOLLOW_UP_VIEWS = 2.0  # expected getting-started page views after it
# Baseline page mix without pricing (columns: PAGE_CATEGORIES minus pricing), by profile.
PAGE_MIX = np.array(
    [
        [0.20, 0.25, 0.27, 0.11, 0.03, 0.14],
        [0.06, 0.08, 0.50, 0.32, 0.01, 0.03],
        [0.15, 0.08, 0.10, 0.02, 0.55, 0.10],
        [0.20, 0.15, 0.35, 0.20, 0.05, 0.05],
        [0.10, 0.45, 0.10, 0.28, 0.02, 0.05],
    ]
)
PRICING_SHARE = np.array([0.08, 0.005, 0.02, 0.04, 0.30])  # baseline share of page views
BURST_RATE = 0.35  # expected intent bursts per lead at average intent (none for job seekers)
BURST_SIZE = 5.0  # expected extra events per burst
BURST_TYPES = {  # "hand_raise": a hand-raiser type drawn by the lead's segment
    "page_view": 0.56,
    "content_download": 0.08,
    "webinar_registered": 0.05,
    "email_click": 0.10,
    "email_open": 0.10,
    "form_submit": 0.04,
    "chat": 0.02,
    "hand_raise": 0.05,
}
BURST_PAGES = {"pricing": 0.40, "product": 0.40, "docs": 0.20}
# Privacy proxies (e.g. Apple Mail Privacy Protection) "open" every marketing e-mail.
PRIVACY_PROXY_SHARE = np.array([0.25, 0.45, 0.30, 0.20])  # by DOMAIN_TYPES
PRIVACY_PROXY_OPENS_PER_DAY = 0.15
WEBINAR_ATTENDANCE_SHIFT = np.array([0.0, 0.2, 0.0, 0.0, 0.0])  # by profile
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
UNSUBSCRIBE_RATE = np.array([0.07, 0.05, 0.10, 0.08, 0.03])  # by profile
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
    consultant = (profile == _RESEARCHER) & (rng.random(n_leads) < RESEARCHER_CONSULTANT_SHARE)
    industry[consultant] = list(INDUSTRIES).index("professional_services")

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
        # (competitors' behaviour follows their firmographics like everyone's)
        + np.log(
            _fit_multiplier(
                size, seniority, np.where(domain_type == _COMPETITOR_DOMAIN, _BUSINESS, domain_type)
            )
        )
        + rng.normal(0.0, 0.4, n_leads)
    )
    fit_z = (fit - fit.mean()) / (fit.std() or 1.0)
    source_intent = np.array([0.0, 0.1, -0.2, 0.3, 0.0, 0.2, 0.1, 0.2])
    intent_z = rng.normal(0.0, 1.0, n_leads) + source_intent[source] + PROFILE_INTENT[profile]
    large = np.isin(size, [list(COMPANY_SIZES).index(s) for s in ("201-1000", "1000+")])
    small = (size == list(COMPANY_SIZES).index("1-10")) | np.isin(
        domain_type, [_PERSONAL, _STUDENT_DOMAIN]
    )
    segment = np.where(small, 0, np.where(large, 2, 1)).astype(np.int8)

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
        "segment": segment,
    }


def _fit_multiplier(size: np.ndarray, seniority: np.ndarray, domain_type: np.ndarray) -> np.ndarray:
    """The FIT_MULTIPLIER product per lead (codes; -1 is a missing company size)."""
    multiplier = FIT_MULTIPLIER
    return (
        _coef_table(multiplier["company_size"], COMPANY_SIZES)[size]
        * _coef_table(multiplier["seniority"], SENIORITIES)[seniority]
        * _coef_table(multiplier["domain_type"], DOMAIN_TYPES)[domain_type]
    )


def _draw_base_events(
    rng: np.random.Generator, leads: dict[str, np.ndarray], *, lifetime_days: float
) -> _Events:
    """The decaying base stream plus bursts, tourists, proxy opens and webinar attendance."""
    n = len(leads["profile"])
    profile, fit_z, intent_z = leads["profile"], leads["fit_z"], leads["intent_z"]
    segment = leads["segment"]
    activity = np.array(list(PROFILE_ACTIVITY.values()))[profile]
    # Volume is mostly a personal habit (engagement style), only weakly tied to intent.
    style = rng.normal(0.0, ENGAGEMENT_STYLE_SD, n)
    volume = np.exp(0.15 * intent_z + 0.1 * fit_z + style)
    total = MEAN_BASE_EVENTS * activity * volume / volume.mean()
    # Hand-raises follow intent and fit, not the lead's browsing volume.
    hand_raise = HAND_RAISE_RATE[profile] * np.exp(0.9 * intent_z + 0.5 * fit_z)
    expected = np.column_stack(
        [total[:, None] * BASE_MIX[profile], hand_raise[:, None] * HAND_RAISER_SPLIT[segment]]
    )
    kinds = np.array([_T[t] for t in (*BASE_TYPES, *HAND_RAISER_TYPES)], dtype=np.int8)
    counts = rng.poisson(expected)
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
    # Hand-raises come after some research: exponential from creation, wrapped into the
    # lifetime, so at T some are fresh and some are stale.
    raised = kind >= _T[HAND_RAISER_TYPES[0]]
    days_after[raised] = np.fmod(
        rng.exponential(HAND_RAISE_DAYS, size=int(raised.sum())), lifetime_days
    )

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
    burst_rate = BURST_RATE * np.exp(0.8 * intent_z - 0.32) * PROFILE_BURSTS[profile]
    n_bursts = rng.poisson(burst_rate)
    burst_lead = np.repeat(np.arange(n, dtype=np.int32), n_bursts)
    burst_at = rng.uniform(0.0, lifetime_days, size=len(burst_lead))
    burst_size = rng.poisson(BURST_SIZE, size=len(burst_lead))
    b_lead = np.repeat(burst_lead, burst_size)
    b_days = np.minimum(
        np.repeat(burst_at, burst_size) + rng.exponential(1.0, size=len(b_lead)), lifetime_days
    )
    b_types = np.array([_T.get(t, -1) for t in BURST_TYPES], dtype=np.int8)
    b_kind = b_types[rng.choice(len(b_types), size=len(b_lead), p=_weights(BURST_TYPES))]
    raise_hand = b_kind < 0
    hand_raiser_codes = np.array([_T[t] for t in HAND_RAISER_TYPES], dtype=np.int8)
    b_kind[raise_hand] = hand_raiser_codes[
        _choice_by_group(rng, segment[b_lead[raise_hand]], HAND_RAISER_SPLIT)
    ]
    burst = _Events(b_lead, _seconds(b_days), b_kind, _fixed_pages(rng, b_kind, BURST_PAGES))

    # Tourists: a curious free-trial sign-up soon after creation, then a look at the docs.
    tourist = (segment == 0) & (rng.random(n) < TOURIST_TRIAL_RATE[profile])
    t_lead = np.flatnonzero(tourist).astype(np.int32)
    t_days = np.minimum(rng.exponential(TOURIST_DAYS, size=len(t_lead)), lifetime_days)
    n_views = rng.poisson(TOURIST_FOLLOW_UP_VIEWS, size=len(t_lead))
    v_lead = np.repeat(t_lead, n_views)
    v_days = np.minimum(
        np.repeat(t_days, n_views) + rng.exponential(1.0, size=len(v_lead)), lifetime_days
    )
    docs = np.full(len(v_lead), _P["docs"])
    tourists = _Events(
        np.concatenate([t_lead, v_lead]),
        _seconds(np.concatenate([t_days, v_days])),
        np.concatenate(
            [
                np.full(len(t_lead), _T["trial_request"], dtype=np.int8),
                np.full(len(v_lead), _T["page_view"], dtype=np.int8),
            ]
        ),
        np.concatenate(
            [np.full(len(t_lead), -1, dtype=np.int16), _page_codes(rng, docs, docs >= 0)]
        ),
    )

    # Privacy proxies open every marketing e-mail: opens that say nothing about intent.
    proxied = rng.random(n) < PRIVACY_PROXY_SHARE[leads["domain_type"]]
    n_opens = rng.poisson(PRIVACY_PROXY_OPENS_PER_DAY * lifetime_days * proxied)
    o_lead = np.repeat(np.arange(n, dtype=np.int32), n_opens)
    opens = _Events(
        o_lead,
        _seconds(rng.uniform(0.0, lifetime_days, size=len(o_lead))),
        np.full(len(o_lead), _T["email_open"], dtype=np.int8),
        np.full(len(o_lead), -1, dtype=np.int16),
    )

    events = _concat([base, burst, tourists, opens])
    # Some registrants attend, one to ten days later.
    registered = events.kind == _T["webinar_registered"]
    attend_p = np.clip(0.4 + 0.12 * intent_z + WEBINAR_ATTENDANCE_SHIFT[profile], 0.1, 0.8)
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
    product_views = np.bincount(pre.lead[category == _P["product"]], minlength=n)
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
    is_raise = np.isin(pre.kind, [_T[t] for t in HAND_RAISER_TYPES])
    first_raise = np.full(n, as_of_offset + 1, dtype=np.int64)
    np.minimum.at(first_raise, pre.lead[is_raise], pre.offset[is_raise])
    hand_raiser = first_raise <= as_of_offset
    days_since_raise = np.where(hand_raiser, (as_of_offset - first_raise) / SECONDS_PER_DAY, np.nan)
    return pd.DataFrame(
        {
            "industry": leads["industry"],
            "company_size": leads["size"],
            "seniority": leads["seniority"],
            "domain_type": leads["domain_type"],
            "source": leads["source"],
            "page_views": counts[:, _T["page_view"]],
            "product_views": product_views,
            "pricing_views": pricing_views,
            "careers_views": careers_views,
            "content_downloads": counts[:, _T["content_download"]],
            "form_submits": counts[:, _T["form_submit"]],
            "email_clicks": counts[:, _T["email_click"]],
            "email_opens": counts[:, _T["email_open"]],
            "webinar_attended": counts[:, _T["webinar_attended"]] > 0,
            "chat": counts[:, _T["chat"]] > 0,
            "unsubscribed": counts[:, _T["email_unsubscribe"]] > 0,
            "trial_requests": counts[:, _T["trial_request"]],
            "demo_requests": counts[:, _T["demo_request"]],
            "contact_sales_requests": counts[:, _T["contact_sales"]],
            "hand_raiser": hand_raiser,
            "days_since_first_hand_raise": days_since_raise,  # NaN when no hand-raise
            "active_days": active_days,
            "days_since_last_activity": days_since,
        }
    )


def conversion_logit(observables: pd.DataFrame) -> np.ndarray:
    """The true log-odds of converting in (T, T + horizon] from the observables at T."""
    obs = observables
    c = INTENT_COEF
    size_code = obs["company_size"].to_numpy()
    seniority_code = obs["seniority"].to_numpy()
    domain_code = obs["domain_type"].to_numpy()
    fit = (
        _coef_table(INDUSTRY_COEF, INDUSTRIES)[obs["industry"].to_numpy()]
        + _coef_table(COMPANY_SIZE_COEF, COMPANY_SIZES)[size_code]
        + _coef_table(SENIORITY_COEF, SENIORITIES)[seniority_code]
        + _coef_table(DOMAIN_TYPE_COEF, DOMAIN_TYPES)[domain_code]
        + _coef_table(SOURCE_COEF, SOURCES)[obs["source"].to_numpy()]
    )

    def log1p(column: str) -> np.ndarray:
        return np.log1p(obs[column].to_numpy(dtype=float))

    intent = (
        c["log1p_page_views"] * log1p("page_views")
        + c["log1p_product_views"] * log1p("product_views")
        + c["log1p_pricing_views"] * log1p("pricing_views")
        + c["log1p_content_downloads"] * log1p("content_downloads")
        + c["log1p_form_submits"] * log1p("form_submits")
        + c["log1p_email_clicks"] * log1p("email_clicks")
        + c["log1p_email_opens"] * log1p("email_opens")
        + c["log1p_active_days"] * log1p("active_days")
        + c["pricing_viewer"] * (obs["pricing_views"].to_numpy() > 0)
        + c["webinar_attended"] * obs["webinar_attended"].to_numpy(dtype=float)
        + c["chat"] * obs["chat"].to_numpy(dtype=float)
    )
    h = HAND_RAISE_COEF
    hand_raise = np.maximum.reduce(
        [
            h["trial_request"] * (obs["trial_requests"].to_numpy() > 0),
            h["demo_request"] * (obs["demo_requests"].to_numpy() > 0),
            h["contact_sales"] * (obs["contact_sales_requests"].to_numpy() > 0),
        ]
    )
    days_since_raise = np.nan_to_num(obs["days_since_first_hand_raise"].to_numpy(dtype=float))
    speed = SPEED_FLOOR + (1.0 - SPEED_FLOOR) * np.exp(-days_since_raise / SPEED_DAYS)
    negative = (
        NEGATIVE_COEF["log1p_careers_views"] * log1p("careers_views")
        + NEGATIVE_COEF["unsubscribed"] * obs["unsubscribed"].to_numpy(dtype=float)
        + NEGATIVE_COEF["days_since_last_activity"]
        * obs["days_since_last_activity"].to_numpy(dtype=float)
    )
    multiplier = _fit_multiplier(size_code, seniority_code, domain_code)
    return INTERCEPT + fit + negative + multiplier * (intent + hand_raise * speed)


def conversion_probability(observables: pd.DataFrame) -> np.ndarray:
    """The true probability of converting in (T, T + horizon] from the observables at T."""
    return MAX_CONVERSION * _sigmoid(conversion_logit(observables))


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
    origin = utc_moment(start, what="generate.start")
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
    p_true = conversion_probability(observables)

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


def main(
    params: Annotated[Path, typer.Option(help="params.yaml path")] = Path("params.yaml"),
) -> None:
    """Write the synthetic export (when source.kind is synthetic) and its ground truth."""
    config = load_params(params)
    source = section(config, "source")
    if source.get("kind") != "synthetic":
        # DVC needs every declared output to exist, so both folders get a marker
        truth_dir = Path((config.get("generate") or {}).get("truth_path", TRUTH_DEFAULT)).parent
        for marker in (SKIPPED_MARKER, truth_dir / "SKIPPED"):
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("")
        logger.info("source.kind is %r: nothing to generate", source.get("kind"))
        return
    generate = section(config, "generate")
    label = section(config, "label")
    export = export_from_params(config)
    try:
        days = generate["days"]
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
        data_end=utc_moment(str(generate["start"]), what="generate.start")
        + pd.Timedelta(days=days),
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
