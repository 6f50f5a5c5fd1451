"""Articles, passages and skipped inputs in one SQLite file. Passage ids are the vector ids in FAISS."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .errors import IndexCorrupt
from .records import Article, Filters, Passage, Skipped
from .terms import vocabulary

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, title TEXT NOT NULL, site TEXT NOT NULL, author TEXT NOT NULL,
    date TEXT NOT NULL, language TEXT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id), position INTEGER NOT NULL,
    heading TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX passages_by_article ON passages(article_id, position);
CREATE TABLE skipped (source TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE vocabulary (word TEXT PRIMARY KEY) WITHOUT ROWID;
"""
_ARTICLE_COLUMNS = "id, url, title, text, site, author, date, language, source"


class PassageFacts(NamedTuple):
    article_id: str
    language: str
    date: str


class Store:
    """A connection shared by the threads of a server; reads are serialised by a lock (they take microseconds)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def create(cls, path: Path) -> "Store":
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.executescript(SCHEMA)
        return cls(connection, path)

    @classmethod
    def open(cls, path: Path) -> "Store":
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            connection.execute("SELECT count(*) FROM articles").fetchone()
            connection.execute("SELECT count(*) FROM passages").fetchone()
            connection.execute("SELECT count(*) FROM vocabulary").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"the database {path} is damaged ({exc}); rebuild the index with `healthqa build`") from None
        return cls(connection, path)

    def close(self) -> None:
        self._db.close()

    def write(self, articles: Iterable[Article], passages: Sequence[Passage], skipped: Iterable[Skipped]) -> None:
        """Passage i gets id i, which is also its vector's id."""
        with self._db:
            self._db.executemany(
                f"INSERT INTO articles ({_ARTICLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((a.id, a.url, a.title, a.text, a.site, a.author, a.date, a.language, a.source) for a in articles),
            )
            self._db.executemany(
                'INSERT INTO passages (id, article_id, position, heading, start, "end", text) VALUES (?, ?, ?, ?, ?, ?, ?)',
                ((i, p.article_id, p.position, p.heading, p.start, p.end, p.text) for i, p in enumerate(passages)),
            )
            self._db.executemany("INSERT INTO skipped (source, reason) VALUES (?, ?)", ((s.source, s.reason) for s in skipped))
            words = vocabulary(a.title + "\n" + a.text for a in articles)
            self._db.executemany("INSERT INTO vocabulary (word) VALUES (?)", ((w,) for w in sorted(words)))

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
        return {row[0]: (Passage(*row[1:7]), Article(*row[7:])) for row in rows}

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

    def unknown_words(self, folded_words: Sequence[str]) -> list[str]:
        """Those of the (folded) words that no stored article contains."""
        if not folded_words:
            return []
        marks = ",".join("?" * len(folded_words))
        with self._lock:
            known = {row[0] for row in self._query(f"SELECT word FROM vocabulary WHERE word IN ({marks})", list(folded_words))}
        return [word for word in folded_words if word not in known]

    def find_article(self, id_or_url: str) -> Article | None:
        """The article with this id or (canonical) URL."""
        with self._lock:
            rows = self._query(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ? OR rtrim(lower(url), '/') = rtrim(lower(?), '/')",
                [id_or_url, id_or_url],
            )
        return Article(*rows[0]) if rows else None

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
