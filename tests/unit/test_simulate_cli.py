"""`livecart simulate` without a server: one clear message naming what to start, no traceback."""

from __future__ import annotations

from typer.testing import CliRunner

from livecart.cli.main import PIPELINE, app
from livecart.core.settings import LivecartSettings
from tests.served_world import free_port


def test_cli_simulate__no_server__names_livecart_serve_and_exits_2(
    settings: LivecartSettings,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = CliRunner().invoke(app, ["simulate", "--url", url, "--seconds", "1"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.stderr.split())
    assert f"no livecart server answers at {url}" in message and "`livecart serve`" in message
    assert PIPELINE.index("serve") < PIPELINE.index("simulate")  # listed with serving
