"""Errors that name what is wrong and where: the file, the column and the rule."""

from __future__ import annotations


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
