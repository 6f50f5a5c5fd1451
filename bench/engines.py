"""Milvus (Milvus Lite) against the local FAISS + bm25s, each holding the same index: recall, search latency,
build time, disk size, in one run.

    .venv/bin/python bench/engines.py --sources PAGES_FOLDER --questions FILE [--out results.json]

The sources are built three times: locally with an empty embedding cache (the encoding's cost), then locally
and into Milvus Lite with the cache filled (so both hold the very same vectors, and their build times differ
only in what each engine does with them). Then each question is searched:
  faiss                   the local index (FAISS + bm25s, the configured fusion), as `healthqa search` runs it
  milvus                  the Milvus index as `healthqa search` runs it: Milvus's dense and BM25 searches, the
                          project's fusion
  milvus-hybrid:rrf       Milvus's hybrid_search with its RRFRanker (k=60) on the same index
  milvus-hybrid:weighted  Milvus's hybrid_search with its WeightedRanker (0.8 dense, 0.2 shared by the BM25 fields)
and dense or BM25 alone on each engine. Latency is of the whole search call, the question's encoding included."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from healthqa import Index, Settings, build  # noqa: E402
from healthqa.evaluate import evaluate_retrieval, load_questions  # noqa: E402
from healthqa.index import CANDIDATES_MIN, CANDIDATES_PER_RESULT, disk_size  # noqa: E402


def hybrid(index: Index, ranker: str):  # type: ignore[no-untyped-def]
    """Search through Milvus's own hybrid_search and ranker, hits made as Index makes them."""
    engine = index.engine

    def search(text: str, k: int) -> list:
        vector = index.encoder.encode_query(text)
        pool = max(k * CANDIDATES_PER_RESULT, CANDIDATES_MIN)
        share = 0.2 / len(engine.languages)
        ranked = engine.hybrid(vector, text, pool, ranker=ranker, weights=[0.8] + [share] * len(engine.languages))
        ids = [i for i, _ in ranked]
        similarity = dict(zip(ids, (engine.vectors(ids) @ vector).tolist())) if ids else {}
        facts = index.store.passage_facts(ids)
        return index._hits([(i, s, similarity[i], facts[i].article_id) for i, s in ranked if i in facts], k)
    return search


def built(sources: Path, index_dir: Path, cache_from: Path | None, **settings: str) -> tuple[float, Settings]:
    chosen = Settings.from_env(index_dir=index_dir, **settings)
    if cache_from is not None:
        index_dir.mkdir(parents=True)
        shutil.copy(cache_from / "embeddings.sqlite", index_dir / "embeddings.sqlite")
    started = time.perf_counter()
    build([sources], settings=chosen, fresh=True)
    return time.perf_counter() - started, chosen


def latencies(search, questions: list, k: int = 5) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    for question in questions:
        started = time.perf_counter()
        search(question.question, k)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"p50_ms": round(1000 * statistics.median(times), 2), "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 2)}


def measure(sources: str, questions: str, index_type: str = "AUTOINDEX") -> dict[str, Any]:
    """The comparison on one folder of pages and its questions (also `make bench`'s "engines" stage)."""
    questions_list = load_questions(questions)
    results: dict[str, Any] = {"sources": str(sources), "questions": len(questions_list), "index_type": index_type, "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        cold, _ = built(Path(sources), work / "cold", None)
        local_s, local = built(Path(sources), work / "faiss", work / "cold")
        milvus_s, milvus = built(Path(sources), work / "milvus", work / "cold", backend="milvus", milvus_index=index_type)
        local_index = Index.open(local.index_dir, settings=Settings.from_env(index_dir=local.index_dir))
        milvus_index = Index.open(milvus.index_dir, settings=Settings.from_env(index_dir=milvus.index_dir), encoder=local_index.encoder)
        local_bytes = {"store": disk_size(local.index_dir / local_index.manifest.store_file),
                       "engine": sum(disk_size(local.index_dir / name) for name in local_index.manifest.segments)}
        milvus_bytes = {"store": disk_size(milvus.index_dir / milvus_index.manifest.store_file), "engine": disk_size(milvus.index_dir / "milvus.db")}
        passages = local_index.manifest.passages
        results.update(passages=passages, build_cold_cache_s=round(cold, 2), build_faiss_s=round(local_s, 2), build_milvus_s=round(milvus_s, 2),
                       faiss_bytes=local_bytes, milvus_bytes=milvus_bytes,
                       faiss_bytes_per_passage=round(sum(local_bytes.values()) / passages), milvus_bytes_per_passage=round(sum(milvus_bytes.values()) / passages))
        local_index.encoder.encode_query("warm-up")
        runs = {
            "faiss": (local_index, lambda text, k: local_index.search(text, k)),
            "faiss:dense": (local_index, lambda text, k: local_index.search(text, k, retrieval="dense")),
            "faiss:lexical": (local_index, lambda text, k: local_index.search(text, k, retrieval="lexical")),
            "milvus": (milvus_index, lambda text, k: milvus_index.search(text, k)),
            "milvus:dense": (milvus_index, lambda text, k: milvus_index.search(text, k, retrieval="dense")),
            "milvus:lexical": (milvus_index, lambda text, k: milvus_index.search(text, k, retrieval="lexical")),
            "milvus-hybrid:rrf": (milvus_index, hybrid(milvus_index, "rrf")),
            "milvus-hybrid:weighted": (milvus_index, hybrid(milvus_index, "weighted")),
        }
        for name, (index, search) in runs.items():
            report = evaluate_retrieval(index, questions_list, search=search)["all"]
            results["runs"][name] = {**{key: report[key] for key in ("recall@1", "recall@5", "recall@10", "mrr@10") if key in report},
                                     **latencies(search, questions_list)}
            print(f"{name:24} " + "  ".join(f"{key} {value}" for key, value in results["runs"][name].items()), flush=True)
        milvus_index.close()
        local_index.close()
    results["recall@5_difference"] = round(results["runs"]["milvus"]["recall@5"] - results["runs"]["faiss"]["recall@5"], 4)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", required=True, type=Path)
    parser.add_argument("--questions", required=True, type=Path)
    parser.add_argument("--index-type", default="AUTOINDEX")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = measure(str(args.sources), str(args.questions), args.index_type)
    print(json.dumps({key: value for key, value in results.items() if key != "runs"}))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
