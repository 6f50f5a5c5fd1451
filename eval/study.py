"""Research helper behind the choices in README "Retrieval": dumps, for every question of a set, the full
cosine and BM25 score rows over an index's passages, so that fusions, depths and caps can be compared offline
in seconds. Not part of the product; `make eval-real` is the measurement that counts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from healthqa.evaluate import load_questions, normalise  # noqa: E402
from healthqa.index import Index  # noqa: E402
from healthqa.language import reply_language  # noqa: E402
from healthqa.records import Filters  # noqa: E402


def dump(index: Index, questions_file: Path, out: Path, query_vectors: np.ndarray | None = None,
         passage_vectors: np.ndarray | None = None) -> None:
    """Writes out (npz): cos[q, p], bm25[q, p], relevant[q, p], article[p], language[p], qlang[q]."""
    questions = [q for q in load_questions(questions_file) if q.answerable]
    ids = sorted(index.store.passage_ids(Filters()))
    assert ids == list(range(len(ids))), "passage ids are expected to be 0..n-1 in a fresh build"
    found = index.store.passages_with_articles(ids)
    texts = [normalise(found[i][0].text) for i in ids]
    article = [found[i][1].id for i in ids]
    language = [found[i][1].language for i in ids]
    if passage_vectors is None:
        passage_vectors = index.engine.vectors(ids)
    if query_vectors is None:
        query_vectors = np.vstack([index.encoder.encode_query(q.question) for q in questions])
    cos = (query_vectors @ passage_vectors.T).astype(np.float32)
    bm25 = np.zeros_like(cos)
    relevant = np.zeros(cos.shape, dtype=bool)
    for row, question in enumerate(questions):
        for passage_id, score in index.engine.search_lexical(question.question, len(ids)):
            bm25[row, passage_id] = score
        phrases = [normalise(p) for p in question.answers]
        relevant[row] = [any(p in text for p in phrases) for text in texts]
    qlang = [q.language for q in questions]
    target = []
    for q in questions:
        langs = {index.store.article_language(a) or "?" for a in q.articles}
        target.append("/".join(sorted(langs)) or "?")
    np.savez_compressed(out, cos=cos, bm25=bm25, relevant=relevant, article=np.array(article), language=np.array(language),
                        qlang=np.array(qlang), target=np.array(target))


if __name__ == "__main__":
    index_dir, questions_file, out = sys.argv[1:4]
    with Index.open(index_dir) as index:
        dump(index, Path(questions_file), Path(out))
    print("wrote", out)
