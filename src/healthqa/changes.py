"""Pages → the changes one update makes to the index, gathered before anything is written: new and changed
articles, the skip record of each page refused (with its reason), duplicates (the same URL, or the same story
by simhash, stored once as also published elsewhere) and the articles of deleted or replaced sources. Pages
come from files or, through discover.py, from URLs. build.py writes the changes; nothing here writes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .duplicates import NearDuplicates, text_simhash
from .errors import SourceError
from .extract import read_page
from .records import Article, Skipped
from .settings import Settings
from .stages import PageBytes, PageResult, extract_page
from .store import Store
from .storequeries import SourceRecord

if TYPE_CHECKING:
    from .distributed import RayRunner

# (stage, done, total): called as work advances, so a CLI or UI can show progress; total is 0 when unknown.
Progress = Callable[[str, int, int], None]


@dataclass
class Changes:
    """What one update does to the index, gathered before anything is written."""

    articles: list[tuple[Article, str, int]] = field(default_factory=list)  # (article, page hash, simhash)
    skipped: list[tuple[Skipped, str]] = field(default_factory=list)  # (why, page hash), stored
    failures: list[Skipped] = field(default_factory=list)  # reported only: the source's article is kept
    removed_articles: set[str] = field(default_factory=set)
    forgotten_sources: set[str] = field(default_factory=set)  # skip records to drop: the source was read again
    also_at: dict[str, list[str]] = field(default_factory=dict)
    added: int = 0
    replaced: int = 0
    also_published: int = 0

    def __bool__(self) -> bool:
        return bool(self.articles or self.skipped or self.removed_articles or self.forgotten_sources or self.also_at)

    def reported(self) -> tuple[Skipped, ...]:
        return (*(item for item, _ in self.skipped), *self.failures)


def read_pages(
    changes: Changes, pages: Iterable[tuple[str, PageBytes]], page_count: int, previous: Store | None, settings: Settings,
    report: Progress, runner: "RayRunner | None" = None,
) -> None:
    """Extract what is new or changed; every page is tried, a bad one is recorded with its reason. Reading and
    extraction (stages.extract_page) run here, page after page, or on Ray; what follows needs the whole update."""
    keys, hashes = previous.simhashes() if previous else ([], [])
    near = NearDuplicates(keys, hashes)
    pending_ids: set[str] = set()  # articles added by this update
    also_at = _AlsoAt(previous)

    def known(source: str) -> str | None:
        record = previous.source_record(source) if previous else None
        return record.content_hash if record is not None else None

    results: Iterable[PageResult]
    if runner is not None:
        listed = list(pages)
        report("extracting", 0, len(listed))
        hashes_known = {source: h for source, _ in listed if (h := known(source)) is not None}
        cached = previous.input_hashes(list(hashes_known)) if previous else {}
        results = runner.extract(listed, settings, hashes_known, cached)
    else:
        results = (extract_page(source, page, settings, known(source)) for source, page in pages)
    for number, result in enumerate(results, 1):
        report("extracting", number, max(page_count, number))
        source = result.source
        if result.unreadable:  # unreadable or not downloadable now: what was built from it stays
            if (previous.source_record(source) if previous else None) is None:
                changes.skipped.append((Skipped(source, result.reason), ""))
            else:
                changes.failures.append(Skipped(source, f"{result.reason} (the version indexed before is kept)"))
            continue
        if result.unchanged:
            continue  # read before, unchanged: its article (or skip reason) stays as it is
        page_hash = result.page_hash
        before = previous.source_record(source) if previous else None
        _forget_article(changes, before)
        changes.forgotten_sources.add(source)
        article = result.article
        if article is None:
            changes.skipped.append((Skipped(source, result.reason), page_hash))
            continue
        stored = previous is not None and previous.has_article(article.id)
        if article.id in pending_ids or (stored and article.id not in changes.removed_articles):
            changes.skipped.append((Skipped(source, f"duplicate of {article.url} (same URL)"), page_hash))
            continue
        simhash = text_simhash(article.title + "\n" + article.text)
        original = near.find(simhash, exclude=changes.removed_articles)
        if original is not None:
            places = changes.also_at.setdefault(original, list(also_at.get(original, [])))
            place = article.url or source
            if place not in places:
                places.append(place)
            changes.also_published += 1
            changes.skipped.append((Skipped(source, f"same story as article {original}: stored once, as also published at {place}"), page_hash))
            continue
        near.add(article.id, simhash)
        pending_ids.add(article.id)
        if also_at.get(article.id):  # a changed page keeps the places its story was also published at
            article = _with_also_at(article, also_at[article.id])
        changes.articles.append((article, page_hash, simhash))
        if before is not None and before.article_id:
            changes.replaced += 1
        else:
            changes.added += 1
    # Also-published places go to articles added in this update directly, to stored ones by an UPDATE.
    pending = {a.id: i for i, (a, _, _) in enumerate(changes.articles)}
    for original in [key for key in changes.also_at if key in pending]:
        position = pending[original]
        article, page_hash, simhash = changes.articles[position]
        changes.articles[position] = (_with_also_at(article, changes.also_at.pop(original)), page_hash, simhash)


class _AlsoAt:
    """The places stored articles were also published at, read when asked for (not all at once)."""

    def __init__(self, store: Store | None) -> None:
        self._store = store
        self._known: dict[str, list[str]] = {}

    def get(self, article_id: str, default: list[str] | None = None) -> list[str] | None:
        if article_id not in self._known:
            self._known[article_id] = (self._store.also_at([article_id]).get(article_id, []) if self._store else [])
        return self._known[article_id] or default


def drop_deleted(changes: Changes, previous: Store | None, scope: Sequence[str], present: set[str]) -> None:
    """Sources under the synced folders (or the synced files) that are no longer there."""
    if previous is None or not scope:
        return
    for source, record in previous.sources().items():
        if source not in present and any(source == root or source.startswith(root.rstrip(os.sep) + os.sep) for root in scope):
            changes.forgotten_sources.add(source)
            _forget_article(changes, record)


def _forget_article(changes: Changes, record: SourceRecord | None) -> None:
    if record is not None and record.article_id:
        changes.removed_articles.add(record.article_id)


def _with_also_at(article: Article, places: list[str]) -> Article:
    return replace(article, also_at=tuple(dict.fromkeys([*article.also_at, *places])))


# --- pages --------------------------------------------------------------------------------------------------


def file_reader(path: Path, max_bytes: int) -> Callable[[], bytes]:
    """A file as a page to read: read by its stage when its turn comes (here or on Ray), not all up front."""
    return lambda: read_page(path, max_bytes)  # bounded: a huge file, a pipe or a device is refused unread


def downloads(urls: Sequence[str], settings: Settings, limits: object | None, progress: Progress | None) -> Iterator[tuple[str, PageBytes]]:
    """The article pages behind the URLs, each downloaded or with the SourceError that says why not, so that one
    dead URL never stops the others. `limits` is a fetch.FetchLimits; by default built from the settings."""
    from .discover import iter_documents
    from .fetch import FetchLimits

    limits = limits or FetchLimits(allow_private=True, max_bytes=settings.max_page_bytes)
    report = progress or no_progress
    for number, (url, result) in enumerate(iter_documents(urls, limits, max_pages=settings.max_pages, min_words=settings.min_words), 1):
        report("fetching", number, 0)
        if isinstance(result, SourceError):
            yield url, result
        else:
            yield url, (result.body, result.final_url)


def is_url(source: str) -> bool:
    """`add` takes URLs and local paths alike."""
    return "://" in source[:12]


def no_progress(stage: str, done: int, total: int) -> None:
    """The progress callback when nobody watches."""
