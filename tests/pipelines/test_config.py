"""Typed params: defaults declared once, wrong types and unknown keys named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.config import (
    ExtractParams,
    Params,
    ThresholdsParams,
    apply_overrides,
    load_config,
    parse_params,
)
from pipelines.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
SOURCE = {"leads": "leads.csv"}


def test_the_shipped_params_and_dataset_overrides_load(tmp_path):
    params = load_config(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.thresholds.bootstrap_samples == 1000
    assert params.features.windows_days == (7, 30, 90)
    for override in sorted((ROOT / "params/datasets").glob("*.yaml")):
        copy = tmp_path / "params.yaml"
        copy.write_text((ROOT / "params.yaml").read_text())
        apply_overrides(params_path=copy, override_path=override)
        assert load_config(copy).source.kind == "files"


def test_absent_sections_and_keys_take_the_defaults_and_null_means_default():
    params = parse_params({"source": SOURCE, "extract": {"max_future_skew_hours": None}})
    assert params.extract == ExtractParams()
    assert params.thresholds == ThresholdsParams()
    assert params.source.created_at_column == "created_at"
    # where None means something, null is kept
    assert (
        parse_params({"source": {**SOURCE, "created_at_column": None}}).source.created_at_column
        is None
    )


def test_values_are_typed():
    params = parse_params(
        {"source": {**SOURCE, "missing_values": [999]}, "label": {"observation_days": 14}}
    )
    assert params.label.observation_days == 14.0 and isinstance(
        params.label.observation_days, float
    )
    assert params.source.missing_values == ("999",)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"source": SOURCE, "train": {"min_positives": "many"}}, "train.min_positives must be"),
        ({"source": SOURCE, "evaluate": {"ece_bins": True}}, "evaluate.ece_bins must be"),
        ({"extract": {}}, "has no 'source' section"),
        ({"source": {"kind": "files"}}, "source.leads is required"),
    ],
)
def test_wrong_params_are_one_line_input_errors(raw, message):
    with pytest.raises(InputError, match=message) as error:
        parse_params(raw)
    assert "\n" not in str(error.value)


def test_a_stage_reports_a_wrong_type_with_the_input_exit_code(tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.errors import EXIT_INPUT

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"source": SOURCE, "extract": {"max_bad_row_share": "x"}}))
    result = CliRunner().invoke(app, ["extract", "--params", str(params)])
    assert result.exit_code == EXIT_INPUT
    assert "extract.max_bad_row_share must be a number" in result.output


def test_unknown_keys_are_named_with_the_nearest_known_one_and_ignored(caplog):
    raw = {"source": SOURCE, "thresholds": {"sql_precison": 0.9}, "trian": {}}
    with caplog.at_level("WARNING", logger="pipelines.config"):
        params = parse_params(raw)
    assert (
        params.thresholds.sql_precision == parse_params({"source": SOURCE}).thresholds.sql_precision
    )
    assert (
        "unknown key thresholds.sql_precison ignored (did you mean 'sql_precision'?)" in caplog.text
    )
    assert "unknown section trian ignored (did you mean 'train'?)" in caplog.text
