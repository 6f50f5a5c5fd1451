"""Vector index at scale: build time, single-query latency, recall@10, memory and size on disk, by index kind.

    .venv/bin/python bench/scale.py [--sizes 100000,1000000] [--json out.json]

Run on demand, not in CI. Figures come from this machine, in one run; other work on the machine makes them
noisy (latencies most).

Synthetic vectors shaped like passage embeddings (no model, no download). Real sentence-embedding spaces are
clustered by topic, have a low local dimension, share a common direction (random pairs of passages have a
cosine of about 0.1 rather than 0), and a query's best passage has a cosine of about 0.4 to 0.8. So each
vector (dimension d, 512 by default) is

    normalise( 0.30 m  +  0.50 c_k  +  0.65 U_k z  +  0.55 f e )

    m     one shared unit direction
    c_k   the centre of its topic k, one of 4,096 random unit directions, drawn uniformly
    U_k   16 random directions of topic k (16 x d, entries N(0, 1/d)); z ~ N(0, I/16): variation inside the topic
    e     isotropic noise N(0, I/d); f ~ U(0.3, 1.5) per vector, so some passages and queries are vaguer

Queries are drawn the same way with another seed, so none is in the index. The run prints the resulting
cosines; with these settings the top-1 cosine of a query is 0.46 / 0.56 / 0.67 (10th / 50th / 90th
percentile) at 100k passages and 0.55 / 0.65 / 0.74 at 1M (topics get denser), a random pair 0.09.
The isotropic noise gives these vectors a high local dimension, which makes neighbours harder for HNSW to
find than in real corpora (whose close neighbours are often near-duplicates), and fewer passages per topic
make it harder still (recall is lower at 100k than at 1M); real vectors have not been measured here.

Exact top-10 ids (ground truth) come from a batched exact search of all the vectors. For each size and kind,
two subprocesses (so that peak memory figures do not mix):

    build   loads the vectors, VectorIndex.build(kind=...), saves: build seconds, peak RSS (VmHWM, including
            the input vectors, as in a real build), file size and bytes per passage
    search  VectorIndex.load: seconds, resident memory the index adds (per passage); single queries one at a
            time: p50/p95 ms with one OpenMP thread (what vectors.py does) and with the default thread count,
            recall@10 against exact search; for HNSW kinds a sweep of efSearch; filtered searches (random
            allowed sets of 3 ids and 1/5/10/20/40/60 % of the ids): p50 ms, recall@10 against exact filtered search,
            and whether the 3-id filter returns exactly those 3 in exact order

The default run measures every kind at sizes up to 200k and `--large-kinds` (flat and the kind "auto" picks)
above: about 19 minutes on 2 cores with other work running, 13 of them the 1M HNSW build (8.5 in a quieter
moment); `--large-kinds all` measures every kind there too (each 1M HNSW build adds 13-14 minutes)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

ALL_KINDS = ("flat", "hnsw", "hnsw_fp16", "hnsw_sq8")
FILTER_SHARES = (0.01, 0.05, 0.10, 0.20, 0.40, 0.60)
EF_SWEEP = (32, 64, 96, 128, 192, 256)
SEED = 20240611

# the generator's settings (see the docstring)
TOPICS, TOPIC_RANK = 4096, 16
SHARED, CENTRE, LOCAL, NOISE = 0.30, 0.50, 0.65, 0.55


# ---------------------------------------------------------------- synthetic vectors


def _topic_bases(dimension: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    shared = rng.standard_normal(dimension).astype(np.float32)
    shared /= np.linalg.norm(shared)
    centres = rng.standard_normal((TOPICS, dimension)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    local = (rng.standard_normal((TOPICS, TOPIC_RANK, dimension)) / np.sqrt(dimension)).astype(np.float32)
    return shared, centres, local


def synthetic(count: int, dimension: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    """`count` unit vectors drawn as the docstring says; the same seed gives the same vectors."""
    shared, centres, local = _topic_bases(dimension)
    rng = np.random.default_rng(seed)
    out = np.empty((count, dimension), dtype=np.float32)
    for start in range(0, count, chunk):
        rows = out[start : start + chunk]
        n = len(rows)
        topics = rng.integers(0, TOPICS, n)
        z = (rng.standard_normal((n, TOPIC_RANK)) / np.sqrt(TOPIC_RANK)).astype(np.float32)
        order = np.argsort(topics, kind="stable")
        bounds = np.searchsorted(topics[order], np.arange(TOPICS + 1))
        for topic in range(TOPICS):
            members = order[bounds[topic] : bounds[topic + 1]]
            if len(members):
                rows[members] = LOCAL * (z[members] @ local[topic]) + CENTRE * centres[topic]
        rows += SHARED * shared
        vagueness = rng.uniform(0.3, 1.5, (n, 1)).astype(np.float32)
        rows += (NOISE / np.sqrt(dimension)) * vagueness * rng.standard_normal((n, dimension), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def exact_top(queries: np.ndarray, base: np.ndarray, masks: list[np.ndarray | None], k: int = 10, chunk: int = 50_000):
    """Exact top-k (scores, row numbers) of every query for each mask (None = all rows), in one pass over base."""
    results = [(np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)) for _ in masks]
    for start in range(0, len(base), chunk):
        block = queries @ base[start : start + chunk].T
        for (best_scores, best_rows), mask in zip(results, masks):
            scores = block if mask is None else np.where(mask[start : start + chunk], block, -np.inf)
            rows = np.broadcast_to(np.arange(start, start + len(block[0])), scores.shape)
            merged_scores = np.concatenate([best_scores, scores], axis=1)
            merged_rows = np.concatenate([best_rows, rows], axis=1)
            top = np.argpartition(-merged_scores, k - 1, axis=1)[:, :k]
            best_scores[:] = np.take_along_axis(merged_scores, top, 1)
            best_rows[:] = np.take_along_axis(merged_rows, top, 1)
    for best_scores, best_rows in results:
        order = np.argsort(-best_scores, axis=1, kind="stable")
        best_scores[:] = np.take_along_axis(best_scores, order, 1)
        best_rows[:] = np.take_along_axis(best_rows, order, 1)
        best_rows[~np.isfinite(best_scores)] = -1
    return results


# ---------------------------------------------------------------- measurement helpers


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over queries of |found ∩ truth| / |truth| (truth rows may hold -1 for fewer than k)."""
    values = []
    for got, want in zip(found, truth):
        want = set(int(i) for i in want if i >= 0)
        if want:
            values.append(len(want & set(int(i) for i in got if i >= 0)) / len(want))
    return float(np.mean(values)) if values else 1.0


def percentiles(seconds: list[float]) -> tuple[float, float]:
    values = np.asarray(seconds) * 1000
    return round(float(np.percentile(values, 50)), 3), round(float(np.percentile(values, 95)), 3)


def timed_searches(index, queries: np.ndarray, k: int, allowed=None) -> tuple[np.ndarray, list[float]]:
    found, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        _, ids = index.search(query, k, allowed)
        seconds.append(time.perf_counter() - started)
        found.append(np.pad(ids, (0, k - len(ids)), constant_values=-1))
    return np.asarray(found), seconds


# ---------------------------------------------------------------- workers (subprocesses)


def worker_data(folder: Path, size: int, dimension: int, queries: int) -> dict:
    started = time.perf_counter()
    base = synthetic(size, dimension, SEED + 1)
    query_vectors = synthetic(queries, dimension, SEED + 2)
    generated = time.perf_counter() - started
    rng = np.random.default_rng(SEED + 3)
    ids = np.arange(size, dtype=np.int64) + 1  # store ids start at 1
    masks: list[np.ndarray | None] = [None]
    allowed_sets = {}
    tiny = np.sort(rng.choice(size, 3, replace=False))
    for name, share in [("3 ids", None)] + [(f"{round(s * 100)}%", s) for s in FILTER_SHARES]:
        rows = tiny if share is None else np.sort(rng.choice(size, int(size * share), replace=False))
        mask = np.zeros(size, dtype=bool)
        mask[rows] = True
        masks.append(mask)
        allowed_sets[name] = ids[rows]
    started = time.perf_counter()
    results = exact_top(query_vectors, base, masks)
    truth_seconds = time.perf_counter() - started
    np.save(folder / "base.npy", base)
    np.save(folder / "ids.npy", ids)
    np.save(folder / "queries.npy", query_vectors)
    truth = {"all": np.where(results[0][1] >= 0, ids[results[0][1]], -1)}
    for (name, _), (_, rows) in zip(allowed_sets.items(), results[1:]):
        truth[name] = np.where(rows >= 0, ids[np.maximum(rows, 0)], -1)
    np.savez(folder / "truth.npz", **{f"truth:{k}": v for k, v in truth.items()}, **{f"allowed:{k}": v for k, v in allowed_sets.items()})
    top = results[0][0]
    sample = base[: min(size, 2000)]
    return {
        "generate_s": round(generated, 1),
        "exact_truth_s": round(truth_seconds, 1),
        "query_top1_cosine_p10_p50_p90": [round(float(v), 3) for v in np.percentile(top[:, 0], [10, 50, 90])],
        "query_top10_cosine_p50": round(float(np.median(top[:, 9])), 3),
        "random_pair_cosine_p50": round(float(np.median((sample[: len(sample) // 2] * sample[len(sample) // 2 : 2 * (len(sample) // 2)]).sum(1))), 3),
    }


def worker_build(folder: Path, kind: str) -> dict:
    from healthqa.vectors import VectorIndex

    base = np.load(folder / "base.npy")
    ids = np.load(folder / "ids.npy")
    rss_with_data = rss_mb()
    started = time.perf_counter()
    index = VectorIndex.build(base, ids, kind=kind)
    build_s = time.perf_counter() - started
    path = folder / f"{kind}.faiss"
    started = time.perf_counter()
    index.save(path)
    save_s = time.perf_counter() - started
    size_bytes = path.stat().st_size
    return {
        "kind": index.kind,
        "build_s": round(build_s, 2),
        "save_s": round(save_s, 2),
        "build_peak_rss_mb": round(peak_rss_mb()),
        "input_vectors_mb": round(base.nbytes / 2**20),
        "rss_with_input_mb": round(rss_with_data),
        "file_mb": round(size_bytes / 2**20, 1),
        "file_bytes_per_passage": round(size_bytes / len(base), 1),
    }


def worker_search(folder: Path, kind: str, k: int, filter_queries: int) -> dict:
    import faiss

    from healthqa import vectors
    from healthqa.vectors import VectorIndex

    queries = np.load(folder / "queries.npy")
    stored = np.load(folder / "truth.npz")
    truth = {key.split(":", 1)[1]: stored[key] for key in stored.files if key.startswith("truth:")}
    allowed_sets = {key.split(":", 1)[1]: stored[key] for key in stored.files if key.startswith("allowed:")}
    before = rss_mb()
    started = time.perf_counter()
    index = VectorIndex.load(folder / f"{kind}.faiss")
    load_s = time.perf_counter() - started
    index_mb = rss_mb() - before
    out: dict = {"load_s": round(load_s, 2), "index_rss_mb": round(index_mb), "rss_bytes_per_passage": round(index_mb * 2**20 / index.size, 1)}
    index.search(queries[0], k)  # warm-up

    default_threads = faiss.omp_get_max_threads()
    for label, threads in (("1_thread", 1), (f"{default_threads}_threads", default_threads)):
        vectors.SEARCH_THREADS = threads
        found, seconds = timed_searches(index, queries, k)
        p50, p95 = percentiles(seconds)
        out[f"p50_ms_{label}"], out[f"p95_ms_{label}"] = p50, p95
        out["recall_at_10"] = round(recall_at(found, truth["all"]), 4)
    vectors.SEARCH_THREADS = 1
    out["default_threads"] = default_threads

    if index.kind != "flat":
        sweep = {}
        for ef in EF_SWEEP:
            index.ef_search = ef
            found, seconds = timed_searches(index, queries, k)
            sweep[ef] = {"p50_ms": percentiles(seconds)[0], "recall_at_10": round(recall_at(found, truth["all"]), 4)}
        index.ef_search = vectors.HNSW_EF_SEARCH
        out["ef_search"] = vectors.HNSW_EF_SEARCH
        out["ef_sweep"] = sweep

    filtered = {}
    subset = queries[:filter_queries]
    for name, allowed in allowed_sets.items():
        allowed_list = allowed.tolist()  # the store hands over a list of ints
        found, seconds = timed_searches(index, subset, k, allowed)
        _, seconds_list = timed_searches(index, subset[: max(10, filter_queries // 5)], k, allowed_list)
        entry = {
            "allowed": len(allowed),
            "p50_ms": percentiles(seconds)[0],
            "p50_ms_list_input": percentiles(seconds_list)[0],
            "recall_at_10": round(recall_at(found, truth[name][: len(subset)]), 4),
            "path": vectors.filter_path(index.kind, index.size, len(allowed)),
        }
        if len(allowed) <= k:
            entry["exact_ids_in_exact_order"] = bool(all(list(f[f >= 0]) == list(t[t >= 0]) for f, t in zip(found, truth[name])))
        filtered[name] = entry
    out["filtered"] = filtered
    out["search_peak_rss_mb"] = round(peak_rss_mb())
    return out


# ---------------------------------------------------------------- driver


def run_worker(*args: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"worker {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    header = ("size", "kind", "build s", "peak MB", "disk B/p", "RAM B/p", "load s", "p50 ms", "p95 ms", f"p50 ms", "recall@10", "filt 1% ms", "filt 60% ms/rec")
    rows = []
    for r in results:
        filtered = r.get("filtered", {})
        t = r["default_threads"]
        rows.append((
            f"{r['size']:,}", r["kind"], f"{r['build_s']:.1f}", f"{r['build_peak_rss_mb']:,}", f"{r['file_bytes_per_passage']:.0f}",
            f"{r['rss_bytes_per_passage']:.0f}", f"{r['load_s']:.2f}", f"{r['p50_ms_1_thread']:.2f}", f"{r['p95_ms_1_thread']:.2f}",
            f"{r[f'p50_ms_{t}_threads']:.2f}", f"{r['recall_at_10']:.3f}",
            f"{filtered.get('1%', {}).get('p50_ms', float('nan')):.2f}",
            f"{filtered.get('60%', {}).get('p50_ms', float('nan')):.2f}/{filtered.get('60%', {}).get('recall_at_10', float('nan')):.3f}",
        ))
    t = results[0]["default_threads"] if results else 2
    header = header[:9] + (f"p50 {t}thr",) + header[10:]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated passage counts")
    parser.add_argument("--kinds", default=",".join(ALL_KINDS), help="kinds measured at sizes up to 200k")
    parser.add_argument("--large-kinds", default="flat,auto", help="kinds measured above 200k ('all' = --kinds)")
    parser.add_argument("--dimension", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--filter-queries", type=int, default=100)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--workdir", type=Path, help="keep vectors, exact results and indexes here (default: a temporary folder, removed)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        role, folder, *rest = args.worker
        if role == "data":
            result = worker_data(Path(folder), int(rest[0]), int(rest[1]), int(rest[2]))
        elif role == "build":
            result = worker_build(Path(folder), rest[0])
        else:
            result = worker_search(Path(folder), rest[0], 10, int(rest[1]))
        print(json.dumps(result))
        return

    from healthqa.vectors import choose_kind

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="healthqa-scale-"))
    report: dict = {"dimension": args.dimension, "queries": args.queries, "cpus": os.cpu_count(), "sizes": {}, "results": []}
    started_all = time.perf_counter()
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            folder = workdir / str(size)
            folder.mkdir(parents=True, exist_ok=True)
            kinds_spec = args.kinds if size <= 200_000 or args.large_kinds == "all" else args.large_kinds
            kinds = list(dict.fromkeys(choose_kind(size) if k == "auto" else k for k in kinds_spec.split(",")))
            print(f"[{time.perf_counter() - started_all:6.0f}s] {size:,} vectors of {args.dimension} dims: generating, exact search ...", flush=True)
            cached = folder / f"data-{args.dimension}-{args.queries}.json"
            if cached.is_file():  # a kept --workdir: same seed, same vectors
                data = json.loads(cached.read_text())
            else:
                data = run_worker("data", str(folder), str(size), str(args.dimension), str(args.queries))
                cached.write_text(json.dumps(data))
            report["sizes"][size] = data
            print(f"          {json.dumps(data)}", flush=True)
            for kind in kinds:
                print(f"[{time.perf_counter() - started_all:6.0f}s] {size:,} {kind}: build ...", flush=True)
                result = {"size": size, "auto_kind": choose_kind(size), **run_worker("build", str(folder), kind)}
                print(f"[{time.perf_counter() - started_all:6.0f}s] {size:,} {kind}: search ...", flush=True)
                result.update(run_worker("search", str(folder), kind, str(args.filter_queries)))
                report["results"].append(result)
                if not args.workdir:
                    (folder / f"{kind}.faiss").unlink()
                print(f"          {json.dumps(result)}", flush=True)
            if not args.workdir:
                shutil.rmtree(folder)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report["total_s"] = round(time.perf_counter() - started_all)
    print()
    print(table(report["results"]))
    print(f"\nB/p = bytes per passage; RAM = resident memory the loaded index adds; p50/p95 = one query at a time, "
          f"k=10; filt = filtered search p50 (numpy ids), 60% also recall@10. Total {report['total_s']} s.")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
