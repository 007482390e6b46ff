"""Fixtures of the validation tests: one shared GX engine, parent references, a gate helper.

``settings`` (a fresh home under tmp_path) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from livecart.core.contract import Table
from livecart.core.settings import LivecartSettings
from tests.data.builders import NOW, Row, table, valid_rows
from validation.engine import GxEngine
from validation.gate import GateResult, ReferenceSets, validate_frame
from validation.suites import PARENT_TABLES

Gate = Callable[..., GateResult]


@pytest.fixture(scope="session")
def engine() -> GxEngine:
    """One engine for all gate tests: building GX objects is the slow part."""
    return GxEngine()


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> list[GxEngine]:
    """A first-pass engine and one that validates in full (Data Docs on: no first pass), for the
    tests that check GX shortcuts (``validation/gx_*.py``) on both paths."""
    return [GxEngine(), GxEngine(docs_dir=tmp_path_factory.mktemp("gx-docs"))]


@pytest.fixture(scope="session")
def references() -> ReferenceSets:
    """Clean ids of every parent in the default world."""
    found = ReferenceSets()
    for parent in sorted(PARENT_TABLES):
        found = found.with_table(parent, table(parent, valid_rows(parent)))
    return found


@pytest.fixture
def gate(settings: LivecartSettings, engine: GxEngine, references: ReferenceSets) -> Gate:
    """Validate ``rows`` of ``source`` at NOW with the default references."""

    def run_gate(source: Table, rows: list[Row], **kwargs: object) -> GateResult:
        refs = kwargs.pop("references", references)
        return validate_frame(
            source,
            table(source, rows),
            refs,  # type: ignore[arg-type]
            kwargs.pop("settings", settings),  # type: ignore[arg-type]
            NOW,
            engine=engine,
            **kwargs,  # type: ignore[arg-type]
        )

    return run_gate
