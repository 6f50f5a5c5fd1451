"""Retrieved passages → the sentences an answer quotes: each sentence scored on its closeness to the question,
the question's rare words it contains (stemmed as for BM25), the strength of its passage and whether it holds
what the question asks for (a name, a figure, a date); the best one then brings the sentences that complete it.

Pure functions of the question, the hits and the sentences' vectors: the encoder is the caller's."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .language import reply_language
from .lexical import analyse, analyse_query, analyse_words
from .passages import sentence_spans
from .questions import (
    DATE, NUMBER, OTHER, WHO, Span, agent_spans, asked_measure, asks_reason, counted_noun, defined_term, defines, gives_reason,
    holds_kind, kind_spans, measure_spans, question_kind,
)
from .records import Hit
from .terms import fold, named_terms, vocabulary


@dataclass(frozen=True, slots=True)
class Limits:
    """How much an answer may quote (Settings.answer_sentences, answer_words, answer_margin)."""

    sentences: int = 4
    words: int = 62  # unless the best sentence alone is longer
    margin: float = 5.0  # how far below the best score a further sentence may be and still be quoted
    # A further sentence nearly as good as the best (within `close` of its weighted score, about 0.15 of closeness)
    # may take the answer to `close_words`: when two sentences score alike, the better one is often the wrong one
    # (README, "Answers"). Sentences come best first, so such sentences may leave no room for the others.
    close: float = 1.0
    close_words: int = 75


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a retrieved passage: offsets inside the hit's text."""

    hit: Hit
    start: int
    end: int
    paragraph: int  # sentences of one paragraph share it, so that a continuation is found

    @property
    def text(self) -> str:
        return self.hit.text[self.start : self.end]

    @property
    def key(self) -> tuple[str, int]:
        """Position in the article: the same sentence in two overlapping passages has one key."""
        return (self.hit.article.id, self.hit.passage.start + self.start)


@dataclass(frozen=True, slots=True)
class Quote:
    """A stretch of one passage the answer quotes: one sentence, or a sentence with what completes it."""

    hit: Hit
    start: int
    end: int
    score: float

    @property
    def text(self) -> str:
        return self.hit.text[self.start : self.end]


_ANNOUNCES = re.compile(r":\s*$|\b(?:suivant(?:e|s|es)?|following|as follows|ci-dessous|below)\W*$", re.IGNORECASE)
# A short sentence that counts what comes next: "Trois objectifs se détachent.", "Three priorities stand out."
_COUNTS = re.compile(r"\b(?:two|three|four|five|several|deux|trois|quatre|cinq|plusieurs)\b", re.IGNORECASE)
_DIGIT = re.compile(r"\d")  # "She received five pulses of IVMP (30 mg/kg/day)." reports; it does not announce
_ASKS_FOR_SEVERAL = re.compile(r"\b(?:what|which)\s+(?:are|were)\b|\b(?:quels|quelles)\b|\blist\b", re.IGNORECASE)
_WORD_REST = re.compile(r"(?:[-'’]\w+)*")
_LIST_ITEM = re.compile(r"^\s*(?:[-–—•*·]|\d+[.)]|[a-z][.)])\s+")
# A sentence that opens on a pronoun or a demonstrative speaks of what the sentence before it names: "It enrolled
# 312 patients.", "They were found by Blackthorn Labs.", "Elle sera dirigée par…".
_REFERS_BACK = re.compile(
    r"^\W*(?:it|its|they|their|he|his|she|her|this|these|those|such|"
    r"il|elle|ils|elles|son|sa|ses|leur|leurs|ce|cet|cette|ces|celui-ci|celle-ci|celui-là|celle-là)\b",
    re.IGNORECASE,
)


# What a sentence is scored on, in the order of FEATURE_WEIGHTS.
FEATURES = (
    "closeness",  # cosine of the sentence's vector to the question's
    "closeness_across",  # the same for a sentence in another language than the question's, else 0
    "terms",  # the question's stemmed terms the sentence holds, each weighted by its rarity among the candidates
    "terms_nearby",  # the same, counting the sentences just before and after it in its passage
    "terms_beyond_title",  # the same, counting only terms that the article's title does not already hold
    "terms_referred",  # the same, adding the sentence before when this one refers back to it ("It enrolled…")
    "pairs",  # share of the question's pairs of consecutive terms found consecutive in the sentence
    "passage",  # the passage's retrieval score relative to the best passage's
    "passage_rank",  # 1 / the passage's rank
    "kind",  # holds a name, figure, date or place when the question asks for one
    "kind_missing",  # holds none when the question asks for one
    "kind_near_terms",  # holds one within a few words of a question term ("led by Harrowgate", "312 patients")
    "defines",  # reads like a definition of the term a "what is X?" question asks about
    "new_words",  # share of its terms the question does not hold (low: it restates the question)
    "length",  # log of its word count
    "across_languages",  # in another language than the question's; weight 0, it only feeds closeness_across
    "leads_into_list",  # announces a list or leads into one, when the question asks for several things
    "names_held",  # share of the question's names (capitalised words) that its passage or article title holds
    "prefixes",  # like terms, with stems compared by their first PREFIX letters: derived forms and cognates
    "measure",  # asked for money, a share, a duration or a count: 1 if it holds a figure of that sort, -1 if not
    "reason",  # asked why: 1 if it states a cause or a purpose ("because", "due to", "afin de"), -1 if not
)
# One weight per feature (eval/fit_answers.py): fitted by maximising, over each question, the softmax probability of
# the sentences that hold a gold answer phrase, on the sample questions, the dev halves of PIAF and COVID-QA and our
# cross-language sets, every question counted alike, without a penalty on the weights (a penalty lost 3-8 points of
# first-quote accuracy on the half of the questions the fit did not see). A non-linear model (gradient-boosted trees)
# did no better on questions it had not seen (README, "Answers"). The weight for leads_into_list is not fitted:
# such sentences are too rare in the labelled sets. 6 lets a list's announcement win over a sentence that only names
# the topic (the Techtomed study's three objectives, asked in French or English); against 4, make eval-real gains one
# sample answer and leaves every real set's figures as they were (a short counting sentence holding a figure, "She
# received five pulses of IVMP (30 mg/kg/day).", no longer counts as an announcement: at 5 and 6 it had cost a
# COVID-QA answer). across_languages is held at 0: fitted, it learnt a preference for the other language from the
# sample questions' own mix of language pairs (half of them ask across), which a user's questions do not share; held
# at 0, every set scores the same within a question. names_held (2026-12-03), fitted on one half and scored on the
# other, each way: PIAF +0.024 / +0.012 of best sentences, COVID-QA -0.003 / +0.009, sample 0 / +0.045, EN over
# PIAF 0 / -0.043 (one question of 23); refitted on all, make eval-real gains PIAF 0.675 -> 0.698 answers. prefixes
# (2026-12-03) alone fitted, the others kept: on the unseen half, each way, every set gains or stays (PIAF +1 / 0
# questions, EN over PIAF 0 / +1, COVID-QA +4 / 0, FR over COVID-QA +1 / +1, sample 0 / +3); refitting every weight
# with it gained more on the unseen halves' best sentences but gave 5 answers fewer in make eval-real (PIAF -2,
# COVID-QA -5, FR over COVID-QA -1, EN over PIAF +2, sample +1).
# measure (2026-12-03) alone fitted, the others kept (2.17 and 1.82 on each half, 2.01 on all): on the unseen half,
# each way, best sentences of the sample +0.113 / +0.067, FR over COVID-QA 0 / +0.045, EN over PIAF -0.043 / +0.043,
# PIAF 0 / 0, COVID-QA +0.003 / -0.003. Few real questions ask for a sort of figure (PIAF 9 of 169, COVID-QA 29
# of 687, the sample 54 of 89); the feature is neutral on the others.
# reason (2026-12-03) alone fitted, the others kept (0.73 and 2.12 on each half, 1.2 on all): on the unseen half,
# each way, COVID-QA +1 / 0 best sentences, EN over PIAF 0 / +1, the others unchanged; make eval-real: PIAF +1
# answer and first quote. Few questions ask why (COVID-QA 35 of 687, PIAF 5 of 169, the sample none).
FEATURE_WEIGHTS = (6.53, 2.76, -1.71, 1.74, 3.02, 2.53, 4.51, 6.18, -0.44, 1.45, -0.45, 1.04, 3.52, 5.35, 0.16, 0.0, 6.0, 2.22, 0.79, 2.01, 1.2)
# Sentences encoded to measure their closeness: the best by every other feature. Encoding is most of an answer's
# time; on the labelled sets, 12 of the 23-37 candidates give the same answers within one question (README).
SHORTLIST = 12
# Stems compared by their first letters for `prefixes`: "fructifié"/"fructification", "mycelia"/"mycéliums" (README).
PREFIX = 5
_ACROSS = FEATURES.index("across_languages")
_TERMS, _PREFIXES = FEATURES.index("terms"), FEATURES.index("prefixes")


def candidate_sentences(hits: Sequence[Hit]) -> list[Sentence]:
    """Every sentence of the hits once (overlapping passages repeat some), questions and scraps left out."""
    sentences: list[Sentence] = []
    seen: set[tuple[str, int]] = set()
    for hit in hits:
        for number, (position, paragraph) in enumerate(_paragraphs(hit.text)):
            for span in sentence_spans(paragraph, position):
                sentence = Sentence(hit, span.start, span.end, number)
                text = sentence.text
                if sentence.key in seen or len(text.split()) < 3 or text.rstrip("»”\"' ").endswith("?"):
                    continue
                seen.add(sentence.key)
                sentences.append(sentence)
    return sentences


# A paragraph break inside a sentence: what comes before it does not end a sentence and what follows starts in
# lower case. Pages made from PDFs break lines so ("…the same effect on the\n\nreproduction number…").
_BROKEN_LINE = re.compile(r"(?<![.!?:;»”\"')\]])\n\n(?=[a-zà-ÿ(])")


def _paragraphs(text: str) -> list[tuple[int, str]]:
    """(offset, text) of each paragraph of a passage; a break inside a sentence does not end a paragraph."""
    breaks = [m.start() for m in re.finditer("\n\n", text) if not _BROKEN_LINE.match(text, m.start())]
    return [(start, text[start:end]) for start, end in zip([0, *(b + 2 for b in breaks)], [*breaks, len(text)])]


def shortlist(features: np.ndarray, size: int = SHORTLIST, weights: Sequence[float] = FEATURE_WEIGHTS) -> list[int]:
    """The sentences worth encoding: the best `size` by every feature but closeness, in their original order."""
    partial = features[:, 2:] @ np.asarray(weights[2:])
    return sorted(int(i) for i in np.argsort(-partial, kind="stable")[:size])


def choose_quotes(
    sentences: Sequence[Sentence],
    features: np.ndarray,
    closeness: np.ndarray,
    *,
    limits: Limits = Limits(),
    weights: Sequence[float] = FEATURE_WEIGHTS,
) -> list[Quote]:
    """The quotes of the answer, best first: the best sentence with what completes it, then the next best ones
    within the margin while the answer stays short, up to `close_words` for those nearly as good as the best (a
    further sentence that refers back is quoted alone when the sentence it refers to leaves no room). A sentence
    whose closeness is NaN (not encoded) is never quoted for itself, but may complete a quote; nor is a further
    sentence in the question's language that holds none of its terms ("Sales never came close to plan."), unless
    it joins a quote."""
    if not sentences:
        return []
    scored = features.copy()
    scored[:, 0] = np.nan_to_num(closeness, nan=0.0)
    scored[:, 1] = scored[:, 0] * features[:, _ACROSS]
    scores = list(np.where(np.isnan(closeness), -np.inf, scored @ np.asarray(weights)))
    order = sorted(range(len(sentences)), key=lambda i: -scores[i])
    best = order[0]
    quotes = [_completed(sentences, best, scores[best])]
    used = _covered(sentences, quotes[0])
    budget = max(limits.words, _word_count(quotes[0].text))
    spent = _word_count(quotes[0].text)
    for i in order[1:]:
        if len(quotes) >= limits.sentences or not scores[i] >= scores[best] - limits.margin:
            break
        if i in used:
            continue
        quote = _completed(sentences, i, scores[i])
        room = max(budget, limits.close_words) if scores[i] >= scores[best] - limits.close else budget
        joined = [(n, stretch) for n, q in enumerate(quotes) if (stretch := _joined(q, quote)) is not None]
        if not joined and _fills(features[i]):
            continue
        if joined:  # next to, or running into, a quote already chosen: that quote grows into one stretch
            n, quote = joined[0]
            size = _word_count(quote.text) - _word_count(quotes[n].text)
        else:
            size = _word_count(quote.text)
            alone = sentences[i]
            if spent + size > room and quote.start < alone.start:  # no room for what it refers to: the sentence alone
                quote = Quote(alone.hit, alone.start, max(alone.end, quote.end), scores[i])
                size = _word_count(quote.text)
        covered = _covered(sentences, quote)
        if spent + size > room or len(joined) > 1 or (not joined and covered & used):
            continue
        if joined:
            quotes[n] = quote
        else:
            quotes.append(quote)
        used |= covered
        spent += size
    return quotes


def _fills(row: np.ndarray) -> bool:
    """A sentence in the question's language that holds none of its terms, even by their first letters: quoted
    apart it fills the answer, it does not answer (a sentence in another language cannot share words with it)."""
    return row[_ACROSS] == 0 and row[_TERMS] == 0 and row[_PREFIXES] == 0


def _joined(quote: Quote, other: Quote) -> Quote | None:
    """One stretch of both quotes when they overlap or only white space separates them; None otherwise."""
    if quote.hit is not other.hit:
        return None
    first, second = sorted((quote, other), key=lambda q: q.start)
    if second.start > first.end and quote.hit.text[first.end : second.start].strip():
        return None
    return Quote(quote.hit, first.start, max(first.end, second.end), quote.score)


def sentence_features(question: str, sentences: Sequence[Sentence], *, languages: Sequence[str]) -> np.ndarray:
    """One row per sentence, one column per name in FEATURES; the closeness columns, which need the encoder, are
    left at 0 for choose_quotes to fill."""
    kind = question_kind(question)
    language = reply_language(question)
    asked = set(analyse_query(question, languages))
    asked_pairs = _pairs(_query_sequence(question, languages))
    defined = defined_term(question)
    sequences = [analyse(s.text, s.hit.article.language or languages[0]) for s in sentences]
    stems = [set(sequence) for sequence in sequences]
    rarity = _rarity(asked, stems)
    total = sum(rarity.values()) or 1.0
    titles = {
        s.hit.article.id: set(analyse(s.hit.article.title, s.hit.article.language or languages[0])) for s in sentences
    }
    beyond_total = {article: sum(rarity.get(t, 0.0) for t in asked - title) or 1.0 for article, title in titles.items()}
    best_passage = max(s.hit.score for s in sentences) or 1.0
    several = bool(_ASKS_FOR_SEVERAL.search(question))
    held_names = _names_held(question, [s.hit for s in sentences])
    asked_prefixes = {t[:PREFIX] for t in asked if len(t) >= PREFIX}
    prefixes = [{t[:PREFIX] for t in held if len(t) >= PREFIX} for held in stems]
    prefix_rarity = _rarity(asked_prefixes, prefixes)
    prefix_total = sum(prefix_rarity.values()) or 1.0
    measure = asked_measure(question)
    reason = asks_reason(question)
    rows = []
    for i, (sentence, held) in enumerate(zip(sentences, stems)):
        title = titles[sentence.hit.article.id]
        around = (stems[j] for j in (i - 1, i + 1) if 0 <= j < len(sentences) and sentences[j].hit is sentence.hit)
        nearby = held.union(*around)
        referred = [stems[i - 1]] if _antecedent(sentences, i) is not None else []
        holds = kind != OTHER and holds_kind(sentence.text, kind, question)
        rows.append((
            0.0,
            0.0,
            sum(rarity.get(term, 0.0) for term in held) / total,
            sum(rarity.get(term, 0.0) for term in nearby) / total,
            sum(rarity.get(term, 0.0) for term in held - title) / beyond_total[sentence.hit.article.id],
            sum(rarity.get(term, 0.0) for term in held.union(*referred)) / total,
            len(asked_pairs & _pairs(sequences[i])) / len(asked_pairs) if asked_pairs else 0.0,
            sentence.hit.score / best_passage,
            1.0 / sentence.hit.rank,
            float(holds),
            float(kind != OTHER and not holds),
            float(holds and _kind_near_terms(sentence, kind, question, (asked - title) or asked)),
            float(bool(defined) and defines(sentence.text, defined)),
            len(held - asked) / len(held) if held else 0.0,
            math.log(1 + len(sentence.text.split())),
            float((sentence.hit.article.language or language) != language),
            float(several and _leads_into_list(sentences, i)),
            held_names[id(sentence.hit)],
            sum(prefix_rarity.get(t, 0.0) for t in prefixes[i]) / prefix_total,
            (1.0 if measure_spans(sentence.text, measure) else -1.0) if measure else 0.0,
            (1.0 if gives_reason(sentence.text) else -1.0) if reason else 0.0,
        ))
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def short_answer(question: str, quote: Quote, *, languages: Sequence[str], reach: int = 30) -> tuple[int, int] | None:
    """Offsets, in the quote's passage, of the name, figure, date or place in the quote that answers the question:
    the one nearest a question term, within `reach` characters of it. None when the question asks for an
    explanation, or nothing of the kind stands next to what the question speaks of: a wrong short answer in
    bold would mislead more than none."""
    kind = question_kind(question)
    if kind == OTHER:
        return None
    text = quote.text
    language = quote.hit.article.language or languages[0]
    asked = set(analyse_query(question, languages))
    words = analyse_words(text, language)
    if kind == WHO and (agents := agent_spans(text, question)):  # "led by Harrowgate Ventures"
        return quote.start + agents[0].start, quote.start + agents[0].end
    # Terms of the article's title say which story, not which detail: "Cambridge" stands next to "Kestrel" in
    # every sentence about Kestrel, and answers nothing.
    beyond_title = asked - set(analyse(quote.hit.article.title, language))
    places = [(start, end) for start, end, term in words if term in (beyond_title or asked)]
    counted = set(analyse_query(counted_noun(question), languages))
    if kind == NUMBER and counted:  # "how many patients": the figure must count patients ("312 patients", not "phase 2")
        counting = [(span, end) for span in kind_spans(text, kind, question) if (end := _counts(text, span, words, counted))]
        if not counting:
            return None
        span, end = counting[0]
        return quote.start + span.start, quote.start + end
    spans = kind_spans(text, kind, question)
    if kind == NUMBER:  # a day or a year is not an amount: "a annoncé le 23 juin 2025 une levée de 38 millions"
        dates = kind_spans(text, DATE)
        spans = [span for span in spans if not any(date.start <= span.start and span.end <= date.end for date in dates)]
        measured = set(measure_spans(text, asked_measure(question)))  # asked what it cost, "€95", not "43%"
        spans = [span for span in spans if span in measured] or spans
    near = [
        (distance, span)
        for span in spans
        for start, end in places
        if not (start < span.end and end > span.start)  # "Series A" is not near "Series B" by holding "Series"
        and (distance := max(span.start - end, start - span.end, 0)) <= reach
    ]
    if not near:
        return None
    chosen = min(near, key=lambda pair: (pair[0], pair[1].start))[1]
    end = chosen.end
    following = [w for w in words if w[0] >= end and not text[end : w[0]].strip()]
    if kind == NUMBER and following and following[0][2] in asked:
        end = following[0][1]  # "312 patients" when the question asks how many patients
    return quote.start + chosen.start, quote.start + end


def _counts(text: str, span: Span, words: Sequence[tuple[int, int, str]], counted: set[str]) -> int | None:
    """Where the counted noun ends when it follows the figure, no punctuation between and either only stop words
    or a single word ("312 patients", "aucun de ces éléments", "312 adult patients"); else None."""
    for index, (start, end, term) in enumerate(w for w in words if w[0] >= span.end):
        between = text[span.end : start]
        if re.search(r"[.;:!?,()]", between) or (index and len(re.findall(r"\w+", between)) > 1):
            return None
        if term in counted:  # the whole word, "start-ups" and not "start"
            return end + len(_WORD_REST.match(text, end).group())
    return None


def _kind_near_terms(sentence: Sentence, kind: str, question: str, terms: set[str], reach: int = 30) -> bool:
    """Whether a name, figure or date of the kind asked for stands within `reach` characters of a question term
    ("312 patients"), or, asked who, a name is the agent of the sentence ("led by Harrowgate Ventures"): what the
    question asks is then likely that very thing."""
    text = sentence.text
    if kind == WHO and agent_spans(text, question):
        return True
    places = [(start, end) for start, end, term in analyse_words(text, sentence.hit.article.language or "en") if term in terms]
    return any(
        start - reach <= span.end and span.start <= end + reach
        for span in kind_spans(text, kind, question)
        for start, end in places
    )


def _names_held(question: str, hits: Sequence[Hit]) -> dict[int, float]:
    """By id() of each hit: the share of the question's names that its text or its article's title holds."""
    names = {fold(name) for name in named_terms(question)}
    if not names:
        return {id(hit): 0.0 for hit in hits}
    unique = {id(hit): hit for hit in hits}  # a passage's sentences share its hit: its words are read once
    return {key: len(names & vocabulary([hit.text, hit.article.title])) / len(names) for key, hit in unique.items()}


def _query_sequence(question: str, languages: Sequence[str]) -> list[str]:
    """The question's terms in order, in each language in turn ('' between languages, so no pair spans two)."""
    return [term for language in languages for term in [*analyse(question, language), ""]]


def _pairs(sequence: Sequence[str]) -> set[tuple[str, str]]:
    return {(a, b) for a, b in zip(sequence, sequence[1:]) if a and b and a != b}


def _rarity(asked: Sequence[str], stems: Sequence[set[str]]) -> dict[str, float]:
    """Inverse sentence frequency of each question term among the candidate sentences that hold any: a term in
    every sentence (the topic) tells less about which sentence answers than a term in one."""
    count = len(stems)
    rarity = {}
    for term in asked:
        frequency = sum(term in held for held in stems)
        if frequency:
            rarity[term] = math.log(1 + count / frequency)
    return rarity


def announces(text: str) -> bool:
    """A sentence that introduces what follows: it ends with a colon ("The three goals are:"), or says "the
    following", or is short and counts ("Trois objectifs se détachent.")."""
    return bool(_ANNOUNCES.search(text)) or (len(text.split()) <= 8 and bool(_COUNTS.search(text)) and not _DIGIT.search(text))


def _leads_into_list(sentences: Sequence[Sentence], index: int) -> bool:
    following = _following(sentences, index)
    return announces(sentences[index].text) or bool(following and announces(following[0].text))


def _following(sentences: Sequence[Sentence], index: int) -> list[Sentence]:
    """The sentences after this one in its passage (the candidates keep each passage's sentences in order)."""
    sentence = sentences[index]
    return [s for s in sentences[index + 1 :] if s.hit is sentence.hit]


def _completed(sentences: Sequence[Sentence], index: int, score: float) -> Quote:
    """A sentence that announces what follows ("Three objectives stand out.") brings the sentences of its
    paragraph, or the list items, that come after it; a sentence followed by such an announcement brings both.
    A sentence that refers back ("It enrolled 312 patients.") brings the sentence it refers to."""
    antecedent = _antecedent(sentences, index)
    start = antecedent.start if antecedent is not None else sentences[index].start
    sentence = sentences[index]
    following = _following(sentences, index)
    if not announces(sentence.text) and following and announces(following[0].text):
        sentence, following = following[0], following[1:]
    end = sentence.end
    if announces(sentence.text):
        for other in following[:3]:
            if other.paragraph != sentence.paragraph and not _LIST_ITEM.match(other.text):
                break
            end = other.end
    return Quote(sentence.hit, start, end, score)


def refers_back(text: str) -> bool:
    """Whether a sentence opens on a pronoun or a demonstrative ("It enrolled…", "Cette étude…")."""
    return bool(_REFERS_BACK.match(text))


def _antecedent(sentences: Sequence[Sentence], index: int) -> Sentence | None:
    """The sentence just before this one in its paragraph, when this one refers back to it."""
    sentence = sentences[index]
    if index == 0 or not refers_back(sentence.text):
        return None
    previous = sentences[index - 1]
    if previous.hit is not sentence.hit or sentence.hit.text[previous.end : sentence.start].strip():
        return None
    return previous


def _covered(sentences: Sequence[Sentence], quote: Quote) -> set[int]:
    return {
        i for i, s in enumerate(sentences)
        if s.hit.article.id == quote.hit.article.id
        and s.hit.passage.start + s.start < quote.hit.passage.start + quote.end
        and s.hit.passage.start + s.end > quote.hit.passage.start + quote.start
    }


def _word_count(text: str) -> int:
    return len(text.split())
