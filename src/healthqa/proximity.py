"""Term proximity: a passage where two of the question's words stand next to each other, as they do in the
question, is more likely the one that answers it than a passage that only holds both somewhere.

BM25 scores words one by one; the real sets' answers are sentences that repeat the question's phrases ("white
blood cell count", "human bocavirus"), often in one passage of an article whose other passages hold the same
words apart. The bonus is added to a passage's BM25 score in the hybrid ranking (index.py), in BM25's own units:
for each pair of question terms at most PAIR_SPAN apart in the question that occur within WINDOW positions of
each other in the passage, the sum of their idf. Measured on the real dev sets and the sample (README
"Retrieval"): COVID-QA R@5 0.773 -> about 0.80, with PIAF and the sample unchanged or better."""

from __future__ import annotations

from collections.abc import Callable, Sequence

# Pairs of question terms considered: neighbours in the question and the next but one ("cell count" in
# "white blood cell count"); how close they must stand in the passage, in terms (stop words are not terms).
PAIR_SPAN = 2
WINDOW = 3
# The bonus's weight against BM25 (both in idf units).
PROXIMITY_WEIGHT = 0.4


def question_pairs(terms: Sequence[str], span: int = PAIR_SPAN) -> list[tuple[str, str]]:
    """Distinct pairs of different terms at most `span` apart in the question's term sequence."""
    pairs: dict[tuple[str, str], None] = {}
    for first in range(len(terms)):
        for second in range(first + 1, min(len(terms), first + 1 + span)):
            a, b = terms[first], terms[second]
            if a != b:
                pairs.setdefault((a, b) if a < b else (b, a), None)
    return list(pairs)


def pair_bonus(pairs: Sequence[tuple[str, str]], passage_terms: str, idf: Callable[[str], float],
               window: int = WINDOW) -> float:
    """Sum of idf(a) + idf(b) over the pairs whose two terms stand within `window` positions in the passage,
    whose terms come space-separated as the store keeps them."""
    if not pairs:
        return 0.0
    terms = passage_terms.split()
    wanted = {term for pair in pairs for term in pair}
    positions: dict[str, list[int]] = {}
    for position in [p for p, term in enumerate(terms) if term in wanted]:
        positions.setdefault(terms[position], []).append(position)
    bonus = 0.0
    for a, b in pairs:
        first, second = positions.get(a), positions.get(b)
        if first and second and _near(first, second, window):
            bonus += idf(a) + idf(b)
    return bonus


def _near(first: list[int], second: list[int], window: int) -> bool:
    """Whether some position of one list is within `window` of some position of the other (both ascending)."""
    i = j = 0
    while i < len(first) and j < len(second):
        if abs(first[i] - second[j]) <= window:
            return True
        if first[i] < second[j]:
            i += 1
        else:
            j += 1
    return False
