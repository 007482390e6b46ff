"""`livecart embed` as a stream of files gives the tables the in-driver way gave.

The reference is the earlier implementation, kept here in a few lines: every text read into the
driver, each distinct text (in order of first appearance) embedded once, the tables built and
sorted in Arrow. The test needs no Ray and no encoder (a text's vector is a hash of it), so it
checks the staging and the DuckDB assembly exactly. The whole job on Ray Data with the real
encoder is ``tests/integration/test_embed.py`` (its vectors against the encoder's own).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.core.staging import staging_dir
from livecart.simulation.generate import GenerateResult
from ray_jobs.embed import embedding_path, embedding_schema, item_texts
from ray_jobs.embed_texts import (
    ORDER,
    TEXT,
    TEXT_ID,
    TEXTS,
    VECTOR,
    VECTORS,
    check_vectors,
    stage_texts,
    write_table,
)
from ray_jobs.features import run as build_features
from validation.run import run as validate

pytestmark = [pytest.mark.integration]

Encode = Callable[[Sequence[str]], np.ndarray]


def in_driver(settings: LivecartSettings, encode: Encode, dim: int) -> dict[str, pa.Table]:
    """The tables as the in-driver implementation built them (created timestamps left out)."""
    texts = item_texts(settings)
    together = pa.concat_tables(
        pa.table(
            {
                "table": pa.array([table.value] * part.num_rows, pa.string()),
                "key": part.column(0).cast(pa.string()),
                c.EVENT_TIMESTAMP: part.column(c.EVENT_TIMESTAMP).cast(c.UTC_TIMESTAMP),
                TEXT: pc.fill_null(part.column(TEXT).cast(pa.string()), ""),
            }
        )
        for table, part in texts.items()
    )
    distinct = pc.unique(together.column(TEXT))
    vectors = encode(distinct.to_pylist()) if len(distinct) else np.zeros((0, dim), np.float32)
    at = pc.index_in(together.column(TEXT), value_set=distinct).to_numpy(zero_copy_only=False)
    out = {}
    for table in texts:
        (key,) = f.ENTITY_KEYS[table]
        mine = np.flatnonzero(
            together.column("table").to_numpy(zero_copy_only=False) == table.value
        )
        part = together.take(pa.array(mine))
        order = pc.sort_indices(part, [("key", "ascending")]).to_numpy()
        part = part.take(pa.array(order))
        out[table.value] = pa.table(
            {
                key: part.column("key"),
                c.EVENT_TIMESTAMP: part.column(c.EVENT_TIMESTAMP),
                f.EMBEDDING_COLUMNS[table]: pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors[at[mine][order]].ravel(), pa.float32()), dim
                ),
            }
        )
    return out


def hashed(texts: Sequence[str], dim: int = 8) -> np.ndarray:
    """A stand-in encoder: each text's vector from its SHA-256 (equal texts, equal vectors)."""
    rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), np.uint8)[:dim] for t in texts]
    return np.array(rows, np.float32).reshape(len(texts), dim)


def written(settings: LivecartSettings) -> dict[str, pa.Table]:
    """The embedding tables on disk, without their created timestamps."""
    out = {}
    for table in ORDER:
        found = pq.read_table(embedding_path(settings, table))
        out[table.value] = found.drop_columns([c.CREATED_TIMESTAMP])
    return out


@pytest.fixture
def featured(settings: LivecartSettings, tiny_world: GenerateResult) -> LivecartSettings:
    validate(settings)
    build_features(settings)
    return settings


def test_staged_texts_and_duckdb_tables__same_as_in_driver(featured: LivecartSettings) -> None:
    dim, created = 8, datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    with staging_dir(featured.home, "embed") as staging:
        distinct = stage_texts(featured, staging)
        texts = pq.read_table(staging / TEXTS)
        # Each distinct text once, in order of first appearance: the encoder's batches as before.
        reference = pc.unique(
            pa.concat_arrays(
                [
                    pc.fill_null(t.column(TEXT), "").combine_chunks()
                    for t in item_texts(featured).values()
                ]
            )
        )
        assert distinct == texts.num_rows == len(reference)
        assert texts.column(TEXT).to_pylist() == reference.to_pylist()
        (staging / VECTORS).mkdir()
        vectors = hashed(texts.column(TEXT).to_pylist(), dim)
        half = texts.num_rows // 2  # two files, as Ray Data writes one per block
        for i, rows in enumerate((slice(0, half), slice(half, None))):
            pq.write_table(
                pa.table(
                    {
                        TEXT_ID: texts.column(TEXT_ID)[rows],
                        VECTOR: pa.FixedSizeListArray.from_arrays(
                            pa.array(vectors[rows].ravel(), pa.float32()), dim
                        ),
                    }
                ),
                staging / VECTORS / f"part-{i}.parquet",
            )
        check_vectors(staging, distinct)
        stamp = pa.scalar(created, type=c.UTC_TIMESTAMP)
        for table in ORDER:
            schema = embedding_schema(table, dim)
            write_table(staging, table, schema, stamp, embedding_path(featured, table))
    for table in ORDER:
        found = pq.read_table(embedding_path(featured, table))
        assert found.schema == embedding_schema(table, dim)
        assert found.column(c.CREATED_TIMESTAMP).to_pylist() == [created] * found.num_rows
    expected = in_driver(featured, lambda t: hashed(t, dim), dim)
    assert {n: t.num_rows for n, t in written(featured).items()} == {
        n: t.num_rows for n, t in expected.items()
    }
    assert written(featured) == expected
    assert not any((featured.home / ".staging").iterdir())  # removed on the way out
