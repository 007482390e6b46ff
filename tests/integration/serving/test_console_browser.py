"""The streamer console end to end in Debian's headless Chromium (Playwright, no browser download).

The page is loaded from the served app; events posted to ``/v1/events`` must reach it over SSE
and change what it shows without a reload. A screenshot is kept under the served home's reports
dir and copied to a stable path (``$LIVECART_ARTIFACTS`` or ``<tmp>/livecart-artifacts``).
The stream's change/heartbeat logic is also checked on its own with a fake clock (fast, no Ray).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any

import httpx
import pytest

from livecart.core.settings import LivecartSettings
from serving.console import StreamTiming, console_html, room_events
from tests.browser import CHROMIUM, CHROMIUM_ARGS, artifact_dir
from tests.integration.serving.conftest import TOKEN, event, world_ids

AUTH = {"authorization": f"Bearer {TOKEN}"}
WAIT_MS = 30_000


def console_state(url: str, room: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/v1/console/room/{room}", timeout=30.0)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# --- the stream on its own (no Ray, no browser) ---


def collect(
    versions: list[tuple[int, int]], pictures: list[dict[str, Any]], timing: StreamTiming
) -> list[str]:
    """Run room_events on a fake clock that moves one second per poll; the raw SSE chunks."""
    tick = {"now": 0.0, "i": 0}

    async def fake_versions() -> tuple[int, int]:
        tick["i"] += 1
        tick["now"] += 1.0
        return versions[min(tick["i"], len(versions) - 1)]

    async def fake_snapshot() -> dict[str, Any]:
        return pictures[min(tick["i"], len(pictures) - 1)]

    async def run() -> list[str]:
        return [
            chunk
            async for chunk in room_events(
                fake_versions, fake_snapshot, timing, lambda: tick["now"]
            )
        ]

    return asyncio.run(run())


def test_room_events__pushes_on_change_only_and_beats_in_between() -> None:
    timing = StreamTiming(poll_s=0, refresh_s=1000, heartbeat_s=3, max_s=40)
    # versions move at ticks 10 and 20; the picture changes only with the second move
    versions = [(0, 0)] * 10 + [(1, 0)] * 10 + [(2, 1)] * 30
    pictures = [{"audience": 1}] * 20 + [{"audience": 2}] * 30
    chunks = collect(versions, pictures, timing)
    snapshots = [c for c in chunks if "event: snapshot" in c]
    assert chunks[0].startswith("retry: ")
    assert (
        len(snapshots) == 2
    )  # the first picture, then the changed one; the same picture is not resent
    assert '"audience":1' in snapshots[0] and '"seq":1' in snapshots[0]
    assert (
        '"audience":2' in snapshots[1]
        and '"seq":2' in snapshots[1]
        and '"room_events":2' in snapshots[1]
    )
    assert sum(c == ": heartbeat\n\n" for c in chunks) >= 5
    assert "event: bye" in chunks[-1]


def test_console_page__bundled_and_self_contained() -> None:
    page = console_html()
    assert "EventSource" in page and "/v1/stream/room/" in page
    assert "http://" not in page and "https://" not in page  # nothing from a CDN
    assert "innerHTML" not in page  # comments are user text: rendered with textContent only


# --- the served app in a real browser ---


@pytest.mark.integration
@pytest.mark.slow
def test_console_routes__page_stream_and_errors(
    served_url: str, served_settings: LivecartSettings
) -> None:
    room = world_ids(served_settings)["rooms"][-1][0]
    page = httpx.get(f"{served_url}/console", timeout=30.0)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert httpx.get(f"{served_url}/v1/stream/room/no-room", timeout=30.0).status_code == 404
    assert httpx.get(f"{served_url}/v1/stream/room/{room}?k=0", timeout=30.0).status_code == 422
    with httpx.stream(
        "GET", f"{served_url}/v1/stream/room/{room}?max_seconds=2", timeout=30.0
    ) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        body = "".join(answer.iter_text())
    assert body.startswith("retry: ") and "event: snapshot" in body and "event: bye" in body
    snapshot = httpx.get(f"{served_url}/v1/console/room/{room}", timeout=30.0).json()
    assert snapshot["room"]["room_id"] == room and snapshot["suggestions"]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
)
def test_console__events_arrive__page_updates_without_reload(
    served_url: str, served_settings: LivecartSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import sync_playwright

    ids = world_ids(served_settings)
    room, streamer, products = ids["rooms"][-1]
    sample, crowd = ids["viewers"][10], ids["viewers"][12:17]
    began = time.perf_counter()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            errors: list[str] = []
            # the console without a room: the room list, live rooms first, with audience size
            rooms_page = browser.new_page(viewport={"width": 1360, "height": 900})
            rooms_page.on("pageerror", lambda exc: errors.append(str(exc)))
            rooms_page.goto(f"{served_url}/console?token={TOKEN}")
            rooms_page.wait_for_function(
                "Number(document.body.dataset.roomsLoaded || 0) >= 1", timeout=WAIT_MS
            )
            listed = rooms_page.locator("#rooms li")
            assert listed.count() == len(ids["rooms"])
            live_flags = [listed.nth(i).get_attribute("data-live") for i in range(listed.count())]
            assert live_flags == sorted(live_flags, key=lambda flag: flag != "true")
            room_item = f"#rooms li[data-room='{room}']"
            listed_before = int(rooms_page.get_attribute(room_item, "data-present") or 0)
            assert f"room_id={room}" in (rooms_page.get_attribute(f"{room_item} a", "href") or "")

            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{served_url}/console?room_id={room}&viewer_id={sample}&token={TOKEN}")
            page.wait_for_function("Number(document.body.dataset.seq || 0) >= 1", timeout=WAIT_MS)

            # the first snapshot: the room, products to pitch and the sample viewer's recommendations
            assert page.inner_text("#room-meta").startswith(room)
            assert page.locator("#pitch li").count() >= 1
            assert page.locator("#viewer-recs li").count() >= 1
            assert page.inner_text("#status") == "connected"
            present = int(page.inner_text("#audience-count"))
            seq = int(page.evaluate("document.body.dataset.seq"))
            pitch_before = page.inner_text("#pitch")
            recs_before = page.inner_text("#viewer-recs")
            page.evaluate("window.__sameDocument = true")  # gone if the page reloads

            # viewers enter, the sample viewer clicks two of the room's products, the crowd comments
            batch = [
                event(f"console-enter-{i}", "enter_room", v, room, streamer)
                for i, v in enumerate([sample, *crowd])
            ]
            batch += [
                event(f"console-click-{i}", "click", sample, room, streamer, product_id=p)
                for i, p in enumerate(products[:2])
            ]
            batch += [
                event(
                    "console-comment-0",
                    "comment",
                    crowd[0],
                    room,
                    streamer,
                    text="love this, how much is it?",
                ),
                event(
                    "console-comment-1",
                    "comment",
                    crowd[1],
                    room,
                    streamer,
                    text="great colour, buying now",
                ),
                event("console-like-0", "like", crowd[2], room, streamer),
            ]
            answer = httpx.post(
                f"{served_url}/v1/events", json={"events": batch}, headers=AUTH, timeout=30.0
            )
            assert answer.status_code == 200 and answer.json()["accepted"] == len(batch), (
                answer.text
            )

            page.wait_for_function(
                f"Number(document.getElementById('audience-count').textContent) > {present}",
                timeout=WAIT_MS,
            )
            page.wait_for_function(
                "document.getElementById('comments').textContent.includes('buying now')",
                timeout=WAIT_MS,
            )
            now_present = int(page.inner_text("#audience-count"))
            assert present < now_present <= present + len(crowd) + 1
            assert page.evaluate("window.__sameDocument === true")  # pushed, not reloaded
            assert int(page.evaluate("document.body.dataset.seq")) > seq
            assert (
                int(page.inner_text("#comment-count")) >= 2 and int(page.inner_text("#likes")) >= 1
            )
            assert page.inner_text("#segments") != "no viewers yet"
            pitch_after = page.inner_text("#pitch")
            assert (
                pitch_after != pitch_before
                and f"among {now_present} viewers present" in pitch_after
            )
            recs_after = page.inner_text("#viewer-recs")
            assert page.locator("#viewer-recs li").count() >= 1
            assert (
                recs_after != recs_before
            )  # the sample viewer's clicks and the live room re-ranked

            # the room list follows: the room is live with its new audience (it polls)
            rooms_page.wait_for_function(
                f'Number(document.querySelector("{room_item}").dataset.present) > {listed_before}',
                timeout=WAIT_MS,
            )
            assert rooms_page.get_attribute(room_item, "data-live") == "true"

            # "pitch this" on the top suggestion, then the room buys it: the chart follows
            assert page.inner_text("#pitch-summary").startswith("no pitch yet")
            page.click("#pitch li button.pitch-this >> nth=0")
            page.wait_for_function(
                "document.getElementById('pitch-chart').dataset.pitch", timeout=WAIT_MS
            )
            pitched = httpx.get(f"{served_url}/v1/console/room/{room}/pitches", timeout=30.0)
            pitch = pitched.json()[0]["pitch"]
            assert page.get_attribute("#pitch-chart", "data-purchases") == "0"
            line_before = page.get_attribute("polyline[data-series='purchases']", "points")
            product, price = pitch["product_id"], pitch["price"]
            bought = [
                event(f"console-pitched-click-{i}", "click", v, room, streamer, product_id=product)
                for i, v in enumerate(crowd[:2])
            ] + [
                event(
                    f"console-pitched-buy-{i}",
                    "purchase",
                    v,
                    room,
                    streamer,
                    product_id=product,
                    amount=price,
                )
                for i, v in enumerate(crowd[:2])
            ]
            answer = httpx.post(
                f"{served_url}/v1/events", json={"events": bought}, headers=AUTH, timeout=30.0
            )
            assert answer.status_code == 200 and answer.json()["accepted"] == 4, answer.text
            page.wait_for_function(
                "Number(document.getElementById('pitch-chart').dataset.purchases) >= 2",
                timeout=WAIT_MS,
            )
            assert int(page.get_attribute("#pitch-chart", "data-clicks") or 0) >= 2
            assert page.get_attribute("polyline[data-series='purchases']", "points") != line_before
            assert "purchases 2 vs " in page.inner_text("#pitch-summary")
            assert not errors, errors

            reports = served_settings.home / "reports"
            reports.mkdir(parents=True, exist_ok=True)
            shot = reports / "console.png"
            page.screenshot(path=str(shot), full_page=True, animations="disabled")
            rooms_shot = reports / "console_rooms.png"
            rooms_page.screenshot(path=str(rooms_shot), full_page=True, animations="disabled")
            assert console_state(served_url, room)["open_streams"] >= 1
        finally:
            browser.close()
    # the browser is gone: Serve cancels the stream and the replica lets go of it
    deadline = time.monotonic() + 15
    while console_state(served_url, room)["open_streams"] and time.monotonic() < deadline:
        time.sleep(0.25)
    assert console_state(served_url, room)["open_streams"] == 0
    assert shot.stat().st_size > 10_000
    stable = artifact_dir() / "console.png"
    stable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, stable)
    shutil.copyfile(rooms_shot, stable.with_name("console_rooms.png"))
    with capsys.disabled():
        print(
            f"\nconsole screenshot: {stable} (also {shot}); browser part {time.perf_counter() - began:.1f} s"
        )
