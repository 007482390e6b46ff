"""Lines of a text file as bytes, and the line-level rules every row reader shares.

Lines end in LF or CRLF, or in CR alone (old Mac files, recognised by a first 64 KiB that holds a
CR and no LF). A CR anywhere else inside a line, or a field longer than the csv module's field
size limit, makes that one line a bad row (with its reason), never a failed file: the rows beside
it are read as usual.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from tqdm import tqdm

LINE: Final = "line"
STRAY_CR_RULE: Final = "carriage return (CR) inside the row"
_BOM: Final = b"\xef\xbb\xbf"
_SNIFF_BYTES: Final = 1 << 16


def _raw_lines(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines with their endings: split at LF, or at CR in a CR-only file."""
    head = handle.read(_SNIFF_BYTES)
    handle.seek(0)
    if b"\n" in head or b"\r" not in head:
        yield from handle
        return
    rest = b""
    while chunk := handle.read(_SNIFF_BYTES):
        *lines, rest = (rest + chunk).split(b"\r")
        for line in lines:
            yield line + b"\r"
    if rest:
        yield rest


def byte_lines(path: Path, progress: bool) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes without the line ending)``; streams, so memory stays bounded."""
    size = path.stat().st_size
    with (
        path.open("rb") as handle,
        tqdm(total=size, unit="B", unit_scale=True, desc=path.name, disable=not progress) as bar,
    ):
        for number, chunk in enumerate(_raw_lines(handle), start=1):
            bar.update(len(chunk))
            line = chunk.rstrip(b"\r\n")
            yield number, line[len(_BOM) :] if number == 1 and line.startswith(_BOM) else line


def stray_cr(text: str) -> str | None:
    """The reason a line with a carriage return inside is bad (None: it has none)."""
    return f"{LINE}: {STRAY_CR_RULE}" if "\r" in text else None


def _field_too_long(text: str) -> str | None:
    limit = csv.field_size_limit()
    if len(text) > limit:
        longest = max(len(part) for part in text.split(","))
        if longest > limit:
            return (
                f"{LINE}: a field of {longest} characters, over the CSV field size limit ({limit})"
            )
    return None


def csv_fields(text: str) -> list[str] | str:
    """The comma-separated fields of ``text``, or the reason they cannot be read."""
    problem = stray_cr(text) or _field_too_long(text)
    if problem is not None:
        return problem
    if '"' not in text:
        return text.split(",")
    try:
        return next(csv.reader([text]))
    except csv.Error as exc:
        return f"{LINE}: not valid CSV ({exc})"


def utf8_problem(exc: UnicodeDecodeError) -> str:
    return f"{LINE}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
