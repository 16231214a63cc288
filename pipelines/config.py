"""Loading params.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipelines.errors import InputError

DEFAULT_PARAMS = Path("params.yaml")


def load_params(path: Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Read params.yaml into a dict; a missing or malformed file is an InputError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read params file {path}: {exc.strerror or exc}") from exc
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"params file {path} is not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise InputError(f"params file {path} must hold a mapping of sections")
    return params


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """One section of params, or an InputError naming it."""
    value = params.get(name)
    if not isinstance(value, dict):
        raise InputError(f"params.yaml has no '{name}' section")
    return value
