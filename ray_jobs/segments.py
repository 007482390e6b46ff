"""`livecart segments`: viewer segments from viewer vectors (PCA, then k-means), stored as a feature.

A viewer vector is the latest profile: category affinities plus log activity, spend, watch time and
click-through. Vectors are standardised, reduced with PCA, clustered with k-means (k-means++ start,
seeded), and each segment is named after its centroid: dominant category and spend level
("beauty big spenders"). Segments serve cold start and describe a room's audience.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.errors import StageError
from livecart.core.io import write_parquet_atomic
from livecart.core.settings import LivecartSettings

ACTIVITY = (f.VIEWER_EVENTS_TOTAL, f.VIEWER_SPEND_TOTAL, f.VIEWER_WATCH_MINUTES_TOTAL)


@dataclass(frozen=True)
class SegmentResult:
    viewers: int
    names: dict[int, str]
    sizes: dict[str, int]


def viewer_vectors(frame: pd.DataFrame) -> np.ndarray:
    """(n, categories + 4) viewer vectors from latest profile rows."""
    affinity = np.stack(
        [np.asarray(a, dtype=np.float64) for a in frame[f.VIEWER_CATEGORY_AFFINITY]]
    )
    activity = np.log1p(frame[list(ACTIVITY)].to_numpy(dtype=np.float64).clip(min=0))
    ctr = frame[[f.VIEWER_CTR]].to_numpy(dtype=np.float64)
    return np.hstack([affinity, activity, ctr])


def pca(x: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """Projection of standardised ``x`` on its top principal components, and the basis."""
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    basis = vt[:components]
    return x @ basis.T, basis


def kmeans(x: np.ndarray, k: int, seed: int, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ initialisation; returns (labels, centroids)."""
    rng = np.random.default_rng(seed)
    centroids = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None, :] - np.array(centroids)[None]) ** 2).sum(-1), axis=1)
        centroids.append(
            x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))]
        )
    centre = np.array(centroids)
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iterations):
        labels = ((x[:, None, :] - centre[None]) ** 2).sum(-1).argmin(axis=1)
        moved = np.array(
            [x[labels == j].mean(axis=0) if (labels == j).any() else centre[j] for j in range(k)]
        )
        if np.allclose(moved, centre):
            break
        centre = moved
    return labels, centre


def name_segments(vectors: np.ndarray, labels: np.ndarray, k: int) -> dict[int, str]:
    """Name each segment by its mean dominant category and its spend level vs the median."""
    spend = vectors[:, len(c.CATEGORIES) + 1]
    median = float(np.median(spend))
    names: dict[int, str] = {}
    for j in range(k):
        members = vectors[labels == j]
        if not len(members):
            continue
        category = c.CATEGORIES[int(members[:, : len(c.CATEGORIES)].mean(axis=0).argmax())]
        level = "big spenders" if members[:, len(c.CATEGORIES) + 1].mean() > median else "browsers"
        if members[:, : len(c.CATEGORIES)].sum(axis=1).mean() < 0.5:
            category, level = "new", "viewers"
        base = f"{category} {level}"
        names[j] = base if base not in names.values() else f"{base} {j}"
    return names


def latest_profiles(settings: LivecartSettings) -> pd.DataFrame:
    path = settings.feature_table_path(f.FeatureTable.VIEWER_PROFILE)
    if not path.exists():
        raise StageError("segments", f"missing {path}", "run `livecart features` first")
    con = duckdb.connect()
    try:
        frame: pd.DataFrame = con.execute(
            f"SELECT * FROM read_parquet(?) QUALIFY row_number() OVER "
            f"(PARTITION BY {c.VIEWER_ID} ORDER BY {c.EVENT_TIMESTAMP} DESC) = 1 ORDER BY {c.VIEWER_ID}",
            [str(path)],
        ).df()
    finally:
        con.close()
    return frame


def run(
    settings: LivecartSettings, k: int = 6, components: int = 4, seed: int = 7
) -> SegmentResult:
    """Cluster viewers and write ``<home>/features/viewer_segment.parquet``."""
    frame = latest_profiles(settings)
    vectors = viewer_vectors(frame)
    standard = (vectors - vectors.mean(axis=0)) / (vectors.std(axis=0) + 1e-9)
    reduced, _ = pca(standard, min(components, standard.shape[1]))
    k = max(1, min(k, len(frame)))
    labels, _ = kmeans(reduced, k, seed)
    names = name_segments(vectors, labels, k)
    table = pa.table(
        {
            c.VIEWER_ID: pa.array(frame[c.VIEWER_ID].astype(str)),
            c.EVENT_TIMESTAMP: pa.array(frame[c.EVENT_TIMESTAMP]).cast(c.UTC_TIMESTAMP),
            c.CREATED_TIMESTAMP: pa.array([datetime.now(UTC)] * len(frame), type=c.UTC_TIMESTAMP),
            f.SEGMENT_ID: pa.array(labels, type=pa.int64()),
            f.SEGMENT_NAME: pa.array([names.get(int(j), "unknown") for j in labels]),
        }
    )
    write_parquet_atomic(table, settings.feature_table_path(f.FeatureTable.VIEWER_SEGMENT))
    sizes = pd.Series([names.get(int(j), "unknown") for j in labels]).value_counts().to_dict()
    return SegmentResult(len(frame), names, {str(a): int(b) for a, b in sizes.items()})
