"""The demo's live session over HTTP: replayed events accepted or quarantined, reads answered."""

from __future__ import annotations

import pytest

from livecart.core.settings import LivecartSettings
from livecart.simulation.live_session import SessionConfig
from livecart.simulation.live_session import run as live_session

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_live_session__replayed_events__accounted_and_reads_answered(
    served_url: str, served_settings: LivecartSettings
) -> None:
    cfg = SessionConfig(rooms=2, batches=3, batch_pause_s=0.05, bad_every=10, freshness_probes=3)
    report = live_session(served_settings, served_url, cfg)
    assert report["events_sent"] > 0
    assert report["events_accepted"] + report["events_quarantined"] == report["events_sent"]
    assert report["events_quarantined"] >= report["events_sent"] // 10 - 3  # the corrupted ones
    assert report["quarantine_reasons"]
    assert report["reader_errors"] == 0 and report["latency_ms"]["viewer"]["requests"] > 0
    assert report["freshness_ms"]["probes"] >= 1
