"""Pages → Articles. The only module that knows trafilatura: it owns decoding, extraction, metadata and the
rules that decide whether a page is an article at all."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import trafilatura
from lxml.etree import _Element

from .errors import SourceError
from .language import detect_language
from .records import Article
from .settings import Settings

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
ARTICLE_PAGE_TYPES = ("article", "posting", "news", "report")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_MARKUP = re.compile(r"<\s*(html|head|body|article|main|div|p|h1|title)\b", re.IGNORECASE)
_CONSENT_WORDS = re.compile(r"\b(cookies?|consent\w*|traceurs?|accept\w*)\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def iter_html_files(sources: Iterable[str | Path]) -> Iterator[Path]:
    """Files named directly are yielded whatever their suffix (to be judged by content); folders are walked
    recursively for HTML files only, in a stable order."""
    for source in sources:
        path = Path(source)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in HTML_SUFFIXES)
        elif path.is_file():
            yield path
        else:
            raise SourceError(str(source), "no such file or folder")


def extract_file(path: Path, settings: Settings) -> Article:
    """Read and extract one file; raises SourceError with the reason when it is not a usable article."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(str(path), f"cannot read file ({exc.strerror or exc})") from None
    return extract_html(data, source=str(path), settings=settings)


def extract_html(data: bytes | str, *, source: str, settings: Settings, url: str | None = None) -> Article:
    """Turn one page into an Article, or explain (SourceError) why it is not one."""
    html = data if isinstance(data, str) else decode_html(data, source)
    if not html.strip():
        raise SourceError(source, "empty file")
    if not _MARKUP.search(html[:65536]):
        raise SourceError(source, "not an HTML page (no HTML markup found)")
    tree = trafilatura.load_html(html)
    if tree is None:
        raise SourceError(source, "could not be parsed as HTML")
    declared_language = _declared_language(tree)
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_formatting=False,
            favor_precision=True,
        )
    except Exception as exc:  # trafilatura and lxml raise many types on hostile input
        raise SourceError(source, f"extraction failed ({type(exc).__name__}: {exc})") from None
    if document is None or document.body is None:
        raise SourceError(source, "no main text found: an empty page or not an article")

    title = _clean(document.title or "")
    text = _body_text(document.body, title)
    words = len(text.split())
    if words < settings.min_words and len(_CONSENT_WORDS.findall(text)) >= 2:
        raise SourceError(source, f"cookie or consent wall: {words} words of text, mostly about consent")
    page_type = (document.pagetype or "").lower()
    if page_type and not any(kind in page_type for kind in ARTICLE_PAGE_TYPES):
        raise SourceError(source, f"not an article (the page declares its type as '{document.pagetype}')")
    if words < settings.min_words:
        raise SourceError(source, f"too little text to be an article ({words} words, minimum {settings.min_words})")

    language = declared_language or detect_language(text)
    if language not in settings.languages:
        raise SourceError(
            source, f"language '{language}' is not among the indexed languages ({', '.join(settings.languages)})"
        )
    page_url = document.url or url or ""
    return Article(
        id=article_id(page_url, text),
        url=page_url,
        title=title or _first_words(text),
        text=text,
        site=_clean(document.sitename or document.hostname or ""),
        author=_clean(document.author or ""),
        date=document.date or "",
        language=language,
        source=source,
    )


def decode_html(data: bytes, source: str) -> str:
    """UTF-8 first, then the charset the page declares; anything else is reported, never guessed silently."""
    if b"\x00" in data[:8192]:
        raise SourceError(source, "binary file, not an HTML page")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(data[:8192])
    if declared:
        charset = declared.group(1).decode("ascii", "replace")
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise SourceError(source, f"undecodable bytes: not valid UTF-8 nor the declared charset '{charset}'") from None
    raise SourceError(source, "undecodable bytes: not valid UTF-8 and no charset declared")


def article_id(url: str, text: str) -> str:
    """Stable across builds: from the canonical URL when there is one, else from the text."""
    key = url.strip().lower().rstrip("/") if url else _SPACE.sub(" ", text).strip()
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def text_fingerprint(text: str) -> str:
    """Identifies exact duplicates whatever their whitespace."""
    return hashlib.sha1(_SPACE.sub(" ", text).strip().lower().encode("utf-8")).hexdigest()


def _body_text(body: _Element, title: str) -> str:
    """Paragraphs and headings of trafilatura's main-content tree; headings become Markdown '## ' lines."""
    blocks: list[str] = []
    for element in body:
        if element.tag == "head":
            heading = _clean("".join(element.itertext()))
            if heading and heading != title:
                blocks.append(f"## {heading}")
        elif element.tag == "list":
            blocks.extend(_clean("".join(item.itertext())) for item in element.iter("item"))
        elif element.tag == "table":
            rows = (" | ".join(_clean("".join(cell.itertext())) for cell in row) for row in element.iter("row"))
            blocks.extend(rows)
        else:
            blocks.append(_clean("".join(element.itertext())))
    blocks = [block for block in blocks if block and block != title]
    while blocks and blocks[-1].startswith("## "):
        blocks.pop()
    return "\n\n".join(blocks)


def _declared_language(tree: _Element) -> str:
    candidates = [tree.get("lang") or ""]
    candidates += tree.xpath('//meta[@property="og:locale"]/@content')
    candidates += tree.xpath('//meta[@http-equiv="content-language" or @http-equiv="Content-Language"]/@content')
    for value in candidates:
        code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
        if re.fullmatch(r"[a-z]{2}", code):
            return code
    return ""


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _first_words(text: str, count: int = 12) -> str:
    return " ".join(text.split()[:count])
