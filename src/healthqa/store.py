"""Articles, passages and skipped inputs in one SQLite file (WAL mode), updated in place, and the commit point
of every update: the list of segments that index the passages, the removed passages still inside them
(tombstones) and the generation are rows of the same file, changed in the same transaction as the articles.
Passage ids are the vector ids in FAISS; they are never reused (state `next_passage_id`), so a tombstone
cannot hide a newer passage.

A reader (`Store.open`) keeps one read transaction for its whole life: it sees one generation, whatever
writers commit meanwhile, and opens that generation's segments."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .errors import IndexCorrupt
from .records import Article, Filters, Passage, Skipped
from .terms import edit_distance, typo_allowance, vocabulary

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
_ARTICLE_COLUMNS = "id, url, title, text, site, author, date, language, source, also_at"


class PassageFacts(NamedTuple):
    article_id: str
    language: str
    date: str


class NewPassage(NamedTuple):
    """A passage about to be stored, with what later builds reuse instead of recomputing."""

    id: int
    passage: Passage
    terms: str
    input_hash: str


class SegmentRecord(NamedTuple):
    """One segment folder: passages first_id..last_id (not all of them: ids of removed articles are gone)."""

    name: str
    first_id: int
    last_id: int
    passages: int
    kind: str
    sizes: dict[str, int]


class SourceRecord(NamedTuple):
    """What the index holds for one source (file or URL): its article, or why it was skipped."""

    content_hash: str
    article_id: str  # '' when the source was skipped


class Store:
    """A connection shared by the threads of a server; reads are serialised by a lock (they take microseconds)."""

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
                f"INSERT INTO articles ({_ARTICLE_COLUMNS}, content_hash, simhash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int] | None:
        """Live passages holding each term (0 when none), or None when this store does not count terms."""
        wanted = sorted(set(terms))
        with self._lock:
            if not self._query("SELECT 1 FROM state WHERE key = 'counts_terms' AND value = '1'"):
                return None
            marks = ",".join("?" * len(wanted))
            found = dict(self._query(f"SELECT term, passages FROM term_counts WHERE term IN ({marks})", wanted)) if wanted else {}
        return {term: int(found.get(term, 0)) for term in wanted}

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

    def state(self) -> dict[str, str]:
        with self._lock:
            return dict(self._query("SELECT key, value FROM state"))

    def segments(self) -> list[SegmentRecord]:
        """The segments in id order."""
        with self._lock:
            rows = self._query("SELECT name, first_id, last_id, passages, kind, sizes FROM segments ORDER BY first_id")
        return [SegmentRecord(*row[:5], json.loads(row[5])) for row in rows]

    def tombstones(self) -> list[int]:
        with self._lock:
            return [row[0] for row in self._query("SELECT id FROM tombstones ORDER BY id")]

    def sources(self) -> dict[str, SourceRecord]:
        """Every source the index has read, with the hash of its bytes then and its article ('' if skipped)."""
        with self._lock:
            rows = self._query("SELECT source, content_hash, id FROM articles")
            rows += self._query("SELECT source, content_hash, '' FROM skipped")
        return {source: SourceRecord(content_hash, article_id) for source, content_hash, article_id in rows}

    def simhashes(self) -> tuple[list[str], list[int]]:
        with self._lock:
            rows = self._query("SELECT id, simhash FROM articles ORDER BY id")
        return [row[0] for row in rows], [row[1] for row in rows]

    def also_at(self, article_ids: Sequence[str]) -> dict[str, list[str]]:
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        with self._lock:
            rows = self._query(f"SELECT id, also_at FROM articles WHERE id IN ({marks})", list(article_ids))
        return {row[0]: json.loads(row[1]) for row in rows}

    def source_record(self, source: str) -> SourceRecord | None:
        """What the index holds for one source, or None when it never read it."""
        with self._lock:
            rows = self._query("SELECT content_hash, id FROM articles WHERE source = ?", [source])
            rows = rows or self._query("SELECT content_hash, '' FROM skipped WHERE source = ?", [source])
        return SourceRecord(*rows[0]) if rows else None

    def input_hashes(self, sources: Sequence[str]) -> dict[str, frozenset[str]]:
        """By source: the embedding-cache keys of the passages of the article read from it."""
        found: dict[str, set[str]] = {}
        with self._lock:
            for begin in range(0, len(sources), 500):
                chunk = list(sources[begin : begin + 500])
                marks = ",".join("?" * len(chunk))
                for source, key in self._query(
                        f"SELECT a.source, p.input_hash FROM passages p JOIN articles a ON a.id = p.article_id WHERE a.source IN ({marks})", chunk):
                    found.setdefault(source, set()).add(key)
        return {source: frozenset(keys) for source, keys in found.items()}

    def has_article(self, article_id: str) -> bool:
        with self._lock:
            return bool(self._query("SELECT 1 FROM articles WHERE id = ?", [article_id]))

    def next_passage_id(self) -> int:
        """Ids are never reused: the first id after every passage ever stored."""
        with self._lock:
            stored = int(self._query("SELECT coalesce(max(id), -1) + 1 FROM passages")[0][0])
            recorded = self._query("SELECT value FROM state WHERE key = 'next_passage_id'")
        return max(stored, int(recorded[0][0]) if recorded else 0)

    def passage_index_inputs(self, first_id: int = 0, last_id: int | None = None) -> tuple[list[int], list[str], list[str]]:
        """Ids, embedding-cache keys and BM25 terms of the passages (between two ids), by id: what the vector
        and lexical indexes are built from without reading or encoding any text."""
        with self._lock:
            rows = self._query("SELECT id, input_hash, terms FROM passages WHERE id >= ? AND id <= ? ORDER BY id",
                               [first_id, last_id if last_id is not None else (1 << 62)])
        return [row[0] for row in rows], [row[1] for row in rows], [row[2] for row in rows]

    def article_ids_for(self, reference: str) -> list[str]:
        """Articles named by an id, a URL (canonical or also-published-at) or a source (file or URL)."""
        if not reference.strip().strip("/"):
            return []  # an empty reference would match every article without a URL
        with self._lock:
            rows = self._query(
                "SELECT id FROM articles WHERE id = ? OR source = ? OR rtrim(lower(url), '/') = rtrim(lower(?), '/') "
                "OR EXISTS (SELECT 1 FROM json_each(also_at) WHERE rtrim(lower(value), '/') = rtrim(lower(?), '/'))",
                [reference, reference, reference, reference],
            )
        return [row[0] for row in rows]

    def passages_with_articles(self, ids: Sequence[int]) -> dict[int, tuple[Passage, Article]]:
        """One query for all ids; ids that are not stored are absent from the result."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._query(
                f'SELECT p.id, p.article_id, p.position, p.text, p.start, p."end", p.heading, '
                f"a.{_ARTICLE_COLUMNS.replace(', ', ', a.')} "
                f"FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})",
                [int(i) for i in ids],
            )
        return {row[0]: (Passage(*row[1:7]), _article(row[7:])) for row in rows}

    def passage_facts(self, ids: Sequence[int]) -> dict[int, PassageFacts]:
        """What ranking needs to know of candidate passages, without their text."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._query(
                f"SELECT p.id, p.article_id, a.language, a.date FROM passages p JOIN articles a ON a.id = p.article_id "
                f"WHERE p.id IN ({marks})",
                [int(i) for i in ids],
            )
        return {row[0]: PassageFacts(*row[1:]) for row in rows}

    def passage_terms(self, ids: Sequence[int]) -> dict[int, str]:
        """The BM25 terms of passages, space-separated in text order: where the question's words stand in them."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._query(f"SELECT id, terms FROM passages WHERE id IN ({marks})", [int(i) for i in ids])
        return {row[0]: row[1] for row in rows}

    def passage_ids(self, filters: Filters) -> list[int]:
        """Ids of the passages whose article passes the filters."""
        clauses, params = [], []
        for column, values in (("site", filters.sites), ("language", filters.languages)):
            if values:
                clauses.append(f"a.{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if filters.date_from:
            clauses.append("a.date >= ?")
            params.append(filters.date_from)
        if filters.date_to:
            clauses.append("a.date != '' AND a.date <= ?")
            params.append(filters.date_to)
        where = " AND ".join(clauses) or "1"
        with self._lock:
            rows = self._query(f"SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id WHERE {where}", params)
        return [row[0] for row in rows]

    def unknown_words(self, folded_words: Sequence[str], *, tolerant: bool = False) -> list[str]:
        """Those of the (folded) words that no stored article contains; with `tolerant`, nor any word one typo or
        inflection away ("Carrefours" for Carrefour, "Alzheimers", "SARS-CON" for SARS-CoV)."""
        if not folded_words:
            return []
        marks = ",".join("?" * len(folded_words))
        with self._lock:
            known = {row[0] for row in self._query(f"SELECT word FROM vocabulary WHERE word IN ({marks})", list(folded_words))}
        unknown = [word for word in folded_words if word not in known]
        if tolerant:
            unknown = [word for word in unknown if not self._near_word_known(word)]
        return unknown

    def _near_word_known(self, word: str) -> bool:
        allowed = typo_allowance(word)
        if not allowed or len(word) < 3:
            return False
        # A typo rarely hits the first two letters; the range keeps the candidates to a few hundred words.
        low, high = word[:2], word[:2] + "\uffff"
        with self._lock:
            rows = self._query(
                "SELECT word FROM vocabulary WHERE word >= ? AND word < ? AND length(word) BETWEEN ? AND ?",
                [low, high, len(word) - allowed, len(word) + allowed],
            )
        return any(edit_distance(word, row[0], allowed) <= allowed for row in rows)

    def find_article(self, reference: str) -> Article | None:
        """The article with this id, URL (canonical or also-published-at) or source."""
        ids = self.article_ids_for(reference)
        if not ids:
            return None
        with self._lock:
            rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", [ids[0]])
        return _article(rows[0]) if rows else None

    def article_language(self, id_or_url: str) -> str:
        """Language of the article with this id or URL, '' when no such article is stored."""
        article = self.find_article(id_or_url)
        return article.language if article else ""

    def counts(self) -> tuple[int, int]:
        with self._lock:
            articles = self._query("SELECT count(*) FROM articles")[0][0]
            passages = self._query("SELECT count(*) FROM passages")[0][0]
        return articles, passages

    def stats(self) -> dict[str, Any]:
        with self._lock:
            languages = Counter(dict(self._query("SELECT language, count(*) FROM articles GROUP BY language")))
            sites = Counter(dict(self._query("SELECT site, count(*) FROM articles GROUP BY site")))
            dates = self._query("SELECT min(nullif(date, '')), max(nullif(date, '')) FROM articles")[0]
            skipped = [Skipped(*row) for row in self._query("SELECT source, reason FROM skipped ORDER BY source")]
        articles, passages = self.counts()
        return {
            "articles": articles,
            "passages": passages,
            "languages": dict(sorted(languages.items())),
            "sites": dict(sorted(sites.items())),
            "dates": {"first": dates[0], "last": dates[1]},
            "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
        }

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"the database {self.path} is damaged ({exc}); rebuild the index with `healthqa build`") from None


def _article(row: Sequence[Any]) -> Article:
    *fields, also_at = row
    return Article(*fields, also_at=tuple(json.loads(also_at)))
