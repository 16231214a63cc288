"""What the monitor needs from the model that scored: its label horizon and its promises."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import EXIT_MODEL, LeadscoreError

logger = logging.getLogger(__name__)

HORIZON_PARAM = "label.horizon_days"  # logged by the train stage from params.yaml


@dataclass(frozen=True)
class ScoringModel:
    """The registered model version behind a scores file, as far as the store knows it."""

    name: str
    version: str
    horizon_days: float
    horizon_from: str
    thresholds: dict[str, Any] = field(default_factory=dict)
    approval: dict[str, Any] | None = None
    found: bool = True


def scoring_model(*, name: str, version: str, horizon_override: float | None) -> ScoringModel:
    """The model version's horizon (its training run's `label.horizon_days`), thresholds and
    approval; `horizon_override` wins. A model the store does not hold is an error unless the
    horizon is given."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from pipelines.thresholds.approvals import load_approval
    from pipelines.thresholds.commands import proposed_thresholds
    from pipelines.tracking import configure_tracking

    uri = configure_tracking()
    client = MlflowClient()
    try:
        run_id = client.get_model_version(name, version).run_id
        params = client.get_run(run_id).data.params if run_id else {}
        thresholds = proposed_thresholds(name, version)
    except (MlflowException, LeadscoreError, OSError) as exc:
        message = str(getattr(exc, "message", exc)).strip().splitlines()[0]
        if horizon_override is None:
            raise LeadscoreError(
                f"horizon unknown: model {name} version {version} not readable in {uri}"
                f" ({message}); pass --horizon-days",
                exit_code=EXIT_MODEL,
            ) from exc
        logger.warning(
            "model %s version %s not readable (%s): no promised precision", name, version, message
        )
        return ScoringModel(name, version, float(horizon_override), "--horizon-days", found=False)
    approval = load_approval(client=client, model_name=name, version=version)
    if horizon_override is not None:
        horizon, source = float(horizon_override), "--horizon-days"
    elif params.get(HORIZON_PARAM) not in (None, "None"):
        horizon, source = float(params[HORIZON_PARAM]), f"training run param {HORIZON_PARAM}"
    else:
        raise LeadscoreError(
            f"horizon unknown: the training run of {name} version {version} has no"
            f" {HORIZON_PARAM} param; pass --horizon-days",
            exit_code=EXIT_MODEL,
        )
    return ScoringModel(name, version, horizon, source, thresholds, approval)
