"""`make eval-real`: retrieval (and, when asked, answers) measured on real public sets, in one table.

Sets (see ../shared/data/README.md and eval/README.md):
    piaf-fr     PIAF dev questions (French) over the PIAF pages, distractors included
    piaf-en     our English questions over the same pages (eval/piaf-en.jsonl)
    covidqa-en  COVID-QA dev questions (English) over the CORD-19 papers
    covidqa-fr  our French questions over the same papers (eval/covidqa-fr.jsonl)
    sample      corpus/questions.jsonl over corpus/ (every language pair)
    *-mixed     the four real sets again, over one index of the PIAF pages and the COVID-QA papers together: French
                and English articles side by side, as in the product (only when named: --sets piaf-fr-mixed,…)

Each corpus is indexed once with the product's settings and cached under .cache/eval-real/ (rebuilt when the
pages, the settings or the code's index format change); every set is then searched with the default retrieval,
BM25 alone and dense alone (with --compare, every fusion too). The data itself never enters the repository."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from healthqa import Encoder, Index, Settings, build  # noqa: E402
from healthqa.evaluate import Question, evaluate_retrieval, load_questions, normalise  # noqa: E402
from healthqa.extract import iter_html_files  # noqa: E402
from healthqa.fusion import FUSIONS  # noqa: E402
from healthqa.records import Hit  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
EVAL = ROOT / "eval"
CACHE = ROOT / ".cache" / "eval-real"
DEFAULT_OUT = ROOT / "bench" / "eval-real.json"
# The PIAF pages are single Wikipedia paragraphs; five pages that dev questions are about hold 74-103 words,
# under the product's 120-word article floor. The real-data indexes take every page (the floor is an ingestion
# rule for news sites: menus, cookie walls); `--min-words 120` measures what the default ingestion keeps.
MIN_WORDS = 50


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str
    pages: Path
    real: bool = True  # real-data pages are all admitted (MIN_WORDS); the sample keeps the product's settings
    also: tuple[Path, ...] = ()  # further folders indexed with `pages`

    @property
    def folders(self) -> list[Path]:
        return [self.pages, *self.also]

    @property
    def available(self) -> bool:
        return all(folder.is_dir() for folder in self.folders)


@dataclass(frozen=True, slots=True)
class QuestionSet:
    name: str
    corpus: str
    questions: Path
    description: str
    pair: str = ""  # question → page languages, for sets whose questions do not name their pages
    default: bool = True  # measured when no set is named


CORPORA = {
    "piaf": Corpus("piaf", DATA / "piaf-fr" / "pages"),
    "covidqa": Corpus("covidqa", DATA / "covidqa-en" / "pages"),
    "sample": Corpus("sample", ROOT / "corpus", real=False),
    "mixed": Corpus("mixed", DATA / "piaf-fr" / "pages", also=(DATA / "covidqa-en" / "pages",)),
}
_REAL_SETS = (
    QuestionSet("piaf-fr", "piaf", DATA / "piaf-fr" / "questions.jsonl", "PIAF dev, French Wikipedia", "fr->fr"),
    QuestionSet("piaf-en", "piaf", EVAL / "piaf-en.jsonl", "ours, English questions over PIAF pages"),
    QuestionSet("covidqa-en", "covidqa", DATA / "covidqa-en" / "questions.jsonl", "COVID-QA dev, CORD-19 papers", "en->en"),
    QuestionSet("covidqa-fr", "covidqa", EVAL / "covidqa-fr.jsonl", "ours, French questions over COVID-QA papers"),
)
SETS = (
    *_REAL_SETS,
    QuestionSet("sample", "sample", ROOT / "corpus" / "questions.jsonl", "sample corpus, labelled questions"),
    *(QuestionSet(f"{s.name}-mixed", "mixed", s.questions, f"{s.description}, in one index with the other set's pages", s.pair,
                  default=False) for s in _REAL_SETS),
)
RETRIEVALS = ("default", "lexical", "dense")


def eval_settings(base: Settings | None = None, **changes: Any) -> Settings:
    """The product's settings (HEALTHQA_* included) with every page of the dev sets admitted."""
    base = base or Settings.from_env()
    changes.setdefault("min_words", MIN_WORDS)
    return base.with_(**changes)


def corpus_index(corpus: Corpus, settings: Settings, *, cache: Path = CACHE, encoder: Encoder | None = None,
                 log: Callable[[str], None] = print) -> tuple[Index, dict[str, Any]]:
    """The index of a corpus under `cache`, built or synced when its pages or settings changed; with build
    figures (passages per second) when it was built now, else those recorded at its build."""
    if not corpus.real:
        settings = settings.with_(min_words=Settings.from_env().min_words)
    directory = cache / f"{corpus.name}-{_settings_key(settings)}"
    settings = settings.with_(index_dir=directory)
    encoder = encoder or Encoder(settings.model, batch_size=settings.batch_size)
    info_path = directory / "eval-build.json"
    started = time.perf_counter()
    report = build(corpus.folders, settings=settings, encoder=encoder, if_stale=info_path.is_file())
    seconds = time.perf_counter() - started
    if report.unchanged:
        info = json.loads(info_path.read_text(encoding="utf-8")) | {"built_now": False}
    else:
        log(f"built the {corpus.name} index in {directory}")
        info = {
            "pages": len(list(iter_html_files(corpus.folders))), "articles": report.articles, "passages": report.passages,
            "skipped": len(report.skipped), "seconds": round(seconds, 1), "embedded": report.embedded,
            "passages_per_second": round(report.passages / seconds, 1) if seconds else None,
            "encode_seconds": round(report.timings.get("encode", 0.0), 1), "load_average": _load(), "built_now": True,
        }
        info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return Index.open(directory, settings=settings, encoder=encoder), info


def retrieval_reports(index: Index, questions: Sequence[Question], *, compare: bool = False) -> dict[str, dict[str, Any]]:
    """recall@1/5/10, MRR@10 and search latency (query encoding included) of the default retrieval and of each
    retriever alone; with `compare`, of every fusion as well."""
    names = [*RETRIEVALS, *([f"hybrid:{name}" for name in FUSIONS] if compare else [])]
    reports = {}
    for name in names:
        if name == "default":
            search: Callable[[str, int], list[Hit]] = lambda text, k: index.search(text, k)  # noqa: E731
        elif name in ("lexical", "dense"):
            search = lambda text, k, mode=name: index.search(text, k, retrieval=mode)  # noqa: E731
        else:
            search = lambda text, k, fusion=name.split(":")[1]: index.search(text, k, retrieval="hybrid", fusion=fusion)  # noqa: E731
        reports[name] = evaluate_retrieval(index, questions, ks=(1, 5, 10), search=search)
    return reports


def answer_report(index: Index, questions: Sequence[Question]) -> dict[str, Any]:
    """Answer metrics of one set: the place where `evaluate_answers(assistant, questions)` plugs in. Whatever it
    returns (per-group shares, latency) goes into the JSON as is; the table shows its numbers for "all"."""
    from healthqa.answer import Assistant
    from healthqa.evaluate import evaluate_answers

    return evaluate_answers(Assistant(index, index.settings), questions)


def run(*, sets: Sequence[str] = (), answers: bool = False, compare: bool = False, settings: Settings | None = None,
        cache: Path = CACHE, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Builds what is missing, measures every chosen set whose data is present, and returns the report."""
    settings = settings or eval_settings()
    chosen = [s for s in SETS if (s.name in sets if sets else s.default)]
    missing = sorted({s.corpus for s in chosen if not CORPORA[s.corpus].available})
    if missing:
        log(f"real data not found at {DATA} (needed by: {', '.join(missing)}); those sets are skipped. "
            "The data lives beside the repository (../shared/data), never inside it.")
    result: dict[str, Any] = {
        "settings": {"model": settings.model or "use-multilingual-v3", "fusion": settings.fusion,
                     "passage_tokens": settings.passage_tokens, "overlap_tokens": settings.overlap_tokens,
                     "min_words": settings.min_words, "per_article": settings.per_article},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_start": _load()},
        "missing_data": missing, "builds": {}, "sets": {},
    }
    encoder = Encoder(settings.model, batch_size=settings.batch_size)
    opened: dict[str, Index] = {}
    try:
        for question_set in chosen:
            corpus = CORPORA[question_set.corpus]
            if not corpus.available or not question_set.questions.is_file():
                continue
            if corpus.name not in opened:
                opened[corpus.name], result["builds"][corpus.name] = corpus_index(corpus, settings, cache=cache, encoder=encoder, log=log)
            index = opened[corpus.name]
            questions = load_questions(question_set.questions)
            log(f"measuring {question_set.name} ({sum(q.answerable for q in questions)} questions) ...")
            entry: dict[str, Any] = {"description": question_set.description, "questions": str(_relative(question_set.questions)),
                                     "retrieval": retrieval_reports(index, questions, compare=compare)}
            if answers:
                entry["answers"] = answer_report(index, questions)
            result["sets"][question_set.name] = entry
    finally:
        for index in opened.values():
            index.close()
    result["machine"]["load_average_end"] = _load()
    return result


def table(result: dict[str, Any]) -> str:
    """One row per set, language pair and retrieval: R@1, R@5, R@10, MRR@10, search p50; answers below."""
    lines = [f"{'set':12} {'pair':8} {'retrieval':24} {'n':>4} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7} {'p50 ms':>7}"]
    pairs = {question_set.name: question_set.pair for question_set in SETS}
    for name, entry in result["sets"].items():
        for retrieval, report in entry["retrieval"].items():
            groups = [g for g in report if "->" in g] if name == "sample" else ["all"]
            for group in groups:
                scores = report[group]
                pair = group if group != "all" else pairs.get(name) or next((g for g in report if "->" in g), "all")
                label = "default" if retrieval == "default" else retrieval
                lines.append(
                    f"{name:12} {pair:8} {label:24} {scores['questions']:>4} {scores['recall@1']:>6.3f} "
                    f"{scores['recall@5']:>6.3f} {scores['recall@10']:>6.3f} {scores['mrr@10']:>7.3f} "
                    f"{report['latency_ms_p50']:>7.2f}"
                )
    for corpus, info in result["builds"].items():
        when = "built in this run" if info.get("built_now") else "cached"
        lines.append(f"index {corpus}: {info['articles']} articles, {info['passages']} passages, {info['seconds']} s "
                     f"({info['passages_per_second']} passages/s, {when}; load average then {info.get('load_average')})")
    answered = {name: entry["answers"] for name, entry in result["sets"].items() if "answers" in entry}
    if answered:
        lines += ["", f"{'answers':12} {'n':>4} {'answer':>7} {'first':>6} {'ceiling':>8} {'words':>6} {'refused':>8} "
                      f"{'unansw.':>8} {'short':>6} {'EM':>5} {'F1':>5} {'p50 ms':>7} {'p95 ms':>7}"]
        for name, report in answered.items():
            scores, unanswerable = report["groups"]["all"], report["unanswerable"]
            abstained = f"{unanswerable['abstained']:.2f}" if unanswerable["questions"] else "-"
            lines.append(
                f"{name:12} {scores['questions']:>4} {scores['answer_contains']:>7.3f} {scores['first_sentence_contains']:>6.3f} "
                f"{scores['retrieved_contains']:>8.3f} {scores['median_words']:>6} {scores['abstained']:>8.3f} {abstained:>8} "
                f"{scores['short_given']:>6.2f} {scores['short_exact']:>5.2f} {scores['short_f1']:>5.2f} "
                f"{report['latency_ms_p50']:>7} {report['latency_ms_p95']:>7}"
            )
        lines.append("answer/first: the answer text / its first quote contains a gold phrase; ceiling: the retrieved "
                     "passages do; refused: answerable questions abstained; unansw.: unanswerable ones that abstain")
    return "\n".join(lines)


def _settings_key(settings: Settings) -> str:
    model = (settings.model or "use").replace("/", "_")
    return f"{model}-{settings.passage_tokens}-{settings.overlap_tokens}-mw{settings.min_words}-{'_'.join(settings.languages)}"


def _relative(path: Path) -> Path:
    for base in (ROOT, ROOT.parent):
        try:
            return path.resolve().relative_to(base.resolve())
        except ValueError:
            continue
    return path


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval/realdata.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="", help=f"comma-separated, among {', '.join(s.name for s in SETS)} (default: all but the -mixed ones)")
    parser.add_argument("--no-answers", dest="answers", action="store_false", help="retrieval only (answers take a minute more)")
    parser.add_argument("--compare", action="store_true", help="also every fusion, not only default, BM25 and dense")
    parser.add_argument("--min-words", type=int, default=MIN_WORDS, help=f"article floor for the real sets (default {MIN_WORDS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON report (default {_relative(DEFAULT_OUT)})")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where indexes are kept between runs")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    result = run(sets=[s for s in args.sets.split(",") if s], answers=args.answers, compare=args.compare,
                 settings=eval_settings(min_words=args.min_words), cache=args.cache, log=log)
    if not result["sets"]:
        log("nothing was measured")
        return 1
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
