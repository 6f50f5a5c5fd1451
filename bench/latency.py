"""Search and answer latency on the sample corpus's index, one question at a time, as a user asks them.

    search    Index.search(question, 10) for every question of corpus/questions.jsonl (101), `reps` rounds,
              with retrieval hybrid (the default), dense and lexical; the question's encoding is included
    parts     the pieces of a hybrid search timed alone on the same questions: query encoding, FAISS search,
              query analysis + BM25 search, the vectors of lexical-only candidates, the store lookups of the
              candidates (ranking facts) and of the k results (text and article)
    answer    Assistant.answer(question) for every question, `reps` rounds (retrieval, sentence scoring with
              the encoder, citations; unanswerable questions abstain)

Each series starts with one untimed warm-up call."""

from __future__ import annotations

import time
from pathlib import Path

from common import ROOT, latency_summary, note

QUESTIONS = ROOT / "corpus" / "questions.jsonl"


def questions() -> list[str]:
    from healthqa.evaluate import load_questions

    return [q.question for q in load_questions(QUESTIONS)]


def search_latencies(index, texts: list[str], reps: int, k: int = 10, modes=("hybrid", "dense", "lexical")) -> dict:  # type: ignore[no-untyped-def]
    results = {}
    for mode in modes:
        index.search(texts[0], k, retrieval=mode)
        seconds = []
        for _ in range(reps):
            for text in texts:
                started = time.perf_counter()
                index.search(text, k, retrieval=mode)
                seconds.append(time.perf_counter() - started)
        results[mode] = latency_summary(seconds)
    return results


def search_parts(index, texts: list[str], reps: int, k: int = 10) -> dict:  # type: ignore[no-untyped-def]
    """What Index.search spends where, piece by piece, with its own arguments (pool = max(4k, 40) per retriever)."""
    from healthqa.index import CANDIDATES_MIN, CANDIDATES_PER_RESULT

    pool = max(k * CANDIDATES_PER_RESULT, CANDIDATES_MIN)
    parts: dict[str, list[float]] = {"encode_query": [], "faiss": [], "bm25": [], "reconstruct": [], "facts_lookup": [], "passages_lookup": [], "candidates": []}
    for _ in range(reps):
        for text in texts:
            clock = time.perf_counter()
            vector = index.encoder.encode_query(text)
            parts["encode_query"].append(time.perf_counter() - clock)
            clock = time.perf_counter()
            dense_ids = [i for i, _ in index.engine.search_dense(vector, pool)]
            parts["faiss"].append(time.perf_counter() - clock)
            clock = time.perf_counter()
            lexical_ids = [i for i, _ in index.engine.search_lexical(text, pool)]
            parts["bm25"].append(time.perf_counter() - clock)
            ids = list(dict.fromkeys(dense_ids + lexical_ids))
            parts["candidates"].append(len(ids))
            dense_set = set(dense_ids)
            clock = time.perf_counter()
            index.engine.vectors([i for i in ids if i not in dense_set]) @ vector  # lexical-only candidates
            parts["reconstruct"].append(time.perf_counter() - clock)
            clock = time.perf_counter()
            index.store.passage_facts(ids)
            parts["facts_lookup"].append(time.perf_counter() - clock)
            clock = time.perf_counter()
            index.store.passages_with_articles(ids[:k])
            parts["passages_lookup"].append(time.perf_counter() - clock)
    candidates = parts.pop("candidates")
    summary = {name: latency_summary(values) for name, values in parts.items()}
    summary["sum_of_p50_ms"] = round(sum(s["p50_ms"] for s in summary.values()), 3)
    summary["candidates_mean"] = round(sum(candidates) / len(candidates), 1)
    return summary


def answer_encoding(assistant, index, texts: list[str]) -> dict:  # type: ignore[no-untyped-def]
    """One more round of answers with the encoder's batch encoding timed: how much of an answer is spent
    encoding the retrieved passages' sentences (the query's own encoding is not in it)."""
    encoder = index.encoder
    original = encoder.encode
    spent: list[float] = []
    sentences: list[int] = []

    def encode(batch, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original(batch, **kwargs)
        finally:
            spent[-1] += time.perf_counter() - started
            sentences[-1] += len(batch)

    encoder.encode = encode  # type: ignore[method-assign]
    totals = []
    try:
        for text in texts:
            spent.append(0.0)
            sentences.append(0)
            started = time.perf_counter()
            assistant.answer(text)
            totals.append(time.perf_counter() - started)
    finally:
        del encoder.encode
    answered = [i for i, n in enumerate(sentences) if n]
    return {
        "sentence_encoding_p50_ms": latency_summary([spent[i] for i in answered])["p50_ms"],
        "sentences_encoded_p50": sorted(sentences[i] for i in answered)[len(answered) // 2],
        "sentence_encoding_share": round(sum(spent) / sum(totals), 3),
    }


def corpus_latency(index_dir: str, reps: int = 3) -> dict:
    from healthqa import Assistant, Encoder, Index, Settings

    settings = Settings(index_dir=Path(index_dir))
    started = time.perf_counter()
    encoder = Encoder()
    encoder.encode(["warm-up"])
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    index = Index.open(settings.index_dir, settings=settings, encoder=encoder)
    open_s = time.perf_counter() - started
    texts = questions()
    search = search_latencies(index, texts, reps)
    note(f"corpus search p50: hybrid {search['hybrid']['p50_ms']:.1f} ms, dense {search['dense']['p50_ms']:.1f} ms, "
         f"lexical {search['lexical']['p50_ms']:.1f} ms")
    parts = search_parts(index, texts, reps)

    assistant = Assistant(index, settings)
    assistant.answer(texts[0])
    seconds, abstained = [], 0
    for _ in range(reps):
        for text in texts:
            started = time.perf_counter()
            reply = assistant.answer(text)
            seconds.append(time.perf_counter() - started)
            abstained += reply.abstained
    answer = latency_summary(seconds)
    answer["abstained_per_round"] = abstained // reps
    answer.update(answer_encoding(assistant, index, texts))
    note(f"answer p50 {answer['p50_ms']:.1f} ms, p95 {answer['p95_ms']:.1f} ms")
    passages = index.manifest.passages
    index.close()
    return {
        "passages": passages,
        "questions": len(texts),
        "reps": reps,
        "encoder_load_s": round(load_s, 3),
        "open_s": round(open_s, 3),
        "search": search,
        "parts": parts,
        "answer": answer,
    }
