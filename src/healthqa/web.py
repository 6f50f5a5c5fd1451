"""The web chat (the only module that imports gradio): a thin layer over Assistant.

Everything that comes from an article is escaped before it reaches the page, so markup or script inside an
article is shown as text and never runs."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr

from .answer import Assistant
from .build import add
from .errors import ConfigError, HealthQAError
from .fetch import FetchLimits
from .messages import message
from .records import Answer, BuildReport, Citation, Filters

EXAMPLES = [
    "What are pharma companies' digital-health priorities?",
    "Quelles sont les priorités des laboratoires pharmaceutiques en santé numérique ?",
    "How are digital therapeutics reimbursed in Germany?",
    "Quels laboratoires s'associent à des start-up d'intelligence artificielle ?",
]
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+!|~$<>-])")

CSS = """
.hq-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px; margin-bottom: 10px; }
.hq-card.hq-focus { outline: 3px solid var(--color-accent); }
.hq-card h4 { margin: 0 0 4px 0; font-size: 1rem; }
.hq-meta { color: var(--body-text-color-subdued); font-size: 0.85rem; margin-bottom: 6px; }
.hq-passage { white-space: pre-wrap; font-size: 0.9rem; line-height: 1.45; }
.hq-passage mark { background: #fde68a; color: inherit; padding: 0 1px; }
.hq-note { color: var(--body-text-color-subdued); font-style: italic; }
"""
# Clicking a marker [n] in an answer brings its source card into view and outlines it.
HEAD = """
<script>
document.addEventListener('click', function (event) {
  const link = event.target.closest('a[href^="#hq-source-"]');
  if (!link) return;
  const card = document.getElementById(link.getAttribute('href').slice(1));
  if (!card) return;
  event.preventDefault();
  event.stopPropagation();
  document.querySelectorAll('.hq-card.hq-focus').forEach(function (c) { c.classList.remove('hq-focus'); });
  card.classList.add('hq-focus');
  card.scrollIntoView({behavior: 'smooth', block: 'center'});
}, true);
</script>
"""


def escape_text(text: str) -> str:
    """Article text made inert for the chat's Markdown renderer: no HTML, no Markdown syntax, no LaTeX."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))


def answer_markdown(reply: Answer, sentences: int | None = None) -> str:
    """The answer as chat Markdown, optionally only its first sentences (for streaming)."""
    if reply.abstained:
        body = html.escape(reply.text)
    else:
        shown = reply.citations if sentences is None else reply.citations[:sentences]
        body = " ".join(
            f'{escape_text(c.shown)} <a href="#hq-source-{c.marker}" class="hq-marker">[{c.marker}]</a>' for c in shown
        )
        if reply.short_answer:  # the name, figure or date first, in bold, then the sentences it comes from
            short = reply.short_answer
            body = (f'<strong class="hq-short">{escape_text(short.text)}</strong> '
                    f'<a href="#hq-source-{short.marker}" class="hq-marker">[{short.marker}]</a>\n\n{body}')
    if reply.note:
        body += f"\n\n*{html.escape(reply.note)}*"
    return body


def sources_html(reply: Answer) -> str:
    """Source cards: one per cited passage with its cited sentences highlighted, or the closest passages as leads."""
    if not reply.citations:
        if not reply.hits:
            return ""
        cards = [_card(f"hq-lead-{hit.rank}", f"{hit.rank}.", hit.article, html.escape(hit.text), reply.language) for hit in reply.hits]
        return f'<h3>{html.escape(message(reply.language, "leads"))}</h3>' + "".join(cards)
    by_marker: dict[int, list[Citation]] = {}
    for citation in reply.citations:
        by_marker.setdefault(citation.marker, []).append(citation)
    cards = []
    for marker, citations in by_marker.items():
        passage = citations[0].passage
        cards.append(_card(f"hq-source-{marker}", f"[{marker}]", citations[0].article, _highlighted(passage.text, citations), reply.language))
    return f'<h3>{html.escape(message(reply.language, "sources"))}</h3>' + "".join(cards)


def _card(element_id: str, label: str, article: Any, passage_html: str, language: str) -> str:
    title = html.escape(article.title)
    url = article.url if article.url.startswith(("http://", "https://")) else ""
    heading = f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
    date = html.escape(article.date or message(language, "no_date"))
    meta = " · ".join(
        part for part in (html.escape(article.site), f'{html.escape(message(language, "published"))} {date}',
                          f'{html.escape(message(language, "language"))}: {html.escape(article.language)}') if part
    )
    return (
        f'<div class="hq-card" id="{element_id}"><h4>{html.escape(label)} {heading}</h4>'
        f'<div class="hq-meta">{meta}</div><div class="hq-passage">{passage_html}</div></div>'
    )


def _highlighted(text: str, citations: Sequence[Citation]) -> str:
    pieces, position = [], 0
    for citation in sorted(citations, key=lambda c: c.start):
        pieces.append(html.escape(text[position : citation.start]))
        pieces.append(f"<mark>{html.escape(text[citation.start : citation.end])}</mark>")
        position = citation.end
    pieces.append(html.escape(text[position:]))
    return "".join(pieces)


def parse_filters(sites: Sequence[str] | None, languages: Sequence[str] | None, date_from: str, date_to: str) -> Filters:
    for label, value in (("start date", date_from), ("end date", date_to)):
        if value and not _DATE.match(value.strip()):
            raise ConfigError(f"the {label} '{value}' is not a date like 2023-01-31 (or 2023-01, or 2023)")
    end = date_to.strip()
    if re.fullmatch(r"\d{4}", end):
        end += "-12-31"
    elif re.fullmatch(r"\d{4}-\d{2}", end):
        end += "-31"
    return Filters(tuple(sites or ()), tuple(languages or ()), date_from.strip(), end)


MAX_UPLOAD_FILES = 50
MAX_UPLOAD_BYTES = 5_000_000  # per file; gradio refuses bigger uploads before they reach the handler
UPLOAD_TYPES = [".html", ".htm", ".xhtml"]


def stats_markdown(stats: dict[str, Any]) -> str:
    return (f'{stats["articles"]} articles · {stats["passages"]} passages · languages: {", ".join(sorted(stats["languages"]))} · '
            f'last build {stats["built_at"]}')


def add_report_markdown(report: BuildReport) -> str:
    """What an addition did, for the "Add articles" tab; sources and reasons escaped."""
    if report.unchanged:
        lines = [f"**Nothing new**: the index already holds these pages ({report.articles} articles)."]
    elif not (report.added or report.replaced or report.also_published):
        lines = [f"**Nothing added**: the chat still searches {report.articles} articles."]
    else:
        lines = [
            f"**Done in {report.seconds:.1f} s**: {report.added} added, {report.replaced} changed, "
            f"{report.also_published} stored as also published elsewhere, {report.embedded} passages embedded. "
            f"The chat now searches {report.articles} articles ({report.passages} passages)."
        ]
    if report.skipped:
        lines.append(f"**Skipped {len(report.skipped)}:**")
        lines.extend(f"- {escape_text(item.source)}: {escape_text(item.reason)}" for item in report.skipped)
    return "\n".join(lines)


def build_app(assistant: Assistant) -> gr.Blocks:
    stats = assistant.index.stats()
    sites = sorted(stats["sites"])
    languages = sorted(stats["languages"])
    settings = assistant.settings

    def add_articles(urls: str, files: list[Any] | None, progress: gr.Progress = gr.Progress()) -> str:
        sources = [line.strip() for line in (urls or "").splitlines() if line.strip()]
        paths = [getattr(f, "name", f) for f in (files or [])]
        if not sources and not paths:
            return "Paste URLs or choose HTML files first."
        if len(paths) > MAX_UPLOAD_FILES:
            return f"At most {MAX_UPLOAD_FILES} files at a time; {len(paths)} were given."
        not_urls = [s for s in sources if not s.lower().startswith(("http://", "https://"))]
        if not_urls:  # a path typed here would read the server's own files
            return f"Only http:// and https:// addresses can be added here, not {escape_text(not_urls[0])}."
        counts = {"fetching": 0, "extracting": 0, "embedding": 0}

        def report(stage: str, done: int, total: int) -> None:
            counts[stage] = done
            label = {"fetching": "Fetched", "extracting": "Read", "embedding": "Embedded"}[stage]
            unit = "passages" if stage == "embedding" else "pages"
            progress((done, total or None), desc=f"{label} {done}{f'/{total}' if total else ''} {unit}", unit=unit)

        limits = FetchLimits(allow_private=settings.allow_private_urls, max_bytes=settings.max_page_bytes)
        try:
            result = add([*paths, *sources], settings=settings, encoder=assistant.index.encoder, progress=report, limits=limits)
        except HealthQAError as exc:
            return f"⚠ {escape_text(str(exc))}"
        return add_report_markdown(result)

    def respond(question: str, history: list[dict[str, Any]], site_choice: list[str], language_choice: list[str],
                date_from: str, date_to: str) -> Iterator[tuple[str, list[dict[str, Any]], str]]:
        question = (question or "").strip()
        if not question:
            yield "", history, gr.skip()
            return
        history = list(history or []) + [{"role": "user", "content": question}]
        yield "", history + [{"role": "assistant", "content": "…"}], gr.skip()
        try:
            filters = parse_filters(site_choice, language_choice, date_from or "", date_to or "")
            reply = assistant.answer(question, history=_user_turns(history[:-1]), filters=filters or None)
        except HealthQAError as exc:
            gr.Warning(str(exc))
            yield "", history + [{"role": "assistant", "content": f"⚠ {html.escape(str(exc))}"}], gr.skip()
            return
        steps = range(1, len(reply.citations) + 1) if reply.citations else [None]
        for shown in steps:  # sentence by sentence, as the answer is assembled
            yield "", history + [{"role": "assistant", "content": answer_markdown(reply, shown)}], gr.skip()
        yield "", history + [{"role": "assistant", "content": answer_markdown(reply)}], sources_html(reply)

    with gr.Blocks(title="healthqa: health-industry news Q&A") as app:
        gr.Markdown("## Health-industry news: questions and cited answers")
        stats_line = gr.Markdown(stats_markdown(stats), elem_id="hq-stats")
        with gr.Tab("Chat", elem_id="hq-chat-tab"), gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=480, latex_delimiters=[], elem_id="hq-chat", buttons=["copy"])
                question = gr.Textbox(label="Question", placeholder="Ask in English or French…", elem_id="hq-question", autofocus=True)
                with gr.Row():
                    ask = gr.Button("Ask", variant="primary", elem_id="hq-ask")
                    clear = gr.Button("New conversation", elem_id="hq-clear")
                gr.Examples(EXAMPLES, inputs=question, label="Examples")
            with gr.Column(scale=2):
                with gr.Accordion("Filters", open=False, elem_id="hq-filters"):
                    site_choice = gr.Dropdown(sites, multiselect=True, label="Sites", elem_id="hq-sites")
                    language_choice = gr.CheckboxGroup(languages, label="Article language", elem_id="hq-languages")
                    with gr.Row():
                        date_from = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="hq-from")
                        date_to = gr.Textbox(label="To (YYYY-MM-DD)", elem_id="hq-to")
                sources = gr.HTML(elem_id="hq-sources")
        with gr.Tab("Add articles", elem_id="hq-add-tab"):
            gr.Markdown(
                "Paste the addresses of article pages, RSS or Atom feeds, sitemaps or a site's home page (one per "
                f"line), or choose HTML files (at most {MAX_UPLOAD_FILES}, {MAX_UPLOAD_BYTES // 1_000_000} MB each). "
                "Pages already indexed and unchanged cost nothing; the chat uses the new articles as soon as they are in."
            )
            urls = gr.Textbox(label="URLs", lines=4, placeholder="https://…", elem_id="hq-urls")
            files = gr.File(label="HTML files", file_count="multiple", file_types=UPLOAD_TYPES, elem_id="hq-files")
            add_button = gr.Button("Add to the index", variant="primary", elem_id="hq-add")
            add_status = gr.Markdown(elem_id="hq-add-status")

        def index_view() -> tuple[str, Any, Any]:
            """The stats line and the filter choices of the index as it is now (after additions)."""
            now = assistant.index.stats()
            return stats_markdown(now), gr.update(choices=sorted(now["sites"])), gr.update(choices=sorted(now["languages"]))

        view = [stats_line, site_choice, language_choice]
        app.load(index_view, None, view, api_name=False, show_progress="hidden")
        add_button.click(add_articles, [urls, files], add_status, api_name="add", concurrency_limit=1).then(
            index_view, None, view, api_name=False, show_progress="hidden"
        )

        inputs = [question, chatbot, site_choice, language_choice, date_from, date_to]
        outputs = [question, chatbot, sources]
        question.submit(respond, inputs, outputs, api_name="ask")
        ask.click(respond, inputs, outputs, api_name=False)
        clear.click(lambda: ([], ""), None, [chatbot, sources], api_name=False)
    return app


def serve(assistant: Assistant, *, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
          open_browser: bool = False) -> None:
    """Load once, warm the model up so the first question is quick, then serve until interrupted."""
    assistant.index.encoder.encode(["warm-up"])
    app = build_app(assistant)
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=host, server_port=port, auth=auth, inbrowser=open_browser, css=CSS, head=HEAD,
               footer_links=[], show_error=True, max_file_size=MAX_UPLOAD_BYTES)


def _user_turns(history: Sequence[dict[str, Any]]) -> list[str]:
    turns = []
    for turn in history:
        if turn.get("role") != "user":
            continue
        content = turn.get("content")
        if isinstance(content, list):  # content blocks: [{"type": "text", "text": ...}]
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        if isinstance(content, str) and content.strip():
            turns.append(content.strip())
    return turns
