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
        "quotes_in": "The quotes are in {name}.",
        "some_quotes_in": "Some quotes are in {name}.",
        "and": " and ",
        "short_answer": "Short answer",
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
        "quotes_in": "Les citations sont en {name}.",
        "some_quotes_in": "Certaines citations sont en {name}.",
        "and": " et ",
        "short_answer": "Réponse courte",
    },
}


def message(language: str, key: str, **values: str) -> str:
    texts = MESSAGES.get(language, MESSAGES["en"])
    return texts[key].format(**values)


# Names of languages as a French sentence writes them ("Les citations sont en anglais.").
_FRENCH_NAMES = {"en": "anglais", "fr": "français", "de": "allemand", "es": "espagnol", "it": "italien", "pt": "portugais", "nl": "néerlandais"}


def language_name(code: str, reader: str = "en") -> str:
    """The language's name for a reader of `reader` (English or French)."""
    if reader == "fr":
        return _FRENCH_NAMES.get(code, code)
    return LANGUAGE_NAMES.get(code, code)
