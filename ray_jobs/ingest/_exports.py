"""Reading one export file of `livecart ingest tables` so that one bad line never fails the file.

A CSV line that cannot be a row (a stray carriage return inside it, more or fewer fields than the
header) becomes a bad row with its line's text and reason, and the lines beside it are read as
usual; each row read keeps its 1-based data row number (the header is not counted), so a
quarantined row names the row a user finds in the file. Lines may end in LF, CRLF or (old Mac)
CR alone.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from livecart.core import contract as c
from livecart.core.errors import ContractError
from ray_jobs.ingest._lines import LINE, STRAY_CR_RULE
from ray_jobs.ingest._pipeline import Quarantine

_STRAY_CR: Final = re.compile(rb"\r(?!\n)")
_FIRST_LINE: Final = re.compile(rb"\r\n|\r|\n")
_BOM: Final = "\ufeff"


@dataclass(frozen=True)
class ExportRows:
    """The rows read (all columns as text for CSV) and each one's 1-based data row number."""

    frame: pd.DataFrame
    rows: np.ndarray


def read_export(path: Path, table: c.Table, quarantine: Quarantine) -> ExportRows:
    """The rows of ``path``; lines that cannot be rows go to ``quarantine``."""
    try:
        if path.suffix == ".parquet":
            frame: pd.DataFrame = pq.read_table(path).to_pandas()
            return ExportRows(frame, np.arange(1, len(frame) + 1))
        return _read_csv(path, table, quarantine)
    except pa.ArrowException as exc:
        raise ContractError(str(path), None, f"not a readable {path.suffix} file ({exc})") from exc


def _read_csv(path: Path, table: c.Table, quarantine: Quarantine) -> ExportRows:
    data = path.read_bytes()
    header = _FIRST_LINE.split(data, maxsplit=1)[0].decode("utf-8", errors="replace")
    names = header.strip().lstrip(_BOM).split(",")
    # Physical line numbers of the lines kept, where lines with a stray CR were cut out.
    kept: list[int] | None = None
    if b"\n" in data and _STRAY_CR.search(data):
        lines = data.split(b"\n")
        kept = [1]
        for number, line in enumerate(lines[1:], start=2):
            if b"\r" in line.removesuffix(b"\r"):
                text = line.decode("utf-8", errors="replace")
                quarantine.add(
                    table, str(path), number - 1, f"{LINE}: {STRAY_CR_RULE}", {LINE: text}
                )
            else:
                kept.append(number)
        data = b"\n".join(lines[n - 1] for n in kept)
    invalid: dict[int, str] = {}

    def skip(row: pacsv.InvalidRow) -> str:
        invalid[row.number] = row.text
        physical = kept[row.number - 1] if kept else row.number
        rule = f"{LINE}: expected {row.expected_columns} columns, found {row.actual_columns}"
        quarantine.add(table, str(path), physical - 1, rule, {LINE: row.text})
        return "skip"

    options = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True
    )
    frame: pd.DataFrame = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=False),  # threads leave InvalidRow.number None
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
        convert_options=options,
    ).to_pandas()
    if kept is None and not invalid:
        return ExportRows(frame, np.arange(1, len(frame) + 1))
    # The rows read are the buffer's non-empty lines after the header that were not skipped.
    buffer_lines = data.splitlines()
    physical = kept or list(range(1, len(buffer_lines) + 1))
    numbers = [
        physical[i] - 1
        for i in range(1, len(buffer_lines))
        if buffer_lines[i] and (i + 1) not in invalid
    ]
    if len(numbers) != len(frame):  # never guess: fall back to positions
        numbers = list(range(1, len(frame) + 1))
    return ExportRows(frame, np.asarray(numbers, dtype=np.int64))
