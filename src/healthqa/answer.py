"""Questions → cited, extractive answers: the sentences of the retrieved passages that best answer the question,
quoted verbatim with [n] markers and the short answer inside them, or a plain statement that the articles do not
cover it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .index import Index, LiveIndex, default_index
from .language import foreign_language, reply_language
from .lexical import analyse, analyse_query
from .messages import language_name, message
from .records import Answer, Citation, Filters, Hit, ShortAnswer
from .selection import Limits, Quote, candidate_sentences, choose_quotes, sentence_features, short_answer, shortlist
from .settings import Settings
from .terms import fold, named_terms, sound_skeleton, words

# A previous turn is a user question (str) or a chat message {"role": ..., "content": ...}.
Turn = str | Mapping[str, object]

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|also|what about|how about|same|et|aussi|quid|qu'en est-il|et pour|et les|et la|et le)\b", re.IGNORECASE
)
_ANAPHORA = re.compile(
    r"\b(they|them|their|these|those|it|its|this one|ils|elles|leur|leurs|ces|ceux|celles|eux|celui-ci|celle-ci|ce dernier)\b",
    re.IGNORECASE,
)
# Between half of min_score and min_score, a question is still answered when one passage holds at least this share
# of its words: real questions can be terse ("What is Listeria?" scores 0.17), while off-topic ones share few words
# with the articles (weather, football, recipes: 0.04-0.16, and at most 0.4 of their words; README, "Answers").
MIN_WORDS_HELD = 0.5
# A name the articles do not hold is theirs in another form when a word of the best passages is this close to it in
# the encoder's space: translated names score 0.69-0.93 (one, Kashmir/Cachemire, 0.54), the closest word to the
# made-up names of the unanswerable sample questions 0.37-0.60 (README, "Answers"). A word that sounds like the
# name (the same `sound_skeleton`) needs only SOUNDS_ALIKE_NAME.
TRANSLATED_NAME = 0.65
SOUNDS_ALIKE_NAME = 0.45
TRANSLATION_PASSAGES = 3
# (question language, passage language): English capitalises nationalities, languages, months and days; French not.
LOWER_CASE_NAMES = frozenset({("en", "fr")})


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
        query = retrieval_query(question, history)
        query_vector = index.encoder.encode_query(query)
        hits = index.search(query, self.settings.answer_passages, filters=filters, vector=query_vector)
        if unnamed_terms(index, question, language, hits):  # a company, a product… that no article mentions
            return self._abstain(question, language, note, hits or index.search(question, 12, filters=filters))
        if not hits or not self._covered(query, hits, index.settings.languages):
            return self._abstain(question, language, note, hits)

        sentences = candidate_sentences(hits)
        features = sentence_features(question, sentences, languages=index.settings.languages)
        closeness = np.full(len(sentences), np.nan)
        encoded = shortlist(features)
        if encoded:
            closeness[encoded] = index.encoder.encode([sentences[i].text for i in encoded]) @ query_vector
        limits = Limits(self.settings.answer_sentences, self.settings.answer_words, self.settings.answer_margin)
        quotes = choose_quotes(sentences, features, closeness, limits=limits)
        if not quotes:
            return self._abstain(question, language, note, hits)
        citations = _cite(quotes)
        short = _short_answer(question, quotes[0], citations[0], index.settings.languages)
        note = " ".join(part for part in (note, _quotes_language_note(language, citations)) if part)
        text = " ".join(f"{c.shown} [{c.marker}]" for c in citations)
        return Answer(question, text, language, tuple(citations), tuple(hits), False, note, short)

    def _covered(self, query: str, hits: Sequence[Hit], languages: Sequence[str]) -> bool:
        """Whether the articles cover the question: a passage close enough in meaning or, somewhat close, one that
        holds most of the question's words."""
        similarity = max(hit.similarity for hit in hits)
        if similarity >= self.settings.min_score:
            return True
        return similarity >= self.settings.min_score / 2 and words_held(query, hits, languages) >= MIN_WORDS_HELD

    def _abstain(self, question: str, language: str, note: str, hits: Sequence[Hit]) -> Answer:
        """The plain statement, with the closest passages of up to three different articles as leads."""
        leads: list[Hit] = []
        for hit in hits:
            if all(hit.article.id != lead.article.id for lead in leads):
                leads.append(hit)
        return Answer(question, message(language, "no_answer"), language, (), tuple(leads[:3]), True, note)


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


def unnamed_terms(index: Index, question: str, language: str, hits: Sequence[Hit]) -> list[str]:
    """The names in the question (capitalised words after the first) that no article holds, allowing a typo or an
    inflection ("Carrefours", "Alzheimers"), nor a best passage in another language in translation: "Poland" is
    "Pologne" in a French article, "VIH-1" is "HIV-1" in an English one. The encoder, trained on translations,
    places a name and its translation close (Poland/Pologne 0.92, Warsaw/Varsovie 0.69), and a made-up company
    name far from any word of the passages (at most 0.60 on the sample's unanswerable questions). Within one
    language a name is not translated, and a made-up one can sit close to the words it is made of (Pharmadom,
    pharmacy 0.74): so only other languages are searched, and only their names, but where the other language
    writes in lower case what the question's capitalises ("Muslim", "musulman")."""
    names = {fold(word): word for word in named_terms(question)}
    unknown = index.store.unknown_words(list(names), tolerant=True)
    foreign = [hit for hit in hits[:TRANSLATION_PASSAGES] if hit.article.language and hit.article.language != language]
    if not unknown or not foreign:
        return unknown
    candidates = sorted({
        word for hit in foreign for word in words(hit.text)
        if len(word) >= 3 and (word[0].isupper() or (language, hit.article.language) in LOWER_CASE_NAMES)
    })
    vectors = index.encoder.encode([names[word] for word in unknown] + candidates)
    closeness = vectors[len(unknown) :] @ vectors[: len(unknown)].T
    sounds = [sound_skeleton(candidate) for candidate in candidates]
    return [
        word for column, (word, sound) in enumerate((word, sound_skeleton(word)) for word in unknown)
        if not any(translates(closeness[row, column], sounds[row], sound) and not _part_of(candidate, names[word])
                   for row, candidate in enumerate(candidates))
    ]


def translates(closeness: float, word_sound: str, name_sound: str) -> bool:
    """Whether a word of a passage in another language names what the question's name does, by their closeness
    for the encoder and their `sound_skeleton`s: close in meaning, or somewhat close and sounding alike
    ('Kashmir', 'Cachemire': 0.54). Fewer than three sounds are too easily another word's."""
    if closeness >= TRANSLATED_NAME:
        return True
    return closeness >= SOUNDS_ALIKE_NAME and len(name_sound) >= 3 and word_sound == name_sound


def _part_of(candidate: str, name: str) -> bool:
    """'Pharma' in 'Pharmadom': a coined name built on a word is not that word."""
    a, b = fold(candidate), fold(name)
    return a != b and (a in b or b in a)


def words_held(question: str, hits: Sequence[Hit], languages: Sequence[str]) -> float:
    """The largest share of the question's words (each by any of its stems) that one passage holds."""
    asked = [stems for word in words(question) if (stems := set(analyse_query(word, languages)))]
    if not asked:
        return 0.0
    best = 0.0
    for hit in hits:
        held = set(analyse(hit.text, hit.article.language or languages[0]))
        best = max(best, sum(bool(stems & held) for stems in asked) / len(asked))
    return best


def _cite(quotes: Sequence[Quote]) -> list[Citation]:
    """The best quote first, then the others grouped by article, in the articles' order of relevance and each
    article's reading order; one marker per passage."""
    article_rank: dict[str, int] = {}
    for quote in quotes:
        article_rank.setdefault(quote.hit.article.id, len(article_rank))
    rest = sorted(quotes[1:], key=lambda q: (article_rank[q.hit.article.id], q.hit.passage.start + q.start))
    markers: dict[int, int] = {}
    citations = []
    for quote in [quotes[0], *rest]:
        marker = markers.setdefault(id(quote.hit), len(markers) + 1)
        citations.append(Citation(marker, quote.text, quote.start, quote.end, quote.hit.passage, quote.hit.article))
    return citations


def _short_answer(question: str, quote: Quote, citation: Citation, languages: Sequence[str]) -> ShortAnswer | None:
    span = short_answer(question, quote, languages=languages)
    if span is None:
        return None
    start, end = span
    return ShortAnswer(quote.hit.text[start:end], citation.marker, start, end)


def _quotes_language_note(language: str, citations: Sequence[Citation]) -> str:
    """Says so when the quotes are in another language than the question ("The quotes are in French.")."""
    quoted = {c.article.language for c in citations if c.article.language}
    others = sorted(quoted - {language})
    if not others:
        return ""
    names = message(language, "and").join(language_name(code, language) for code in others)
    return message(language, "quotes_in" if language not in quoted else "some_quotes_in", name=names)


def _is_user(turn: Turn) -> bool:
    return isinstance(turn, str) or turn.get("role") == "user"


def _content(turn: Turn) -> str:
    if isinstance(turn, str):
        return turn.strip()
    content = turn.get("content")
    return content.strip() if isinstance(content, str) else ""
