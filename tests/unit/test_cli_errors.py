"""A user's mistake is one clear message and exit code 2, never a traceback: bad rows in a file
are quarantined (the good rows go through), a missing input names the command to run first, an
unwritable home and a directory given as a file name the path. A real bug keeps its traceback."""

from __future__ import annotations

import csv
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from livecart.cli.main import app
from livecart.cli.support import friendly_errors
from livecart.core.contract import SCHEMAS, Table
from livecart.core.io import write_source
from livecart.core.settings import LivecartSettings, get_settings

HEADER = b"user_id,item_id,timestamp\n"
GOOD = b"a,x,1700000000\nb,x,1700000001\nc,y,1700000002\nd,y,1700000003\n"


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _clean_error(result: Result) -> str:
    """The message of a user error: exit 2, no traceback; what it printed (stderr)."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return " ".join(result.stderr.split())  # the console wraps long lines


def _ingest(tmp_path: Path, content: bytes, name: str = "log.csv") -> Result:
    path = tmp_path / name
    path.write_bytes(content)
    return _invoke("ingest", "interactions", str(path), "--json")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b'e,"' + b"x" * (csv.field_size_limit() + 1) + b'",1', "over the CSV field size limit"),
        (b'e,"x",17000\r00004', "carriage return (CR) inside the row"),
    ],
    ids=["field-over-csv-limit", "stray-cr"],
)
def test_cli_ingest_interactions__one_unreadable_row__quarantined_not_a_traceback(
    settings: LivecartSettings, tmp_path: Path, bad: bytes, reason: str
) -> None:
    import pyarrow.parquet as pq

    result = _ingest(tmp_path, HEADER + GOOD + bad + b"\n")
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert '"events": 4' in result.stdout and '"quarantined": 1' in result.stdout
    quarantine = pq.read_table(settings.quarantine_dir / "ingest_interactions.parquet")
    assert reason in quarantine["quarantine_reason"][0].as_py()


def test_cli_ingest_interactions__cr_only_line_endings__every_row_read(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    result = _ingest(tmp_path, (HEADER + GOOD).replace(b"\n", b"\r"))
    assert result.exit_code == 0, result.output
    assert '"events": 4' in result.stdout and '"quarantined": 0' in result.stdout


def test_cli_ingest_interactions__header_only__clean_error_world_unchanged(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    message = _clean_error(_ingest(tmp_path, HEADER))
    assert "log.csv: no valid rows" in message
    assert f"the raw world in {settings.raw_dir} is unchanged" in message


@pytest.mark.parametrize("command", ["interactions", "twitch"])
def test_cli_ingest__directory_given_as_the_file__says_directory(
    settings: LivecartSettings, tmp_path: Path, command: str
) -> None:
    (tmp_path / "log.csv").mkdir()
    message = _clean_error(_invoke("ingest", command, str(tmp_path / "log.csv")))
    assert f"{tmp_path / 'log.csv'}: a directory, not a file" in message


def test_cli_train__before_validate__says_run_validate_first(settings: LivecartSettings) -> None:
    message = _clean_error(_invoke("train"))
    assert "stage 'train' failed" in message and str(settings.clean_dir) in message
    assert "run `livecart validate` first" in message


def test_cli_train__before_features__says_run_features_first(settings: LivecartSettings) -> None:
    write_source(settings.clean_dir, Table.EVENTS, SCHEMAS[Table.EVENTS].empty_table())
    message = _clean_error(_invoke("train"))
    assert str(settings.features_dir) in message
    assert "run `livecart features` first" in message


@pytest.fixture
def unwritable_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A home nobody may write: a read-only directory, or (as root, who may write anywhere)
    a path under /sys, where even root may not create one."""
    home = tmp_path / "read-only-home"
    home.mkdir()
    home.chmod(0o555)
    if os.access(home, os.W_OK):  # root
        home = Path("/sys/livecart-home")
        try:
            home.mkdir()
        except PermissionError:
            pass
        else:  # pragma: no cover - a writable /sys: nothing here cannot be written
            home.rmdir()
            pytest.skip("no unwritable directory on this machine")
    monkeypatch.setenv("LIVECART_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    if home.is_relative_to(tmp_path):
        home.chmod(0o755)


def test_cli_ingest__unwritable_home__clean_error_names_the_path(
    unwritable_home: Path, tmp_path: Path
) -> None:
    message = _clean_error(_ingest(tmp_path, HEADER + GOOD))
    assert str(unwritable_home) in message
    assert "not permitted" in message or "denied" in message


def _wrapped(error: BaseException) -> typer.Typer:
    probe = typer.Typer()

    @probe.command()
    @friendly_errors
    def fail() -> None:
        raise error

    return probe


@pytest.mark.parametrize(
    "error",
    [KeyError("bug"), OSError(errno.EIO, "Input/output error", "/x"), FileNotFoundError("/x")],
    ids=["key-error", "io-error", "file-not-found"],
)
def test_friendly_errors__unexpected_exception__keeps_its_traceback(error: Exception) -> None:
    result = CliRunner().invoke(_wrapped(error), [])
    assert result.exit_code == 1
    assert result.exception is error


def test_friendly_errors__permission_error__path_and_reason(tmp_path: Path) -> None:
    error = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "store"))
    message = _clean_error(CliRunner().invoke(_wrapped(error), []))
    assert f"{tmp_path / 'store'}: permission denied" in message


def test_friendly_errors__duckdb_refused_a_path__path_and_reason() -> None:
    import duckdb

    def write() -> None:
        duckdb.sql("COPY (SELECT 1 AS a) TO '/sys/livecart.parquet'")

    probe = typer.Typer()
    probe.command()(friendly_errors(write))
    message = _clean_error(CliRunner().invoke(probe, []))
    assert '"/sys/livecart.parquet": Permission denied' in message
