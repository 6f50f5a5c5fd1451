"""Updates at 100k and 1M passages: add, remove, search with pending segments, merge, search after the merge.

Runs on the synthetic index bench/large.py assembled (its `hybrid` stage runs first), with the real encoder,
in this order, all in one process except the merge:

    search (merged)   Index.search(question, 10), hybrid, over the 101 corpus questions, `reps` rounds: the
                      index as built, one segment
    add               `adds` times add() of one new article (bench/pages.py pages; encoder loaded): each timed
    remove            `removes` times remove() of one stored article: each timed
    reopen            Index.open of the updated index while the previous one is open (what the chat server
                      does between questions: the base segment is shared, not read again); kept open
    bulk              then adds of `bulk_articles` articles each (small merges as the policy does them) until
                      the small segments hold about segments.MERGE_PENDING_PASSAGES passages (the most the
                      merge policy lets pile up); this index is kept open too
    merge             `healthqa merge --json` in a child process, timed, its peak memory read at exit, while
                      this process keeps searching, a question every PAUSE_S seconds (every answer checked to
                      be the one given before the merge; p50 during the merge)
    search            the index as built, the one with the first updates' segments, the one at the limit and the
                      merged one answer the same questions in turn, `reps` rounds (so that other processes' load
                      falls on all alike): p50/p95 of each, the ratios to the merged index and to the one as built,
                      and the dense search alone; then again with query vectors drawn like the base's
    rebuild           `healthqa merge --rebuild --json` in a child process: the base graph built anew

Ratios: search p50 with pending segments / merged p50 (target <= 1.20), merge and rebuild time / the previous
format's full index build at this size (HNSW build + bm25s build + store copy and read + cache read, from the other
stages of the same run; target <= 1)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ENV, ROOT, latency_summary, note, rss_mb


# The reader during the merge asks a question every PAUSE_S seconds (a busy chat, not a load test), so that the
# merge's time stays comparable with a build's.
PAUSE_S = 0.1


def _searches(index, texts: list[str], reps: int) -> dict:  # type: ignore[no-untyped-def]
    from latency import search_latencies

    return search_latencies(index, texts, reps, modes=("hybrid",))["hybrid"]


def updates_stage(folder: str, size: int, reps: int = 2, adds: int = 10, removes: int = 5, bulk_articles: int = 120) -> dict:
    from healthqa import Encoder, Index, Settings, add, remove
    from healthqa.merge import merge
    from healthqa.segments import MERGE_PENDING_PASSAGES, merge_plan
    from latency import questions
    from pages import write_pages

    index_dir = Path(folder) / "index"
    settings = Settings(index_dir=index_dir, auto_merge=False)
    encoder = Encoder()
    encoder.encode(["warm-up"])
    texts = questions()
    result: dict = {"size": size}

    index = Index.open(index_dir, settings=settings, encoder=encoder)
    result["search_merged"] = _searches(index, texts, reps)
    note(f"{size:,}: merged index, hybrid p50 {result['search_merged']['p50_ms']:.1f} ms")

    pages = write_pages(Path(folder) / "pages", adds + 900, seed=11)
    seconds = []
    for page in pages[:adds]:
        started = time.perf_counter()
        report = add([page], settings=settings, encoder=encoder)
        seconds.append(time.perf_counter() - started)
        if report.added != 1:
            raise RuntimeError(f"add() stored {report.added} articles")
    result["add"] = {**latency_summary(seconds), "timings_last": {k: round(v, 3) for k, v in report.timings.items()}}
    note(f"{size:,}: add() p50 {result['add']['p50_ms'] / 1000:.2f} s")
    seconds = []
    for number in range(removes):
        started = time.perf_counter()
        report = remove([f"s{number * 997:015d}"], settings=settings)
        seconds.append(time.perf_counter() - started)
        if report.removed != 1:
            raise RuntimeError(f"remove() removed {report.removed} articles")
    result["remove"] = {**latency_summary(seconds), "timings_last": {k: round(v, 3) for k, v in report.timings.items()}}
    note(f"{size:,}: remove() p50 {result['remove']['p50_ms'] / 1000:.2f} s")

    started = time.perf_counter()
    few = Index.open(index_dir, settings=settings, encoder=encoder)
    result["reopen_s"] = round(time.perf_counter() - started, 3)
    result["pending_segments"] = len(few.manifest.segments) - 1
    result["pending_passages"] = few.manifest.passages - size + few.manifest.removed

    position = adds
    pending = Index.open(index_dir, settings=settings, encoder=encoder)
    while pending.manifest.passages - size < 0.9 * MERGE_PENDING_PASSAGES and position < len(pages):
        add(pages[position : position + bulk_articles], settings=settings, encoder=encoder)
        position += bulk_articles
        merge(settings, kind="small" if merge_plan(*_segments_and_tombstones(index_dir)) == "small" else "")  # as the policy would
        pending.close()
        pending = Index.open(index_dir, settings=settings, encoder=encoder)
    result["limit_segments"] = len(pending.manifest.segments) - 1
    result["limit_passages"] = pending.manifest.passages - size + pending.manifest.removed
    expected = [[h.passage.start for h in pending.search(text, 10)] for text in texts]

    result["merge"] = _merge_while_searching(index_dir, pending, texts, expected)
    note(f"{size:,}: merge {result['merge']['wall_s']:.0f} s, {result['merge']['searches']} searches meanwhile")
    merged = Index.open(index_dir, settings=settings, encoder=encoder)
    result["after_merge_segments"] = len(merged.manifest.segments)
    # The four indexes (as built, few pending segments, pending at the policy's limit, merged) stay open and
    # answer the same questions in turn, so that load from other processes falls on all of them alike.
    timed = _interleaved({"search_as_built": index, "search_pending": few, "search_at_limit": pending, "search_after_merge": merged},
                         texts, max(2, reps))
    result.update(timed)
    for key in ("search_as_built", "search_pending", "search_at_limit", "search_after_merge"):
        note(f"{size:,}: {key} p50 {result[key]['p50_ms']:.1f} ms")
    for key, reference in (("pending", "after_merge"), ("at_limit", "after_merge"), ("pending", "as_built"), ("at_limit", "as_built")):
        name = f"search_{key}_ratio" + ("" if reference == "after_merge" else "_to_built")
        result[name] = round(result[f"search_{key}"]["p50_ms"] / result[f"search_{reference}"]["p50_ms"], 3)
    # Dense search alone, the part the synthetic base distorts: real questions wander in a graph of synthetic
    # vectors, and find their way at once in the merged graph, which holds the real passages the updates added.
    dense = _interleaved_dense({"as_built": index, "pending": few, "at_limit": pending, "after_merge": merged}, texts)
    result["dense_p50_ms"] = {key: value["p50_ms"] for key, value in dense.items()}
    # The same rounds with query vectors drawn like the base's (scale.py), the questions' text kept for BM25: no
    # index is then favoured by where its vectors lie, and what remains is the cost of the segments themselves.
    import scale

    vectors = list(scale.synthetic(len(texts), index.manifest.dimension, scale.SEED + 2))
    like_base = _interleaved({"as_built": index, "pending": few, "at_limit": pending, "after_merge": merged}, texts, max(2, reps), vectors)
    result["synthetic_queries_p50_ms"] = {key: value["p50_ms"] for key, value in like_base.items()}
    for key in ("pending", "at_limit"):
        result[f"search_{key}_ratio_synthetic_queries"] = round(like_base[key]["p50_ms"] / like_base["after_merge"]["p50_ms"], 3)
    index.close()
    few.close()
    pending.close()
    result["rss_mb_end"] = round(rss_mb())
    merged.close()
    result["rebuild"] = _rebuild(index_dir)
    note(f"{size:,}: merge --rebuild {result['rebuild']['wall_s']:.0f} s")
    return result


def _rebuild(index_dir: Path) -> dict:
    """`healthqa merge --rebuild --json` in a child process, nothing else running: the base graph built anew,
    what a merge does once a tenth of the passages are removed."""
    command = [sys.executable, "-m", "healthqa", "merge", "--rebuild", "--json", "--index", str(index_dir)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **ENV, "PYTHONPATH": str(ROOT / "src")},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    out, err = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    if status != 0:
        raise RuntimeError(f"healthqa merge --rebuild failed: {err[-2000:]}")
    return {"wall_s": round(wall, 2), "report": json.loads(out), "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def _interleaved_dense(indexes: dict, texts: list[str]) -> dict:  # type: ignore[type-arg]
    from healthqa.index import CANDIDATES_MIN

    vectors = [next(iter(indexes.values())).encoder.encode_query(text) for text in texts]
    seconds: dict[str, list[float]] = {key: [] for key in indexes}
    for vector in vectors:
        for key, index in indexes.items():
            started = time.perf_counter()
            index.engine.search_dense(vector, CANDIDATES_MIN)
            seconds[key].append(time.perf_counter() - started)
    return {key: latency_summary(values) for key, values in seconds.items()}


def _interleaved(indexes: dict, texts: list[str], reps: int, vectors: list | None = None) -> dict:  # type: ignore[type-arg]
    seconds: dict[str, list[float]] = {key: [] for key in indexes}
    keys = list(indexes)
    for index in indexes.values():
        index.search(texts[0], 10)
    for rep in range(reps):
        for number, text in enumerate(texts):
            turn = number + rep
            for key in keys[turn % len(keys):] + keys[: turn % len(keys)]:
                started = time.perf_counter()
                indexes[key].search(text, 10, vector=None if vectors is None else vectors[number])
                seconds[key].append(time.perf_counter() - started)
    return {key: latency_summary(values) for key, values in seconds.items()}


def _segments_and_tombstones(index_dir: Path) -> tuple[list, int]:
    from healthqa.index import Manifest
    from healthqa.store import Store

    store = Store.open(index_dir / Manifest.read(index_dir).store_file)
    try:
        return store.segments(), len(store.tombstones())
    finally:
        store.close()


def _merge_while_searching(index_dir: Path, index, texts: list[str], expected: list[list[int]]) -> dict:  # type: ignore[no-untyped-def]
    """`healthqa merge --json` in a child process; this one searches meanwhile, on the index opened before."""
    command = [sys.executable, "-m", "healthqa", "merge", "--json", "--index", str(index_dir)]
    seconds, failures, done = [], [], threading.Event()

    def ask() -> None:
        while not done.is_set():
            for number, text in enumerate(texts):
                started = time.perf_counter()
                hits = index.search(text, 10)
                seconds.append(time.perf_counter() - started)
                if [h.passage.start for h in hits] != expected[number]:
                    failures.append(text)
                if done.wait(PAUSE_S):
                    return

    reader = threading.Thread(target=ask)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **ENV, "PYTHONPATH": str(ROOT / "src")},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    reader.join()
    out, err = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    if status != 0:
        raise RuntimeError(f"healthqa merge failed: {err[-2000:]}")
    report = json.loads(out)
    return {"wall_s": round(wall, 2), "report": report, "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "searches": len(seconds), "searches_changed": len(failures),
            "search_during": latency_summary(seconds) if seconds else None}
