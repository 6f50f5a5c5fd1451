"""Fault suite for ingestion: fuzzed and hostile input to extract_file / extract_html.

Every case must end in an Article or a SourceError whose reason is one clear sentence naming the problem; no other
exception may escape, and time and memory must stay bounded. Each case runs in a child process so that its peak
memory (ru_maxrss, libxml2's C allocations included, which tracemalloc cannot see) is its own, and so that a hang
or a runaway allocation is caught by a timeout and an address-space limit instead of taking the machine down.

Bounds, deliberately generous (they catch hangs and unbounded growth, not slowness; benchmarks are not tests):
- 60 s of extraction per case. The slowest accepted input, a page just under the 5 MB limit, takes ~3 s here.
- Peak RSS below 800 MB for every case (the machine has 24 GiB). The child starts at 65-110 MB; the language model
  adds ~70 MB when a page does not declare its language; the largest page accepted peaks at ~230 MB.
- A page above max_page_bytes must be refused before it is read: its peak stays within 30 MB of the baseline
  (a 50 MB file read whole would add 50 MB at least, 100+ MB once decoded).
Big inputs are generated into tmp_path at test time.
"""

from __future__ import annotations

import errno
import gzip
import importlib
import io
import json
import os
import random
import re
import subprocess
import sys
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from healthqa import Settings, SourceError
from healthqa.extract import MAX_ATTRIBUTES, MAX_ELEMENTS, MAX_TITLE_CHARS, extract_file

# The module itself: `healthqa.extract` is also the name of the public function extract().
extract_module = importlib.import_module("healthqa.extract")

MB = 1_000_000
LIMIT = Settings().max_page_bytes
TIMEOUT_S = 60  # of extraction, per case: a hang detector only
PEAK_MB = 800  # peak RSS of any case
UNREAD_MB = 30  # growth over the baseline when a page is refused by its size

SENTENCE = "Digital health start-ups keep signing partnerships with large drug makers across Europe."

# The child: runs one case and prints one JSON line. Modes: "file" → extract_file(path); "bytes" and "text" →
# extract_html on the file's content, read before the baseline is taken; "batch" → extract_file on every file of
# a folder. Its address space is capped (4 GiB, well above the 800 MB asserted) so that a runaway fails fast.
CHILD = r"""
import json, resource, sys, time, traceback
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from healthqa import Settings
from healthqa.errors import SourceError
from healthqa.extract import extract_file, extract_html

def peak_kb():
    # VmHWM: this program's own high-water mark. ru_maxrss would also count the pytest process it was forked
    # from (Linux keeps the larger of the two across exec), which grows with the tests that ran before.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def run(call):
    started = time.perf_counter()
    try:
        article = call()
        result = {"outcome": "article", "title": article.title, "text": article.text[:20000], "words": len(article.text.split()),
                  "language": article.language, "site": article.site, "author": article.author}
    except SourceError as exc:
        result = {"outcome": "refused", "reason": exc.reason}
    except BaseException as exc:
        result = {"outcome": "crash", "reason": f"{type(exc).__name__}: {exc}"[:2000], "traceback": traceback.format_exc()[-4000:]}
    result["seconds"] = time.perf_counter() - started
    return result

mode, target, overrides = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
settings = Settings().with_(**overrides)
if mode == "batch":
    files = sorted(target.iterdir())
    baseline = peak_kb()
    results = {path.name: run(lambda path=path: extract_file(path, settings)) for path in files}
    print(json.dumps({"results": results, "baseline_kb": baseline, "peak_kb": peak_kb()}))
else:
    if mode == "bytes":
        data = target.read_bytes()
    elif mode == "text":
        data = target.read_bytes().decode("utf-8", "surrogatepass")
    baseline = peak_kb()
    if mode == "file":
        result = run(lambda: extract_file(target, settings))
    else:
        result = run(lambda: extract_html(data, source=target.name, settings=settings))
    result.update(baseline_kb=baseline, peak_kb=peak_kb())
    print(json.dumps(result))
"""


def run_child(mode: str, target: Path, **overrides: object) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, mode, str(target), json.dumps(overrides)],
            capture_output=True, text=True, timeout=TIMEOUT_S * 2, env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{target.name}: no answer after {TIMEOUT_S * 2} s (a hang)")
    assert done.returncode == 0, f"child died ({done.returncode}): {done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    return result


def assert_clear(reason: str) -> None:
    """A reason is one human sentence: no traceback, no Python or bytes repr, no raw escapes, not a dump."""
    assert reason and len(reason) <= 300, reason
    assert "\n" not in reason and "Traceback" not in reason, reason
    assert not re.search(r"\b\w+(Error|Exception)\b|<[\w.]+ object|\bb'|\bb\"|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}", reason), reason
    assert all(ch.isprintable() for ch in reason), repr(reason)


def assert_clean_text(value: str, *, newlines: bool = False) -> None:
    allowed = "\n" if newlines else ""
    bad = [ch for ch in value if ch not in allowed and unicodedata.category(ch) == "Cc"]
    bad += [ch for ch in value if ch in "\u200b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"]
    assert not bad, f"control or invisible characters left: {bad[:10]!r}"


# --- inputs ------------------------------------------------------------------------------------------------------


def page(body: str, *, title: str = "A test article", lang: str | None = "en", charset: str = "utf-8", h1: str | None = None) -> str:
    lang_attribute = f' lang="{lang}"' if lang is not None else ""
    return (
        f"<!DOCTYPE html><html{lang_attribute}><head><meta charset='{charset}'><title>{title}</title>"
        f"<meta property='og:type' content='article'></head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>{title if h1 is None else h1}</h1>{body}</article><footer>© 2024 Example</footer></body></html>"
    )


def paragraphs(count: int, sentence: str = SENTENCE) -> str:
    return "".join(f"<p>{sentence} Paragraph {n} adds its own detail about telemonitoring and data.</p>" for n in range(count))


ARTICLE = page(paragraphs(12))


def billion_laughs(root: str = "html") -> str:
    entities = ['<!ENTITY lol "lol">']
    for n in range(2, 10):
        previous = "lol" if n == 2 else f"lol{n - 1}"
        entities.append(f'<!ENTITY lol{n} "{("&" + previous + ";") * 10}">')
    return (
        f'<?xml version="1.0"?><!DOCTYPE {root} [{"".join(entities)}]>'
        f'<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><title>&lol9;</title></head>'
        f"<body><article><p>&lol9;</p>{paragraphs(12)}</article></body></html>"
    )


def xhtml_with_entities(encoding: str = "UTF-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd" [\n'
        '  <!ENTITY co "Kestrel Bio-Sensing">\n  <!ENTITY copy2 "&#169; 2024">\n'
        '  <!ENTITY secret SYSTEM "file:///etc/passwd">\n  <!ENTITY % param "ignored">\n]>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en"><head><title>&co; raises its Series B</title>'
        '<meta property="og:type" content="article" /><meta name="author" content="Jane Doe" /></head>'
        f"<body><article><h1>&co; raises its Series B</h1><p>&co; announced the round today. &secret;</p>{paragraphs(12)}"
        "<p>Café &amp; santé &copy2;.</p></article></body></html>"
    )


def enormous(path: Path, size: int) -> Path:
    """About `size` bytes of distinct paragraphs, written in chunks."""
    with path.open("w", encoding="utf-8") as out:
        out.write("<!DOCTYPE html><html lang='en'><head><title>Enormous</title></head><body><article>")
        written, n = 0, 0
        while written < size:
            chunk = "".join(f"<p>{SENTENCE} Item {n + i} of the enormous page.</p>\n" for i in range(2000))
            out.write(chunk)
            written += len(chunk)
            n += 2000
        out.write("</article></body></html>")
    return path


def near_limit(path: Path) -> Path:
    """The largest kind of page accepted: just under max_page_bytes, in just under MAX_ELEMENTS elements."""
    count = MAX_ELEMENTS - 200
    filler = "x" * max(0, (LIMIT - 20_000) // count - 170)
    body = "".join(f"<p>{SENTENCE} Item {n} adds detail {filler[: 40 + n % 7]} on data {n * 7919 % 100003}.</p>" for n in range(count))
    html = page(body)
    assert len(html.encode()) < LIMIT
    path.write_text(html, encoding="utf-8")
    return path


def zipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("article.html", text)
    return buffer.getvalue()


Maker = Callable[[Path], Path]


def data(name: str, content: bytes | str | Callable[[], bytes | str]) -> Maker:
    def make(tmp: Path) -> Path:
        value = content() if callable(content) else content
        path = tmp / name
        path.write_bytes(value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value)
        return path

    return make


@dataclass
class Case:
    name: str
    make: Maker
    expect: str  # regex the reason must match, or "article"
    mode: str = "file"
    settings: dict = field(default_factory=dict)
    check: Callable[[dict], None] | None = None  # more assertions on the result
    unread: bool = False  # refused by size: must not have been read


def random_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def check_control_title(result: dict) -> None:
    assert result["title"].startswith("Breaking") and "news" in result["title"]
    assert_clean_text(result["title"])
    assert_clean_text(result["text"], newlines=True)


def check_long_title(result: dict) -> None:
    assert len(result["title"]) <= MAX_TITLE_CHARS and result["title"].endswith("…")


def check_xhtml(result: dict) -> None:
    assert result["title"] == "Kestrel Bio-Sensing raises its Series B"  # the internal entity is expanded
    assert result["language"] == "en" and result["author"] == "Jane Doe"  # the <head> survived the DOCTYPE
    assert "root:" not in result["text"] and "&secret;" not in result["text"]  # external entity: never read
    assert "© 2024" in result["text"] and "Café & santé" in result["text"]


def check_detected_language(result: dict) -> None:
    assert result["language"] == "en"  # "xx-invalid" is no language code: detected from the text instead


def check_cafe(result: dict) -> None:
    assert "café" in result["text"]


LATIN_SENTENCE = "Le café des start-up de santé numérique accueille les laboratoires."
BAD_UTF8 = b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\xed\xa0\x80\xf8\x88\x80\x80\x80"
NO_ENCODING = r"^undecodable bytes: not UTF-8 \(invalid byte 0x[0-9A-F]{2} at offset \d+\)"
TOO_LARGE = r"^too large: 5\d\.\d MB \(limit 5\.0 MB, the max_page_bytes setting\)$"
TOO_MANY = r"^too many HTML elements: more than 30,000 \(the limit\), far beyond a news article"
LAUGHS = r"^entity expansion refused: the DOCTYPE defines entities made of other entities \('billion laughs'\)$"


def over_the_limit() -> bytes:
    empty = page("<p></p>").encode()
    return page("<p>" + "a" * (LIMIT - len(empty)) + "</p>").encode() + b" "  # LIMIT + 1 bytes


def numbers_only() -> str:
    rows = "".join(f"<p>{n * 7919} {n * 104729} {n / 7:.4f} {n * 31} - {n % 97} / {n * 13}.</p>" for n in range(60))
    return page(rows, lang=None)


def scripts_and_styles() -> str:
    return (
        "<html><head><title>App</title><style>" + "p{color:red}" * 5000 + "</style></head><body>"
        + "<script>var a = 1;</script>" * 2000 + "</body></html>"
    )


def quadratic_blowup() -> str:
    """No nesting, one 100 kB entity referenced 100 times: 10 MB once expanded."""
    return (
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY big "{"x" * 100_000}">]><html lang="en"><body><article>'
        f"{'<p>&big;</p>' * 100}{paragraphs(12)}</article></body></html>"
    )


def attribute_flood(count: int, value: str) -> str:
    return page(paragraphs(12) + "<p " + " ".join(f"a{n}={value}" for n in range(count)) + ">x</p>")


CONTROL_TITLE = "Breaking\x01\x02\x07\x1b[31m news\x0b\x0c\x7f\x9b \u200b\u202e\ufeff here"
CONTROL_BODY = "<p>bell\x07 del\x7f c1\x85\x9b zw\u200b rlo\u202e</p>"

CASES = [
    # --- random bytes, several seeds and sizes ---
    *[Case(f"random-{seed}-0b", data(f"r{seed}-0.html", b""), r"^empty file$") for seed in (1, 2)],
    *[
        Case(f"random-{seed}-1b", data(f"r{seed}-1.html", random_bytes(seed, 1)),
             r"^(not an HTML page|undecodable bytes|binary file)")
        for seed in (1, 2, 3, 4)
    ],
    *[
        Case(f"random-{seed}-{size}b", data(f"r{seed}-{size}.html", lambda seed=seed, size=size: random_bytes(seed, size)), r"^binary file")
        for seed in (1, 2, 3)
        for size in (64, 1000, 1 << 20)
    ],
    Case("random-no-nul-1mb", data("nonul.html", lambda: bytes(b or 1 for b in random_bytes(7, 1 << 20))),
         r"^binary file, not an HTML page \(it is full of control characters\)$"),
    Case("random-high-bytes", data("high.html", lambda: bytes(128 + b % 128 for b in random_bytes(8, 5000))),
         NO_ENCODING + " and no charset declared$"),
    Case("nul-bytes-in-page", data("nul.html", ARTICLE.encode()[:400] + b"\x00\x00\x00" + ARTICLE.encode()[400:]),
         r"^binary file, not an HTML page \(it contains NUL bytes\)$"),
    # --- binary formats, named ---
    Case("png", data("photo.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random_bytes(0, 4000)),
         r"^binary file \(a PNG image\), not an HTML page$"),
    Case("pdf", data("doc.html", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + random_bytes(1, 4000)),
         r"^binary file \(a PDF document\), not an HTML page$"),
    Case("zip", data("archive.html", zipped(ARTICLE)), r"^binary file \(a ZIP archive\), not an HTML page$"),
    Case("gzip", data("page.html.gz", gzip.compress(ARTICLE.encode())),
         r"^binary file \(gzip-compressed data: decompress it first\), not an HTML page$"),
    # --- encodings ---
    Case("utf16-with-bom", data("u16bom.html", page(paragraphs(12), charset="utf-16").encode("utf-16")), "article"),
    Case("utf16le-without-bom", data("u16le.html", page(paragraphs(12), charset="utf-16").encode("utf-16-le")), "article"),
    Case("utf16be-without-bom", data("u16be.html", page(paragraphs(12), charset="utf-16").encode("utf-16-be")), "article"),
    Case("utf32-with-bom", data("u32.html", page(paragraphs(12)).encode("utf-32")), "article"),
    Case("utf16-bom-then-garbage", data("u16bad.html", b"\xff\xfe" + "<html>".encode("utf-16-le") + b"\x00\xd8\x41"),
         r"^undecodable bytes: starts with a UTF-16 byte-order mark but invalid bytes? 0x"),
    Case("latin1-declared-utf8", data("latin1.html", page(paragraphs(12, LATIN_SENTENCE), lang="fr").encode("latin-1")),
         r"^undecodable bytes: declared as 'utf-8' but not UTF-8 \(invalid byte 0xE9 at offset \d+\)$"),
    Case("latin1-declared-latin1",
         data("latin1ok.html", page(paragraphs(12, LATIN_SENTENCE), lang="fr", charset="iso-8859-1").encode("latin-1")),
         "article", check=check_cafe),
    Case("unknown-charset", data("klingon.html", page(paragraphs(12) + "<p>café</p>", charset="x-klingon-42").encode("latin-1")),
         NO_ENCODING + " and the declared charset 'x-klingon-42' is unknown$"),
    Case("python-only-codec-declared",  # rot13, hex, punycode … are Python codecs, not web encodings
         data("rot13.html", page(paragraphs(12) + "<p>café</p>", charset="rot13").encode("latin-1")),
         NO_ENCODING + " and the declared charset 'rot13' is unknown$"),
    Case("mixed-encodings",
         data("mixed.html", ARTICLE.encode()[:600] + "été ".encode() + "été ".encode("latin-1") + "€".encode("cp1252") + ARTICLE.encode()[600:]),
         r"^undecodable bytes: declared as 'utf-8' but not UTF-8 \(invalid byte 0xE9 at offset \d+\)$"),
    Case("invalid-utf8-sequences", data("badutf8.html", ARTICLE.encode()[:800] + BAD_UTF8 + ARTICLE.encode()[800:]),
         r"^undecodable bytes: declared as 'utf-8' but not UTF-8 \(invalid byte 0xC3 at offset 800\)$"),
    Case("xml-declaration-encoding", data("xlatin.xhtml", xhtml_with_entities("ISO-8859-1").encode("latin-1")),
         "article", check=check_xhtml),
    Case("lone-surrogates-in-text", data("surrogate.html", page(paragraphs(12) + "<p>broken \ud800 text</p>")),
         r"^undecodable text: it contains lone surrogates", mode="text"),
    Case("nul-chars-in-text", data("nultext.html", page(paragraphs(12) + "<p>nul \x00 here</p>")), "article", mode="text"),
    # --- plain text, not HTML ---
    Case("huge-single-line-text", data("line.txt", lambda: ("lorem ipsum dolor " * ((LIMIT - 1000) // 18)).encode()),
         r"^not an HTML page \(no HTML markup found\)$"),
    # --- size ---
    Case("enormous-50mb-file", lambda tmp: enormous(tmp / "enormous.html", 50 * MB), TOO_LARGE, unread=True),
    Case("enormous-50mb-bytes", lambda tmp: enormous(tmp / "enormous.html", 50 * MB), TOO_LARGE, mode="bytes", unread=True),
    Case("one-byte-over-the-limit", data("over.html", over_the_limit),
         rf"^too large: {LIMIT + 1:,} bytes \(limit {LIMIT:,} bytes, the max_page_bytes setting\)$", unread=True),
    Case("limit-is-a-setting", data("small.html", ARTICLE), r"^too large: \d,\d{3} bytes \(limit 1,000 bytes",
         settings={"max_page_bytes": 1000}),
    Case("just-under-the-limit", lambda tmp: near_limit(tmp / "near.html"), "article"),
    # --- hostile markup ---
    Case("nested-100k-divs",
         data("nested.html", lambda: "<html><body>" + "<div>" * 100_000 + SENTENCE * 50 + "</div>" * 100_000 + "</body></html>"),
         TOO_MANY),
    Case("nested-10k-divs", data("nested10k.html", lambda: page("<div>" * 10_000 + paragraphs(12) + "</div>" * 10_000)),
         r"^markup nested too deeply: the HTML parser stops at 255 levels of nested tags, so the rest of the page would be lost$"),
    Case("nested-10k-unclosed-spans", data("spans.html", page(paragraphs(12) + "<span>" * 10_000 + "tail")),
         r"^markup nested too deeply"),
    Case("nested-200-levels", data("nested200.html", page("<div>" * 200 + paragraphs(12) + "</div>" * 200)), "article"),
    Case("too-many-elements", data("many.html", lambda: page("".join(f"<p>w{n}</p>" for n in range(MAX_ELEMENTS + 10)))), TOO_MANY),
    Case("attribute-flood", data("attrs.html", lambda: attribute_flood(200_000, '"v"')),
         rf"^a tag with 200,000 attributes \(limit {MAX_ATTRIBUTES:,}\): an attribute flood"),
    Case("attribute-flood-quoted-gt", data("attrs2.html", lambda: attribute_flood(50_000, "'<>'")), r"^a tag with 50,000 attributes"),
    Case("billion-laughs-html", data("laughs.html", billion_laughs()), LAUGHS),
    Case("billion-laughs-xhtml", data("laughs.xhtml", billion_laughs("lolz")), LAUGHS),
    Case("quadratic-blowup-entity", data("blowup.xhtml", quadratic_blowup),
         r"^entity expansion refused: it would make the page 10\.\d MB \(limit 5\.0 MB\)$"),
    Case("xhtml-doctype-entities", data("page.xhtml", xhtml_with_entities()), "article", check=check_xhtml),
    Case("only-scripts-and-styles", data("scripts.html", scripts_and_styles),
         r"^no main text found: an empty page or not an article$"),
    Case("empty-after-markup", data("blank.html", "<html><body>   </body></html>"), r"^no main text found"),
    # --- hostile text ---
    # 5,000 one-word paragraphs are read whole (every word counted), then refused: no sentence, no article.
    Case("thousands-of-one-word-paragraphs", data("words.html", lambda: page("".join(f"<p>word{n}</p>" for n in range(5000)))),
         r"^not an article: no running text, its 5,000 words are short lines"),
    Case("one-word-1mb", data("pharma.html", lambda: page("<p>" + "pharma " * 150_000 + "</p>")),
         r"^repetitive text, not an article: 150,000 words but only 1 different$"),
    Case("one-token-1mb", data("token.html", lambda: page("<p>" + "x" * MB + "</p>")),
         r"^too little text to be an article \(1 word, minimum 120\)$"),
    Case("control-chars-in-title", data("ctl.html", page(paragraphs(12) + CONTROL_BODY, title=CONTROL_TITLE)),
         "article", check=check_control_title),
    Case("title-100k-chars", data("title.html", lambda: page(paragraphs(12), title=" ".join(f"telehealth{n}" for n in range(8000)))),
         "article", check=check_long_title),
    Case("numbers-only", data("numbers.html", numbers_only),
         r"^no language recognised in the text: it is mostly numbers or symbols$"),
    Case("lang-xx-invalid", data("lang.html", page(paragraphs(12), lang="xx-invalid")), "article", check=check_detected_language),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    target = case.make(tmp_path)
    result = run_child(case.mode, target, **case.settings)
    peak_mb = result["peak_kb"] / 1024
    grown_mb = (result["peak_kb"] - result["baseline_kb"]) / 1024
    print(f"{case.name}: {result['outcome']} {result.get('reason', '')!r} {result['seconds']:.2f} s, peak {peak_mb:.0f} MB (+{grown_mb:.0f})")
    assert result["outcome"] != "crash", f"{result['reason']}\n{result.get('traceback', '')}"
    assert result["seconds"] < TIMEOUT_S
    assert peak_mb < PEAK_MB
    if case.unread:
        assert grown_mb < UNREAD_MB, f"the page was read although too large: +{grown_mb:.0f} MB"
    if case.expect == "article":
        assert result["outcome"] == "article", result.get("reason")
        assert_clean_text(result["title"])
        assert len(result["title"]) <= MAX_TITLE_CHARS
        if case.check:
            case.check(result)
    else:
        assert result["outcome"] == "refused", f"expected a refusal, got an article titled {result.get('title')!r}"
        assert_clear(result["reason"])
        assert re.search(case.expect, result["reason"]), result["reason"]


# --- files that are not regular, readable files ---------------------------------------------------------------------


def refused(path: Path, **overrides: object) -> str:
    result = run_child("file", path, **overrides)
    assert result["outcome"] == "refused", result
    assert result["seconds"] < TIMEOUT_S
    assert_clear(result["reason"])
    return result["reason"]


def test_a_folder(tmp_path: Path) -> None:
    (tmp_path / "folder.html").mkdir()
    assert refused(tmp_path / "folder.html") == "is a folder, not a file"


def test_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a.html").symlink_to(tmp_path / "b.html")
    (tmp_path / "b.html").symlink_to(tmp_path / "a.html")
    assert refused(tmp_path / "a.html") == "cannot read file: too many levels of symbolic links (a symlink loop?)"


def test_a_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "gone.html").symlink_to(tmp_path / "missing.html")
    assert refused(tmp_path / "gone.html") == "no such file"


def test_a_named_pipe_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.html")  # opening it for reading would wait for a writer forever
    assert refused(tmp_path / "pipe.html") == "not a regular file (a named pipe)"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_an_endless_device() -> None:
    assert refused(Path("/dev/zero")) == "not a regular file (a device)"  # read whole, it would never end


def test_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.html"
    path.write_text(ARTICLE, encoding="utf-8")
    path.chmod(0)
    try:
        try:
            path.open("rb").close()
        except PermissionError:
            pass
        else:
            pytest.skip("this user (root?) can read a file whatever its mode: see the simulated case below")
        assert refused(path) == "cannot read file: permission denied"
    finally:
        path.chmod(0o644)


def test_an_unreadable_file_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same refusal where chmod cannot stop the reader (root): the open itself is denied."""
    path = tmp_path / "secret.html"
    path.write_text(ARTICLE, encoding="utf-8")

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(extract_module.os, "open", denied)
    with pytest.raises(SourceError) as caught:
        extract_file(path, Settings())
    assert caught.value.reason == "cannot read file: permission denied"
    assert caught.value.source == str(path)


def test_a_file_that_fails_while_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "flaky.html"
    path.write_text(ARTICLE, encoding="utf-8")

    def failing(fd: int, size: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(extract_module.os, "read", failing)
    with pytest.raises(SourceError) as caught:
        extract_file(path, Settings())
    assert caught.value.reason == "cannot read file (Input/output error)"


# --- fuzzing --------------------------------------------------------------------------------------------------------

TAGS = ["html", "head", "body", "title", "article", "main", "div", "p", "span", "a", "h1", "h2", "ul", "li", "table",
        "tr", "td", "script", "style", "meta", "br", "img", "b", "i", "!--", "![CDATA[", "?xml", "!DOCTYPE", "svg", "math"]


FRAGMENTS = [b"<", b">", b"&", b"&#x", b"&#", b";", b'"', b"'", b"=", b"/", b"</", b"<!--", b"-->", b"]]>", b"<![CDATA[",
             b"<svg>", b"<math>", b"<table>", b"<td>", b"</div>", b"<div>", b"<p>", b"</p>", b"<script>", b"</script>",
             b"<style>", b"<title>", b"</title>", b"<html>", b"<body>", b"</body>", b"<head>", b"<meta charset=latin-1>",
             b"<?xml ", b"<!DOCTYPE x [", b"<!ENTITY a 'b'>", b"&a;", b"\xef\xbb\xbf", b"\x00", b"\xff"]


def mutate(rng: random.Random, base: bytes) -> bytes:
    """Markup-aware damage (fragments, deletions, duplications), and now and then a random byte."""
    data = bytearray(base)
    for _ in range(rng.randint(1, 40)):
        action, at = rng.random(), rng.randrange(len(data) + 1)
        if action < 0.08 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif action < 0.5:
            data[at:at] = rng.choice(FRAGMENTS)
        elif action < 0.75:
            del data[at : at + rng.randint(1, 64)]
        else:
            start = rng.randrange(len(data) + 1)
            data[at:at] = data[start : start + rng.randint(1, 200)]
    return bytes(data)


def tag_soup(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(1, 3000)):
        tag, roll = rng.choice(TAGS), rng.random()
        if roll < 0.45:
            attributes = " ".join(f'{rng.choice(["class", "id", "lang", "charset", "href", "x"])}="{rng.random()}"' for _ in range(rng.randint(0, 3)))
            parts.append(f"<{tag} {attributes}>")
        elif roll < 0.75:
            parts.append(f"</{tag}>")
        else:
            parts.append(" ".join(rng.choice(SENTENCE.split()) for _ in range(rng.randint(1, 30))))
    return "".join(parts).encode("utf-8")


def test_fuzzed_inputs(tmp_path: Path) -> None:
    """300 inputs: random bytes, mutated articles and random tag soup, all through extract_file in one child."""
    rng = random.Random(20240607)
    folder = tmp_path / "fuzz"
    folder.mkdir()
    base = ARTICLE.encode("utf-8")
    for n in range(300):
        kind = n % 3
        if kind == 0:
            content = rng.randbytes(rng.choice([0, 1, 2, 3, 7, 100, 4096, 70_000]))
        elif kind == 1:
            content = mutate(rng, base)
        else:
            content = tag_soup(rng)
        (folder / f"{n:03d}-{['bytes', 'mutant', 'soup'][kind]}.html").write_bytes(content)
    started = time.perf_counter()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", CHILD, "batch", str(folder), "{}"], capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    outcomes: dict[str, int] = {}
    for name, result in report["results"].items():
        assert result["outcome"] != "crash", f"{name}: {result['reason']}\n{result.get('traceback', '')}"
        assert result["seconds"] < TIMEOUT_S, name
        if result["outcome"] == "refused":
            assert_clear(result["reason"])
            key = re.split(r"[(:]", result["reason"])[0].strip()
        else:
            assert_clean_text(result["title"])
            key = "article"
        outcomes[key] = outcomes.get(key, 0) + 1
    peak_mb = report["peak_kb"] / 1024
    print(f"fuzz: {outcomes}, {time.perf_counter() - started:.1f} s, peak {peak_mb:.0f} MB")
    assert peak_mb < PEAK_MB
    assert outcomes.get("article", 0) > 0  # the mutants that stay articles are still extracted
