"""Articles, passages and skipped inputs in one SQLite file (WAL mode), updated in place, and the commit point
of every update: the list of segments that index the passages, the removed passages still inside them
(tombstones) and the generation are rows of the same file, changed in the same transaction as the articles.
Passage ids are the vector ids in FAISS; they are never reused (state `next_passage_id`), so a tombstone
cannot hide a newer passage.

A reader (`Store.open`) keeps one read transaction for its whole life: it sees one generation, whatever
writers commit meanwhile, and opens that generation's segments. The queries, those of search, of an update and
of the commit point, are in storequeries.py."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from .errors import IndexCorrupt
from .records import Article, Passage, Skipped
from .storequeries import ARTICLE_COLUMNS, GenerationQueries, SearchQueries, SegmentRecord, UpdateQueries  # noqa: F401 (SegmentRecord: part of this module's interface)
from .terms import vocabulary

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, title TEXT NOT NULL, site TEXT NOT NULL, author TEXT NOT NULL,
    date TEXT NOT NULL, language TEXT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL,
    also_at TEXT NOT NULL DEFAULT '[]',       -- JSON list of the other places the same story was published
    content_hash TEXT NOT NULL DEFAULT '',    -- of the page's bytes: an unchanged page is not extracted again
    simhash INTEGER NOT NULL DEFAULT 0        -- of the text, signed 64 bits: finds near-identical stories
);
CREATE INDEX articles_by_source ON articles(source);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id), position INTEGER NOT NULL,
    heading TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    terms TEXT NOT NULL DEFAULT '',           -- BM25 terms, space-separated: the lexical index is rebuilt from these
    input_hash TEXT NOT NULL DEFAULT ''       -- of the text given to the encoder: the embedding cache key
);
CREATE INDEX passages_by_article ON passages(article_id, position);
CREATE TABLE skipped (source TEXT PRIMARY KEY, reason TEXT NOT NULL, content_hash TEXT NOT NULL DEFAULT '');
CREATE TABLE vocabulary (word TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE segments (                      -- the folders that index the passages, in id order
    name TEXT PRIMARY KEY, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL, passages INTEGER NOT NULL,
    kind TEXT NOT NULL, sizes TEXT NOT NULL   -- JSON {"vectors": bytes, "lexical": bytes}
);
CREATE TABLE tombstones (id INTEGER PRIMARY KEY);  -- removed passages still inside a segment
CREATE TABLE term_counts (term TEXT PRIMARY KEY, passages INTEGER NOT NULL) WITHOUT ROWID;  -- see count_terms
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);  -- generation, built_at, next_passage_id
"""


class NewPassage(NamedTuple):
    """A passage about to be stored, with what later builds reuse instead of recomputing."""

    id: int
    passage: Passage
    terms: str
    input_hash: str


class Store(SearchQueries, UpdateQueries, GenerationQueries):
    """A connection shared by the threads of a server; reads are serialised by a lock (they take microseconds).
    The class holds what changes the file (opening, writes, the commit point); it inherits the queries."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def create(cls, path: Path) -> "Store":
        """A new, empty, writable store."""
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
        return cls._writer(connection, path)

    @classmethod
    def open_writable(cls, path: Path) -> "Store":
        """The store of the generation in use, for an update (the caller holds the index's lock)."""
        try:
            connection = sqlite3.connect(path, check_same_thread=False)
            connection.execute("SELECT count(*) FROM state").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"the database {path} is damaged ({exc}); rebuild the index with `healthqa build`") from None
        return cls._writer(connection, path)

    @classmethod
    def _writer(cls, connection: sqlite3.Connection, path: Path) -> "Store":
        connection.execute("PRAGMA synchronous=FULL")  # a committed update survives a crash of the machine too
        connection.execute("PRAGMA busy_timeout=10000")
        return cls(connection, path)

    @classmethod
    def open(cls, path: Path) -> "Store":
        """A reader pinned to the generation committed when it opens (one read transaction, kept)."""
        try:
            connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA query_only=1")
            connection.execute("BEGIN")
            connection.execute("SELECT count(*) FROM articles").fetchone()
            connection.execute("SELECT count(*) FROM passages").fetchone()
            connection.execute("SELECT count(*) FROM vocabulary").fetchone()
            connection.execute("SELECT count(*) FROM state").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"the database {path} is damaged ({exc}); rebuild the index with `healthqa build`") from None
        return cls(connection, path)

    def close(self) -> None:
        self._db.close()

    def apply(
        self,
        *,
        removed_articles: Iterable[str] = (),
        forgotten_sources: Iterable[str] = (),
        articles: Iterable[tuple[Article, str, int]] = (),
        passages: Iterable[NewPassage] = (),
        skipped: Iterable[tuple[Skipped, str]] = (),
        also_at: Mapping[str, Sequence[str]] = {},
        segment: SegmentRecord | None = None,
        state: Mapping[str, str] = {},
        count_terms: bool = False,
    ) -> int:
        """One transaction: remove articles (their passages become tombstones in their segments) and the skip
        records of sources read again, then add articles (with their page hash and simhash), passages, skip
        records (with page hash), the segment that indexes the new passages and the new state. With
        `count_terms`, how many live passages hold each BM25 term is kept up to date (document_frequencies):
        what an index whose search engine keeps BM25's statistics to itself needs. Returns the number of
        passages removed."""
        with self._db:
            removed = [(article_id,) for article_id in removed_articles]
            passages = list(passages)
            if count_terms:
                self._count_terms(removed, passages)
            self._db.executemany(
                "INSERT OR IGNORE INTO tombstones (id) SELECT id FROM passages WHERE article_id = ?", removed
            )
            dropped = self._db.total_changes
            self._db.executemany("DELETE FROM passages WHERE article_id = ?", removed)
            dropped = self._db.total_changes - dropped
            self._db.executemany("DELETE FROM articles WHERE id = ?", removed)
            self._db.executemany("DELETE FROM skipped WHERE source = ?", ((source,) for source in forgotten_sources))
            added = list(articles)
            self._db.executemany(
                f"INSERT INTO articles ({ARTICLE_COLUMNS}, content_hash, simhash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (a.id, a.url, a.title, a.text, a.site, a.author, a.date, a.language, a.source, json.dumps(list(a.also_at)), content_hash, simhash)
                    for a, content_hash, simhash in added
                ),
            )
            self._db.executemany(
                'INSERT INTO passages (id, article_id, position, heading, start, "end", text, terms, input_hash) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((n.id, n.passage.article_id, n.passage.position, n.passage.heading, n.passage.start, n.passage.end,
                  n.passage.text, n.terms, n.input_hash) for n in passages),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO skipped (source, reason, content_hash) VALUES (?, ?, ?)",
                ((item.source, item.reason, content_hash) for item, content_hash in skipped),
            )
            for article_id, places in also_at.items():
                self._db.execute("UPDATE articles SET also_at = ? WHERE id = ?", (json.dumps(list(places)), article_id))
            words = vocabulary(a.title + "\n" + a.text for a, _, _ in added)
            self._db.executemany("INSERT OR IGNORE INTO vocabulary (word) VALUES (?)", ((w,) for w in sorted(words)))
            if segment is not None:
                self._insert_segment(segment)
            self._set_state(state)
        return dropped

    def _count_terms(self, removed: Sequence[tuple[str]], added: Sequence[NewPassage]) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS term_counts (term TEXT PRIMARY KEY, passages INTEGER NOT NULL) WITHOUT ROWID")
        change: Counter[str] = Counter()
        for (article_id,) in removed:
            for (terms,) in self._db.execute("SELECT terms FROM passages WHERE article_id = ?", (article_id,)):
                change.subtract(set(terms.split()))
        for passage in added:
            change.update(set(passage.terms.split()))
        self._db.executemany(
            "INSERT INTO term_counts (term, passages) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET passages = passages + excluded.passages",
            ((term, count) for term, count in change.items() if count),
        )
        self._db.execute("DELETE FROM term_counts WHERE passages <= 0")
        self._db.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('counts_terms', '1')")

    def replace_segments(self, merged: Sequence[str], segment: SegmentRecord, dropped_tombstones: Sequence[int], state: Mapping[str, str]) -> None:
        """A merge's publication, in one transaction: `segment` replaces the `merged` ones, whose tombstones
        `dropped_tombstones` (the passages the merge left out) are forgotten."""
        with self._db:
            self._db.executemany("DELETE FROM segments WHERE name = ?", ((name,) for name in merged))
            self._db.executemany("DELETE FROM tombstones WHERE id = ?", ((int(i),) for i in dropped_tombstones))
            self._insert_segment(segment)
            self._set_state(state)

    def drop_tombstones(self, ids: Sequence[int]) -> None:
        """Forget removed passages that no longer exist anywhere (deleted from a search engine)."""
        with self._db:
            self._db.executemany("DELETE FROM tombstones WHERE id = ?", ((int(i),) for i in ids))

    def _insert_segment(self, segment: SegmentRecord) -> None:
        self._db.execute(
            "INSERT INTO segments (name, first_id, last_id, passages, kind, sizes) VALUES (?, ?, ?, ?, ?, ?)",
            (segment.name, segment.first_id, segment.last_id, segment.passages, segment.kind, json.dumps(segment.sizes)),
        )

    def _set_state(self, state: Mapping[str, str]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", ((k, str(v)) for k, v in state.items()))

