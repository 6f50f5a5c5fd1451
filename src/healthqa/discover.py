"""What a URL is, and the article pages it leads to: an article itself, a feed's entries, a sitemap's pages, or
for a home page the feeds it links to and the site's /sitemap.xml. Downloads go through fetch.py; nothing here
knows the index."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree

from .errors import SourceError
from .extract import ARTICLE_PAGE_TYPES, declared_page_type, feed_links, is_article_html
from .fetch import Fetched, FetchLimits, fetch


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a URL turned out to be, and the article pages it leads to."""

    url: str
    kind: str  # "article", "RSS feed", "Atom feed", "sitemap", "sitemap index", "home page", "page"
    pages: tuple[str, ...]  # article page URLs, de-duplicated, in the order found, at most max_pages
    # Pages downloaded while deciding (an article given directly), so they are not downloaded twice.
    fetched: dict[str, Fetched] = field(default_factory=dict)
    followed: tuple[str, ...] = ()  # feeds and sitemaps read on the way
    problems: tuple[SourceError, ...] = ()  # feeds or child sitemaps that failed; the others were used


def discover(
    url: str,
    limits: FetchLimits = FetchLimits(),
    *,
    max_pages: int = 500,
    max_feeds: int = 3,
    max_sitemaps: int = 20,
    min_words: int = 120,
) -> Discovery:
    """Find the article pages behind a URL: a feed's entries, a sitemap's pages (child sitemaps followed, at
    most max_sitemaps), an article itself, or for a home page the feeds it links to and /sitemap.xml.

    Raises SourceError when the URL cannot be fetched, or is a feed or sitemap that lists no pages."""
    document = fetch(url, limits)
    pages = _Pages(max_pages)
    followed: list[str] = [url]
    problems: list[SourceError] = []
    listing = _read_listing(document)
    if listing is not None:
        if listing.kind == "sitemap index":
            _follow_sitemaps(listing.links, limits, pages, followed, problems, max_sitemaps)
        elif listing.kind:
            pages.extend(listing.links)
        else:
            raise SourceError(url, f"an XML document that is neither a feed nor a sitemap (root <{listing.root}>)")
        if not pages.urls:
            raise SourceError(url, f"nothing to index: the {listing.kind} lists no pages")
        return Discovery(url, listing.kind, pages.urls, followed=tuple(followed), problems=tuple(problems))

    html = document.text()
    if _is_article(html, document.final_url, min_words):
        return Discovery(url, "article", (url,), {url: document})

    # A home or section page: its feeds first (fresh articles), then the site's sitemap (all of them).
    feeds = feed_links(html, document.final_url, url)[:max_feeds]
    site = urlsplit(document.final_url)
    guess = f"{site.scheme}://{site.netloc}/sitemap.xml"
    for candidate in [*feeds, guess]:
        if pages.full or candidate in followed:
            continue
        try:
            found = _read_listing(fetch(candidate, limits))
        except SourceError as exc:
            if candidate != guess:  # a missing guessed sitemap is no problem of the source
                problems.append(exc)
            continue
        if found is None or not found.kind:
            continue
        followed.append(candidate)
        if found.kind == "sitemap index":
            _follow_sitemaps(found.links, limits, pages, followed, problems, max_sitemaps)
        else:
            pages.extend(found.links)
    if pages.urls:
        return Discovery(url, "home page", pages.urls, followed=tuple(followed), problems=tuple(problems))
    # Neither an article by its looks nor a page leading to any: the extractor will say what it is.
    return Discovery(url, "page", (url,), {url: document}, tuple(followed), tuple(problems))


def iter_documents(
    sources: Iterable[str],
    limits: FetchLimits = FetchLimits(),
    *,
    max_pages: int = 500,
    min_words: int = 120,
) -> Iterator[tuple[str, Fetched | SourceError]]:
    """Each article page behind the sources, fetched, or the SourceError saying why it could not be; one dead
    URL never stops the others. At most max_pages pages in all, each at most once."""
    seen: set[str] = set()
    left = max_pages
    for source in sources:
        if left <= 0:
            yield source, SourceError(source, f"not read: the limit of {max_pages} pages (max_pages) was reached")
            continue
        try:
            found = discover(source, limits, max_pages=left, min_words=min_words)
        except SourceError as exc:
            yield source, exc
            continue
        for problem in found.problems:
            yield problem.source, problem
        for page in found.pages:
            if page in seen or left <= 0:
                continue
            seen.add(page)
            left -= 1
            result: Fetched | SourceError | None = found.fetched.get(page)
            if result is None:
                try:
                    result = fetch(page, limits)
                except SourceError as exc:
                    result = exc
            yield page, result


# --- feeds and sitemaps -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Listing:
    kind: str  # "RSS feed", "Atom feed", "sitemap", "sitemap index"; "" for other XML
    links: tuple[str, ...]  # absolute, in document order
    root: str = ""


class _Pages:
    """The discovered pages: absolute http(s) URLs, without fragments, each once, at most `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._urls: dict[str, None] = {}

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(self._urls)

    @property
    def full(self) -> bool:
        return len(self._urls) >= self.limit

    def extend(self, links: Iterable[str]) -> None:
        for link in links:
            if self.full:
                return
            self._urls[link] = None


def _read_listing(document: Fetched) -> _Listing | None:
    """The links of a feed or sitemap; None when the document is not XML (HTML, or XHTML, is for the caller).

    Parsed with lxml, not trafilatura's feed and sitemap helpers: those drop links to IP addresses and
    localhost, and take a feed's own home link for an entry. The parser resolves no entities (no XXE, no
    billion laughs), loads no DTD and reaches no network."""
    head = document.body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<") or re.match(rb"<!doctype\s+html|<html", head, re.IGNORECASE):
        return None
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(document.body, parser)
    except etree.XMLSyntaxError:
        return None
    if root is None or not isinstance(root.tag, str):
        return None
    name = etree.QName(root).localname
    base = document.final_url
    if name == "html":
        return None
    if name == "rss" or name == "RDF":
        links = [_rss_link(item) for item in root.iter() if _local(item) == "item"]
        return _Listing("RSS feed", _absolute(base, links))
    if name == "feed":
        entries = [_atom_link(entry) for entry in root.iter() if _local(entry) == "entry"]
        return _Listing("Atom feed", _absolute(base, entries))
    if name in ("urlset", "sitemapindex"):
        child = "url" if name == "urlset" else "sitemap"
        locs = [_child_text(item, "loc") for item in root if _local(item) == child]
        return _Listing("sitemap" if name == "urlset" else "sitemap index", _absolute(base, locs))
    return _Listing("", (), name)


def _follow_sitemaps(
    start: Iterable[str],
    limits: FetchLimits,
    pages: _Pages,
    followed: list[str],
    problems: list[SourceError],
    max_sitemaps: int,
) -> None:
    """Breadth first through nested sitemap indexes, each sitemap read once, at most max_sitemaps of them."""
    queue = deque(start)
    read = 0
    while queue and read < max_sitemaps and not pages.full:
        url = queue.popleft()
        if url in followed:
            continue
        followed.append(url)
        read += 1
        try:
            listing = _read_listing(fetch(url, limits))
        except SourceError as exc:
            problems.append(exc)
            continue
        if listing is None or listing.kind not in ("sitemap", "sitemap index"):
            problems.append(SourceError(url, "listed in a sitemap index but not a sitemap"))
        elif listing.kind == "sitemap index":
            queue.extend(listing.links)
        else:
            pages.extend(listing.links)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child_text(element: etree._Element, name: str) -> str:
    for child in element:
        if _local(child) == name and child.text:
            return child.text.strip()
    return ""


def _rss_link(item: etree._Element) -> str:
    """<link> (RSS 2.0 and 1.0), else rdf:about, else a permalink <guid>."""
    link = _child_text(item, "link")
    if link:
        return link
    about = next((value for key, value in item.attrib.items() if key.endswith("}about")), "")
    if about:
        return about
    for child in item:
        if _local(child) == "guid" and child.get("isPermaLink", "true") != "false" and child.text:
            return child.text.strip()
    return ""


def _atom_link(entry: etree._Element) -> str:
    """The entry's alternate link, an HTML one first."""
    links = [child for child in entry if _local(child) == "link" and child.get("rel", "alternate") == "alternate"]
    links.sort(key=lambda link: "html" not in link.get("type", "text/html"))
    return (links[0].get("href") or "").strip() if links else ""


def _absolute(base: str, links: Iterable[str]) -> tuple[str, ...]:
    result: dict[str, None] = {}
    for link in links:
        if not link:
            continue
        try:
            absolute = urldefrag(urljoin(base, link))[0]
        except ValueError:
            continue
        if urlsplit(absolute).scheme in ("http", "https"):
            result[absolute] = None
    return tuple(result)


def _is_article(html: str, url: str, min_words: int) -> bool:
    """An article by its declared type, else by the same evidence extraction weighs (running text); a site's
    root is a home page whatever it holds."""
    try:
        page_type = declared_page_type(html, url)
    except SourceError:  # not parsed as HTML
        return False
    except Exception:  # trafilatura and lxml raise many types on hostile input: let extraction judge
        return True
    if any(kind in page_type for kind in ARTICLE_PAGE_TYPES):
        return True
    if urlsplit(url).path in ("", "/"):
        return False
    return is_article_html(html, url, min_words)
