"""Passages in Milvus: vectors, one BM25 field per language analysed by Milvus itself, and the filter fields.
The only module that imports pymilvus.

The URI is a file path (Milvus Lite, which runs the Milvus core in a helper process and serves one process
at a time) or `http://host:19530` (a Milvus server or cluster, which many `healthqa serve` can share). One
collection per index build; its schema:

    id        INT64 primary key: the passage id of the store
    vector    FLOAT_VECTOR, inner product (the vectors are normalised), index type a setting: Milvus Lite
              offers FLAT, IVF_FLAT and AUTOINDEX; a server also HNSW and DISKANN
    text_<l>  the passage's title and text (stages.lexical_text) in the field of its language (empty in the
              others), analysed by a Milvus
    bm25_<l>  analyser for that language, whose BM25 function fills the sparse field bm25_<l>
    language, site, date (ISO, "" when unknown), segment: the fields filters and visibility read

A question is matched against every language's field (each analyses it its own way: stems, stop words,
accents folded), as the local BM25 analyses it in every indexed language."""

from __future__ import annotations

import importlib.util
import logging
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from ..errors import IndexProblem, MissingExtra
from ..lexical import stop_words
from ..records import Filters
from . import Entry, Scored

# Milvus's Snowball stemmers by language code; other languages get folding only.
_LANGUAGES = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese", "nl": "dutch"}
# As the local BM25 (bm25s, Lucene's variant); Milvus's default k1 is 1.2.
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}
INDEX_TYPES = ("AUTOINDEX", "FLAT", "IVF_FLAT", "HNSW", "DISKANN")
_INDEX_PARAMS = {"IVF_FLAT": {"nlist": 1024}, "HNSW": {"M": 16, "efConstruction": 200}}
_SEARCH_PARAMS = {"IVF_FLAT": {"nprobe": 32}, "HNSW": {"ef": 128}, "DISKANN": {"search_list": 100}}
_BATCH = 500  # rows per insert: far under Milvus's 64 MB request limit with 1,024-dimension vectors
_TEXT_BYTES = 60_000  # VARCHAR holds 65,535 bytes; passages are far shorter, this only guards the limit
TIMEOUT = 60.0  # seconds for one call; pymilvus otherwise retries some failures for a long time

logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # its own error log would print tracebacks
# milvus-lite 2.5.1 imports pkg_resources, whose deprecation warning would be printed on every start.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


class MilvusUnavailable(IndexProblem):
    """Milvus cannot be reached or refused an operation (a server keeps serving the index it has meanwhile)."""


def analyser(language: str, languages: Sequence[str] = ()) -> dict:
    """Milvus analyser parameters for a language's field: lower case, stop words, Snowball stem, accents folded.

    Stop words are the local BM25's own lists (Milvus 2.5 ships only an English one), of every indexed
    language: one analyser serves both the passages and the questions, and a French question searched in
    the English field must not match English passages on "de", "le" or "son" (locally, a question loses the
    stop words of every language before it is stemmed in each)."""
    name = _LANGUAGES.get(language)
    stop = frozenset().union(*(stop_words(code) for code in {language, *languages}))
    filters: list = ["lowercase", {"type": "stop", "stop_words": sorted(stop)}]
    if name:
        # Stemmers written for unaccented text get it unaccented, as locally (lexical.py).
        filters += ["asciifolding", {"type": "stemmer", "language": name}] if language in ("en", "nl") else [
            {"type": "stemmer", "language": name}, "asciifolding"]
    else:
        filters.append("asciifolding")
    return {"tokenizer": "standard", "filter": filters}


def is_lite(uri: str) -> bool:
    return "://" not in uri


class MilvusEngine:
    """One collection; searches see segments up to `published`."""

    kind = "milvus"

    def __init__(
        self, client: MilvusClient, uri: str, collection: str, languages: Sequence[str], index_type: str, dimension: int, published: int,
    ) -> None:
        self._client = client
        self.dimension = dimension
        self.uri = uri
        self.collection = collection
        self.languages = tuple(languages)
        self.index_type = index_type
        self.published = published

    @classmethod
    def create(
        cls, uri: str, collection: str, *, dimension: int, languages: Sequence[str], index_type: str = "AUTOINDEX", token: str = "",
    ) -> "MilvusEngine":
        """A new, empty collection (an existing one of that name is replaced)."""
        index_type = index_type.upper()
        if index_type not in INDEX_TYPES:
            raise MilvusUnavailable(f"unknown Milvus index type '{index_type}': choose one of {', '.join(INDEX_TYPES)}")
        client = _connect(uri, token)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        for code in languages:
            schema.add_field(f"text_{code}", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=analyser(code, languages))
            schema.add_field(f"bm25_{code}", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name=f"bm25_of_{code}", function_type=FunctionType.BM25,
                                         input_field_names=[f"text_{code}"], output_field_names=[f"bm25_{code}"]))
        schema.add_field("language", DataType.VARCHAR, max_length=16)
        schema.add_field("site", DataType.VARCHAR, max_length=512)
        schema.add_field("date", DataType.VARCHAR, max_length=32)
        schema.add_field("segment", DataType.INT64)
        indexes = client.prepare_index_params()
        indexes.add_index("vector", index_type=index_type, metric_type="IP", params=_INDEX_PARAMS.get(index_type, {}))
        for code in languages:
            indexes.add_index(f"bm25_{code}", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)
        try:
            if client.has_collection(collection, timeout=TIMEOUT):
                client.drop_collection(collection, timeout=TIMEOUT)
            client.create_collection(collection, schema=schema, index_params=indexes, consistency_level="Strong", timeout=TIMEOUT)
        except MilvusException as exc:
            client.close()
            _release(uri)
            raise _failure(uri, f"cannot create the collection {collection}", exc) from None
        return cls(client, uri, collection, languages, index_type, dimension, published=0)

    @classmethod
    def open(cls, uri: str, collection: str, *, published: int, token: str = "") -> "MilvusEngine":
        """An existing collection, seen as of segment `published`."""
        client = _connect(uri, token)
        try:
            if not client.has_collection(collection, timeout=TIMEOUT):
                raise MilvusUnavailable(f"Milvus at {uri} has no collection {collection}: rebuild the index with `healthqa build --fresh`")
            fields = client.describe_collection(collection, timeout=TIMEOUT)["fields"]
            client.load_collection(collection, timeout=TIMEOUT)
        except (MilvusException, MilvusUnavailable) as exc:
            client.close()
            _release(uri)
            if isinstance(exc, MilvusUnavailable):
                raise
            raise _failure(uri, f"cannot open the collection {collection}", exc) from None
        languages = [f["name"][len("text_"):] for f in fields if f["name"].startswith("text_")]
        dimension = next(int(f["params"]["dim"]) for f in fields if f["name"] == "vector")
        index_type = client.describe_index(collection, "vector", timeout=TIMEOUT).get("index_type", "AUTOINDEX")
        return cls(client, uri, collection, languages, str(index_type), dimension, published)

    # --- writing ----------------------------------------------------------------------------------------

    def upsert(self, entries: Sequence[Entry]) -> None:
        for begin in range(0, len(entries), _BATCH):
            rows = [self._row(entry) for entry in entries[begin : begin + _BATCH]]
            self._call("write passages to", lambda: self._client.upsert(self.collection, rows, timeout=TIMEOUT))

    def _row(self, entry: Entry) -> dict:
        row = {"id": int(entry.id), "vector": np.asarray(entry.vector, dtype=np.float32).tolist(), "language": entry.language,
               "site": entry.site[:512], "date": entry.date[:32], "segment": int(entry.segment)}
        field = entry.language if entry.language in self.languages else self.languages[0]
        for code in self.languages:
            row[f"text_{code}"] = _bounded(entry.text) if code == field else ""
        return row

    def delete(self, ids: Sequence[int]) -> None:
        for begin in range(0, len(ids), 10_000):
            chunk = [int(i) for i in ids[begin : begin + 10_000]]
            self._call("delete passages from", lambda: self._client.delete(self.collection, ids=chunk, timeout=TIMEOUT))

    def discard_unpublished(self) -> int:
        found = self._call("read", lambda: self._client.query(
            self.collection, filter=f"segment > {int(self.published)}", output_fields=["id"], timeout=TIMEOUT))
        ids = [row["id"] for row in found]
        if ids:
            self.delete(ids)
        return len(ids)

    def publish(self, segment: int) -> None:
        self._call("flush", lambda: self._client.flush(self.collection, timeout=TIMEOUT))
        self.published = segment

    # --- reading ----------------------------------------------------------------------------------------

    def search_dense(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> Scored:
        found = self._call("search", lambda: self._client.search(
            self.collection, data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="vector", limit=k,
            filter=self._expression(filters), search_params={"metric_type": "IP", "params": _SEARCH_PARAMS.get(self.index_type, {})},
            timeout=TIMEOUT))
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def search_lexical(self, query: str, k: int, filters: Filters | None = None) -> Scored:
        """Each language's field searched with its own analyser: the k best of each, merged by score. Not cut
        to k overall: scores of different fields are not on one scale (each field has its own document
        frequencies), and the fusion compares each language's passages with their own best."""
        if not query.strip():
            return []
        merged: dict[int, float] = {}
        for code in self.languages:
            found = self._call("search", lambda code=code: self._client.search(
                self.collection, data=[query], anns_field=f"bm25_{code}", limit=k, filter=self._expression(filters),
                search_params={"metric_type": "BM25"}, timeout=TIMEOUT))
            for hit in found[0]:
                merged[int(hit["id"])] = max(merged.get(int(hit["id"]), 0.0), float(hit["distance"]))
        return sorted(merged.items(), key=lambda item: item[1], reverse=True)

    def hybrid(self, vector: np.ndarray, query: str, k: int, *, ranker: str = "rrf", weights: Sequence[float] = (), filters: Filters | None = None) -> Scored:
        """Milvus's hybrid_search: the dense request and one BM25 request per language, fused by Milvus's
        RRFRanker or WeightedRanker. Kept beside the project's own fusion to compare them (bench/milvus.py)."""
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        expression = self._expression(filters)
        requests = [AnnSearchRequest(data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="vector",
                                     param={"metric_type": "IP", "params": _SEARCH_PARAMS.get(self.index_type, {})}, limit=k, expr=expression)]
        if query.strip():
            requests += [AnnSearchRequest(data=[query], anns_field=f"bm25_{code}", param={"metric_type": "BM25"}, limit=k, expr=expression)
                         for code in self.languages]
        if ranker == "rrf":
            fuse = RRFRanker(60)
        else:
            fuse = WeightedRanker(*(weights or [1.0] * len(requests))[: len(requests)])
        found = self._call("search", lambda: self._client.hybrid_search(self.collection, requests, fuse, limit=k, timeout=TIMEOUT))
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def idf(self, term: str) -> float | None:
        """Milvus keeps its BM25 statistics to itself: the index reads passage counts from the store instead."""
        return None

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        if not ids:
            return np.zeros((0, self.dimension), dtype=np.float32)
        wanted = [int(i) for i in ids]
        rows = self._call("read", lambda: self._client.get(self.collection, ids=wanted, output_fields=["vector"], timeout=TIMEOUT))
        by_id = {int(row["id"]): row["vector"] for row in rows}
        return np.asarray([by_id[i] for i in wanted], dtype=np.float32)

    def count(self) -> int:
        found = self._call("count", lambda: self._client.query(
            self.collection, filter=f"segment <= {int(self.published)}", output_fields=["count(*)"], timeout=TIMEOUT))
        return int(found[0]["count(*)"])

    def drop(self) -> None:
        self._call("drop", lambda: self._client.drop_collection(self.collection, timeout=TIMEOUT))

    def close(self) -> None:
        if self._client is None:
            return
        try:
            self._client.close()
        except MilvusException:
            pass
        self._client = None
        _release(self.uri)

    # --- helpers ----------------------------------------------------------------------------------------

    def _expression(self, filters: Filters | None) -> str:
        clauses = [f"segment <= {int(self.published)}"]
        if filters:
            for field, values in (("site", filters.sites), ("language", filters.languages)):
                if values:
                    clauses.append(f"{field} in [{', '.join(_literal(v) for v in values)}]")
            if filters.date_from:
                clauses.append(f"date >= {_literal(filters.date_from)}")
            if filters.date_to:
                clauses.append(f'date != "" and date <= {_literal(filters.date_to)}')
        return " and ".join(clauses)

    def _call(self, what: str, operation):  # type: ignore[no-untyped-def]
        try:
            return operation()
        except MilvusException as exc:
            raise _failure(self.uri, f"cannot {what} the collection {self.collection}", exc) from None


def list_collections(uri: str, token: str = "") -> list[str]:
    client = _connect(uri, token)
    try:
        return list(client.list_collections(timeout=TIMEOUT))
    finally:
        client.close()
        _release(uri)


def drop_collection(uri: str, collection: str, token: str = "") -> None:
    client = _connect(uri, token)
    try:
        if client.has_collection(collection, timeout=TIMEOUT):
            client.drop_collection(collection, timeout=TIMEOUT)
    finally:
        client.close()
        _release(uri)


# Engines of this process open on each Milvus Lite file: the Lite server (which holds the file) is stopped
# when the last closes, so that another process (an update, a server) can open the file then.
_lite_users: dict[str, int] = {}
_lite_lock = threading.Lock()


def _release(uri: str) -> None:
    if not is_lite(uri):
        return
    with _lite_lock:
        _lite_users[uri] = _lite_users.get(uri, 1) - 1
        if _lite_users[uri] > 0:
            return
        del _lite_users[uri]
        try:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)
        except Exception:  # already stopped, or another milvus-lite: the process's exit stops it anyway
            pass


def _connect(uri: str, token: str) -> MilvusClient:
    client = _open_client(uri, token)
    if is_lite(uri):
        with _lite_lock:
            _lite_users[uri] = _lite_users.get(uri, 0) + 1
    return client


def _open_client(uri: str, token: str) -> MilvusClient:
    if is_lite(uri):
        if importlib.util.find_spec("milvus_lite") is None:
            raise MissingExtra(f"the Milvus Lite file {uri}", "milvus-lite")
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=token, timeout=TIMEOUT)
    except MilvusException as exc:
        if is_lite(uri):
            raise MilvusUnavailable(
                f"cannot open the Milvus Lite file {uri} ({exc.message}); Milvus Lite serves one process at a time: stop "
                f"the other healthqa process using it (a running `healthqa serve`?), or use a Milvus server (--milvus-uri http://HOST:19530)"
            ) from None
        raise _failure(uri, "cannot connect", exc) from None


def _failure(uri: str, what: str, exc: MilvusException) -> MilvusUnavailable:
    return MilvusUnavailable(f"Milvus at {uri}: {what} ({getattr(exc, 'message', exc) or type(exc).__name__}); check that it runs and the URI")


def _literal(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bounded(text: str) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= _TEXT_BYTES else data[:_TEXT_BYTES].decode("utf-8", errors="ignore")
