"""Milvus (Milvus Lite) against the local FAISS + bm25s on the same index: recall, search latency, load time, size.

    .venv/bin/python bench/engines.py --index DIR --questions FILE [--out results.json]

The passages, their vectors and their filter fields are copied from a built local index into a Milvus Lite
collection, so both engines hold exactly the same passages and vectors. Then each question is searched:
  faiss                   the local index as `healthqa search` runs it (FAISS + bm25s, language-aware fusion)
  milvus:<fusion>         Milvus's dense and BM25 lists, fused by the project's fusion (same code as local)
  milvus-hybrid:rrf       Milvus's hybrid_search with its RRFRanker (k=60)
  milvus-hybrid:weighted  Milvus's hybrid_search with its WeightedRanker (0.8 dense, 0.2 shared by the BM25 fields)
and dense or BM25 alone on each engine. Latency is of the whole search call, the question's encoding included."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from healthqa import Index, Settings  # noqa: E402
from healthqa.backends import Entry  # noqa: E402
from healthqa.backends.milvus import MilvusEngine  # noqa: E402
from healthqa.evaluate import evaluate_retrieval, load_questions  # noqa: E402
from healthqa.index import CANDIDATES_MIN, CANDIDATES_PER_RESULT, disk_size  # noqa: E402


class _EngineVectors:
    """What Index._rank reads vectors from, answered by Milvus."""

    def __init__(self, engine: MilvusEngine) -> None:
        self.engine = engine

    def vectors(self, ids: list[int]) -> np.ndarray:
        return self.engine.vectors(ids)


def load(index: Index, engine: MilvusEngine, batch: int = 2000) -> float:
    ids = index.store.passage_index_inputs()[0]
    started = time.perf_counter()
    for begin in range(0, len(ids), batch):
        chunk = ids[begin : begin + batch]
        vectors = index.vectors.vectors(chunk)
        found = index.store.passages_with_articles(chunk)
        engine.upsert([Entry(i, vectors[n], found[i][0].text, found[i][1].language, found[i][1].site, found[i][1].date, 1)
                       for n, i in enumerate(chunk)])
    engine.publish(1)
    return time.perf_counter() - started


def searches(index: Index, engine: MilvusEngine) -> dict[str, Any]:
    local_vectors = index.vectors

    def milvus(mode: str, fusion: str):  # type: ignore[no-untyped-def]
        def search(text: str, k: int) -> list:
            vector = index.encoder.encode_query(text)
            pool = max(k * CANDIDATES_PER_RESULT, CANDIDATES_MIN)
            dense = dict(engine.search_dense(vector, pool)) if mode != "lexical" else {}
            lexical = dict(engine.search_lexical(text, pool)) if mode != "dense" else {}
            index.vectors = _EngineVectors(engine)
            try:
                return index._hits(index._rank(text, vector, dense, lexical, mode, fusion), k)
            finally:
                index.vectors = local_vectors
        return search

    def hybrid(ranker: str):  # type: ignore[no-untyped-def]
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

    return {
        "faiss": lambda text, k: index.search(text, k),
        "faiss:dense": lambda text, k: index.search(text, k, retrieval="dense"),
        "faiss:lexical": lambda text, k: index.search(text, k, retrieval="lexical"),
        f"milvus:{index.settings.fusion}": milvus("hybrid", index.settings.fusion),
        "milvus:rrf": milvus("hybrid", "rrf"),
        "milvus:dense": milvus("dense", ""),
        "milvus:lexical": milvus("lexical", ""),
        "milvus-hybrid:rrf": hybrid("rrf"),
        "milvus-hybrid:weighted": hybrid("weighted"),
    }


def latencies(search, questions: list, k: int = 5) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    for question in questions:
        started = time.perf_counter()
        search(question.question, k)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"p50_ms": round(1000 * statistics.median(times), 2), "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--questions", required=True, type=Path)
    parser.add_argument("--index-type", default="AUTOINDEX")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = Settings.from_env(index_dir=args.index)
    index = Index.open(args.index, settings=settings)
    questions = load_questions(args.questions)
    with tempfile.TemporaryDirectory() as folder:
        uri = str(Path(folder) / "milvus.db")
        engine = MilvusEngine.create(uri, "bench", dimension=index.manifest.dimension, languages=settings.languages, index_type=args.index_type)
        load_seconds = load(index, engine)
        index.encoder.encode_query("warm-up")
        results: dict[str, Any] = {
            "passages": index.manifest.passages, "questions": len(questions), "milvus_load_s": round(load_seconds, 2),
            "milvus_bytes": disk_size(Path(uri)), "local_bytes": sum(index.manifest.sizes.values()),
            "index_type": args.index_type, "runs": {},
        }
        for name, search in searches(index, engine).items():
            report = evaluate_retrieval(index, questions, search=search)["all"]
            results["runs"][name] = {**{key: report[key] for key in ("recall@1", "recall@5", "recall@10", "mrr@10") if key in report},
                                     **latencies(search, questions)}
            print(f"{name:26} " + "  ".join(f"{key} {value}" for key, value in results["runs"][name].items()), flush=True)
        engine.close()
    print(json.dumps({key: value for key, value in results.items() if key != "runs"}))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
