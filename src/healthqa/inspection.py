"""One page → what the index would store for it, or why it would skip it: `healthqa extract` and `extract()`.

Runs exactly what a build runs on one page (reading or downloading, extraction and skip rules, passage cutting
with the configured model's tokens), so that site owners can check their pages before building."""

from __future__ import annotations

from pathlib import Path

from .build import make_passages
from .embed import Encoder
from .errors import SourceError
from .extract import read_html, read_page
from .records import PageReport
from .settings import Settings


def extract(source: str | Path, *, settings: Settings | None = None, encoder: Encoder | None = None) -> PageReport:
    """The article and passages the index would store for a file or an http(s) URL, or the reason it would be
    skipped. Raises SourceError when the page cannot be read or downloaded at all (no such file, HTTP 404…).
    A URL is read as a page, even a feed or a home page (`healthqa add` would follow those)."""
    settings = settings or Settings.from_env()
    name = str(source)
    if name.startswith(("http://", "https://")):
        from .fetch import FetchLimits, fetch

        document = fetch(name, FetchLimits(allow_private=True, max_bytes=settings.max_page_bytes))
        data, url = document.body, document.final_url
    else:
        data, url = read_page(Path(name), settings.max_page_bytes), None
    try:
        article, evidence = read_html(data, source=name, settings=settings, url=url)
    except SourceError as exc:
        return PageReport(name, reason=exc.reason)
    encoder = encoder or Encoder(settings.model, batch_size=settings.batch_size)
    passages = tuple(new.passage for new in make_passages([article], encoder, settings)[0])
    return PageReport(name, article, passages, evidence=evidence.to_dict())
