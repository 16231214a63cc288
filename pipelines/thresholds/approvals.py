"""Threshold approval: who approved which thresholds for which model version, and when.

The record lives in two places that must agree: tags on the MLflow model version (what
scoring reads) and a JSON file under `data/approvals/` (what a reviewer can diff). An approval
never erases the one before: each is appended to the version's history (the JSON-list tag
`approval_history`, and one line of `<model>-v<version>.history.jsonl`); the latest is in force.

With per-segment thresholds a record may also approve segments (`segments`: {value:
{mql_threshold, sql_threshold, approved_by, approved_at, note, ...}}); its global
`mql_threshold`/`sql_threshold` are absent when only segments were ever approved (the global
thresholds stay proposed). Approving some segments keeps the rest of the approval in force.
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
SEGMENTS = "segments"  # {segment value: {mql_threshold, sql_threshold, approved_by, ...}}
GLOBAL_APPROVAL = "global_approval"  # who approved the global thresholds, when, why
ACT_KEYS = ("approved_by", "approved_at", "note")  # the approval act that wrote a record
FLAT_KEYS = ("approved_by", "approved_at", "mql_threshold", "sql_threshold")


def approval_file(*, model_name: str, version: str, directory: Path = APPROVALS_DIR) -> Path:
    """Where the approval of one model version is written."""
    return Path(directory) / f"{model_name}-v{version}.json"


def history_file(*, model_name: str, version: str, directory: Path = APPROVALS_DIR) -> Path:
    """Where every approval of one model version is appended, one JSON record a line."""
    return Path(directory) / f"{model_name}-v{version}.history.jsonl"


def check_thresholds(mql_threshold: float, sql_threshold: float, *, segment: str | None) -> None:
    """MQL at most SQL, both probabilities; `segment` names the segment in the message."""
    where = "" if segment is None else f"segment {segment!r}: "
    if mql_threshold > sql_threshold:
        raise LeadscoreError(
            f"{where}MQL threshold {mql_threshold} is above the SQL threshold {sql_threshold}"
        )
    for name, value in (("MQL", mql_threshold), ("SQL", sql_threshold)):
        if not 0.0 <= float(value) <= 1.0:
            raise LeadscoreError(f"{where}{name} threshold {value} is not a probability in [0, 1]")


def approves_global(record: Mapping[str, Any] | None) -> bool:
    """Whether an approval holds global thresholds (a segments-only one leaves them proposed)."""
    return bool(record) and record.get("mql_threshold") is not None


def global_approver(record: Mapping[str, Any]) -> dict[str, Any]:
    """Who approved the global thresholds of a record, when, and why (`approved_by`,
    `approved_at`, `note`): the record's own approver unless they were kept from an earlier one."""
    return dict(record.get(GLOBAL_APPROVAL) or {key: record.get(key) for key in ACT_KEYS})


def build_record(
    *,
    model_name: str,
    version: str,
    approved_by: str,
    note: str,
    mql_threshold: float | None,
    sql_threshold: float | None,
    details: Mapping[str, Any] | None,
    segments: Mapping[str, Mapping[str, Any]] | None,
    keep: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The approval record: the given parts approved now, the rest of `keep` still in force."""
    if not approved_by.strip():
        raise LeadscoreError("an approval needs the approver's name (--by)")
    if (mql_threshold is None) != (sql_threshold is None):
        raise LeadscoreError("approve both the MQL and the SQL threshold, or neither")
    if mql_threshold is None and not segments:
        raise LeadscoreError("nothing to approve: neither global thresholds nor a segment")
    act = {
        "approved_by": approved_by.strip(),
        "approved_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "note": note,
    }
    keep = dict(keep or {})
    if mql_threshold is not None and sql_threshold is not None:
        check_thresholds(mql_threshold, sql_threshold, segment=None)
        record = {
            **dict(details or {}),
            "mql_threshold": float(mql_threshold),
            "sql_threshold": float(sql_threshold),
            GLOBAL_APPROVAL: dict(act),
        }
    else:  # the global thresholds (if any) stay as `keep` approved them
        record = {k: v for k, v in keep.items() if k not in (*ACT_KEYS, SEGMENTS)}
        if approves_global(keep):
            record[GLOBAL_APPROVAL] = global_approver(keep)
    approved_segments = dict(keep.get(SEGMENTS) or {})
    for value, entry in (segments or {}).items():
        mql, sql = float(entry["mql_threshold"]), float(entry["sql_threshold"])
        check_thresholds(mql, sql, segment=str(value))
        approved_segments[str(value)] = {
            **dict(entry),
            "mql_threshold": mql,
            "sql_threshold": sql,
            **act,
        }
    record |= {"model_name": model_name, "model_version": str(version), **act}
    if approved_segments:
        record[SEGMENTS] = approved_segments
    return record


def record_approval(
    *,
    client: MlflowClient,
    model_name: str,
    version: str,
    approved_by: str,
    mql_threshold: float | None = None,
    sql_threshold: float | None = None,
    note: str = "",
    directory: Path = APPROVALS_DIR,
    details: Mapping[str, Any] | None = None,
    segments: Mapping[str, Mapping[str, Any]] | None = None,
    keep: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an approval as model-version tags and as a JSON file, appended to the version's
    history (tag and JSONL file); returns the record.

    `mql_threshold`/`sql_threshold`: the global thresholds (both or neither). `segments`
    ({value: {mql_threshold, sql_threshold, ...details}}) approves those segments. `keep`
    (usually the approval in force) keeps what this approval does not replace: its global
    thresholds when none are given, its other segments. `details` (e.g. the proposed values,
    whether they were edited, the expected effect) is stored with the global thresholds; the
    keys scoring reads always win.
    """
    record = build_record(
        model_name=model_name,
        version=version,
        approved_by=approved_by,
        note=note,
        mql_threshold=mql_threshold,
        sql_threshold=sql_threshold,
        details=details,
        segments=segments,
        keep=keep,
    )
    flat = {key: record[key] for key in (*FLAT_KEYS, SEGMENTS) if key in record}
    if SEGMENTS in flat:
        flat[SEGMENTS] = ",".join(flat[SEGMENTS])
    try:
        history = load_approval_history(client=client, model_name=model_name, version=version)
        client.set_model_version_tag(
            model_name, str(version), HISTORY_TAG, json.dumps([*history, record])
        )
        client.set_model_version_tag(model_name, str(version), APPROVAL_TAG, json.dumps(record))
        # flat copies, readable in the MLflow UI; the JSON tag above is what scoring reads
        for key, value in flat.items():
            client.set_model_version_tag(model_name, str(version), f"approval.{key}", str(value))
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
