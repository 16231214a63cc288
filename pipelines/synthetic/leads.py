"""Drawing leads: profile, e-mail domain type, firmographics, role, source and latents."""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.sampling import Leads, choice_by_group, weights
from pipelines.synthetic.world import (
    BUSINESS_DOMAIN,
    COMPANY_SIZE_COEF,
    COMPANY_SIZES,
    COMPETITOR,
    COMPETITOR_DOMAIN,
    COMPETITOR_SIZES,
    COUNTRIES,
    DOMAIN_TYPE_GIVEN_PROFILE,
    DOMAIN_TYPES,
    FIRST_NAMES,
    FIT_MULTIPLIER,
    FIT_NOISE_SD,
    INDUSTRIES,
    INDUSTRY_COEF,
    LARGE_SEGMENT,
    LARGE_SIZES,
    LAST_NAMES,
    LEADS_PER_COMPANY,
    MID_SEGMENT,
    MIN_COMPANIES,
    MISSING_SHARE,
    PERSONAL_DOMAIN,
    PROFILE_INTENT,
    PROFILE_SHARES,
    PROFILES,
    RESEARCHER,
    RESEARCHER_CONSULTANT_SHARE,
    SECONDS_PER_DAY,
    SENIORITIES,
    SENIORITY_COEF,
    SENIORITY_GIVEN_PROFILE,
    SENIORITY_TITLES,
    SMALL_SEGMENT,
    SMALL_SIZE,
    SOURCE_GIVEN_PROFILE,
    SOURCE_INTENT,
    STUDENT,
    STUDENT_DOMAIN,
    STUDENT_EDUCATION_SHARE,
    STUDENT_LARGE_ORG_SHARE,
    UNKNOWN_SENIORITY,
)


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


def draw_leads(
    rng: np.random.Generator,
    *,
    n_leads: int,
    days: int,
    competitor_domains: list[str],
    personal_domains: list[str],
) -> Leads:
    """Lead attributes as code arrays, plus the latent profile, fit and intent."""
    profile, domain_type = _draw_profiles(
        rng,
        n_leads=n_leads,
        with_competitors=bool(competitor_domains),
        with_personal_domains=bool(personal_domains),
    )
    company, industry, company_size, country = _draw_firmographics(rng, profile=profile)
    seniority = choice_by_group(rng, profile, SENIORITY_GIVEN_PROFILE)
    title = _draw_titles(rng, seniority=seniority)
    source = choice_by_group(rng, profile, SOURCE_GIVEN_PROFILE)
    # Blanks (code -1) as a CRM export has them; a missing job title is an unknown seniority.
    missing = {name: rng.random(n_leads) < share for name, share in MISSING_SHARE.items()}
    industry[missing["industry"]] = -1
    company_size[missing["company_size"]] = -1
    country[missing["country"]] = -1
    title[missing["job_title"]] = -1
    seniority = np.where(missing["job_title"], UNKNOWN_SENIORITY, seniority)
    fit_z, intent_z = _draw_latents(
        rng,
        profile=profile,
        domain_type=domain_type,
        industry=industry,
        company_size=company_size,
        seniority=seniority,
        source=source,
    )
    created = np.sort(rng.integers(0, days * SECONDS_PER_DAY, size=n_leads))
    first_name = rng.integers(0, len(FIRST_NAMES), size=n_leads)
    last_name = rng.integers(0, len(LAST_NAMES), size=n_leads)
    return Leads(
        created=created,
        profile=profile,
        domain_type=domain_type,
        company=company,
        industry=industry,
        company_size=company_size,
        country=country,
        seniority=seniority.astype(np.int8),
        title=title,
        source=source,
        first_name=first_name,
        last_name=last_name,
        fit_z=fit_z,
        intent_z=intent_z,
        segment=_segments(company_size=company_size, domain_type=domain_type),
    )


def _draw_profiles(
    rng: np.random.Generator, *, n_leads: int, with_competitors: bool, with_personal_domains: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Latent profile and e-mail domain type codes; a type without domains is not drawn."""
    shares = np.array(list(PROFILE_SHARES.values()))
    if not with_competitors:
        shares[COMPETITOR] = 0.0
    profile = rng.choice(len(PROFILES), size=n_leads, p=shares / shares.sum()).astype(np.int8)
    domain_table = DOMAIN_TYPE_GIVEN_PROFILE.copy()
    if not with_personal_domains:
        domain_table[:, BUSINESS_DOMAIN] += domain_table[:, PERSONAL_DOMAIN]
        domain_table[:, PERSONAL_DOMAIN] = 0.0
        domain_table[STUDENT] = [0.0, 0.0, 1.0, 0.0]
    domain_type = choice_by_group(rng, profile, domain_table).astype(np.int8)
    return profile, domain_type


def _draw_firmographics(
    rng: np.random.Generator, *, profile: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Company index, industry, size and country codes: a company's, except where the
    profile overrides them (students, competitors, consultants)."""
    n_leads = len(profile)
    n_companies = max(MIN_COMPANIES, n_leads // LEADS_PER_COMPANY)
    # Squaring the uniform draw makes a few (low-index) companies send many leads.
    company = (n_companies * rng.random(n_leads) ** 2).astype(np.int64)
    company_industry = rng.choice(len(INDUSTRIES), size=n_companies, p=weights(INDUSTRIES))
    company_size = rng.choice(len(COMPANY_SIZES), size=n_companies, p=weights(COMPANY_SIZES))
    company_country = rng.choice(len(COUNTRIES), size=n_companies, p=weights(COUNTRIES))
    industry = company_industry[company].astype(np.int16)
    size = company_size[company].astype(np.int16)
    country = company_country[company].astype(np.int16)
    industries, sizes = list(INDUSTRIES), list(COMPANY_SIZES)
    student = profile == STUDENT
    industry[student] = np.where(
        rng.random(student.sum()) < STUDENT_EDUCATION_SHARE, industries.index("education"), -1
    )
    size[student] = np.where(
        rng.random(student.sum()) < STUDENT_LARGE_ORG_SHARE, sizes.index("1000+"), -1
    )
    competitor = profile == COMPETITOR
    industry[competitor] = industries.index("software")
    competitor_sizes = [sizes.index(s) for s in COMPETITOR_SIZES]
    size[competitor] = rng.choice(competitor_sizes, size=competitor.sum())
    consultant = (profile == RESEARCHER) & (rng.random(n_leads) < RESEARCHER_CONSULTANT_SHARE)
    industry[consultant] = industries.index("professional_services")
    return company, industry, size, country


def _draw_titles(rng: np.random.Generator, *, seniority: np.ndarray) -> np.ndarray:
    """A job title code per lead, uniform among the titles of its seniority level."""
    counts = np.array([len(t) for t in SENIORITY_TITLES.values()])
    starts = np.cumsum([0, *counts])[:-1]
    return starts[seniority] + (rng.random(len(seniority)) * counts[seniority]).astype(np.int64)


def _draw_latents(
    rng: np.random.Generator,
    *,
    profile: np.ndarray,
    domain_type: np.ndarray,
    industry: np.ndarray,
    company_size: np.ndarray,
    seniority: np.ndarray,
    source: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Standardised latent fit (the truth's firmographic part plus noise) and latent intent."""
    n_leads = len(profile)
    fit = (
        coef_table(INDUSTRY_COEF, INDUSTRIES)[industry]
        + coef_table(COMPANY_SIZE_COEF, COMPANY_SIZES)[company_size]
        + coef_table(SENIORITY_COEF, SENIORITIES)[seniority]
        # (competitors' behaviour follows their firmographics like everyone's)
        + np.log(
            fit_multiplier(
                company_size,
                seniority,
                np.where(domain_type == COMPETITOR_DOMAIN, BUSINESS_DOMAIN, domain_type),
            )
        )
        + rng.normal(0.0, FIT_NOISE_SD, n_leads)
    )
    fit_z = (fit - fit.mean()) / (fit.std() or 1.0)
    intent_z = rng.normal(0.0, 1.0, n_leads) + SOURCE_INTENT[source] + PROFILE_INTENT[profile]
    return fit_z, intent_z


def _segments(*, company_size: np.ndarray, domain_type: np.ndarray) -> np.ndarray:
    """SEGMENTS code per lead: small shops and private addresses, mid-size, large."""
    sizes = list(COMPANY_SIZES)
    large = np.isin(company_size, [sizes.index(s) for s in LARGE_SIZES])
    small = (company_size == sizes.index(SMALL_SIZE)) | np.isin(
        domain_type, [PERSONAL_DOMAIN, STUDENT_DOMAIN]
    )
    return np.where(small, SMALL_SEGMENT, np.where(large, LARGE_SEGMENT, MID_SEGMENT)).astype(
        np.int8
    )
