"""Latent interest: per-lead latents, interest episodes and the conversion hazard they drive.

I(t) = sum over episodes e of A_e * exp(-(t - s_e) / tau) for t >= s_e (t in days after the
lead's creation); the first episode starts at creation, re-engagements arrive as a Poisson
process. The conversion hazard is c * I(t) + base_hazard. The hazard arithmetic here is
shared by the generator (drawing conversion days) and by `truth` (the exact probability),
so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pipelines.synthetic.leads import coef_table, fit_multiplier
from pipelines.synthetic.sampling import Leads
from pipelines.synthetic.world import (
    BUYING_FIT,
    BUYING_INTENT,
    BUYING_RATE,
    COMPANY_SIZE_COEF,
    COMPANY_SIZES,
    CONVERSION_INTENT,
    CONVERSION_SCALE,
    DOMAIN_TYPE_COEF,
    DOMAIN_TYPES,
    ENGAGEMENT_STYLE_SD,
    FIRST_AMPLITUDE_MEAN,
    FIRST_AMPLITUDE_SHAPE,
    INDUSTRIES,
    INDUSTRY_COEF,
    INTEREST_FLOOR,
    PROFILE_BUYING,
    PROFILE_CONVERSION,
    PROFILE_REENGAGE,
    REENGAGE_AMPLITUDE_MEAN,
    REENGAGE_AMPLITUDE_SHAPE,
    REENGAGE_INTENT,
    REENGAGE_PER_YEAR,
    REENGAGE_SD,
    SENIORITIES,
    SENIORITY_COEF,
    SOURCE_COEF,
    SOURCES,
    TAU_DAYS,
)

DAYS_PER_YEAR = 365.25
QUADRATURE_NODES = 48  # Gauss-Legendre nodes over the horizon (the integrand is smooth)


@dataclass(frozen=True)
class Latents:
    """Per-lead latents of the interest process, one array entry per lead."""

    style: np.ndarray  # browsing volume multiplier: a habit that says nothing of intent
    buying: np.ndarray  # buying-signal events per day at interest 1
    conversion_scale: np.ndarray  # c: conversion hazard per day per unit of interest
    base_hazard: np.ndarray  # per day, whatever the interest (c * INTEREST_FLOOR)
    tau: np.ndarray  # days: decay time constant of every episode of the lead
    reengage_rate: np.ndarray  # re-engagement episodes per day
    amplitude_shape: np.ndarray  # Gamma shape of re-engagement amplitudes
    amplitude_scale: np.ndarray  # Gamma scale of re-engagement amplitudes


class Episodes(NamedTuple):
    """Interest episodes: lead index, start (days after creation), amplitude."""

    lead: np.ndarray  # int32
    start: np.ndarray  # float64 days
    amplitude: np.ndarray  # float64


def draw_latents(rng: np.random.Generator, leads: Leads) -> Latents:
    """Each lead's style, buying rate, conversion scale, decay and re-engagement rate."""
    n = len(leads)
    profile = leads.profile
    style = np.exp(rng.normal(0.0, ENGAGEMENT_STYLE_SD, n))
    style /= style.mean() or 1.0
    buying = (
        BUYING_RATE
        * PROFILE_BUYING[profile]
        * np.exp(BUYING_INTENT * leads.intent_z + BUYING_FIT * leads.fit_z - BUYING_INTENT**2 / 2)
    )
    additive_fit = (
        coef_table(INDUSTRY_COEF, INDUSTRIES)[leads.industry]
        + coef_table(COMPANY_SIZE_COEF, COMPANY_SIZES)[leads.company_size]
        + coef_table(SENIORITY_COEF, SENIORITIES)[leads.seniority]
        + coef_table(DOMAIN_TYPE_COEF, DOMAIN_TYPES)[leads.domain_type]
        + coef_table(SOURCE_COEF, SOURCES)[leads.source]
    )
    # Fit multiplies intent: the multiplier scales the whole hazard, interest included.
    conversion_scale = (
        CONVERSION_SCALE
        * PROFILE_CONVERSION[profile]
        * fit_multiplier(leads.company_size, leads.seniority, leads.domain_type)
        * np.exp(additive_fit + CONVERSION_INTENT * leads.intent_z - CONVERSION_INTENT**2 / 2)
    )
    reengage_rate = (
        REENGAGE_PER_YEAR
        / DAYS_PER_YEAR
        * PROFILE_REENGAGE[profile]
        * np.exp(REENGAGE_INTENT * leads.intent_z + rng.normal(0.0, REENGAGE_SD, n))
    )
    return Latents(
        style=style,
        buying=buying,
        conversion_scale=conversion_scale,
        base_hazard=conversion_scale * INTEREST_FLOOR,
        tau=rng.uniform(*TAU_DAYS, size=n),
        reengage_rate=reengage_rate,
        amplitude_shape=np.full(n, REENGAGE_AMPLITUDE_SHAPE),
        amplitude_scale=np.full(n, REENGAGE_AMPLITUDE_MEAN / REENGAGE_AMPLITUDE_SHAPE),
    )


def draw_first_episodes(rng: np.random.Generator, n_leads: int) -> Episodes:
    """The episode every lead starts with, at creation."""
    amplitude = rng.gamma(
        FIRST_AMPLITUDE_SHAPE, FIRST_AMPLITUDE_MEAN / FIRST_AMPLITUDE_SHAPE, size=n_leads
    )
    return Episodes(np.arange(n_leads, dtype=np.int32), np.zeros(n_leads), amplitude)


def draw_reengagements(
    rng: np.random.Generator, latents: Latents, *, after_days: np.ndarray, until_days: np.ndarray
) -> Episodes:
    """Re-engagement episodes of each lead in (after_days, until_days]: a Poisson process."""
    span = np.maximum(np.asarray(until_days, dtype=float) - after_days, 0.0)
    counts = rng.poisson(latents.reengage_rate * span)
    lead = np.repeat(np.arange(len(span), dtype=np.int32), counts)
    start = np.repeat(np.broadcast_to(after_days, span.shape), counts) + rng.random(
        len(lead)
    ) * np.repeat(span, counts)
    amplitude = rng.gamma(latents.amplitude_shape[lead], latents.amplitude_scale[lead])
    return Episodes(lead, start, amplitude)


def concat_episodes(parts: list[Episodes]) -> Episodes:
    """Episodes of several draws, ordered by lead then start."""
    lead, start, amplitude = (np.concatenate(columns) for columns in zip(*parts, strict=True))
    order = np.lexsort((start, lead))
    return Episodes(lead[order], start[order], amplitude[order])


def interest_integral(
    *, start: np.ndarray, amplitude: np.ndarray, tau: np.ndarray, until: np.ndarray
) -> np.ndarray:
    """Integral of each episode's interest from its start to `until` (0 before it starts)."""
    elapsed = np.maximum(until - start, 0.0)
    return amplitude * tau * -np.expm1(-elapsed / tau)


def cumulative_hazard(latents: Latents, episodes: Episodes, *, at_days: np.ndarray) -> np.ndarray:
    """Each lead's integrated conversion hazard from creation to at_days (one per lead)."""
    lead = episodes.lead
    per_episode = interest_integral(
        start=episodes.start,
        amplitude=episodes.amplitude,
        tau=latents.tau[lead],
        until=at_days[lead],
    )
    interest = np.bincount(lead, weights=per_episode, minlength=len(at_days))
    return latents.base_hazard * at_days + latents.conversion_scale * interest


def future_episode_exponent(
    *,
    conversion_scale: np.ndarray,
    tau: np.ndarray,
    reengage_rate: np.ndarray,
    amplitude_shape: np.ndarray,
    amplitude_scale: np.ndarray,
    horizon_days: float,
) -> np.ndarray:
    """-log E[exp(-hazard of episodes starting in (T, T + H])] (Campbell's theorem).

    For a Poisson process of rate lambda it is lambda * integral over the episode start s of
    (1 - E_A[exp(-c * A * tau * (1 - exp(-(T + H - s) / tau)))]); with A ~ Gamma(k, theta) the
    inner expectation is (1 + theta * x)^-k exactly. The integral runs over u = T + H - s in
    [0, H], so it does not depend on T; Gauss-Legendre quadrature, vectorised over leads.
    """
    nodes, node_weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    u = 0.5 * horizon_days * (nodes + 1.0)  # nodes mapped to [0, H]
    x = (conversion_scale * tau)[:, None] * -np.expm1(-u[None, :] / tau[:, None])
    laplace = (1.0 + amplitude_scale[:, None] * x) ** -amplitude_shape[:, None]
    integral = 0.5 * horizon_days * ((1.0 - laplace) @ node_weights)
    return reengage_rate * integral
