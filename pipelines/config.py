"""Loading params.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipelines.errors import InputError
from pipelines.io import atomic_path

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


def apply_overrides(*, params_path: Path, override_path: Path) -> list[str]:
    """Write `section.key` values of an override file into params.yaml, keeping its comments.

    The granularity is that of `dvc exp run -S section.key=value`: a key's whole value is
    replaced. Returns the keys that changed.
    """
    from ruamel.yaml import YAML  # only this command needs round-trip YAML

    overrides = load_params(override_path)
    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096  # keep long flow lists on one line, as written
    yaml_rt.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    params = yaml_rt.load(Path(params_path).read_text(encoding="utf-8"))
    changed = []
    for section_name, values in overrides.items():
        if not isinstance(values, dict):
            raise InputError(f"{override_path}: section '{section_name}' must be a mapping")
        target = params.setdefault(section_name, {})
        for key, value in values.items():
            if target.get(key) != value:
                target[key] = value
                changed.append(f"{section_name}.{key}")
    with atomic_path(Path(params_path)) as tmp, tmp.open("w", encoding="utf-8") as handle:
        yaml_rt.dump(params, handle)
    return changed
