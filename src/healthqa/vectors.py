"""Passage vectors in FAISS. The only module that imports faiss; ids are the passages' store ids."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorrupt


class VectorIndex:
    """Inner product over L2-normalised vectors, i.e. cosine similarity; exact search."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray | None = None) -> "VectorIndex":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
        if ids is None:
            ids = np.arange(len(vectors), dtype=np.int64)
        index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> "VectorIndex":
        try:
            return cls(faiss.read_index(str(path)))
        except Exception as exc:  # faiss raises RuntimeError with a C++ trace
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IndexCorrupt(f"the vector file {path} is damaged ({first_line}); rebuild the index with `healthqa build`") from None

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def search(self, query: np.ndarray, k: int, allowed_ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest passages, best first, among `allowed_ids` when given; ids of -1 mark
        missing results. The restriction happens inside the search, so k results come back whenever k exist."""
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed_ids is not None:
            if not allowed_ids:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64)))
        scores, ids = self._index.search(query, min(k, max(self.size, 1)), params=params)
        return scores[0], ids[0]
