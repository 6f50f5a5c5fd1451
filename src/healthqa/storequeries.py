"""The store's queries, shared by the threads of a server through one connection (reads serialised by a lock):
what search asks (SearchQueries: passages with their articles, ranking facts, filters, the vocabulary,
statistics), what an update asks before it writes (UpdateQueries: the sources read before, their hashes
and simhashes) and the commit point (GenerationQueries: state, segments, tombstones). Store (store.py) has
them all, and the writes."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .errors import IndexCorrupt
from .records import Article, Filters, Passage, Skipped
from .terms import edit_distance, typo_allowance

# The articles table's columns in the order of Article's fields (also_at last, as JSON).
ARTICLE_COLUMNS = "id, url, title, text, site, author, date, language, source, also_at"


class PassageFacts(NamedTuple):
    article_id: str
    language: str
    date: str


class SourceRecord(NamedTuple):
    """What the index holds for one source (file or URL): its article, or why it was skipped."""

    content_hash: str
    article_id: str  # '' when the source was skipped


class SegmentRecord(NamedTuple):
    """One segment folder: passages first_id..last_id (not all of them: ids of removed articles are gone)."""

    name: str
    first_id: int
    last_id: int
    passages: int
    kind: str
    sizes: dict[str, int]


class _Queries:
    """What both kinds of queries stand on; Store sets the connection, its lock and its path."""

    _db: sqlite3.Connection
    _lock: threading.Lock
    path: Path

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"the database {self.path} is damaged ({exc}); rebuild the index with `healthqa build`") from None


class GenerationQueries(_Queries):
    """The commit point every reader opens by: the state (generation, next passage id), the segments that index
    the passages and the removed passages still inside them."""

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


class UpdateQueries(_Queries):
    """What an update asks of the index it builds upon: what each source gave last time, the stored stories new
    ones may duplicate, the next passage id, and what the passages' indexes are built from."""

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


class SearchQueries(_Queries):
    """What answering a question asks: the passages found, what ranking and filters need, whether the
    question's words are known at all, and the index's statistics."""

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int] | None:
        """Live passages holding each term (0 when none), or None when this store does not count terms."""
        wanted = sorted(set(terms))
        with self._lock:
            if not self._query("SELECT 1 FROM state WHERE key = 'counts_terms' AND value = '1'"):
                return None
            marks = ",".join("?" * len(wanted))
            found = dict(self._query(f"SELECT term, passages FROM term_counts WHERE term IN ({marks})", wanted)) if wanted else {}
        return {term: int(found.get(term, 0)) for term in wanted}

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
                f"a.{ARTICLE_COLUMNS.replace(', ', ', a.')} "
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
            rows = self._query(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", [ids[0]])
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


def _article(row: Sequence[Any]) -> Article:
    *fields, also_at = row
    return Article(*fields, also_at=tuple(json.loads(also_at)))
