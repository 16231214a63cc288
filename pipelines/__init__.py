"""Stages, sources, scoring and the CLI: all I/O of leadscore lives here."""

import features  # noqa: F401  (its warning filters apply to every leadscore package)
