"""Sources → a new index generation, published atomically: extract, de-duplicate, split, encode, write."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .embed import Encoder, model_display_name
from .errors import HealthQAError, IndexProblem, SourceError
from .extract import extract_file, iter_html_files, text_fingerprint
from .index import FORMAT_VERSION, MANIFEST, Manifest, disk_size
from .lexical import LexicalIndex, analyse
from .passages import split_passages
from .records import Article, BuildReport, Passage, Skipped
from .settings import Settings
from .store import Store
from .vectors import VectorIndex

# (stage, done, total): called as work advances, so a CLI or UI can show progress.
Progress = Callable[[str, int, int], None]
MAX_TITLE_CONTEXT_TOKENS = 48


def build(
    sources: Sequence[str | Path],
    *,
    settings: Settings | None = None,
    encoder: Encoder | None = None,
    progress: Progress | None = None,
    if_stale: bool = False,
) -> BuildReport:
    """Build the index in settings.index_dir from HTML files and folders. The previous index stays intact and
    in use until the new one is complete; with `if_stale`, an index built from the same inputs is kept."""
    settings = settings or Settings.from_env()
    started = time.perf_counter()
    files = list(iter_html_files(sources))
    fingerprint = sources_fingerprint(files, settings)
    if if_stale and not is_stale(settings.index_dir, fingerprint, settings):
        manifest = Manifest.read(settings.index_dir)
        return BuildReport(str(settings.index_dir), manifest.articles, manifest.passages, 0.0, unchanged=True)

    report = progress or _no_progress
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    articles, skipped = extract_all(files, settings, report)
    timings["extract"] = time.perf_counter() - clock
    if not articles:
        names = ", ".join(str(s) for s in sources)
        raise SourceError(names, f"no article found among {len(files)} file(s); the existing index is unchanged")

    encoder = encoder or Encoder(settings.model, batch_size=settings.batch_size)
    clock = time.perf_counter()
    passages, encoder_inputs = make_passages(articles, encoder, settings)
    timings["split"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("embedding", 0, len(encoder_inputs))
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        report("embedding", done, len(encoder_inputs))

    vectors = encoder.encode(encoder_inputs, progress=advance)
    timings["encode"] = time.perf_counter() - clock

    clock = time.perf_counter()
    vector_index = VectorIndex.build(vectors)
    lexical_index = lexical_index_of(articles, passages)
    timings["index"] = time.perf_counter() - clock

    clock = time.perf_counter()
    publish(settings.index_dir, articles, passages, skipped, vector_index, lexical_index, encoder, fingerprint)
    timings["write"] = time.perf_counter() - clock
    return BuildReport(
        str(settings.index_dir), len(articles), len(passages), time.perf_counter() - started, tuple(skipped), timings
    )


def extract_all(files: Sequence[Path], settings: Settings, report: Callable[[str, int, int], None]) -> tuple[list[Article], list[Skipped]]:
    """Every file is tried; a bad one is recorded with its reason and never stops the others."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen_ids: dict[str, str] = {}
    seen_texts: dict[str, str] = {}
    for number, path in enumerate(files, 1):
        try:
            article = extract_file(path, settings)
        except SourceError as exc:
            skipped.append(Skipped(exc.source, exc.reason))
        except Exception as exc:  # an extractor bug on one page must not cost the whole build
            skipped.append(Skipped(str(path), f"unexpected extraction error ({type(exc).__name__}: {exc})"))
        else:
            text_key = text_fingerprint(article.text)
            if article.id in seen_ids:
                skipped.append(Skipped(article.source, f"duplicate of {seen_ids[article.id]} (same URL)"))
            elif text_key in seen_texts:
                skipped.append(Skipped(article.source, f"duplicate of {seen_texts[text_key]} (same text)"))
            else:
                seen_ids[article.id] = seen_texts[text_key] = article.source
                articles.append(article)
        report("extracting", number, len(files))
    return articles, skipped


def make_passages(articles: Iterable[Article], encoder: Encoder, settings: Settings) -> tuple[list[Passage], list[str]]:
    """Passages and the texts given to the encoder: the title as context, then the passage, always within the
    model's window (its special tokens included) so that nothing is silently cut."""
    passages: list[Passage] = []
    inputs: list[str] = []
    for article in articles:
        context = _title_context(article.title, encoder)
        context_tokens = encoder.count_tokens([context])[0] if context else 0
        budget = min(settings.passage_tokens, encoder.max_tokens - 2 - context_tokens - 1)
        overlap = min(settings.overlap_tokens, budget // 3)
        for passage in split_passages(article, encoder.count_tokens, max_tokens=budget, overlap_tokens=overlap):
            passages.append(passage)
            inputs.append(f"{context}\n{passage.text}" if context else passage.text)
    return passages, inputs


def lexical_index_of(articles: Iterable[Article], passages: Sequence[Passage]) -> LexicalIndex:
    """Each passage's terms analysed in its article's language."""
    languages = {article.id: article.language for article in articles}
    return LexicalIndex.build([analyse(p.text, languages.get(p.article_id, "")) for p in passages])


def publish(
    index_dir: Path,
    articles: Sequence[Article],
    passages: Sequence[Passage],
    skipped: Sequence[Skipped],
    vectors: VectorIndex,
    lexical: LexicalIndex,
    encoder: Encoder,
    fingerprint: str,
) -> Manifest:
    """Write a new generation beside the current one, then switch manifest.json to it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(index_dir):
        generation = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        vectors_file, store_file = f"vectors-{generation}.faiss", f"store-{generation}.sqlite"
        lexical_dir = f"lexical-{generation}"
        temporary_store = index_dir / f".{store_file}.tmp"
        temporary_vectors = index_dir / f".{vectors_file}.tmp"
        temporary_lexical = index_dir / f".{lexical_dir}.tmp"
        store = Store.create(temporary_store)
        try:
            store.write(articles, passages, skipped)
        finally:
            store.close()
        vectors.save(temporary_vectors)
        lexical.save(temporary_lexical)
        for path in (temporary_store, temporary_vectors, *sorted(temporary_lexical.iterdir())):
            _fsync_file(path)
        os.replace(temporary_store, index_dir / store_file)
        os.replace(temporary_vectors, index_dir / vectors_file)
        os.replace(temporary_lexical, index_dir / lexical_dir)
        previous = _current_generation_files(index_dir)
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            generation=generation,
            model=encoder.name,
            dimension=vectors.dimension,
            articles=len(articles),
            passages=len(passages),
            corpus_fingerprint=fingerprint,
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            vectors_file=vectors_file,
            lexical_dir=lexical_dir,
            store_file=store_file,
            sizes={
                "vectors": disk_size(index_dir / vectors_file),
                "lexical": disk_size(index_dir / lexical_dir),
                "store": disk_size(index_dir / store_file),
            },
        )
        manifest.write(index_dir)
        _remove_old_generations(index_dir, keep={vectors_file, lexical_dir, store_file, *previous})
    return manifest


def sources_fingerprint(files: Iterable[Path], settings: Settings) -> str:
    """Changes when any input's bytes, or any setting that shapes the index, change; not when files move."""
    digests = sorted(hashlib.sha256(path.read_bytes()).hexdigest() for path in files)
    shaping = [model_display_name(settings.model), list(settings.languages), settings.min_words, settings.passage_tokens, settings.overlap_tokens]
    return hashlib.sha256(json.dumps([shaping, digests]).encode()).hexdigest()


def is_stale(index_dir: Path, fingerprint: str, settings: Settings) -> bool:
    try:
        manifest = Manifest.read(index_dir)
    except IndexProblem:
        return True
    return manifest.corpus_fingerprint != fingerprint or manifest.model != model_display_name(settings.model)


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
    if not (index_dir / MANIFEST).is_file():
        return set()
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
