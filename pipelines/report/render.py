"""The marketing report as one self-contained HTML page: inline CSS, inline SVG plots, no JS.

The page is `templates/report.html.j2` (its CSS, `templates/report.css`, is inlined by the
template); this module only fills it in: the values from `context.page_values`, the plots from
`plots`, numbers formatted by the `pct` and `num` filters. Autoescape is on, so every value
from the data is escaped; only the SVG our own plots produce goes in as markup.
"""

from __future__ import annotations

import functools
import math

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from models.stages import SQL
from pipelines.report.context import ReportContext, page_values
from pipelines.report.plots import (
    plot_calibration,
    plot_calibration_by_age,
    plot_drivers,
    plot_funnel,
    plot_gains,
    plot_stage_rates,
    plot_what_if,
)

TEMPLATE = "report.html.j2"


def pct(value: float | None, digits: int = 0) -> str:
    """A share as a percentage, '–' when undefined."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def num(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators, '–' when undefined."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value):,.{digits}f}"


@functools.cache
def environment() -> Environment:
    """The report's Jinja2 environment: package templates, autoescape, the number filters."""
    env = Environment(
        loader=PackageLoader("pipelines.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the render, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = pct
    env.filters["num"] = num
    return env


def report_plots(context: ReportContext) -> dict[str, Markup]:
    """The page's plots as inline SVG markup, by name (calibration by age only with ages)."""
    sql_row = context.model_effect.set_index("stage").loc[SQL]
    plots = {
        "stage_rates": plot_stage_rates(
            context.model_effect, context.points_effect, context.card_effect
        ),
        "what_if": plot_what_if(
            context.what_if,
            proposed={
                "leads_per_week": float(sql_row["leads_per_week"]),
                "precision": float(sql_row["precision"]),
            },
            points=context.points_sql,
        ),
        "gains": plot_gains(context.gains),
        "calibration": plot_calibration(context.calibration),
        "funnel": plot_funnel(context.funnel_model, context.funnel_points),
        "drivers": plot_drivers(context.drivers),
    }
    if context.by_age is not None and (context.by_age["count"] > 0).any():
        plots["calibration_by_age"] = plot_calibration_by_age(context.by_age)
    # Our own matplotlib output (labels escaped in plots.svg), not data: trusted as markup.
    return {name: Markup(svg) for name, svg in plots.items()}


def render_report(context: ReportContext) -> str:
    """The whole page."""
    template = environment().get_template(TEMPLATE)
    return template.render(**page_values(context), plots=report_plots(context))
