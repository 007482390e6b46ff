"""The ANN index (livecart.features.ann) against exact search, its updates, and the live index
that keeps it current from a source (livecart.features.vector_index)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from livecart.bench.ann import clustered, exact_top
from livecart.cli.main import app
from livecart.core.errors import LivecartError
from livecart.core.settings import LivecartSettings
from livecart.features.ann import DEAD_SHARE, AnnIndex, build
from livecart.features.vector_index import LiveIndex, Snapshot, VectorSource
from livecart.online.vector import distances

DIM = 32


@pytest.fixture(scope="module")
def world() -> tuple[np.ndarray, np.ndarray]:
    return clustered(3000, DIM, seed=3, queries=50)


def _keys(n: int, prefix: str = "p") -> list[tuple[str]]:
    return [(f"{prefix}{i}",) for i in range(n)]


def test_search__clustered_vectors__recall_at_100_against_exact(
    world: tuple[np.ndarray, np.ndarray],
) -> None:
    matrix, queries = world
    index = build(_keys(len(matrix)), matrix, DIM)
    norms = np.linalg.norm(matrix, axis=1)
    recalls = []
    for query in queries:
        hits = index.search(query, 100)
        truth = {f"p{i}" for i in exact_top(matrix, norms, query, 100).tolist()}
        recalls.append(len(truth & {key[0] for key, _ in hits}) / 100)
        assert [d for _, d in hits] == sorted(d for _, d in hits)  # nearest first
    assert np.mean(recalls) >= 0.95


@pytest.mark.parametrize("metric", ["cosine", "l2", "inner_product"])
def test_search__small_set__exact_ranking_and_distances(metric: str) -> None:
    matrix = np.random.default_rng(1).standard_normal((200, 8)).astype(np.float32)
    index = build(_keys(200), matrix, 8, metric)
    query = matrix[3] * 0.5 + 0.2
    expected = distances(matrix, np.linalg.norm(matrix, axis=1), query, metric)
    order = np.argsort(expected)[:10]
    hits = index.search(query, 10)
    assert [key for key, _ in hits] == [(f"p{i}",) for i in order.tolist()]
    assert np.allclose([d for _, d in hits], expected[order], atol=1e-4)


def test_upsert__new_changed_and_removed_keys__visible_to_the_next_search() -> None:
    matrix = np.random.default_rng(2).standard_normal((500, DIM)).astype(np.float32)
    index = build(_keys(500), matrix, DIM)
    target = np.ones(DIM, dtype=np.float32)
    index.upsert([("new",)], target[None])
    assert index.search(target, 1)[0][0] == ("new",)
    moved = -target
    index.upsert([("p7",)], moved[None])  # replaced: found at its new place only
    assert index.search(moved, 1)[0][0] == ("p7",)
    assert ("p7",) not in [key for key, _ in index.search(matrix[7], 20)]
    index.remove([("new",), ("absent",)])
    assert ("new",) not in [key for key, _ in index.search(target, 20)]
    assert len(index) == 500 and index.dead == 2


def test_remove__past_the_dead_share__rebuilds_the_graph_with_the_live_keys() -> None:
    matrix = np.random.default_rng(4).standard_normal((100, DIM)).astype(np.float32)
    index = build(_keys(100), matrix, DIM)
    index.remove(_keys(20))
    assert index.dead == 20
    index.remove([(f"p{i}",) for i in range(20, 20 + int(DEAD_SHARE * 100) - 10)])
    assert index.dead == 0 and len(index) == 100 - 20 - int(DEAD_SHARE * 100) + 10
    assert index.search(matrix[99], 1)[0][0] == ("p99",)
    assert index.search(matrix[99], 1)[0][1] == pytest.approx(0.0, abs=1e-5)


def test_diff__only_what_changed__and_keys_no_longer_served() -> None:
    matrix = np.random.default_rng(5).standard_normal((50, DIM)).astype(np.float32)
    index = build(_keys(50), matrix, DIM)
    assert len(index.diff(_keys(50), matrix)) == 0
    served = matrix[1:].copy()
    served[10] += 1.0  # p11 changed
    changes = index.diff([*_keys(50)[1:], ("p50",)], np.vstack([served, matrix[:1]]))
    assert changes.keys == [("p11",), ("p50",)] and changes.removed == [("p0",)]
    index.apply(changes)
    assert len(index.diff([*_keys(50)[1:], ("p50",)], np.vstack([served, matrix[:1]]))) == 0


def test_cosine__zero_vectors_and_queries__left_out_as_exact_search_does() -> None:
    matrix = np.eye(4, dtype=np.float32)
    matrix[2] = 0.0
    index = build(_keys(4), matrix, 4)
    assert len(index) == 3 and ("p2",) not in [key for key, _ in index.search(np.ones(4), 4)]
    assert index.search(np.zeros(4), 4) == []


def test_index__wrong_widths_and_unknown_metric__clear_errors() -> None:
    with pytest.raises(LivecartError, match="metric 'hamming'"):
        AnnIndex(4, "hamming")
    index = AnnIndex(4)
    with pytest.raises(LivecartError, match="4 wide"):
        index.upsert([("a",)], np.ones((1, 3)))
    with pytest.raises(LivecartError, match="query has 5 dimensions"):
        index.search(np.ones(5), 1)


class MemorySource(VectorSource):
    """Vectors held in a dict; every ``set`` is a new version (a commit)."""

    dim, metric = DIM, "cosine"

    def __init__(self, vectors: dict[tuple[str], np.ndarray]) -> None:
        self.vectors, self.commits, self.fail = dict(vectors), 0, False
        self.read = threading.Event()

    def set(self, key: tuple[str], vector: np.ndarray) -> None:
        self.vectors[key] = vector
        self.commits += 1

    def version(self) -> object:
        return self.commits

    def snapshot(self) -> Snapshot:
        self.read.set()
        if self.fail:
            raise OSError("store unreadable")
        keys = list(self.vectors)
        return Snapshot(self.commits, keys, np.array([self.vectors[k] for k in keys], np.float32))


def test_live_index__commits__refreshed_in_the_background() -> None:
    rng = np.random.default_rng(6)
    source = MemorySource({key: rng.standard_normal(DIM) for key in _keys(400)})
    live = LiveIndex(source)
    target = np.ones(DIM, dtype=np.float32)
    assert live.search(target, 1)[0][0] != ("new",) and len(live) == 400  # built on first use
    source.set(("new",), target)
    live.search(target, 1)  # sees the new version: refreshes behind this search
    live.wait(10)
    assert live.search(target, 1)[0][0] == ("new",) and len(live) == 401
    for key in _keys(200):  # half the index changes: rebuilt aside, swapped in
        source.set(key, rng.standard_normal(DIM))
    assert live.refresh() == 200
    assert live.search(source.vectors[("p3",)], 1)[0][0] == ("p3",)


def test_live_index__failed_refresh__keeps_serving_and_retries_after_the_next_commit() -> None:
    source = MemorySource({key: np.eye(DIM)[i] for i, key in enumerate(_keys(DIM))})
    live = LiveIndex(source)
    assert live.search(np.eye(DIM)[4], 1)[0][0] == ("p4",)
    source.fail = True
    source.set(("p4",), -np.eye(DIM)[4])
    live.search(np.eye(DIM)[4], 1)
    live.wait(10)
    assert isinstance(live.error, OSError)
    assert live.search(np.eye(DIM)[4], 1)[0][0] == ("p4",)  # the index as it was
    source.read.clear()
    live.search(np.eye(DIM)[4], 1)
    live.wait(10)
    assert not source.read.is_set()  # the failed version is not read again
    source.fail = False
    source.set(("p5",), -np.eye(DIM)[5])
    live.search(np.eye(DIM)[4], 1)
    live.wait(10)
    assert live.error is None
    assert live.search(-np.eye(DIM)[4], 1)[0][0] == ("p4",)


def test_bench_ann_cli__small_run__one_json_object_with_recall_and_ratios(
    settings: LivecartSettings,
) -> None:
    done = CliRunner().invoke(
        app, ["bench", "ann", "--products", "1500", "--queries", "20", "--json"]
    )
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["products"] == 1500 and result["dim"] == settings.embedding_dim
    assert result["ann"]["recall_at_100"] >= 0.95
    assert result["ann"]["p99_ms"] >= result["ann"]["p50_ms"] > 0
    assert result["ratio_p50_ann_over_exact"] == pytest.approx(
        result["ann"]["p50_ms"] / result["exact"]["p50_ms"], rel=0.01
    )
    assert result["refresh"]["diff_found"] == 0  # nothing changed: nothing to apply
