"""The ground truth: P(convert in (T, T + H] | the generator's state at T), exactly.

The state of a lead at T is its latents and its interest episodes started at or before T.
Given it, the hazard over (T, T + H] is c * (known interest + interest of future episodes)
+ base_hazard, so

    P = 1 - exp(-base_hazard * H - c * integral over (T, T + H] of the known interest)
          * E[exp(-c * integral of the future episodes' interest)],

where the known interest integral has a closed form (exponential decays) and the future
factor follows from Campbell's theorem (`interest.future_episode_exponent`). The generator
writes the truth under data/synthetic_truth/ (never a training input): `truth.parquet`, one
row per lead (latents, and `p_true` at created_at + observation_days for quick checks), and
`episodes.parquet`, one row per interest episode. `load_truth` reads them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.synthetic.interest import future_episode_exponent

LEADS_FILE = "truth.parquet"
EPISODES_FILE = "episodes.parquet"
NS_PER_DAY = 86_400 * 10**9
LATENT_COLUMNS = (
    "conversion_scale",  # c: hazard per day per unit of interest
    "base_hazard",  # per day, whatever the interest
    "tau_days",  # decay time constant of the lead's episodes
    "reengage_rate",  # re-engagement episodes per day (Poisson)
    "amplitude_shape",  # Gamma shape of re-engagement amplitudes
    "amplitude_scale",  # Gamma scale of re-engagement amplitudes
)


@dataclass(frozen=True)
class SyntheticTruth:
    """The generator's hidden state: per-lead latents and interest episodes.

    `leads`: lead_id, created_at, simulated_until (the truth is defined up to it), the
    LATENT_COLUMNS, and the analysis columns (as_of, p_true, profile). `episodes`: lead_id,
    started_at, amplitude.
    """

    leads: pd.DataFrame
    episodes: pd.DataFrame


def load_truth(directory: Path | str) -> SyntheticTruth:
    """The truth the generate stage wrote in `directory` (or beside the file given)."""
    path = Path(directory)
    if path.is_file():
        path = path.parent
    return SyntheticTruth(
        leads=pd.read_parquet(path / LEADS_FILE),
        episodes=pd.read_parquet(path / EPISODES_FILE),
    )


def _nanoseconds(moments: object, n_rows: int) -> np.ndarray:
    """UTC nanoseconds since the epoch of a moment or of one moment per row."""
    if isinstance(moments, str | pd.Timestamp | np.datetime64):
        moments = [moments] * n_rows
    index = pd.DatetimeIndex(pd.to_datetime(pd.Series(moments), utc=True))
    return index.as_unit("ns").asi8


def truth_probability(
    truth: SyntheticTruth,
    lead_ids: Sequence[str] | pd.Series | np.ndarray,
    as_of: object,
    horizon_days: float,
) -> np.ndarray:
    """P(convert in (T, T + horizon] | state at T) per row (lead_ids[i], as_of[i] or as_of).

    Meant for leads open at T (the caller knows which); it depends only on the lead's latents
    and the episodes started at or before T. NaN where T is before the lead's creation or
    after the moment the truth was simulated to. An unknown lead id is a ValueError.
    """
    ids = pd.Series(lead_ids, copy=False).astype("str").to_numpy()
    leads = truth.leads
    index = pd.Index(leads["lead_id"].astype("str"))
    position = index.get_indexer(ids)
    if (position < 0).any():
        raise ValueError(f"lead ids not in the truth, e.g. {ids[position < 0][0]!r}")
    created = _nanoseconds(leads["created_at"], len(leads))
    age = (_nanoseconds(as_of, len(ids)) - created[position]) / NS_PER_DAY
    horizon = float(horizon_days)
    latent = {name: leads[name].to_numpy(dtype=float) for name in LATENT_COLUMNS}
    level = _known_interest(truth, index=index, created=created, position=position, age=age)
    tau = latent["tau_days"][position]
    known = latent["base_hazard"][position] * horizon + latent["conversion_scale"][
        position
    ] * level * tau * -np.expm1(-horizon / tau)
    # The future factor depends on the lead and H only: compute it once per lead.
    used, inverse = np.unique(position, return_inverse=True)
    future = future_episode_exponent(
        conversion_scale=latent["conversion_scale"][used],
        tau=latent["tau_days"][used],
        reengage_rate=latent["reengage_rate"][used],
        amplitude_shape=latent["amplitude_shape"][used],
        amplitude_scale=latent["amplitude_scale"][used],
        horizon_days=horizon,
    )[inverse]
    probability = -np.expm1(-(known + future))
    until = _nanoseconds(leads["simulated_until"], len(leads))[position]
    defined = (age >= 0) & (created[position] + age * NS_PER_DAY <= until)
    return np.where(defined, probability, np.nan)


def _known_interest(
    truth: SyntheticTruth,
    *,
    index: pd.Index,
    created: np.ndarray,
    position: np.ndarray,
    age: np.ndarray,
) -> np.ndarray:
    """I(T) per row: the interest of the lead's episodes started at or before T."""
    episodes = truth.episodes
    episode_lead = index.get_indexer(episodes["lead_id"].astype("str"))
    start = (_nanoseconds(episodes["started_at"], len(episodes)) - created[episode_lead]) / (
        NS_PER_DAY
    )
    order = np.argsort(episode_lead, kind="stable")
    episode_lead, start = episode_lead[order], start[order]
    amplitude = episodes["amplitude"].to_numpy(dtype=float)[order]
    count = np.bincount(episode_lead, minlength=len(index))
    first = np.cumsum(count) - count
    # Each row expanded to its lead's episodes: rows x episodes per lead stays small.
    per_row = count[position]
    row = np.repeat(np.arange(len(position)), per_row)
    within = np.arange(len(row)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    episode = first[position][row] + within
    elapsed = age[row] - start[episode]
    tau = truth.leads["tau_days"].to_numpy(dtype=float)[position][row]
    contribution = np.where(
        elapsed >= 0, amplitude[episode] * np.exp(-np.maximum(elapsed, 0.0) / tau), 0.0
    )
    return np.bincount(row, weights=contribution, minlength=len(position))
