"""The demo's closing report without a browser: the page builder, the files it writes, the terminal.

``fake_report`` mirrors the dict ``livecart.demo.run`` builds (the evaluation part is a real
:class:`EvaluationReport`), small enough to write in a test; the browser test reuses it.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from rich.console import Console

from livecart.core.settings import LivecartSettings
from livecart.demo.page import build_html
from livecart.demo.plots import Plot, project_plots
from livecart.demo.report import print_report, write_report
from livecart.demo.tables import markdown_html
from ray_jobs.evaluation.report import EvaluationReport, ModelResult

MODELS = ("popularity", "live_ranker")


def evaluation_report(directory: Path) -> EvaluationReport:
    """A two-model, one-protocol evaluation (not written)."""
    segments = {
        s: {"NDCG@10": 0.1 + i / 10, "n": 10 + i}
        for i, s in enumerate(("repeat", "new", "warm", "cold"))
    }
    results = [
        ModelResult(
            model=name,
            protocol="full",
            metrics={
                "HR@1": 0.05 * (m + 1),
                "NDCG@1": 0.05 * (m + 1),
                "HR@10": 0.3 + 0.1 * m,
                "NDCG@10": 0.2 + 0.1 * m,
                "MRR": 0.15 + 0.05 * m,
                "AUC": 0.7 + 0.1 * m,
                "Coverage@10": float("nan") if m else 0.4,
            },
            segments=segments,
            fit_seconds=1.5,
            score_seconds=0.5,
        )
        for m, name in enumerate(MODELS)
    ]
    return EvaluationReport(
        dataset="synthetic",
        directory=str(directory),
        interactions=1_234,
        users=56,
        items=78,
        targets=56,
        repeat_share=0.25,
        live_target_share=0.5,
        live_candidates_median=12.0,
        ks=[1, 10],
        seed=7,
        seconds=3.0,
        results=results,
    )


def fake_report(home: Path, evaluation: EvaluationReport) -> dict[str, Any]:
    """A closing report shaped like ``livecart.demo.run``'s, pointing into ``home/reports``."""
    reports = home / "reports"
    return {
        "home": str(home),
        "scale": "tiny",
        "wall_seconds": 123.4,
        "stage_seconds": {"generate": 10.5, "validate": 4.25, "train": 30.0},
        "raw_rows": {"events": 5_000},
        "dirty_rows_injected": 100,
        "data_quality": {
            "events": {
                "rows": 5_000,
                "good": 4_900,
                "quarantined": 100,
                "top_reasons": [("viewer_id is null", 60), ("price < 0", 40)],
            },
            "viewers": {"rows": 300, "good": 300, "quarantined": 0, "top_reasons": []},
        },
        "feature_rows": {"viewer_features": 300, "product_features": 80},
        "text_embeddings": {"rows": {"product_embedding": 80, "room_embedding": 16}, "dim": 16},
        "comment_probe": {"accuracy": 0.81, "majority_baseline": 0.5},
        "feature_suites": {
            "rules": 12,
            "failures": 0,
            "data_docs": str(reports / "data_docs_features" / "index.html"),
        },
        "training_frame": {"rows": 5_000, "columns": 40, "service": "product_ranking_v1"},
        "online_read_100_viewers_p50_ms": 3.2,
        "ranker": {
            "model": "ranker v3",
            "metrics": {"auc_click": 0.71, "auc_purchase": 0.76, "valid_loss": 0.3},
            "oracle_auc_purchase": 0.8,
            "history": [
                {
                    "epoch": e,
                    "train_loss": 0.5 - e / 10,
                    "valid_loss": 0.45 - e / 20,
                    "auc_click": 0.6 + e / 20,
                    "auc_purchase": 0.65 + e / 20,
                }
                for e in range(3)
            ],
        },
        "evaluation_report": str(reports / "evaluation" / "report.md"),
        "evaluation_table": evaluation.to_markdown(),
        "evaluation": {**evaluation.to_dict(), "metric_names": evaluation.metric_names()},
        "serving": {
            "url": "http://127.0.0.1:8000",
            "live_session": {
                "rooms": ["r0000"],
                "events_sent": 400,
                "events_accepted": 380,
                "events_quarantined": 20,
                "quarantine_reasons": {"unknown event_type": 12, "missing viewer_id": 8},
                "push_ms_p50": 4.1,
                "latency_ms": {
                    "recommend": {"requests": 50, "p50": 8.5, "p99": 30.25},
                    "room": {"requests": 40, "p50": 5.0, "p99": 12.0},
                },
                "reader_errors": 0,
                "freshness_ms": {"probes": 5, "p50": 120.0, "p99": 300.0},
            },
        },
        "data_docs": str(reports / "data_docs" / "index.html"),
    }


class Refs(HTMLParser):
    """Every href and src of a page, and the texts of its table rows (by table id)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("href", "src") and v is not None]
        if tag == "table":
            self._table = found.get("id") or f"table-{len(self.rows)}"
            self.rows.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self.rows[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self.rows[self._table][-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._table and self.rows[self._table] and self.rows[self._table][-1]:
            self.rows[self._table][-1][-1] += data


def parse(page: str) -> Refs:
    refs = Refs()
    refs.feed(page)
    return refs


def make_files(reports: Path) -> None:
    """The linked files (Data Docs with a logo, report.md), but no plots."""
    for docs in ("data_docs", "data_docs_features"):
        (reports / docs / "static" / "images").mkdir(parents=True)
        (reports / docs / "index.html").write_text("<p>docs</p>")
        (reports / docs / "static" / "images" / "logo.png").write_bytes(b"\x89PNG")
    (reports / "evaluation").mkdir()
    (reports / "evaluation" / "report.md").write_text("# eval\n")


def test_build_html__tables_links_and_no_none(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    make_files(reports)
    (reports / "demo_report.json").write_text("{}")
    report = fake_report(tmp_path, evaluation_report(reports / "evaluation"))
    report["html_report"] = str(reports / "demo_report.html")
    plot = Plot(reports / "evaluation" / "full_by_k.png", "HR@K by model", "evaluation")
    plot.path.write_bytes(b"\x89PNG")
    page = build_html(report, reports, [plot])
    found = parse(page)

    summary = {row[0]: row[1] for row in found.rows["summary"][1:]}
    assert summary["wall time"] == "123.4 s"
    assert summary["rows quarantined"] == "100 (injected 100)"
    assert summary["ranker (validation AUC)"].startswith("ranker v3: click 0.710")
    assert summary["text embeddings"] == "product_embedding=80, room_embedding=16 (16 dims)"
    quality = found.rows["data-quality"]
    assert quality[0] == ["table", "rows", "good", "quarantined", "top reasons (rows)"]
    assert (
        quality[1][:4] == ["events", "5,000", "4,900", "100"]
        and "viewer_id is null (60)" in quality[1][4]
    )
    evaluation = found.rows["evaluation-full"]
    assert evaluation[0][:3] == ["model", "HR@1", "HR@10"] and evaluation[0][-2:] == [
        "fit s",
        "score s",
    ]
    assert [row[0] for row in evaluation[1:]] == list(MODELS)
    assert "-" in evaluation[2]  # NaN coverage
    assert [row[1] for row in found.rows["evaluation-segments"][1:]] == list(MODELS)
    latency = {row[0]: row[1:] for row in found.rows["serving-latency"][1:]}
    assert latency["recommend latency"] == ["50", "8.50", "30.25"]
    assert latency["push -> recommendation"] == ["5", "120.00", "300.00"]
    assert [row[0] for row in found.rows["training-history"][1:]] == ["1", "2", "3"]
    files = {row[0]: row[1] for row in found.rows["files"][1:]}
    assert files["HTML report"] == str(reports / "demo_report.html")
    assert "None" not in files["HTML report"]

    assert "<pre>| model" not in page and "```" not in page
    assert found.refs and not any("data_docs" in r and r.endswith(".png") for r in found.refs)
    for ref in found.refs:
        assert not ref.startswith(("/", "http", "file:")), ref
        assert (reports / unquote(ref)).is_file(), ref
    assert set(found.refs) >= {
        "data_docs/index.html",
        "data_docs_features/index.html",
        "evaluation/report.md",
        "demo_report.json",
        "evaluation/full_by_k.png",
    }


def test_build_html__missing_files_are_text__markdown_fallback(tmp_path: Path) -> None:
    report = fake_report(tmp_path, evaluation_report(tmp_path))
    del report["evaluation"]
    page = build_html(report, tmp_path / "reports", [])
    found = parse(page)
    assert found.refs == []  # nothing was written: no link points nowhere
    assert "<img" not in page
    tables = [rows for rows in found.rows.values() if rows and rows[0][0] == "model"]
    assert tables and [row[0] for row in tables[0][1:]] == list(MODELS)
    assert "<th scope='col' class='num'>HR@10</th>" in page


def test_markdown_html__headings_escaping_and_ragged_tables() -> None:
    text = "# Title `x`\n\nsome <b>text</b>\n| a | b \\| c |\n|---|:--:|\n| 1 | 2 |\n| 3 |\nafter"
    out = markdown_html(text)
    assert out.startswith("<h3>Title <code>x</code></h3><p>some &lt;b&gt;text&lt;/b&gt;</p><table>")
    assert ">b | c</th>" in out
    assert "<td>3</td><td class='num'></td>" in out and out.endswith("<p>after</p>")
    assert "---" not in out


def test_write_report__draws_figures__json_and_terminal_name_the_page(tmp_path: Path) -> None:
    settings = LivecartSettings(home=tmp_path / "home")
    reports = settings.reports_dir
    reports.mkdir(parents=True)
    make_files(reports)
    report = fake_report(settings.home, evaluation_report(reports / "evaluation"))
    target = write_report(settings, report)

    assert target == reports / "demo_report.html" and report["html_report"] == str(target)
    assert json.loads((reports / "demo_report.json").read_text())["html_report"] == str(target)
    shown = [p.path.relative_to(reports).as_posix() for p in project_plots(reports)]
    assert shown == ["demo/training_curves.png", "demo/serving_latency.png"]
    found = parse(target.read_text())
    assert {"demo/training_curves.png", "demo/serving_latency.png"} <= set(found.refs)
    assert not any("logo" in r for r in found.refs)

    console = Console(record=True, width=200)
    print_report(console, report)
    text = console.export_text()
    assert str(target) in text and "None" not in text
