"""Stages, sources, scoring and the CLI: all I/O of leadscore lives here."""
