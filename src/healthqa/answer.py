"""Questions → cited, extractive answers: the sentences of the retrieved passages that best answer the question,
quoted verbatim with [n] markers, or a plain statement that the articles do not cover it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .index import Index, LiveIndex, default_index
from .language import foreign_language, reply_language
from .messages import language_name, message
from .passages import sentence_spans
from .records import Answer, Citation, Filters, Hit
from .settings import Settings
from .terms import content_terms, fold, named_terms

# A previous turn is a user question (str) or a chat message {"role": ..., "content": ...}.
Turn = str | Mapping[str, object]

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|also|what about|how about|same|et|aussi|quid|qu'en est-il|et pour|et les|et la|et le)\b", re.IGNORECASE
)
_ANAPHORA = re.compile(
    r"\b(they|them|their|these|those|it|its|this one|ils|elles|leur|leurs|ces|ceux|celles|eux|celui-ci|celle-ci|ce dernier)\b",
    re.IGNORECASE,
)
# How a sentence is scored: its closeness to the question, its passage's, and the question terms it covers.
W_SENTENCE, W_PASSAGE, W_TERMS = 0.40, 0.45, 0.15  # measured best of four mixes on the labelled questions


@dataclass(frozen=True, slots=True)
class _Candidate:
    hit: Hit
    start: int  # within the passage text
    end: int
    score: float
    vector: np.ndarray

    @property
    def text(self) -> str:
        return self.hit.text[self.start : self.end]


class Assistant:
    """Answers questions over one opened index; thread-safe, so one instance serves a whole chat server."""

    def __init__(self, index: Index, settings: Settings | None = None) -> None:
        self._live = LiveIndex(index)
        self.settings = settings or Settings.from_env()

    @property
    def index(self) -> Index:
        """The newest index of the folder: a build published while the assistant runs is picked up."""
        return self._live.current()

    @classmethod
    def open(cls, directory: str | Path | None = None, *, settings: Settings | None = None) -> "Assistant":
        settings = settings or Settings.from_env()
        return cls(Index.open(directory, settings=settings), settings)

    def answer(self, question: str, *, history: Sequence[Turn] = (), filters: Filters | None = None) -> Answer:
        question = question.strip()
        language = reply_language(question) if question else "en"
        if not question:
            return Answer(question, message(language, "empty_question"), language, (), (), True)
        foreign = foreign_language(question)
        note = message(language, "foreign", name=language_name(foreign)) if foreign else ""

        index = self.index  # one generation for the whole answer, even if a build publishes meanwhile
        unknown = index.store.unknown_words([fold(word) for word in named_terms(question)])
        if unknown:  # the question names something (a company, a product, a place) that no article mentions
            return self._abstain(question, language, note, index.search(question, 12, filters=filters))

        query = retrieval_query(question, history)
        query_vector = index.encoder.encode_query(query)
        hits = index.search(query, self.settings.answer_passages, filters=filters, vector=query_vector)
        if not hits or max(hit.similarity for hit in hits) < self.settings.min_score:
            return self._abstain(question, language, note, hits)

        chosen = self._choose_sentences(index, question, query_vector, hits)
        citations = _cite(chosen)
        text = " ".join(f"{c.sentence} [{c.marker}]" for c in citations)
        return Answer(question, text, language, tuple(citations), tuple(hits), False, note)

    def _abstain(self, question: str, language: str, note: str, hits: Sequence[Hit]) -> Answer:
        """The plain statement, with the closest passages of up to three different articles as leads."""
        leads: list[Hit] = []
        for hit in hits:
            if all(hit.article.id != lead.article.id for lead in leads):
                leads.append(hit)
        return Answer(question, message(language, "no_answer"), language, (), tuple(leads[:3]), True, note)

    def _choose_sentences(self, index: Index, question: str, query_vector: np.ndarray, hits: Sequence[Hit]) -> list[_Candidate]:
        """Score every sentence of the retrieved passages by closeness to the question, the strength of its
        passage and coverage of the question's terms; keep the best few that do not repeat each other."""
        spans: list[tuple[Hit, int, int]] = []
        seen: set[tuple[str, int]] = set()
        for hit in hits:
            for span in _passage_sentences(hit.text):
                key = (hit.article.id, hit.passage.start + span[0])  # overlapping passages repeat sentences
                sentence = hit.text[span[0] : span[1]]
                if key not in seen and len(sentence.split()) >= 4 and not sentence.rstrip("»”\"' ").endswith("?"):
                    seen.add(key)
                    spans.append((hit, *span))
        if not spans:
            return []
        vectors = index.encoder.encode([hit.text[start:end] for hit, start, end in spans])
        closeness = vectors @ query_vector
        terms = content_terms(question)
        candidates = [
            _Candidate(hit, start, end, float(W_SENTENCE * close + W_PASSAGE * hit.similarity + W_TERMS * _coverage(terms, hit.text[start:end])), vector)
            for (hit, start, end), close, vector in zip(spans, closeness, vectors)
        ]
        candidates.sort(key=lambda c: c.score, reverse=True)
        best = candidates[0].score
        chosen: list[_Candidate] = []
        for candidate in candidates:
            if len(chosen) == self.settings.answer_sentences or candidate.score < best - self.settings.answer_margin:
                break
            if all(float(candidate.vector @ other.vector) < 0.9 for other in chosen):
                chosen.append(candidate)
        return chosen


def answer(
    question: str,
    *,
    history: Sequence[Turn] = (),
    filters: Filters | None = None,
    index: str | Path | None = None,
    settings: Settings | None = None,
) -> Answer:
    """Answer from the default index (opened once per process); see Assistant.answer()."""
    settings = settings or Settings.from_env()
    return Assistant(default_index(index, settings), settings).answer(question, history=history, filters=filters)


def retrieval_query(question: str, history: Sequence[Turn]) -> str:
    """A follow-up ("and which of them partner with start-ups?") is searched together with the previous question."""
    previous = [_content(turn) for turn in history if _is_user(turn)]
    previous = [text for text in previous if text and text != question]
    if not previous:
        return question
    follow_up = len(question.split()) <= 6 or _FOLLOW_UP_START.search(question) or _ANAPHORA.search(question)
    return f"{previous[-1]} {question}" if follow_up else question


def _cite(chosen: Sequence[_Candidate]) -> list[Citation]:
    """Readable order: articles in order of relevance, sentences in their article's order; one marker per passage."""
    article_rank: dict[str, int] = {}
    for candidate in chosen:
        article_rank.setdefault(candidate.hit.article.id, len(article_rank))
    ordered = sorted(chosen, key=lambda c: (article_rank[c.hit.article.id], c.hit.passage.start + c.start))
    markers: dict[int, int] = {}
    citations = []
    for candidate in ordered:
        passage_key = id(candidate.hit)
        marker = markers.setdefault(passage_key, len(markers) + 1)
        citations.append(
            Citation(marker, candidate.text, candidate.start, candidate.end, candidate.hit.passage, candidate.hit.article)
        )
    return citations


def _passage_sentences(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    for paragraph in text.split("\n\n"):
        spans.extend((s.start, s.end) for s in sentence_spans(paragraph, position))
        position += len(paragraph) + 2
    return spans


def _coverage(terms: set[str], sentence: str) -> float:
    return len(terms & content_terms(sentence)) / len(terms) if terms else 0.0


def _is_user(turn: Turn) -> bool:
    return isinstance(turn, str) or turn.get("role") == "user"


def _content(turn: Turn) -> str:
    if isinstance(turn, str):
        return turn.strip()
    content = turn.get("content")
    return content.strip() if isinstance(content, str) else ""
