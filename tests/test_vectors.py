"""VectorIndex on synthetic vectors: kinds, save/load, recall of HNSW against exact search, filters, damage."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from healthqa import vectors
from healthqa.errors import IndexCorrupt
from healthqa.vectors import KINDS, VectorIndex, choose_kind

DIMENSION = 64


def clustered(count: int, seed: int, dimension: int = DIMENSION, topics: int = 100) -> np.ndarray:
    """Unit vectors around `topics` random centres (the same centres for every seed), like passage embeddings."""
    centres = np.random.default_rng(0).standard_normal((topics, dimension))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    points = 0.7 * centres[rng.integers(0, topics, count)] + 0.7 * rng.standard_normal((count, dimension)) / np.sqrt(dimension)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def exact_top(base: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    scores = base @ query
    if allowed is not None:
        scores = np.where(np.isin(ids, allowed), scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return ids[order[np.isfinite(scores[order])]]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    base = clustered(5000, seed=1)
    ids = np.random.default_rng(2).permutation(5000).astype(np.int64) * 3 + 1  # store ids: not 0..n-1, not in order
    return base, ids, clustered(100, seed=3)


@pytest.fixture(scope="module")
def indexes(data) -> dict[str, VectorIndex]:
    base, ids, _ = data
    return {kind: VectorIndex.build(base, ids, kind=kind) for kind in KINDS}


def test_auto_picks_flat_for_small_and_approximate_above_the_threshold(monkeypatch):
    assert choose_kind(vectors.FLAT_MAX_PASSAGES) == "flat"
    assert choose_kind(vectors.FLAT_MAX_PASSAGES + 1) == vectors.AUTO_APPROXIMATE
    assert VectorIndex.build(clustered(50, seed=4)).kind == "flat"
    monkeypatch.setattr(vectors, "FLAT_MAX_PASSAGES", 100)
    index = VectorIndex.build(clustered(300, seed=4))
    assert index.kind == vectors.AUTO_APPROXIMATE and index.size == 300 and index.dimension == DIMENSION


def test_unknown_kind_and_bad_ids_are_refused():
    with pytest.raises(ValueError, match="unknown index kind"):
        VectorIndex.build(clustered(10, seed=4), kind="ivf")
    with pytest.raises(ValueError, match="3 ids for 10 vectors"):
        VectorIndex.build(clustered(10, seed=4), ids=[1, 2, 3])


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_keep_kind_and_results(kind, indexes, data, tmp_path: Path):
    _, _, queries = data
    index = indexes[kind]
    assert index.kind == kind
    index.save(tmp_path / "vectors.faiss")
    loaded = VectorIndex.load(tmp_path / "vectors.faiss")
    assert (loaded.kind, loaded.size, loaded.dimension) == (kind, 5000, DIMENSION)
    for query in queries[:20]:
        before, after = index.search(query, 10), loaded.search(query, 10)
        np.testing.assert_array_equal(before[1], after[1])
        np.testing.assert_allclose(before[0], after[0], rtol=1e-6)


def test_flat_is_exact_and_results_are_best_first(indexes, data):
    base, ids, queries = data
    for query in queries[:20]:
        scores, found = indexes["flat"].search(query, 10)
        np.testing.assert_array_equal(found, exact_top(base, ids, query, 10))
        assert np.all(np.diff(scores) <= 0)


@pytest.mark.parametrize("kind", ["hnsw", "hnsw_fp16"])
def test_hnsw_recall_at_10_against_exact_search(kind, indexes, data):
    base, ids, queries = data
    recalls = [len(set(indexes[kind].search(q, 10)[1]) & set(exact_top(base, ids, q, 10))) / 10 for q in queries]
    assert np.mean(recalls) >= 0.95


@pytest.mark.parametrize("kind", KINDS)
def test_k_larger_than_the_index_and_empty_filters(kind, data):
    base, ids, queries = data
    small = VectorIndex.build(base[:7], ids[:7], kind=kind)
    scores, found = small.search(queries[0], 10)
    assert sorted(found.tolist()) == sorted(ids[:7].tolist())
    assert small.search(queries[0], 10, allowed_ids=[])[1].size == 0
    assert small.search(queries[0], 0)[1].size == 0


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("share", [0.003, 0.06, 0.5, 0.9])  # 0.9: 4,500 ids, a bitmap selector
def test_filters_apply_inside_the_search(kind, share, indexes, data):
    """k results among the allowed ids whenever k exist; exact (both kinds: small sets are scored exactly)."""
    base, ids, queries = data
    rng = np.random.default_rng(5)
    allowed = rng.choice(ids, int(len(ids) * share), replace=False)
    for query in queries[:20]:
        scores, found = indexes[kind].search(query, 10, allowed.tolist())
        want = exact_top(base, ids, query, 10, allowed)
        assert len(found) == 10 and set(found[found >= 0]) <= set(allowed)
        np.testing.assert_array_equal(found[: len(want)], want)
        assert np.all(found[len(want) :] == -1)


@pytest.mark.parametrize("kind", ["hnsw", "hnsw_fp16", "hnsw_sq8"])
@pytest.mark.parametrize("count", [15, 2500])
def test_filters_on_the_graph_return_k_allowed_results(kind, count, indexes, data, monkeypatch):
    """Forcing the graph walk with a selector (meant for large allowed sets): k allowed results come back even when
    the allowed set is small (fallback to exact scoring), and they are the right ones."""
    monkeypatch.setattr(vectors, "EXACT_FILTER_MAX", 0)
    monkeypatch.setattr(vectors, "GRAPH_FILTER_MIN_SHARE", 0.0)
    base, ids, queries = data
    allowed = np.random.default_rng(6).choice(ids, count, replace=False)
    recalls = []
    for query in queries[:20]:
        _, found = indexes[kind].search(query, 10, allowed)
        assert len(found) == 10 and (found >= 0).all() and set(found) <= set(allowed)
        recalls.append(len(set(found) & set(exact_top(base, ids, query, 10, allowed))) / 10)
    assert np.mean(recalls) >= 0.9


def test_a_graph_walk_that_finds_too_few_falls_back_to_exact_scoring(indexes, data, monkeypatch):
    monkeypatch.setattr(vectors, "EXACT_FILTER_MAX", 0)
    monkeypatch.setattr(vectors, "GRAPH_FILTER_MIN_SHARE", 0.0)
    monkeypatch.setattr(vectors, "FILTER_EF_SEARCH_MAX", 10)  # a walk this short meets few of 15 allowed ids
    calls = []
    exact = VectorIndex._search_exact_among
    monkeypatch.setattr(VectorIndex, "_search_exact_among", lambda self, *a: calls.append(1) or exact(self, *a))
    base, ids, queries = data
    allowed = np.random.default_rng(8).choice(ids, 15, replace=False)
    for query in queries[:10]:
        _, found = indexes["hnsw"].search(query, 10, allowed)
        np.testing.assert_array_equal(found, exact_top(base, ids, query, 10, allowed))
    assert len(calls) == 10


def test_filter_path_is_exact_for_small_or_sparse_allowed_sets():
    assert vectors.filter_path("flat", 10**6, 900_000) == "exact"
    assert vectors.filter_path("hnsw_fp16", 10**6, vectors.EXACT_FILTER_MAX) == "exact"
    assert vectors.filter_path("hnsw_fp16", 10**6, 60_000) == "exact"  # 6 %: the walk would miss some
    assert vectors.filter_path("hnsw_fp16", 10**6, 200_000) == "graph"
    assert vectors.filter_path("hnsw", 10**5, 60_000) == "graph"


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_a_filter_of_3_ids_among_200k_returns_exactly_those_in_exact_order(kind, monkeypatch):
    monkeypatch.setattr(vectors, "HNSW_M", 4)  # a rough graph builds fast; the 3 ids are scored exactly anyway
    monkeypatch.setattr(vectors, "HNSW_EF_CONSTRUCTION", 8)
    rng = np.random.default_rng(7)
    base = rng.standard_normal((200_000, 8)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    ids = np.arange(200_000, dtype=np.int64) + 1
    index = VectorIndex.build(base, ids, kind=kind)
    allowed = [150_001, 17, 99_999]
    for query in base[[3, 40_000, 150_000]]:
        scores, found = index.search(query, 5, allowed)
        want = exact_top(base, ids, query, 5, np.array(allowed))
        assert found.tolist() == want.tolist() + [-1, -1]
        np.testing.assert_allclose(scores[:3], [float(base[i - 1] @ query) for i in want], rtol=1e-5)


def test_filters_with_ids_too_large_for_a_bitmap(data):
    base, _, queries = data
    ids = np.arange(len(base), dtype=np.int64) * 10**12  # a hash set of ids (IDSelectorBatch) instead
    for kind in ("flat", "hnsw"):
        index = VectorIndex.build(base, ids, kind=kind)
        for allowed in (ids[[5, 500, 4000]], ids[:4500]):
            _, found = index.search(queries[0], 10, allowed)
            want = exact_top(base, ids, queries[0], 10, allowed)
            np.testing.assert_array_equal(found[: len(want)], want)
            assert (found[len(want) :] == -1).all()


def test_search_leaves_the_openmp_thread_count_alone(indexes, data):
    before = faiss.omp_get_max_threads()
    indexes["hnsw"].search(data[2][0], 10)
    indexes["flat"].search(data[2][0], 10, data[1][:100])
    assert faiss.omp_get_max_threads() == before


@pytest.mark.parametrize("kind", KINDS)
def test_vectors_come_back_by_id(kind, indexes, data):
    base, ids, _ = data
    index = indexes[kind]
    tolerance = {"flat": 0, "hnsw": 0, "hnsw_fp16": 1e-3, "hnsw_sq8": 2e-2}[kind]
    np.testing.assert_allclose(index.vectors(ids[[10, 3, 4999]]), base[[10, 3, 4999]], atol=tolerance)
    all_ids, all_vectors = index.reconstruct_all()
    np.testing.assert_array_equal(all_ids, ids)
    np.testing.assert_allclose(all_vectors, base, atol=tolerance)
    with pytest.raises(KeyError):
        index.vectors([2])  # ids are 1, 4, 7, ...: 2 is not one


@pytest.mark.parametrize("kind", ["flat", "hnsw_fp16"])
def test_damaged_files_raise_a_one_line_index_corrupt(kind, data, tmp_path: Path):
    base, ids, _ = data
    path = tmp_path / "vectors.faiss"
    VectorIndex.build(base[:500], ids[:500], kind=kind).save(path)
    whole = path.read_bytes()
    for damaged in (whole[: len(whole) // 2], whole[:10], b"", b"\x93NUMPY garbage" * 50):
        path.write_bytes(damaged)
        with pytest.raises(IndexCorrupt) as caught:
            VectorIndex.load(path)
        assert "\n" not in str(caught.value) and "rebuild the index" in str(caught.value)


def test_a_faiss_file_of_another_shape_is_refused(tmp_path: Path):
    path = tmp_path / "vectors.faiss"
    faiss.write_index(faiss.IndexFlatL2(8), str(path))  # not in an IndexIDMap2, and L2
    with pytest.raises(IndexCorrupt, match="unexpected index type"):
        VectorIndex.load(path)
