"""Small HTML helpers for the demo page: number formatting, tables, and Markdown tables.

:func:`markdown_html` is the fallback for a report that carries the evaluation only as Markdown:
headings, paragraphs and pipe tables become HTML; everything is escaped.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Collection, Sequence
from typing import Any

_SEPARATOR = re.compile(r"^:?-+:?$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_CODE = re.compile(r"`([^`]+)`")


def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; ``-`` for None, NaN or a non-number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else html.escape(str(value))
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def table(
    header: Sequence[str],
    body: Sequence[Sequence[str]],
    *,
    numeric: Collection[int] = (),
    row_headers: bool = False,
    id_: str | None = None,
) -> str:
    """A ``<table>``; ``header`` is plain text, ``body`` cells are HTML already escaped.

    ``numeric`` columns are right-aligned; with ``row_headers`` the first cell of each row is a
    ``<th scope="row">``.
    """

    def cls(i: int) -> str:
        return " class='num'" if i in numeric else ""

    head = "".join(f"<th scope='col'{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(header))
    rows = []
    for row in body:
        cells = []
        for i, cell in enumerate(row):
            tag = "th scope='row'" if row_headers and i == 0 else "td"
            cells.append(f"<{tag}{cls(i)}>{cell}</{tag.split()[0]}>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    ident = f" id='{html.escape(id_)}'" if id_ else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _inline(text: str) -> str:
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _markdown_table(lines: list[str]) -> str:
    rows = [_cells(line) for line in lines]
    header: list[str] = []
    if len(rows) > 1 and all(_SEPARATOR.match(c) for c in rows[1] if c):
        header, rows = rows[0], rows[2:]
    rows = [r for r in rows if not all(_SEPARATOR.match(c) for c in r if c)]
    width = max([len(header), *(len(r) for r in rows)], default=0)
    rows = [r + [""] * (width - len(r)) for r in rows]
    body = [[_inline(c) for c in r] for r in rows]
    numeric = {
        i for i in range(1, width) if all(re.match(r"^[-+\d.,%() ]+$", r[i] or "-") for r in rows)
    }
    if not header:
        header = [""] * width
    return table([*header, *[""] * (width - len(header))], body, numeric=numeric)


def markdown_html(text: str) -> str:
    """Headings, paragraphs and pipe tables of ``text`` as HTML (the rest as paragraphs)."""
    out: list[str] = []
    pending: list[str] = []
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("|"):
            pending.append(stripped)
            continue
        if pending:
            out.append(_markdown_table(pending))
            pending = []
        if not stripped:
            continue
        if heading := _HEADING.match(stripped):
            level = min(len(heading[1]) + 2, 6)  # the page's own h1/h2 stay above
            out.append(f"<h{level}>{_inline(heading[2])}</h{level}>")
        else:
            out.append(f"<p>{_inline(stripped)}</p>")
    return "".join(out)
