"""The ground truth: the conversion probability as an explicit function of observables at T.

p_true = MAX_CONVERSION * sigmoid(logit), where every term of the logit is something the
exported tables show at the as-of moment T (attributes, and events with offset <= T).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.synthetic.sampling import Events, Leads, take_events
from pipelines.synthetic.world import (
    ACTIVITY_CODE,
    ACTIVITY_TYPES,
    COMPANY_SIZES,
    DOMAIN_TYPES,
    FIRST_PATH_OF_CATEGORY,
    HAND_RAISER_TYPES,
    INDUSTRIES,
    PAGE_CATEGORY_CODE,
    SECONDS_PER_DAY,
    SENIORITIES,
    SOURCES,
)

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


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def coef_table(coefficients: dict, names: tuple[str, ...] | dict[str, float]) -> np.ndarray:
    """Coefficients in the order of `names`; the missing-value (None) one last, for code -1."""
    return np.array([coefficients[name] for name in names] + [coefficients.get(None, 0.0)])


def fit_multiplier(size: np.ndarray, seniority: np.ndarray, domain_type: np.ndarray) -> np.ndarray:
    """The FIT_MULTIPLIER product per lead (codes; -1 is a missing company size)."""
    multiplier = FIT_MULTIPLIER
    return (
        coef_table(multiplier["company_size"], COMPANY_SIZES)[size]
        * coef_table(multiplier["seniority"], SENIORITIES)[seniority]
        * coef_table(multiplier["domain_type"], DOMAIN_TYPES)[domain_type]
    )


def observables_at_as_of(leads: Leads, events: Events, *, as_of_offset: int) -> pd.DataFrame:
    """The observables the truth uses, per lead, from events with offset <= as_of_offset."""
    n = len(leads)
    pre = take_events(events, events.offset <= as_of_offset)
    n_types = len(ACTIVITY_TYPES)
    counts = np.bincount(
        pre.lead.astype(np.int64) * n_types + pre.kind, minlength=n * n_types
    ).reshape(n, n_types)
    category = np.full(len(pre.page), -1, dtype=np.int16)
    is_view = pre.page >= 0
    category[is_view] = np.searchsorted(FIRST_PATH_OF_CATEGORY, pre.page[is_view], side="right") - 1
    pricing_views = np.bincount(pre.lead[category == PAGE_CATEGORY_CODE["pricing"]], minlength=n)
    product_views = np.bincount(pre.lead[category == PAGE_CATEGORY_CODE["product"]], minlength=n)
    careers_views = np.bincount(pre.lead[category == PAGE_CATEGORY_CODE["careers"]], minlength=n)
    # Distinct calendar days (UTC) with any activity.
    created = leads.created[pre.lead]
    day = (created + pre.offset) // SECONDS_PER_DAY - created // SECONDS_PER_DAY
    max_days = int(as_of_offset // SECONDS_PER_DAY) + 2
    seen = np.zeros(n * max_days, dtype=bool)  # a lead-by-day grid is cheaper than unique()
    seen[pre.lead.astype(np.int64) * max_days + day] = True
    active_days = seen.reshape(n, max_days).sum(axis=1)
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, pre.lead, pre.offset)
    # No activity before T counts as the whole observation window.
    days_since = (as_of_offset - np.maximum(last, 0)) / SECONDS_PER_DAY
    is_raise = np.isin(pre.kind, [ACTIVITY_CODE[t] for t in HAND_RAISER_TYPES])
    first_raise = np.full(n, as_of_offset + 1, dtype=np.int64)
    np.minimum.at(first_raise, pre.lead[is_raise], pre.offset[is_raise])
    hand_raiser = first_raise <= as_of_offset
    days_since_raise = np.where(hand_raiser, (as_of_offset - first_raise) / SECONDS_PER_DAY, np.nan)
    return pd.DataFrame(
        {
            "industry": leads.industry,
            "company_size": leads.company_size,
            "seniority": leads.seniority,
            "domain_type": leads.domain_type,
            "source": leads.source,
            "page_views": counts[:, ACTIVITY_CODE["page_view"]],
            "product_views": product_views,
            "pricing_views": pricing_views,
            "careers_views": careers_views,
            "content_downloads": counts[:, ACTIVITY_CODE["content_download"]],
            "form_submits": counts[:, ACTIVITY_CODE["form_submit"]],
            "email_clicks": counts[:, ACTIVITY_CODE["email_click"]],
            "email_opens": counts[:, ACTIVITY_CODE["email_open"]],
            "webinar_attended": counts[:, ACTIVITY_CODE["webinar_attended"]] > 0,
            "chat": counts[:, ACTIVITY_CODE["chat"]] > 0,
            "unsubscribed": counts[:, ACTIVITY_CODE["email_unsubscribe"]] > 0,
            "trial_requests": counts[:, ACTIVITY_CODE["trial_request"]],
            "demo_requests": counts[:, ACTIVITY_CODE["demo_request"]],
            "contact_sales_requests": counts[:, ACTIVITY_CODE["contact_sales"]],
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
        coef_table(INDUSTRY_COEF, INDUSTRIES)[obs["industry"].to_numpy()]
        + coef_table(COMPANY_SIZE_COEF, COMPANY_SIZES)[size_code]
        + coef_table(SENIORITY_COEF, SENIORITIES)[seniority_code]
        + coef_table(DOMAIN_TYPE_COEF, DOMAIN_TYPES)[domain_code]
        + coef_table(SOURCE_COEF, SOURCES)[obs["source"].to_numpy()]
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
    multiplier = fit_multiplier(size_code, seniority_code, domain_code)
    return INTERCEPT + fit + negative + multiplier * (intent + hand_raise * speed)


def conversion_probability(observables: pd.DataFrame) -> np.ndarray:
    """The true probability of converting in (T, T + horizon] from the observables at T."""
    return MAX_CONVERSION * sigmoid(conversion_logit(observables))
