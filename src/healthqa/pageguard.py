"""Hostile pages, refused before or right after parsing: decoding (byte-order marks, UTF-8, a declared
charset, binaries recognised), DOCTYPE internal subsets (entity bombs), element and attribute floods, and the
HTML parser's depth limit. Every refusal is a SourceError whose reason says, in one sentence, what is wrong
(tests/test_faults_ingest.py holds the cases and the figures)."""

from __future__ import annotations

import codecs
import errno
import re
import stat

from lxml.etree import _Element

from .errors import SourceError

# libxml2's HTML parser gives up at this depth of nested tags (without its "huge" option): what follows is lost.
PARSER_MAX_DEPTH = 255
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


def prepare_markup(html: str, source: str, max_chars: int) -> str:
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
                f"entity expansion refused: it would make the page {megabytes(len(html) + growth)} (limit {megabytes(max_chars)})",
            )
        rest = _NAMED_REFERENCE.sub(lambda match: values.get(match.group(1), match.group(0)), rest)
    return html[:start] + f"<!DOCTYPE{doctype.group(1).rstrip()}>" + rest


def check_markup(html: str, source: str) -> None:
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


def parser_gave_up(tree: _Element) -> bool:
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


def too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    more = "more than " if at_least else ""
    if megabytes(size) == megabytes(limit):
        return f"too large: {more}{size:,} bytes (limit {limit:,} bytes, the max_page_bytes setting)"
    return f"too large: {more}{megabytes(size)} (limit {megabytes(limit)}, the max_page_bytes setting)"


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot read file: permission denied"
    if exc.errno == errno.ELOOP:
        return "cannot read file: too many levels of symbolic links (a symlink loop?)"
    if exc.errno == errno.EISDIR:
        return "is a folder, not a file"
    return f"cannot read file ({exc.strerror or type(exc).__name__})"


def not_regular(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"not a regular file ({kind})"


def drop_huge_json_ld(tree: _Element) -> None:
    """Empty JSON-LD blocks longer than MAX_JSON_LD_CHARS before trafilatura's regexes read them."""
    for script in tree.xpath(_JSON_LD):
        if len(script.text or "") > MAX_JSON_LD_CHARS:
            script.text = ""
