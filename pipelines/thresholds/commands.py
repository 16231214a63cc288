"""`leadscore thresholds show|approve`: review the proposed stage thresholds and approve them."""

from __future__ import annotations

import json
import logging
import math
import re
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
        if approval:
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


def show(
    model: Annotated[
        str | None, typer.Option(help="Model URI, e.g. models:/lead-conversion@champion.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Model version number.")] = None,
) -> None:
    """Print the proposed and approved thresholds with their expected effect."""
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
    if approval:
        console.print(
            f"Approved by [bold]{approval['approved_by']}[/bold] at {approval['approved_at']}"
            + (f" ({approval['note']})" if approval.get("note") else "")
            + ": scoring uses the approved thresholds."
        )
    else:
        console.print(
            "[yellow]Not approved: scoring uses the proposed thresholds and marks rows"
            f" 'proposed'.[/yellow] Approve with: leadscore thresholds approve --by NAME"
            f" --version {version}"
        )
    history = load_approval_history(client=client, model_name=name, version=version)
    if history:
        console.print(render_history(history, in_force=approval))


def render_history(history: list[dict[str, Any]], *, in_force: dict[str, Any] | None) -> Table:
    """Every approval of the version, oldest first; the one scoring uses marked."""
    table = Table(title=f"Approval history ({len(history)})")
    for header in ("#", "Approved at", "By", "MQL >=", "SQL >=", "Note", ""):
        table.add_column(header, justify="right" if header.endswith(">=") else "left")
    for number, record in enumerate(history, start=1):
        table.add_row(
            str(number),
            str(record.get("approved_at", "")),
            str(record.get("approved_by", "")),
            f"{float(record['mql_threshold']):.4f}",
            f"{float(record['sql_threshold']):.4f}",
            str(record.get("note") or ""),
            "in force" if record == in_force else "",
        )
    return table


def approve(
    by: Annotated[str, typer.Option("--by", help="Who approves (name).")],
    note: Annotated[str, typer.Option(help="Why, or what was agreed.")] = "",
    model: Annotated[
        str | None, typer.Option(help="Model URI, e.g. models:/lead-conversion/3.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Model version number.")] = None,
    mql: Annotated[
        float | None, typer.Option(help="Approve this MQL threshold instead of the proposal.")
    ] = None,
    sql: Annotated[
        float | None, typer.Option(help="Approve this SQL threshold instead of the proposal.")
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
    proposed = {key: float(thresholds[key]["threshold"]) for key in ("mql", "sql")}
    chosen = {
        "mql": proposed["mql"] if mql is None else mql,
        "sql": proposed["sql"] if sql is None else sql,
    }
    record = record_approval(
        client=client,
        model_name=name,
        version=version,
        mql_threshold=chosen["mql"],
        sql_threshold=chosen["sql"],
        approved_by=by,
        note=note,
        directory=approvals_dir,
        details={
            "proposed_mql_threshold": proposed["mql"],
            "proposed_sql_threshold": proposed["sql"],
            "edited": chosen != proposed,
            "expected_on_calibration": {
                "sql": effect_of(thresholds, chosen["sql"]),
                "mql_or_higher": effect_of(thresholds, chosen["mql"]),
            },
        },
    )
    console = Console()
    console.print(render_table(name, version, expected_rows(thresholds, record)))
    console.print(
        f"Approved {name} version {version}: MQL >= {chosen['mql']:.4f}, SQL >= {chosen['sql']:.4f}"
        f" by {record['approved_by']} at {record['approved_at']}"
        + (" (edited values)" if record["edited"] else " (as proposed)")
    )
