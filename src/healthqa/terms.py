"""Words as the lexical parts of the product compare them: lower case, accents and possessives off."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WORD = re.compile(r"[\w][\w'’-]*", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s$")
_JOINERS = re.compile(r"[-'’]")
# French elided particles: "l'Islam" names Islam, "d'Harrowgate" Harrowgate.
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’](?=\w)")


def fold(word: str) -> str:
    """'Néphrolia’s' → 'nephrolia', 'Bio-Sensing' → 'biosensing', 'l’Islam' → 'islam'."""
    word = _POSSESSIVE.sub("", _ELISION.sub("", word.lower()))
    word = "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")
    return _JOINERS.sub("", word)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def vocabulary(texts: Iterable[str]) -> set[str]:
    return {fold(word) for text in texts for word in words(text)}


def named_terms(question: str) -> list[str]:
    """Capitalised words after the first: names of companies, products, places, which any article that answers
    the question must contain whatever its language."""
    found = words(question)
    return [w for w in found[1:] if w[0].isupper() and len(w) >= 3]


def typo_allowance(word: str) -> int:
    """How many edits still name the same thing: none for short words (3 letters are too easily another word),
    one from 4 letters, two from 8."""
    return 0 if len(word) < 4 else 1 if len(word) < 8 else 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from a to b, or limit + 1 once it is exceeded."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = char_a != char_b
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


# Spellings of one sound across French and English, for `sound_skeleton`, longest first; "ʃ" is the sound of "sh".
_SOUNDS = {"sch": "ʃ", "ch": "ʃ", "sh": "ʃ", "ph": "f", "th": "t", "ck": "k", "qu": "k", "ce": "s", "ci": "s",
           "cy": "s", "c": "k", "q": "k", "x": "ks", "z": "s", "w": "v"}
_SOUND = re.compile("|".join(_SOUNDS))
_VOWELS = re.compile(r"[aeiouyh]+")


def sound_skeleton(word: str) -> str:
    """The consonants a name is heard by, spelt alike: 'Kashmir' and 'Cachemire' are both 'kʃmr', 'Morocco' and
    'Maroc' 'mrk', 'Uganda' and 'Ouganda' 'agnd' (an opening vowel is only marked). A name written the way each
    language spells its sounds keeps its skeleton; a trailing plural or mute 's' goes ('Cachemiris')."""
    sounds = _SOUND.sub(lambda match: _SOUNDS[match.group()], fold(word))
    opening = "a" if sounds[:1] and sounds[0] in "aeiouy" else sounds[:1]
    skeleton = re.sub(r"(.)\1+", r"\1", opening + _VOWELS.sub("", sounds[1:]))
    return skeleton[:-1] if len(skeleton) > 3 and skeleton.endswith("s") else skeleton
