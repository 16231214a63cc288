"""The report's plots: matplotlib figures (Agg backend) turned into inline SVG strings.

SVG is saved with real text, so the page works offline and scales on any screen.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: the report is rendered in batch jobs and CI
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from models.stages import STAGE_ORDER

MODEL_COLOUR = "#2457d6"
POINTS_COLOUR = "#e08a1e"
CARD_COLOUR = "#7c3aed"
MODEL_LABEL = "Model"
CARD_LABEL = "Learned points card"
POINTS_LABEL = "Points system"
HAND_WRITTEN_LABEL = "Hand-written points (today)"  # beside the learned card, which is points too
MUTED = "#6b7280"
GRID = "#e5e7eb"


def _figure(width: float = 7.2, height: float = 3.6) -> tuple[Figure, Any]:
    plt.rcParams.update(
        {
            "svg.fonttype": "none",  # text stays text: crisp, selectable, uses the page font
            "font.family": "sans-serif",
            "font.size": 10,
            "axes.edgecolor": "#9ca3af",
            "axes.labelcolor": "#374151",
            "xtick.color": "#4b5563",
            "ytick.color": "#4b5563",
        }
    )
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def svg(fig: Figure, *, label: str) -> str:
    """A figure as an inline <svg> element with an accessible label."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    markup = buffer.getvalue()
    markup = markup[markup.index("<svg") :]
    markup = re.sub(r"<svg ", f'<svg role="img" aria-label="{escape(label)}" class="plot" ', markup)
    return re.sub(r'(width|height)="[\d.]+pt"', "", markup, count=2)


def plot_what_if(
    what_if: pd.DataFrame,
    *,
    proposed: Mapping[str, float],
    points: Mapping[str, float],
) -> str:
    """Weekly SQL volume against precision and expected conversions, with the proposal marked."""
    fig, ax = _figure(10.6, 4.2)
    ax.plot(
        what_if["leads_per_week"], what_if["precision"], color=MODEL_COLOUR, lw=2, label="Precision"
    )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Leads sent to sales per week")
    ax.set_ylabel("Share that convert (precision)", color=MODEL_COLOUR)
    ax.set_ylim(0, min(1.0, float(what_if["precision"].max()) * 1.15 + 0.02))
    right = ax.twinx()
    right.spines[["top"]].set_visible(False)
    right.plot(
        what_if["leads_per_week"],
        what_if["expected_conversions_per_week"],
        color="#10b981",
        lw=2,
        ls="--",
        label="Expected conversions per week",
    )
    right.set_ylabel("Expected conversions per week", color="#047857")
    right.set_ylim(0, None)
    ax.scatter(
        [proposed["leads_per_week"]],
        [proposed["precision"]],
        s=70,
        color=MODEL_COLOUR,
        zorder=5,
        edgecolor="white",
        linewidth=1.5,
    )
    ax.annotate(
        "Proposed SQL threshold",
        (proposed["leads_per_week"], proposed["precision"]),
        xytext=(12, 10),
        textcoords="offset points",
        color=MODEL_COLOUR,
        fontweight="bold",
    )
    if math.isfinite(points.get("precision", math.nan)):
        ax.scatter(
            [points["leads_per_week"]], [points["precision"]], s=70, marker="D", color=POINTS_COLOUR
        )
        ax.annotate(
            "Points system today",
            (points["leads_per_week"], points["precision"]),
            xytext=(12, -16),
            textcoords="offset points",
            color=POINTS_COLOUR,
            fontweight="bold",
        )
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], frameon=False, loc="center right")
    return svg(fig, label="What-if: weekly SQL volume against precision and expected conversions")


def plot_stage_rates(
    model: pd.DataFrame, points: pd.DataFrame, card: pd.DataFrame | None = None
) -> str:
    """Conversion rate per stage with its interval, model beside the learned points card (when
    given) and the points system."""
    fig, ax = _figure(10.6, 3.3)
    stages = list(STAGE_ORDER)
    scorers = [(MODEL_LABEL, model, MODEL_COLOUR)]
    if card is not None:
        scorers.append((CARD_LABEL, card, CARD_COLOUR))
    scorers.append(
        (HAND_WRITTEN_LABEL if card is not None else POINTS_LABEL, points, POINTS_COLOUR)
    )
    width = 0.76 / len(scorers)
    for offset, (name, frame, colour) in enumerate(scorers):
        rows = frame.set_index("stage").reindex(stages)
        x = [i + (offset - (len(scorers) - 1) / 2) * width for i in range(len(stages))]
        value = rows["precision"].fillna(0)
        errors = [
            (value - rows["precision_low"].fillna(0)).clip(lower=0),
            (rows["precision_high"].fillna(0) - value).clip(lower=0),
        ]
        ax.bar(x, value, width=width, color=colour, label=name, yerr=errors, capsize=3, alpha=0.9)
    ax.set_xticks(range(len(stages)), stages)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("Share that convert")
    ax.legend(frameon=False, loc="upper left")
    compared = "model, learned points card and hand-written points" if card is not None else None
    return svg(fig, label=f"Conversion rate per stage, {compared or 'model and points system'}")


def plot_calibration(calibration: pd.DataFrame) -> str:
    """Reliability diagram: predicted chance against the share that converted."""
    fig, ax = _figure(5.1, 3.9)
    top = float(max(calibration["mean_predicted"].max(), calibration["fraction_converted"].max()))
    top = min(1.0, top * 1.1 + 0.01)
    ax.plot([0, top], [0, top], color=MUTED, ls=":", lw=1.2, label="Perfectly honest")
    ax.plot(
        calibration["mean_predicted"],
        calibration["fraction_converted"],
        color=MODEL_COLOUR,
        marker="o",
        lw=2,
        label="Model",
    )
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Predicted chance to convert")
    ax.set_ylabel("Share that actually converted")
    ax.legend(frameon=False, loc="upper left")
    return svg(fig, label="Calibration: predicted against actual conversion")


def plot_gains(gains: pd.DataFrame) -> str:
    """Cumulative gains of the model, the learned points card (when in `gains`) and the points
    system, with the random line."""
    fig, ax = _figure(5.1, 3.9)
    ax.plot([0, 1], [0, 1], color=MUTED, ls=":", lw=1.2, label="Random order")
    card = bool((gains["model"] == "learned_card").any())
    for name, label, colour in (
        ("model", MODEL_LABEL, MODEL_COLOUR),
        ("learned_card", CARD_LABEL, CARD_COLOUR),
        ("points", HAND_WRITTEN_LABEL if card else POINTS_LABEL, POINTS_COLOUR),
    ):
        rows = gains[gains["model"] == name]
        if rows.empty:
            continue
        ax.plot(rows["share_contacted"], rows["share_converted"], color=colour, lw=2, label=label)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Leads contacted, best first")
    ax.set_ylabel("Share of all conversions reached")
    ax.legend(frameon=False, loc="lower right")
    against = "learned points card and hand-written points" if card else "points system"
    return svg(fig, label=f"Gains: share of conversions reached, model against {against}")


def plot_drivers(drivers: pd.DataFrame) -> str:
    """Horizontal bars: each driver's share of what moves the scores."""
    rows = drivers.iloc[::-1]
    fig, ax = _figure(10.6, 0.32 * len(rows) + 0.7)
    bars = ax.barh(rows["driver"], rows["share"], color=MODEL_COLOUR, alpha=0.9)
    ax.bar_label(bars, labels=[f"{v:.0%}" for v in rows["share"]], padding=4, color="#374151")
    ax.set_xlim(0, float(rows["share"].max()) * 1.12)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Share of how much the scores move")
    ax.grid(True, axis="x", color=GRID)
    ax.grid(False, axis="y")
    return svg(fig, label="Top drivers of the score")


def plot_funnel(model: pd.DataFrame, points: pd.DataFrame) -> str:
    """Leads left at each funnel step, model beside points."""
    fig, ax = _figure(10.6, 3.0)
    steps = list(model["step"])
    height = 0.38
    for offset, (name, frame, colour) in enumerate(
        (("Model", model, MODEL_COLOUR), ("Points system", points, POINTS_COLOUR))
    ):
        y = [i + (offset - 0.5) * height for i in range(len(steps))]
        ax.barh(y, frame["leads"], height=height, color=colour, label=name, alpha=0.9)
    ax.set_yticks(range(len(steps)), steps)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("Leads in the test period")
    ax.grid(False, axis="y")
    ax.legend(frameon=False, loc="lower right")
    return svg(fig, label="Funnel: leads per step, model against points system")


def plot_calibration_by_age(by_age: pd.DataFrame) -> str:
    """Per lead-age band: mean predicted chance beside the observed rate (and the truth)."""
    rows = by_age[by_age["count"] > 0].reset_index(drop=True)
    series = [
        ("mean_predicted", "Predicted", MODEL_COLOUR),
        ("mean_observed", "Converted", "#10b981"),
    ]
    if rows["mean_true"].notna().any():
        series.append(("mean_true", "True chance (synthetic)", MUTED))
    fig, ax = _figure(10.6, 3.3)
    width = 0.8 / len(series)
    for offset, (column, label, colour) in enumerate(series):
        x = [i + (offset - (len(series) - 1) / 2) * width for i in range(len(rows))]
        ax.bar(x, rows[column].fillna(0), width=width, color=colour, label=label, alpha=0.9)
    ax.set_xticks(range(len(rows)), [f"{band} days" for band in rows["band"]])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_ylabel("Chance to convert")
    ax.grid(False, axis="x")
    ax.legend(frameon=False, loc="upper right")
    return svg(fig, label="Calibration by lead age: predicted against converted per age band")
