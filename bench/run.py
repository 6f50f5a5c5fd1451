"""Corpus benchmark: build time, search and answer latency, retrieval and answer quality by language pair.

    make bench            (or: .venv/bin/python bench/run.py [--json])

Run on demand, not in CI. Figures come from this machine, in one run."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from healthqa import Assistant, Encoder, Index, Settings, build  # noqa: E402
from healthqa.evaluate import evaluate_answers, evaluate_retrieval, load_questions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(index_dir=Path(folder) / "index")
        started = time.perf_counter()
        encoder = Encoder()
        encoder.encode(["warm-up"])
        results["model_load_s"] = round(time.perf_counter() - started, 2)
        report = build([ROOT / "corpus"], settings=settings, encoder=encoder)
        results["build"] = {
            "articles": report.articles, "passages": report.passages, "skipped": len(report.skipped),
            "seconds": round(report.seconds, 2), "timings": {k: round(v, 2) for k, v in report.timings.items()},
            "passages_per_s_encode": round(report.passages / report.timings["encode"], 1),
            "passages_per_s_build": round(report.passages / report.seconds, 1),
        }
        index = Index.open(settings.index_dir, settings=settings, encoder=encoder)
        questions = load_questions(ROOT / "corpus" / "questions.jsonl")
        latencies = []
        for question in questions:
            clock = time.perf_counter()
            index.search(question.question, k=5)
            latencies.append(time.perf_counter() - clock)
        results["search_ms"] = {"p50": _ms(statistics.median(latencies)), "p95": _ms(_p95(latencies))}
        results["hit_by_article"] = evaluate_retrieval(index, questions, ks=(1, 5), by_article=True)
        results["recall_by_phrase"] = evaluate_retrieval(index, questions, ks=(1, 5, 10))
        results["answers"] = evaluate_answers(Assistant(index, settings), questions)
        index.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    build_ = results["build"]
    print(f"model load {results['model_load_s']} s")
    print(f"build: {build_['articles']} articles, {build_['passages']} passages, {build_['skipped']} skipped, "
          f"{build_['seconds']} s ({build_['passages_per_s_build']} passages/s overall, "
          f"{build_['passages_per_s_encode']} passages/s encoding); stages {build_['timings']}")
    print(f"search latency p50 {results['search_ms']['p50']} ms, p95 {results['search_ms']['p95']} ms")
    print(f"{'group':<10} {'n':>4} {'hit@1':>6} {'hit@5':>6} {'rec@5':>6} {'mrr@10':>7}")
    for group, scores in results["hit_by_article"].items():
        if isinstance(scores, dict):
            phrase = results["recall_by_phrase"][group]
            print(f"{group:<10} {scores['questions']:>4} {scores['recall@1']:>6.2f} {scores['recall@5']:>6.2f} "
                  f"{phrase['recall@5']:>6.2f} {scores['mrr@10']:>7.2f}")
    print("answers:", json.dumps(results["answers"]))


def _ms(seconds: float) -> float:
    return round(1000 * seconds, 1)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


if __name__ == "__main__":
    main()
