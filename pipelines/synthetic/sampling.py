"""The generator's columnar records (leads, events) and the random-draw helpers its parts share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pipelines.synthetic.world import (
    ACTIVITY_CODE,
    FIRST_PATH_OF_CATEGORY,
    PAGE_CATEGORY_CODE,
    PATHS_PER_CATEGORY,
    SECONDS_PER_DAY,
)


@dataclass(frozen=True)
class Leads:
    """Drawn leads, one array entry per lead: attributes as codes (-1 is missing) and latents."""

    created: np.ndarray  # seconds after the start of the data
    profile: np.ndarray  # PROFILES code (latent)
    domain_type: np.ndarray  # DOMAIN_TYPES code
    company: np.ndarray  # company index (business addresses use its domain)
    industry: np.ndarray  # INDUSTRIES code
    company_size: np.ndarray  # COMPANY_SIZES code
    country: np.ndarray  # COUNTRIES code
    seniority: np.ndarray  # SENIORITIES code (unknown when the job title is missing)
    title: np.ndarray  # index into the titles of SENIORITY_TITLES, in order
    source: np.ndarray  # SOURCES code
    first_name: np.ndarray  # FIRST_NAMES code
    last_name: np.ndarray  # LAST_NAMES code
    fit_z: np.ndarray  # latent fit, standardised
    intent_z: np.ndarray  # latent intent
    segment: np.ndarray  # SEGMENTS code

    def __len__(self) -> int:
        return len(self.profile)


class Events(NamedTuple):
    """Columnar events: lead index, seconds since the lead's creation, type code, page code."""

    lead: np.ndarray  # int32
    offset: np.ndarray  # int64 seconds
    kind: np.ndarray  # int8
    page: np.ndarray  # int16, -1 when not a page view


def concat_events(parts: list[Events]) -> Events:
    """Concatenate event batches column by column."""
    return Events(*(np.concatenate(columns) for columns in zip(*parts, strict=True)))


def take_events(events: Events, mask: np.ndarray) -> Events:
    """The events where `mask` is true."""
    return Events(*(column[mask] for column in events))


def pageless_events(lead: np.ndarray, offset: np.ndarray, activity_type: str) -> Events:
    """Events of one type that is not a page view, one per lead index and offset."""
    return Events(
        lead,
        offset,
        np.full(len(lead), ACTIVITY_CODE[activity_type], dtype=np.int8),
        np.full(len(lead), -1, dtype=np.int16),
    )


def weights(mapping: dict[str, float]) -> np.ndarray:
    """Normalised probabilities from a {name: weight} mapping."""
    values = np.array(list(mapping.values()), dtype=float)
    return values / values.sum()


def choice_by_group(rng: np.random.Generator, group: np.ndarray, table: np.ndarray) -> np.ndarray:
    """One categorical draw per row, from the table row given by `group` (few groups)."""
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random(len(group))
    out = np.empty(len(group), dtype=np.int16)
    for g in range(table.shape[0]):
        mask = group == g
        out[mask] = np.searchsorted(cumulative[g], u[mask], side="right")
    return out


def seconds(days: np.ndarray) -> np.ndarray:
    """Whole seconds from fractional days."""
    return (np.asarray(days, dtype=np.float64) * SECONDS_PER_DAY).astype(np.int64)


def page_codes(
    rng: np.random.Generator, category: np.ndarray, is_page_view: np.ndarray
) -> np.ndarray:
    """A path code per event from its page category (-1 where not a page view)."""
    u = rng.random(len(category))
    path = FIRST_PATH_OF_CATEGORY[category] + (u * PATHS_PER_CATEGORY[category]).astype(np.int64)
    return np.where(is_page_view, path, -1).astype(np.int16)


def fixed_pages(rng: np.random.Generator, kind: np.ndarray, mix: dict[str, float]) -> np.ndarray:
    """Page codes for events whose page category follows one fixed mix."""
    categories = np.array([PAGE_CATEGORY_CODE[name] for name in mix])
    category = categories[rng.choice(len(mix), size=len(kind), p=weights(mix))]
    return page_codes(rng, category, kind == ACTIVITY_CODE["page_view"])
