"""`livecart generate`: write a seeded synthetic live-commerce world as raw Parquet.

The catalog is built in the driver; viewer blocks are simulated as Ray tasks (a local Ray by
default, a cluster by address) and each block is written as its own event part, so memory stays
bounded by the block size whatever the scale. The same seed gives the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
from tqdm import tqdm

from livecart.core import contract as c
from livecart.core.io import clear_events, write_parquet_atomic, write_source
from livecart.core.ray_runtime import ensure_ray
from livecart.core.settings import LivecartSettings
from livecart.simulation.world.behavior import simulate_block
from livecart.simulation.world.catalog import Catalog, build_catalog
from livecart.simulation.world.config import WorldConfig
from livecart.simulation.world.dirty import dirty_events, dirty_products


@dataclass(frozen=True)
class GenerateResult:
    raw_dir: Path
    events: int
    dirty_rows: int
    parts: int
    tables: dict[str, int]


def _write_block(cfg: WorldConfig, cat: Catalog, block: int, raw_dir: str, truth_dir: str) -> int:
    events, truth = simulate_block(cfg, cat, block)
    write_source(Path(raw_dir), c.Table.EVENTS, events, part=f"{block:05d}")
    for name, table in truth.items():
        write_parquet_atomic(table, Path(truth_dir) / name / f"part-{block:05d}.parquet")
    return int(events.num_rows)


def _run_blocks(cfg: WorldConfig, cat: Catalog, settings: LivecartSettings, use_ray: bool) -> int:
    raw, truth = str(settings.raw_dir), str(settings.truth_dir)
    bar = tqdm(total=cfg.chunks, desc="simulating viewer blocks", unit="block", leave=False)
    total = 0
    if not use_ray:
        for block in range(cfg.chunks):
            total += _write_block(cfg, cat, block, raw, truth)
            bar.update(1)
        bar.close()
        return total
    ensure_ray(settings)
    task = ray.remote(num_cpus=1)(_write_block)
    cfg_ref, cat_ref = ray.put(cfg), ray.put(cat)
    pending: list[Any] = [task.remote(cfg_ref, cat_ref, b, raw, truth) for b in range(cfg.chunks)]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        total += int(ray.get(done[0]))
        bar.update(1)
    bar.close()
    return total


def run(
    cfg: WorldConfig, settings: LivecartSettings, dirty: float = 0.0, use_ray: bool = True
) -> GenerateResult:
    """Generate the world of ``cfg`` into ``settings.raw_dir`` (replacing any previous world)."""
    if not 0.0 <= dirty < 1.0:
        raise ValueError(f"--dirty must be in [0, 1), got {dirty}")
    cat = build_catalog(cfg)
    settings.raw_dir.mkdir(parents=True, exist_ok=True)
    clear_events(settings.raw_dir)
    for table, data in cat.tables.items():
        write_source(settings.raw_dir, table, data)
    for name, data in cat.truth.items():
        write_parquet_atomic(data, settings.truth_dir / f"{name}.parquet")
    for folder in (c.TRUTH_FAVOURITES, c.TRUTH_COMMENT_LABELS):
        for old in (settings.truth_dir / folder).glob("part-*.parquet"):
            old.unlink()
    (settings.truth_dir / f"{c.TRUTH_FAULTS}.parquet").unlink(missing_ok=True)

    events = _run_blocks(cfg, cat, settings, use_ray=use_ray and cfg.chunks > 1)
    dirty_rows = 0
    if dirty > 0:
        dirty_rows = _inject(cfg, cat, settings, dirty)
    counts = {t.value: d.num_rows for t, d in cat.tables.items()}
    counts[c.Table.EVENTS.value] = events
    (settings.raw_dir / "dataset.json").write_text(
        json.dumps(
            {
                "name": "synthetic",
                "config": cfg.model_dump(mode="json"),
                "rows": counts,
                "dirty_fraction": dirty,
                "dirty_rows": dirty_rows,
            },
            indent=2,
        )
    )
    return GenerateResult(settings.raw_dir, events, dirty_rows, cfg.chunks, counts)


def _inject(cfg: WorldConfig, cat: Catalog, settings: LivecartSettings, fraction: float) -> int:
    """Mix bad rows into the first events part and the products, and list them in a manifest.

    Bad rows sit among good ones, as in a real batch, so the gate has to separate them.
    """
    rng = np.random.default_rng([cfg.seed, 2])
    first = pq.read_table(settings.raw_dir / "events" / "part-00000.parquet")
    bad_events, manifest_events = dirty_events(first, fraction, rng, settings.max_text_chars)
    # A stable sort by time interleaves them and keeps each original ahead of its duplicate.
    mixed = pa.concat_tables([first, bad_events]).sort_by(c.EVENT_TIMESTAMP)
    write_source(settings.raw_dir, c.Table.EVENTS, mixed, part="00000")
    products = cat.tables[c.Table.PRODUCTS]
    bad_products, manifest_products = dirty_products(products, fraction, rng)
    write_source(settings.raw_dir, c.Table.PRODUCTS, pa.concat_tables([products, bad_products]))
    manifest = pa.concat_tables([manifest_events, manifest_products])
    write_parquet_atomic(manifest, settings.truth_dir / f"{c.TRUTH_FAULTS}.parquet")
    return int(manifest.num_rows)
