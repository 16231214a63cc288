"""The marketing report as one self-contained HTML page: inline CSS, inline SVG plots, no JS.

Everything here turns prepared numbers into markup; nothing reads files or talks to MLflow
(that is `pipelines.stages.report`). Plots are matplotlib figures (Agg backend) saved as SVG with
real text, so the page works offline and scales on any screen.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: the report is rendered in batch jobs and CI
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from models.stages import STAGE_ORDER
from models.thresholds import ALL_LEADS, MQL_OR_HIGHER

logger = logging.getLogger(__name__)

MODEL_COLOUR = "#2457d6"
POINTS_COLOUR = "#e08a1e"
MUTED = "#6b7280"
GRID = "#e5e7eb"
STAGE_COLOURS = {"DISQUALIFIED": "#9ca3af", "IQL": "#93c5fd", "MQL": "#3b82f6", "SQL": "#1e3a8a"}
STAGE_WORDS = {
    "DISQUALIFIED": "Disqualified (competitors, students, job seekers)",
    "IQL": "IQL: information-qualified, keep nurturing",
    "MQL": "MQL: marketing-qualified, ready for campaigns",
    "SQL": "SQL: sales-qualified, hand to sales",
    MQL_OR_HIGHER: "MQL or higher: everything marketing hands on",
    ALL_LEADS: "All leads",
}
COHORT_ORDER = {"train": 0, "calibration": 1, "test": 2}
POLICY_WORDS = {
    "precision": "at least {target:.0%} of them convert",
    "capacity": "sales can call {target:.0f} leads a week",
    "expected_value": "a lead is worth a call when its chance x deal value beats the call's cost"
    " (break-even chance {target:.1%})",
    "recall": "catch at least {target:.0%} of all conversions",
    "precision_floor": "at least {target:.0%} of them convert",
}


@dataclass
class ReportContext:
    """Everything the page shows, already computed (plain numbers and small tables)."""

    model_name: str
    model_version: str
    model_alias: str
    generated_at: str
    period_start: str
    period_end: str
    weeks: float
    confidence: float
    thresholds: Mapping[str, Any]
    model_effect: pd.DataFrame
    points_effect: pd.DataFrame
    expected_effect: pd.DataFrame
    movement: pd.DataFrame
    what_if: pd.DataFrame
    capacity: pd.DataFrame
    points_sql: Mapping[str, float]
    calibration: pd.DataFrame
    calibration_metrics: Mapping[str, float]
    gains: pd.DataFrame
    lift: pd.DataFrame
    drivers: pd.DataFrame
    funnel_model: pd.DataFrame
    funnel_points: pd.DataFrame
    points_thresholds: Mapping[str, float]
    extract_summary: Mapping[str, Any]
    features_summary: Mapping[str, Any]
    sufficiency: list[tuple[str, str, bool]]
    hand_raisers_per_week: float = math.nan
    approval: Mapping[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


# -- formatting ----------------------------------------------------------------------------


def pct(value: float, digits: int = 0) -> str:
    """A share as a percentage, '–' when undefined."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def num(value: float, digits: int = 0) -> str:
    """A number with thousands separators, '–' when undefined."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value):,.{digits}f}"


def interval(low: float, high: float, formatter: Any, digits: int = 0) -> str:
    """'low–high' in the value's own format."""
    return f"{formatter(low, digits)}–{formatter(high, digits)}"


def _row(stage_effect: pd.DataFrame, stage: str) -> pd.Series:
    return stage_effect.set_index("stage").loc[stage]


# -- plots ---------------------------------------------------------------------------------


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


def plot_stage_rates(model: pd.DataFrame, points: pd.DataFrame) -> str:
    """Conversion rate per stage with its interval, model beside points."""
    fig, ax = _figure(10.6, 3.3)
    stages = list(STAGE_ORDER)
    width = 0.38
    for offset, (name, frame, colour) in enumerate(
        (("Model", model, MODEL_COLOUR), ("Points system", points, POINTS_COLOUR))
    ):
        rows = frame.set_index("stage").reindex(stages)
        x = [i + (offset - 0.5) * width for i in range(len(stages))]
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
    return svg(fig, label="Conversion rate per stage, model and points system")


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
    """Cumulative gains of the model and the points system, with the random line."""
    fig, ax = _figure(5.1, 3.9)
    ax.plot([0, 1], [0, 1], color=MUTED, ls=":", lw=1.2, label="Random order")
    for name, label, colour in (
        ("model", "Model", MODEL_COLOUR),
        ("points", "Points system", POINTS_COLOUR),
    ):
        rows = gains[gains["model"] == name]
        ax.plot(rows["share_contacted"], rows["share_converted"], color=colour, lw=2, label=label)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Leads contacted, best first")
    ax.set_ylabel("Share of all conversions reached")
    ax.legend(frameon=False, loc="lower right")
    return svg(fig, label="Gains: share of conversions reached, model against points system")


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


# -- HTML ----------------------------------------------------------------------------------

CSS = """
:root { --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --brand:#2457d6; --soft:#f3f6fd;
  --warn:#b45309; --ok:#047857; --points:#e08a1e; }
* { box-sizing: border-box; }
body { margin:0; font-family: "Inter","Segoe UI","Helvetica Neue",Arial,"DejaVu Sans",sans-serif;
  color:var(--ink); background:#f6f7fb; line-height:1.5; font-size:15px; }
header.hero { background: linear-gradient(120deg,#1e3a8a,#2457d6 60%,#3b82f6); color:#fff;
  padding:36px 0 84px; }
.wrap { max-width:1120px; margin:0 auto; padding:0 32px; }
.eyebrow { text-transform:uppercase; letter-spacing:.08em; font-size:12px; opacity:.8; }
h1 { font-size:32px; margin:6px 0 8px; font-weight:700; }
.hero p { margin:0; opacity:.9; max-width:760px; }
.kpis { display:grid; grid-template-columns:repeat(4,1fr); gap:16px; margin-top:-60px; }
.kpi { background:#fff; border-radius:14px; padding:18px 20px;
  box-shadow:0 1px 2px rgba(0,0,0,.05),0 8px 24px rgba(30,58,138,.08); }
.kpi .label { color:var(--muted); font-size:13px; }
.kpi .value { font-size:28px; font-weight:700; margin-top:2px; }
.kpi .sub { color:var(--muted); font-size:12.5px; }
section.card { background:#fff; border-radius:14px; padding:26px 28px; margin:22px 0;
  box-shadow:0 1px 2px rgba(0,0,0,.04); }
h2 { font-size:20px; margin:0 0 4px; }
.lead { color:var(--muted); margin:0 0 16px; }
.summary li { margin:6px 0; }
table { border-collapse:collapse; width:100%; font-size:14px; margin:8px 0 4px; }
th { text-align:left; font-weight:600; color:#374151; border-bottom:2px solid var(--line);
  padding:8px 10px; background:#fafbff; }
td { border-bottom:1px solid var(--line); padding:8px 10px; vertical-align:top; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.ci { color:var(--muted); font-size:12.5px; }
.stage { display:inline-block; padding:1px 9px; border-radius:999px; font-size:12px;
  font-weight:700; color:#fff; }
.grid2 { display:grid; grid-template-columns:1fr 1fr; gap:24px; }
.plot { width:100%; height:auto; display:block; }
.pill { display:inline-block; padding:3px 10px; border-radius:999px; font-size:12.5px;
  font-weight:600; }
.pill.ok { background:#d1fae5; color:var(--ok); }
.pill.warn { background:#fef3c7; color:var(--warn); }
.callout { background:var(--soft); border-left:4px solid var(--brand); padding:12px 16px;
  border-radius:8px; margin:12px 0; }
.callout.warn { background:#fffbeb; border-left-color:#f59e0b; }
code { background:#eef2ff; padding:1px 6px; border-radius:6px; font-size:13px; }
.diag { background:#eef2ff; font-weight:700; }
.muted { color:var(--muted); }
footer { color:var(--muted); font-size:12.5px; padding:8px 0 40px; }
h3 { font-size:15px; margin:18px 0 6px; }
"""


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """An HTML table; cells are already-escaped markup."""
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _badge(stage: str) -> str:
    colour = STAGE_COLOURS.get(stage, "#6b7280")
    return f'<span class="stage" style="background:{colour}">{escape(stage)}</span>'


def _with_ci(value: str, low: str, high: str) -> str:
    return f'{value} <span class="ci">({low}–{high})</span>'


def _effect_cells(row: pd.Series) -> list[str]:
    return [
        _with_ci(
            num(row["leads_per_week"]),
            num(row["leads_per_week_low"]),
            num(row["leads_per_week_high"]),
        ),
        _with_ci(
            pct(row["precision"], 1), pct(row["precision_low"], 1), pct(row["precision_high"], 1)
        ),
        _with_ci(pct(row["recall"]), pct(row["recall_low"]), pct(row["recall_high"])),
    ]


def policy_sentence(choice: Mapping[str, Any]) -> str:
    """What a threshold policy promises, in words."""
    template = POLICY_WORDS.get(str(choice.get("policy")), "{target}")
    return template.format(target=float(choice.get("target", math.nan)))


def summary_points(context: ReportContext) -> list[str]:
    """The plain-words summary at the top of the page (markup)."""
    sql = _row(context.model_effect, "SQL")
    handed = _row(context.model_effect, MQL_OR_HIGHER)
    points_sql = _row(context.points_effect, "SQL")
    lost = context.funnel_model.set_index("step")
    level = f"{context.confidence:.0%}"
    items = [
        "With the proposed thresholds sales would get about"
        f" <b>{num(sql['leads_per_week'])} leads a"
        f" week</b> (range {num(sql['leads_per_week_low'])}–{num(sql['leads_per_week_high'])}),"
        f" and about <b>{pct(sql['precision'])} of them convert</b>"
        f" ({pct(sql['precision_low'])}–{pct(sql['precision_high'])}, {level} interval).",
        f"The points system used today sends {num(points_sql['leads_per_week'])} leads a week to"
        f" sales, of which {pct(points_sql['precision'])} convert.",
        f"Hand-raisers (demo, trial or sales-contact requests) go to sales whatever their score:"
        f" {num(context.hand_raisers_per_week)} a week in both systems. The thresholds decide"
        " who else joins them.",
        f"Marketing hands on (MQL or higher) {num(handed['leads_per_week'])} leads a week that hold"
        f" <b>{pct(handed['recall'])} of all conversions</b>"
        f" ({pct(handed['recall_low'])}–{pct(handed['recall_high'])}).",
    ]
    disqualified_lost = int(lost.loc["In play (not disqualified)", "conversions_lost"])
    items.append(
        f"The negative rules (competitors, students, job seekers) set aside"
        f" {num(_row(context.model_effect, 'DISQUALIFIED')['leads_per_week'])} leads a week;"
        f" {disqualified_lost} of them converted anyway in the test period."
    )
    top_lift = context.lift.iloc[0]
    items.append(
        f"Ranked by the model, the best {top_lift['share']} of leads convert"
        f" {top_lift['model']} as often as average; ranked by points, {top_lift['points']}."
    )
    if context.approval:
        items.append(
            f"Approved by <b>{escape(str(context.approval.get('approved_by')))}</b> on"
            f" {escape(str(context.approval.get('approved_at'))[:10])}: scoring uses the approved"
            " thresholds."
        )
    else:
        items.append(
            "<b>Not approved yet.</b> Until someone approves, scoring uses these proposed"
            " thresholds and marks every scored lead <code>proposed</code>."
        )
    return items


def base_rate_drift_note(cohorts: Mapping[str, Any], *, ratio: float = 1.5) -> str | None:
    """Words for marketing when the conversion rate moved between the train and test periods."""
    train = (cohorts.get("train") or {}).get("conversion_rate")
    test = (cohorts.get("test") or {}).get("conversion_rate")
    if not train or not test or max(train, test) / min(train, test) < ratio:
        return None
    return (
        f"The conversion rate is not stable over time: {train:.1%} of the leads in the training"
        f" period converted, {test:.1%} in the test period. Chances learnt from the past are off"
        " by about that much for today's leads even when the ranking still holds, so retrain"
        " often (evaluate.rolling_blocks backtests retraining) and watch the drift check that"
        " every scoring run prints."
    )


def render_report(context: ReportContext) -> str:
    """The whole page."""
    proposed = context.thresholds
    mql, sql = proposed["mql"], proposed["sql"]
    sql_row = _row(context.model_effect, "SQL")
    handed = _row(context.model_effect, MQL_OR_HIGHER)
    points_sql = _row(context.points_effect, "SQL")
    level = f"{context.confidence:.0%}"
    status = (
        '<span class="pill ok">Approved</span>'
        if context.approval
        else '<span class="pill warn">Awaiting approval</span>'
    )
    kpis = [
        (
            "SQLs per week",
            num(sql_row["leads_per_week"]),
            f"points system: {num(points_sql['leads_per_week'])}",
        ),
        (
            "SQLs that convert",
            pct(sql_row["precision"]),
            f"points system: {pct(points_sql['precision'])}",
        ),
        (
            "Conversions reaching MQL+",
            pct(handed["recall"]),
            f"{num(handed['leads_per_week'])} leads a week",
        ),
        (
            "Thresholds",
            f"{pct(mql['threshold'], 1)} / {pct(sql['threshold'], 1)}",
            "MQL / SQL chance to convert",
        ),
    ]
    kpi_html = "".join(
        f'<div class="kpi"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div><div class="sub">{escape(sub)}</div></div>'
        for label, value, sub in kpis
    )
    summary = "".join(f"<li>{item}</li>" for item in summary_points(context))

    stage_rows = []
    for stage in (*reversed(STAGE_ORDER), MQL_OR_HIGHER):
        model_row = _row(context.model_effect, stage)
        points_row = _row(context.points_effect, stage)
        stage_rows.append(
            [
                _badge(stage) if stage in STAGE_ORDER else "<b>MQL or higher</b>",
                escape(STAGE_WORDS[stage].split(": ", 1)[-1]),
                *_effect_cells(model_row),
                num(points_row["leads_per_week"]),
                pct(points_row["precision"], 1),
            ]
        )
    stage_table = _table(
        [
            "Stage",
            "Meaning",
            "Leads / week",
            "Convert",
            "Share of all conversions",
            "Points: leads / week",
            "Points: convert",
        ],
        stage_rows,
        numeric={2, 3, 4, 5, 6},
    )

    threshold_rows = []
    expected = context.expected_effect.set_index("stage")
    for name, choice, stage in (("SQL", sql, "SQL"), ("MQL", mql, MQL_OR_HIGHER)):
        exp = expected.loc[stage]
        test = _row(context.model_effect, stage)
        flag = (
            ""
            if choice.get("feasible", True)
            else '<br><span class="pill warn">target not reachable</span>'
        )
        threshold_rows.append(
            [
                _badge(name),
                f"{pct(choice['threshold'], 1)} chance or more",
                escape(policy_sentence(choice)) + flag,
                _with_ci(
                    num(exp["leads_per_week"]),
                    num(exp["leads_per_week_low"]),
                    num(exp["leads_per_week_high"]),
                )
                + "<br>"
                + _with_ci(
                    pct(exp["precision"]), pct(exp["precision_low"]), pct(exp["precision_high"])
                ),
                f"{num(test['leads_per_week'])} a week<br>{pct(test['precision'])} convert",
            ]
        )
    threshold_table = _table(
        [
            "Stage",
            "Threshold",
            "Chosen so that",
            "Expected (leads / week, convert)",
            "Test period (realised)",
        ],
        threshold_rows,
        numeric={3, 4},
    )
    messages = [m for m in (mql.get("message"), sql.get("message")) if m]
    notes = "".join(f'<div class="callout warn">{escape(m)}</div>' for m in messages)

    capacity_rows = [
        [
            num(row["capacity_per_week"]),
            '<span class="muted">hand-raisers only</span>'
            if row.get("forced_only")
            else pct(row["threshold"], 1),
            num(row["leads_per_week"]),
            num(row["expected_conversions_per_week"], 1),
            pct(row["precision"]),
            pct(row["recall"]),
        ]
        for row in context.capacity.to_dict(orient="records")
    ]
    capacity_table = _table(
        [
            "If sales can take (leads / week)",
            "Threshold",
            "Leads / week",
            "Expected conversions / week",
            "Convert",
            "Share of all conversions",
        ],
        capacity_rows,
        numeric={0, 1, 2, 3, 4, 5},
    )

    movement = context.movement
    movement_rows = [
        [_badge(str(rule))]
        + [
            f'<span class="{"diag" if rule == model else ""}">'
            f"{num(movement.loc[rule, model])}</span>"
            for model in movement.columns
        ]
        + [num(movement.loc[rule].sum())]
        for rule in movement.index
    ]
    movement_table = _table(
        ["Points stage \u2192 model stage", *[str(c) for c in movement.columns], "Total"],
        movement_rows,
        numeric={1, 2, 3, 4, 5},
    )
    same = int(sum(movement.loc[s, s] for s in movement.index if s in movement.columns))
    total = int(movement.to_numpy().sum())

    funnel_rows = []
    for model_row, points_row in zip(
        context.funnel_model.to_dict(orient="records"),
        context.funnel_points.to_dict(orient="records"),
        strict=True,
    ):
        funnel_rows.append(
            [
                escape(model_row["step"]),
                num(model_row["leads"]),
                pct(model_row["share_of_previous"]),
                pct(model_row["conversion_rate"], 1),
                num(model_row["conversions_lost"]),
                num(points_row["leads"]),
                pct(points_row["conversion_rate"], 1),
                num(points_row["conversions_lost"]),
            ]
        )
    funnel_table = _table(
        [
            "Step",
            "Leads",
            "Kept from previous step",
            "Convert",
            "Conversions lost here",
            "Points: leads",
            "Points: convert",
            "Points: lost here",
        ],
        funnel_rows,
        numeric={1, 2, 3, 4, 5, 6, 7},
    )

    lift_table = _table(
        [
            "Best-scored leads",
            "Model: converts x average",
            "Points: converts x average",
            "Model: conversions reached",
            "Points: conversions reached",
        ],
        [
            [
                escape(r["share"]),
                escape(r["model"]),
                escape(r["points"]),
                escape(r["model_gains"]),
                escape(r["points_gains"]),
            ]
            for r in context.lift.to_dict(orient="records")
        ],
        numeric={1, 2, 3, 4},
    )
    extract_rows = [
        [
            escape(name),
            num(info.get("read", 0)),
            num(info.get("kept", 0)),
            num(info.get("quarantined", 0)),
            escape(
                ", ".join(f"{k}: {v}" for k, v in (info.get("quarantined_by_reason") or {}).items())
                or "none"
            ),
        ]
        for name, info in context.extract_summary.items()
        if isinstance(info, Mapping)
    ]
    extract_table = _table(
        ["Table", "Rows read", "Kept", "Quarantined", "Reasons"], extract_rows, numeric={1, 2, 3}
    )
    cohorts = (context.features_summary.get("cohorts") or {}) if context.features_summary else {}
    cohort_rows = [
        [
            escape(name),
            escape(
                f"{str(info.get('as_of_min', ''))[:10]} to {str(info.get('as_of_max', ''))[:10]}"
            ),
            num(info.get("rows", math.nan)),
            num(info.get("positives", math.nan)),
            pct(info.get("conversion_rate", math.nan), 1),
        ]
        for name, info in sorted(
            cohorts.items(), key=lambda item: COHORT_ORDER.get(item[0], len(COHORT_ORDER))
        )
    ]
    cohort_table = _table(
        ["Cohort", "Period (as of)", "Leads", "Converted", "Conversion rate"],
        cohort_rows,
        numeric={2, 3, 4},
    )
    checks = "".join(
        f'<li><span class="pill {"ok" if ok else "warn"}">{"OK" if ok else "Check"}</span> '
        f"<b>{escape(title)}</b>: {escape(detail)}</li>"
        for title, detail, ok in context.sufficiency
    )
    drift_words = base_rate_drift_note(cohorts)
    drift_note = f'<div class="callout warn">{escape(drift_words)}</div>' if drift_words else ""
    by_status = (context.features_summary or {}).get("by_status") or {}
    status_words = ", ".join(
        f"{num(v)} {escape(k.replace('_', ' '))}" for k, v in by_status.items()
    )

    approval_block = (
        '<div class="callout">Approved by'
        f" <b>{escape(str(context.approval.get('approved_by')))}</b>"
        f" at {escape(str(context.approval.get('approved_at')))}: MQL from"
        f" {pct(context.approval.get('mql_threshold'), 1)}, SQL from"
        f" {pct(context.approval.get('sql_threshold'), 1)}.</div>"
        if context.approval
        else '<div class="callout warn">Nobody has approved thresholds for this model version'
        " yet. To approve the proposal as shown:<br><code>leadscore thresholds approve --by"
        f' "Your Name" --version {escape(context.model_version)}</code>'
        " (add <code>--mql X --sql Y</code> to approve edited values;"
        " <code>leadscore thresholds show</code> shows what they would give).</div>"
    )
    calibration_metrics = context.calibration_metrics
    ece = pct(calibration_metrics.get("ece", math.nan), 1)
    what_if_plot = plot_what_if(
        context.what_if,
        proposed={
            "leads_per_week": float(sql_row["leads_per_week"]),
            "precision": float(sql_row["precision"]),
        },
        points=context.points_sql,
    )
    points_words = (
        f"MQL from {num(context.points_thresholds.get('mql_points', math.nan))} points,"
        f" SQL from {num(context.points_thresholds.get('sql_points', math.nan))} points"
    )

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lead scoring report: {escape(context.model_name)} v{escape(context.model_version)}</title>
<style>{CSS}</style></head>
<body>
<header class="hero"><div class="wrap">
<div class="eyebrow">Lead scoring · stage thresholds for review</div>
<h1>Who goes to sales, and how good are they?</h1>
<p>Model <b>{escape(context.model_name)} version {escape(context.model_version)}</b>
({escape(context.model_alias)}) on the {num(context.weeks, 1)} most recent weeks of leads
it has never seen ({escape(context.period_start)} to {escape(context.period_end)}),
side by side with the points system. {status}</p>
</div></header>
<main class="wrap">
<div class="kpis" id="kpis">{kpi_html}</div>

<section class="card" id="summary"><h2>In short</h2>
<ul class="summary">{summary}</ul>{approval_block}</section>

<section class="card" id="stage-table"><h2>Stages: how many leads, how good</h2>
<p class="lead">Test period, per week. In brackets: the {level} range from resampling the
leads, i.e. how much the figure could move by chance.</p>
{stage_table}
{plot_stage_rates(context.model_effect, context.points_effect)}
</section>

<section class="card" id="thresholds"><h2>Proposed thresholds</h2>
<p class="lead">Chosen on an earlier period (calibration leads), then checked on the test
period. Hand-raisers (demo, trial or sales-contact requests) go straight to SQL;
disqualified leads never enter the funnel.</p>
{threshold_table}{notes}</section>

<section class="card" id="what-if"><h2>What if sales had more or less capacity?</h2>
<p class="lead">Each row picks the SQL threshold that fills the capacity (test period, hand-raisers
included). The curve shows every possible threshold.</p>
{capacity_table}
{what_if_plot}
</section>

<section class="card" id="comparison"><h2>Model against the points system</h2>
<p class="lead">Same leads, same period. Points system: {escape(points_words)}.
{num(total - same)} of {num(total)} leads ({pct((total - same) / total if total else math.nan)})
land in a different stage.</p>
{movement_table}
<div class="grid2">
<div><h3>Gains: conversions reached when working down the list</h3>{plot_gains(context.gains)}</div>
<div><h3>Calibration: is a 30% chance really 30%?</h3>{plot_calibration(context.calibration)}
<p class="muted">Average gap between predicted and actual: {ece}
(ECE). Brier score {num(calibration_metrics.get("brier", math.nan), 3)}.</p></div>
</div>
{lift_table}
</section>

<section class="card" id="funnel"><h2>Funnel: where leads and conversions are lost</h2>
<p class="lead">Test period totals. "Conversions lost here" are leads that converted
although this step let them go.</p>
{plot_funnel(context.funnel_model, context.funnel_points)}
{funnel_table}
</section>

<section class="card" id="drivers"><h2>What drives the score</h2>
<p class="lead">Share of how much each signal moves the predicted chance, averaged over the
test leads (LightGBM contributions).</p>
{plot_drivers(context.drivers)}
</section>

<section class="card" id="data"><h2>Is there enough good data?</h2>
<ul>{checks}</ul>
<h3>Rows read and quarantined</h3>{extract_table}
<h3>Leads used</h3>
<p class="muted">{status_words}. Censored leads are too recent for their outcome to be known;
leads converted before they could be scored are not open leads.</p>
{cohort_table}
{drift_note}
</section>
<footer>Generated {escape(context.generated_at)} by <code>leadscore report</code> from model
{escape(context.model_name)} v{escape(context.model_version)}. Works offline; contains no
personal data (no names, e-mails or lead ids).</footer>
</main></body></html>
"""
