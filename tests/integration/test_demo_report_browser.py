"""The demo's HTML report in Debian's headless Chromium (Playwright, no browser download).

A small fake closing report is written with ``write_report`` into a temporary home whose reports
dir also holds what a real run leaves there: Great Expectations' Data Docs with their logo image,
the offline evaluation's ``report.md`` and plots, a replay plot. The page must show rendered
tables, only the project's own figures (all loaded), and links that resolve to files. A
screenshot goes to ``$LIVECART_ARTIFACTS`` or ``<tmp>/livecart-artifacts``/demo_report.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from livecart.core.settings import LivecartSettings
from livecart.demo.report import write_report
from tests.browser import CHROMIUM, CHROMIUM_ARGS, artifact_dir
from tests.unit.test_demo_report import MODELS, evaluation_report, fake_report


def small_png(path: Path, title: str) -> Path:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    figure.subplots().plot([1, 2, 3], [3, 1, 2])
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=60)
    return path


def reports_of_a_run(reports: Path) -> None:
    """What a home holds besides the demo's own report: Data Docs, a replay plot, and an
    evaluation plot of an earlier run (a protocol this run's evaluation did not write)."""
    for docs in ("data_docs", "data_docs_features"):
        (reports / docs).mkdir(parents=True)
        (reports / docs / "index.html").write_text("<h1>Data Docs</h1>", encoding="utf-8")
        small_png(reports / docs / "static" / "images" / "logo.png", "GX logo")
    small_png(reports / "replay" / "replay.png", "replay")
    small_png(reports / "evaluation" / "sampled_by_k.png", "an earlier run's protocol")


@pytest.mark.integration
def test_demo_report__tables_own_figures_and_links_in_a_browser(
    settings: LivecartSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    reports = settings.reports_dir
    reports_of_a_run(reports)
    evaluation = evaluation_report(reports / "evaluation")
    evaluation.write(reports / "evaluation")  # report.md, report.json and the two plots
    report = fake_report(settings.home, evaluation)
    target = write_report(settings, report)
    shot = reports / "demo_report.png"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(target.as_uri())
            page.wait_for_load_state("load")

            summary = page.locator("#summary tbody tr")
            rows = {
                summary.nth(i).locator("th").inner_text(): summary.nth(i).locator("td").inner_text()
                for i in range(summary.count())
            }
            assert rows["wall time"] == "123.4 s"
            assert rows["rows quarantined"] == "100 (injected 100)"
            assert rows["training frame"] == "5,000 x 40 (product_ranking_v1)"
            assert rows["live session (HTTP)"].startswith("400 events sent, 380 accepted")

            heads = page.locator("#evaluation-full thead th").all_inner_texts()
            assert heads[:3] == ["model", "HR@1", "HR@10"] and "MRR" in heads
            models = page.locator(
                "#evaluation-full tbody tr th, #evaluation-full tbody tr td:first-child"
            )
            assert models.all_inner_texts() == list(MODELS)
            assert page.locator("#data-quality tbody tr").count() == 2
            assert page.locator("#serving-latency tbody tr").count() == 3
            assert page.locator("pre:has-text('| model')").count() == 0  # no raw Markdown

            images = page.evaluate(
                "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
            )
            sources = [src for src, _, _ in images]
            assert sources == [
                "demo/training_curves.png",
                "evaluation/full_by_k.png",
                "evaluation/full_segments.png",
                "demo/serving_latency.png",
                "replay/replay.png",
            ]
            assert all(done and width > 0 for _, done, width in images), images
            assert not any("data_docs" in src for src in sources)
            captions = page.locator("figcaption").all_inner_texts()
            assert len(captions) == len(sources) and all(captions)

            links = page.evaluate("Array.from(document.links).map(a => a.getAttribute('href'))")
            assert set(links) == {
                "data_docs/index.html",
                "data_docs_features/index.html",
                "evaluation/report.md",
                "demo_report.json",
            }
            for href in links:
                assert not href.startswith(("/", "file:", "http")), href
                assert (target.parent / unquote(href)).is_file(), href

            html_row = page.locator("#files tr", has_text="HTML report").inner_text()
            assert "None" not in html_row and str(target) in html_row
            assert not errors, errors
            page.screenshot(path=str(shot), full_page=True, animations="disabled")
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    stable = artifact_dir() / "demo_report.png"
    stable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, stable)
    with capsys.disabled():
        print(f"\ndemo report screenshot: {stable} (also {shot})")
