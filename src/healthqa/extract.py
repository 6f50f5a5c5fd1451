"""Pages → Articles. The only module that imports trafilatura: it decides what text and metadata a page gives,
and whether the page is an article at all (the skip rules), each refusal with its reason. Discovery asks it for
a page's declared type and feeds, duplicates.py for its simhash.

Hostile input is expected (random bytes, binaries, wrong charsets, enormous or absurdly nested pages, entity
bombs): every page either becomes an Article or raises SourceError whose reason says, in one sentence, why it was
refused; pageguard.py refuses the hostile ones before they cost time or memory (tests/test_faults_ingest.py).

Extraction: trafilatura 2 with favor_precision, tables, no reader comments, fallback extractors on. Measured on
the real pages of ../shared/data/web-pages (bench/web_pages.py --compare): precision mode scores above the
defaults and favor_recall, and turning the fallbacks off ("fast") loses a tenth of the expected text; see README.
Then the main-content tree becomes blocks (pagetext.py); picture credits and "read also" lines are dropped; the
page's standfirst, shown on the page and given as its description but often left out by the extractor, is put
back first.

Skip rules, on evidence from the text itself (declared metadata alone never refuses a page with running text):
no main text; a consent wall; no running text (no paragraph of 15+ words in full sentences: listings, contact
and form pages); a declared non-article type (og:type "website"…) whose text is mostly not running text; a
text under settings.min_words that is not mostly running text (a news brief is kept, a few stray lines are
not); repetitive text; a language outside settings.languages."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import trafilatura
from htmldate import extractors as date_extractors
from lxml.etree import _Element
from lxml.html import Element
from trafilatura.deduplication import Simhash
from trafilatura.feeds import FeedParameters, determine_feed
from trafilatura.metadata import extract_metadata

from .errors import SourceError
from .language import detect_language, language_confidence
from .pageguard import (  # noqa: F401  (the limits are part of this module's interface)
    MAX_ATTRIBUTES,
    MAX_ELEMENTS,
    MAX_JSON_LD_CHARS,
    PARSER_MAX_DEPTH,
    check_markup,
    decode_html,
    drop_huge_json_ld,
    not_regular,
    os_reason,
    parser_gave_up,
    prepare_markup,
    too_large,
)
from .pagetext import RUNNING_MIN_WORDS, Block, blocks_of, clean, inline_text, is_page_furniture, render, running_words
from .records import Article
from .settings import Settings

if TYPE_CHECKING:
    import dateparser

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
# Declared page types (og:type, schema.org) that say "article", and those that say "not an article".
ARTICLE_PAGE_TYPES = ("article", "posting", "news", "report", "blog", "story")
NON_ARTICLE_PAGE_TYPES = ("website", "profile", "product", "video", "music", "book", "place", "business",
                          "collection", "contact", "search", "itemlist")
# Longest title, site name and author kept; a longer one is cut at a word boundary and ends with "…".
MAX_TITLE_CHARS = 300
MAX_NAME_CHARS = 200
# trafilatura's options, chosen by measurement on real pages (module docstring, README "Measured").
EXTRACTION_OPTIONS = {"favor_precision": True, "include_tables": True, "include_comments": False, "include_formatting": False}
# A page declaring a non-article type needs at least this share of its words in running text.
MIN_RUNNING_SHARE = 0.5
# A consent wall: a short text with at least this many words about cookies and consent.
CONSENT_MIN_MENTIONS = 3
# The language a page declares is overridden when the text, this long at least, is confidently in another.
LANGUAGE_CHECK_MIN_WORDS = 50
LANGUAGE_OVERRIDE_CONFIDENCE = 0.95
LANGUAGE_CHECK_CHARS = 2000  # enough for a confident identification, and half the time of 5,000
# A standfirst put back is at most this long (a longer element holding the description is the whole page).
MAX_LEAD_WORDS = 120
_MARKUP = re.compile(r"<\s*(html|head|body|article|main|div|p|h1|title)\b", re.IGNORECASE)
_CONSENT_WORDS = re.compile(r"\b(cookies?|consent\w*|traceurs?|accept\w*)\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ", " » ")
_PLACEHOLDER_AUTHORS = frozenset({"no author", "unknown", "admin", "administrator", "anonymous", "author", "n/a", "none"})
_DESCRIPTIONS = ('//meta[@name="description" or @property="og:description" or @name="twitter:description" '
                 'or @property="twitter:description"]/@content')
_LEAD_CANDIDATES = ('//body//*[self::p or self::div or self::span or self::section or self::header or self::h2]'
                    '[starts-with(normalize-space(.), $prefix)]')
# ISO 639-1 codes: a page declaring anything else (lang="xx-invalid") has its language detected instead.
_ISO_639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el "
    "en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu "
    "ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na "
    "nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so "
    "sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu".split()
)



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
    data = read_page(path, settings.max_page_bytes)
    return extract_html(data, source=str(path), settings=settings)


def read_page(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most max_bytes. Anything else (a folder, a pipe, a device, a larger
    file) is refused before it is read, so that reading never blocks nor takes unbounded memory."""
    source = str(path)
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer (it changes nothing for regular files).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SourceError(source, os_reason(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(source, not_regular(info.st_mode))
        if info.st_size > max_bytes:
            raise SourceError(source, too_large(info.st_size, max_bytes))
        chunks, size = [], 0
        while size <= max_bytes:  # the file may have grown since fstat
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise SourceError(source, too_large(size, max_bytes, at_least=True))
        return b"".join(chunks)
    except OSError as exc:
        raise SourceError(source, os_reason(exc)) from None
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the skip rules weighed: shown by `healthqa extract` so that a site owner sees why."""

    words: int  # in the extracted main text, before a standfirst is put back
    running_words: int  # of them, in paragraphs of running text (15+ words in full sentences)
    declared_type: str = ""  # og:type or schema.org type, as the page declares it
    lead_restored: bool = False  # the standfirst was missing from the extracted text and was put back
    dropped_lines: tuple[str, ...] = field(default_factory=tuple)  # picture credits, "read also" lines

    def to_dict(self) -> dict[str, object]:
        return {"words": self.words, "running_words": self.running_words, "declared_type": self.declared_type,
                "lead_restored": self.lead_restored, "dropped_lines": list(self.dropped_lines)}


def extract_html(data: bytes | str, *, source: str, settings: Settings, url: str | None = None) -> Article:
    """Turn one page into an Article, or explain (SourceError) why it is not one. Text counts one byte per
    character against settings.max_page_bytes."""
    return read_html(data, source=source, settings=settings, url=url)[0]


def read_html(data: bytes | str, *, source: str, settings: Settings, url: str | None = None) -> tuple[Article, Evidence]:
    """extract_html, with the evidence the skip rules weighed."""
    _read_dates_in(tuple(settings.languages))
    page = _parse(data, source, settings.max_page_bytes)
    extracted = _extract(page, source, url)
    reason = skip_reason(extracted, settings.min_words, settings.languages)
    if reason:
        raise SourceError(source, reason)
    text, language = extracted.text, extracted.language
    document = extracted.document
    page_url = document.url or url or ""
    site = clean(document.sitename or document.hostname or "")
    article = Article(
        id=article_id(page_url, text),
        url=page_url,
        title=_shorten(_headline(extracted.title, extracted.headlines, site, page_url) or _first_words(text), MAX_TITLE_CHARS),
        text=text,
        site=_shorten(site, MAX_NAME_CHARS),
        author=_shorten(_author(document.author or ""), MAX_NAME_CHARS),
        date=document.date or "",
        language=language,
        source=source,
    )
    return article, extracted.evidence


def _read_dates_in(languages: tuple[str, ...]) -> None:
    """Dates that htmldate's extensive search cannot read itself go to dateparser, which by default tries each of
    its 200-odd locales: compiling their patterns costs 1.1-1.4 s in every new process, a third of the
    extraction of the 98 COVID-QA papers and again in every Ray worker. Pages outside settings.languages are
    refused anyway, so dateparser is given those languages only: the same dates on all 371 pages of
    ../shared/data and corpus/, and COVID-QA's extraction goes from 2.5 to 1.4 s."""
    current = getattr(date_extractors, "get_external_parser", None)  # None: an htmldate without it, left alone
    if current is not None and getattr(current, "languages", None) != languages:
        parser = functools.lru_cache(maxsize=None)(functools.partial(_date_parser, languages))
        parser.languages = languages  # type: ignore[attr-defined]
        date_extractors.get_external_parser = parser


def _date_parser(languages: tuple[str, ...]) -> "dateparser.DateDataParser":
    import dateparser  # htmldate's own dependency, loaded only when a page needs it

    # htmldate's own settings for its parser (htmldate 1.x), so that only the locales tried change
    settings = {"NORMALIZE": True, "PARSERS": ["custom-formats", "absolute-time"], "PREFER_DATES_FROM": "past",
                "PREFER_LOCALE_DATE_ORDER": True, "RETURN_AS_TIMEZONE_AWARE": False, "STRICT_PARSING": True}
    try:
        return dateparser.DateDataParser(languages=list(languages), settings=settings)
    except ValueError:  # a language dateparser does not know: every locale, as htmldate does
        return dateparser.DateDataParser(settings=settings)


def is_article_html(html: str, url: str, min_words: int) -> bool:
    """Whether a downloaded page passes the skip rules (its language aside): feed and sitemap discovery asks
    this before looking for a site's feeds. A page that breaks the extractor is left for extraction to judge."""
    try:
        return not skip_reason(_extract(_parse(html, url, 1 << 62), url, url), min_words)
    except SourceError:
        return False
    except Exception:  # trafilatura and lxml raise many types on hostile input
        return True


def declared_page_type(html: str, url: str) -> str:
    """The type a downloaded page declares (og:type, schema.org), in lower case: discovery trusts it before it
    weighs the text. Raises SourceError when the page does not parse; on hostile markup trafilatura and lxml
    raise many other types, left for the caller to judge."""
    tree = trafilatura.load_html(html)
    if tree is None:
        raise SourceError(url, "could not be parsed as HTML")
    return (extract_metadata(tree, default_url=url, extensive=False).pagetype or "").lower()


def feed_links(html: str, url: str, requested_url: str) -> list[str]:
    """The feeds a home or section page links to, `url` being where it was fetched from after redirects; none
    when its markup defeats the finder."""
    try:
        params = FeedParameters(url, urlsplit(url).hostname or "", requested_url, True)
        return determine_feed(html, params)
    except Exception:  # trafilatura and lxml raise many types on hostile markup; no feeds then
        return []


def simhash(text: str) -> int:
    """trafilatura's 64-bit simhash of a text, unsigned: here so that only this module imports trafilatura."""
    return Simhash(text).hash


@dataclass
class _Extracted:
    document: object  # trafilatura's Document
    blocks: list[Block]
    title: str
    headlines: list[str]
    declared_language: str
    evidence: Evidence

    @functools.cached_property
    def text(self) -> str:
        return render(self.blocks, self.title)

    @functools.cached_property
    def language(self) -> str:
        text = self.text
        return _language(self.declared_language, text) if text else ""


def _parse(data: bytes | str, source: str, max_bytes: int) -> _Element:
    if len(data) > max_bytes:
        raise SourceError(source, too_large(len(data), max_bytes))
    if isinstance(data, str):
        html = data
        if _SURROGATE.search(html):
            raise SourceError(source, "undecodable text: it contains lone surrogates, which are not Unicode characters")
    else:
        html = decode_html(data, source)
    if not html.strip():
        raise SourceError(source, "empty file")
    if not _MARKUP.search(html):
        raise SourceError(source, "not an HTML page (no HTML markup found)")
    html = prepare_markup(html, source, max_bytes)
    check_markup(html, source)
    try:
        tree = trafilatura.load_html(html)
    except Exception:  # lxml refuses some inputs outright
        tree = None
    if tree is None:
        raise SourceError(source, "could not be parsed as HTML")
    if parser_gave_up(tree):
        raise SourceError(
            source,
            f"markup nested too deeply: the HTML parser stops at {PARSER_MAX_DEPTH} levels of nested tags, "
            "so the rest of the page would be lost",
        )
    drop_huge_json_ld(tree)
    if tree.tag != "html":  # a page opening with <svg> or <math> has it as root; htmldate fails on such trees
        root = Element("html")
        root.append(tree)
        tree = root
    return tree


def _extract(tree: _Element, source: str, url: str | None) -> _Extracted:
    declared_language = _declared_language(tree)
    headlines = [clean(inline_text(h1)) for h1 in tree.iter("h1")][:5]
    lead = _standfirst(tree)
    try:
        document = trafilatura.bare_extraction(tree, url=url, with_metadata=True, **EXTRACTION_OPTIONS)
    except Exception as exc:  # trafilatura and lxml raise many types on hostile input
        raise SourceError(source, f"extraction failed: the extractor broke on this page ({type(exc).__name__}: {_one_line(exc)})") from None
    if document is None or document.body is None:
        raise SourceError(source, "no main text found: an empty page or not an article")
    title = clean(document.title or "")
    blocks, dropped = [], []
    for block in blocks_of(document.body):
        (dropped if is_page_furniture(block) else blocks).append(block)
    words = sum(block.words for block in blocks if block.text != title)
    running = running_words([block for block in blocks if block.text != title])
    restored = bool(lead) and _flat(lead) not in _flat(" ".join(block.text for block in blocks))
    if restored:
        blocks.insert(0, Block("paragraph", lead))
    evidence = Evidence(words, running, clean(document.pagetype or ""), restored, tuple(b.text for b in dropped))
    return _Extracted(document, blocks, title, headlines, declared_language, evidence)


def skip_reason(page: _Extracted, min_words: int, languages: tuple[str, ...] | None = None) -> str:
    """Why the page is not an article, or "" when it is one; its language is judged only when `languages`
    is given. The order decides which reason a page gets when several apply: the most specific first."""
    evidence = page.evidence
    words, running = evidence.words, evidence.running_words
    if words == 0:
        return "no main text found: an empty page or not an article"
    text = page.text
    if words < min_words and len(_CONSENT_WORDS.findall(text)) >= CONSENT_MIN_MENTIONS:
        return f"cookie or consent wall: {_count(words, 'word')} of text, mostly about consent"
    all_words = text.split()
    distinct = len({word.lower() for word in all_words})
    if distinct < 50 and len(all_words) > 10 * distinct:
        return f"repetitive text, not an article: {_count(len(all_words), 'word')} but only {distinct:,} different"
    if languages is not None:
        if page.language not in _ISO_639_1:  # the identifier's "zxx": no linguistic content
            return "no language recognised in the text: it is mostly numbers or symbols"
        if page.language not in languages:
            return f"language '{page.language}' is not among the indexed languages ({', '.join(languages)})"
    share = running / words
    if words < min_words and share < MIN_RUNNING_SHARE:
        if running == 0:
            return f"too little text to be an article ({_count(words, 'word')}, minimum {min_words})"
        return (f"too little text to be an article ({_count(words, 'word')}, minimum {min_words}; a shorter text "
                f"is kept when mostly running text, here {share:.0%})")
    if running == 0:
        return (f"not an article: no running text, its {_count(words, 'word')} are short lines (links, headings, "
                f"teasers, form labels, addresses) as on a listing, contact or form page; an article has a "
                f"paragraph of {RUNNING_MIN_WORDS}+ words in full sentences")
    kind = evidence.declared_type.lower()
    declared_other = (bool(kind) and not any(k in kind for k in ARTICLE_PAGE_TYPES)
                      and any(k in kind for k in NON_ARTICLE_PAGE_TYPES))
    if declared_other and share < MIN_RUNNING_SHARE:
        return (f"not an article: the page declares its type as '{_shorten(evidence.declared_type, 80)}' and only "
                f"{share:.0%} of its text is running text (a listing or index page)")
    return ""

def article_id(url: str, text: str) -> str:
    """Stable across builds: from the canonical URL when there is one, else from the text."""
    key = url.strip().lower().rstrip("/") if url else _SPACE.sub(" ", text).strip()
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def text_fingerprint(text: str) -> str:
    """Identifies exact duplicates whatever their whitespace."""
    return hashlib.sha1(_SPACE.sub(" ", text).strip().lower().encode("utf-8")).hexdigest()


def _standfirst(tree: _Element) -> str:
    """The page's standfirst: the element shown on the page whose text is the page's description (meta
    description, og:description…). Extractors often leave it out, being outside the article's body; a
    description found only in metadata is not put back (the page does not show it)."""
    seen: set[str] = set()
    for raw in tree.xpath(_DESCRIPTIONS):
        description = clean(str(raw)).rstrip(".…").strip()
        if len(description.split()) < 8 or description in seen:
            continue
        seen.add(description)
        prefix = description[:60]
        found = [element for element in tree.xpath(_LEAD_CANDIDATES, prefix=prefix)
                 if not any(a.tag in ("head", "script", "style", "nav", "footer", "aside", "form") for a in element.iterancestors())]
        if not found:
            continue
        text = min((clean(inline_text(element)) for element in found), key=len)
        if len(text.split()) <= MAX_LEAD_WORDS:
            return text
    return ""


def _headline(title: str, headlines: list[str], site: str, url: str) -> str:
    """The article's own headline: the page's <h1> when the title is that headline plus the site's name, else
    the title without a site-name prefix or suffix ("Headline | Site", "SITE - Headline")."""
    for headline in headlines:
        if len(headline.split()) >= 3 and headline != title and any(
            title.startswith(headline + sep) or title.endswith(sep + headline) for sep in _TITLE_SEPARATORS
        ):
            return headline
    names = {_flat(site)} if site else set()
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    if host:
        names.add(_flat(host.split(".")[0]))
    names.discard("")
    for sep in _TITLE_SEPARATORS:
        if sep in title:
            first, _, rest = title.partition(sep)
            head, _, last = title.rpartition(sep)
            if _flat(last) in names or _flat(last).replace(" ", "") in names:
                return head
            if _flat(first) in names or _flat(first).replace(" ", "") in names:
                return rest
    return title


def _author(author: str) -> str:
    author = clean(author)
    return "" if author.lower() in _PLACEHOLDER_AUTHORS else author


def _language(declared: str, text: str) -> str:
    """The declared language, unless a long enough text is confidently in another (templates copied from a
    site in another language keep its lang attribute)."""
    if not declared:
        return detect_language(text)
    if len(text.split()) >= LANGUAGE_CHECK_MIN_WORDS:
        detected, confidence = language_confidence(text[:LANGUAGE_CHECK_CHARS])
        if detected != declared and detected in _ISO_639_1 and confidence >= LANGUAGE_OVERRIDE_CONFIDENCE:
            return detected
    return declared


def _declared_language(tree: _Element) -> str:
    candidates = [tree.get("lang") or "", tree.get("xml:lang") or ""]
    candidates += tree.xpath('//meta[@property="og:locale"]/@content')
    candidates += tree.xpath('//meta[@http-equiv="content-language" or @http-equiv="Content-Language"]/@content')
    for value in candidates:
        code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
        if code in _ISO_639_1:
            return code
    return ""


def _flat(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).replace("\u00ad", "")).strip().casefold()


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _one_line(exc: BaseException) -> str:
    return _shorten(clean(str(exc)), 160) or "no message"


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _first_words(text: str, count: int = 12) -> str:
    return " ".join(text.split()[:count])
