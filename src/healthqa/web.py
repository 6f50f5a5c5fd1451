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
from .errors import ConfigError, HealthQAError
from .messages import message
from .records import Answer, Citation, Filters, Hit

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
            f'{escape_text(c.sentence)} <a href="#hq-source-{c.marker}" class="hq-marker">[{c.marker}]</a>' for c in shown
        )
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


def build_app(assistant: Assistant) -> gr.Blocks:
    stats = assistant.index.stats()
    sites = sorted(stats["sites"])
    languages = sorted(stats["languages"])

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
        gr.Markdown(
            f'{stats["articles"]} articles · {stats["passages"]} passages · languages: {", ".join(languages)} · '
            f'last build {stats["built_at"]}',
            elem_id="hq-stats",
        )
        with gr.Row():
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
               footer_links=[], show_error=True)


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
