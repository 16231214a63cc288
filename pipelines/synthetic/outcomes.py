"""Drawing outcomes: each lead converts where its cumulative hazard passes an Exp(1) draw;
its pre-sales activity stops there."""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.interest import Episodes, Latents, cumulative_hazard
from pipelines.synthetic.sampling import Events, seconds, take_events

BISECTION_STEPS = 40  # halvings of the lifetime: far below a second for any lifetime we draw
NEVER = np.iinfo(np.int64).max  # the conversion offset of a lead that does not convert


def conversion_days(
    rng: np.random.Generator, latents: Latents, episodes: Episodes, *, until_days: np.ndarray
) -> np.ndarray:
    """Days from creation to conversion per lead; inf when it does not convert by until_days.

    The hazard is c * I(t) + base_hazard, so the conversion moment is where the cumulative
    hazard first reaches an Exp(1) draw; it increases with t, so bisection finds it.
    """
    threshold = rng.exponential(1.0, size=len(until_days))
    converts = cumulative_hazard(latents, episodes, at_days=until_days) >= threshold
    low = np.zeros(len(until_days))
    high = np.asarray(until_days, dtype=float).copy()
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        reached = cumulative_hazard(latents, episodes, at_days=middle) >= threshold
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle)
    return np.where(converts, high, np.inf)


def conversion_offsets(days: np.ndarray) -> np.ndarray:
    """Conversion moments in whole seconds after creation (NEVER where there is none)."""
    finite = np.isfinite(days)
    offsets = np.full(len(days), NEVER, dtype=np.int64)
    # Rounded up so a conversion is never before the hazard that caused it.
    offsets[finite] = seconds(days[finite]) + 1
    return offsets


def stop_at_conversion(events: Events, converted: np.ndarray) -> Events:
    """The events up to each lead's conversion: a customer leaves the pre-sales funnel."""
    return take_events(events, events.offset < converted[events.lead])
