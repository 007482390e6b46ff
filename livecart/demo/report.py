"""The demo's closing report: a terminal table, ``demo_report.json`` and ``demo_report.html``.

The HTML page (:mod:`livecart.demo.page`) sits in ``<reports_dir>`` next to the JSON report and
shows the demo's own figures (:mod:`livecart.demo.plots`), drawn here from the report dict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livecart.core.settings import LivecartSettings
from livecart.demo.page import HTML_NAME, JSON_NAME, build_html, live_session, summary_rows
from livecart.demo.plots import draw_demo_plots, project_plots


def write_report(settings: LivecartSettings, report: dict[str, Any]) -> Path:
    """Write the JSON and HTML reports (and the demo's figures); the HTML path.

    Sets ``report["html_report"]`` first, so both reports name the page.
    """
    reports = settings.reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    target = reports / HTML_NAME
    report["html_report"] = str(target)
    (reports / JSON_NAME).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    draw_demo_plots(reports, report)
    target.write_text(build_html(report, reports, project_plots(reports, report)), encoding="utf-8")
    return target


def _rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("wall time", f"{report['wall_seconds']} s")]
    rows += [(f"  {stage}", f"{seconds} s") for stage, seconds in report["stage_seconds"].items()]
    rows += summary_rows(report)
    if session := live_session(report):
        for name, stats in session["latency_ms"].items():
            rows.append(
                (
                    f"  {name} latency",
                    f"p50 {stats['p50']} ms, p99 {stats['p99']} ms ({stats['requests']} requests)",
                )
            )
        fresh = session["freshness_ms"]
        rows.append(
            (
                "  push -> recommendation",
                f"p50 {fresh['p50']} ms, p99 {fresh['p99']} ms ({fresh['probes']} probes)",
            )
        )
    rows.append(("evaluation table", str(report["evaluation_report"])))
    rows.append(("Data Docs", str(report["data_docs"])))
    rows.append(("HTML report", str(report.get("html_report") or _default_html(report))))
    rows.append(("JSON report", f"{report['home']}/reports/{JSON_NAME}"))
    return rows


def _default_html(report: dict[str, Any]) -> str:
    return f"{report['home']}/reports/{HTML_NAME}"


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = RichTable(title="livecart demo: closing report")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for what, value in _rows(report):
        table.add_row(what, value)
    console.print(table)
