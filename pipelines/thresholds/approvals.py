"""Threshold approval: who approved which thresholds for which model version, and when.

The record lives in two places that must agree: tags on the MLflow model version (what
scoring reads) and a JSON file under `data/approvals/` (what a reviewer can diff). An approval
never erases the one before: each is appended to the version's history (the JSON-list tag
`approval_history`, and one line of `<model>-v<version>.history.jsonl`); the latest is in force.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipelines.errors import EXIT_MODEL, LeadscoreError
from pipelines.io import write_json

logger = logging.getLogger(__name__)

APPROVALS_DIR = Path("data/approvals")
APPROVAL_TAG = "approved_thresholds"  # the approval in force (the latest)
HISTORY_TAG = "approval_history"  # every approval of the version, oldest first (a JSON list)
APPROVED = "approved"
PROPOSED = "proposed"


def approval_file(*, model_name: str, version: str, directory: Path = APPROVALS_DIR) -> Path:
    """Where the approval of one model version is written."""
    return Path(directory) / f"{model_name}-v{version}.json"


def history_file(*, model_name: str, version: str, directory: Path = APPROVALS_DIR) -> Path:
    """Where every approval of one model version is appended, one JSON record a line."""
    return Path(directory) / f"{model_name}-v{version}.history.jsonl"


def record_approval(
    *,
    client: MlflowClient,
    model_name: str,
    version: str,
    mql_threshold: float,
    sql_threshold: float,
    approved_by: str,
    note: str = "",
    directory: Path = APPROVALS_DIR,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an approval as model-version tags and as a JSON file, appended to the version's
    history (tag and JSONL file); returns the record.

    `details` (e.g. the proposed values, whether they were edited, the expected effect) is
    stored with the record; the keys scoring reads always win.
    """
    if not approved_by.strip():
        raise LeadscoreError("an approval needs the approver's name (--by)")
    if mql_threshold > sql_threshold:
        raise LeadscoreError(
            f"MQL threshold {mql_threshold} is above the SQL threshold {sql_threshold}"
        )
    for name, value in (("MQL", mql_threshold), ("SQL", sql_threshold)):
        if not 0.0 <= float(value) <= 1.0:
            raise LeadscoreError(f"{name} threshold {value} is not a probability in [0, 1]")
    record = {
        **dict(details or {}),
        "model_name": model_name,
        "model_version": str(version),
        "mql_threshold": float(mql_threshold),
        "sql_threshold": float(sql_threshold),
        "approved_by": approved_by.strip(),
        "approved_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "note": note,
    }
    try:
        history = load_approval_history(client=client, model_name=model_name, version=version)
        client.set_model_version_tag(
            model_name, str(version), HISTORY_TAG, json.dumps([*history, record])
        )
        client.set_model_version_tag(model_name, str(version), APPROVAL_TAG, json.dumps(record))
        # flat copies, readable in the MLflow UI; the JSON tag above is what scoring reads
        for key in ("approved_by", "approved_at", "mql_threshold", "sql_threshold"):
            client.set_model_version_tag(
                model_name, str(version), f"approval.{key}", str(record[key])
            )
    except MlflowException as exc:
        raise LeadscoreError(
            f"cannot tag {model_name} version {version}: {exc.message}", exit_code=EXIT_MODEL
        ) from exc
    write_json(record, approval_file(model_name=model_name, version=version, directory=directory))
    with history_file(model_name=model_name, version=version, directory=directory).open("a") as f:
        f.write(json.dumps(record) + "\n")
    return record


def load_approval(*, client: MlflowClient, model_name: str, version: str) -> dict[str, Any] | None:
    """The approval recorded on a model version, or None when nobody approved it yet."""
    try:
        tags = client.get_model_version(model_name, str(version)).tags
    except MlflowException:
        return None
    payload = tags.get(APPROVAL_TAG)
    return json.loads(payload) if payload else None


def load_approval_history(
    *, client: MlflowClient, model_name: str, version: str
) -> list[dict[str, Any]]:
    """Every approval recorded on a model version, oldest first (empty when none).

    A version approved before the history was kept has its one approval as its history.
    """
    try:
        tags = client.get_model_version(model_name, str(version)).tags
    except MlflowException:
        return []
    if tags.get(HISTORY_TAG):
        return list(json.loads(tags[HISTORY_TAG]))
    return [json.loads(tags[APPROVAL_TAG])] if tags.get(APPROVAL_TAG) else []
