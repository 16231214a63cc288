"""`leadscore thresholds show|approve`: review the proposed stage thresholds and approve them."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import mlflow
import pandas as pd
import typer
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table

from models.thresholds import MQL_OR_HIGHER
from pipelines.errors import EXIT_MODEL, LeadscoreError
from pipelines.thresholds.approvals import (
    APPROVALS_DIR,
    SEGMENTS,
    approves_global,
    global_approver,
    load_approval,
    load_approval_history,
    record_approval,
)
from pipelines.tracking import CHAMPION, MODEL_NAME, configure_tracking

logger = logging.getLogger(__name__)

MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")
BUNDLE_PATH = "artifacts/bundle/bundle.json"


def resolve_version(
    client: MlflowClient, *, model: str | None, version: str | None
) -> tuple[str, str]:
    """(model name, version) from --version, --model URI, else the champion, else the newest."""
    if model and version:
        raise LeadscoreError("give --model or --version, not both")
    name = MODEL_NAME
    try:
        if version:
            client.get_model_version(name, str(version))
            return name, str(version)
        if model:
            match = MODEL_URI.match(model)
            if not match:
                raise LeadscoreError(
                    f"--model {model!r} is not models:/NAME/VERSION or models:/NAME@ALIAS"
                )
            name = match["name"]
            if match["version"]:
                client.get_model_version(name, match["version"])
                return name, match["version"]
            return name, client.get_model_version_by_alias(name, match["alias"]).version
        try:
            return name, client.get_model_version_by_alias(name, CHAMPION).version
        except MlflowException:
            versions = client.search_model_versions(f"name = '{name}'")
            if not versions:
                raise LeadscoreError(
                    f"no registered model {name!r}; run `dvc repro` first", exit_code=EXIT_MODEL
                ) from None
            newest = max(versions, key=lambda v: int(v.version)).version
            logger.warning("no %s alias on %s; using the newest version %s", CHAMPION, name, newest)
            return name, str(newest)
    except MlflowException as exc:
        raise LeadscoreError(
            f"model {name} {version or model or ''} not found: {exc.message}", exit_code=EXIT_MODEL
        ) from exc


def proposed_thresholds(name: str, version: str) -> dict[str, Any]:
    """The thresholds stored in a model version's bundle (proposal, expected effect, what-if)."""
    try:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}/{BUNDLE_PATH}"
        )
    except (MlflowException, OSError) as exc:
        raise LeadscoreError(
            f"cannot read the bundle of {name} version {version}: {exc}", exit_code=EXIT_MODEL
        ) from exc
    return json.loads(Path(path).read_text())["thresholds"]


EFFECT_METRICS = (
    "leads_per_week",
    "in_stage_per_scoring_day",
    "entering_per_week",
    "precision",
    "recall",
)


def effect_of(thresholds: dict[str, Any], threshold: float) -> dict[str, float]:
    """What a threshold gave on the calibration cohort (stored what-if grid, nearest above).

    Grids of older models have no `in_stage_per_scoring_day` / `entering_per_week`: NaN.
    """
    grid = pd.DataFrame(thresholds.get("what_if") or [])
    if grid.empty:
        return dict.fromkeys(EFFECT_METRICS, math.nan)
    at_or_above = grid[grid["threshold"] >= threshold]
    row = at_or_above.iloc[-1] if len(at_or_above) else grid.iloc[0]
    return {k: float(row[k]) if k in row else math.nan for k in EFFECT_METRICS}


def _pct(value: float, digits: int = 1) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def _num(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:,.0f}"


def expected_rows(
    thresholds: dict[str, Any], approval: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """One row per (stage, proposed/approved): threshold and its expected weekly effect."""
    expected = {row["stage"]: row for row in thresholds.get("expected") or []}
    rows = []
    for stage, key, group in (("SQL", "sql", "SQL"), ("MQL", "mql", MQL_OR_HIGHER)):
        proposed = float(thresholds[key]["threshold"])
        band = expected.get(group)
        rows.append(
            {
                "stage": stage,
                "which": "proposed",
                "threshold": proposed,
                **(
                    {k: band[k] for k in band if k.startswith(EFFECT_METRICS)}
                    if band
                    else effect_of(thresholds, proposed)
                ),
            }
        )
        if approves_global(approval):
            approved = float(approval[f"{key}_threshold"])
            rows.append(
                {
                    "stage": stage,
                    "which": "approved",
                    "threshold": approved,
                    **effect_of(thresholds, approved),
                }
            )
    return rows


def _with_range(row: dict[str, Any], metric: str, fmt: Any) -> str:
    text = fmt(row.get(metric))
    low, high = row.get(f"{metric}_low"), row.get(f"{metric}_high")
    return f"{text} ({fmt(low)}–{fmt(high)})" if low is not None else text


def render_table(name: str, version: str, rows: list[dict[str, Any]]) -> Table:
    """The rich table `show` and `approve` print."""
    table = Table(
        title=f"{name} version {version}: stage thresholds (calibration cohort)",
        caption=(
            "SQL figures are for SQL; MQL figures for MQL or higher. In stage: leads in the"
            " stage on a scoring day; new / week: leads entering it per week (what sales"
            " absorbs); convert: of the leads in the stage on a scoring day, the share that"
            " converts within the horizon. Ranges: 95% expected."
        ),
    )
    headers = ("Stage", "", "Threshold", "In stage", "New / week", "Convert", "Share of conv.")
    for header in headers:
        justify = "right" if header not in ("Stage", "") else "left"
        table.add_column(header, justify=justify, overflow="fold")  # narrow terminals: wrap
    for row in rows:
        # models calibrated before weekly inflow was counted only have leads_per_week
        weekly = "entering_per_week" if _known(row, "entering_per_week") else "leads_per_week"
        table.add_row(
            row["stage"],
            row["which"],
            _pct(row["threshold"]),
            _with_range(row, "in_stage_per_scoring_day", _num),
            _with_range(row, weekly, _num),
            _with_range(row, "precision", _pct),
            _with_range(row, "recall", lambda v: _pct(v, 0)),
        )
    return table


def _known(row: dict[str, Any], metric: str) -> bool:
    value = row.get(metric)
    return value is not None and math.isfinite(float(value))


def segment_proposals(thresholds: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The proposed thresholds per segment value ({} when the model has no segments)."""
    return dict(thresholds.get("segments") or {})


def _target(choice: dict[str, Any]) -> str:
    policy, target = choice.get("policy"), choice.get("target")
    if target is None or not math.isfinite(float(target)):
        return str(policy or "–")
    if policy == "capacity":
        return f"capacity {float(target):,.0f} / week"
    return f"{policy} {_pct(float(target))}"


def _feasible(choice: dict[str, Any]) -> str:
    feasible = choice.get("feasible")
    return "–" if feasible is None else ("yes" if feasible else "no")


def segment_rows(
    thresholds: dict[str, Any], approval: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Per segment and stage (SQL, MQL): the threshold in force, its policy and what it gives,
    approved or proposed."""
    approved_segments = (approval or {}).get(SEGMENTS) or {}
    rows = []
    for value, entry in segment_proposals(thresholds).items():
        approved = approved_segments.get(value)
        for stage, key in (("SQL", "sql"), ("MQL", "mql")):
            choice = entry[key]
            proposed = float(choice["threshold"])
            threshold = proposed if approved is None else float(approved[f"{key}_threshold"])
            precision = choice.get("precision") if threshold == proposed else None
            if precision is None:  # edited, or older entries: from the segment's what-if grid
                precision = effect_of(entry, threshold)["precision"]
            status = "proposed" if approved is None else "approved"
            rows.append(
                {
                    "segment": value + (" (fallback)" if entry.get("fallback") else ""),
                    "rows": entry.get("rows"),
                    "positives": entry.get("positives"),
                    "stage": stage,
                    "threshold": threshold,
                    "target": _target(choice),
                    "feasible": _feasible(choice),
                    "precision": precision,
                    "status": status + (", edited" if threshold != proposed else ""),
                }
            )
    return rows


def _rows(row: dict[str, Any]) -> str:
    if row["rows"] is None:
        return "–"
    return _num(row["rows"]) + ("" if row["positives"] is None else f" ({row['positives']:,})")


def render_segments(
    name: str, version: str, column: str | None, rows: list[dict[str, Any]]
) -> Table:
    """The per-segment table of `show` and `approve`: two rows (SQL, MQL) per segment."""
    table = Table(
        title=f"{name} version {version}: thresholds per {column or 'segment'}",
        caption=(
            "Rows (conv.): the segment's calibration-cohort rows (conversions). A fallback"
            " segment has too few of them: it keeps the global thresholds. Convert: the share"
            " of SQL (MQL or higher) leads that converts within the horizon."
        ),
    )
    headers = ("Segment", "Rows (conv.)", "Stage", "Threshold", "Target", "Feasible", "Convert")
    for header in (*headers, "Status"):
        justify = "right" if header in ("Rows (conv.)", "Threshold", "Convert") else "left"
        table.add_column(header, justify=justify, overflow="fold")
    for number, row in enumerate(rows):
        first = number == 0 or rows[number - 1]["segment"] != row["segment"]
        table.add_row(
            row["segment"] if first else "",
            _rows(row) if first else "",
            row["stage"],
            _pct(row["threshold"]),
            row["target"],
            row["feasible"],
            _pct(row["precision"]),
            row["status"],
            end_section=not first,
        )
    return table


def print_segments(
    console: Console, name: str, version: str, thresholds: dict[str, Any], approval: Any
) -> None:
    """The segments table; why each fallback segment is one; policies out of reach."""
    proposals = segment_proposals(thresholds)
    if not proposals:
        return
    rows = segment_rows(thresholds, approval)
    console.print(render_segments(name, version, thresholds.get("segment_column"), rows))
    for value, entry in proposals.items():
        if entry.get("fallback"):
            console.print(f"{value}: fallback, the global thresholds ({entry.get('reason')})")
            continue
        for key in ("sql", "mql"):
            if not entry[key].get("feasible", True):
                console.print(f"[yellow]{value} {key.upper()}: {entry[key]['message']}[/yellow]")


def approval_line(approval: dict[str, Any] | None, version: str) -> str:
    """What `show` says about the approval in force."""
    if approval is None:
        return (
            "[yellow]Not approved: scoring uses the proposed thresholds and marks rows"
            f" 'proposed'.[/yellow] Approve with: leadscore thresholds approve --by NAME"
            f" --version {version}"
        )
    segments = ", ".join(
        f"{value} ({entry.get('approved_by')}, {entry.get('approved_at')})"
        for value, entry in (approval.get(SEGMENTS) or {}).items()
    )
    also = f" Approved segments: {segments}." if segments else ""
    if not approves_global(approval):
        return (
            "[yellow]Global thresholds not approved: scoring uses the proposed ones for the"
            f" leads outside the approved segments.[/yellow]{also}"
        )
    who = global_approver(approval)
    return (
        f"Approved by [bold]{who['approved_by']}[/bold] at {who['approved_at']}"
        + (f" ({who['note']})" if who.get("note") else "")
        + f": scoring uses the approved thresholds.{also}"
    )


def show(
    model: Annotated[
        str | None, typer.Option(help="Model URI, e.g. models:/lead-conversion@champion.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Model version number.")] = None,
) -> None:
    """Print the proposed and approved thresholds with their expected effect, per segment too."""
    configure_tracking()
    client = MlflowClient()
    name, version = resolve_version(client, model=model, version=version)
    thresholds = proposed_thresholds(name, version)
    approval = load_approval(client=client, model_name=name, version=version)
    console = Console()
    console.print(render_table(name, version, expected_rows(thresholds, approval)))
    for key in ("mql", "sql"):
        if thresholds[key].get("message"):
            console.print(f"[yellow]{key.upper()}: {thresholds[key]['message']}[/yellow]")
    print_segments(console, name, version, thresholds, approval)
    console.print(approval_line(approval, version))
    history = load_approval_history(client=client, model_name=name, version=version)
    if history:
        console.print(render_history(history, in_force=approval))


def _threshold(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return "–" if value is None else f"{float(value):.4f}"


def render_history(history: list[dict[str, Any]], *, in_force: dict[str, Any] | None) -> Table:
    """Every approval of the version, oldest first; the one scoring uses marked. MQL/SQL: the
    global thresholds the record holds; Segments (when any was approved): those it approved."""
    table = Table(title=f"Approval history ({len(history)})")
    with_segments = any(record.get(SEGMENTS) for record in history)
    headers = ("#", "Approved at", "By", "MQL >=", "SQL >=", "Segments", "Note", "")
    for header in headers if with_segments else tuple(h for h in headers if h != "Segments"):
        table.add_column(header, justify="right" if header.endswith(">=") else "left")
    for number, record in enumerate(history, start=1):
        approved_now = [
            value
            for value, entry in (record.get(SEGMENTS) or {}).items()
            if entry.get("approved_at") == record.get("approved_at")
        ]
        table.add_row(
            str(number),
            str(record.get("approved_at", "")),
            str(record.get("approved_by", "")),
            _threshold(record, "mql_threshold"),
            _threshold(record, "sql_threshold"),
            *([", ".join(approved_now)] if with_segments else []),
            str(record.get("note") or ""),
            "in force" if record == in_force else "",
        )
    return table


def approval_choice(
    thresholds: dict[str, Any], *, mql: float | None, sql: float | None
) -> tuple[dict[str, float], dict[str, Any]]:
    """(the MQL/SQL thresholds approved, the details recorded with them) of a proposal (the
    global one or a segment's): the proposed values unless edited, and their effect."""
    proposed = {key: float(thresholds[key]["threshold"]) for key in ("mql", "sql")}
    chosen = {
        "mql": proposed["mql"] if mql is None else mql,
        "sql": proposed["sql"] if sql is None else sql,
    }
    details = {
        "proposed_mql_threshold": proposed["mql"],
        "proposed_sql_threshold": proposed["sql"],
        "edited": chosen != proposed,
        "expected_on_calibration": {
            "sql": effect_of(thresholds, chosen["sql"]),
            "mql_or_higher": effect_of(thresholds, chosen["mql"]),
        },
    }
    return chosen, details


def segment_approvals(
    thresholds: dict[str, Any],
    values: list[str],
    *,
    mql: float | None = None,
    sql: float | None = None,
    global_chosen: dict[str, float] | None = None,
) -> dict[str, dict[str, Any]]:
    """The segments to approve ({value: thresholds and details}); unknown values stop here,
    before anything is recorded. `global_chosen`: the global thresholds approved with them,
    which fallback segments (whose thresholds are the global ones) take."""
    proposals = segment_proposals(thresholds)
    if values and not proposals:
        raise LeadscoreError(
            "this model version has no per-segment thresholds (no thresholds.segment_column"
            " when it was calibrated); approve without --segment"
        )
    unknown = [value for value in values if value not in proposals]
    if unknown:
        raise LeadscoreError(
            f"unknown segment {unknown[0]!r} of {thresholds.get('segment_column')}; the"
            f" segments are: {', '.join(proposals)}"
        )
    if len(values) > 1 and (mql is not None or sql is not None):
        raise LeadscoreError("--mql/--sql edit one segment at a time: give a single --segment")
    approvals = {}
    for value in values:
        entry = proposals[value]
        edits = {"mql": mql, "sql": sql}
        if global_chosen is not None and entry.get("fallback"):
            edits = dict(global_chosen)
        chosen, details = approval_choice(entry, **edits)
        approvals[value] = {
            "mql_threshold": chosen["mql"],
            "sql_threshold": chosen["sql"],
            **details,
            "fallback": bool(entry.get("fallback")),
        }
    return approvals


def print_approved_segments(
    console: Console, thresholds: dict[str, Any], record: dict[str, Any], values: list[str]
) -> None:
    """One line per segment approved now; a fallback segment is said to be one."""
    proposals = segment_proposals(thresholds)
    for value in values:
        entry = record[SEGMENTS][value]
        console.print(
            f"Approved segment {value}: MQL >= {entry['mql_threshold']:.4f},"
            f" SQL >= {entry['sql_threshold']:.4f}"
            + (" (edited values)" if entry["edited"] else " (as proposed)")
        )
        if proposals[value].get("fallback"):
            reason = proposals[value].get("reason") or "too few leads"
            console.print(
                f"[yellow]{value} is a fallback segment ({reason}): its proposed thresholds"
                " are the global ones; the approval fixes them for this segment.[/yellow]"
            )


@dataclass(frozen=True)
class ApprovalAct:
    """Who approves which model version, why, and where the record goes."""

    client: MlflowClient
    model_name: str
    version: str
    approved_by: str
    note: str
    directory: Path

    def record(self, **parts: Any) -> dict[str, Any]:
        """Record the approval of `parts` (see `record_approval`)."""
        return record_approval(
            client=self.client,
            model_name=self.model_name,
            version=self.version,
            approved_by=self.approved_by,
            note=self.note,
            directory=self.directory,
            **parts,
        )


def approve_segments(
    act: ApprovalAct,
    *,
    thresholds: dict[str, Any],
    values: list[str],
    mql: float | None,
    sql: float | None,
    console: Console,
) -> None:
    """Approve some segments; everything else of the approval in force stays in force."""
    approvals = segment_approvals(thresholds, values, mql=mql, sql=sql)
    keep = load_approval(client=act.client, model_name=act.model_name, version=act.version)
    record = act.record(segments=approvals, keep=keep)
    print_segments(console, act.model_name, act.version, thresholds, record)
    print_approved_segments(console, thresholds, record, values)
    console.print(approval_line(record, act.version))


def approve_all(
    act: ApprovalAct,
    *,
    thresholds: dict[str, Any],
    mql: float | None,
    sql: float | None,
    console: Console,
) -> None:
    """Approve the global thresholds and every segment's (fallback segments: the global ones)."""
    chosen, details = approval_choice(thresholds, mql=mql, sql=sql)
    proposals = segment_proposals(thresholds)
    record = act.record(
        mql_threshold=chosen["mql"],
        sql_threshold=chosen["sql"],
        details=details,
        segments=segment_approvals(thresholds, list(proposals), global_chosen=chosen),
    )
    name, version = act.model_name, act.version
    console.print(render_table(name, version, expected_rows(thresholds, record)))
    print_segments(console, name, version, thresholds, record)
    fallback = [value for value, entry in proposals.items() if entry.get("fallback")]
    console.print(
        f"Approved {name} version {version}: MQL >= {chosen['mql']:.4f}, SQL >= {chosen['sql']:.4f}"
        f" by {record['approved_by']} at {record['approved_at']}"
        + (" (edited values)" if record["edited"] else " (as proposed)")
        + (f", and the thresholds of the {len(proposals)} segments" if proposals else "")
        + (
            f" (fallback segments, on the global thresholds: {', '.join(fallback)})"
            if fallback
            else ""
        )
    )


def approve(
    by: Annotated[str, typer.Option("--by", help="Who approves (name).")],
    note: Annotated[str, typer.Option(help="Why, or what was agreed.")] = "",
    model: Annotated[
        str | None, typer.Option(help="Model URI, e.g. models:/lead-conversion/3.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Model version number.")] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option(
            "--segment",
            help="Approve only this segment's thresholds (repeatable); the rest of the"
            " approval in force stays. Without it: the global thresholds and every segment's.",
        ),
    ] = None,
    mql: Annotated[
        float | None,
        typer.Option(help="Approve this MQL threshold instead of the proposal (one segment)."),
    ] = None,
    sql: Annotated[
        float | None,
        typer.Option(help="Approve this SQL threshold instead of the proposal (one segment)."),
    ] = None,
    approvals_dir: Annotated[
        Path, typer.Option(help="Where the approval JSON is written.")
    ] = APPROVALS_DIR,
) -> None:
    """Record who approved which thresholds for a model version (MLflow tags + JSON file)."""
    configure_tracking()
    client = MlflowClient()
    name, version = resolve_version(client, model=model, version=version)
    thresholds = proposed_thresholds(name, version)
    act = ApprovalAct(client, name, version, by, note, approvals_dir)
    values = list(dict.fromkeys(segment or []))
    if values:
        approve_segments(
            act, thresholds=thresholds, values=values, mql=mql, sql=sql, console=Console()
        )
    else:
        approve_all(act, thresholds=thresholds, mql=mql, sql=sql, console=Console())
