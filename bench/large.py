"""Search at 100k and 1M passages: a synthetic index assembled from the library's own parts, then searched
through `Index.search` exactly as a real index is (query encoding by the real encoder included).

Four stages per size, each in its own process (bench/run.py runs them in this order):

faiss    bench/scale.py's workers, unchanged: `data` draws `size` synthetic 512-d unit vectors shaped like
         passage embeddings (topics, shared direction, noise; its docstring says how) and 200 queries drawn
         the same way, and the exact top-10 of each query; `build` makes the kind `VectorIndex.build(kind=
         "auto")` picks at this size (hnsw_fp16 above 50k) and saves it; `search` loads it and times single
         queries (p50/p95), recall@10 against the exact top-10, an efSearch sweep and filtered searches.
         At sizes up to 200k the exact flat index is measured too, for reference. Vector ids are 1..size.

lexical  synthetic BM25 term lists, one per passage, then `LexicalIndex.build` (bm25s) and its save:
         - passage lengths (terms after analysis) are drawn from those of the corpus's real passages;
         - terms follow a Zipf-Mandelbrot law p(r) ∝ 1/(r + q) over a vocabulary of V(size) terms, V growing
           as Heaps' law with exponent 0.5 from the corpus's own point (V = V0·√(T/T0): 3.4k terms in 14k
           tokens → ~73k at 100k passages, ~230k at 1M); q is set so that the most frequent term has the
           share of all terms that the corpus's most frequent term has (1.2 %, "patient");
         - ranks 1..V0 are the corpus's real terms in the corpus's frequency order (so the questions' terms
           exist and are about as common as in the corpus: "patient" in about half the passages), ranks
           above are made-up terms.
         The term ids are kept on disk for the store stage.

store    `Store.create` (the real schema), then rows written directly: size/5 articles (the corpus's
         articles taken in turn, each with its real text, passages and language, a new id, URL, source and
         a random date 2020-2025), `size` passages (ids 1..size, the real text and offsets of the article's
         passages, the synthetic terms of the lexical stage, a unique embedding-cache key), the corpus's
         vocabulary table. Also timed here, on this store: what every `add()` pays for the whole index
         (`Store.create(copy_of=...)`, SQLite's backup of the store, and `passage_index_inputs()`, the read of
         every passage's id, cache key and terms), and up to 200k passages the read of every passage's vector
         from an embedding cache (`EmbeddingCache.get`, random vectors under the passages' keys).

hybrid   a manifest.json naming the three files (as a build writes it), `Index.open` with the real encoder,
         then Index.search(question, 10) over the 101 corpus questions in `reps` rounds, hybrid (default),
         dense and lexical, one at a time; the same pieces as bench/latency.py timed alone (query encoding,
         FAISS, BM25, candidate vectors, store lookups); and a cProfile of one round of hybrid searches.

The questions' vectors come from the real encoder while the stored vectors are synthetic, so the hybrid
stage measures time, not relevance; recall@10 of the vector index comes from the faiss stage."""

from __future__ import annotations

import cProfile
import hashlib
import io
import json
import math
import pstats
import random
import shutil
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from common import disk_bytes, latency_summary, note, rss_mb

DIMENSION = 512
SEED = 20240612
HEAPS_EXPONENT = 0.5
PASSAGES_PER_ARTICLE = 5  # the corpus: 220 passages in 44 articles
CACHE_MEASURED_MAX = 200_000  # the embedding-cache read is measured up to this size (1M would need a 2 GB cache)
STORE_FILE, LEXICAL_DIR, SEGMENT_NAME = "store-synthetic.sqlite", "lexical-synthetic", "synthetic"


# ---------------------------------------------------------------- the corpus, as a model


def _corpus_store(corpus_index: str) -> sqlite3.Connection:
    manifest = json.loads((Path(corpus_index) / "manifest.json").read_text())
    return sqlite3.connect(f"file:{Path(corpus_index) / manifest['store_file']}?mode=ro", uri=True)


def term_model(corpus_index: str) -> dict:
    """What the synthetic term lists copy from the corpus: its terms by frequency, passage lengths, top share."""
    db = _corpus_store(corpus_index)
    rows = [row[0].split() for row in db.execute("SELECT terms FROM passages ORDER BY id")]
    db.close()
    counts: dict[str, int] = {}
    for terms in rows:
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    tokens = sum(counts.values())
    return {
        "terms": ranked,
        "lengths": np.array([max(1, len(terms)) for terms in rows], dtype=np.int64),
        "tokens": tokens,
        "top_share": counts[ranked[0]] / tokens,
    }


def _mandelbrot_offset(vocabulary: int, top_share: float) -> float:
    """q such that p(1) = 1/(1+q) / sum_r 1/(r+q) equals top_share (bisection; p(1) falls as q grows)."""
    ranks = np.arange(1, vocabulary + 1, dtype=np.float64)
    low, high = 0.0, 1000.0
    for _ in range(60):
        q = (low + high) / 2
        share = (1 / (1 + q)) / np.sum(1 / (ranks + q))
        low, high = (q, high) if share > top_share else (low, q)
    return (low + high) / 2


def synthetic_terms(size: int, model: dict, seed: int = SEED) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """(vocabulary, term ids of all passages end to end, offsets (size + 1), facts) as the docstring says."""
    rng = np.random.default_rng(seed)
    lengths = rng.choice(model["lengths"], size)
    offsets = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    known = len(model["terms"])
    vocabulary_size = max(known, round(known * (total / model["tokens"]) ** HEAPS_EXPONENT))
    q = _mandelbrot_offset(vocabulary_size, model["top_share"])
    weights = 1 / (np.arange(1, vocabulary_size + 1, dtype=np.float64) + q)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ids = np.empty(total, dtype=np.int32)
    for start in range(0, total, 10_000_000):
        end = min(total, start + 10_000_000)
        ids[start:end] = np.minimum(np.searchsorted(cdf, rng.random(end - start)), vocabulary_size - 1)
    vocabulary = list(model["terms"])
    vocabulary += [f"{model['terms'][r % known][:6]}q{np.base_repr(r, 36).lower()}" for r in range(known, vocabulary_size)]
    facts = {"vocabulary": vocabulary_size, "mandelbrot_q": round(q, 2), "tokens": total,
             "terms_per_passage": round(total / size, 1), "used_terms": int(len(np.unique(ids)))}
    return vocabulary, ids, offsets, facts


# ---------------------------------------------------------------- stages


def faiss_stage(folder: str, size: int, queries: int = 200, filter_queries: int = 100) -> dict:
    import scale
    from healthqa.vectors import choose_kind

    work = Path(folder)
    work.mkdir(parents=True, exist_ok=True)
    kind = choose_kind(size)
    note(f"{size:,}: synthetic vectors and exact top-10 (scale.py data) ...")
    data = scale.run_worker("data", str(work), str(size), str(DIMENSION), str(queries))
    kinds = [kind] + (["flat"] if size <= 200_000 and kind != "flat" else [])
    results = {}
    for each in kinds:
        note(f"{size:,}: {each} build (scale.py build) ...")
        result = scale.run_worker("build", str(work), each)
        note(f"{size:,}: {each} search (scale.py search) ...")
        result.update(scale.run_worker("search", str(work), each, str(filter_queries)))
        results[each] = result
        if each != kind:
            (work / f"{each}.faiss").unlink()
    for name in ("base.npy", "truth.npz", "ids.npy", "queries.npy"):
        (work / name).unlink(missing_ok=True)
    return {"size": size, "kind": kind, "data": data, "kinds": results}


def lexical_stage(folder: str, size: int, corpus_index: str) -> dict:
    from healthqa.lexical import LexicalSegment

    work = Path(folder)
    index_dir = work / "index"
    index_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = term_model(corpus_index)
    vocabulary, ids, offsets, facts = synthetic_terms(size, model)
    np.save(work / "term_ids.npy", ids)
    np.save(work / "term_offsets.npy", offsets)
    (work / "vocabulary.txt").write_text("\n".join(vocabulary), encoding="utf-8")
    words = np.array(vocabulary, dtype=object)[ids]
    passage_terms = [words[offsets[i] : offsets[i + 1]].tolist() for i in range(size)]
    del words
    generate_s = time.perf_counter() - started
    note(f"{size:,}: {facts['tokens']:,} synthetic terms ({facts['vocabulary']:,}-term vocabulary) in {generate_s:.0f} s; BM25 build ...")
    before = rss_mb()
    started = time.perf_counter()
    lexical = LexicalSegment.build(passage_terms, np.arange(1, size + 1, dtype=np.int64))
    build_s = time.perf_counter() - started
    grown = rss_mb() - before
    path = index_dir / LEXICAL_DIR
    shutil.rmtree(path, ignore_errors=True)
    started = time.perf_counter()
    lexical.save(path)
    save_s = time.perf_counter() - started
    postings = int(len(lexical.rows))
    del lexical
    # The previous format's BM25 index (bm25s, scores precomputed), rebuilt by every update before format 4:
    # timed here as the reference for what a full build cost.
    import bm25s

    started = time.perf_counter()
    bm25s.BM25().index([terms or [""] for terms in passage_terms], show_progress=False)
    bm25s_build_s = time.perf_counter() - started
    note(f"{size:,}: BM25 postings built in {build_s:.0f} s, saved in {save_s:.1f} s; bm25s (previous format) {bm25s_build_s:.0f} s")
    return {
        "size": size,
        **facts,
        "postings": postings,
        "generate_s": round(generate_s, 2),
        "build_s": round(build_s, 2),
        "bm25s_build_s": round(bm25s_build_s, 2),
        "save_s": round(save_s, 2),
        "build_rss_growth_mb": round(grown),
        "disk_bytes": disk_bytes(path),
        "disk_bytes_per_passage": round(disk_bytes(path) / size, 1),
    }


def store_stage(folder: str, size: int, corpus_index: str) -> dict:
    from healthqa.store import Store

    work = Path(folder)
    index_dir = work / "index"
    index_dir.mkdir(parents=True, exist_ok=True)
    source = _corpus_store(corpus_index)
    articles = source.execute(
        "SELECT id, url, title, site, author, date, language, source, text, also_at, content_hash, simhash FROM articles ORDER BY id"
    ).fetchall()
    passages_of: dict[str, list[tuple]] = {}
    for row in source.execute('SELECT article_id, position, heading, start, "end", text FROM passages ORDER BY article_id, position'):
        passages_of.setdefault(row[0], []).append(row[1:])
    vocabulary_rows = source.execute("SELECT word FROM vocabulary").fetchall()
    source.close()
    articles = [a for a in articles if passages_of.get(a[0])]
    ids = np.load(work / "term_ids.npy", mmap_mode="r")
    offsets = np.load(work / "term_offsets.npy")
    vocabulary = np.array((work / "vocabulary.txt").read_text(encoding="utf-8").split("\n"), dtype=object)

    path = index_dir / STORE_FILE
    path.unlink(missing_ok=True)
    rng = random.Random(SEED)
    first_day, days = date(2020, 1, 1), (date(2025, 12, 31) - date(2020, 1, 1)).days
    started = time.perf_counter()
    store = Store.create(path)
    db = store._db
    passage_id, number = 0, 0
    with db:
        while passage_id < size:
            base = articles[number % len(articles)]
            article_id = f"s{number:015d}"
            day = (first_day + timedelta(days=rng.randrange(days + 1))).isoformat()
            url = f"{base[1]}-{number}"
            db.execute(
                "INSERT INTO articles (id, url, title, site, author, date, language, source, text, also_at, content_hash, simhash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?)",
                (article_id, url, base[2], base[3], base[4], day, base[6], url, base[8],
                 hashlib.sha256(url.encode()).hexdigest(), rng.getrandbits(63)),
            )
            rows = []
            for position, heading, start, end, text in passages_of[base[0]]:
                if passage_id >= size:
                    break
                passage_id += 1
                terms = " ".join(vocabulary[ids[offsets[passage_id - 1] : offsets[passage_id]]].tolist())
                rows.append((passage_id, article_id, position, heading, start, end, text, terms,
                             hashlib.sha1(f"synthetic {passage_id}".encode()).hexdigest()))
            db.executemany('INSERT INTO passages (id, article_id, position, heading, start, "end", text, terms, input_hash) '
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            number += 1
            if number % 50_000 == 0:
                note(f"{size:,}: {passage_id:,} passages stored ...")
        db.executemany("INSERT OR IGNORE INTO vocabulary (word) VALUES (?)", vocabulary_rows)
    store.close()
    write_s = time.perf_counter() - started
    note(f"{size:,}: store of {number:,} articles, {size:,} passages written in {write_s:.0f} s")

    # what each add()/build() pays for the whole store, whatever it adds
    store = Store.open(path)
    copy_path = work / "store-copy.sqlite"
    started = time.perf_counter()
    copy = sqlite3.connect(copy_path)
    with store._lock:
        store._db.backup(copy)  # what every update did before format 4 (Store.create(copy_of=...))
    copy.close()
    copy_s = time.perf_counter() - started
    copy_path.unlink()
    started = time.perf_counter()
    read = store.passage_index_inputs()
    inputs_s = time.perf_counter() - started
    started = time.perf_counter()
    split_terms = [line.split() for line in read[2]]
    split_s = time.perf_counter() - started
    cache_s = _cache_read_seconds(work, read[1]) if size <= CACHE_MEASURED_MAX else None
    del read, split_terms
    store.close()
    (work / "term_ids.npy").unlink()
    return {
        "size": size,
        "articles": number,
        "write_s": round(write_s, 2),
        "copy_s": round(copy_s, 2),
        "passage_index_inputs_s": round(inputs_s, 2),
        "terms_split_s": round(split_s, 2),
        "cache_read_s": None if cache_s is None else round(cache_s, 2),
        "disk_bytes": disk_bytes(path),
        "disk_bytes_per_passage": round(disk_bytes(path) / size, 1),
    }


def _cache_read_seconds(work: Path, keys: list[str]) -> float:
    """EmbeddingCache.get of every passage's key, as each update does to rebuild FAISS: a cache of random
    vectors under the passages' keys is written first (not timed), then removed."""
    from healthqa.cache import EmbeddingCache

    folder = work / "cache"
    folder.mkdir(exist_ok=True)
    cache = EmbeddingCache(folder, "use-multilingual-v3")
    rng = np.random.default_rng(SEED)
    for start in range(0, len(keys), 50_000):
        chunk = keys[start : start + 50_000]
        cache.put(chunk, rng.standard_normal((len(chunk), DIMENSION), dtype=np.float32))
    cache.close()
    cache = EmbeddingCache(folder, "use-multilingual-v3")
    started = time.perf_counter()
    found = cache.get(keys, DIMENSION)
    seconds = time.perf_counter() - started
    cache.close()
    assert len(found) == len(set(keys))
    shutil.rmtree(folder)
    return seconds


def assemble(folder: str, size: int) -> Path:
    """The synthetic files as one format-4 index (as a build writes it): the FAISS file and the BM25 postings
    moved into one segment folder, the segment and the state recorded in the store, manifest.json."""
    from healthqa.build import settings_fingerprint
    from healthqa.embed import USE_MODEL
    from healthqa.index import FORMAT_VERSION, Manifest
    from healthqa.segments import LEXICAL, VECTORS, disk_size
    from healthqa.settings import Settings
    from healthqa.store import SegmentRecord, Store
    from healthqa.vectors import choose_kind

    work = Path(folder)
    index_dir = work / "index"
    segment = index_dir / f"segment-{SEGMENT_NAME}"
    segment.mkdir(exist_ok=True)
    faiss_file = work / f"{choose_kind(size)}.faiss"
    if faiss_file.exists():
        faiss_file.replace(segment / VECTORS)
    if (index_dir / LEXICAL_DIR).exists():
        (index_dir / LEXICAL_DIR).replace(segment / LEXICAL)
    store = Store.open_writable(index_dir / STORE_FILE)
    if not store.segments():
        record = SegmentRecord(SEGMENT_NAME, 1, size, size, choose_kind(size),
                               {"vectors": disk_size(segment / VECTORS), "lexical": disk_size(segment / LEXICAL)})
        store.apply(segment=record, state={"generation": "synthetic", "built_at": "synthetic", "next_passage_id": str(size + 1)})
    manifest = Manifest(
        format_version=FORMAT_VERSION, generation="synthetic", model=USE_MODEL, dimension=DIMENSION,
        articles=0, passages=0, corpus_fingerprint="synthetic", settings_fingerprint=settings_fingerprint(Settings()),
        built_at="synthetic", store_file=STORE_FILE,
    ).with_state(store)
    store.close()
    manifest.write(index_dir)
    return index_dir


def hybrid_stage(folder: str, size: int, reps: int = 3) -> dict:
    from healthqa import Encoder, Index, Settings
    from latency import questions, search_latencies, search_parts

    index_dir = assemble(folder, size)
    settings = Settings(index_dir=index_dir)
    encoder = Encoder()
    encoder.encode(["warm-up"])
    before = rss_mb()
    started = time.perf_counter()
    index = Index.open(index_dir, settings=settings, encoder=encoder)
    open_s = time.perf_counter() - started
    opened_mb = rss_mb() - before
    texts = questions()
    note(f"{size:,}: index opened in {open_s:.1f} s (+{opened_mb:.0f} MB); searching ...")
    search = search_latencies(index, texts, reps)
    note(f"{size:,}: search p50 hybrid {search['hybrid']['p50_ms']:.1f} ms, dense {search['dense']['p50_ms']:.1f} ms, "
         f"lexical {search['lexical']['p50_ms']:.1f} ms")
    parts = search_parts(index, texts, reps)

    profile = cProfile.Profile()
    profile.enable()
    for text in texts:
        index.search(text, 10)
    profile.disable()
    buffer = io.StringIO()
    stats = pstats.Stats(profile, stream=buffer)
    top = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:12]  # by own time
    total = sum(value[2] for value in stats.stats.values())
    profile_rows = [
        {"function": f"{Path(func[0]).name}:{func[1]}({func[2]})", "own_ms_per_search": round(1000 * value[2] / len(texts), 3),
         "cumulative_ms_per_search": round(1000 * value[3] / len(texts), 3)}
        for func, value in top
    ]
    segment = index_dir / f"segment-{SEGMENT_NAME}"
    sizes = {kind: disk_bytes(path) for kind, path in
             (("vectors", segment / "vectors.faiss"), ("lexical", segment / "lexical"), ("store", index_dir / STORE_FILE))}
    sizes["index_total"] = sum(sizes.values())
    index.close()
    return {
        "size": size,
        "kind": index.engine.index_type,
        "open_s": round(open_s, 2),
        "opened_rss_mb": round(opened_mb),
        "search": search,
        "parts": parts,
        "profile_top_own_time": profile_rows,
        "profile_total_ms_per_search": round(1000 * total / len(texts), 3),
        "sizes": sizes,
        "bytes_per_passage": round(sizes["index_total"] / size, 1),
    }
