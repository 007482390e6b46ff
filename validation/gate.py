"""The validation gate: split a contract batch into good rows and a quarantine table.

GX decides which rows break which rule; the gate turns that into two disjoint Arrow tables whose
union is the input (``good + quarantine == input``, no row lost or doubled). Quarantined rows keep
every contract column plus :data:`QUARANTINE_REASON` (all broken rules, ``"; "``-joined, in suite
order) and :data:`QUARANTINE_SOURCE`. For duplicate keys GX flags every copy; the gate keeps the
first occurrence (input order) and quarantines later ones, including copies of keys already seen in
earlier batches of the same source (:class:`SeenKeys`), so events can be validated part by part.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from livecart.core.contract import (
    PRIMARY_KEYS,
    QUARANTINE_REASON,
    QUARANTINE_SOURCE,
    SCHEMAS,
    Table,
)
from livecart.core.errors import ContractError, GateBlocked
from livecart.core.io import source_exists, table_path
from livecart.core.settings import LivecartSettings
from validation.engine import ROW_INDEX, GxEngine, RuleOutcome, TableCheck
from validation.suites import (
    KIND_DUPLICATE,
    PARENT_TABLES,
    REFERENCES,
    reference_column,
    suite_parameters,
)

REASON_SEPARATOR = "; "


@dataclass(frozen=True)
class ReferenceSets:
    """Primary keys of the clean parent tables that foreign keys may point at.

    A parent missing from ``ids`` is absent from the dataset, and reference checks against it are
    skipped; a parent present with no ids makes every reference to it unknown.
    """

    ids: Mapping[Table, pa.Array] = field(default_factory=dict)

    def with_table(self, table: Table, clean: pa.Table) -> ReferenceSets:
        """A copy that also knows the primary keys of ``clean`` rows of ``table``."""
        (key,) = PRIMARY_KEYS[table]
        column = clean.column(key).combine_chunks().drop_null()
        return ReferenceSets({**self.ids, table: column})

    @property
    def parents(self) -> frozenset[Table]:
        return frozenset(self.ids)


def load_references(clean_dir: Path) -> ReferenceSets:
    """Primary keys of every parent table present in ``clean_dir`` (for validating new events)."""
    found = ReferenceSets()
    for parent in sorted(PARENT_TABLES):
        if source_exists(clean_dir, parent):
            keys = pq.read_table(table_path(clean_dir, parent), columns=list(PRIMARY_KEYS[parent]))
            found = found.with_table(parent, keys)
    return found


class SeenKeys:
    """Primary keys met in earlier batches of one source, to catch duplicates across batches.

    Holds one Python object per key: about 70 bytes per event id.
    """

    def __init__(self) -> None:
        self._keys: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def contains(self, keys: Sequence[Hashable]) -> npt.NDArray[np.bool_]:
        return np.fromiter((k in self._keys for k in keys), dtype=np.bool_, count=len(keys))

    def add(self, keys: Sequence[Hashable]) -> None:
        self._keys.update(k for k in keys if k is not None)


@dataclass(frozen=True)
class GateResult:
    """Good rows, quarantined rows with reasons, and the batch's table-level checks."""

    table: Table
    batch: str
    good: pa.Table
    quarantine: pa.Table
    reason_counts: Mapping[str, int]
    table_checks: tuple[TableCheck, ...]
    quarantined_rows: tuple[int, ...] = ()
    """Input row positions of the quarantined rows, in the order of ``quarantine``."""

    @property
    def total(self) -> int:
        return int(self.good.num_rows + self.quarantine.num_rows)

    @property
    def quarantined(self) -> int:
        return int(self.quarantine.num_rows)

    @property
    def fraction(self) -> float:
        return self.quarantined / self.total if self.total else 0.0

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        return Counter(self.reason_counts).most_common(n)


def quarantine_schema(table: Table) -> pa.Schema:
    """Contract columns of ``table`` plus the reason and source columns."""
    return (
        SCHEMAS[table]
        .append(pa.field(QUARANTINE_REASON, pa.string()))
        .append(pa.field(QUARANTINE_SOURCE, pa.string()))
    )


def _row_keys(frame: pa.Table, table: Table) -> list[Hashable]:
    columns = [frame.column(c).to_pylist() for c in PRIMARY_KEYS[table]]
    if len(columns) == 1:
        return list(columns[0])
    return [None if None in key else key for key in zip(*columns, strict=True)]


def _gx_frame(table: Table, frame: pa.Table, references: ReferenceSets) -> pd.DataFrame:
    """The batch as pandas for GX: row numbers, known-id flags, and no list columns."""
    data = frame.drop_columns([f.name for f in frame.schema if pa.types.is_list(f.type)])
    for column, parent in REFERENCES.get(table, ()):
        if parent not in references.ids:
            continue
        values = frame.column(column)
        known = pc.is_in(values, value_set=references.ids[parent])
        known = pc.if_else(pc.is_null(values), pa.scalar(None, pa.bool_()), known)
        data = data.append_column(reference_column(column), known)
    data = data.append_column(ROW_INDEX, pa.array(np.arange(frame.num_rows, dtype=np.int64)))
    gx_frame: pd.DataFrame = data.to_pandas()
    return gx_frame


def _masks(
    table: Table,
    gx_frame: pd.DataFrame,
    outcomes: list[RuleOutcome],
    earlier: npt.NDArray[np.bool_],
) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """One boolean mask per broken rule; duplicates narrowed to later copies of a key."""
    size = len(gx_frame)
    masks: list[tuple[str, npt.NDArray[np.bool_]]] = []
    for outcome in outcomes:
        mask = np.zeros(size, dtype=np.bool_)
        mask[outcome.rows] = True
        if outcome.kind == KIND_DUPLICATE:
            later = gx_frame.duplicated(subset=list(PRIMARY_KEYS[table]), keep="first")
            mask &= later.to_numpy(dtype=np.bool_)
            mask |= earlier
        if mask.any():
            masks.append((outcome.reason, mask))
    return masks


def _reasons(
    bad: npt.NDArray[np.bool_], masks: list[tuple[str, npt.NDArray[np.bool_]]]
) -> tuple[list[str], Counter[str]]:
    positions = np.flatnonzero(bad)
    parts: list[list[str]] = [[] for _ in positions]
    counts: Counter[str] = Counter()
    for why, mask in masks:
        hits = np.flatnonzero(mask[positions])
        counts[why] += len(hits)
        for i in hits:
            parts[i].append(why)
    return [REASON_SEPARATOR.join(p) for p in parts], counts


def validate_frame(
    table: Table,
    frame: pa.Table,
    references: ReferenceSets,
    settings: LivecartSettings,
    now: datetime,
    *,
    engine: GxEngine | None = None,
    seen: SeenKeys | None = None,
    batch: str | None = None,
    table_checks: bool = True,
) -> GateResult:
    """Validate one conformed batch of ``table`` and split it into good and quarantined rows.

    ``engine`` should be shared across calls (building GX objects is the slow part); ``seen``
    carries primary keys across batches of the same source and is updated with the keys of this
    batch's good rows (a quarantined row was not stored: its key may come back corrected).
    """
    if not frame.schema.equals(SCHEMAS[table], check_metadata=False):
        raise ContractError(
            f"{table.value} batch", None, "schema differs from the contract; conform it first"
        )
    engine = engine if engine is not None else GxEngine()
    name = batch or table.value
    gx_frame = _gx_frame(table, frame, references)
    parameters = suite_parameters(settings, now)
    outcomes = engine.check_rows(table, gx_frame, references.parents, parameters, name)
    keys = _row_keys(frame, table) if seen is not None else []
    earlier = seen.contains(keys) if seen is not None else np.zeros(frame.num_rows, np.bool_)
    masks = _masks(table, gx_frame, outcomes, earlier)
    bad = np.zeros(frame.num_rows, dtype=np.bool_)
    for _, mask in masks:
        bad |= mask
    reasons, counts = _reasons(bad, masks)
    quarantine = frame.filter(pa.array(bad))
    quarantine = quarantine.append_column(
        QUARANTINE_REASON, pa.array(reasons, pa.string())
    ).append_column(QUARANTINE_SOURCE, pa.array([table.value] * len(reasons), pa.string()))
    if seen is not None:  # only stored rows: a quarantined row's key may come back corrected
        seen.add([key for key, refused in zip(keys, bad, strict=True) if not refused])
    checks = engine.check_table(table, gx_frame, name) if table_checks else []
    return GateResult(
        table=table,
        batch=name,
        good=frame.filter(pa.array(~bad)),
        quarantine=quarantine,
        reason_counts=dict(counts),
        table_checks=tuple(checks),
        quarantined_rows=tuple(int(i) for i in np.flatnonzero(bad)),
    )


def enforce_threshold(result: GateResult, max_fraction: float, quarantine_path: Path) -> None:
    """Raise :class:`GateBlocked` when the batch's quarantined share exceeds ``max_fraction``."""
    if result.fraction <= max_fraction:
        return
    top = ", ".join(f"{why!r} ({n} rows)" for why, n in result.top_reasons())
    raise GateBlocked(
        f"validation gate blocked {result.table.value} batch {result.batch!r}: "
        f"{result.quarantined} of {result.total} rows quarantined ({result.fraction:.1%}), "
        f"above max_quarantine_fraction {max_fraction:.1%}. Top failing rules: {top}. "
        f"Quarantined rows with reasons: {quarantine_path}"
    )
