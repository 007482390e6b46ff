"""Serving's guards that need no server: error answers, the token check, the exposure check, and
`livecart serve`'s stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from pydantic import SecretStr

from livecart.cli.serve import sigterm_as_interrupt
from livecart.core.settings import LivecartSettings
from serving import http_errors
from serving.schemas import EventsRequest, ReloadRequest, StreamerRequest, ViewerRequest
from serving.service import (
    DEFAULT_API_TOKEN,
    UnsafeExposure,
    check_exposure,
    check_token,
)

OWN_TOKEN = SecretStr("s3cret-of-our-own")


@pytest.fixture(scope="module")
def client() -> TestClient:
    """The request models of the real routes behind the error handlers the real app installs."""
    app = FastAPI()
    http_errors.install(app)

    @app.post("/events")
    def events(request: EventsRequest) -> int:
        return len(request.events)

    @app.post("/viewer")
    def viewer(request: ViewerRequest) -> str:
        return request.viewer_id

    @app.post("/streamer")
    def streamer(request: StreamerRequest) -> str:
        return request.room_id

    @app.get("/refuse")
    def refuse(name: str) -> None:  # a detail repeating what a client sent, as a route may
        raise HTTPException(404, detail={"unknown": f"{name}\ud800", "score": float("nan")})

    @app.post("/reload")
    def reload(request: ReloadRequest) -> int | None:
        return request.version

    return TestClient(app, raise_server_exceptions=False)


def test_serving_app__installs_the_sendable_error_handlers() -> None:
    from serving.app import api

    assert api.exception_handlers[RequestValidationError] is http_errors.validation_error
    assert api.exception_handlers[HTTPException] is http_errors.http_error


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/events", '{"events": NaN}', "events"),
        ("/events", '{"events": [{}], "x": Infinity}', "x"),
        ("/events", '{"events": [{}], "\\ud800": "\\udc00"}', "body"),
        ("/viewer", '{"viewer_id": "a", "k": Infinity}', "k"),
        ("/viewer", '{"viewer_id": "a", "k": -Infinity}', "k"),
        ("/viewer", '{"viewer_id": "\\ud800"}', "viewer_id"),
        ("/viewer", '{"viewer_id": "a", "room_id": "r\\udfff"}', "room_id"),
        ("/viewer", '{"viewer_id": "a", "filters": {"categories": ["\\ud800"]}}', "categories"),
        ("/viewer", '{"viewer_id": "a", "filters": {"max_price": NaN}}', "max_price"),
        ("/viewer", '{"viewer_id": "a", "filters": {"max_price": 1e400}}', "max_price"),
        ("/viewer", '{"viewer_id": "a", "k": ' + "9" * 400 + "}", "k"),
        ("/streamer", '{"room_id": "\\ud800"}', "room_id"),
        ("/streamer", '{"room_id": "r", "k": NaN}', "k"),
        ("/reload", '{"version": NaN}', "version"),
        ("/reload", '{"version": 1e400}', "version"),
    ],
)
def test_error_answers__non_finite_huge_or_surrogate_input__422_naming_the_field(
    client: TestClient, path: str, body: str, field: str
) -> None:
    answer = client.post(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    detail: list[dict[str, Any]] = json.loads(answer.content)["detail"]
    assert any(field in [str(part) for part in error["loc"]] for error in detail), detail


def test_error_answers__http_exception_detail_with_surrogate_and_nan__sent_escaped(
    client: TestClient,
) -> None:
    answer = client.get("/refuse", params={"name": "room "})
    assert answer.status_code == 404, answer.text
    assert json.loads(answer.content)["detail"] == {"unknown": "room \\ud800", "score": "nan"}


@pytest.mark.parametrize(
    "header",
    ["Bearer é", "Bearer \u20ac", "Bearer \ud800", "Bearer " + "é".encode().decode("latin-1")],
)
def test_check_token__non_ascii_header__401_not_an_error(header: str) -> None:
    settings = LivecartSettings(api_token=OWN_TOKEN)
    with pytest.raises(HTTPException) as refused:
        check_token(settings, header)
    assert refused.value.status_code == 401


def test_check_token__non_ascii_token_sent_as_utf8__accepted() -> None:
    settings = LivecartSettings(api_token=SecretStr("tök"))
    check_token(settings, "Bearer " + "tök".encode().decode("latin-1"))  # as Starlette decodes
    check_token(LivecartSettings(api_token=OWN_TOKEN), f"Bearer {OWN_TOKEN.get_secret_value()}")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_check_exposure__default_token_on_reachable_host__refused_saying_how(host: str) -> None:
    settings = LivecartSettings(serve_host=host)
    assert settings.api_token.get_secret_value() == DEFAULT_API_TOKEN
    with pytest.raises(UnsafeExposure, match="LIVECART_API_TOKEN") as refused:
        check_exposure(settings)
    assert host in str(refused.value)
    assert check_exposure(LivecartSettings(serve_host=host, api_token=OWN_TOKEN)) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "localhost", "::1", "[::1]"])
def test_check_exposure__default_token_on_loopback__served_with_a_warning(host: str) -> None:
    warning = check_exposure(LivecartSettings(serve_host=host))
    assert warning and "LIVECART_API_TOKEN" in warning
    assert check_exposure(LivecartSettings(serve_host=host, api_token=OWN_TOKEN)) is None


def test_sigterm_as_interrupt__sigterm_in_block__keyboard_interrupt_then_handler_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 1.0)  # let the handler run
    assert signal.getsignal(signal.SIGTERM) is before
