"""User-facing errors.

Anything a user can cause (a bad path, a malformed line in ``--strict``
mode, a missing kernel feature) raises :class:`OomnbError`; the CLI prints
it as one line on stderr and exits non-zero, never with a traceback.
"""


class OomnbError(Exception):
    """An error caused by input or environment, reported as one line."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class Refused(OomnbError):
    """A dangerous tool refused to run (the reason says what is missing)."""

    exit_code = 3
