"""`livecart bench scale`: per-stage time and memory, growth against the events, the PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livecart.bench.scale import growth, measure_scale, plot, run
from livecart.core.settings import LivecartSettings


def test_growth__time_ratio_over_events_ratio__per_stage_and_pair() -> None:
    rows = {
        "tiny": {"events": 100, "stages": {"a": {"seconds": 1.0}, "b": {"seconds": 2.0}}},
        "small": {"events": 1_000, "stages": {"a": {"seconds": 10.0}, "b": {"seconds": 40.0}}},
        "medium": {"events": 4_000, "stages": {"a": {"seconds": 20.0}}},
    }
    assert growth(rows) == {
        "tiny->small": {"a": 1.0, "b": 2.0},  # a linear, b twice worse than linear
        "small->medium": {"a": 0.5},  # a stage only the larger scale lacks is left out
    }


def test_run__tiny_world__stage_timed_with_its_memory_json_and_png(tmp_path: Path) -> None:
    result = run(tmp_path, ("tiny",), ("generate",), use_ray=False)
    row = result["scales"]["tiny"]
    assert row["events"] > 0 and set(row["stages"]) == {"generate"}
    # This process alone holds numpy, pandas and pyarrow: well above 50 MiB.
    assert row["stages"]["generate"]["seconds"] > 0
    assert row["peak_memory_gib"] == row["stages"]["generate"]["peak_memory_gib"] > 0.05
    assert Path(result["png"]).is_file() and result["growth_time_over_events"] == {}
    assert 0 < result["memory_vs_budget"] < 1
    json.dumps(result)


def test_measure_scale__unknown_stage__refused_before_anything_runs(
    settings: LivecartSettings,
) -> None:
    with pytest.raises(ValueError, match="unknown stages"):
        measure_scale(settings, "tiny", ("generate", "fly"))
    assert not settings.raw_dir.exists()


def test_plot__stages_of_a_home_without_generate__png_without_a_world_size(
    tmp_path: Path,
) -> None:
    """A rerun of one stage in a home made before (``--stage train``) has no events to plot
    against: the PNG says so instead of failing after the stage ran."""
    rows = {"large": {"stages": {"train": {"seconds": 12.0, "peak_memory_gib": 1.5}}}}
    assert plot(rows, tmp_path / "scale.png").is_file()
