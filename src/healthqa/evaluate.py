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
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SourceError
from .fusion import FUSIONS
from .index import Index
from .language import reply_language
from .records import Article, Hit

if TYPE_CHECKING:
    from .answer import Assistant

_SPACE = re.compile(r"\s+")


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
    """The comparison rule of the labelled sets: Unicode NFKC, lower case, curly apostrophes as ', whitespace collapsed."""
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
    """How often answers cite an expected article, how often they abstain, whether every quote is verbatim."""
    rows: dict[str, list[float]] = defaultdict(list)
    latencies = []
    quotes = verbatim = 0
    for question in questions:
        started = time.perf_counter()
        reply = assistant.answer(question.question)
        latencies.append(time.perf_counter() - started)
        for citation in reply.citations:
            quotes += 1
            verbatim += (
                citation.passage.text[citation.start : citation.end] == citation.sentence
                and citation.passage.text == citation.article.text[citation.passage.start : citation.passage.end]
            )
        if not question.answerable:
            rows["unanswerable_abstained"].append(float(reply.abstained))
            continue
        rows["answerable_answered"].append(float(not reply.abstained))
        first_ok = bool(reply.citations) and question.expects(reply.citations[0].article)
        any_ok = any(question.expects(c.article) for c in reply.citations)
        for group in ("all", question.language):
            rows[f"{group}:first_citation_expected"].append(float(first_ok))
            rows[f"{group}:any_citation_expected"].append(float(any_ok))
    report: dict[str, Any] = {name: round(sum(values) / len(values), 4) for name, values in sorted(rows.items())}
    report["quotes"] = quotes
    report["quotes_verbatim"] = verbatim
    report["latency_ms_p50"] = round(1000 * statistics.median(latencies), 1) if latencies else None
    return report
