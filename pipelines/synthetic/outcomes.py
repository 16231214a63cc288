"""Drawing outcomes: early conversions before T, labels from p_true after T, and the
activity that depends on them (buying events before a conversion, fewer events after)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pipelines.synthetic.sampling import (
    Events,
    Leads,
    concat_events,
    fixed_pages,
    take_events,
    weights,
)
from pipelines.synthetic.truth import conversion_probability, observables_at_as_of
from pipelines.synthetic.world import (
    ACTIVITY_CODE,
    AFTER_CONVERSION_KEEP,
    COMPETITOR_DOMAIN,
    CONVERTER_EVENTS,
    CONVERTER_PAGES,
    CONVERTER_TYPES,
    EARLY_CONVERSION_HAND_RAISER,
    EARLY_CONVERSION_OTHER,
    HAND_RAISER_TYPES,
    SECONDS_PER_DAY,
)

NEVER = np.iinfo(np.int64).max  # the conversion offset of a lead that does not convert


class Outcomes(NamedTuple):
    """Each lead's conversion and truth, with the events that follow from them."""

    converted: np.ndarray  # int64 seconds after creation; NEVER when not converted
    p_true: np.ndarray  # P(convert in (T, T + horizon]); NaN for early converters
    events: Events  # the activity stream with the outcome-dependent events applied


def draw_outcomes(
    rng: np.random.Generator,
    leads: Leads,
    events: Events,
    *,
    as_of_offset: int,
    horizon_days: int,
) -> Outcomes:
    """Early converters, then open leads converting after T with probability p_true."""
    observables = observables_at_as_of(leads, events, as_of_offset=as_of_offset)
    p_true = conversion_probability(observables)
    early, converted = _early_conversions(
        rng,
        leads,
        events,
        hand_raiser=observables["hand_raiser"].to_numpy(),
        as_of_offset=as_of_offset,
    )
    p_true[early] = np.nan
    # Open leads convert in (T, T + horizon] with probability p_true, uniformly in time.
    n_leads = len(leads)
    label = ~early & (rng.random(n_leads) < np.nan_to_num(p_true))
    delay = 1 + (rng.random(n_leads) * horizon_days * SECONDS_PER_DAY).astype(np.int64)
    converted[label] = as_of_offset + delay[label]
    events = concat_events(
        [
            events,
            _converter_events(
                rng, np.flatnonzero(label), as_of_offset=as_of_offset, converted=converted
            ),
        ]
    )
    # Converted leads mostly stop engaging with marketing; this never touches [0, T] of
    # open leads because they convert after T.
    after = events.offset > converted[events.lead]
    keep = ~after | (rng.random(len(events.lead), dtype=np.float32) < AFTER_CONVERSION_KEEP)
    return Outcomes(converted=converted, p_true=p_true, events=take_events(events, keep))


def _early_conversions(
    rng: np.random.Generator,
    leads: Leads,
    events: Events,
    *,
    hand_raiser: np.ndarray,
    as_of_offset: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Which leads convert at or before T, and the conversion offsets (NEVER elsewhere).

    Early converters are mostly leads that raised a hand before T, converting after that.
    """
    n_leads = len(leads)
    hand_raise = np.isin(events.kind, [ACTIVITY_CODE[t] for t in HAND_RAISER_TYPES]) & (
        events.offset <= as_of_offset
    )
    first_hand_raise = np.full(n_leads, as_of_offset, dtype=np.int64)
    np.minimum.at(first_hand_raise, events.lead[hand_raise], events.offset[hand_raise])
    early_rate = np.where(hand_raiser, EARLY_CONVERSION_HAND_RAISER, EARLY_CONVERSION_OTHER)
    early = (rng.random(n_leads) < early_rate) & (leads.domain_type != COMPETITOR_DOMAIN)
    early_from = np.where(hand_raiser, first_hand_raise, 0)
    converted = np.full(n_leads, NEVER, dtype=np.int64)
    moment = early_from + rng.random(n_leads) * (as_of_offset - early_from + 1)
    converted[early] = moment.astype(np.int64)[early]
    return early, converted


def _converter_events(
    rng: np.random.Generator, converters: np.ndarray, *, as_of_offset: int, converted: np.ndarray
) -> Events:
    """Buying-stage events between T and conversion for leads that convert after T."""
    n_events = rng.poisson(CONVERTER_EVENTS, size=len(converters))
    lead = np.repeat(converters.astype(np.int32), n_events)
    gap = converted[lead] - as_of_offset - 1  # conversion is at least one second after T
    offset = as_of_offset + 1 + (rng.random(len(lead)) * gap).astype(np.int64)
    types = np.array([ACTIVITY_CODE[t] for t in CONVERTER_TYPES], dtype=np.int8)
    kind = types[rng.choice(len(types), size=len(lead), p=weights(CONVERTER_TYPES))]
    return Events(lead, offset, kind, fixed_pages(rng, kind, CONVERTER_PAGES))
