"""The streamer's whole-audience arithmetic: who is scored, the estimate and its band, the counts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from livecart.core import contract as c
from livecart.core import feature_names as f
from serving.audience import count_audience, estimate, scored_viewers, top_interests


def test_scored_viewers__everyone_while_cheap__a_steady_uniform_sample_beyond() -> None:
    small = [f"v{i}" for i in range(100)]
    assert scored_viewers("r1", small, products=5, budget=1000) == small
    large = [f"v{i}" for i in range(50_000)]
    picked = scored_viewers("r1", large, products=5, budget=1000)
    assert len(picked) == 200 == len(set(picked)) and set(picked) <= set(large)
    assert picked == scored_viewers("r1", large, products=5, budget=1000)  # steady answer
    assert picked != scored_viewers("r2", large, products=5, budget=1000)


def test_estimate__exact_when_everyone_scored() -> None:
    p = np.array([[0.1, 0.5], [0.3, 0.0]])
    got = estimate(p, present=2)
    assert got.exact and np.allclose(got.expected, [0.4, 0.5])
    assert np.array_equal(got.low, got.expected) and np.array_equal(got.high, got.expected)


def test_estimate__sampled_band_covers_the_exact_total_about_95_percent() -> None:
    rng = np.random.default_rng(0)
    population = rng.beta(0.5, 8.0, size=(20_000, 3))  # skewed, like purchase probabilities
    truth = population.sum(axis=0)
    covered = []
    for trial in range(300):
        rows = np.random.default_rng(trial).choice(20_000, size=400, replace=False)
        got = estimate(population[rows], present=20_000)
        assert not got.exact and got.scored == 400
        covered.append((got.low <= truth) & (truth <= got.high))
    coverage = float(np.mean(covered))
    assert 0.91 <= coverage <= 0.98, coverage


def test_count_audience__counts_everyone_with_nulls_and_odd_rows() -> None:
    width = len(c.CATEGORIES)
    share = [1.0] + [0.0] * (width - 1)
    other = [0.0, 2.0] + [0.0] * (width - 2)
    table = pa.table(
        {
            c.VIEWER_ID: ["a", "b", "c", "d", "e"],
            f.SEGMENT_NAME: ["bargain hunters", None, "bargain hunters", "loyal", None],
            f.VIEWER_CATEGORY_AFFINITY: [share, other, None, [1.0], share],
        }
    )
    counts = count_audience(table)
    assert counts.segments == {"bargain hunters": 2, "new viewers": 2, "loyal": 1}
    assert sum(counts.segments.values()) == 5
    assert np.allclose(counts.affinity[:2], [2.0, 2.0]) and counts.affinity[2:].sum() == 0
    assert top_interests(counts.affinity, k=2) == {c.CATEGORIES[0]: 0.5, c.CATEGORIES[1]: 0.5}
    assert count_audience(pa.table({})).segments == {}
