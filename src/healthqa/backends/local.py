"""The default engine: the index folder's own segments (FAISS vectors and BM25 postings), searched in-process.

It is written by the build and the merge (segments.py), not through upserts, so it offers only the search side
of an engine (`Searcher`); what an index searches goes through the same methods whichever engine holds it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..lexical import LexicalIndex, analyse_query
from ..records import Filters
from ..store import Store
from ..vectors import SegmentedVectors
from . import Scored


class LocalFiles:
    """Vectors and BM25 of every segment of an index folder, tombstones applied; filters read the store."""

    kind = "local"

    def __init__(self, vectors: SegmentedVectors, lexical: LexicalIndex, store: Store, languages: Sequence[str]) -> None:
        self._vectors = vectors
        self._lexical = lexical
        self._store = store
        self._languages = tuple(languages)

    @property
    def index_type(self) -> str:
        return self._vectors.kind

    @property
    def dimension(self) -> int:
        return self._vectors.dimension

    def search_dense(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> Scored:
        scores, ids = self._vectors.search(vector, k, self._allowed(filters))
        return [(int(i), float(s)) for s, i in zip(scores, ids) if i >= 0]

    def search_lexical(self, query: str, k: int, filters: Filters | None = None) -> Scored:
        scores, ids = self._lexical.search(analyse_query(query, self._languages), k, self._allowed(filters))
        return [(int(i), float(s)) for s, i in zip(scores, ids)]

    def idf(self, term: str) -> float | None:
        """BM25's inverse document frequency of an analysed term over the whole live index."""
        return self._lexical.idf(term)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        return self._vectors.vectors(ids)

    def count(self) -> int:
        return self._vectors.size

    def close(self) -> None:
        """The segments are plain memory; the store is closed by the index that owns it."""

    def _allowed(self, filters: Filters | None) -> list[int] | None:
        return self._store.passage_ids(filters) if filters else None
