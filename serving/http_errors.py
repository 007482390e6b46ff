"""Error answers that can always be sent: a 422 or 4xx never turns into a 500 on the way out.

FastAPI's own handlers repeat the offending input in the answer, and JSON parsing lets through
what a JSON encoder then refuses: ``NaN`` and ``Infinity`` (Python's ``json`` reads them; the
answer's strict encoder does not) and lone surrogates (``"\\ud800"`` decodes to a string no UTF-8
encoder takes). Both handlers here render the same detail with such values made printable:
non-finite numbers as their names, surrogates escaped. What is validated is unchanged.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.schemas import printable


def json_safe(value: Any) -> Any:
    """``value`` (JSON-like) with non-finite floats as strings and lone surrogates escaped."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's detail (field, rule, input), made sendable."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else [str(exc)]
    return JSONResponse(status_code=422, content={"detail": json_safe(jsonable_encoder(errors))})


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's answer to an :class:`HTTPException`, its detail made sendable."""
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    return JSONResponse(
        status_code=exc.status_code,
        content={"detail": json_safe(jsonable_encoder(exc.detail))},
        headers=exc.headers,
    )


def install(app: FastAPI) -> None:
    """Register both handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
