"""Combine dense and lexical rankings into one, knowing the question's language and each passage's.

The default, "adaptive", was chosen on real sets (PIAF, COVID-QA, our cross-language questions) and the sample
corpus; README "Retrieval" has the figures. Three facts shape it:
- cosine similarities of one encoder crowd into a narrow band that moves from query to query, so they are
  rescaled to 0..1 over this query's candidates before they are weighed against words;
- BM25 can only match a question to text in the question's language (plus names and numbers), so each
  language's lexical scores are scaled against the best passage *of that language*, and words count for more
  when question and passage share a language (LEXICAL_WEIGHT_SAME) than across languages (LEXICAL_WEIGHT_CROSS);
  but another language's best is never taken as less than a share of the question language's best
  (OTHER_LANGUAGE_FLOOR): a stray word matched in a French passage is not a full match for an English question;
- how far each list's best candidate stands out of the next one says how sure that retriever is for this
  question, and shifts the same-language lexical weight towards the surer one (GAP_SHIFT);
- when no candidate is in the question's language (a French question over English papers), words can only match
  through names, numbers and shared technical terms; how far the best lexical candidate stands out of the
  others then shifts the cross-language weight (FOREIGN_SHIFT): a rare name matched in three passages
  ("Hantaan") says more than common stems matched everywhere.
The previous default ("language-aware"), plain weighted scores and reciprocal rank are kept for
`healthqa eval --compare`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

# Measured on corpus/questions.jsonl (see README): the lexical weight of the language-aware fusion.
LEXICAL_WEIGHT = 0.2
# The adaptive fusion (measured on the real dev sets and the sample, README "Retrieval"): the weight of words
# against meaning when question and passage share a language, and when they do not; and how much the gap
# between each list's two best scores may move the first weight.
LEXICAL_WEIGHT_SAME = 0.6
LEXICAL_WEIGHT_CROSS = 0.2
GAP_SHIFT = 0.3
# The cross-language weight's shift when no candidate shares the question's language, and how many of each
# list's best scores `standout` compares the first with.
FOREIGN_SHIFT = 0.6
# Another language's lexical scores are scaled against at least this share of the question language's best
# (README "Retrieval": sample fr->fr MRR@10 0.868 -> 0.889, flat from 0.2 to 0.4; no other set or pair moves).
OTHER_LANGUAGE_FLOOR = 0.3
STANDOUT_OF = 10
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


def adaptive(candidates: Sequence[Candidate], question_language: str, weight: float = LEXICAL_WEIGHT_SAME) -> dict[int, float]:
    """(1 - w) × cosine rescaled to 0..1 over the candidates + w × BM25 / best BM25 of the passage's language, where
    w is `weight` (shifted by the lists' confidence) for passages in the question's language and
    LEXICAL_WEIGHT_CROSS for the others (shifted by the lists' standout when no passage is in the question's
    language)."""
    if not candidates:
        return {}
    lexical = _scaled_per_language(candidates, question_language)
    similarities = [c.similarity for c in candidates]
    low, high = min(similarities), max(similarities)
    span = high - low
    dense = {c.id: (c.similarity - low) / span if span > 0 else 0.0 for c in candidates}
    same_language = [c.lexical for c in candidates if c.lexical_rank is not None and c.language == question_language]
    dense_listed = [dense[c.id] for c in candidates if c.dense_rank is not None]
    shift = GAP_SHIFT * (top_gap(same_language) - top_gap(dense_listed))
    same = min(0.95, max(0.05, weight + shift))
    cross = LEXICAL_WEIGHT_CROSS
    if all(c.language != question_language for c in candidates):
        listed = [c.lexical for c in candidates if c.lexical_rank is not None]
        cross = min(0.95, max(0.05, cross + FOREIGN_SHIFT * (standout(listed) - standout(dense_listed))))
    scores = {}
    for c in candidates:
        w = same if c.language == question_language else cross
        scores[c.id] = (1 - w) * dense[c.id] + w * lexical[c.id]
    return scores


def top_gap(scores: Sequence[float]) -> float:
    """How far the best score stands out of the second, as a share of the best (0 when there is no second)."""
    if len(scores) < 2:
        return 0.0
    first, second = sorted(scores, reverse=True)[:2]
    return (first - second) / first if first > 0 else 0.0


def standout(scores: Sequence[float], among: int = STANDOUT_OF) -> float:
    """How far the best score stands out of the next ones (up to `among` - 1 of them), as a share of the best:
    1 - their mean / the best; 0 without a second score or a positive best."""
    best = sorted(scores, reverse=True)[:among]
    if len(best) < 2 or best[0] <= 0:
        return 0.0
    return 1 - sum(best[1:]) / (len(best) - 1) / best[0]


def _scaled_per_language(candidates: Sequence[Candidate], question_language: str = "") -> dict[int, float]:
    """BM25 / the best BM25 of the passage's language; with `question_language`, another language's best is
    taken as at least OTHER_LANGUAGE_FLOOR × the question language's."""
    best: dict[str, float] = {}
    for c in candidates:
        best[c.language] = max(best.get(c.language, 0.0), c.lexical)
    own = best.get(question_language, 0.0)
    for language in best:
        if language != question_language:
            best[language] = max(best[language], OTHER_LANGUAGE_FLOOR * own)
    return {c.id: c.lexical / best[c.language] if best[c.language] > 0 else 0.0 for c in candidates}


def language_aware(candidates: Sequence[Candidate], question_language: str, weight: float = LEXICAL_WEIGHT) -> dict[int, float]:
    """The previous default: (1 - w) × raw cosine + w × BM25 / best BM25 of the passage's language."""
    lexical = _scaled_per_language(candidates)
    return {c.id: (1 - weight) * c.similarity + weight * lexical[c.id] for c in candidates}


def weighted(candidates: Sequence[Candidate], question_language: str, weight: float = LEXICAL_WEIGHT) -> dict[int, float]:
    top = max((c.lexical for c in candidates), default=0.0)
    return {c.id: (1 - weight) * c.similarity + weight * (c.lexical / top if top > 0 else 0.0) for c in candidates}


def reciprocal_rank(candidates: Sequence[Candidate], question_language: str, weight: float = LEXICAL_WEIGHT) -> dict[int, float]:
    return {
        c.id: sum(1 / (RRF_K + rank) for rank in (c.dense_rank, c.lexical_rank) if rank is not None) for c in candidates
    }


FUSIONS = {"adaptive": adaptive, "language-aware": language_aware, "weighted": weighted, "rrf": reciprocal_rank}


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
