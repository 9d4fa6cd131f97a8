"""Errors that reach the user as one line."""


class UsageError(ValueError):
    """Bad user input: printed as one line, exit status 2, nothing written."""
