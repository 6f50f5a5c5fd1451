"""Lexical retrieval: BM25 (bm25s) over words folded the way each language needs: lower case, elisions (l', d',
qu') and stop words off, Snowball stems, accents off. The only module that imports bm25s and PyStemmer.

A passage is analysed in its article's language; a question in every indexed language at once, so that a
French question still matches the English stem of a shared word ("régulation"/"regulation" → "regul")."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .errors import IndexCorrupt

_WORD = re.compile(r"\w+", re.UNICODE)
_STEMMER_NAMES = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese", "nl": "dutch"}
# Particles left when an apostrophe splits a word: l'essai, d'un, qu'il, n'est, s'est, c'est, j'ai, jusqu'à.
_ELIDED = frozenset("l d qu n s c j m t jusqu lorsqu puisqu".split())
# Question words, which the stop lists shipped with bm25s leave in: they say nothing of what is asked about.
_QUESTION_WORDS = {
    "fr": frozenset("quel quelle quels quelles lequel laquelle lesquels lesquelles comment pourquoi combien où quand quoi".split()),
    "en": frozenset("what which who whom whose how why when where".split()),
}
# Stemmers written for unaccented text: accents go before stemming ("régulation" → "regul", as "regulation").
_ACCENTS_FIRST = frozenset({"en", "nl"})


@functools.lru_cache(maxsize=None)
def _stop_words(language: str) -> frozenset[str]:
    from bm25s import stopwords

    lists = {"en": stopwords.STOPWORDS_EN_PLUS, "fr": stopwords.STOPWORDS_FRENCH, "de": stopwords.STOPWORDS_GERMAN,
             "es": stopwords.STOPWORDS_SPANISH, "it": stopwords.STOPWORDS_ITALIAN, "pt": stopwords.STOPWORDS_PORTUGUESE,
             "nl": stopwords.STOPWORDS_DUTCH}
    return frozenset(word.lower() for word in lists.get(language, ())) | _QUESTION_WORDS.get(language, frozenset())


@functools.lru_cache(maxsize=None)
def _stemmer(language: str):  # type: ignore[no-untyped-def]
    import Stemmer

    name = _STEMMER_NAMES.get(language)
    return Stemmer.Stemmer(name) if name else None


def analyse(text: str, language: str) -> list[str]:
    """The terms BM25 sees for a text in `language`, in order, repeats kept."""
    return _stems(_content_words(text, _stop_words(language)), language)


def analyse_words(text: str, language: str) -> list[tuple[int, int, str]]:
    """(start, end, term) of each word of the text that BM25 would keep, with the term it becomes: where in a
    sentence the question's terms stand."""
    stop = _stop_words(language)
    found = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
    kept = [(start, end, word) for start, end, word in found if word not in stop and word not in _ELIDED and (len(word) > 1 or word.isdigit())]
    terms = _stems([word for _, _, word in kept], language)
    return [(start, end, term) for (start, end, _), term in zip(kept, terms)]


def analyse_query(text: str, languages: Iterable[str]) -> list[str]:
    """Distinct terms of a question analysed in each language: without the stop words of any of them (the
    English stemmer must not keep French "pour", "le"), then the stems of each, each once."""
    languages = list(languages)
    words = _content_words(text, frozenset().union(*(_stop_words(language) for language in languages)))
    return list(dict.fromkeys(term for language in languages for term in _stems(words, language)))


def _content_words(text: str, stop: frozenset[str]) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in stop and w not in _ELIDED and (len(w) > 1 or w.isdigit())]


def _stems(words: list[str], language: str) -> list[str]:
    if language in _ACCENTS_FIRST:
        words = [_strip_accents(w) for w in words]
    stemmer = _stemmer(language)
    if stemmer is not None:
        words = stemmer.stemWords(words)
    return [_strip_accents(w) for w in words]


def _strip_accents(word: str) -> str:
    if word.isascii():
        return word
    return "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")


class LexicalIndex:
    """BM25 scores of every passage: row r of the bm25s matrix is passage ids[r] (ids ascending)."""

    IDS_FILE = "passage_ids.npy"

    def __init__(self, retriever: object, ids: np.ndarray) -> None:
        self._retriever = retriever
        self.ids = ids

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def build(cls, passage_terms: Sequence[list[str]], ids: Sequence[int] | None = None) -> "LexicalIndex":
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        ids_array = np.arange(len(passage_terms), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if np.any(np.diff(ids_array) <= 0):
            raise ValueError("passage ids must be ascending")
        retriever = bm25s.BM25()  # Lucene's variant, k1=1.5, b=0.75
        # An empty passage still needs a row so that rows stay aligned with ids.
        retriever.index([terms or [""] for terms in passage_terms] or [[""]], show_progress=False)
        return cls(retriever, ids_array)

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        import bm25s

        try:
            retriever = bm25s.BM25.load(str(directory), mmap=False)
            ids = np.load(directory / cls.IDS_FILE, allow_pickle=False)
        except Exception as exc:  # bm25s raises whatever numpy or json raise on a damaged file
            raise IndexCorrupt(
                f"the lexical index {directory} is damaged ({type(exc).__name__}: {exc}); rebuild the index with `healthqa build`"
            ) from None
        return cls(retriever, ids)

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory))  # type: ignore[attr-defined]
        np.save(directory / self.IDS_FILE, self.ids, allow_pickle=False)

    def search(self, terms: Sequence[str], k: int, allowed_ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best-scoring passages that contain at least one term, best first."""
        vocabulary: dict[str, int] = self._retriever.vocab_dict  # type: ignore[attr-defined]
        term_ids = [vocabulary[t] for t in terms if t in vocabulary]
        if not term_ids or k < 1 or self.size == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores = self._retriever.get_scores_from_ids(term_ids)[: self.size]  # type: ignore[attr-defined]
        if allowed_ids is not None:
            allowed = np.asarray(allowed_ids, dtype=np.int64)
            rows = np.searchsorted(self.ids, allowed)
            inside = rows < self.size
            rows, allowed = rows[inside], allowed[inside]
            rows = rows[self.ids[rows] == allowed]  # ids that are not indexed have no row
            mask = np.zeros(len(scores), dtype=bool)
            mask[rows] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, int(np.count_nonzero(scores)))
        if k == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top].astype(np.float32), self.ids[top]
