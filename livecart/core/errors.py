"""Errors that name what is wrong and where: the file, the column and the rule.

:func:`user_message` decides, in one place, which exceptions are the user's (or their machine's)
and not a bug: livecart's own errors, and the operating system refusing a path (no permission,
a read-only or full disk, a directory where a file belongs). Everything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import errno
from typing import Final


class LivecartError(Exception):
    """Base class of livecart's user-facing errors (printed without a stack trace by the CLI)."""


class ContractError(LivecartError, ValueError):
    """Input that breaks the data contract as a whole (a missing column, a wrong type)."""

    def __init__(self, origin: str, column: str | None, rule: str) -> None:
        self.origin = origin
        self.column = column
        self.rule = rule
        where = f"{origin}, column {column!r}" if column else origin
        super().__init__(f"{where}: {rule}")


class GateBlocked(LivecartError, RuntimeError):
    """A validation gate stopped a job because too much of a batch failed its suite."""


class StageError(LivecartError, RuntimeError):
    """A pipeline stage failed; the message names the stage and the fix."""

    def __init__(self, stage: str, problem: str, fix: str) -> None:
        self.stage = stage
        self.fix = fix
        super().__init__(f"stage '{stage}' failed: {problem}\n  fix: {fix}")


_PATH_ERRNOS: Final = {
    errno.EACCES: "permission denied (check its owner and mode, or set LIVECART_HOME)",
    errno.EPERM: "operation not permitted (check its owner and mode, or set LIVECART_HOME)",
    errno.EROFS: "read-only file system (set LIVECART_HOME to a writable directory)",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "a directory, where a file is expected",
    errno.ENOTDIR: "not a directory (a file is in the way)",
}
# DuckDB reports the operating system's refusals as IOException text, without an errno.
_DUCKDB_REFUSALS: Final = ("Permission denied", "Read-only file system", "No space left on device")


def user_message(error: BaseException) -> str | None:
    """The one-line message of an error the user can fix, or None for a bug.

    An error raised in a Ray task is judged by its cause (the worker's exception).
    """
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    if isinstance(error, LivecartError):
        return str(error)
    if isinstance(error, OSError) and error.errno in _PATH_ERRNOS:
        where = error.filename if error.filename is not None else "a path"
        also = f" -> {error.filename2}" if error.filename2 is not None else ""
        return f"{where}{also}: {_PATH_ERRNOS[error.errno]}"
    kind = type(error)
    if kind.__name__ == "IOException" and kind.__module__.lstrip("_").startswith("duckdb"):
        first = str(error).splitlines()[0] if str(error) else ""
        if any(refusal in first for refusal in _DUCKDB_REFUSALS):
            return f"{first} (check the path's owner and mode, or set LIVECART_HOME)"
    return None
