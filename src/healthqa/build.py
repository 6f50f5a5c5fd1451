"""Keep the index in line with its sources, at a cost in proportion to what changed.

`build` syncs the index with files and folders (new and changed pages are read, deleted ones dropped), `add`
adds files, folders and URLs (pages, feeds, sitemaps, home pages) without dropping anything, `remove` drops
articles. All three go through one update:

    read each page → unchanged bytes (same source, same hash as stored)? nothing to do
                   → extract → duplicate (same URL, or same story: simhash)? recorded, not stored twice
    split new articles → vectors from the embedding cache, the encoder only for passages never seen
    copy the current store, apply the changes in one transaction → rebuild FAISS and BM25 from stored
    vectors and terms → publish the new generation atomically (the readers switch at the manifest)

The whole update holds the index's lock, so two builds cannot interleave."""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .cache import EmbeddingCache, input_hash
from .duplicates import NearDuplicates, text_simhash
from .embed import Encoder, model_display_name
from .errors import HealthQAError, IndexProblem, SourceError
from .extract import extract_html, iter_html_files, read_page
from .index import FORMAT_VERSION, MANIFEST, Manifest, disk_size
from .lexical import LexicalIndex, analyse
from .passages import split_passages
from .records import Article, BuildReport, Passage, Skipped
from .settings import Settings
from .store import NewPassage, SourceRecord, Store
from .vectors import VectorIndex

# (stage, done, total): called as work advances, so a CLI or UI can show progress; total is 0 when unknown.
Progress = Callable[[str, int, int], None]
MAX_TITLE_CONTEXT_TOKENS = 48


def build(
    sources: Sequence[str | Path],
    *,
    settings: Settings | None = None,
    encoder: Encoder | None = None,
    progress: Progress | None = None,
    if_stale: bool = False,
    fresh: bool = False,
) -> BuildReport:
    """Sync the index in settings.index_dir with HTML files and folders: new and changed pages are read,
    pages deleted from these folders are dropped, unchanged pages cost nothing; articles from other sources
    (other folders, URLs) are kept. With `fresh`, start from an empty index. With `if_stale`, return at once
    when the inputs' bytes and the settings are those of the last build."""
    settings = settings or Settings.from_env()
    files = list(iter_html_files(sources))
    fingerprint = sources_fingerprint(files, settings)
    if if_stale and not fresh and not is_stale(settings.index_dir, fingerprint, settings):
        manifest = Manifest.read(settings.index_dir)
        return BuildReport(str(settings.index_dir), manifest.articles, manifest.passages, 0.0, unchanged=True)
    present = [str(path.resolve()) for path in files]
    pages = ((source, _reader(path, settings.max_page_bytes)) for source, path in zip(present, files))
    scope = [str(Path(source).resolve()) for source in sources]
    return _update(settings, encoder, progress, pages=pages, page_count=len(files), scope=scope, present=set(present),
                   fresh=fresh, fingerprint=fingerprint, empty_message=f"no article found among {len(files)} file(s)")


def add(
    sources: Sequence[str | Path],
    *,
    settings: Settings | None = None,
    encoder: Encoder | None = None,
    progress: Progress | None = None,
    limits: object | None = None,
) -> BuildReport:
    """Add HTML files, folders and URLs (article pages, RSS/Atom feeds, sitemaps, or a site's home page, where
    feeds and sitemaps are looked for) to the index; nothing already indexed is dropped. A page read before is
    replaced when its bytes changed. `limits` is a fetch.FetchLimits; by default built from the settings."""
    settings = settings or Settings.from_env()
    urls = [str(source) for source in sources if _is_url(str(source))]
    local = [source for source in sources if not _is_url(str(source))]
    files = list(iter_html_files(local))
    pages: Iterable[tuple[str, PageBytes]] = (
        (str(path.resolve()), _reader(path, settings.max_page_bytes)) for path in files
    )
    if urls:
        pages = itertools.chain(pages, _downloads(urls, settings, limits, progress))
    return _update(settings, encoder, progress, pages=pages, page_count=len(files), scope=[], present=set(), fresh=False,
                   fingerprint=None, empty_message="", keep_existing=True)


def remove(references: Sequence[str], *, settings: Settings | None = None, progress: Progress | None = None) -> BuildReport:
    """Remove articles by id, URL (canonical or also-published-at) or source (file path or page URL)."""
    settings = settings or Settings.from_env()
    return _update(settings, None, progress, pages=(), page_count=0, scope=[], present=set(), fresh=False,
                   fingerprint=None, empty_message="", removals=list(references), keep_existing=True)


def sources_fingerprint(files: Iterable[Path], settings: Settings) -> str:
    """Changes when any input's bytes, or any setting that shapes the index, change; not when files move."""
    digests = sorted(_file_digest(path) for path in files)
    return hashlib.sha256(json.dumps([settings_fingerprint(settings), digests]).encode()).hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:  # reported by the build itself; here it only has to change the fingerprint
        digest.update(f"unreadable: {exc}".encode())
    return digest.hexdigest()


def settings_fingerprint(settings: Settings) -> str:
    """The settings that shape what is stored: when they change, the index is rebuilt from scratch."""
    shaping = [model_display_name(settings.model), list(settings.languages), settings.min_words, settings.passage_tokens, settings.overlap_tokens]
    return hashlib.sha256(json.dumps(shaping).encode()).hexdigest()[:16]


def is_stale(index_dir: Path, fingerprint: str, settings: Settings) -> bool:
    try:
        manifest = Manifest.read(index_dir)
    except IndexProblem:
        return True
    return manifest.corpus_fingerprint != fingerprint or manifest.settings_fingerprint != settings_fingerprint(settings)


# --- the update ---------------------------------------------------------------------------------------------

PageBytes = Callable[[], bytes] | SourceError | tuple[bytes, str]  # a reader, a failure, or (bytes, final URL)


@dataclass
class _Changes:
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


def _update(
    settings: Settings,
    encoder: Encoder | None,
    progress: Progress | None,
    *,
    pages: Iterable[tuple[str, PageBytes]],
    page_count: int,
    scope: Sequence[str],
    present: set[str],
    fresh: bool,
    fingerprint: str | None,
    empty_message: str,
    removals: Sequence[str] = (),
    keep_existing: bool = False,
) -> BuildReport:
    started = time.perf_counter()
    report = progress or _no_progress
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with _exclusive(index_dir):
        previous = None if fresh else _open_current(index_dir, settings)
        if previous is None and keep_existing and (index_dir / MANIFEST).exists():
            raise HealthQAError(
                f"the index at {index_dir} was built with other settings, another model or an older format, so "
                f"nothing can be added to or removed from it as it is: rebuild it with `healthqa build --fresh SOURCE ... "
                f"--index {index_dir}` (the embedding cache makes that quick), or use its settings"
            )
        try:
            clock = time.perf_counter()
            changes = _Changes()
            _drop_deleted(changes, previous, scope, present)  # first, so that a moved file is not its own duplicate
            _read_pages(changes, pages, page_count, previous, settings, report)
            for reference in removals:
                ids = previous.article_ids_for(reference) if previous else []
                if not ids:
                    raise SourceError(reference, "no such article in the index (give an id, a URL or a source)")
                changes.removed_articles.update(ids)
            timings["extract"] = time.perf_counter() - clock
            kept_articles = (previous.counts()[0] if previous else 0) - len(changes.removed_articles)
            if not changes.articles and kept_articles <= 0 and empty_message:
                raise SourceError(", ".join(scope) or "sources", f"{empty_message}; the existing index is unchanged")
            if not changes and previous is not None:
                manifest = Manifest.read(index_dir)
                if fingerprint is not None and fingerprint != manifest.corpus_fingerprint:
                    replace(manifest, corpus_fingerprint=fingerprint).write(index_dir)  # same files, new inputs
                articles, passages = previous.counts()
                return BuildReport(str(index_dir), articles, passages, time.perf_counter() - started,
                                   changes.reported(), timings, unchanged=True)
            encoder = encoder or Encoder(settings.model, batch_size=settings.batch_size)
            report_data = _write_generation(index_dir, settings, encoder, previous, changes, fingerprint, report, timings)
        finally:
            if previous is not None:
                previous.close()
    articles, passages, embedded = report_data
    return BuildReport(
        str(index_dir), articles, passages, time.perf_counter() - started, changes.reported(), timings, added=changes.added, replaced=changes.replaced, removed=len(changes.removed_articles) - changes.replaced,
        also_published=changes.also_published, embedded=embedded,
    )


def _read_pages(
    changes: _Changes, pages: Iterable[tuple[str, PageBytes]], page_count: int, previous: Store | None, settings: Settings,
    report: Progress,
) -> None:
    """Extract what is new or changed; every page is tried, a bad one is recorded with its reason."""
    known: dict[str, SourceRecord] = previous.sources() if previous else {}
    keys, hashes = previous.simhashes() if previous else ([], [])
    near = NearDuplicates(keys, hashes)
    stored_ids = set(keys)
    pending_ids: set[str] = set()  # articles added by this update
    also_at = previous.also_at(keys) if previous else {}
    for number, (source, page) in enumerate(pages, 1):
        report("extracting", number, max(page_count, number))
        try:
            data, final_url = _page_bytes(source, page)
        except SourceError as exc:  # unreadable or not downloadable now: what was built from it stays
            if known.get(source) is None:
                changes.skipped.append((Skipped(source, exc.reason), ""))
            else:
                changes.failures.append(Skipped(source, f"{exc.reason} (the version indexed before is kept)"))
            continue
        page_hash = hashlib.sha256(data).hexdigest()
        before = known.get(source)
        if before is not None and before.content_hash == page_hash:
            continue  # read before, unchanged: its article (or skip reason) stays as it is
        _forget_article(changes, before)
        changes.forgotten_sources.add(source)
        try:
            article = extract_html(data, source=source, settings=settings, url=final_url)
        except SourceError as exc:
            changes.skipped.append((Skipped(source, exc.reason), page_hash))
            continue
        except Exception as exc:  # an extractor bug on one page must not cost the whole update
            changes.skipped.append((Skipped(source, f"unexpected extraction error ({type(exc).__name__}: {exc})"), page_hash))
            continue
        if article.id in pending_ids or (article.id in stored_ids and article.id not in changes.removed_articles):
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


def _drop_deleted(changes: _Changes, previous: Store | None, scope: Sequence[str], present: set[str]) -> None:
    """Sources under the synced folders (or the synced files) that are no longer there."""
    if previous is None or not scope:
        return
    for source, record in previous.sources().items():
        if source not in present and any(source == root or source.startswith(root.rstrip(os.sep) + os.sep) for root in scope):
            changes.forgotten_sources.add(source)
            _forget_article(changes, record)


def _forget_article(changes: _Changes, record: SourceRecord | None) -> None:
    if record is not None and record.article_id:
        changes.removed_articles.add(record.article_id)


def _write_generation(
    index_dir: Path,
    settings: Settings,
    encoder: Encoder,
    previous: Store | None,
    changes: _Changes,
    fingerprint: str | None,
    report: Progress,
    timings: dict[str, float],
) -> tuple[int, int, int]:
    """The new store, vectors and BM25 index, written beside the current generation, then published."""
    clock = time.perf_counter()
    first_id = previous.next_passage_id() if previous else 0
    new_passages, inputs = make_passages([a for a, _, _ in changes.articles], encoder, settings, first_id)
    timings["split"] = time.perf_counter() - clock

    clock = time.perf_counter()
    cache = EmbeddingCache(index_dir, encoder.name)
    try:
        keys = [n.input_hash for n in new_passages]
        cached = cache.get(keys, encoder.dimension)
        missing = [i for i, key in enumerate(keys) if key not in cached]
        report("embedding", 0, len(missing))
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            report("embedding", done, len(missing))

        if missing:
            vectors = encoder.encode([inputs[i] for i in missing], progress=advance)
            cache.put([keys[i] for i in missing], vectors)
        timings["encode"] = time.perf_counter() - clock

        generation = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        names = {"vectors": f"vectors-{generation}.faiss", "lexical": f"lexical-{generation}", "store": f"store-{generation}.sqlite"}
        temporary = {kind: index_dir / f".{name}.tmp" for kind, name in names.items()}
        clock = time.perf_counter()
        store = Store.create(temporary["store"], copy_of=previous)
        try:
            store.apply(
                removed_articles=changes.removed_articles, forgotten_sources=changes.forgotten_sources,
                articles=changes.articles, passages=new_passages, skipped=changes.skipped, also_at=changes.also_at,
            )
            ids, input_keys, terms = store.passage_index_inputs()
            articles, passages = store.counts()
        finally:
            store.close()
        timings["store"] = time.perf_counter() - clock

        clock = time.perf_counter()
        stored = cache.get(input_keys, encoder.dimension)
        if len(stored) < len(set(input_keys)):  # the cache was lost or damaged: encode what it lacks
            lost = [i for i, key in enumerate(input_keys) if key not in stored]
            texts = _encoder_inputs_of(temporary["store"], [ids[i] for i in lost], encoder)
            vectors = encoder.encode(texts)
            cache.put([input_keys[i] for i in lost], vectors)
            stored.update(zip((input_keys[i] for i in lost), vectors))
        matrix = np.vstack([stored[key] for key in input_keys]) if ids else np.zeros((0, encoder.dimension), np.float32)
    finally:
        cache.close()
    vector_index = VectorIndex.build(matrix, np.asarray(ids, dtype=np.int64))
    lexical_index = LexicalIndex.build([line.split() for line in terms], ids)
    timings["index"] = time.perf_counter() - clock

    clock = time.perf_counter()
    vector_index.save(temporary["vectors"])
    lexical_index.save(temporary["lexical"])
    for path in (temporary["store"], temporary["vectors"], *sorted(temporary["lexical"].iterdir())):
        _fsync_file(path)
    for kind, name in names.items():
        os.replace(temporary[kind], index_dir / name)
    kept = _current_generation_files(index_dir)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        generation=generation,
        model=encoder.name,
        dimension=encoder.dimension,
        articles=articles,
        passages=passages,
        corpus_fingerprint=fingerprint if fingerprint is not None else _manifest_fingerprint(index_dir),
        settings_fingerprint=settings_fingerprint(settings),
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        vectors_file=names["vectors"],
        lexical_dir=names["lexical"],
        store_file=names["store"],
        sizes={kind: disk_size(index_dir / name) for kind, name in names.items()},
    )
    manifest.write(index_dir)
    _remove_old_generations(index_dir, keep={*names.values(), *kept})
    timings["write"] = time.perf_counter() - clock
    return articles, passages, len(missing)


def make_passages(
    articles: Iterable[Article], encoder: Encoder, settings: Settings, first_id: int = 0
) -> tuple[list[NewPassage], list[str]]:
    """Passages with their BM25 terms and embedding-cache keys, and the texts given to the encoder: the title
    as context, then the passage, always within the model's window so that nothing is silently cut."""
    passages: list[NewPassage] = []
    inputs: list[str] = []
    for article in articles:
        for passage, text in _article_passages(article, encoder, settings):
            passages.append(NewPassage(first_id + len(passages), passage, " ".join(analyse(passage.text, article.language)), input_hash(text)))
            inputs.append(text)
    return passages, inputs


def _article_passages(article: Article, encoder: Encoder, settings: Settings) -> Iterator[tuple[Passage, str]]:
    context = _title_context(article.title, encoder)
    context_tokens = encoder.count_tokens([context])[0] if context else 0
    budget = min(settings.passage_tokens, encoder.max_tokens - 2 - context_tokens - 1)
    overlap = min(settings.overlap_tokens, budget // 3)
    for passage in split_passages(article, encoder.count_tokens, max_tokens=budget, overlap_tokens=overlap):
        yield passage, _encoder_input(context, passage)


def _encoder_input(context: str, passage: Passage) -> str:
    """What the encoder reads for a passage: its article's (shortened) title, then its text."""
    return f"{context}\n{passage.text}" if context else passage.text


def _encoder_inputs_of(store_path: Path, passage_ids: list[int], encoder: Encoder) -> list[str]:
    """The encoder inputs of stored passages, rebuilt from their text and title (when the cache lacks them)."""
    store = Store.open(store_path)
    try:
        found = store.passages_with_articles(passage_ids)
    finally:
        store.close()
    texts = []
    for passage_id in passage_ids:
        passage, article = found[passage_id]
        texts.append(_encoder_input(_title_context(article.title, encoder), passage))
    return texts


# --- pages --------------------------------------------------------------------------------------------------


def _reader(path: Path, max_bytes: int) -> Callable[[], bytes]:
    return lambda: read_page(path, max_bytes)  # bounded: a huge file, a pipe or a device is refused unread


def _page_bytes(source: str, page: PageBytes) -> tuple[bytes, str | None]:
    if isinstance(page, SourceError):
        raise page
    if isinstance(page, tuple):
        return page[0], page[1]
    return page(), None


def _downloads(urls: Sequence[str], settings: Settings, limits: object | None, progress: Progress | None) -> Iterator[tuple[str, PageBytes]]:
    from .fetch import FetchLimits, iter_documents

    limits = limits or FetchLimits(allow_private=True, max_bytes=settings.max_page_bytes)
    report = progress or _no_progress
    for number, (url, result) in enumerate(iter_documents(urls, limits, max_pages=settings.max_pages, min_words=settings.min_words), 1):
        report("fetching", number, 0)
        if isinstance(result, SourceError):
            yield url, result
        else:
            yield url, (result.body, result.final_url)


def _is_url(source: str) -> bool:
    return "://" in source[:12]


def _with_also_at(article: Article, places: list[str]) -> Article:
    return replace(article, also_at=tuple(dict.fromkeys([*article.also_at, *places])))


# --- the index folder ---------------------------------------------------------------------------------------


def _open_current(index_dir: Path, settings: Settings) -> Store | None:
    """The store of the generation in use, when it can be built upon (same format and shaping settings)."""
    try:
        manifest = Manifest.read(index_dir)
    except IndexProblem:
        return None
    if manifest.settings_fingerprint != settings_fingerprint(settings) or manifest.model != model_display_name(settings.model):
        return None
    try:
        return Store.open(index_dir / manifest.store_file)
    except IndexProblem:
        return None


def _manifest_fingerprint(index_dir: Path) -> str:
    try:
        return Manifest.read(index_dir).corpus_fingerprint
    except IndexProblem:
        return ""


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def _title_context(title: str, encoder: Encoder) -> str:
    words = title.split()
    while words and encoder.count_tokens([" ".join(words)])[0] > MAX_TITLE_CONTEXT_TOKENS:
        words = words[: max(1, len(words) * 3 // 4)] if len(words) > 1 else []
    return " ".join(words)


@contextmanager
def _exclusive(index_dir: Path) -> Iterator[None]:
    with open(index_dir / ".build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HealthQAError(f"another build is writing to {index_dir}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _current_generation_files(index_dir: Path) -> set[str]:
    try:
        manifest = Manifest.read(index_dir)
    except IndexProblem:
        return set()
    return {manifest.vectors_file, manifest.lexical_dir, manifest.store_file}


def _remove_old_generations(index_dir: Path, keep: set[str]) -> None:
    """Keeps the new and the previous generation (a reader may be opening it right now)."""
    for path in index_dir.iterdir():
        name = path.name
        generated = name.startswith(("vectors-", "store-", "lexical-", ".vectors-", ".store-", ".lexical-"))
        if generated and name not in keep:
            try:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            except OSError:
                pass


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
