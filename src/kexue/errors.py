"""Errors that mean bad input (a file, a key, a value) rather than a bug.

The command line reports them in one line, without a traceback; every message names the file, key or
value at fault and what was expected.
"""


class InputError(Exception):
    """Base of the errors caused by what the user gave us."""


class DataFormatError(InputError, ValueError):
    """A data file is not in the format its reader expects."""


EXPECTED_ERRORS: tuple[type[BaseException], ...] = (InputError, FileNotFoundError)
