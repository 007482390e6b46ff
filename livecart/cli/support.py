"""Shared pieces of the `livecart` command line: the console and the error wrapper."""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from livecart.core.errors import LivecartError

console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print livecart's own errors as one message and exit 2; let real bugs show their trace."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="feast")
        logging.getLogger("feast").setLevel(logging.WARNING)
        try:
            return command(*args, **kwargs)
        except (LivecartError, ValidationError) as error:
            console.print(f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper
