"""The demo report as an HTML page: rendered tables, the project's figures, relative links.

:func:`build_html` is pure apart from checking which linked files exist: every ``href`` and
``src`` is relative to the page's directory and names an existing file (a missing one is shown
as plain text). Sections: summary, stages, data quality, ranker training, offline evaluation
(from the structured results; Markdown only as a fallback), serving, replay, files.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from livecart.demo.plots import Plot
from livecart.demo.tables import fmt, markdown_html, table

HTML_NAME = "demo_report.html"
JSON_NAME = "demo_report.json"
STYLE = (
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1150px;"
    "margin:2em auto;padding:0 1em;color:#222}"
    "h1{margin-bottom:.1em}p.sub{color:#666;margin-top:0}"
    "h2{border-bottom:2px solid #e5e7eb;padding-bottom:.2em;margin-top:1.8em}"
    "table{border-collapse:collapse;margin:.5em 0 1em}"
    "th,td{padding:4px 9px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}"
    "thead th{background:#f3f5f7;border-bottom:2px solid #cbd2d9}"
    "tbody th{font-weight:600;white-space:nowrap}tbody td:first-child{white-space:nowrap}"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tbody tr:hover{background:#fafbfc}.muted{color:#777}.wide{overflow-x:auto}"
    "figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}"
    "figcaption{color:#555;font-size:.9em}code{background:#f3f4f6;padding:0 3px}"
)


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    quarantined = sum(v["quarantined"] for v in report["data_quality"].values())
    rows = [
        ("rows quarantined", f"{quarantined:,} (injected {report['dirty_rows_injected']:,})"),
        ("feature rows", ", ".join(f"{k}={v:,}" for k, v in report["feature_rows"].items())),
    ]
    if embeddings := report.get("text_embeddings"):
        counts = embeddings["rows"]  # rows per embedded table
        if isinstance(counts, dict):
            counts = ", ".join(f"{k}={v:,}" for k, v in counts.items())
        rows.append(("text embeddings", f"{counts} ({embeddings['dim']} dims)"))
    if probe := report.get("comment_probe"):
        rows.append(
            (
                "comment probe (accuracy)",
                f"{fmt(probe['accuracy'])} (majority baseline {fmt(probe['majority_baseline'])})",
            )
        )
    suites = report["feature_suites"]
    rows.append(("feature suites", f"{suites['rules']} rules, {suites['failures']} failed"))
    frame = report["training_frame"]
    rows.append(("training frame", f"{frame['rows']:,} x {frame['columns']} ({frame['service']})"))
    rows.append(
        ("online read, 100 viewers (p50)", f"{report['online_read_100_viewers_p50_ms']} ms")
    )
    ranker = report["ranker"]
    oracle = ranker.get("oracle_auc_purchase")
    rows.append(
        (
            "ranker (validation AUC)",
            f"{ranker['model']}: click {fmt(ranker['metrics'].get('auc_click'))}, purchase "
            f"{fmt(ranker['metrics'].get('auc_purchase'))}"
            + (f" (oracle {fmt(oracle)})" if oracle is not None else ""),
        )
    )
    if rooms := report.get("room_ranker"):
        rows.append(
            (
                "room ranker (held-out latest visits)",
                f"{rooms['model']}: NDCG@10 {fmt(rooms['metrics'].get('valid_ndcg@10'))} "
                f"({rooms['queries']:,} training queries)",
            )
        )
    if session := live_session(report):
        rows.append(
            (
                "live session (HTTP)",
                f"{session['events_sent']:,} events sent, {session['events_accepted']:,} accepted, "
                f"{session['events_quarantined']:,} quarantined with reasons",
            )
        )
    return rows


def live_session(report: dict[str, Any]) -> dict[str, Any] | None:
    session: dict[str, Any] | None = (report.get("serving") or {}).get("live_session")
    return session


def _e(value: Any) -> str:
    return html.escape(str(value))


def _href(path: Path | str, page_dir: Path) -> str:
    """``path`` relative to the page's directory, URL-quoted."""
    relative = os.path.relpath(Path(path).resolve(), page_dir.resolve())
    return quote(Path(relative).as_posix())


def _link(target: Any, page_dir: Path) -> str:
    """A link (shown as its relative path) when ``target`` is an existing file, else plain text."""
    if not target or not Path(str(target)).is_file():
        return f"<span class='muted'>{_e(target or 'not written')}</span>"
    shown = os.path.relpath(str(target), page_dir)
    return f"<a href='{_e(_href(str(target), page_dir))}'>{_e(shown)}</a>"


def _figures(plots: list[Plot], section: str, page_dir: Path) -> str:
    return "".join(
        f"<figure><img src='{_e(_href(p.path, page_dir))}' alt='{_e(p.caption)}'>"
        f"<figcaption>{_e(p.caption)}</figcaption></figure>"
        for p in plots
        if p.section == section
    )


def _data_quality(report: dict[str, Any]) -> str:
    body = [
        [
            _e(name),
            f"{t['rows']:,}",
            f"{t['good']:,}",
            f"{t['quarantined']:,}",
            "<br>".join(f"{_e(why)} ({n:,})" for why, n in t.get("top_reasons") or [])
            or "<span class='muted'>none</span>",
        ]
        for name, t in report["data_quality"].items()
    ]
    header = ["table", "rows", "good", "quarantined", "top reasons (rows)"]
    return table(header, body, numeric={1, 2, 3}, id_="data-quality")


def _training(report: dict[str, Any]) -> str:
    history = report["ranker"].get("history") or []
    keys = ("train_loss", "valid_loss", "auc_click", "auc_purchase")
    body = [
        [_e(int(r["epoch"]) + 1), *(fmt(r.get(k)) for k in keys)]
        for r in history
        if isinstance(r.get("epoch"), int | float)
    ]
    if not body:
        return ""
    header = ["epoch", "train loss", "validation loss", "click AUC", "purchase AUC"]
    return table(header, body, numeric={0, 1, 2, 3, 4}, id_="training-history")


def _evaluation(report: dict[str, Any]) -> str:
    evaluation = report.get("evaluation")
    if not evaluation:
        return markdown_html(str(report.get("evaluation_table") or ""))
    results: list[dict[str, Any]] = evaluation.get("results") or []
    names: list[str] = evaluation.get("metric_names") or list(
        dict.fromkeys(k for r in results for k in r["metrics"])
    )
    parts = [
        f"<p>dataset <code>{_e(evaluation.get('dataset'))}</code>: "
        f"{evaluation.get('interactions', 0):,} interactions, {evaluation.get('users', 0):,} users, "
        f"{evaluation.get('items', 0):,} items, {evaluation.get('targets', 0):,} leave-last-out "
        f"targets; the best value of a column is in bold.</p>"
    ]
    for protocol in dict.fromkeys(r["protocol"] for r in results):
        rows = [r for r in results if r["protocol"] == protocol]
        values = {n: [v for r in rows if (v := r["metrics"].get(n)) is not None] for n in names}
        # the best of a column, when the column is not one value throughout
        best = {n: max(vs) if len(set(vs)) > 1 else None for n, vs in values.items()}
        body = [
            [
                _e(r["model"]),
                *(
                    f"<strong>{fmt(v)}</strong>" if v is not None and v == best[n] else fmt(v)
                    for n in names
                    for v in [r["metrics"].get(n)]
                ),
                fmt(r.get("fit_seconds"), 1),
                fmt(r.get("score_seconds"), 1),
            ]
            for r in rows
        ]
        header = ["model", *names, "fit s", "score s"]
        parts.append(f"<h3>protocol <code>{_e(protocol)}</code></h3>")
        numeric = set(range(1, len(header)))
        wide = table(header, body, numeric=numeric, id_=f"evaluation-{protocol}")
        parts.append(f"<div class='wide'>{wide}</div>")
    segments = list(dict.fromkeys(s for r in results for s in r.get("segments") or {}))
    if segments:
        body = [
            [
                _e(r["protocol"]),
                _e(r["model"]),
                *(
                    f"{fmt(seg.get('NDCG@10'))} <span class='muted'>({int(seg.get('n') or 0):,})"
                    "</span>"
                    for s in segments
                    for seg in [r["segments"].get(s) or {}]
                ),
            ]
            for r in results
        ]
        parts.append("<h3>NDCG@10 by target segment (n targets)</h3>")
        parts.append(
            table(
                ["protocol", "model", *segments],
                body,
                numeric=set(range(2, 2 + len(segments))),
                id_="evaluation-segments",
            )
        )
    return "".join(parts)


def _serving(report: dict[str, Any]) -> str:
    session = live_session(report)
    if not session:
        return "<p class='muted'>no live session in this run</p>"
    body = [
        [
            _e(f"{name} latency"),
            f"{stats['requests']:,}",
            fmt(stats["p50"], 2),
            fmt(stats["p99"], 2),
        ]
        for name, stats in session["latency_ms"].items()
    ]
    fresh = session["freshness_ms"]
    body.append(
        [
            "push -> recommendation",
            f"{fresh['probes']:,}",
            fmt(fresh["p50"], 2),
            fmt(fresh["p99"], 2),
        ]
    )
    header = ["what", "requests / probes", "p50 ms", "p99 ms"]
    url = (report.get("serving") or {}).get("url")
    intro = (
        f"<p>served at <code>{_e(url)}</code>: {session['events_sent']:,} events sent, "
        f"{session['events_accepted']:,} accepted, {session['events_quarantined']:,} quarantined"
        f" (push p50 {fmt(session.get('push_ms_p50'), 2)} ms).</p>"
    )
    reasons = session.get("quarantine_reasons") or {}
    why = (
        table(
            ["quarantine reason", "events"],
            [[_e(k), f"{v:,}"] for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])],
            numeric={1},
            id_="serving-quarantine",
        )
        if reasons
        else ""
    )
    return intro + table(header, body, numeric={1, 2, 3}, id_="serving-latency") + why


def _files(report: dict[str, Any], page_dir: Path) -> str:
    docs = (report.get("feature_suites") or {}).get("data_docs")
    rows = [
        ("Data Docs (raw tables)", _link(report.get("data_docs"), page_dir)),
        ("Data Docs (feature tables)", _link(docs, page_dir)),
        ("evaluation report", _link(report.get("evaluation_report"), page_dir)),
        ("JSON report", _link(page_dir / JSON_NAME, page_dir)),
        ("HTML report", _e(report.get("html_report") or page_dir / HTML_NAME)),
    ]
    return table(["file", "where"], [[_e(a), b] for a, b in rows], row_headers=True, id_="files")


def build_html(report: dict[str, Any], page_dir: Path, plots: list[Plot]) -> str:
    """The page for ``report``; links and images are relative to ``page_dir``, where it goes."""
    summary = [("wall time", f"{report['wall_seconds']} s"), *summary_rows(report)]
    stages = [[_e(s), f"{v:.1f}"] for s, v in report["stage_seconds"].items()]
    sections = [
        (
            "Summary",
            table(
                ["what", "value"],
                [[_e(a), _e(b)] for a, b in summary],
                row_headers=True,
                id_="summary",
            ),
        ),
        ("Stages", table(["stage", "seconds"], stages, numeric={1}, id_="stages")),
        (
            "Data quality",
            f"<p>{report['dirty_rows_injected']:,} dirty rows were injected; "
            "quarantined rows are kept with their reasons.</p>" + _data_quality(report),
        ),
        (
            "Ranker training",
            f"<p>{_e(report['ranker']['model'])}</p>"
            + _training(report)
            + _figures(plots, "training", page_dir),
        ),
        (
            "Offline evaluation",
            _evaluation(report)
            + f"<p>full report: {_link(report.get('evaluation_report'), page_dir)}</p>"
            + _figures(plots, "evaluation", page_dir),
        ),
        ("Serving", _serving(report) + _figures(plots, "serving", page_dir)),
        ("Replay", _figures(plots, "replay", page_dir)),
        ("Files", _files(report, page_dir)),
    ]
    body = "".join(
        f"<section id='{_e(title.lower().replace(' ', '-'))}'><h2>{_e(title)}</h2>{content}</section>"
        for title, content in sections
        if content
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>livecart demo report</title><style>{STYLE}</style></head><body>"
        f"<h1>livecart demo report</h1><p class='sub'>{_e(report.get('scale', ''))} world in "
        f"<code>{_e(report['home'])}</code>, {report['wall_seconds']} s</p>{body}"
        "</body></html>"
    )
