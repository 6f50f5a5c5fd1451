"""Ingestion on real web pages: what healthqa keeps of the pages trafilatura keeps as test fixtures.

    PYTHONPATH=src .venv/bin/python bench/web_pages.py                 (../shared/data/web-pages, healthqa)
    PYTHONPATH=src .venv/bin/python bench/web_pages.py --compare       (+ trafilatura 2 with several options)
    PYTHONPATH=src .venv/bin/python bench/web_pages.py --misses --json out.json

Scoring is trafilatura's own evaluation (its tests/comparison_small.py): the extracted text has its white space
collapsed; each `with` snippet found is a true positive, missing a false negative; each `without` snippet found
a false positive, missing a true negative; precision, recall and F1 are taken over the counts of all pages. A
page the ingestion refuses counts its `with` snippets as missed (and its `without` ones as rightly absent).
healthqa is scored on Article.text, what the index cuts into passages (headings appear as '## ' lines).

Metadata: for each page whose expect.jsonl line gives a title, author or date, whether the Article's value
matches (titles and authors compared after NFKC, case folding and white-space collapsing; an author matches when
one name contains the other, as bylines add or drop a middle name or a site; dates compared as YYYY-MM-DD). A
refused page counts as a miss.

Timing: each page is extracted `--repeat` times, in this process, after one warm-up pass; a page's time is its
fastest run (the least disturbed by other processes), and p50/p95 are taken over pages."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "web-pages"
LANGUAGES = ("en", "fr", "de")

# An extractor takes (page bytes, file name, page URL) and returns (text, metadata) or raises to refuse the page
# (the exception's message is the reason). Metadata holds title, author, date when known.
Extractor = Callable[[bytes, str, str], tuple[str, dict[str, str]]]


@dataclass
class Counts:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def add(self, other: "Counts") -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.tn += other.tn

    def scores(self) -> dict[str, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


@dataclass
class PageResult:
    file: str
    lang: str
    counts: Counts
    refused: str = ""  # the reason, when the page was refused
    missing: list[str] = field(default_factory=list)  # `with` snippets not found
    unwanted: list[str] = field(default_factory=list)  # `without` snippets found
    metadata: dict[str, bool] = field(default_factory=dict)  # field → matched, for the fields expect.jsonl gives
    got: dict[str, str] = field(default_factory=dict)
    ms: float = 0.0


def load_expectations(folder: Path = DEFAULT_DATA) -> list[dict[str, Any]]:
    path = folder / "expect.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_text(text: str | None, expected: dict[str, Any]) -> tuple[Counts, list[str], list[str]]:
    """trafilatura's rule: snippets searched in the text with its white space collapsed."""
    if text is None:
        return Counts(fn=len(expected["with"]), tn=len(expected["without"])), list(expected["with"]), []
    flat = " ".join(text.split())
    missing = [s for s in expected["with"] if s not in flat]
    unwanted = [s for s in expected["without"] if s in flat]
    counts = Counts(tp=len(expected["with"]) - len(missing), fn=len(missing), fp=len(unwanted),
                    tn=len(expected["without"]) - len(unwanted))
    return counts, missing, unwanted


def _norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).replace("\u00ad", "").casefold().split())


def metadata_matches(got: dict[str, str], expected: dict[str, Any]) -> dict[str, bool]:
    result = {}
    for name in ("title", "author", "date"):
        if not expected.get(name):
            continue
        want, have = _norm(str(expected[name])), _norm(got.get(name, ""))
        if name == "author":
            result[name] = bool(have) and (want in have or have in want)
        elif name == "date":
            result[name] = have[:10] == want[:10]
        else:
            result[name] = have == want
    return result


def healthqa_extractor(languages: tuple[str, ...] = LANGUAGES, options: dict[str, Any] | None = None) -> Extractor:
    """healthqa's ingestion; `options` replaces trafilatura's options for this run (to compare them in place)."""
    import importlib

    from healthqa import Settings

    module = importlib.import_module("healthqa.extract")
    settings = Settings(languages=languages)
    saved = getattr(module, "EXTRACTION_OPTIONS", None)  # absent before issue 12: lets this bench time older code
    chosen = saved if options is None else {**saved, **options}

    def run(data: bytes, name: str, url: str) -> tuple[str, dict[str, str]]:
        if options is None:
            article = module.extract_html(data, source=name, settings=settings, url=url or None)
        else:
            module.EXTRACTION_OPTIONS = chosen
            try:
                article = module.extract_html(data, source=name, settings=settings, url=url or None)
            finally:
                module.EXTRACTION_OPTIONS = saved
        return article.text, {"title": article.title, "author": article.author, "date": article.date,
                              "language": article.language}

    return run


def trafilatura_extractor(**options: Any) -> Extractor:
    """trafilatura 2 itself as `trafilatura.extract(page, **options)` returns its text (reader comments appended,
    as its default include_comments=True does), with its metadata."""
    import trafilatura

    def run(data: bytes, name: str, url: str) -> tuple[str, dict[str, str]]:
        document = trafilatura.bare_extraction(data, url=url or None, with_metadata=True, **options)
        if document is None or not document.text:
            raise ValueError("no text")
        text = document.text + ("\n" + document.comments if document.comments else "")
        return text, {"title": document.title or "", "author": document.author or "", "date": document.date or ""}

    return run


def evaluate(extractor: Extractor, folder: Path = DEFAULT_DATA, *, repeat: int = 1, with_url: bool = False) -> list[PageResult]:
    """Every page of expect.jsonl through `extractor`, scored. The page URL is passed only with `with_url`
    (a local file has none: the page's own canonical link is what counts)."""
    results = []
    expectations = load_expectations(folder)
    pages = [(item, (folder / "pages" / item["file"]).read_bytes()) for item in expectations]
    if repeat > 1:  # warm-up: imports, language model, caches
        for item, data in pages:
            try:
                extractor(data, item["file"], item["url"] if with_url else "")
            except Exception:
                pass
    for item, data in pages:
        text, got, refused, times = None, {}, "", []
        for _ in range(max(1, repeat)):
            started = time.perf_counter()
            try:
                text, got = extractor(data, item["file"], item["url"] if with_url else "")
                refused = ""
            except Exception as exc:  # a refusal, with its reason
                text, got, refused = None, {}, str(exc) or type(exc).__name__
            times.append((time.perf_counter() - started) * 1000)
        counts, missing, unwanted = score_text(text, item)
        results.append(PageResult(item["file"], item["lang"], counts, refused, missing, unwanted,
                                  metadata_matches(got, item), got, min(times)))
    return results


def summary(results: list[PageResult]) -> dict[str, Any]:
    """Overall and per-language scores, refusals, metadata match rates, extraction time."""
    groups: dict[str, list[PageResult]] = {"all": results}
    for result in results:
        groups.setdefault(result.lang, []).append(result)
    table = {}
    for name, group in groups.items():
        total = Counts()
        for result in group:
            total.add(result.counts)
        table[name] = {"pages": len(group), "refused": sum(bool(r.refused) for r in group), **total.scores()}
    metadata = {}
    for name in ("title", "author", "date"):
        checked = [r.metadata[name] for r in results if name in r.metadata]
        metadata[name] = {"pages": len(checked), "matched": sum(checked),
                          "rate": round(sum(checked) / len(checked), 3) if checked else None}
    times = sorted(r.ms for r in results)
    return {
        "scores": table,
        "metadata": metadata,
        "ms": {"p50": round(statistics.median(times), 1), "p95": round(_percentile(times, 95), 1),
               "mean": round(statistics.fmean(times), 1)} if times else {},
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def print_table(name: str, report: dict[str, Any]) -> None:
    print(f"{name}")
    print(f"  {'pages':8} {'n':>3} {'refused':>8} {'P':>6} {'R':>6} {'F1':>6}")
    for group, row in report["scores"].items():
        print(f"  {group:8} {row['pages']:>3} {row['refused']:>8} {row['precision']:>6.3f} {row['recall']:>6.3f} {row['f1']:>6.3f}")
    meta = ", ".join(f"{k} {v['matched']}/{v['pages']}" for k, v in report["metadata"].items() if v["pages"])
    ms = report["ms"]
    print(f"  metadata matched: {meta}")
    if ms:
        print(f"  extraction ms per page: p50 {ms['p50']}, p95 {ms['p95']}, mean {ms['mean']}")


def print_misses(results: list[PageResult]) -> None:
    for r in results:
        if r.refused or r.missing or r.unwanted or not all(r.metadata.values()):
            print(f"  {r.file} [{r.lang}]")
            if r.refused:
                print(f"    refused: {r.refused}")
            for s in r.missing:
                print(f"    missing: {s!r}")
            for s in r.unwanted:
                print(f"    unwanted: {s!r}")
            for k, ok in r.metadata.items():
                if not ok:
                    print(f"    {k}: got {r.got.get(k, '')!r}")


COMPARE = {
    "trafilatura defaults": {},
    "trafilatura favor_precision": {"favor_precision": True},
    "trafilatura favor_recall": {"favor_recall": True},
    "trafilatura fast (no fallbacks)": {"fast": True},
    "trafilatura no tables": {"include_tables": False},
}
# healthqa's pipeline with other trafilatura options in place of its own (EXTRACTION_OPTIONS).
ABLATIONS = {
    "healthqa with trafilatura's defaults": {"favor_precision": False},
    "healthqa with favor_recall": {"favor_precision": False, "favor_recall": True},
    "healthqa fast (no fallbacks)": {"fast": True},
    "healthqa without tables": {"include_tables": False},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with expect.jsonl and pages/")
    parser.add_argument("--languages", default=",".join(LANGUAGES), help="healthqa's languages setting")
    parser.add_argument("--compare", action="store_true", help="also trafilatura 2 alone with several options")
    parser.add_argument("--ablation", action="store_true", help="also healthqa with other trafilatura options")
    parser.add_argument("--repeat", type=int, default=3, help="extractions per page for timing (fastest kept)")
    parser.add_argument("--misses", action="store_true", help="list every missed or unwanted snippet and refusal")
    parser.add_argument("--json", type=Path, help="write the reports here")
    args = parser.parse_args(argv)
    if not (args.data / "expect.jsonl").is_file():
        print(f"no web pages at {args.data} (expect.jsonl missing)", file=sys.stderr)
        return 1
    runs = {"healthqa": healthqa_extractor(tuple(args.languages.split(",")))}
    if args.compare:
        runs.update({name: trafilatura_extractor(**options) for name, options in COMPARE.items()})
    if args.ablation:
        languages = tuple(args.languages.split(","))
        runs.update({name: healthqa_extractor(languages, options) for name, options in ABLATIONS.items()})
    reports = {}
    for name, extractor in runs.items():
        results = evaluate(extractor, args.data, repeat=args.repeat)
        reports[name] = summary(results)
        print_table(name, reports[name])
        if args.misses:
            print_misses(results)
        reports[name]["pages"] = [asdict(r) for r in results]
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
