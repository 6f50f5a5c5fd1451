"""The `healthqa` command: parses flags into Settings, calls the library, prints. Library errors become one
line on stderr and exit code 1; Ctrl-C exits 130 without touching the index."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from .errors import HealthQAError
from .settings import BACKENDS, RETRIEVAL_MODES, Settings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(
            index_dir=args.index, model=getattr(args, "model", None), languages=getattr(args, "languages", None),
            retrieval=getattr(args, "retrieval", None), backend=getattr(args, "backend", None),
            milvus_uri=getattr(args, "milvus_uri", None), milvus_index=getattr(args, "milvus_index", None),
            ray=getattr(args, "ray", None),
        )
        return args.run(args, settings)
    except BrokenPipeError:  # the reader went away (`healthqa search … | head`): stop quietly, as `cat` does
        _silence_stdout()
        return 141
    except HealthQAError as exc:
        print(f"healthqa: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("healthqa: interrupted; the index on disk is unchanged", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush does not fail once more on exit."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", metavar="DIR", help="index folder (default: $HEALTHQA_INDEX or ./index)")
    common.add_argument("--model", metavar="NAME_OR_PATH",
                        help="embedding model: use-multilingual-v3 (default), all-MiniLM-L6-v2, or a sentence-transformers model")
    retrieval = argparse.ArgumentParser(add_help=False)
    retrieval.add_argument("--retrieval", choices=RETRIEVAL_MODES, help="hybrid (default), dense or lexical")

    parser = argparse.ArgumentParser(prog="healthqa", description="Question answering over health-industry news articles.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    # Beyond one machine (the 'scale' extra): where the build runs, where the index lives.
    scale = argparse.ArgumentParser(add_help=False)
    scale.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="run the stages on Ray: a new local cluster, or the cluster at ADDRESS (or $RAY_ADDRESS)")
    engine = argparse.ArgumentParser(add_help=False)
    engine.add_argument("--backend", choices=BACKENDS, help="where vectors and BM25 live: faiss (files here, the default) or "
                        "milvus; later commands read it from the index folder")
    engine.add_argument("--milvus-uri", metavar="URI", help="a Milvus Lite file (default: milvus.db in the index folder) or http://HOST:19530")
    engine.add_argument("--milvus-index", metavar="TYPE", help="vector index type in Milvus: AUTOINDEX (default), FLAT, IVF_FLAT, HNSW, DISKANN")

    build = commands.add_parser(
        "build", parents=[common, output, scale, engine], help="build or sync the index from HTML files and folders",
        description="Sync the index with HTML files and folders (default: corpus/): new and changed pages are read, "
                    "pages deleted from these folders are dropped, unchanged pages cost nothing.")
    build.add_argument("sources", nargs="*", default=["corpus"], metavar="SOURCE", help="HTML file or folder (recursive)")
    build.add_argument("--languages", metavar="CODES", help="languages to index, comma-separated (default: en,fr)")
    build.add_argument("--if-stale", action="store_true", help="return at once when the inputs are those of the last build")
    build.add_argument("--fresh", action="store_true", help="start from an empty index (the embedding cache is still used)")
    build.set_defaults(run=_build)

    add = commands.add_parser(
        "add", parents=[common, output, scale], help="add files, folders and URLs (pages, feeds, sitemaps) to the index",
        description="Add articles from HTML files, folders and URLs: an article page, an RSS or Atom feed, a "
                    "sitemap, or a site's home page (its feeds and sitemap are found). Nothing is dropped; a page "
                    "read before is replaced when it changed.")
    add.add_argument("sources", nargs="+", metavar="SOURCE", help="file, folder or http(s) URL")
    add.set_defaults(run=_add)

    remove = commands.add_parser("remove", parents=[common, output], help="remove articles from the index",
                                 description="Remove articles by id, URL or source (file path or page URL).")
    remove.add_argument("references", nargs="+", metavar="ID_OR_URL")
    remove.set_defaults(run=_remove)

    merge = commands.add_parser(
        "merge", parents=[common, output], help="merge the index's segments (updates start it in the background)",
        description="Merge every segment that updates wrote into a new base, without the removed passages. Searches "
                    "keep being answered meanwhile; updates wait a moment at the end.")
    merge.add_argument("--rebuild", action="store_true",
                       help="build the base's graph anew without the removed passages (by default only when they are many)")
    merge.add_argument("--if-needed", action="store_true",
                       help="only what the merge policy says is due: maybe nothing, maybe the small segments into one")
    merge.set_defaults(run=_merge)

    search = commands.add_parser("search", parents=[common, retrieval], help="passages closest to a query",
                                 description="Print the passages closest in meaning to QUERY.")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--k", type=int, default=5, metavar="N", help="number of passages (default: 5)")
    search.add_argument("--json", action="store_true", help="print the hits as JSON")
    search.set_defaults(run=_search)

    ask = commands.add_parser("ask", parents=[common, retrieval], help="answer a question with cited sources",
                              description="Answer QUESTION from the articles, each sentence cited to its source.")
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(run=_ask)

    serve = commands.add_parser("serve", parents=[common, retrieval], help="serve the web chat",
                                description="Serve the web chat (Gradio) over the index.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--expose", action="store_true",
                       help="required to bind any address other than this machine's (e.g. --host 0.0.0.0); use with --auth")
    serve.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    serve.add_argument("--auth", metavar="USER:PASSWORD", help="require this user name and password")
    serve.set_defaults(run=_serve)

    evaluate = commands.add_parser(
        "eval", parents=[common, retrieval], help="measure retrieval (or answers) on labelled questions",
        description="recall@k and MRR@10 on a JSON Lines file of labelled questions, overall, by question language "
                    "and by question→article language pair; with --answers, what the answers contain instead "
                    "(see README, 'Evaluating').")
    evaluate.add_argument("questions", metavar="QUESTIONS.jsonl")
    evaluate.add_argument("--k", default="1,5,10", metavar="K,K,...", help="cut-offs for recall (default: 1,5,10)")
    evaluate.add_argument("--compare", action="store_true", help="also BM25 alone, dense alone and every fusion")
    evaluate.add_argument("--by-article", action="store_true", help="count a hit from an expected article even "
                          "when the passage lacks the answer phrase")
    evaluate.add_argument("--answers", action="store_true", help="evaluate the answers: how often their text, their "
                          "first sentence and the retrieved passages contain a gold phrase; length; abstention; latency")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.set_defaults(run=_evaluate)

    stats = commands.add_parser("stats", parents=[common], help="what the index holds",
                                description="Articles, passages, languages, sites, model, build date, skipped inputs.")
    stats.add_argument("--json", action="store_true", help="print the statistics as JSON")
    stats.set_defaults(run=_stats)

    inspect = commands.add_parser(
        "extract", parents=[common], help="what the index would store for a page, or why it would skip it",
        description="Show what a build would store for one page (title, author, date, site, canonical URL, "
                    "language, text with headings, the passages it is cut into) or the reason it would be skipped. "
                    "Exit code 0 when the page would be indexed, 1 when it would be skipped.")
    inspect.add_argument("source", metavar="FILE_OR_URL", help="an HTML file or an http(s) URL")
    inspect.add_argument("--languages", metavar="CODES", help="languages to index, comma-separated (default: en,fr)")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.set_defaults(run=_extract)
    return parser


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from .build import build

    with _ProgressBars(enabled=not (args.quiet or args.json)) as bars:
        report = build(args.sources, settings=settings, progress=bars.update, if_stale=args.if_stale, fresh=args.fresh)
    return _print_report(report, args.json)


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from .build import add

    with _ProgressBars(enabled=not (args.quiet or args.json)) as bars:
        report = add(args.sources, settings=settings, progress=bars.update)
    status = _print_report(report, args.json)
    if report.skipped and not (report.added or report.replaced or report.also_published):
        print(f"healthqa: error: nothing added or changed; {len(report.skipped)} input(s) skipped, reasons above",
              file=sys.stderr)
        return 1
    return status


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    from .build import remove

    return _print_report(remove(args.references, settings=settings), args.json)


def _merge(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from .merge import merge

    report = merge(settings, kind="auto" if args.if_needed else "full", rebuild=args.rebuild)
    if args.json:
        _print_json(asdict(report))
    elif not args.quiet:
        if report.kind:
            print(f"{report.kind} merge{' (base rebuilt)' if report.rebuilt else ''}: {report.segments_before} segments -> {report.segments_after}, {report.passages:,} passages "
                  f"in the new segment, {report.dropped:,} removed passages dropped, {report.seconds:.1f} s"
                  + ("" if report.published else " (not published: the index was rebuilt meanwhile)"))
        else:
            print("nothing to merge")
    return 0


def _print_report(report: Any, as_json: bool) -> int:
    if as_json:
        _print_json(report.to_dict())
        return 0
    if report.unchanged:
        print(f"Index at {report.index_dir} is up to date ({report.articles} articles, {report.passages} passages).")
    else:
        changes = ", ".join(
            f"{count} {label}" for count, label in (
                (report.added, "added"), (report.replaced, "changed"), (report.removed, "removed"),
                (report.also_published, "stored as also published"),
            ) if count
        ) or "no article changed"
        print(f"Updated {report.index_dir} in {report.seconds:.1f} s: {changes}; {report.embedded} passages embedded "
              f"(passages seen before come from the cache). Now {report.articles} articles, {report.passages} passages.")
    if report.skipped:
        print(f"Skipped {len(report.skipped)} input(s):")
        for item in report.skipped:
            print(f"  {item.source}: {item.reason}")
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from .errors import ConfigError
    from .index import Index

    if args.k < 1:
        raise ConfigError(f"--k takes the number of passages to show, 1 or more, not {args.k}")
    with Index.open(settings=settings) as index:
        hits = index.search(args.query, k=args.k)
    if args.json:
        _print_json({"query": args.query, "k": args.k, "hits": [hit.to_dict() for hit in hits]})
        return 0
    if not hits:
        print("No passage found.")
    for hit in hits:
        article = hit.article
        meta = ", ".join(part for part in (article.site, article.date, article.language) if part)
        print(f"{hit.rank}. [{hit.score:.3f}] {article.title} ({meta})")
        if article.url:
            print(f"   {article.url}")
        print(textwrap.fill(hit.text, width=100, initial_indent="   ", subsequent_indent="   "))
        print()
    return 0


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from .answer import Assistant

    assistant = Assistant.open(settings=settings)
    reply = assistant.answer(args.question)
    if args.json:
        _print_json(reply.to_dict())
        return 0
    if reply.short_answer:  # bold on a terminal, plain when piped
        bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
        print(f"{bold}{reply.short_answer.text}{plain} [{reply.short_answer.marker}]\n")
    print(textwrap.fill(reply.text, width=100))
    if reply.note:
        print(f"\n({reply.note})")
    if reply.citations:
        print()
        shown: set[int] = set()
        for citation in reply.citations:
            if citation.marker not in shown:
                shown.add(citation.marker)
                print(f"[{citation.marker}] {_describe(citation.article)}")
    elif reply.hits:
        print()
        for hit in reply.hits:
            print(f"- {_describe(hit.article)}")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from .answer import Assistant
    from .errors import ConfigError

    if args.host not in LOOPBACK_HOSTS and not args.expose:
        raise ConfigError(
            f"--host {args.host} would expose the chat (and its 'Add articles' tab) beyond this machine: add --expose "
            "to confirm, and --auth USER:PASSWORD to require a password"
        )
    auth = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        if not user or not password:
            raise ConfigError("--auth takes USER:PASSWORD")
        auth = (user, password)
    assistant = Assistant.open(settings=settings)
    from .web import serve

    print(f"Serving the chat on http://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr)
    serve(assistant, host=args.host, port=args.port, auth=auth)
    return 0


def _describe(article: Any) -> str:
    meta = ", ".join(part for part in (article.site, article.date) if part)
    return f"{article.title} ({meta}) {article.url}".rstrip()


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from .index import Index

    with Index.open(settings=settings) as index:
        data = index.stats()
    if args.json:
        _print_json(data)
        return 0
    print(f"Index:      {data['index']} (format {data['format_version']}, built {data['built_at']})")
    print(f"Model:      {data['model']} ({data['dimension']} dimensions), {data['vector_index']} vector index, {data['retrieval']} retrieval")
    print(f"Articles:   {data['articles']}   Passages: {data['passages']}")
    print(f"Languages:  {_counts(data['languages'])}")
    print(f"Sites:      {_counts(data['sites'])}")
    print(f"Dates:      {data['dates']['first']} to {data['dates']['last']}")
    print(f"Skipped:    {len(data['skipped'])}")
    for item in data["skipped"]:
        print(f"  {item['source']}: {item['reason']}")
    return 0


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from .errors import ConfigError
    from .evaluate import compare_retrieval, evaluate_retrieval, load_questions
    from .index import Index

    try:
        ks = sorted({int(k) for k in args.k.split(",") if k.strip()})
    except ValueError:
        raise ConfigError(f"--k takes comma-separated whole numbers, e.g. 1,5,10, not {args.k!r}") from None
    if not ks or ks[0] < 1:
        raise ConfigError("--k needs at least one cut-off of 1 or more")
    questions = load_questions(args.questions)
    if args.answers:
        return _evaluate_answers(args, settings, questions)
    with Index.open(settings=settings) as index:
        if args.compare:
            reports = compare_retrieval(index, questions, ks=ks, by_article=args.by_article)
        else:
            name = settings.retrieval + (f":{settings.fusion}" if settings.retrieval == "hybrid" else "")
            reports = {name: evaluate_retrieval(index, questions, ks=ks, by_article=args.by_article)}
    if args.json:
        _print_json({"questions": args.questions, "model": settings.model or "default", "ks": ks, "reports": reports})
        return 0
    metrics = [f"recall@{k}" for k in ks] + ["mrr@10"]
    print(f"{'retrieval':24} {'questions':14} {'n':>4} " + " ".join(f"{m:>9}" for m in metrics))
    for name, report in reports.items():
        for group, scores in report.items():
            if isinstance(scores, dict):
                print(f"{name:24} {group:14} {scores['questions']:>4} " + " ".join(f"{scores[m]:>9.2f}" for m in metrics))
        print(f"{name:24} {'latency p50':14} {report['latency_ms_p50']:>7} ms")
    return 0


def _evaluate_answers(args: argparse.Namespace, settings: Settings, questions: list[Any]) -> int:
    from .answer import Assistant
    from .evaluate import evaluate_answers

    assistant = Assistant.open(settings=settings)
    try:
        report = evaluate_answers(assistant, questions)
    finally:
        assistant.index.close()
    if args.json:
        _print_json({"questions": args.questions, "model": settings.model or "default", **report})
        return 0
    columns = {"answer_contains": "answer", "first_sentence_contains": "first", "retrieved_contains": "retrieved",
               "median_words": "words", "abstained": "refused", "short_given": "short", "short_exact": "short EM",
               "short_f1": "short F1"}
    print(f"{'questions':14} {'n':>4} " + " ".join(f"{label:>9}" for label in columns.values()))
    for group, scores in report["groups"].items():
        print(f"{group:14} {scores['questions']:>4} " + " ".join(f"{scores[key]:>9.2f}" for key in columns))
    unanswerable = report["unanswerable"]
    if unanswerable["questions"]:
        print(f"unanswerable   {unanswerable['questions']:>4}   abstained {unanswerable['abstained']:.2f}")
    print(f"quotes verbatim {report['quotes_verbatim']}/{report['quotes']}; "
          f"latency p50 {report['latency_ms_p50']} ms, p95 {report['latency_ms_p95']} ms")
    return 0


def _extract(args: argparse.Namespace, settings: Settings) -> int:
    from .inspection import extract

    report = extract(args.source, settings=settings)
    if args.json:
        _print_json(report.to_dict())
    elif report.article is None:
        print(f"Skipped: {report.reason}")
    else:
        article, evidence = report.article, report.evidence
        for label, value in (("Title", article.title), ("Author", article.author), ("Date", article.date),
                             ("Site", article.site), ("URL", article.url), ("Language", article.language)):
            print(f"{label + ':':10}{value or '-'}")
        notes = [f"{evidence['words']} words, {evidence['running_words']} in running text",
                 f"declared type {evidence['declared_type'] or '-'}"]
        if evidence["lead_restored"]:
            notes.append("standfirst put back")
        if evidence["dropped_lines"]:
            notes.append(f"dropped {len(evidence['dropped_lines'])} credit or 'read also' line(s)")
        print(f"{'Evidence:':10}{'; '.join(notes)}")
        print(f"\nText ({len(article.text.split())} words):\n")
        for block in article.text.split("\n\n"):
            print(textwrap.fill(block, width=100))
            print()
        print(f"Passages ({len(report.passages)}):")
        for passage in report.passages:
            under = f" under '{passage.heading}'" if passage.heading else ""
            print(f"\n[{passage.position + 1}]{under}")
            print(textwrap.fill(passage.text, width=100, initial_indent="   ", subsequent_indent="   "))
    return 0 if report.indexed else 1


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name or '?'} {count}" for name, count in counts.items())


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


class _ProgressBars:
    """One tqdm bar per build stage, on stderr."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: dict[str, Any] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            for other in self._bars.values():
                other.close()
            unit = " passages" if stage == "embedding" else " pages"
            bar = self._bars[stage] = tqdm(total=total or None, desc=stage.capitalize(), unit=unit, file=sys.stderr, dynamic_ncols=True)
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def __enter__(self) -> "_ProgressBars":
        return self

    def __exit__(self, *_: object) -> None:
        for bar in self._bars.values():
            bar.close()
