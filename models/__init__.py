"""Conversion model, calibration, stage thresholds, points baseline and metrics (no I/O)."""
