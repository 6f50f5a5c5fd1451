"""Articles → Passages: sentence-aligned spans of the article text, sized in the embedding model's tokens.

Pure functions: the token counter is passed in, so this module knows nothing of any model."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .records import Article, Passage

TokenCounter = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! ? … (optionally followed by closing quotes or brackets), then white space, then
# something that can open a sentence. Abbreviations and initials are checked separately.
_BOUNDARY = re.compile(r"""[.!?…]+(?:[\u00a0\u202f ]?["'»”’)\]])*\s+(?=["'«“‘(\[]?\s?[A-ZÀ-ÖØ-Þ0-9])""")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt jr sr inc ltd co corp no vs etc e.g i.e cf fig approx dept est "
    "m mme mmes mlle mm pr me art p pp vol env av apr j.-c".split()
)
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


def sentence_spans(text: str, offset: int = 0) -> list[Span]:
    """Sentences of one paragraph as spans (shifted by `offset`), without surrounding white space."""
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start : match.start() + 1]
        last_word = candidate.split()[-1].rstrip(".").lower() if candidate.split() else ""
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-zà-ÿ]", last_word) or re.fullmatch(r"(\w\.)+\w?", last_word):
            continue  # "Dr. Smith", "M. Dupont", "J. Martin", "U.S." do not end a sentence
        end = match.end()
        spans.append(_trimmed(text, start, end, offset))
        start = end
    if text[start:].strip():
        spans.append(_trimmed(text, start, len(text), offset))
    return [span for span in spans if span.end > span.start]


def split_sentences(text: str) -> list[str]:
    return [text[span.start : span.end] for span in sentence_spans(text)]


def split_passages(
    article: Article, count_tokens: TokenCounter, *, max_tokens: int, overlap_tokens: int
) -> list[Passage]:
    """Greedy packing of whole sentences up to `max_tokens`, carrying up to `overlap_tokens` of trailing
    sentences into the next passage. Passages never cross a heading; a sentence longer than the limit is cut
    at word boundaries so that nothing is ever truncated by the encoder."""
    passages: list[Passage] = []
    for heading, units in _sections(article.text):
        if not units:
            continue
        units, counts = _fit_units(article.text, units, count_tokens, max_tokens)
        first = 0
        while first < len(units):
            last, total = first, counts[first]
            while last + 1 < len(units) and total + counts[last + 1] <= max_tokens:
                last += 1
                total += counts[last]
            start, end = units[first].start, units[last].end
            passages.append(
                Passage(article.id, len(passages), article.text[start:end], start, end, heading)
            )
            if last + 1 >= len(units):
                break
            next_first, carried = last + 1, 0
            while next_first - 1 > first and carried + counts[next_first - 1] <= overlap_tokens:
                next_first -= 1
                carried += counts[next_first]
            first = next_first
    return passages


def _sections(text: str) -> list[tuple[str, list[Span]]]:
    """(heading, sentence spans) for each run of paragraphs between '## ' heading lines."""
    sections: list[tuple[str, list[Span]]] = [("", [])]
    position = 0
    for block in text.split("\n\n"):
        if block.startswith("## "):
            sections.append((block[3:].strip(), []))
        else:
            sections[-1][1].extend(sentence_spans(block, position))
        position += len(block) + 2
    return sections


def _fit_units(text: str, spans: list[Span], count_tokens: TokenCounter, max_tokens: int) -> tuple[list[Span], list[int]]:
    """Cut any sentence longer than the limit into word windows that fit; each unit with its token count
    (tokenizing is most of the cost of splitting, so each sentence is counted once)."""
    counts = count_tokens([text[s.start : s.end] for s in spans])
    fitted: list[Span] = []
    fitted_counts: list[int] = []
    for span, count in zip(spans, counts):
        if count <= max_tokens:
            fitted.append(span)
            fitted_counts.append(count)
            continue
        cut_from = len(fitted)
        words = [Span(m.start() + span.start, m.end() + span.start) for m in _WORD.finditer(text[span.start : span.end])]
        word_counts = count_tokens([text[w.start : w.end] for w in words])
        window_start, used = 0, 0
        for index, word_count in enumerate(word_counts):
            if used + word_count > max_tokens and index > window_start:
                fitted.append(Span(words[window_start].start, words[index - 1].end))
                window_start, used = index, 0
            used += word_count
        fitted.append(Span(words[window_start].start, words[-1].end))
        fitted_counts.extend(count_tokens([text[w.start : w.end] for w in fitted[cut_from:]]))
    return fitted, fitted_counts


def _trimmed(text: str, start: int, end: int, offset: int) -> Span:
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    return Span(offset + start + left, offset + start + right)
