"""Fits the weights of the answer's sentence choice (selection.FEATURE_WEIGHTS) on the labelled sets.

For every answerable question of the sample and of the dev sets in ../shared/data, the passages an answer reads
are retrieved as `answer()` retrieves them, every candidate sentence gets its features
(`selection.sentence_features`) and its closeness to the question, and is labelled by whether it holds a gold
phrase. The weights maximise, question by question, the softmax probability of the labelled sentences, with
no penalty on them (README, "Answers"); `across_languages` and `leads_into_list` keep their shipped weights
(see selection.py). Every question counts alike (giving each set the same share lost COVID-QA questions).

    .venv/bin/python eval/fit_answers.py             # fit on every question; print the weights and, per set,
                                                     # how often the best sentence holds a gold phrase
    .venv/bin/python eval/fit_answers.py --halves    # fit on the even-numbered questions, score on the odd

The best-sentence figure is a proxy of `first` (the first quote adds what completes its sentence); adopt new
weights by `make eval-real`, which measures the answers themselves. Rows are cached in .cache/eval-real/."""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realdata import CACHE, CORPORA, SETS, corpus_index, eval_settings  # noqa: E402

from healthqa import Encoder  # noqa: E402
from healthqa.evaluate import load_questions, normalise  # noqa: E402
from healthqa.selection import FEATURE_WEIGHTS, FEATURES, candidate_sentences, sentence_features  # noqa: E402

FIXED = {FEATURES.index("across_languages"), FEATURES.index("leads_into_list")}
_ACROSS = FEATURES.index("across_languages")


@dataclass
class Rows:
    """One question's candidate sentences: features (closeness filled in) and which hold a gold phrase."""

    features: np.ndarray
    gold: np.ndarray
    number: int  # the question's line among the set's answerable questions


def question_rows(set_names: list[str]) -> dict[str, list[Rows]]:
    settings = eval_settings()
    encoder = Encoder(settings.model, batch_size=settings.batch_size)
    source = Path(__file__).parent.parent / "src" / "healthqa"
    modules = ("selection", "questions", "terms", "lexical", "passages", "fusion", "stages")  # what the rows depend on
    code = hashlib.sha256(Path(__file__).with_name("realdata.py").read_bytes()
                          + b"".join((source / f"{module}.py").read_bytes() for module in modules)).hexdigest()[:12]
    rows: dict[str, list[Rows]] = {}
    for question_set in SETS:
        corpus = CORPORA[question_set.corpus]
        if (question_set.name not in set_names if set_names else not question_set.default) or not corpus.available:
            continue
        cached = CACHE / f"answer-rows-{question_set.name}-{code}.pkl"
        if cached.is_file():
            rows[question_set.name] = [Rows(*row) for row in pickle.loads(cached.read_bytes())]
            continue
        index, _ = corpus_index(corpus, settings, encoder=encoder)
        found: list[Rows] = []
        questions = [q for q in load_questions(question_set.questions) if q.answerable]
        for number, question in enumerate(questions):
            vector = encoder.encode_query(question.question)
            hits = index.search(question.question, settings.answer_passages, vector=vector)
            sentences = candidate_sentences(hits)
            if not sentences:
                continue
            features = sentence_features(question.question, sentences, languages=settings.languages)
            closeness = encoder.encode([s.text for s in sentences]) @ vector
            features[:, 0] = closeness
            features[:, 1] = closeness * features[:, _ACROSS]
            phrases = [normalise(answer) for answer in question.answers]
            gold = np.array([any(p in normalise(s.text) for p in phrases) for s in sentences])
            found.append(Rows(features, gold, number))
        index.close()
        cached.write_bytes(pickle.dumps([(r.features, r.gold, r.number) for r in found]))
        rows[question_set.name] = found
        print(f"{question_set.name}: {len(found)} questions, {sum(r.gold.any() for r in found)} with a gold sentence", file=sys.stderr)
    return rows


def fit(rows: dict[str, list[Rows]], start: np.ndarray) -> np.ndarray:
    from scipy.optimize import minimize

    free = [j for j in range(len(start)) if j not in FIXED]
    items = [(r.features, r.gold, 1.0) for group in rows.values() for r in group if r.gold.any()]

    def loss(values: np.ndarray) -> tuple[float, np.ndarray]:
        weights = start.copy()
        weights[free] = values
        total, gradient = 0.0, np.zeros(len(start))
        for features, gold, share in items:
            scores = features @ weights
            every = np.exp(scores - scores.max())
            every /= every.sum()
            golden = np.exp(scores[gold] - scores[gold].max())
            golden /= golden.sum()
            total -= share * (np.log(np.exp(scores[gold] - scores.max()).sum()) - np.log(np.exp(scores - scores.max()).sum()))
            gradient -= share * (features[gold].T @ golden - features.T @ every)
        return total, gradient[free]

    result = minimize(loss, start[free], jac=True, method="L-BFGS-B")
    weights = start.copy()
    weights[free] = result.x
    return weights


def best_sentence_holds(rows: list[Rows], weights: np.ndarray) -> float:
    return float(np.mean([r.gold[int(np.argmax(r.features @ weights))] for r in rows])) if rows else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="", help="comma-separated set names (default: every set whose data is present)")
    parser.add_argument("--halves", action="store_true", help="fit on even-numbered questions, score on the odd ones")
    args = parser.parse_args()
    rows = question_rows([s for s in args.sets.split(",") if s])
    shipped = np.asarray(FEATURE_WEIGHTS, dtype=float)
    if args.halves:
        train = {name: [r for r in group if r.number % 2 == 0] for name, group in rows.items()}
        scored = {name: [r for r in group if r.number % 2 == 1] for name, group in rows.items()}
    else:
        train = scored = rows
    fitted = fit(train, shipped)
    print("weights = (" + ", ".join(f"{w:.2f}" for w in fitted) + ")")
    print(f"{'set':<12} {'n':>5}  best sentence holds a gold phrase: shipped -> fitted" + (" (odd half)" if args.halves else ""))
    for name, group in scored.items():
        print(f"{name:<12} {len(group):>5}  {best_sentence_holds(group, shipped):.3f} -> {best_sentence_holds(group, fitted):.3f}")


if __name__ == "__main__":
    main()
