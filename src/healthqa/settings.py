"""One settings object for the whole library: defaults, then HEALTHQA_* environment variables, then explicit
overrides (CLI flags, keyword arguments). Nothing reads the environment anywhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

ENV_PREFIX = "HEALTHQA_"
RETRIEVAL_MODES = ("hybrid", "dense", "lexical")
FUSION_METHODS = ("adaptive", "language-aware", "weighted", "rrf")
BACKENDS = ("faiss", "milvus")


@dataclass(frozen=True, slots=True)
class Settings:
    index_dir: Path = Path("index")
    # "use-multilingual-v3" (the default when empty), "all-MiniLM-L6-v2" (bundled), or any sentence-transformers
    # model by name or folder.
    model: str = ""
    # How passages are found: "hybrid" (dense + BM25), "dense" or "lexical"; and how hybrid combines them.
    retrieval: str = "hybrid"
    fusion: str = "adaptive"
    # Most passages of one article among search results, so that one story cannot fill them (a lower cap costs
    # recall on the labelled questions: 0.93 at 3, 0.96 at 4, see README "Retrieval").
    per_article: int = 4
    # Preference for recent articles: added to a passage's score when published today, halved each year.
    recency: float = 0.0
    # Languages that are indexed; pages in any other language are skipped with a reason.
    languages: tuple[str, ...] = ("en", "fr")
    # A text with fewer words is an article only when mostly running text (a news brief); a few stray lines, a
    # contact page or a cookie wall is not (README "How it works", Ingestion).
    min_words: int = 120
    # Upper bound of a passage in model tokens; it is lowered further when the model's window is smaller.
    # 300 measured best on the real sets (README "Retrieval"): 200 splits long answers and short Wikipedia
    # articles, 400 dilutes the meaning the encoder averages over a passage.
    passage_tokens: int = 300
    # Sentences carried over from the end of one passage to the start of the next, in tokens at most.
    overlap_tokens: int = 60
    batch_size: int = 32
    # Number of passages returned by search() when the caller gives no k.
    k: int = 5
    # Answers: passages read, most sentences quoted, most words quoted (unless the best sentence alone is longer),
    # and how far below the best sentence's score another may be and still be quoted (see selection.py).
    answer_passages: int = 6
    answer_sentences: int = 4
    answer_words: int = 62
    answer_margin: float = 5.0
    # Below this similarity of the best passage the assistant says the articles do not cover the question.
    min_score: float = 0.2
    # Most pages read by one `add` (a feed or sitemap can list thousands); most bytes of one page, file or
    # download (after decompression); and whether URLs given in the web chat may reach this machine or its
    # private network (never by default; the command line, run by the operator, may always).
    max_pages: int = 500
    max_page_bytes: int = 5_000_000
    allow_private_urls: bool = False
    # Whether an update that leaves many small segments starts a merge in the background (`healthqa merge`).
    auto_merge: bool = True
    # Beyond one machine (README "Running beyond one machine"; the 'scale' extra). Where a build puts the
    # index's vectors and BM25: "faiss" (files in the index folder) or "milvus"; empty keeps the index's own
    # (faiss for a new one). Every other command reads the engine, URI and collection from the index folder.
    backend: str = ""
    # Milvus: a Milvus Lite file (empty: milvus.db in the index folder) or http://host:19530; its token, if
    # the server wants one; the vector index type (Milvus Lite: AUTOINDEX, FLAT, IVF_FLAT; a server also HNSW, DISKANN).
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_index: str = "AUTOINDEX"
    # Run a build's stages on Ray: "" (no), "local" (start a local cluster) or a cluster's address.
    ray: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults ← HEALTHQA_* variables ← overrides (None values in overrides are ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + ("INDEX" if f.name == "index_dir" else f.name.upper())
            if environ.get(name, "").strip():
                values[f.name] = _parse(f.name, environ[name].strip(), name)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls().with_(**values)

    def with_(self, **changes: Any) -> "Settings":
        """A copy with some values changed, converted and checked."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        converted = {key: _convert(key, value) for key, value in changes.items()}
        result = replace(self, **converted)
        result._check()
        return result

    def _check(self) -> None:
        for name in ("min_words", "passage_tokens", "batch_size", "k", "answer_passages", "answer_sentences", "answer_words", "per_article",
                     "max_pages", "max_page_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"setting {name} must be at least 1, not {getattr(self, name)}")
        if self.overlap_tokens < 0 or self.overlap_tokens >= self.passage_tokens:
            raise ConfigError("setting overlap_tokens must be between 0 and passage_tokens - 1")
        if self.retrieval not in RETRIEVAL_MODES:
            raise ConfigError(f"setting retrieval must be one of {', '.join(RETRIEVAL_MODES)}, not {self.retrieval!r}")
        if self.fusion not in FUSION_METHODS:
            raise ConfigError(f"setting fusion must be one of {', '.join(FUSION_METHODS)}, not {self.fusion!r}")
        if self.recency < 0:
            raise ConfigError("setting recency must be 0 (off) or more")
        if not self.languages:
            raise ConfigError("setting languages needs at least one language code, e.g. en,fr")
        if self.backend and self.backend not in BACKENDS:
            raise ConfigError(f"setting backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")


def _convert(name: str, value: Any) -> Any:
    if name == "index_dir":
        return Path(value)
    if name == "languages":
        if isinstance(value, str):
            value = value.split(",")
        return tuple(code.strip().lower() for code in value if code.strip())
    if name in ("min_words", "passage_tokens", "overlap_tokens", "batch_size", "k", "answer_passages", "answer_sentences", "answer_words",
                "per_article", "max_pages", "max_page_bytes"):
        return int(value)
    if name in ("allow_private_urls", "auto_merge"):
        if isinstance(value, str):
            if value.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(value)
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if name in ("answer_margin", "min_score", "recency"):
        return float(value)
    if name in ("backend", "milvus_index"):
        return str(value).strip().lower() if name == "backend" else str(value).strip().upper()
    return value


def _parse(name: str, raw: str, variable: str) -> Any:
    try:
        return _convert(name, raw)
    except ValueError:
        raise ConfigError(f"environment variable {variable}={raw!r} is not a valid value") from None
