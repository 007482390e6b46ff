"""Generation as Ray tasks on a real local Ray gives exactly the serial result."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from livecart.core.io import event_parts
from livecart.core.settings import LivecartSettings
from livecart.simulation.generate import run as generate
from livecart.simulation.world.config import WorldConfig

pytestmark = pytest.mark.integration


def test_generate__ray_tasks__same_parts_as_serial(tmp_path: Path, local_ray: None) -> None:
    cfg = WorldConfig(
        viewers=300, streamers=12, days=2, visits_per_viewer_day=1.5, visits_per_chunk=300, seed=9
    )
    assert cfg.chunks >= 3
    serial = LivecartSettings(home=tmp_path / "serial")
    parallel = LivecartSettings(home=tmp_path / "ray", ray_num_cpus=2)
    a = generate(cfg, serial, use_ray=False)
    b = generate(cfg, parallel, use_ray=True)
    assert a.events == b.events and a.parts == b.parts == cfg.chunks
    parts_a, parts_b = event_parts(serial.raw_dir), event_parts(parallel.raw_dir)
    assert [p.name for p in parts_a] == [p.name for p in parts_b]
    for x, y in zip(parts_a, parts_b, strict=True):
        assert pq.read_table(x).equals(pq.read_table(y))
