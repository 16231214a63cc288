"""monitor.html: one self-contained page (inline CSS, no scripts) in the report's style.

The page is `templates/monitor.html.j2`; it includes the marketing report's `report.css` and
macros (loaded from `pipelines.report`'s templates, not copied). Autoescape is on: every value
from the data is escaped.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from models.stages import STAGE_ORDER
from models.thresholds import MQL_OR_HIGHER
from pipelines.report.render import num, pct

TEMPLATE = "monitor.html.j2"


@functools.cache
def environment() -> Environment:
    """The monitor's templates first, then the report's (its CSS and macros)."""
    env = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("pipelines.monitor", "templates"),
                PackageLoader("pipelines.report", "templates"),
            ]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = pct
    env.filters["num"] = num
    return env


def render_monitor(monitor: dict[str, Any]) -> str:
    """The whole page from the monitor.json content."""
    stage_rows = [*reversed(STAGE_ORDER), MQL_OR_HIGHER]
    bands = (monitor["quality"].get("by_age_band") or {}).items()
    return (
        environment()
        .get_template(TEMPLATE)
        .render(m=monitor, stage_rows=stage_rows, bands=list(bands), stages=STAGE_ORDER)
    )
