"""Conversion model, calibration, stage thresholds, points baseline and metrics (no I/O)."""

import features  # noqa: F401  (its warning filters apply to every leadscore package)
