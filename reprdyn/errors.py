"""Errors about the user's input found after validation (a model, a dataset, a limit): exit 2, never a traceback."""


class InputError(ValueError):
    """Something the spec points at is missing, unreadable or does not fit; the message says what to do."""
