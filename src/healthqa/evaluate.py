"""Measure retrieval and answers on a labelled question file (JSON Lines), by language pair.

One object per line: `question` (required), `answers` (phrases as they appear in the article), `articles`
(expected article ids or URLs), `answerable` (default true), `language` (detected when absent). Unknown fields
are ignored."""

from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SourceError
from .fusion import FUSIONS
from .index import Index
from .language import reply_language
from .records import Answer, Article, Citation, Hit

if TYPE_CHECKING:
    from .answer import Assistant

_SPACE = re.compile(r"\s+")
_ARTICLES = frozenset("a an the le la les l un une des du de d".split())


@dataclass(frozen=True, slots=True)
class Question:
    question: str
    answers: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()
    answerable: bool = True
    language: str = ""

    def expects(self, article: Article) -> bool:
        wanted = {a.strip().rstrip("/").lower() for a in self.articles}
        return article.id.lower() in wanted or article.url.rstrip("/").lower() in wanted


def load_questions(path: str | Path) -> list[Question]:
    questions = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(str(path), f"cannot read the question file ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            text = data["question"].strip()
        except (ValueError, KeyError, AttributeError, TypeError):
            raise SourceError(f"{path}:{number}", "not a JSON object with a 'question' string") from None
        questions.append(
            Question(
                question=text,
                answers=tuple(data.get("answers") or ()),
                articles=tuple(data.get("articles") or ()),
                answerable=bool(data.get("answerable", True)),
                language=data.get("language") or reply_language(text),
            )
        )
    return questions


def normalise(text: str) -> str:
    """Unicode NFKC, lower case, curly apostrophes straight, white space collapsed: how gold phrases are matched."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return _SPACE.sub(" ", text).strip()


def is_relevant(hit: Hit, question: Question) -> bool:
    """A passage containing one of the answer phrases or, when none is given, from an expected article."""
    if question.answers:
        passage = normalise(hit.text)
        return any(normalise(phrase) in passage for phrase in question.answers)
    return question.expects(hit.article)


def first_rank(hits: Sequence[Hit], question: Question, by_article: bool = False) -> int | None:
    for hit in hits:
        if (question.expects(hit.article) if by_article else is_relevant(hit, question)):
            return hit.rank
    return None


def evaluate_retrieval(
    index: Index,
    questions: Sequence[Question],
    *,
    ks: Sequence[int] = (1, 5, 10),
    by_article: bool = False,
    search: Callable[[str, int], list[Hit]] | None = None,
) -> dict[str, Any]:
    """recall@k and MRR@10 overall, by question language and by question→article language pair; with
    `by_article`, a hit counts when it comes from an expected article (hit@k)."""
    search = search or (lambda text, k: index.search(text, k))
    depth = max(max(ks), 10)
    groups: dict[str, list[int | None]] = defaultdict(list)
    latencies = []
    for question in questions:
        if not question.answerable:
            continue
        started = time.perf_counter()
        hits = search(question.question, depth)
        latencies.append(time.perf_counter() - started)
        rank = first_rank(hits, question, by_article)
        target = _article_language(index, question)
        for group in ("all", question.language, f"{question.language}->{target}"):
            groups[group].append(rank)
    report = {group: _scores(ranks, ks) for group, ranks in sorted(groups.items())}
    report["latency_ms_p50"] = round(1000 * statistics.median(latencies), 2) if latencies else None
    return report


def compare_retrieval(
    index: Index, questions: Sequence[Question], *, ks: Sequence[int] = (1, 5, 10), by_article: bool = False
) -> dict[str, dict[str, Any]]:
    """The same report for BM25 alone, dense alone and each way of fusing them, the configured one first."""
    configured = f"hybrid:{index.settings.fusion}"
    names = [configured, "lexical", "dense"] + [f"hybrid:{name}" for name in FUSIONS if f"hybrid:{name}" != configured]
    reports = {}
    for name in names:
        mode, _, fusion = name.partition(":")

        def search(text: str, k: int, mode: str = mode, fusion: str = fusion) -> list[Hit]:
            return index.search(text, k, retrieval=mode, fusion=fusion or None)

        reports[name] = evaluate_retrieval(index, questions, ks=ks, by_article=by_article, search=search)
    return reports


def _scores(ranks: list[int | None], ks: Sequence[int]) -> dict[str, float]:
    scores: dict[str, float] = {"questions": len(ranks)}
    for k in ks:
        scores[f"recall@{k}"] = round(sum(1 for r in ranks if r is not None and r <= k) / len(ranks), 4)
    scores["mrr@10"] = round(sum(1 / r for r in ranks if r is not None and r <= 10) / len(ranks), 4)
    return scores


def _article_language(index: Index, question: Question) -> str:
    languages = {index.store.article_language(reference) or "?" for reference in question.articles}
    return "/".join(sorted(languages)) or "?"


def evaluate_answers(assistant: "Assistant", questions: Sequence[Question]) -> dict[str, Any]:
    """What the user reads, by question language and language pair: how often the answer text contains a gold
    phrase, how often its first quoted sentence does, how often the retrieved passages do (the ceiling), how long
    answers are, how often the assistant abstains; the short answer's exact match and token F1; latency."""
    outcomes: dict[str, list[AnswerOutcome]] = defaultdict(list)
    unanswerable: list[bool] = []
    latencies: list[float] = []
    quotes = verbatim = 0
    index = assistant.index
    for question in questions:
        started = time.perf_counter()
        reply = assistant.answer(question.question)
        latencies.append(time.perf_counter() - started)
        quotes += len(reply.citations)
        verbatim += sum(_is_verbatim(citation) for citation in reply.citations)
        if not question.answerable:
            unanswerable.append(reply.abstained)
            continue
        retrieved = index.search(question.question, assistant.settings.answer_passages)
        outcome = _answer_outcome(question, reply, retrieved)
        target = _article_language(index, question)
        pairs = [f"{question.language}->{target}"] if target != "?" else []  # no pair without expected articles
        for group in ("all", question.language, *pairs):
            outcomes[group].append(outcome)
    report: dict[str, Any] = {"groups": {group: _answer_scores(rows) for group, rows in sorted(outcomes.items())}}
    report["unanswerable"] = {
        "questions": len(unanswerable),
        "abstained": round(sum(unanswerable) / len(unanswerable), 4) if unanswerable else None,
    }
    report["quotes"] = quotes
    report["quotes_verbatim"] = verbatim
    report["latency_ms_p50"] = _percentile_ms(latencies, 50)
    report["latency_ms_p95"] = _percentile_ms(latencies, 95)
    return report


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    """One answerable question's answer, judged by the gold phrases (and expected articles, when given)."""

    contains: bool  # the answer text contains a gold phrase
    first_sentence: bool  # its first quoted sentence does
    retrieved: bool  # the passages retrieved for the question do: the ceiling for an extractive answer
    words: int
    abstained: bool
    first_citation_expected: bool | None  # None when the question names no expected article
    short_given: bool
    short_exact: float
    short_f1: float


def _answer_outcome(question: Question, reply: "Answer", retrieved: Sequence[Hit]) -> AnswerOutcome:
    text = read_text(reply)
    first = reply.citations[0].sentence if reply.citations else ""
    short = reply.short_answer.text if reply.short_answer else ""
    expected = None
    if question.articles:
        expected = bool(reply.citations) and question.expects(reply.citations[0].article)
    return AnswerOutcome(
        contains=contains_answer(text, question.answers),
        first_sentence=contains_answer(first, question.answers),
        retrieved=any(is_relevant(hit, question) for hit in retrieved),
        words=len(text.split()),
        abstained=reply.abstained,
        first_citation_expected=expected,
        short_given=bool(short),
        short_exact=max((float(_squad_normal(short) == _squad_normal(g)) for g in question.answers), default=0.0) if short else 0.0,
        short_f1=max((token_f1(short, g) for g in question.answers), default=0.0) if short else 0.0,
    )


def _answer_scores(rows: list[AnswerOutcome]) -> dict[str, Any]:
    def share(values: Iterable[bool | float]) -> float:
        values = list(values)
        return round(sum(values) / len(values), 4) if values else 0.0

    answered = [row for row in rows if not row.abstained]
    with_articles = [row.first_citation_expected for row in rows if row.first_citation_expected is not None]
    return {
        "questions": len(rows),
        "answer_contains": share(row.contains for row in rows),
        "first_sentence_contains": share(row.first_sentence for row in rows),
        "retrieved_contains": share(row.retrieved for row in rows),
        "median_words": statistics.median(row.words for row in answered) if answered else 0,
        "abstained": share(row.abstained for row in rows),
        "short_given": share(row.short_given for row in rows),
        "short_exact": share(row.short_exact for row in rows),
        "short_f1": share(row.short_f1 for row in rows),
        "first_citation_expected": share(with_articles) if with_articles else None,
    }


def read_text(reply: "Answer") -> str:
    """The answer's quotes as the user reads them, without the [n] markers the answer adds: a paper's own
    reference numbers ("insulin [39] and heparin [40]") are part of what it quotes and stay."""
    return "" if reply.abstained else " ".join(citation.shown for citation in reply.citations)


def contains_answer(text: str, phrases: Sequence[str]) -> bool:
    """The rule of the evaluation: one of the phrases appears in the text, both normalised."""
    haystack = normalise(text)
    return bool(haystack) and any(normalise(phrase) and normalise(phrase) in haystack for phrase in phrases)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token overlap F1 (lower case, punctuation and articles off)."""
    predicted, wanted = _squad_normal(prediction).split(), _squad_normal(gold).split()
    common = sum((Counter(predicted) & Counter(wanted)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def _squad_normal(text: str) -> str:
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in normalise(text))
    return " ".join(word for word in text.split() if word not in _ARTICLES)


def _is_verbatim(citation: Citation) -> bool:
    passage = citation.passage
    return passage.text[citation.start : citation.end] == citation.sentence and passage.text == citation.article.text[passage.start : passage.end]


def _percentile_ms(seconds: Sequence[float], percent: int) -> float | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    return round(1000 * ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))], 1)
