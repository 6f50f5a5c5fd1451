"""Combine dense and lexical rankings into one, knowing each passage's language.

BM25 can only match a question to text in the question's language (plus names and numbers), so a plain fusion
lifts every same-language passage over the cross-language passage that answers. Here each language's lexical
scores are scaled against the best passage *of that language*, so a French passage competes with its own best
lexical match instead of with English passages that share the question's words. Alternatives (reciprocal rank,
weighted scores without languages) are kept for `healthqa eval --compare`; README "Retrieval" has the figures."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

# Measured on corpus/questions.jsonl (see README): the lexical weight of the language-aware fusion.
LEXICAL_WEIGHT = 0.2
RRF_K = 60
RECENCY_HALF_LIFE_DAYS = 365.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A passage found by either retriever: its cosine similarity to the question and its BM25 score (0 if absent)."""

    id: int
    similarity: float
    lexical: float
    language: str
    dense_rank: int | None = None  # 1-based ranks in each list, None when the retriever did not return it
    lexical_rank: int | None = None


def language_aware(candidates: Sequence[Candidate], question_language: str, weight: float = LEXICAL_WEIGHT) -> dict[int, float]:
    best: dict[str, float] = {}
    for c in candidates:
        best[c.language] = max(best.get(c.language, 0.0), c.lexical)
    return {
        c.id: (1 - weight) * c.similarity + weight * (c.lexical / best[c.language] if best[c.language] > 0 else 0.0)
        for c in candidates
    }


def weighted(candidates: Sequence[Candidate], question_language: str, weight: float = LEXICAL_WEIGHT) -> dict[int, float]:
    top = max((c.lexical for c in candidates), default=0.0)
    return {c.id: (1 - weight) * c.similarity + weight * (c.lexical / top if top > 0 else 0.0) for c in candidates}


def reciprocal_rank(candidates: Sequence[Candidate], question_language: str, weight: float = LEXICAL_WEIGHT) -> dict[int, float]:
    return {
        c.id: sum(1 / (RRF_K + rank) for rank in (c.dense_rank, c.lexical_rank) if rank is not None) for c in candidates
    }


FUSIONS = {"language-aware": language_aware, "weighted": weighted, "rrf": reciprocal_rank}


def recency_boost(scores: Mapping[int, float], dates: Mapping[int, str], weight: float, today: date | None = None) -> dict[int, float]:
    """Adds up to `weight` for a passage published today, half of it a year earlier, and so on; undated gets 0."""
    if weight <= 0:
        return dict(scores)
    today = today or date.today()
    boosted = {}
    for passage_id, score in scores.items():
        try:
            age = max(0, (today - date.fromisoformat(dates.get(passage_id, "")[:10])).days)
        except ValueError:
            boosted[passage_id] = score
            continue
        boosted[passage_id] = score + weight * math.pow(0.5, age / RECENCY_HALF_LIFE_DAYS)
    return boosted
