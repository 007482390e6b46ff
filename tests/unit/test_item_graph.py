"""LightGCN propagation over a hand-made product graph."""

from __future__ import annotations

import numpy as np

from ray_jobs.item_graph import co_interaction, propagate, reduce


def test_co_interaction__shared_viewers__weighted_edges_without_self_loops() -> None:
    # viewer 0 touched products 0 and 1; viewer 1 touched 1 and 2 (twice on 2); product 3 alone.
    adjacency = co_interaction(
        np.array([0, 0, 1, 1, 2]),
        np.array([0, 1, 1, 2, 3]),
        np.array([1.0, 1.0, 1.0, 2.0, 1.0]),
        3,
        4,
    ).toarray()
    expected = np.array([[0, 1, 0, 0], [1, 0, 2, 0], [0, 2, 0, 0], [0, 0, 0, 0]], dtype=np.float64)
    np.testing.assert_allclose(adjacency, expected)


def test_propagate__path_graph__matches_hand_computed_lightgcn() -> None:
    # A path 0 - 1 - 2 with unit weights; degrees 1, 2, 1; norm weights 1/sqrt(2) on each edge.
    adjacency = co_interaction(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]), np.ones(4), 2, 3)
    x = np.eye(3)
    a = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]) / np.sqrt(2)
    mean = (x + a @ x + a @ a @ x) / 3
    expected = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    np.testing.assert_allclose(propagate(adjacency, x, layers=2), expected, atol=1e-6)


def test_propagate__isolated_product__keeps_its_own_direction() -> None:
    adjacency = co_interaction(np.array([0, 0]), np.array([0, 1]), np.ones(2), 1, 3)
    x = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    out = propagate(adjacency, x)
    np.testing.assert_allclose(out[2], [0.6, 0.8], atol=1e-6)
    assert out[0] @ out[1] > 0  # linked products are pulled together


def test_reduce__fewer_items_than_dims__zero_padded() -> None:
    out = reduce(np.random.default_rng(0).normal(size=(5, 10)), dim=8)
    assert out.shape == (5, 8) and np.all(out[:, 5:] == 0)
