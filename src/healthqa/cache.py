"""Passage vectors kept across builds, by (model, hash of the text given to the encoder): a passage that did not
change is never embedded twice, whether it comes back through `build`, `add` or a rebuild from scratch.

One SQLite file beside the index generations (index/embeddings.sqlite); only builds, which hold the index lock,
write to it. A damaged cache is not an error: it is set aside and rebuilt by encoding again."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CACHE_FILE = "embeddings.sqlite"
_CHUNK = 500  # keys per query: under SQLite's limit on bound parameters


def input_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, index_dir: Path, model: str) -> None:
        self.path = index_dir / CACHE_FILE
        self.model = model
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError:
            self.path.replace(self.path.with_suffix(".damaged"))
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, "
            "PRIMARY KEY (model, key)) WITHOUT ROWID"
        )
        return connection

    def get(self, keys: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for begin in range(0, len(unique), _CHUNK):
            chunk = unique[begin : begin + _CHUNK]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(chunk))})",
                [self.model, *chunk],
            ).fetchall()
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] == dimension:
                    found[key] = vector
        return found

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, vector) VALUES (?, ?, ?)",
                ((self.model, key, np.ascontiguousarray(vector, dtype=np.float32).tobytes()) for key, vector in zip(keys, vectors)),
            )

    def close(self) -> None:
        self._db.close()
