"""The index on disk, and searching it.

Layout of an index folder:
    manifest.json               format, model, settings, the store file, and a copy of the store's state
    store-<generation>.sqlite   articles, passages, skipped inputs, and the commit point of updates: the
                                segments in use, the tombstones, the generation (see store.py)
    segment-<name>/             vectors and BM25 postings of some passages (see segments.py)

A fresh build writes a new store and its one segment beside the current ones, then replaces manifest.json
atomically. An update writes a small segment, then commits the store's changes and the segment list in one
SQLite transaction; manifest.json is then rewritten to match (the store wins when they disagree, e.g. after a
crash between the two). A reader opens the store in one read transaction, so it sees one whole generation."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends.local import LocalFiles
from .embed import Encoder, model_display_name
from .errors import ConfigError, IndexCorrupt, IndexMismatch, IndexMissing, IndexProblem
from .fusion import FUSIONS, Candidate, recency_boost
from .language import reply_language
from .lexical import LexicalIndex, bm25_idf, query_terms_by_language
from .proximity import PROXIMITY_WEIGHT, pair_bonus, question_pairs
from .records import Filters, Hit
from .segments import disk_size, fsync_dir, load_segment, searched_together, writer_temporary
from .settings import RETRIEVAL_MODES, Settings
from .store import Store
from .storequeries import PassageFacts
from .vectors import SegmentedVectors

if TYPE_CHECKING:
    from .backends import Searcher

FORMAT_VERSION = 4
MANIFEST = "manifest.json"
# Candidates each retriever hands to the fusion, per result asked for (and at least CANDIDATES_MIN).
CANDIDATES_PER_RESULT = 4
CANDIDATES_MIN = 40


@dataclass(frozen=True, slots=True)
class Manifest:
    format_version: int
    generation: str
    model: str
    dimension: int
    articles: int
    passages: int
    corpus_fingerprint: str  # of the files of the last `build` and the settings: `build --if-stale` compares it
    settings_fingerprint: str  # of the settings that shape the index; a change means rebuilding from scratch
    built_at: str
    store_file: str
    segments: list[str] = field(default_factory=list)  # folder names, in id order
    removed: int = 0  # tombstones: removed passages still inside a segment until the next merge
    sizes: dict[str, int] = field(default_factory=dict)
    # The search engine holding vectors and BM25 when it is not the local files: {"kind": "milvus", "uri",
    # "collection", "index_type", "previous"} (see backends/); the store's state says which update it publishes.
    engine: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, index_dir: Path) -> "Manifest":
        path = index_dir / MANIFEST
        if not path.is_file():
            raise IndexMissing(f"no index at {index_dir}: build one with `healthqa build [SOURCE ...] --index {index_dir}`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format_version") != FORMAT_VERSION:
                raise IndexMismatch(
                    f"the index at {index_dir} has format version {data.get('format_version')!r}, this healthqa "
                    f"reads version {FORMAT_VERSION}: rebuild it with `healthqa build --index {index_dir}`"
                )
            return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})  # defaulted fields may be absent
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"the manifest {path} is damaged ({exc}); rebuild with `healthqa build --index {index_dir}`") from None

    def write(self, index_dir: Path) -> None:
        """Atomic: written beside, flushed, then renamed over the old manifest."""
        temporary = writer_temporary(index_dir, MANIFEST)
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, index_dir / MANIFEST)
        fsync_dir(index_dir)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_state(self, store: Store) -> "Manifest":
        """This manifest with the generation, counts and segments the store holds (the store is the truth)."""
        state = store.state()
        records = store.segments()
        articles, passages = store.counts()
        sizes = {"store": disk_size(store.path), "segments": sum(sum(r.sizes.values()) for r in records)}
        return Manifest(
            format_version=self.format_version, generation=state.get("generation", self.generation), model=self.model,
            dimension=self.dimension, articles=articles, passages=passages, corpus_fingerprint=self.corpus_fingerprint,
            settings_fingerprint=self.settings_fingerprint, built_at=state.get("built_at", self.built_at),
            store_file=self.store_file, segments=[f"segment-{r.name}" for r in records], removed=len(store.tombstones()),
            sizes=sizes, engine=dict(self.engine),
        )


def raw_manifest_files(index_dir: Path) -> set[str]:
    """Every file or folder name the manifest.json on disk mentions, whatever its format version: what a
    reader of that generation may still be using."""
    try:
        data = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    names = {data.get(key) for key in ("store_file", "vectors_file", "lexical_dir")}
    names |= set(data.get("segments") or [])
    return {name for name in names if isinstance(name, str)}


class Index:
    """An opened index: load once, search many times (thread-safe)."""

    def __init__(self, directory: Path, manifest: Manifest, store: Store, engine: "Searcher", encoder: Encoder, settings: Settings) -> None:
        self.directory = directory
        self.manifest = manifest
        self.store = store
        self.engine = engine  # what holds the vectors and BM25: the folder's own segments, or Milvus (backends/)
        self.encoder = encoder
        self.settings = settings

    @classmethod
    def open(cls, directory: str | Path | None = None, *, settings: Settings | None = None, encoder: Encoder | None = None) -> "Index":
        """Checks the manifest, the files and the model before anything is searched. Segments already loaded
        by another index of this process (the previous generation, in a server) are shared, not read again."""
        settings = settings or Settings.from_env()
        directory = Path(directory) if directory is not None else settings.index_dir
        manifest = Manifest.read(directory)
        wanted_model = encoder.name if encoder else model_display_name(settings.model)
        if manifest.model != wanted_model:
            raise IndexMismatch(
                f"the index at {directory} was built with the model '{manifest.model}' but '{wanted_model}' is "
                f"configured: rebuild it with `healthqa build --index {directory}`, or set HEALTHQA_MODEL={manifest.model}"
            )
        path = directory / manifest.store_file
        if not path.exists():
            raise IndexCorrupt(f"the index at {directory} lacks its file {manifest.store_file}; rebuild it with `healthqa build --index {directory}`")
        store = Store.open(path)
        if manifest.engine:
            return cls._open_with_engine(directory, manifest, store, settings, encoder)
        try:
            records = store.segments()
            removed = np.asarray(store.tombstones(), dtype=np.int64)
            if not records:
                raise IndexCorrupt(f"the store {path} names no segment; rebuild the index with `healthqa build --index {directory}`")
            segments = searched_together([load_segment(directory, record) for record in records])
            vectors = SegmentedVectors([segment.vectors for segment in segments], removed)
            lexical = LexicalIndex([segment.lexical for segment in segments], removed)
            manifest = manifest.with_state(store)
            if vectors.size != manifest.passages or lexical.size != manifest.passages:
                raise IndexCorrupt(f"the files of the index at {directory} disagree on the passage count; rebuild it")
        except BaseException:
            store.close()
            raise
        encoder = encoder or Encoder(settings.model, batch_size=settings.batch_size)
        return cls(directory, manifest, store, LocalFiles(vectors, lexical, store, settings.languages), encoder, settings)

    @classmethod
    def _open_with_engine(cls, directory: Path, manifest: Manifest, store: Store, settings: Settings, encoder: Encoder | None) -> "Index":
        """An index whose vectors and BM25 live in a search engine: it is seen as of the update the store publishes."""
        from .backends import open_engine

        try:
            manifest = manifest.with_state(store)
            engine = open_engine(manifest.engine, directory, store.state(), settings)
        except BaseException:
            store.close()
            raise
        encoder = encoder or Encoder(settings.model, batch_size=settings.batch_size)
        return cls(directory, manifest, store, engine, encoder, settings)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        filters: Filters | None = None,
        retrieval: str | None = None,
        fusion: str | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """The k passages that best answer the query, best first, among those that pass the filters, with at most
        settings.per_article passages of one article. `retrieval` ("hybrid", "dense" or "lexical") and `fusion`
        override the settings; `vector` is the query's vector when the caller already has it."""
        query = query.strip()
        mode = retrieval or self.settings.retrieval
        fusion = fusion or self.settings.fusion
        if mode not in RETRIEVAL_MODES:
            raise ConfigError(f"unknown retrieval '{mode}': choose one of {', '.join(RETRIEVAL_MODES)}")
        if fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion '{fusion}': choose one of {', '.join(FUSIONS)}")
        if not query or k < 1:
            return []
        pool = max(k * CANDIDATES_PER_RESULT, CANDIDATES_MIN)
        if vector is None:
            vector = self.encoder.encode_query(query)
        if vector.shape[0] != self.manifest.dimension:
            raise IndexMismatch(
                f"the model gives vectors of {vector.shape[0]} dimensions but the index holds {self.manifest.dimension}; rebuild it"
            )
        # filters go to the engine, which applies them inside its searches
        dense = dict(self.engine.search_dense(vector, pool, filters)) if mode != "lexical" else {}
        lexical = dict(self.engine.search_lexical(query, pool, filters)) if mode != "dense" else {}
        ranked = self._rank(query, vector, dense, lexical, mode, fusion)
        return self._hits(ranked, k)

    def _rank(
        self, query: str, vector: np.ndarray, dense: dict[int, float], lexical: dict[int, float], mode: str, fusion: str
    ) -> list[tuple[int, float, float, str]]:
        """(passage id, ranking score, cosine similarity, article id), best first, recency preference applied."""
        ids = list(dict.fromkeys([*dense, *lexical]))
        missing = [i for i in ids if i not in dense]
        similarity = dict(dense)
        stored = self.engine.vectors(missing)
        similarity.update(zip(missing, (stored @ vector).tolist()))
        facts = self.store.passage_facts(ids)
        if mode == "dense":
            scores = dict(dense)
        elif mode == "lexical":
            scores = dict(lexical)
        else:
            dense_rank = {i: r for r, i in enumerate(dense, 1)}
            lexical_rank = {i: r for r, i in enumerate(lexical, 1)}
            lexical = self._with_proximity(query, lexical, facts)
            candidates = [
                Candidate(i, similarity[i], lexical.get(i, 0.0), facts[i].language, dense_rank.get(i), lexical_rank.get(i))
                for i in ids if i in facts
            ]
            scores = FUSIONS[fusion](candidates, reply_language(query))
        scores = recency_boost(scores, {i: f.date for i, f in facts.items()}, self.settings.recency)
        ranked = sorted(scores, key=lambda i: scores[i], reverse=True)
        return [(i, scores[i], similarity[i], facts[i].article_id) for i in ranked if i in facts]

    def _with_proximity(self, query: str, lexical: dict[int, float], facts: dict[int, PassageFacts]) -> dict[int, float]:
        """BM25 scores of the lexical candidates plus the proximity bonus (proximity.py) of each, the question's
        terms taken as the passage's language analyses them."""
        by_language = query_terms_by_language(query, self.settings.languages)
        idf = self._term_weights({term for terms in by_language.values() for term in terms})
        if not lexical or idf is None:
            return lexical
        pairs = {language: question_pairs(terms) for language, terms in by_language.items()}
        stored = self.store.passage_terms(list(lexical))
        boosted = dict(lexical)
        for passage_id, score in lexical.items():
            language_pairs = pairs.get(facts[passage_id].language) if passage_id in facts else None
            if language_pairs and passage_id in stored:
                boosted[passage_id] = score + PROXIMITY_WEIGHT * pair_bonus(language_pairs, stored[passage_id], idf.__getitem__)
        return boosted

    def _term_weights(self, terms: set[str]) -> dict[str, float] | None:
        """BM25's idf of analysed terms: from the engine (the local segments), or, for an engine that keeps its
        statistics to itself (Milvus), from the passage counts the store keeps for it; None when neither can."""
        weights = {term: self.engine.idf(term) for term in terms}
        if all(weight is not None for weight in weights.values()):
            return weights  # type: ignore[return-value]
        counts = self.store.document_frequencies(terms)
        if counts is None:  # an index built before the store counted terms
            return None
        return {term: bm25_idf(counts[term], self.manifest.passages) for term in terms}

    def _hits(self, ranked: list[tuple[int, float, float, str]], k: int) -> list[Hit]:
        """The first k, no more than settings.per_article from one article, so one story cannot fill the list."""
        chosen: list[tuple[int, float, float, str]] = []
        per_article: dict[str, int] = {}
        for entry in ranked:
            article_id = entry[3]
            if per_article.get(article_id, 0) < self.settings.per_article:
                per_article[article_id] = per_article.get(article_id, 0) + 1
                chosen.append(entry)
                if len(chosen) == k:
                    break
        found = self.store.passages_with_articles([entry[0] for entry in chosen])
        hits: list[Hit] = []
        for passage_id, score, similarity, _ in chosen:
            passage, article = found[passage_id]
            hits.append(Hit(passage.text, score, len(hits) + 1, passage, article, similarity))
        return hits

    def stats(self) -> dict[str, Any]:
        data = self.store.stats()
        data.update(
            index=str(self.directory),
            model=self.manifest.model,
            retrieval=self.settings.retrieval,
            vector_index=self.engine.index_type if self.engine.kind == "local" else f"{self.engine.kind} ({self.engine.index_type})",
            dimension=self.manifest.dimension,
            built_at=self.manifest.built_at,
            format_version=self.manifest.format_version,
            corpus_fingerprint=self.manifest.corpus_fingerprint,
        )
        return data

    def close(self) -> None:
        self.store.close()
        self.engine.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class LiveIndex:
    """The newest index published in a folder, for long-running processes (the chat server): before each use,
    one stat of manifest.json; when a build has published a new generation, it is opened and used from then
    on. Questions already running finish on the index they started with; if the new one cannot be opened, the
    old one keeps serving. A replaced index is closed (its SQLite connection, its engine's client) once
    `grace_seconds` have passed, far longer than any question takes, so a server that follows many updates
    does not gather open files."""

    def __init__(self, index: Index, *, grace_seconds: float = 60.0) -> None:
        self._index = index
        self._stamp = _manifest_stamp(index.directory)
        self._lock = threading.Lock()
        self._retired: list[tuple[float, Index]] = []  # (when it was replaced, the replaced index)
        self.grace_seconds = grace_seconds
        self.reload_error = ""  # why the newest generation could not be opened, if it could not

    def current(self) -> Index:
        stamp = _manifest_stamp(self._index.directory)
        if stamp != self._stamp or self._retired:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
                self._close_retired()
        return self._index

    def _reload(self, stamp: tuple[int, ...]) -> None:
        old = self._index
        try:
            self._index = Index.open(old.directory, settings=old.settings, encoder=old.encoder)
            self._retired.append((time.monotonic(), old))
            self.reload_error = ""
        except (IndexProblem, OSError) as exc:
            self.reload_error = str(exc)
        self._stamp = stamp

    def _close_retired(self) -> None:
        now = time.monotonic()
        for replaced_at, index in [entry for entry in self._retired if now - entry[0] >= self.grace_seconds]:
            index.close()
            self._retired.remove((replaced_at, index))


def _manifest_stamp(directory: Path) -> tuple[int, ...]:
    try:
        status = (directory / MANIFEST).stat()
    except OSError:
        return ()
    return (status.st_ino, status.st_mtime_ns, status.st_size)


_default_indexes: dict[tuple[str, str], Index] = {}
_default_lock = threading.Lock()


def default_index(index: str | Path | None = None, settings: Settings | None = None) -> Index:
    """The index at `index` (default: HEALTHQA_INDEX, else ./index), opened once per process and kept."""
    settings = settings or Settings.from_env()
    directory = Path(index) if index is not None else settings.index_dir
    key = (str(directory.resolve()), settings.model)
    with _default_lock:
        opened = _default_indexes.get(key)
        if opened is None:
            opened = _default_indexes[key] = Index.open(directory, settings=settings)
    return opened


def search(
    query: str,
    k: int | None = None,
    *,
    filters: Filters | None = None,
    index: str | Path | None = None,
    settings: Settings | None = None,
) -> list[Hit]:
    """Search the default index; see default_index()."""
    settings = settings or Settings.from_env()
    return default_index(index, settings).search(query, k or settings.k, filters=filters)
