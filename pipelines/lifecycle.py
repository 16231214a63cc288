"""`leadscore model list|promote|revert`: the champion from the command line, with its history.

MLflow aliases keep no history, so every promote and revert is recorded twice: as tags on the
model version made champion (who, when, why) and as one registered-model tag per event
(`champion_history.<moment>`: append-only, one key per event, so no event overwrites another
and no tag grows without bound). Champions set by the evaluate stage's promotion gate are not
events of ours; the history replay below takes them from the alias and the gate's tag.
"""

from __future__ import annotations

import getpass
import json
import logging
from typing import Annotated, Any

import pandas as pd
import typer
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table

from pipelines.errors import EXIT_MODEL, LeadscoreError
from pipelines.thresholds.approvals import load_approval
from pipelines.tracking import CHAMPION, MODEL_NAME, configure_tracking

logger = logging.getLogger(__name__)

HISTORY_PREFIX = "champion_history."
GATE_TAG = "promotion"  # the evaluate stage's promotion decision (JSON) on each version
METRICS = {  # run metric -> column of `model list`
    "test_roc_auc": "AUC",
    "test_points_roc_auc": "points AUC",
    "test_ece": "ECE",
    "proposed_sql_precision": "SQL prec.",
    "proposed_sql_leads_per_week": "SQL/wk",
}

By = Annotated[str | None, typer.Option("--by", help="Who (default: the login name).")]
Reason = Annotated[str, typer.Option(help="Why (kept in the history).")]
Name = Annotated[str, typer.Option("--model-name", help="Registered model name.")]


def champion_version(client: MlflowClient, name: str) -> str | None:
    """The version holding the champion alias, or None."""
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def history(client: MlflowClient, name: str) -> list[dict[str, Any]]:
    """Every promote and revert recorded for the model, oldest first."""
    try:
        tags = client.get_registered_model(name).tags
    except MlflowException as exc:
        raise LeadscoreError(
            f"no registered model {name!r}: {exc.message}", exit_code=EXIT_MODEL
        ) from exc
    return [json.loads(tags[key]) for key in sorted(tags) if key.startswith(HISTORY_PREFIX)]


def gate_champions(client: MlflowClient, name: str) -> list[str]:
    """Versions the evaluate stage's gate made champion, oldest first."""
    promoted = []
    for version in client.search_model_versions(f"name = '{name}'"):
        decision = json.loads(version.tags.get(GATE_TAG) or "{}")
        if decision.get("promoted"):
            promoted.append(str(version.version))
    return sorted(promoted, key=int)


def champion_chain(events: list[dict[str, Any]], current: str | None) -> list[str]:
    """The champions in order, the current one last: promotes push, reverts pop.

    A champion set outside these commands (the evaluate stage) shows up as an event's
    `previous` that is not on top, or as a current alias that is not: it is pushed then.
    """
    chain: list[str] = []
    for event in events:
        if event["action"] == "revert":
            if chain:
                chain.pop()
            if not chain or chain[-1] != event["version"]:
                chain.append(event["version"])
            continue
        previous = event.get("previous")
        if previous and (not chain or chain[-1] != previous):
            chain.append(previous)
        chain.append(event["version"])
    if current and (not chain or chain[-1] != current):
        chain.append(current)
    return chain


def previous_champion(client: MlflowClient, name: str, current: str) -> str:
    """The champion before the current one (history, else the gate's earlier champions)."""
    chain = champion_chain(history(client, name), current)
    if len(chain) >= 2:
        return chain[-2]
    earlier = [v for v in gate_champions(client, name) if int(v) < int(current)]
    if not earlier:
        raise LeadscoreError(
            f"no previous champion of {name} recorded before version {current}",
            exit_code=EXIT_MODEL,
        )
    return earlier[-1]


def record_change(
    client: MlflowClient,
    *,
    name: str,
    action: str,
    version: str,
    previous: str | None,
    by: str | None,
    reason: str,
) -> dict[str, Any]:
    """Move the alias, then record the event (version tags + one history tag)."""
    moment = pd.Timestamp.now(tz="UTC")
    event = {
        "action": action,
        "version": version,
        "previous": previous,
        "by": (by or getpass.getuser()).strip(),
        "at": moment.isoformat(),
        "reason": reason,
    }
    client.set_registered_model_alias(name, CHAMPION, version)
    for key in ("action", "by", "at", "reason"):
        client.set_model_version_tag(name, version, f"champion.{key}", str(event[key]))
    if previous and previous != version:
        client.set_model_version_tag(name, previous, "champion.until", event["at"])
    key = f"{HISTORY_PREFIX}{moment.strftime('%Y%m%dT%H%M%S%fZ')}"
    client.set_registered_model_tag(name, key, json.dumps(event, sort_keys=True))
    return event


def existing_version(client: MlflowClient, name: str, version: str) -> str:
    """The version as text after checking the store has it."""
    try:
        return str(client.get_model_version(name, str(version)).version)
    except MlflowException as exc:
        raise LeadscoreError(
            f"{name} has no version {version}: {exc.message}", exit_code=EXIT_MODEL
        ) from exc


def promote(
    version: Annotated[str, typer.Option(help="Version to make the champion.")],
    reason: Reason = "",
    by: By = None,
    model_name: Name = MODEL_NAME,
) -> None:
    """Make a version the champion; who, when and why are recorded."""
    configure_tracking()
    client = MlflowClient()
    version = existing_version(client, model_name, version)
    current = champion_version(client, model_name)
    if current == version:
        typer.echo(f"{model_name} version {version} is already the champion: nothing recorded")
        return
    event = record_change(
        client,
        name=model_name,
        action="promote",
        version=version,
        previous=current,
        by=by,
        reason=reason,
    )
    typer.echo(
        f"{model_name} version {version} is the champion (was {current or 'none'});"
        f" by {event['by']} at {event['at']}"
    )
    warn_unapproved(client, model_name, version)


def revert(reason: Reason = "", by: By = None, model_name: Name = MODEL_NAME) -> None:
    """Give the champion alias back to the previous champion; recorded like a promotion."""
    configure_tracking()
    client = MlflowClient()
    current = champion_version(client, model_name)
    if current is None:
        raise LeadscoreError(f"{model_name} has no champion to revert", exit_code=EXIT_MODEL)
    target = existing_version(client, model_name, previous_champion(client, model_name, current))
    event = record_change(
        client,
        name=model_name,
        action="revert",
        version=target,
        previous=current,
        by=by,
        reason=reason,
    )
    typer.echo(
        f"{model_name} champion reverted from version {current} to {target};"
        f" by {event['by']} at {event['at']}"
    )
    warn_unapproved(client, model_name, target)


def warn_unapproved(client: MlflowClient, name: str, version: str) -> None:
    """Say so when the new champion would score with unapproved thresholds."""
    if load_approval(client=client, model_name=name, version=version) is None:
        typer.echo(
            f"warning: version {version} has no approved thresholds: scoring uses the proposed"
            f" ones and marks rows 'proposed' (leadscore thresholds approve --version {version})",
            err=True,
        )


def version_rows(client: MlflowClient, name: str) -> list[dict[str, Any]]:
    """One row per version, newest first: metrics of its run, approval, aliases, gate."""
    rows = []
    aliases: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(name).aliases.items():
        aliases.setdefault(str(version), []).append(alias)  # (search results lack aliases)
    versions = client.search_model_versions(f"name = '{name}'")
    for mv in sorted(versions, key=lambda v: -int(v.version)):
        try:
            metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
        except MlflowException:
            metrics = {}
        approval = load_approval(client=client, model_name=name, version=str(mv.version))
        gate = json.loads(mv.tags.get(GATE_TAG) or "{}")
        rows.append(
            {
                "version": str(mv.version),
                "created_at": pd.Timestamp(mv.creation_timestamp, unit="ms", tz="UTC").isoformat(),
                "aliases": sorted(aliases.get(str(mv.version), [])),
                "metrics": {key: metrics[key] for key in METRICS if key in metrics},
                "approval": None
                if approval is None
                else {k: approval.get(k) for k in ("approved_by", "approved_at", "edited")},
                "gate_passed": gate.get("promoted"),
                "run_id": mv.run_id,
            }
        )
    return rows


def list_versions(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    model_name: Name = MODEL_NAME,
) -> None:
    """Versions with their metrics and approval; the champion now and its history."""
    configure_tracking()
    client = MlflowClient()
    events = history(client, model_name)
    current = champion_version(client, model_name)
    listing = {
        "model": model_name,
        "champion": current,
        "versions": version_rows(client, model_name),
        "history": events,
        "champion_chain": champion_chain(events, current),
    }
    if as_json:
        typer.echo(json.dumps(listing, indent=2, sort_keys=True))
        return
    console = Console()
    console.print(versions_table(listing))
    console.print(f"Champion now: version {current or 'none'}")
    for event in events:
        console.print(
            f"  {event['at'][:19]}  {event['action']:<7} -> v{event['version']}"
            f" (was v{event.get('previous') or '-'}) by {event['by']}"
            + (f": {event['reason']}" if event.get("reason") else "")
        )


def versions_table(listing: dict[str, Any]) -> Table:
    """The rich table `model list` prints."""
    table = Table(title=f"{listing['model']}: registered versions (test-cohort metrics)")
    for header in ("Version", "Created", "Aliases", *METRICS.values(), "Gate", "Approval"):
        table.add_column(header)
    for row in listing["versions"]:
        approval = row["approval"]
        table.add_row(
            row["version"],
            row["created_at"][:16].replace("T", " "),
            ", ".join(row["aliases"]) or "–",
            *(
                "–" if key not in row["metrics"] else f"{row['metrics'][key]:.3f}"
                for key in METRICS
            ),
            {True: "passed", False: "failed", None: "–"}[row["gate_passed"]],
            "not approved"
            if approval is None
            else f"{approval['approved_by']} {str(approval['approved_at'])[:10]}",
        )
    return table
