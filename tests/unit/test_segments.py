"""Viewer segments: k-means finds planted groups, names follow the centroids, the job writes a feature."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.simulation.generate import GenerateResult
from ray_jobs.features import run as build_features
from ray_jobs.segments import kmeans, name_segments, pca
from validation.run import run as validate


def test_kmeans__three_planted_blobs__recovered() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.vstack([c + rng.normal(0, 0.5, size=(50, 2)) for c in centres])
    labels, _ = kmeans(points, 3, seed=1)
    for block in range(3):
        assert len(set(labels[block * 50 : (block + 1) * 50])) == 1
    assert len(set(labels)) == 3


def test_pca__keeps_the_dominant_direction() -> None:
    rng = np.random.default_rng(1)
    x = np.outer(rng.normal(size=200), [3.0, 4.0]) + rng.normal(0, 0.01, size=(200, 2))
    _, basis = pca(x, 1)
    assert abs(abs(basis[0] @ np.array([0.6, 0.8])) - 1.0) < 1e-3


def test_name_segments__dominant_category_and_spend_level() -> None:
    n = len(c.CATEGORIES)
    beauty = np.zeros(n + 4)
    beauty[c.CATEGORIES.index("beauty")] = 1.0
    beauty[n + 1] = 5.0  # high log spend
    gaming = np.zeros(n + 4)
    gaming[c.CATEGORIES.index("gaming")] = 1.0
    names = name_segments(np.vstack([beauty, gaming, gaming]), np.array([0, 1, 1]), 2)
    assert names == {0: "beauty big spenders", 1: "gaming browsers"}


def test_features_job__writes_one_segment_per_viewer(
    settings: LivecartSettings, tiny_world: GenerateResult
) -> None:
    validate(settings)
    result = build_features(settings)
    table = pq.read_table(settings.features_dir / f"{f.FeatureTable.VIEWER_SEGMENT.value}.parquet")
    assert (
        table.num_rows
        == tiny_world.tables["viewers"]
        == result.rows[f.FeatureTable.VIEWER_SEGMENT.value]
    )
    assert len(set(table.column(c.VIEWER_ID).to_pylist())) == table.num_rows
    assert 1 < len(set(table.column(f.SEGMENT_NAME).to_pylist())) <= 6
