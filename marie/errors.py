"""Every error that reaches the user, its exit status, and the one function that turns an exception into both.

Torch-free and free of other marie imports, so that any layer can raise these and ``marie.cli`` can map them
without loading the training loop.
"""

from __future__ import annotations


class MarieError(Exception):
    """An error printed to the user as one line; ``exit_code`` is the process exit status."""

    exit_code = 1


class UsageError(MarieError, ValueError):
    """Bad user input: printed as one line, exit status 2, nothing written."""

    exit_code = 2


class RunDirectoryError(UsageError):
    """A run directory that cannot be resumed as it is (in use, damaged, or holding another config): one line naming
    the file and what to do, exit status 2, nothing changed in it."""


class EnvUnavailableError(MarieError, RuntimeError):
    """A simulator is not installed here; the message names it and how to get it (one line)."""

    exit_code = 3


class TrainingDivergedError(MarieError, RuntimeError):
    """A loss became NaN/inf: the run stops, its last good checkpoint is kept."""

    exit_code = 4


INTERRUPTED_EXIT = 130  # the shell's convention for SIGINT
TERMINATED_EXIT = 143  # and for SIGTERM (SLURM preemption, scancel)
INTERRUPTED_MESSAGE = "interrupted; rerun the same command to resume from the last checkpoint"


class RunStopped(MarieError):
    """SIGINT or SIGTERM asked the run to stop: it saved a final checkpoint first. Exit 130 / 143 (128 + signal)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def exit_status(exc: BaseException) -> tuple[int, str] | None:
    """(exit status, one-line message) for an error meant for the user; None for anything else (a bug: re-raise)."""
    if isinstance(exc, MarieError):
        return exc.exit_code, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED_EXIT, INTERRUPTED_MESSAGE
    return None
