"""The records that flow through the pipeline: plain frozen dataclasses, no behaviour beyond conversion."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Article:
    """One news article as extracted from a page; `text` holds its paragraphs and headings, blank-line separated."""

    id: str
    url: str
    title: str
    text: str
    site: str = ""
    author: str = ""
    date: str = ""  # ISO date (YYYY-MM-DD) or empty when the page gives none
    language: str = ""  # ISO 639-1 code
    source: str = ""  # where it was read from (file path or URL)
    also_at: tuple[str, ...] = ()  # URLs (or files) where the same story was also published, e.g. a wire story

    def to_dict(self, *, with_text: bool = True) -> dict[str, Any]:
        data = asdict(self)
        data["also_at"] = list(self.also_at)
        if not with_text:
            del data["text"]
        return data


@dataclass(frozen=True, slots=True)
class Passage:
    """A sentence-aligned span of an article's text: `text == article.text[start:end]`."""

    article_id: str
    position: int  # order of the passage inside its article, from 0
    text: str
    start: int
    end: int
    heading: str = ""  # the section heading the passage sits under, if any


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage retrieved for a query, with the article it belongs to."""

    text: str
    score: float  # what the ranking used: fused dense and lexical evidence (see fusion.py)
    rank: int  # 1 for the best hit
    passage: Passage
    article: Article
    similarity: float = 0.0  # cosine similarity of the passage to the question, comparable across questions

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "similarity": round(float(self.similarity), 6),
            "text": self.text,
            "heading": self.passage.heading,
            "position": self.passage.position,
            "start": self.passage.start,
            "end": self.passage.end,
            "article": self.article.to_dict(with_text=False),
        }


@dataclass(frozen=True, slots=True)
class Filters:
    """Narrow retrieval to some sites, languages or a date range (ISO dates, both ends included)."""

    sites: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""

    def __bool__(self) -> bool:
        return bool(self.sites or self.languages or self.date_from or self.date_to)


@dataclass(frozen=True, slots=True)
class Citation:
    """Ties one answer sentence to the passage it is quoted from: `passage.text[start:end] == sentence`."""

    marker: int  # the [n] shown after the sentence; sentences from one passage share it
    sentence: str
    start: int
    end: int
    passage: Passage
    article: Article

    @property
    def shown(self) -> str:
        """The sentence on one line, as the answer shows it: pages made from PDFs break lines inside sentences."""
        return " ".join(self.sentence.split())

    def to_dict(self) -> dict[str, Any]:
        return {
            "marker": self.marker,
            "sentence": self.sentence,
            "start": self.start,
            "end": self.end,
            "passage": self.passage.text,
            "heading": self.passage.heading,
            "article": self.article.to_dict(with_text=False),
        }


@dataclass(frozen=True, slots=True)
class ShortAnswer:
    """The name, figure or date that answers the question, inside one quoted sentence:
    `citation.passage.text[start:end] == text` for the citation whose marker it carries."""

    text: str
    marker: int
    start: int  # within the cited passage's text
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "marker": self.marker, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to a question: text with [n] markers, its citations, the hits it drew on."""

    question: str
    text: str
    language: str  # language of the question, used for everything the product writes itself
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    abstained: bool
    note: str = ""  # a remark for the user, e.g. the question's language is not supported
    short_answer: ShortAnswer | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "language": self.language,
            "abstained": self.abstained,
            "note": self.note,
            "short_answer": self.short_answer.to_dict() if self.short_answer else None,
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
        }


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input that was not indexed, and why."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did: counts, time and every skipped input with its reason."""

    index_dir: str
    articles: int
    passages: int
    seconds: float
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)
    # Seconds spent in each stage: extract, split, encode, index, write.
    timings: dict[str, float] = field(default_factory=dict)
    unchanged: bool = False  # True when nothing changed and the index was kept as it was
    added: int = 0  # articles new to the index
    replaced: int = 0  # articles whose page changed, re-extracted
    removed: int = 0  # articles gone from their folder, or removed on request
    also_published: int = 0  # pages stored as "also published at" of an article already indexed
    embedded: int = 0  # passages run through the encoder; the others came from the embedding cache

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["timings"] = {stage: round(seconds, 3) for stage, seconds in self.timings.items()}
        return data


@dataclass(frozen=True, slots=True)
class PageReport:
    """What the index would store for one page (its article and passages), or why it would skip it (`reason`),
    with the evidence the skip rules weighed (word counts, declared page type, lines dropped)."""

    source: str
    article: Article | None = None
    passages: tuple[Passage, ...] = ()
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def indexed(self) -> bool:
        return self.article is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "indexed": self.indexed,
            "reason": self.reason,
            "article": self.article.to_dict() if self.article else None,
            "passages": [
                {"position": p.position, "heading": p.heading, "start": p.start, "end": p.end, "text": p.text}
                for p in self.passages
            ],
            "evidence": self.evidence,
        }
