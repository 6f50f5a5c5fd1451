"""Search engines behind an index: one small interface, one module per engine.

An engine keeps, for each passage, what search needs and nothing more: its vector, its text for BM25 (the
engine analyses it in the passage's language), the fields that filters read (site, language, date) and the
segment (update) that added it. Articles, passage texts and skip records stay in the SQLite store.

Updates never show half-done: the rows of an update carry the next segment number and searches only see
segments up to the one the manifest publishes, so rows written by an update that has not published yet (or
was killed) stay invisible, and are discarded by the next update. Removed passages are deleted once the
update that removes them is published.

Engines: `local` (local.py: the index folder's own FAISS and BM25 segments, the default, written by the build
and the merge and so searched only through this interface) and `milvus` (milvus.py: Milvus Lite in the index
folder, or a Milvus server or cluster by URL, written through it too). Each engine's client library is an
optional dependency, imported only by its module."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import IndexCorrupt, MissingExtra
from ..records import Filters

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store

# Scored passages, best first: (passage id, score).
Scored = list[tuple[int, float]]


@dataclass(frozen=True, slots=True)
class Entry:
    """One passage as an engine stores it."""

    id: int
    vector: np.ndarray
    text: str  # what BM25 reads of the passage (its article's title, then its text), analysed by the engine in `language`
    language: str
    site: str
    date: str  # ISO date of the article, "" when unknown
    segment: int  # the update that wrote it; visible once the manifest publishes this segment


class Searcher(Protocol):
    """What searching an index needs from the engine that holds its vectors and BM25."""

    kind: str
    index_type: str  # of the vector index, as the engine names it

    def search_dense(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> Scored:
        """The k nearest passages by inner product (cosine: the vectors are normalised)."""

    def search_lexical(self, query: str, k: int, filters: Filters | None = None) -> Scored:
        """The k best passages by BM25, the query analysed in each indexed language."""

    def idf(self, term: str) -> float | None:
        """BM25's weight of an analysed term over the index, or None when the engine does not expose it."""

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these passages, in order."""

    def count(self) -> int:
        """Visible passages."""

    def close(self) -> None: ...


class Engine(Searcher, Protocol):
    """A search engine that is also written through this interface (a server, not the index's own files)."""

    published: int  # the last update searches see

    def upsert(self, entries: Sequence[Entry]) -> None:
        """Write passages (replacing any with the same id); invisible until their segment is published."""

    def delete(self, ids: Sequence[int]) -> None:
        """Remove passages by id (those of published removals, or of an unpublished segment)."""

    def discard_unpublished(self) -> int:
        """Remove the rows of segments after the published one (an update that never published); their count."""

    def publish(self, segment: int) -> None:
        """Make every row up to `segment` durable and visible to searches from now on."""


LITE_FILE = "milvus.db"  # the default Milvus URI: a Milvus Lite file inside the index folder


def milvus_module():  # type: ignore[no-untyped-def]
    """backends.milvus, or a one-line MissingExtra when pymilvus or milvus-lite is not installed."""
    try:
        from . import milvus
    except ImportError as exc:
        raise MissingExtra("--backend milvus", exc.name or "pymilvus") from None
    return milvus


def resolve_uri(uri: str, index_dir: Path) -> str:
    """A Milvus URI as given, or, for a Milvus Lite file, its path; relative paths are inside the index folder."""
    uri = uri.strip() or LITE_FILE
    if "://" in uri:
        return uri
    path = Path(uri)
    return str(path if path.is_absolute() else index_dir / path)


# The store's state key naming the last update the engine publishes (committed with the update's changes).
PUBLISHED = "engine_published"


def new_engine_info(settings: "Settings", generation: str, current: Mapping[str, str]) -> dict[str, str]:
    """What the manifest records of the engine of a build from scratch: a new collection, the URI as given (a
    Milvus Lite file relative to the index folder stays relative), and the collection it replaces."""
    same_place = current.get("kind") == "milvus" and current.get("uri") == (settings.milvus_uri or LITE_FILE)
    return {"kind": "milvus", "uri": settings.milvus_uri or LITE_FILE, "collection": "healthqa_" + re.sub(r"\W", "_", generation),
            "index_type": settings.milvus_index, "previous": current.get("collection", "") if same_place else ""}


def create_engine(info: Mapping[str, str], index_dir: Path, dimension: int, settings: "Settings") -> Engine:
    milvus = milvus_module()
    return milvus.MilvusEngine.create(resolve_uri(info["uri"], index_dir), info["collection"], dimension=dimension,
                                      languages=settings.languages, index_type=info.get("index_type", "AUTOINDEX"), token=settings.milvus_token)


def open_engine(info: Mapping[str, str], index_dir: Path, state: Mapping[str, str], settings: "Settings") -> Engine:
    """The engine an index's manifest names, seen as of the update its store publishes."""
    if info.get("kind") != "milvus":
        raise IndexCorrupt(f"the index at {index_dir} names an unknown search engine {info.get('kind')!r}; rebuild it")
    milvus = milvus_module()
    return milvus.MilvusEngine.open(resolve_uri(info["uri"], index_dir), info["collection"],
                                    published=int(state.get(PUBLISHED, 0)), token=settings.milvus_token)


def drop_collection(info: Mapping[str, str], collection: str, index_dir: Path, settings: "Settings") -> None:
    """Drop a replaced collection (a build from scratch drops the one its predecessor replaced)."""
    if collection:
        milvus_module().drop_collection(resolve_uri(info["uri"], index_dir), collection, settings.milvus_token)


def write_rows(index_dir: Path, settings: "Settings", info: Mapping[str, str], store: "Store | None", entries: Sequence[Entry],
               dimension: int) -> tuple[Engine, str]:
    """An update's rows, written under the next update number and not yet visible: into a new collection
    (`store` None: a build from scratch), or into the index's own after discarding what a killed update left
    there. Returns the engine and the number the store is to publish."""
    if store is None:
        engine = create_engine(info, index_dir, dimension, settings)
    else:
        engine = open_engine(info, index_dir, store.state(), settings)
        engine.discard_unpublished()
        delete_removed(engine, store)
    segment = engine.published + 1
    engine.upsert([replace(entry, segment=segment) for entry in entries])
    engine.publish(segment)  # durable; searches see it once the store says so
    return engine, str(segment)


def delete_removed(engine: Engine, store: "Store") -> None:
    """Removed passages leave the engine once their removal is committed; the store then forgets them."""
    removed = store.tombstones()
    if removed:
        engine.delete(removed)
        store.drop_tombstones(removed)
