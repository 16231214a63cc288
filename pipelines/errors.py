"""Errors that stop a command with a one-line reason and a documented exit code."""

from __future__ import annotations

# Exit codes shared by every command (documented in the README).
EXIT_OK = 0
EXIT_INPUT = 2  # structural fault in an input: missing, unreadable, wrong format, missing column
EXIT_DATA_QUALITY = 3  # too many bad rows, or too little data to train
EXIT_GATE = 4  # a gate or target could not be met (e.g. --fail-on-drift)
EXIT_MODEL = 5  # model cannot be found or loaded


class LeadscoreError(Exception):
    """A failure the user can act on: printed as one line, never as a traceback."""

    exit_code: int = EXIT_INPUT

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(LeadscoreError):
    """An input file is missing, unreadable or structurally wrong."""

    exit_code = EXIT_INPUT


class DataQualityError(LeadscoreError):
    """The data is readable but not good enough to go on."""

    exit_code = EXIT_DATA_QUALITY
