"""Passage vectors in FAISS. The only module that imports faiss; ids are the passages' store ids.

Vectors are L2-normalised float32, so inner product is cosine similarity. The kind of index depends on the
number of passages (`VectorIndex.build(..., kind="auto")`):

    flat        exact search (IndexFlatIP); up to FLAT_MAX_PASSAGES passages
    hnsw_fp16   HNSW graph over vectors stored as float16; above FLAT_MAX_PASSAGES (the "auto" choice)
    hnsw        HNSW graph over float32 vectors: same recall as hnsw_fp16, twice the vector memory
    hnsw_sq8    HNSW graph over 8-bit scalar-quantised vectors: least memory, lower recall

Every kind sits in an IndexIDMap2, so results carry the store ids and a vector can be fetched by id.
The constants below were chosen with bench/scale.py; the figures they cite come from it (see its docstring
for how its synthetic vectors are made)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorrupt

KINDS = ("flat", "hnsw", "hnsw_fp16", "hnsw_sq8")

# Figures below: bench/scale.py (final run: 200 queries, k=10, one at a time on one thread), 512-d synthetic clustered
# vectors, this 2-core machine while other work ran on it, so latencies are noisy; a few come from tuning runs.
#
# "auto" builds an exact flat index up to FLAT_MAX_PASSAGES passages and AUTO_APPROXIMATE above. Flat search p50 /
# p95: 100k 7.7 / 8.9 ms (11.2 / 14.0 ms in a busier run), 1M 73 / 75 ms: at 100k it is at the 10 ms target
# under load, so the switch sits at half of that, where flat takes ~3-6 ms and an HNSW build under a minute.
FLAT_MAX_PASSAGES = 50_000
# hnsw_fp16 rather than hnsw: the same recall@10 (100k: 0.994 vs 0.991; 1M: 0.993 vs 0.988) with 1,358 instead
# of 2,380 bytes of RAM per passage (1M: 1.3 GB instead of 2.3 GB). hnsw_sq8 takes 844 B (recall@10 0.989 at
# 100k, 0.986 at 1M) but its 8-bit scores reorder close results: a 3-id filter came back in non-exact order.
AUTO_APPROXIMATE = "hnsw_fp16"

# HNSW parameters. hnsw_fp16, M=32, efConstruction=100: recall@10 0.994 at 100k (p50 0.96 ms, built in 78 s) and
# 0.993 at 1M (p50 0.52 ms, p95 0.78 ms; built in 429 s, 766 s in a busier run; 3.3 GB peak with the input
# vectors). Tuning runs at 1M: efConstruction=64 built in 369 s but recall@10 stalled at 0.919 (efSearch 128) /
# 0.963 (efSearch 384); at 100k M=16 stalled at 0.73. efSearch 128 already gives 0.993 at 1M (0.34 ms); 192 keeps
# a margin for harder real data for +0.14 ms.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 192

# Filtered search (allowed_ids). Two ways, both restricting inside the search:
#   exact  scan the stored vectors, scoring only the allowed ones (an IDSelector): recall 1 (hnsw_sq8: of its
#          8-bit scores); cost grows with the allowed count. 1M hnsw_fp16: 3 ids 2.2 ms, 10k 3.7 ms, 50k 13.9 ms
#          (tuning run: 20k 10 ms, 100k 26 ms); 100k: 20k ids 3.3 ms
#   graph  walk the HNSW graph with the selector, efSearch = FILTER_EF_FACTOR * HNSW_EF_SEARCH / share of allowed
#          ids, at most FILTER_EF_SEARCH_MAX: fast, but blind to allowed vectors the walk does not reach, and it
#          still returns k results, so a short result cannot reveal it. recall@10 falls with the share (tuning
#          run, 1M, efSearch 1024: 0.1% 0.25, 1% 0.53, 5% 0.94, 10% 0.99). Final run, 1M: 10 / 20 / 40 / 60 %
#          -> 0.997 / 0.996 / 0.998 / 0.999 at 3-5 ms; 100k (sparser topics, harder): 40 / 60 % -> 0.974 / 0.988
#          at 4.6 / 3.2 ms; with factor 1 it was 0.951 / 0.970
# The graph is used when the allowed set is both larger than EXACT_FILTER_MAX and at least GRAPH_FILTER_MIN_SHARE
# of the index; otherwise (and whenever the walk returns fewer than k) the search is exact.
EXACT_FILTER_MAX = 20_000
GRAPH_FILTER_MIN_SHARE = 0.10
FILTER_EF_FACTOR = 2
FILTER_EF_SEARCH_MAX = 1024

# Single-query search runs on one OpenMP thread: the default (2 threads here) only adds the cost of waking and
# waiting for the other thread, large when the cores are busy. p50 with 2 threads vs 1: flat 100k 76 vs 7.7 ms,
# flat 1M 92 vs 73 ms, hnsw_fp16 100k 8.0 vs 0.96 ms, hnsw_fp16 1M 8.0 vs 0.52 ms. Building uses all cores.
SEARCH_THREADS = 1

_QUANTIZERS = {"hnsw_fp16": faiss.ScalarQuantizer.QT_fp16, "hnsw_sq8": faiss.ScalarQuantizer.QT_8bit}
# Training a scalar quantiser only needs the value range of each dimension; a sample is plenty.
_TRAIN_SAMPLE = 100_000


@contextmanager
def _omp_threads(count: int) -> Iterator[None]:
    """OpenMP threads for the calling thread only (libgomp keeps the setting per thread)."""
    previous = faiss.omp_get_max_threads()
    if previous == count:
        yield
        return
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class VectorIndex:
    """Cosine similarity search over passage vectors, exact (flat) or approximate (HNSW)."""

    def __init__(self, index: faiss.Index) -> None:
        self._owner = index  # the proxies below do not own the C++ objects: this one must outlive them
        self._kind, self._index, self._storage = _describe(index)
        self._labels: np.ndarray | None = None  # position -> id, read from the IndexIDMap2 when first needed
        self._labels_lock = threading.Lock()
        self.ef_search = HNSW_EF_SEARCH  # efSearch of the HNSW kinds; may be changed on an opened index

    # ---------------------------------------------------------------- building, loading, saving

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray | Sequence[int] | None = None, *, kind: str = "auto") -> "VectorIndex":
        """An index of `vectors` (rows, L2-normalised) under `ids` (default 0..n-1). `kind` is one of KINDS or
        "auto": flat up to FLAT_MAX_PASSAGES vectors, AUTO_APPROXIMATE above."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-d array, not {vectors.ndim}-d")
        count, dimension = vectors.shape
        ids = np.arange(count, dtype=np.int64) if ids is None else np.ascontiguousarray(ids, dtype=np.int64)
        if ids.shape != (count,):
            raise ValueError(f"{len(ids)} ids for {count} vectors")
        kind = choose_kind(count) if kind == "auto" else kind
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}: choose one of auto, {', '.join(KINDS)}")
        if kind == "flat":
            inner = faiss.IndexFlatIP(dimension)
        else:
            if kind == "hnsw":
                inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            else:
                inner = faiss.IndexHNSWSQ(dimension, _QUANTIZERS[kind], HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
            if not inner.is_trained:
                sample = vectors
                if count > _TRAIN_SAMPLE:
                    chosen = np.random.default_rng(0).choice(count, _TRAIN_SAMPLE, replace=False)
                    sample = vectors[np.sort(chosen)]
                inner.train(sample)
        index = faiss.IndexIDMap2(inner)
        index.add_with_ids(vectors, ids)  # all cores (OpenMP default)
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> "VectorIndex":
        try:
            return cls(faiss.read_index(str(path)))
        except Exception as exc:  # faiss raises RuntimeError with a C++ trace; _describe raises ValueError
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IndexCorrupt(f"the vector file {path} is damaged ({first_line}); rebuild the index with `healthqa build`") from None

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """More vectors under more ids (an HNSW graph takes them as its build did, one by one)."""
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))
        with self._labels_lock:
            self._labels = None

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    # ---------------------------------------------------------------- description

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def kind(self) -> str:
        """One of KINDS: "flat", "hnsw", "hnsw_fp16", "hnsw_sq8"."""
        return self._kind

    @property
    def exact(self) -> bool:
        return self._kind == "flat"

    # ---------------------------------------------------------------- vectors back

    def ids(self) -> np.ndarray:
        """The ids in the order the vectors were added (int64, a copy)."""
        return self._positions_to_ids().copy()

    def vectors(self, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """The stored vectors of `ids` (float32 rows, in the order given; float16/8-bit kinds give them back
        decoded, so slightly rounded). An id the index lacks raises KeyError."""
        wanted = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if len(wanted) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            with _omp_threads(SEARCH_THREADS):
                return self._index.reconstruct_batch(wanted)
        except RuntimeError:
            missing = np.setdiff1d(wanted, self._positions_to_ids())
            raise KeyError(f"{len(missing)} ids are not in the vector index, e.g. {missing[:5].tolist()}") from None

    def reconstruct_all(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the whole index, in the order they were added, e.g. to rebuild it as another kind."""
        vectors = self._storage.reconstruct_n(0, self.size) if self.size else np.zeros((0, self.dimension), np.float32)
        return self.ids(), vectors

    # ---------------------------------------------------------------- search

    def search(
        self, query: np.ndarray, k: int, allowed_ids: Sequence[int] | np.ndarray | None = None, excluded_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest passages, best first, among `allowed_ids` when given, never among
        `excluded_ids` (removed passages: ignored when `allowed_ids` is given, which must not hold them); ids of
        -1 mark missing results. The restriction happens inside the search, so k results come back whenever k exist."""
        query = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        k = min(int(k), self.size)
        if allowed_ids is not None:
            allowed = np.asarray(allowed_ids, dtype=np.int64).reshape(-1)
            if len(allowed) == 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if k < 1:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        with _omp_threads(SEARCH_THREADS):
            if allowed_ids is None:
                selector, _keep_alive = (None, None) if excluded_ids is None or len(excluded_ids) == 0 else _selector(excluded_ids)
                if selector is not None:
                    selector = faiss.IDSelectorNot(selector)
                if self.exact:
                    params = None if selector is None else faiss.SearchParameters(sel=selector)
                else:
                    params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
                    if selector is not None:
                        params.sel = selector
                scores, ids = self._index.search(query, k, params=params)
                return scores[0], ids[0]
            if filter_path(self._kind, self.size, len(allowed)) == "exact":
                return self._search_exact_among(query, k, allowed)
            return self._search_graph_among(query, k, allowed)

    def _search_graph_among(self, query: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """HNSW walk that only returns allowed ids; exact scoring of the allowed vectors if it finds too few."""
        selector, _keep_alive = _selector(allowed)
        share = min(1.0, len(allowed) / max(self.size, 1))
        ef = int(min(FILTER_EF_SEARCH_MAX, FILTER_EF_FACTOR * max(self.ef_search, k) / share))
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(ef, k))
        scores, ids = self._index.search(query, k, params=params)
        if int((ids[0] >= 0).sum()) < min(k, len(allowed)):
            return self._search_exact_among(query, k, allowed)
        return scores[0], ids[0]

    def _search_exact_among(self, query: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of the allowed vectors, k best first, padded with -1: a scan of the stored vectors (flat
        or the HNSW graph's storage) that scores only those whose id the selector lets through."""
        selector, _keep_alive = _selector(allowed)
        if self.exact:
            scores, ids = self._index.search(query, k, params=faiss.SearchParameters(sel=selector))
            return scores[0], ids[0]
        # The storage knows positions, not ids: translate each position through the IndexIDMap2's id_map.
        translated = faiss.IDSelectorTranslated(self._index.id_map, selector)
        scores, positions = self._storage.search(query, k, params=faiss.SearchParameters(sel=translated))
        labels = self._positions_to_ids()
        return scores[0], np.where(positions[0] >= 0, labels[np.maximum(positions[0], 0)], -1)

    def _positions_to_ids(self) -> np.ndarray:
        with self._labels_lock:
            if self._labels is None or len(self._labels) != self.size:
                self._labels = faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)
            return self._labels


def choose_kind(count: int) -> str:
    """The kind "auto" builds for `count` vectors."""
    return "flat" if count <= FLAT_MAX_PASSAGES else AUTO_APPROXIMATE


def filter_path(kind: str, size: int, allowed: int) -> str:
    """How a search restricted to `allowed` ids runs on an index of `kind` and `size`: "exact" or "graph"."""
    if kind == "flat" or allowed <= EXACT_FILTER_MAX or allowed < GRAPH_FILTER_MIN_SHARE * size:
        return "exact"
    return "graph"


def _selector(allowed: np.ndarray) -> tuple[faiss.IDSelector, object]:
    """A selector of the allowed ids, and what must stay alive while it is used. IDSelectorBatch's hash set takes
    ~0.1 us per id to build: 0.07 ms for 1k ids but 72 ms for 600k (a language filter at 1M passages), where a
    bitmap built in numpy takes 0.8 ms; so a bitmap for many ids, if they are non-negative and dense enough
    (store ids are)."""
    low, high = int(allowed.min()), int(allowed.max())
    if len(allowed) > 4096 and low >= 0 and high < max(1 << 20, 64 * len(allowed)):
        bits = np.zeros(high + 1, dtype=bool)
        bits[allowed] = True
        bitmap = np.packbits(bits, bitorder="little")
        return faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)), bitmap
    return faiss.IDSelectorBatch(allowed), None


def _describe(index: faiss.Index) -> tuple[str, faiss.IndexIDMap2, faiss.Index]:
    """(kind, the index, its vector storage) of an index this module wrote; ValueError for anything else."""
    index = faiss.downcast_index(index)
    if not isinstance(index, faiss.IndexIDMap2):
        raise ValueError(f"unexpected index type {type(index).__name__}")
    inner = faiss.downcast_index(index.index)
    if inner.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ValueError("the index does not use inner product")
    if isinstance(inner, faiss.IndexFlat):
        return "flat", index, inner
    if isinstance(inner, faiss.IndexHNSW):
        storage = faiss.downcast_index(inner.storage)
        if isinstance(storage, faiss.IndexFlat):
            return "hnsw", index, storage
        if isinstance(storage, faiss.IndexScalarQuantizer):
            for kind, qtype in _QUANTIZERS.items():
                if storage.sq.qtype == qtype:
                    return kind, index, storage
    raise ValueError(f"unexpected index type {type(inner).__name__}")


class SegmentedVectors:
    """Vector indexes of segments with ordered, disjoint id ranges (see segments.py), searched together as one,
    less removed passages: what VectorIndex offers for one index, over several."""

    def __init__(self, segments: Sequence[VectorIndex], removed_ids: np.ndarray | Sequence[int] = ()) -> None:
        if not segments:
            raise ValueError("no segment")
        self.segments = [segment for segment in segments if segment.size] or list(segments[:1])
        removed = np.unique(np.asarray(removed_ids, dtype=np.int64))
        self._removed: list[np.ndarray] = []
        self._first: list[int] = []
        last = None
        for segment in self.segments:
            ids = segment._positions_to_ids()
            low, high = (int(ids.min()), int(ids.max())) if len(ids) else (0, -1)
            if last is not None and low <= last:
                raise ValueError("segments must hold ordered, disjoint id ranges")
            self._first.append(low)
            last = high
            inside = removed[(removed >= low) & (removed <= high)]
            self._removed.append(inside[np.isin(inside, ids)] if len(inside) else inside)
        self.removed = int(sum(len(r) for r in self._removed))

    @property
    def size(self) -> int:
        return sum(segment.size for segment in self.segments) - self.removed

    @property
    def dimension(self) -> int:
        return self.segments[0].dimension

    @property
    def kind(self) -> str:
        """The largest segment's kind, with the number of the others: "hnsw_fp16", "hnsw_fp16 + 3 small"."""
        largest = max(self.segments, key=lambda segment: segment.size)
        return largest.kind + (f" + {len(self.segments) - 1} small" if len(self.segments) > 1 else "")

    def _segment_of(self, ids: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self._first), ids, side="right") - 1

    def vectors(self, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """The stored vectors of `ids`, in the order given; an id no segment holds raises KeyError."""
        wanted = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        result = np.zeros((len(wanted), self.dimension), dtype=np.float32)
        owners = self._segment_of(wanted)
        for number in np.unique(owners).tolist():
            if number < 0:
                raise KeyError(f"ids below every segment, e.g. {wanted[owners < 0][:5].tolist()}")
            chosen = owners == number
            result[chosen] = self.segments[number].vectors(wanted[chosen])
        return result

    def search(self, query: np.ndarray, k: int, allowed_ids: Sequence[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As VectorIndex.search, over all segments: each gives its k best live passages, the best k of all come back."""
        allowed = None if allowed_ids is None else np.unique(np.asarray(allowed_ids, dtype=np.int64))
        if allowed is not None and len(allowed) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if len(self.segments) == 1:
            return self.segments[0].search(query, k, allowed, self._removed[0])
        owners = None if allowed is None else self._segment_of(allowed)
        found_scores, found_ids = [], []
        for number, segment in enumerate(self.segments):
            within = None if allowed is None else allowed[owners == number]
            if within is not None and len(within) == 0:
                continue
            scores, ids = segment.search(query, k, within, self._removed[number])
            found_scores.append(scores[ids >= 0])
            found_ids.append(ids[ids >= 0])
        if not found_scores:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, ids = np.concatenate(found_scores), np.concatenate(found_ids)
        order = np.lexsort((ids, -scores))[:k]
        return scores[order], ids[order]
