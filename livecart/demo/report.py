"""The demo's closing report: a terminal table, ``demo_report.json`` and ``demo_report.html``."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livecart.core.settings import LivecartSettings


def write_report(settings: LivecartSettings, report: dict[str, Any]) -> Path:
    """Write the JSON and HTML reports; the HTML path."""
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "demo_report.json").write_text(
        json.dumps(report, indent=2, default=str)
    )
    target = settings.reports_dir / "demo_report.html"
    target.write_text(_html(settings, report))
    return target


def _rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("wall time", f"{report['wall_seconds']} s")]
    rows += [(f"  {stage}", f"{seconds} s") for stage, seconds in report["stage_seconds"].items()]
    quarantined = sum(v["quarantined"] for v in report["data_quality"].values())
    rows.append(
        ("rows quarantined", f"{quarantined:,} (injected {report['dirty_rows_injected']:,})")
    )
    rows.append(
        ("feature rows", ", ".join(f"{k}={v:,}" for k, v in report["feature_rows"].items()))
    )
    suites = report["feature_suites"]
    rows.append(("feature suites", f"{suites['rules']} rules, {suites['failures']} failed"))
    frame = report["training_frame"]
    rows.append(("training frame", f"{frame['rows']:,} x {frame['columns']} ({frame['service']})"))
    rows.append(
        ("online read, 100 viewers (p50)", f"{report['online_read_100_viewers_p50_ms']} ms")
    )
    ranker = report["ranker"]
    oracle = ranker["oracle_auc_purchase"]
    rows.append(
        (
            "ranker (validation AUC)",
            f"{ranker['model']}: click {ranker['metrics']['auc_click']:.3f}, purchase "
            f"{ranker['metrics']['auc_purchase']:.3f}"
            + (f" (oracle {oracle:.3f})" if oracle is not None else ""),
        )
    )
    session = report.get("serving", {}).get("live_session")
    if session:
        latency = session["latency_ms"]
        rows.append(
            (
                "live session (HTTP)",
                f"{session['events_sent']:,} events sent, {session['events_accepted']:,} accepted, "
                f"{session['events_quarantined']:,} quarantined with reasons",
            )
        )
        for name, stats in latency.items():
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
    rows.append(("evaluation table", report["evaluation_report"]))
    rows.append(("Data Docs", str(report["data_docs"])))
    rows.append(("HTML report", str(report.get("html_report"))))
    rows.append(("JSON report", f"{report['home']}/reports/demo_report.json"))
    return rows


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = RichTable(title="livecart demo: closing report")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for what, value in _rows(report):
        table.add_row(what, value)
    console.print(table)


def _html(settings: LivecartSettings, report: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in _rows(report)
    )
    plots = sorted((settings.reports_dir).rglob("*.png"))
    images = "".join(
        f'<figure><img src="{html.escape(str(p.relative_to(settings.reports_dir)))}" width="560">'
        f"<figcaption>{html.escape(p.name)}</figcaption></figure>"
        for p in plots
    )
    evaluation = html.escape(str(report.get("evaluation_table", "")))
    return (
        "<!doctype html><meta charset='utf-8'><title>livecart demo report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "td{padding:2px 10px;border-bottom:1px solid #ddd;vertical-align:top}"
        "figure{display:inline-block;margin:8px}</style>"
        f"<h1>livecart demo report</h1><table>{rows}</table>"
        f"<h2>Evaluation</h2><pre>{evaluation}</pre><h2>Plots</h2>{images}"
        f"<h2>Raw report</h2><pre>{html.escape(json.dumps(report, indent=2, default=str))}</pre>"
    )
