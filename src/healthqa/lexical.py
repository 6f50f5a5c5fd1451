"""Lexical retrieval: BM25 over words folded the way each language needs: lower case, elisions (l', d', qu')
and stop words off, Snowball stems, accents off. The only module that imports bm25s (for its stop-word lists)
and PyStemmer.

The index is a list of segments (a large one and small recent ones, see segments.py), each holding postings
(passage, count of the term, length of the passage) and no precomputed score: the document frequencies and
the average length are those of the whole index (all segments, less the removed passages) and are applied
at query time, so a passage scores exactly as it would in one index built from scratch. The formula is
Lucene's BM25 (k1 = 1.5, b = 0.75), as bm25s computed it for the previous format.

A passage is analysed in its article's language; a question in every indexed language at once, so that a
French question still matches the English stem of a shared word ("régulation"/"regulation" → "regul")."""

from __future__ import annotations

import functools
import math
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


def stop_words(language: str) -> frozenset[str]:
    """Every word BM25 drops in `language`: its stop list, question words and elided particles (for another
    engine's analyser, so that both engines drop the same words)."""
    return _stop_words(language) | _ELIDED


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


def query_terms_by_language(text: str, languages: Iterable[str]) -> dict[str, list[str]]:
    """The question's terms in order, repeats kept, as each language's passages were analysed (the stop words
    of every language off, as in analyse_query): where the question's words stand next to each other."""
    languages = list(languages)
    words = _content_words(text, frozenset().union(*(_stop_words(language) for language in languages)))
    return {language: _stems(words, language) for language in languages}


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



K1 = 1.5
B = 0.75
# The length-normalised term counts of the most asked terms are kept once computed, up to this many postings
# (4 bytes each): a search then costs what it cost with bm25s's precomputed scores.
CACHE_POSTINGS = 16_000_000
_MAX_COUNT = 65_535  # term counts and passage lengths are stored as 16-bit integers (a passage has ~100 terms)


class LexicalSegment:
    """Postings of one segment, term by term: the rows (positions in `ids`, ascending passage ids) that contain
    the term, the term's count in each and each one's length. Immutable once built or loaded."""

    FILES = ("ids.npy", "lengths.npy", "indptr.npy", "rows.npy", "tf.npy", "dl.npy")
    TERMS = "terms.txt"

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, terms: list[str], indptr: np.ndarray, rows: np.ndarray,
                 tf: np.ndarray, dl: np.ndarray) -> None:
        self.ids, self.lengths, self.terms = ids, lengths, terms
        self.indptr, self.rows, self.tf, self.dl = indptr, rows, tf, dl
        self.vocabulary = {term: number for number, term in enumerate(terms)}

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def build(cls, passage_terms: Sequence[Sequence[str]], ids: Sequence[int] | np.ndarray | None = None) -> "LexicalSegment":
        count = len(passage_terms)
        ids_array = np.arange(count, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if ids_array.shape != (count,):
            raise ValueError(f"{len(ids_array)} ids for {count} passages")
        if np.any(np.diff(ids_array) <= 0):
            raise ValueError("passage ids must be ascending")
        lengths = np.fromiter((len(terms) for terms in passage_terms), dtype=np.int64, count=count)
        vocabulary: dict[str, int] = {}
        flat = np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for terms in passage_terms for t in terms),
                           dtype=np.int64, count=int(lengths.sum()))
        docs = np.repeat(np.arange(count, dtype=np.int64), lengths)
        keys, counts = np.unique(flat * max(count, 1) + docs, return_counts=True)  # by term, then by row
        del flat, docs
        term_of = keys // max(count, 1)
        rows = (keys - term_of * max(count, 1)).astype(np.int32)
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_of, minlength=len(vocabulary)), out=indptr[1:])
        tf = np.minimum(counts, _MAX_COUNT).astype(np.uint16)
        lengths = np.minimum(lengths, _MAX_COUNT).astype(np.uint16)
        return cls(ids_array, lengths, list(vocabulary), indptr, rows, tf, lengths[rows])

    @classmethod
    def load(cls, directory: Path) -> "LexicalSegment":
        try:
            arrays = [np.load(directory / name, allow_pickle=False) for name in cls.FILES]
            text = (directory / cls.TERMS).read_text(encoding="utf-8")
            terms = text.split("\n") if text else []
            ids, lengths, indptr, rows, tf, dl = arrays
            if len(indptr) != len(terms) + 1 or len(lengths) != len(ids) or not (len(rows) == len(tf) == len(dl) == indptr[-1]):
                raise ValueError("its arrays disagree on their lengths")
        except Exception as exc:  # numpy raises whatever a damaged file makes it raise
            raise IndexCorrupt(
                f"the lexical index {directory} is damaged ({type(exc).__name__}: {exc}); rebuild the index with `healthqa build`"
            ) from None
        return cls(ids, lengths, terms, indptr, rows, tf, dl)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, array in zip(self.FILES, (self.ids, self.lengths, self.indptr, self.rows, self.tf, self.dl)):
            np.save(directory / name, array, allow_pickle=False)
        (directory / self.TERMS).write_text("\n".join(self.terms), encoding="utf-8")

    @classmethod
    def merge(cls, segments: Sequence["LexicalSegment"], removed_ids: np.ndarray | Sequence[int] = ()) -> "LexicalSegment":
        """One segment holding the live passages of `segments` (ordered, ascending ids), from their postings:
        the same postings, lengths and so scores as a segment built from those passages' terms."""
        removed = np.unique(np.asarray(removed_ids, dtype=np.int64))
        vocabulary: dict[str, int] = {}
        parts_terms, parts_rows, parts_tf, parts_dl, ids_parts, length_parts = [], [], [], [], [], []
        offset = 0
        for segment in segments:
            keep = np.ones(segment.size, dtype=bool)
            keep[_rows_of(segment.ids, removed)] = False
            new_row = np.cumsum(keep) - 1 + offset  # old row -> new row (for kept rows)
            global_term = np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for t in segment.terms), dtype=np.int64, count=len(segment.terms))
            term_of = np.repeat(global_term, np.diff(segment.indptr))
            kept = keep[segment.rows]
            parts_terms.append(term_of[kept])
            parts_rows.append(new_row[segment.rows[kept]])
            parts_tf.append(segment.tf[kept])
            parts_dl.append(segment.dl[kept])
            ids_parts.append(segment.ids[keep])
            length_parts.append(segment.lengths[keep])
            offset += int(keep.sum())
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
        if np.any(np.diff(ids) <= 0):
            raise ValueError("segments to merge must hold ascending, distinct passage ids")
        terms = np.concatenate(parts_terms) if parts_terms else np.zeros(0, dtype=np.int64)
        rows = np.concatenate(parts_rows) if parts_rows else np.zeros(0, dtype=np.int64)
        order = np.lexsort((rows, terms))
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(vocabulary)), out=indptr[1:])
        return cls(ids, np.concatenate(length_parts).astype(np.uint16) if length_parts else np.zeros(0, np.uint16),
                   list(vocabulary), indptr, rows[order].astype(np.int32), np.concatenate(parts_tf)[order] if parts_tf else np.zeros(0, np.uint16),
                   np.concatenate(parts_dl)[order] if parts_dl else np.zeros(0, np.uint16))


class LexicalIndex:
    """BM25 over segments searched together, less removed passages (`removed_ids`, which may lie in any
    segment): the statistics of the whole live index score every segment."""

    def __init__(self, segments: Sequence[LexicalSegment], removed_ids: np.ndarray | Sequence[int] = ()) -> None:
        self.segments = list(segments)
        removed = np.unique(np.asarray(removed_ids, dtype=np.int64))
        self._dead: list[np.ndarray | None] = []  # per segment: bool mask of removed rows, or None
        self._dead_df: list[dict[int, int]] = [{} for _ in self.segments]
        live, length = 0, 0
        for segment in self.segments:
            rows = _rows_of(segment.ids, removed)
            mask = None
            if len(rows):
                mask = np.zeros(segment.size, dtype=bool)
                mask[rows] = True
            self._dead.append(mask)
            live += segment.size - len(rows)
            length += int(segment.lengths.sum(dtype=np.int64)) - int(segment.lengths[rows].sum(dtype=np.int64))
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._cached = 0
        self.size = live
        self.average_length = length / live if live else 1.0

    @classmethod
    def build(cls, passage_terms: Sequence[Sequence[str]], ids: Sequence[int] | None = None) -> "LexicalIndex":
        return cls([LexicalSegment.build(passage_terms, ids)])

    def document_frequency(self, term: str) -> int:
        """Live passages containing the term, in all segments."""
        total = 0
        for number, segment in enumerate(self.segments):
            local = segment.vocabulary.get(term)
            if local is None:
                continue
            start, end = int(segment.indptr[local]), int(segment.indptr[local + 1])
            total += end - start
            mask = self._dead[number]
            if mask is not None:
                cached = self._dead_df[number].get(local)
                if cached is None:
                    cached = self._dead_df[number][local] = int(np.count_nonzero(mask[segment.rows[start:end]]))
                total -= cached
        return total

    def _saturation(self, number: int, local: int, start: int, end: int) -> np.ndarray:
        """tf / (tf + k1 (1 - b) + k1 b dl / avgdl) of one term's postings in one segment (bm25s's "lucene"
        variant, float32 as bm25s stored it), kept for the next queries while the cache has room."""
        key = (number, local)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        tf = self.segments[number].tf[start:end].astype(np.float32)
        denominator = self.segments[number].dl[start:end].astype(np.float32)
        denominator *= np.float32(K1 * B / self.average_length)
        denominator += np.float32(K1 * (1 - B))
        denominator += tf
        tf /= denominator
        if self._cached + len(tf) <= CACHE_POSTINGS:
            self._cache[key] = tf
            self._cached += len(tf)
        return tf

    def idf(self, term: str) -> float:
        return bm25_idf(self.document_frequency(term), self.size)

    def search(self, terms: Sequence[str], k: int, allowed_ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best-scoring live passages that contain at least one term, best first."""
        weights = [(term, self.idf(term)) for term in terms]
        weights = [(term, weight) for term, weight in weights if weight > 0]
        if not weights or k < 1 or self.size == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        allowed = None if allowed_ids is None else np.unique(np.asarray(allowed_ids, dtype=np.int64))
        found_scores, found_ids = [], []
        for number, segment in enumerate(self.segments):
            scores: np.ndarray | None = None
            for term, weight in weights:
                local = segment.vocabulary.get(term)
                if local is None:
                    continue
                start, end = int(segment.indptr[local]), int(segment.indptr[local + 1])
                contribution = self._saturation(number, local, start, end) * np.float32(weight)
                if scores is None:
                    scores = np.zeros(segment.size, dtype=np.float32)
                np.add.at(scores, segment.rows[start:end], contribution)
            if scores is None:
                continue
            if self._dead[number] is not None:
                scores[self._dead[number]] = 0.0
            if allowed is not None:
                mask = np.zeros(segment.size, dtype=bool)
                mask[_rows_of(segment.ids, allowed)] = True
                scores = np.where(mask, scores, np.float32(0.0))
            best = min(k, int(np.count_nonzero(scores)))
            if best == 0:
                continue
            top = np.argpartition(-scores, best - 1)[:best]
            found_scores.append(scores[top])
            found_ids.append(segment.ids[top])
        if not found_scores:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, ids = np.concatenate(found_scores), np.concatenate(found_ids)
        order = np.lexsort((ids, -scores))[:k]  # best first; equal scores by id, whichever segment holds them
        return scores[order].astype(np.float32), ids[order]


def bm25_idf(passages_with_term: int, passages: int) -> float:
    """BM25's idf (Lucene's, never negative); 0 for a term no passage holds."""
    if not passages_with_term:
        return 0.0
    return math.log(1 + (passages - passages_with_term + 0.5) / (passages_with_term + 0.5))


def _rows_of(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions in `ids` (ascending) of those `wanted` ids it holds."""
    if len(wanted) == 0 or len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.searchsorted(ids, wanted)
    inside = rows < len(ids)
    rows, wanted = rows[inside], wanted[inside]
    return rows[ids[rows] == wanted]
