"""Shared pieces of the `livecart` command line: the console, the error wrapper and `--json` output.

This module (like every module of the CLI) imports only light things at module level, so that
`livecart --help` answers at once: the jobs, and pydantic with the settings, load when a command
runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from datetime import time as time_of_day
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from livecart.core.errors import user_message

if TYPE_CHECKING:
    from livecart.core.settings import LivecartSettings

console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print one JSON object to stdout (only that); messages go to stderr."
    ),
]


def settings() -> LivecartSettings:
    """The livecart settings (imported on first use: pydantic is no part of `--help`)."""
    from livecart.core.settings import get_settings

    return get_settings()


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a user's errors (:func:`livecart.core.errors.user_message`, and invalid settings)
    as one message and exit 2; let real bugs show their trace."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from pydantic import ValidationError

        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="feast")
        logging.getLogger("feast").setLevel(logging.WARNING)
        try:
            return command(*args, **kwargs)
        except Exception as error:
            message = str(error) if isinstance(error, ValidationError) else user_message(error)
            if message is None:
                raise
            console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper


@contextlib.contextmanager
def stdout_to_stderr(active: bool) -> Iterator[None]:
    """While ``active`` (a `--json` run), whatever a job prints to stdout goes to stderr.

    Ray's log monitor, for one, prints worker lines to stdout; the JSON object stays alone there.
    """
    if not active:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def jsonable(value: object) -> Any:
    """``value`` as plain JSON data: paths as str, datetimes in ISO format, NaN as null."""
    if isinstance(value, Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    for method in ("model_dump", "tolist", "item"):  # pydantic models, numpy arrays and scalars
        convert = getattr(value, method, None)
        if callable(convert):
            return jsonable(convert())
    return str(value)


def print_json(payload: object) -> None:
    """Print ``payload`` as one JSON object on stdout."""
    typer.echo(json.dumps(jsonable(payload), indent=2))


def run_job(json_out: bool, job: Callable[[], R]) -> R | None:
    """Run ``job``. With ``--json``, print its result as the one JSON object on stdout (what the
    job itself prints goes to stderr) and return None: the caller prints nothing more."""
    with stdout_to_stderr(json_out):
        result = job()
    if json_out:
        print_json(result)
        return None
    return result


def counts_table(
    title: str, rows: Mapping[str, int], seconds: Mapping[str, float] | None = None
) -> RichTable:
    """Rows per table (and seconds per table when given), for the jobs that write tables."""
    table = RichTable(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    if seconds is not None:
        table.add_column("seconds", justify="right")
    for name, count in rows.items():
        cells = [name, f"{count:,}"]
        if seconds is not None:
            cells.append(f"{seconds.get(name, 0.0):.2f}")
        table.add_row(*cells)
    return table
