"""The feature table's strict schema at the stage boundary: failures read as words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import FeatureConfig, build_feature_table
from pipelines.errors import DataQualityError
from pipelines.stages.featurize import validate_feature_table

CONFIG = FeatureConfig(categorical=("industry",), numeric=("employees",), behavioural=False)


def training_table() -> pd.DataFrame:
    leads = pd.DataFrame({"lead_id": ["a", "b"], "industry": ["x", "y"], "employees": ["5", "9"]})
    moments = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[ns, UTC]")
    table = build_feature_table(leads=leads, activities=None, as_of=moments, config=CONFIG)
    return table.assign(label=[0, 1], cohort=["train", "test"])


def test_a_valid_table_passes():
    table = training_table()
    pd.testing.assert_frame_equal(
        validate_feature_table(table, config=CONFIG, training=True), table
    )


def test_schema_failures_name_the_column_and_the_check():
    broken = training_table().assign(employees=[np.inf, 3.0], email=["a@b.com", "c@d.com"])
    with pytest.raises(DataQualityError) as failure:
        validate_feature_table(broken, config=CONFIG, training=True)
    message = str(failure.value)
    assert "feature table failed its schema" in message
    assert "employees" in message and "finite" in message
    assert "email" in message  # strict: an undeclared column (here PII) is refused
    assert "\n" not in message  # one line for the CLI
