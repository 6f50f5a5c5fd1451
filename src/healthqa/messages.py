"""Everything the product writes in its own words, in French and English."""

from __future__ import annotations

from .language import LANGUAGE_NAMES

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "no_answer": "The articles do not cover this question. The closest passages are shown below as leads.",
        "foreign": "This question seems to be in {name}; answers come from English and French articles, so they may miss.",
        "empty_question": "Please type a question.",
        "sources": "Sources",
        "leads": "Closest passages (leads, not answers)",
        "published": "Published",
        "no_date": "undated",
        "language": "Language",
    },
    "fr": {
        "no_answer": "Les articles ne traitent pas de cette question. Les passages les plus proches sont indiqués ci-dessous, comme pistes.",
        "foreign": "Cette question semble rédigée en {name} ; les réponses proviennent d'articles en français et en anglais et peuvent être imprécises.",
        "empty_question": "Veuillez saisir une question.",
        "sources": "Sources",
        "leads": "Passages les plus proches (pistes, pas des réponses)",
        "published": "Publié le",
        "no_date": "non daté",
        "language": "Langue",
    },
}


def message(language: str, key: str, **values: str) -> str:
    texts = MESSAGES.get(language, MESSAGES["en"])
    return texts[key].format(**values)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)
