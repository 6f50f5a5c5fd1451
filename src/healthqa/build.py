"""Keep the index in line with its sources, at a cost in proportion to what changed.

`build` syncs the index with files and folders (new and changed pages are read, deleted ones dropped), `add`
adds files, folders and URLs (pages, feeds, sitemaps, home pages) without dropping anything, `remove` drops
articles. All three go through one update:

    read each page → unchanged bytes (same source, same hash as stored)? nothing to do
                   → extract → duplicate (same URL, or same story: simhash)? recorded, not stored twice
    split new articles → vectors from the embedding cache, the encoder only for passages never seen
    write one small segment (exact vectors and BM25 postings) for the new passages only
    commit in the store, in one transaction: the changes, tombstones for the removed passages, the new
    segment and generation (readers open the new generation from then on) → manifest.json updated to match

Reading the pages and deciding what changes is changes.py's part, before anything is written; writing and
committing the changes is this module's.

Nothing in proportion to the whole index is rebuilt or copied; a merge (merge.py) folds the small segments
into the base later, in the background. A build from scratch (`fresh`, a first build, other settings) writes
a new store and one segment, and switches to them at manifest.json. The whole update holds the index's lock,
so two updates cannot interleave."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .cache import EmbeddingCache, input_hash
from .changes import Changes, Progress, downloads, drop_deleted, file_reader, is_url, no_progress, read_pages
from .embed import Encoder, model_display_name
from .errors import HealthQAError, IndexProblem, MissingExtra, SourceError
from .extract import iter_html_files
from .index import FORMAT_VERSION, MANIFEST, Manifest, raw_manifest_files
from .lexical import LexicalSegment, analyse
from .records import Article, BuildReport
from .segments import (
    exclusive, fsync_file, merge_plan, merge_running, new_generation, place_segment, remove_unused, segment_names,
    write_segment,
)
from .backends import PUBLISHED, Entry, delete_removed, drop_collection, new_engine_info, write_rows
from .settings import Settings
from .stages import LEXICAL_FIELDS, PageBytes, article_passages, lexical_text
from .store import NewPassage, Store

if TYPE_CHECKING:
    from .distributed import RayRunner


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
    pages = ((source, file_reader(path, settings.max_page_bytes)) for source, path in zip(present, files))
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
    urls = [str(source) for source in sources if is_url(str(source))]
    local = [source for source in sources if not is_url(str(source))]
    files = list(iter_html_files(local))
    pages: Iterable[tuple[str, PageBytes]] = (
        (str(path.resolve()), file_reader(path, settings.max_page_bytes)) for path in files
    )
    if urls:
        pages = itertools.chain(pages, downloads(urls, settings, limits, progress))
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
    shaping = [model_display_name(settings.model), list(settings.languages), settings.min_words, settings.passage_tokens,
               settings.overlap_tokens, LEXICAL_FIELDS]
    return hashlib.sha256(json.dumps(shaping).encode()).hexdigest()[:16]


def is_stale(index_dir: Path, fingerprint: str, settings: Settings) -> bool:
    try:
        manifest = Manifest.read(index_dir)
    except IndexProblem:
        return True
    return manifest.corpus_fingerprint != fingerprint or manifest.settings_fingerprint != settings_fingerprint(settings)


# --- the update ---------------------------------------------------------------------------------------------


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
    report = progress or no_progress
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with exclusive(index_dir), _ray_runner(settings) as runner:
        current = _current_engine(index_dir)
        wanted = settings.backend or current.get("kind", "faiss")
        previous = None if fresh or wanted != current.get("kind", "faiss") else _open_current(index_dir, settings)
        engine_info = (current if previous is not None else {"kind": wanted}) if wanted != "faiss" else None
        if previous is None and keep_existing and (index_dir / MANIFEST).exists():
            raise HealthQAError(
                f"the index at {index_dir} was built with other settings, another model, an older format or an older "
                f"release of healthqa, so "
                f"nothing can be added to or removed from it as it is: rebuild it with `healthqa build --fresh SOURCE ... "
                f"--index {index_dir}` (the embedding cache makes that quick), or use its settings"
            )
        try:
            clock = time.perf_counter()
            changes = Changes()
            drop_deleted(changes, previous, scope, present)  # first, so that a moved file is not its own duplicate
            read_pages(changes, pages, page_count, previous, settings, report, runner)
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
            if changes.articles or previous is None:  # a removal alone needs no encoder (nor its load)
                encoder = encoder or Encoder(settings.model, batch_size=settings.batch_size)
            report_data = _write_generation(index_dir, settings, encoder, previous, changes, fingerprint, report, timings, runner, engine_info)
            plan = merge_plan(previous.segments(), len(previous.tombstones())) if previous is not None else ""
        finally:
            if previous is not None:
                previous.close()
    if plan and settings.auto_merge:
        start_background_merge(index_dir, settings)
    articles, passages, embedded = report_data
    return BuildReport(
        str(index_dir), articles, passages, time.perf_counter() - started, changes.reported(), timings, added=changes.added, replaced=changes.replaced, removed=len(changes.removed_articles) - changes.replaced,
        also_published=changes.also_published, embedded=embedded,
    )


def _write_generation(
    index_dir: Path,
    settings: Settings,
    encoder: Encoder | None,
    previous: Store | None,
    changes: Changes,
    fingerprint: str | None,
    report: Progress,
    timings: dict[str, float],
    runner: "RayRunner | None" = None,
    engine_info: dict[str, str] | None = None,
) -> tuple[int, int, int]:
    """A segment for the new passages, then the commit: in the current store (an update) or in a new store
    published by manifest.json (a build from scratch)."""
    clock = time.perf_counter()
    first_id = previous.next_passage_id() if previous else 0
    new_passages, inputs = make_passages([a for a, _, _ in changes.articles], encoder, settings, first_id, runner)
    timings["split"] = time.perf_counter() - clock

    clock = time.perf_counter()
    matrix, embedded = np.zeros((0, 0), dtype=np.float32), 0
    if new_passages or previous is None:
        matrix, embedded = _passage_vectors(index_dir, encoder, new_passages, inputs, report, runner, settings)
    timings["encode"] = time.perf_counter() - clock

    clock = time.perf_counter()
    generation = new_generation()
    ids = np.asarray([n.id for n in new_passages], dtype=np.int64)
    state = {"generation": generation, "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "next_passage_id": str(first_id + len(new_passages))}
    record = folder = engine = None
    if engine_info:  # the vectors and BM25 go to a search engine, as rows not yet visible
        engine_info = engine_info if previous is not None else new_engine_info(settings, generation, _current_engine(index_dir))
        articles = {article.id: article for article, _, _ in changes.articles}
        entries = [_entry(n, matrix[row], articles[n.passage.article_id]) for row, n in enumerate(new_passages)]
        engine, state[PUBLISHED] = write_rows(index_dir, settings, engine_info, previous, entries, matrix.shape[1])
    elif len(ids) or previous is None:  # a build from scratch always has its segment, even empty
        lexical = LexicalSegment.build([n.terms.split() for n in new_passages], ids)
        record, folder = write_segment(index_dir, generation, ids, matrix, lexical, kind="flat" if previous else "auto")
    timings["index"] = time.perf_counter() - clock

    clock = time.perf_counter()
    apply = dict(removed_articles=changes.removed_articles, forgotten_sources=changes.forgotten_sources, articles=changes.articles,
                 passages=new_passages, skipped=changes.skipped, also_at=changes.also_at, segment=record, state=state,
                 count_terms=bool(engine_info))
    timings["store"] = 0.0
    if previous is None:
        store_name = f"store-{generation}.sqlite"
        temporary = index_dir / f".{store_name}.tmp"
        for leftover in (temporary, *(temporary.with_name(temporary.name + end) for end in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        assert encoder is not None
        store = Store.create(temporary)
        try:
            store.apply(**apply)
            manifest = _new_manifest(settings, encoder, store_name, fingerprint, generation, state["built_at"])
            manifest = replace(manifest, engine=engine_info or {}).with_state(store)
        finally:
            store.close()
        fsync_file(temporary)
        os.replace(temporary, index_dir / store_name)
        if record is not None and folder is not None:
            place_segment(index_dir, record, folder)
        kept = raw_manifest_files(index_dir)  # a reader may still be opening the generation being replaced
        replaced = _current_engine(index_dir).get("previous", "")
        manifest.write(index_dir)  # the commit point of a build from scratch
        kept |= {store_name, *manifest.segments}
        if engine_info and replaced and replaced != engine_info.get("previous"):
            drop_collection(engine_info, replaced, index_dir, settings)  # two builds ago: no reader is left on it
    else:
        kept = {previous.path.name, *segment_names(previous.segments())}
        if record is not None and folder is not None:
            place_segment(index_dir, record, folder)
        previous.apply(**apply)  # the commit point of an update
        if engine is not None:  # removed passages leave the engine once their removal is published
            delete_removed(engine, previous)
        manifest = Manifest.read(index_dir)
        if fingerprint is not None:
            manifest = replace(manifest, corpus_fingerprint=fingerprint)
        manifest = manifest.with_state(previous)
        manifest.write(index_dir)
        kept |= set(manifest.segments)
    if engine is not None:
        engine.close()
    remove_unused(index_dir, kept)
    timings["write"] = time.perf_counter() - clock
    return manifest.articles, manifest.passages, embedded


def _current_engine(index_dir: Path) -> dict[str, str]:
    """The search engine the index in use has ({} for the local files, or no index)."""
    try:
        return dict(Manifest.read(index_dir).engine)
    except IndexProblem:
        return {}


def _new_manifest(settings: Settings, encoder: Encoder, store_name: str, fingerprint: str | None, generation: str, built_at: str) -> Manifest:
    return Manifest(
        format_version=FORMAT_VERSION, generation=generation, model=encoder.name, dimension=encoder.dimension,
        articles=0, passages=0, corpus_fingerprint=fingerprint if fingerprint is not None else "",
        settings_fingerprint=settings_fingerprint(settings), built_at=built_at, store_file=store_name,
    )


def _passage_vectors(
    index_dir: Path, encoder: Encoder, passages: list[NewPassage], inputs: list[str], report: Progress,
    runner: "RayRunner | None" = None, settings: Settings | None = None,
) -> tuple[np.ndarray, int]:
    """The new passages' vectors: from the embedding cache, the encoder only for texts it has never seen."""
    cache = EmbeddingCache(index_dir, encoder.name)
    try:
        keys = [n.input_hash for n in passages]
        found = cache.get(keys, encoder.dimension)
        missing = [i for i, key in enumerate(keys) if key not in found]
        report("embedding", 0, len(missing))
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            report("embedding", done, len(missing))

        if missing and runner is not None and settings is not None:  # on Ray's encoder actors
            vectors = runner.encode([inputs[i] for i in missing], settings, encoder.dimension)
            advance(len(missing))
        elif missing:
            vectors = encoder.encode([inputs[i] for i in missing], progress=advance)
        if missing:
            cache.put([keys[i] for i in missing], vectors)
            found.update(zip((keys[i] for i in missing), vectors))
    finally:
        cache.close()
    matrix = np.vstack([found[key] for key in keys]) if keys else np.zeros((0, encoder.dimension), np.float32)
    return matrix.astype(np.float32, copy=False), len(missing)


def start_background_merge(index_dir: Path, settings: Settings) -> None:
    """`healthqa merge --if-needed` in its own process, detached: the update that asked for it returns at once,
    and readers keep answering from the current generation until the merge publishes."""
    if merge_running(index_dir):
        return
    command = [sys.executable, "-m", "healthqa", "merge", "--if-needed", "--quiet", "--index", str(index_dir)]
    try:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except OSError:
        pass  # the next update asks again


def _entry(passage: NewPassage, vector: np.ndarray, article: Article) -> Entry:
    """A passage as a search engine stores it: the engine analyses the text BM25 reads (title, then passage)."""
    return Entry(passage.id, vector, lexical_text(article.title, passage.passage), article.language, article.site, article.date, 0)


def make_passages(
    articles: Iterable[Article], encoder: Encoder | None, settings: Settings, first_id: int = 0, runner: "RayRunner | None" = None,
) -> tuple[list[NewPassage], list[str]]:
    """Passages with their BM25 terms and embedding-cache keys, and the texts given to the encoder: the title
    as context, then the passage, always within the model's window so that nothing is silently cut. Split
    here (stages.article_passages), or on Ray (by the extractor actors, as they extract)."""
    articles = list(articles)
    if runner is not None:
        split = runner.split(articles, settings)
    else:
        split = [article_passages(article, encoder, settings) for article in articles]  # type: ignore[arg-type]
    passages: list[NewPassage] = []
    inputs: list[str] = []
    for article, pieces in zip(articles, split):
        for passage, text in pieces:
            terms = " ".join(analyse(lexical_text(article.title, passage), article.language))
            passages.append(NewPassage(first_id + len(passages), passage, terms, input_hash(text)))
            inputs.append(text)
    return passages, inputs


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
        return Store.open_writable(index_dir / manifest.store_file)
    except IndexProblem:
        return None


def _ray_runner(settings: Settings) -> "AbstractContextManager[RayRunner | None]":
    """A connection to Ray for the update when settings.ray asks for one ("local" or an address), else nothing."""
    if not settings.ray:
        return nullcontext(None)
    try:
        from .distributed import RayRunner
    except ImportError as exc:
        raise MissingExtra("--ray", exc.name or "ray") from None
    return RayRunner(address=None if settings.ray == "local" else settings.ray)
