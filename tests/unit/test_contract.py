"""Contract conformance, pseudonymous ids and settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError

from livecart.core import contract as c
from livecart.core.conform import conform
from livecart.core.errors import ContractError
from livecart.core.privacy import pseudonymize, pseudonymize_many
from livecart.core.settings import LivecartSettings


def _rooms(**overrides: pa.Array) -> pa.Table:
    columns: dict[str, pa.Array] = {
        c.ROOM_ID: pa.array(["r1"]),
        c.STREAMER_ID: pa.array(["s1"]),
        c.TITLE: pa.array(["live"]),
        c.CATEGORY: pa.array(["beauty"]),
        c.START_TIMESTAMP: pa.array([datetime(2026, 1, 1, tzinfo=UTC)]),
        c.END_TIMESTAMP: pa.array([datetime(2026, 1, 1, 2, tzinfo=UTC)]),
    }
    columns.update(overrides)
    return pa.table(columns)


def test_conform__missing_required_column__names_file_and_column() -> None:
    with pytest.raises(ContractError, match=r"rooms.parquet, column 'title': missing required"):
        conform(_rooms().drop_columns([c.TITLE]), c.Table.ROOMS, "rooms.parquet")


def test_conform__naive_timestamps__rejected_unless_assumed_utc() -> None:
    naive = _rooms(**{c.START_TIMESTAMP: pa.array([datetime(2026, 1, 1)])})
    with pytest.raises(ContractError, match="naive timestamps"):
        conform(naive, c.Table.ROOMS, "rooms.parquet")
    fixed = conform(naive, c.Table.ROOMS, "rooms.parquet", assume_utc=True)
    assert fixed.schema.field(c.START_TIMESTAMP).type == c.UTC_TIMESTAMP


def test_conform__uncastable_type__names_expected_type() -> None:
    bad = _rooms(**{c.START_TIMESTAMP: pa.array([1.5])})
    with pytest.raises(ContractError, match="start_timestamp"):
        conform(bad, c.Table.ROOMS, "rooms.parquet")


def test_conform__extra_personal_columns__dropped_and_optional_added() -> None:
    viewers = pa.table(
        {
            c.VIEWER_ID: ["v1"],
            c.SIGNUP_TIMESTAMP: pa.array([datetime(2026, 1, 1, tzinfo=UTC)]),
            "email": ["someone@example.com"],
            "full_name": ["A Person"],
        }
    )
    out = conform(viewers, c.Table.VIEWERS, "viewers.parquet")
    assert out.schema.equals(c.SCHEMAS[c.Table.VIEWERS])
    assert "email" not in out.column_names and out.column(c.REGION).null_count == 1


def test_pseudonymize__salted_stable_and_not_reversible() -> None:
    a = pseudonymize("alice@example", "salt-1")
    assert a == pseudonymize("alice@example", "salt-1")
    assert a != pseudonymize("alice@example", "salt-2")
    assert "alice" not in a and a.startswith("v_")
    many = pseudonymize_many(["x", None, "x"], "s").to_pylist()
    assert many[0] == many[2] and many[1] is None


def test_settings__home_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIVECART_HOME", str(tmp_path / "h"))
    settings = LivecartSettings()
    assert settings.home == (tmp_path / "h").resolve()
    assert settings.features_dir == settings.home / "features"
    assert settings.models_dir == settings.home / "models"


def test_settings__unknown_field__rejected() -> None:
    with pytest.raises(ValidationError):
        LivecartSettings(homme="/tmp/x")  # type: ignore[call-arg]
