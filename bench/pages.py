"""Synthetic article pages shaped like the sample corpus's, for the incremental-build benchmark.

    .venv/bin/python bench/pages.py OUT_DIR [--count 1000] [--seed 7]

How a page is made. Each page starts from one of the 44 real article pages of `corpus/` (taken in turn, so
every site template and both languages are used evenly) and keeps its whole HTML template: head metadata
(title, Open Graph, JSON-LD), cookie banner, menus, byline, related links, footer. Only the article changes:

- body: the base article's paragraphs and subheadings, with one to three paragraphs of another article of
  the same site inserted at random places after the lead, and sometimes one base paragraph dropped (at least
  three stay); the sentences of about half of the paragraphs are put in another order;
- names: every capitalised word of the article that the corpus never writes in lower case and that does
  not occur in the site's template (companies, people, products, places) becomes an invented name made of
  syllables (the same invented name everywhere on the page: title, description, JSON-LD, headline, body,
  byline); acronyms and month/day names stay;
- numbers: most digit runs of the body take another value of the same length (years stay plausible years);
- title: the base title with its names replaced (so it reads like another company's story);
- URL: a new canonical URL (`<link rel=canonical>`, og:url, JSON-LD mainEntityOfPage) under the same site,
  with the new date in its path and a unique slug;
- date: a random publication date between 2020-01-01 and 2025-12-31 everywhere the base date appears.

Near-duplicates: the index stores one article per story, merging texts whose 64-bit simhash (trafilatura's,
as `healthqa.duplicates` uses) differ in at most 5 bits. Each candidate page's approximate text (title and
body paragraphs, tags stripped) is hashed the same way and the page is drawn again until it differs from every
page accepted so far in more than MIN_BITS bits, a margin above the detector's 5. `bench/incremental.py`
checks what the real build says (`also_published == 0`, as many articles as pages)."""

from __future__ import annotations

import argparse
import html
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from common import ROOT

MIN_BITS = 10
KEEP_SHARE = 0.6  # of the base's paragraphs after the lead
_P = re.compile(r"^(\s*)<p>(.*)</p>\s*$")
_H2 = re.compile(r"^(\s*)<h2>(.*)</h2>\s*$")
_TAG = re.compile(r"<[^>]+>")
_CAPITALISED = re.compile(r"(?<![\w&#/.-])([A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+)*)(?![\w])")
_DIGITS = re.compile(r"(?<![\w#&])\d+(?![\w;])")
_SENTENCE_END = re.compile(r"(?<=[.!?»”])\s+(?=[«“\"A-ZÀ-ÖØ-Þ])")
_WORDS = re.compile(r"\w+(?:-\w+)*")
_URL = re.compile(r"(?:https?://|/)[^\s\"'<>]+")
_CANONICAL = re.compile(r'<link rel="canonical" href="([^"]+)"')
_PUBLISHED = re.compile(r'article:published_time" content="(\d{4}-\d{2}-\d{2})')
_KEEP = frozenset(
    "January February March April May June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)
_SYLLABLES = ("ka", "ver", "lo", "mi", "tan", "bro", "sel", "du", "ri", "fen", "gar", "no", "val", "ter", "is", "mor",
              "que", "lan", "dre", "sto", "vik", "ara", "pel", "zon", "tri", "bel", "cor", "hal", "nes", "ul")


@dataclass
class _Base:
    path: Path
    site: str
    text: str  # the whole page
    lines: list[str]
    body: tuple[int, int]  # first and last line of the article body (plain <p> and <h2> lines)
    elements: list[tuple[str, str, str]]  # (kind "p" or "h2", indentation, inner HTML)
    url: str
    date: str
    title: str
    names: list[str]


def load_bases(corpus: Path = ROOT / "corpus") -> list[_Base]:
    """The real article pages of the corpus (date-named files with an article body), with what varies."""
    pages = sorted(p for p in corpus.glob("*/*.html") if re.match(r"\d{4}-\d{2}-", p.name))
    texts = {p: p.read_text(encoding="utf-8") for p in pages}

    def words(fragment: str) -> set[str]:
        return set(_WORDS.findall(_URL.sub(" ", html.unescape(_TAG.sub(" ", fragment)))))

    bodies = {p: text.split("</head>", 1)[-1] for p, text in texts.items()}
    lower_words = {w for body in bodies.values() for w in words(body) if w.islower()}
    template: dict[str, set[str]] = {}  # words on every page of a site: menus, share buttons, footer...
    for path, body in bodies.items():
        found = words(body)
        template[path.parent.name] = template[path.parent.name] & found if path.parent.name in template else found
    bases = []
    for path, text in texts.items():
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if "<article" in line)
        end = next(i for i, line in enumerate(lines) if "</article>" in line)
        body = [i for i in range(start, end) if _P.match(lines[i]) or _H2.match(lines[i])]
        if len(body) < 3:
            continue
        elements = []
        for i in range(body[0], body[-1] + 1):
            match = _P.match(lines[i]) or _H2.match(lines[i])
            if match:
                elements.append(("p" if _P.match(lines[i]) else "h2", match.group(1), match.group(2)))
        article_words = words("\n".join(lines[start:end]))
        title = re.search(r"<h1[^>]*>(.*?)</h1>", text).group(1)
        site_words = template[path.parent.name]
        names = sorted(
            {w for w in article_words | words(title) if _CAPITALISED.fullmatch(w)
             and w.lower() not in lower_words and w not in _KEEP and w not in site_words},
            key=len, reverse=True,
        )
        bases.append(_Base(path, path.parent.name, text, lines, (body[0], body[-1]), elements,
                           _CANONICAL.search(text).group(1), _PUBLISHED.search(text).group(1), html.unescape(title), names))
    return bases


def _invented_name(rng: random.Random, like: str) -> str:
    parts = [rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3, 3)))]
    name = "".join(parts).capitalize()
    if "-" in like:
        name += "-" + "".join(rng.choice(_SYLLABLES) for _ in range(2)).capitalize()
    return name


def _shuffle_sentences(rng: random.Random, paragraph: str) -> str:
    sentences = _SENTENCE_END.split(paragraph)
    if len(sentences) > 1:
        rng.shuffle(sentences)
    return " ".join(sentences)


def _new_number(rng: random.Random, match: re.Match[str]) -> str:
    digits = match.group(0)
    value = int(digits)
    if len(digits) == 4 and 1990 <= value <= 2035:
        return str(rng.randint(2015, 2027))
    if rng.random() < 0.3:
        return digits
    if len(digits) == 1:
        return str(rng.randint(2, 9))
    return str(rng.randint(10 ** (len(digits) - 1), 10 ** len(digits) - 1))


def _simhash(text: str) -> int:
    from healthqa.duplicates import text_simhash

    return text_simhash(text) & ((1 << 64) - 1)


def _plain(inner_html: str) -> str:
    return html.unescape(_TAG.sub("", inner_html))


def make_page(base: _Base, donors: list[_Base], number: int, rng: random.Random) -> tuple[str, str, str]:
    """(file name, page HTML, approximate extracted text) of synthetic page `number` built on `base`."""
    elements = [e for i, e in enumerate(base.elements) if i == 0 or e[0] == "h2" or rng.random() < KEEP_SHARE]
    if sum(kind == "p" for kind, _, _ in elements) < 3:  # too few left: the first paragraphs of the base
        elements = list(base.elements[: next(i for i, e in enumerate(base.elements) if sum(x[0] == "p" for x in base.elements[: i + 1]) == 3) + 1])
    chosen = rng.sample(donors, 2)
    for donor in chosen:
        donated = [e for e in donor.elements if e[0] == "p"][1:]
        for element in rng.sample(donated, min(len(donated), rng.randint(1, 3))):
            elements.insert(rng.randint(1, len(elements)), element)
    names = {name: _invented_name(rng, name) for name in base.names + [n for d in chosen for n in d.names]}
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?![\w])") if names else None

    def rename(text: str) -> str:
        return pattern.sub(lambda m: names[m.group(1)], text) if pattern else text

    body_lines = []
    texts = []
    for kind, indent, inner in elements:
        if kind == "p":
            inner = _DIGITS.sub(lambda m: _new_number(rng, m), inner)
            if rng.random() < 0.5:
                inner = _shuffle_sentences(rng, inner)
        inner = rename(inner)
        body_lines.append(f"{indent}<{kind}>{inner}</{kind}>")
        texts.append(_plain(inner))
    lines = base.lines[: base.body[0]] + body_lines + base.lines[base.body[1] + 1 :]
    page = rename("\n".join(lines))

    published = date(2020, 1, 1) + timedelta(days=rng.randrange((date(2025, 12, 31) - date(2020, 1, 1)).days + 1))
    slug_words = re.sub(r"[^a-z0-9]+", "-", rename(base.title).lower()).strip("-").split("-")[:8]
    prefix = re.sub(r"/\d{4}/\d{2}/[^/]+$", "", base.url)
    url = f"{prefix}/{published:%Y/%m}/{'-'.join(slug_words)}-{number:05d}"
    page = page.replace(base.url, url).replace(base.date, published.isoformat())
    title = rename(base.title)
    name = f"{base.site}/{published:%Y-%m}-{number:05d}-{'-'.join(slug_words[:5])}.html"
    return name, page + "\n", title + "\n" + "\n\n".join(texts)


def synthetic_pages(count: int, seed: int = 7, start: int = 0) -> list[tuple[str, str]]:
    """`count` distinct pages (file name, HTML), numbered from `start`; the same arguments give the same
    pages. Pages numbered from `start` are distinct from each other and from pages 0..start-1 made with
    the same seed."""
    bases = load_bases()
    by_site: dict[str, list[_Base]] = {}
    for base in bases:
        by_site.setdefault(base.site, []).append(base)
    rng = random.Random(seed)
    accepted: list[int] = []
    pages: list[tuple[str, str]] = []
    number = 0
    while len(pages) < count:
        base = bases[number % len(bases)]
        donors = [b for b in by_site[base.site] if b is not base]
        for _attempt in range(300):
            name, page, text = make_page(base, donors, number, rng)
            simhash = _simhash(text)
            if not accepted or _min_distance(accepted, simhash) > MIN_BITS:
                break
        else:
            raise RuntimeError(f"could not make page {number} distinct enough from the others")
        accepted.append(simhash)
        if number >= start:
            pages.append((name, page))
        number += 1
    return pages


def _min_distance(hashes: list[int], value: int) -> int:
    known = np.asarray(hashes, dtype=np.uint64)
    differing = np.bitwise_xor(known, np.uint64(value))
    return int(np.unpackbits(differing.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1).min())


def write_pages(folder: Path, count: int, seed: int = 7, start: int = 0) -> list[Path]:
    paths = []
    for name, page in synthetic_pages(count, seed, start):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    paths = write_pages(args.out, args.count, args.seed)
    print(f"{len(paths)} pages in {args.out}")


if __name__ == "__main__":
    main()
