"""Pages → Articles. The only module that knows trafilatura: it owns decoding, extraction, metadata and the
rules that decide whether a page is an article at all.

Hostile input is expected (random bytes, binaries, wrong charsets, enormous or absurdly nested pages, entity
bombs): every page either becomes an Article or raises SourceError whose reason says, in one sentence, why it was
refused. Time and memory stay bounded because a page is refused before parsing when it is larger than
settings.max_page_bytes, has more than MAX_ELEMENTS elements or a tag with more than MAX_ATTRIBUTES attributes
(tests/test_faults_ingest.py holds the cases and the figures)."""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

import trafilatura
from lxml.etree import _Element
from lxml.html import Element

from .errors import SourceError
from .language import detect_language
from .records import Article
from .settings import Settings

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
ARTICLE_PAGE_TYPES = ("article", "posting", "news", "report")
# libxml2's HTML parser gives up at this depth of nested tags (without its "huge" option): what follows is lost.
PARSER_MAX_DEPTH = 255
# Longest title, site name and author kept; a longer one is cut at a word boundary and ends with "…".
MAX_TITLE_CHARS = 300
MAX_NAME_CHARS = 200
# Past this many elements trafilatura's time grows faster than the page (40,000 one-line headings take 13 s,
# 600,000 take hours); real news pages have a few thousand. A tag with more attributes than MAX_ATTRIBUTES is an
# attack on libxml2, whose time is quadratic in them (600,000 attributes in one tag: minutes).
MAX_ELEMENTS = 30_000
MAX_ATTRIBUTES = 1_000
# JSON-LD blocks longer than this are dropped before extraction: trafilatura's JSON regex takes ~150 bytes of
# memory per character (a 5 MB block: 740 MB). Real ones, article body included, are far smaller.
MAX_JSON_LD_CHARS = 500_000
_SNIFF = 8192  # bytes looked at to recognise binaries and find a charset declaration
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"""\A\s*<\?xml\b[^>]*\?>""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""\A\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_DOCTYPE = re.compile(r"<!DOCTYPE\b", re.IGNORECASE)
_DOCTYPE_SUBSET = re.compile(r"<!DOCTYPE\b([^\[>]*)\[(.*?)\]\s*>", re.IGNORECASE | re.DOTALL)
_ENTITY_REFERENCE = re.compile(r"&[A-Za-z_]")
_NAMED_REFERENCE = re.compile(r"&([A-Za-z_][\w.:-]*+);")
# A start tag as the HTML5 tokenizer (libxml2 2.14) reads it: a name, then attributes whose quoted values may hold
# '<' and '>'. Possessive quantifiers keep the scan linear whatever the input.
_START_TAG = re.compile(
    r"""<([A-Za-z][^\s/>]*+)((?:\s++|/|[^\s/>][^\s/>=]*+(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s>]++))?+)*+)"""
)
_ATTRIBUTE = re.compile(r"""[^\s/>][^\s/>=]*+(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s>]++))?+""")
_RAW_TEXT_END = {name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE) for name in ("script", "style")}
_JSON_LD = './/script[@type="application/ld+json" or @type="application/settings+json"]'
_ENTITY = re.compile(r"""<!ENTITY\s+(%\s*)?([A-Za-z_][\w.:-]*)\s+(?:"([^"]*)"|'([^']*)'|(SYSTEM|PUBLIC)\b[^>]*)\s*>""", re.DOTALL)
_MARKUP = re.compile(r"<\s*(html|head|body|article|main|div|p|h1|title)\b", re.IGNORECASE)
_CONSENT_WORDS = re.compile(r"\b(cookies?|consent\w*|traceurs?|accept\w*)\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Control characters (whitespace aside), zero-width space, bidirectional overrides and isolates, byte-order mark.
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL_BYTES = re.compile(rb"[\x01-\x08\x0e-\x1a\x1c-\x1f]")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data: decompress it first"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data: decompress it first"),
    (b"\xfd7zXZ\x00", "xz-compressed data: decompress it first"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x7fELF", "an executable program"),
)
# The encodings of the WHATWG Encoding Standard (what browsers accept), by Python codec name. A page may not
# name any other codec: Python knows some that are not text encodings at all (rot13, hex, zlib, punycode …).
_WEB_CODECS = frozenset(
    codecs.lookup(label).name
    for label in (
        "utf-8", "ibm866", "iso-8859-1", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-5", "iso-8859-6",
        "iso-8859-7", "iso-8859-8", "iso-8859-9", "iso-8859-10", "iso-8859-13", "iso-8859-14", "iso-8859-15",
        "iso-8859-16", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic", "cp874", "cp1250", "cp1251", "cp1252",
        "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "gbk", "gb2312", "gb18030", "big5",
        "big5hkscs", "euc-jp", "iso-2022-jp", "shift_jis", "cp932", "euc-kr", "cp949", "ascii",
    )
)
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
        raise SourceError(source, _os_reason(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(source, _not_regular(info.st_mode))
        if info.st_size > max_bytes:
            raise SourceError(source, _too_large(info.st_size, max_bytes))
        chunks, size = [], 0
        while size <= max_bytes:  # the file may have grown since fstat
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise SourceError(source, _too_large(size, max_bytes, at_least=True))
        return b"".join(chunks)
    except OSError as exc:
        raise SourceError(source, _os_reason(exc)) from None
    finally:
        os.close(fd)


def extract_html(data: bytes | str, *, source: str, settings: Settings, url: str | None = None) -> Article:
    """Turn one page into an Article, or explain (SourceError) why it is not one. Text counts one byte per
    character against settings.max_page_bytes."""
    if len(data) > settings.max_page_bytes:
        raise SourceError(source, _too_large(len(data), settings.max_page_bytes))
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
    html = _prepare_markup(html, source, settings.max_page_bytes)
    _check_markup(html, source)
    try:
        tree = trafilatura.load_html(html)
    except Exception:  # lxml refuses some inputs outright
        tree = None
    if tree is None:
        raise SourceError(source, "could not be parsed as HTML")
    if _parser_gave_up(tree):
        raise SourceError(
            source,
            f"markup nested too deeply: the HTML parser stops at {PARSER_MAX_DEPTH} levels of nested tags, "
            "so the rest of the page would be lost",
        )
    for script in tree.xpath(_JSON_LD):
        if len(script.text or "") > MAX_JSON_LD_CHARS:
            script.text = ""
    declared_language = _declared_language(tree)
    if tree.tag != "html":  # a page opening with <svg> or <math> has it as root; htmldate fails on such trees
        root = Element("html")
        root.append(tree)
        tree = root
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
        raise SourceError(source, f"extraction failed: the extractor broke on this page ({type(exc).__name__}: {_one_line(exc)})") from None
    if document is None or document.body is None:
        raise SourceError(source, "no main text found: an empty page or not an article")

    title = _clean(document.title or "")
    text = _body_text(document.body, title)
    words = text.split()
    if len(words) < settings.min_words and len(_CONSENT_WORDS.findall(text)) >= 2:
        raise SourceError(source, f"cookie or consent wall: {len(words)} words of text, mostly about consent")
    page_type = (document.pagetype or "").lower()
    if page_type and not any(kind in page_type for kind in ARTICLE_PAGE_TYPES):
        raise SourceError(source, f"not an article (the page declares its type as '{_shorten(document.pagetype, 80)}')")
    if len(words) < settings.min_words:
        raise SourceError(source, f"too little text to be an article ({_count(len(words), 'word')}, minimum {settings.min_words})")
    distinct = len({word.lower() for word in words})
    if distinct < 50 and len(words) > 10 * distinct:
        raise SourceError(
            source, f"repetitive text, not an article: {_count(len(words), 'word')} but only {distinct:,} different"
        )

    language = declared_language or detect_language(text)
    if language not in _ISO_639_1:  # the identifier's "zxx": no linguistic content
        raise SourceError(source, "no language recognised in the text: it is mostly numbers or symbols")
    if language not in settings.languages:
        raise SourceError(
            source, f"language '{language}' is not among the indexed languages ({', '.join(settings.languages)})"
        )
    page_url = document.url or url or ""
    return Article(
        id=article_id(page_url, text),
        url=page_url,
        title=_shorten(title or _first_words(text), MAX_TITLE_CHARS),
        text=text,
        site=_shorten(_clean(document.sitename or document.hostname or ""), MAX_NAME_CHARS),
        author=_shorten(_clean(document.author or ""), MAX_NAME_CHARS),
        date=document.date or "",
        language=language,
        source=source,
    )


def decode_html(data: bytes, source: str) -> str:
    """A byte-order mark, else UTF-8, else the charset the page declares (meta or XML declaration); anything else
    is reported, never guessed silently. Binaries are recognised and refused as such."""
    head = data[:_SNIFF]
    for mark, codec, name in _BOMS:
        if head.startswith(mark):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise SourceError(source, f"undecodable bytes: starts with a {name} byte-order mark but {_bad_bytes(exc)}") from None
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            raise SourceError(source, f"binary file ({kind}), not an HTML page")
    if b"\x00" in head:
        codec = _utf16_without_bom(head)
        if codec:
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                pass
        raise SourceError(source, "binary file, not an HTML page (it contains NUL bytes)")
    if len(_CONTROL_BYTES.findall(head)) * 50 > len(head):
        raise SourceError(source, "binary file, not an HTML page (it is full of control characters)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        not_utf8 = _bad_bytes(exc)
    declared = _CHARSET.search(head) or _XML_ENCODING.search(head)
    if not declared:
        raise SourceError(source, f"undecodable bytes: not UTF-8 ({not_utf8}) and no charset declared")
    charset = declared.group(1).decode("ascii", "replace")
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        codec = ""
    if codec == "utf-8":
        raise SourceError(source, f"undecodable bytes: declared as '{charset}' but not UTF-8 ({not_utf8})")
    if codec not in _WEB_CODECS:
        raise SourceError(source, f"undecodable bytes: not UTF-8 ({not_utf8}) and the declared charset '{charset}' is unknown")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise SourceError(source, f"undecodable bytes: neither UTF-8 nor the declared charset '{charset}' ({_bad_bytes(exc)})") from None


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
    candidates = [tree.get("lang") or "", tree.get("xml:lang") or ""]
    candidates += tree.xpath('//meta[@property="og:locale"]/@content')
    candidates += tree.xpath('//meta[@http-equiv="content-language" or @http-equiv="Content-Language"]/@content')
    for value in candidates:
        code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
        if code in _ISO_639_1:
            return code
    return ""


def _prepare_markup(html: str, source: str, max_chars: int) -> str:
    """Drop an XML declaration (the text is decoded already) and a DOCTYPE's internal subset, which the HTML
    parser does not understand: it would lose the <html> element and the whole <head> with it. Entities that
    subset defines as plain text are expanded once; entities built from other entities are the 'billion laughs'
    attack and are refused; external (SYSTEM/PUBLIC) entities are never fetched and expand to nothing."""
    html = _XML_DECLARATION.sub("", html, count=1)
    found = _DOCTYPE.search(html, 0, 65536)
    doctype = _DOCTYPE_SUBSET.match(html, found.start()) if found else None
    if doctype is None:
        return html
    start = doctype.start()
    values: dict[str, str] = {}
    for entity in _ENTITY.finditer(doctype.group(2)):
        parameter, name, double, single, external = entity.groups()
        value = double if double is not None else single
        if parameter:
            continue
        if value is not None and _ENTITY_REFERENCE.search(value):
            raise SourceError(
                source, "entity expansion refused: the DOCTYPE defines entities made of other entities ('billion laughs')"
            )
        # as text: markup inside an entity's value is not parsed (character references like &#169; still are)
        values[name] = "" if external else (value or "").replace("<", "&lt;").replace(">", "&gt;")
    rest = html[doctype.end() :]
    if values:
        growth = sum(len(values.get(match.group(1), "")) for match in _NAMED_REFERENCE.finditer(rest))
        if len(html) + growth > max_chars:
            raise SourceError(
                source,
                f"entity expansion refused: it would make the page {_megabytes(len(html) + growth)} (limit {_megabytes(max_chars)})",
            )
        rest = _NAMED_REFERENCE.sub(lambda match: values.get(match.group(1), match.group(0)), rest)
    return html[:start] + f"<!DOCTYPE{doctype.group(1).rstrip()}>" + rest


def _check_markup(html: str, source: str) -> None:
    """Refuse, before parsing, pages whose markup would take the parser or the extractor minutes."""
    elements, position = 0, 0
    while (tag := _START_TAG.search(html, position)) is not None:
        elements += 1
        if elements > MAX_ELEMENTS:
            raise SourceError(
                source,
                f"too many HTML elements: more than {MAX_ELEMENTS:,} (the limit), far beyond a news article; "
                "extracting them would take minutes",
            )
        attributes = tag.group(2)
        if len(attributes) > 2 * MAX_ATTRIBUTES:  # each attribute takes two characters at least
            count = sum(1 for _ in _ATTRIBUTE.finditer(attributes))
            if count > MAX_ATTRIBUTES:
                raise SourceError(
                    source,
                    f"a tag with {count:,} attributes (limit {MAX_ATTRIBUTES:,}): an attribute flood, "
                    "which the HTML parser would take minutes to read",
                )
        position = tag.end()
        raw_text_end = _RAW_TEXT_END.get(tag.group(1).lower())
        if raw_text_end is not None:  # script and style hold text, not tags, up to their end tag
            end = raw_text_end.search(html, position)
            if end is None:
                return
            position = end.end()


def _parser_gave_up(tree: _Element) -> bool:
    """libxml2 stops parsing for good at its depth limit, so the last element it built sits at that depth."""
    depth, element = 0, tree
    while len(element) and depth <= PARSER_MAX_DEPTH:
        element, depth = element[-1], depth + 1
    return depth >= PARSER_MAX_DEPTH


def _utf16_without_bom(head: bytes) -> str:
    """'utf-16-le' or 'utf-16-be' for text that is mostly ASCII in UTF-16 (every other byte NUL), else ''."""
    pairs = len(head) // 2
    if pairs < 2:
        return ""
    even, odd = head[0 : pairs * 2 : 2].count(0), head[1 : pairs * 2 : 2].count(0)
    if odd * 2 >= pairs and even * 20 < pairs:
        return "utf-16-le"
    if even * 2 >= pairs and odd * 20 < pairs:
        return "utf-16-be"
    return ""


def _bad_bytes(exc: UnicodeDecodeError) -> str:
    bad = exc.object[exc.start : min(exc.end, exc.start + 4)]
    return f"invalid byte{'s' if len(bad) > 1 else ''} {' '.join(f'0x{b:02X}' for b in bad)} at offset {exc.start}"


def _too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    more = "more than " if at_least else ""
    if _megabytes(size) == _megabytes(limit):
        return f"too large: {more}{size:,} bytes (limit {limit:,} bytes, the max_page_bytes setting)"
    return f"too large: {more}{_megabytes(size)} (limit {_megabytes(limit)}, the max_page_bytes setting)"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot read file: permission denied"
    if exc.errno == errno.ELOOP:
        return "cannot read file: too many levels of symbolic links (a symlink loop?)"
    if exc.errno == errno.EISDIR:
        return "is a folder, not a file"
    return f"cannot read file ({exc.strerror or type(exc).__name__})"


def _not_regular(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"not a regular file ({kind})"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _one_line(exc: BaseException) -> str:
    return _shorten(_clean(str(exc)), 160) or "no message"


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _clean(text: str) -> str:
    return _SPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


def _first_words(text: str, count: int = 12) -> str:
    return " ".join(text.split()[:count])
