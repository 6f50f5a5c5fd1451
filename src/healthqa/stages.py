"""The build's per-item stages, as plain functions: one page → its article (or why not), one article → its
passages and encoder inputs. The local build calls them in-process; the Ray build (distributed.py) runs the
very same functions as Ray Data stages, so that both give the same index.

What needs the whole update stays with the driver: duplicates in changes.py; the embedding cache, passage ids and
the store in build.py."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from .embed import Encoder
from .errors import SourceError
from .extract import extract_html
from .passages import split_passages
from .records import Article, Passage
from .settings import Settings

MAX_TITLE_CONTEXT_TOKENS = 48
# What BM25 reads of a passage (lexical_text), part of the settings' fingerprint: an index whose BM25 read
# something else is rebuilt by `build --if-stale`, not mixed with new passages.
LEXICAL_FIELDS = "title+text"
# A page to read: a reader of its bytes, a failure met while fetching it, or (bytes, final URL) once fetched.
PageBytes = Callable[[], bytes] | SourceError | tuple[bytes, str]


@dataclass(frozen=True, slots=True)
class PageResult:
    """What reading and extracting one page gave."""

    source: str
    page_hash: str = ""  # sha256 of the bytes; "" when they could not be read
    article: Article | None = None
    reason: str = ""  # why there is no article
    unreadable: bool = False  # the bytes could not be read or downloaded (what was built from them stays)
    unchanged: bool = False  # same bytes as the version already indexed: nothing to do


def extract_page(source: str, page: PageBytes, settings: Settings, known_hash: str | None = None) -> PageResult:
    """Read one page and extract its article; a page whose bytes hash to `known_hash` is not extracted again.
    Never raises for a bad page: the reason is in the result."""
    try:
        data, final_url = page_bytes(page)
    except SourceError as exc:
        return PageResult(source, reason=exc.reason, unreadable=True)
    page_hash = hashlib.sha256(data).hexdigest()
    if known_hash is not None and known_hash == page_hash:
        return PageResult(source, page_hash, unchanged=True)
    try:
        return PageResult(source, page_hash, extract_html(data, source=source, settings=settings, url=final_url))
    except SourceError as exc:
        return PageResult(source, page_hash, reason=exc.reason)
    except Exception as exc:  # an extractor bug on one page must not cost the whole update
        return PageResult(source, page_hash, reason=f"unexpected extraction error ({type(exc).__name__}: {exc})")


def page_bytes(page: PageBytes) -> tuple[bytes, str | None]:
    if isinstance(page, SourceError):
        raise page
    if isinstance(page, tuple):
        return page[0], page[1]
    return page(), None


def article_passages(article: Article, encoder: Encoder, settings: Settings) -> list[tuple[Passage, str]]:
    """The article's passages, each with what the encoder reads for it: the (shortened) title as context, then
    the passage, always within the model's window so that nothing is silently cut."""
    context = title_context(article.title, encoder)
    context_tokens = encoder.count_tokens([context])[0] if context else 0
    budget = min(settings.passage_tokens, encoder.max_tokens - 2 - context_tokens - 1)
    overlap = min(settings.overlap_tokens, budget // 3)
    return [(passage, encoder_input(context, passage))
            for passage in split_passages(article, encoder.count_tokens, max_tokens=budget, overlap_tokens=overlap)]


def encoder_input(context: str, passage: Passage) -> str:
    """What the encoder reads for a passage: its article's (shortened) title, then its text."""
    return f"{context}\n{passage.text}" if context else passage.text


def lexical_text(title: str, passage: Passage) -> str:
    """What BM25 reads for a passage: its article's title, then its text. A passage deep in an article rarely
    names what the whole article is about (README "Retrieval": PIAF recall@5 0.929 -> 0.941, COVID-QA 0.803 ->
    0.814)."""
    return f"{title}\n{passage.text}" if title else passage.text


def title_context(title: str, encoder: Encoder) -> str:
    words = title.split()
    while words and encoder.count_tokens([" ".join(words)])[0] > MAX_TITLE_CONTEXT_TOKENS:
        words = words[: max(1, len(words) * 3 // 4)] if len(words) > 1 else []
    return " ".join(words)
