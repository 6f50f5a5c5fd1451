"""healthqa: question answering with cited sources over health-industry news articles.

    >>> from healthqa import search
    >>> hits = search("What are pharma companies' digital-health priorities?", k=5)
    >>> hits[0].article.title, hits[0].article.url, hits[0].text
    >>> from healthqa import answer
    >>> reply = answer("Quelles sont les priorités des laboratoires en santé numérique ?")
    >>> reply.text, [(c.marker, c.article.title, c.sentence) for c in reply.citations]
    >>> from healthqa import extract
    >>> report = extract("https://example.org/news/some-article")   # or a file path
    >>> report.indexed, report.reason, report.article.title, [p.text for p in report.passages]
"""

from .answer import Assistant, answer
from .build import add, build, remove
from .embed import Encoder
from .errors import (
    ConfigError,
    HealthQAError,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    IndexProblem,
    SourceError,
)
from .index import Index, Manifest, search
from .inspection import extract
from .records import Answer, Article, BuildReport, Citation, Filters, Hit, PageReport, Passage, Skipped
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Article",
    "Assistant",
    "BuildReport",
    "Citation",
    "ConfigError",
    "Encoder",
    "Filters",
    "HealthQAError",
    "Hit",
    "Index",
    "IndexCorrupt",
    "IndexMismatch",
    "IndexMissing",
    "IndexProblem",
    "Manifest",
    "PageReport",
    "Passage",
    "Settings",
    "Skipped",
    "SourceError",
    "add",
    "answer",
    "build",
    "extract",
    "remove",
    "search",
]
