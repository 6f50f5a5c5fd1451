"""Which language a question or text is in; the product writes its own words in French or English."""

from __future__ import annotations

import functools

from py3langid.langid import MODEL_FILE, LanguageIdentifier

REPLY_LANGUAGES = ("en", "fr")
LANGUAGE_NAMES = {"de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "en": "English", "fr": "French"}


@functools.lru_cache(maxsize=2)
def _identifier(restricted: bool) -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if restricted:
        identifier.set_languages(list(REPLY_LANGUAGES))
    return identifier


def detect_language(text: str) -> str:
    """ISO 639-1 code among all languages the identifier knows."""
    return _identifier(False).classify(text[:5000])[0]


def reply_language(text: str) -> str:
    """French or English, whichever the text is closer to (short questions included)."""
    return _identifier(True).classify(text)[0]


def foreign_language(text: str) -> str:
    """The code of a language other than French or English that the text is confidently in, else ''."""
    if len(text.split()) < 3:
        return ""
    language, probability = _identifier(False).classify(text)
    return language if language not in REPLY_LANGUAGES and probability >= 0.8 else ""


def language_confidence(text: str) -> tuple[str, float]:
    """The language of a text among all the identifier knows, with its probability (0 to 1)."""
    language, probability = _identifier(False).classify(text[:5000])
    return language, float(probability)
