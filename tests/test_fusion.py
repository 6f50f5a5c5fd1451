"""The fusions on crafted candidate lists: what each one promises, checked without any model."""

from __future__ import annotations

import itertools

import pytest

from healthqa.fusion import (
    FOREIGN_SHIFT,
    FUSIONS,
    GAP_SHIFT,
    LEXICAL_WEIGHT_CROSS,
    LEXICAL_WEIGHT_SAME,
    OTHER_LANGUAGE_FLOOR,
    Candidate,
    adaptive,
    language_aware,
    standout,
    top_gap,
)
from healthqa.settings import FUSION_METHODS, Settings


def ranked(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda i: scores[i], reverse=True)


def test_every_fusion_is_a_setting_and_the_default_is_adaptive():
    assert tuple(FUSIONS) == FUSION_METHODS
    assert Settings().fusion == "adaptive"


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_no_candidates_no_scores(name):
    assert FUSIONS[name]([], "en") == {}


def test_top_gap():
    assert top_gap([]) == 0.0 and top_gap([3.0]) == 0.0
    assert top_gap([10.0, 2.0, 1.0]) == pytest.approx(0.8)
    assert top_gap([1.0, 5.0, 4.0]) == pytest.approx(0.2)  # order of the input does not matter
    assert top_gap([0.0, 0.0]) == 0.0


def test_standout():
    assert standout([]) == 0.0 and standout([3.0]) == 0.0 and standout([0.0, 0.0]) == 0.0
    assert standout([10.0, 2.0, 4.0]) == pytest.approx(0.7)  # 1 - mean(4, 2) / 10, whatever the order
    assert standout([4.0, 1.0, 1.0, 0.0], among=3) == pytest.approx(0.75)  # only the best three count


def test_a_rare_name_matched_in_another_language_counts_when_nothing_is_in_the_question_language():
    """A French question over English papers: the dense list is flat and holds none of the question's words;
    three passages hold its rare name ("Hantaan"), the others in the lexical list only common stems."""
    flat = [Candidate(i, 0.44 - 0.002 * i, 0.0, "en", dense_rank=i + 1) for i in range(8)]
    common = [Candidate(20 + i, 0.20, 0.8, "en", lexical_rank=i + 4) for i in range(7)]
    named = [Candidate(10 + i, 0.32, 3.2 - 0.1 * i, "en", lexical_rank=i + 1) for i in range(3)]
    candidates = flat + common + named
    scores = adaptive(candidates, "fr")
    assert ranked(scores)[:3] == [10, 11, 12]
    lexical = [c.lexical for c in common + named]
    dense = [(c.similarity - 0.20) / (0.44 - 0.20) for c in flat]
    weight = LEXICAL_WEIGHT_CROSS + FOREIGN_SHIFT * (standout(lexical) - standout(dense))
    assert weight > 0.45
    assert scores[10] == pytest.approx((1 - weight) * 0.5 + weight * 1.0)
    # The same lists with one French passage among the candidates: the cross-language weight stays put.
    with_french = [*candidates, Candidate(99, 0.20, 0.0, "fr", dense_rank=9)]
    assert ranked(adaptive(with_french, "fr"))[0] == 0


def test_a_cross_language_answer_is_not_buried_by_same_language_word_matches():
    """An English question; English passages share its common words (high BM25) but mean something else; the
    French passage that answers matches only by meaning and one name."""
    candidates = [
        Candidate(1, 0.40, 12.0, "en", dense_rank=3, lexical_rank=1),
        Candidate(2, 0.38, 11.0, "en", dense_rank=4, lexical_rank=2),
        Candidate(3, 0.62, 1.5, "fr", dense_rank=1, lexical_rank=3),
        Candidate(4, 0.45, 0.0, "fr", dense_rank=2),
    ]
    assert ranked(adaptive(candidates, "en"))[0] == 3


def test_a_peaked_lexical_list_outweighs_a_flat_dense_one_in_the_same_language():
    """Cosines within 0.02 of each other say little; one passage holding the question's rare words says much."""
    candidates = [
        Candidate(1, 0.500, 10.0, "en", dense_rank=2, lexical_rank=1),
        Candidate(2, 0.510, 2.0, "en", dense_rank=1, lexical_rank=2),
        Candidate(3, 0.490, 1.0, "en", dense_rank=3, lexical_rank=3),
    ]
    assert ranked(adaptive(candidates, "en")) == [1, 2, 3]


def test_a_clear_dense_winner_beats_a_lexical_runner_up():
    candidates = [
        Candidate(1, 0.80, 5.0, "fr", dense_rank=1, lexical_rank=2),
        Candidate(2, 0.30, 5.5, "fr", dense_rank=3, lexical_rank=1),
        Candidate(3, 0.35, 1.0, "fr", dense_rank=2, lexical_rank=3),
    ]
    assert ranked(adaptive(candidates, "fr"))[0] == 1


def test_weights_without_gaps_are_the_documented_ones():
    """With no gap in either list (ties at the top), scores are (1 - w) × rescaled cosine + w × scaled BM25."""
    candidates = [
        Candidate(1, 0.6, 4.0, "en", dense_rank=1, lexical_rank=1),
        Candidate(2, 0.6, 4.0, "en", dense_rank=2, lexical_rank=2),
        Candidate(3, 0.2, 2.0, "en", dense_rank=3, lexical_rank=3),
        Candidate(4, 0.4, 3.0, "fr", dense_rank=4, lexical_rank=4),
    ]
    scores = adaptive(candidates, "en")
    assert scores[1] == pytest.approx(1.0)
    assert scores[3] == pytest.approx((1 - LEXICAL_WEIGHT_SAME) * 0.0 + LEXICAL_WEIGHT_SAME * 0.5)
    # French passage: its BM25 is scaled against the best French one (itself), cross-language weight.
    assert scores[4] == pytest.approx((1 - LEXICAL_WEIGHT_CROSS) * 0.5 + LEXICAL_WEIGHT_CROSS * 1.0)


def test_a_stray_word_matched_in_another_language_is_not_scaled_to_a_full_match():
    """An English question whose rare words an English passage holds (BM25 13); a French passage matches one
    stray word (0.6): scaled against the French best alone it would count as a full match."""
    candidates = [
        Candidate(1, 0.30, 13.0, "en", dense_rank=2, lexical_rank=1),
        Candidate(2, 0.26, 0.6, "fr", dense_rank=3, lexical_rank=2),
        Candidate(3, 0.32, 0.0, "fr", dense_rank=1),
    ]
    scores = adaptive(candidates, "en")
    dense = (0.26 - 0.26) / (0.32 - 0.26)
    expected = (1 - LEXICAL_WEIGHT_CROSS) * dense + LEXICAL_WEIGHT_CROSS * 0.6 / (OTHER_LANGUAGE_FLOOR * 13.0)
    assert scores[2] == pytest.approx(expected)
    assert scores[2] < scores[3]
    # A French question: the floor scales the English passage, not the French ones; passage 2 is then the best
    # French match (w × 1) and passage 3 the best French cosine ((1 - w) × 1), whatever the weight w.
    french = adaptive(candidates, "fr")
    assert french[2] + french[3] == pytest.approx(1.0)


def test_the_gap_shift_moves_the_same_language_weight_towards_the_surer_list():
    # The lexical top stands out (gap 0.9); the dense list has a tie at the top (gap 0): weight 0.6 + 0.3 × 0.9.
    candidates = [
        Candidate(1, 0.5, 9.0, "en", dense_rank=1, lexical_rank=1),
        Candidate(2, 0.5, 0.9, "en", dense_rank=2, lexical_rank=2),
        Candidate(3, 0.1, 0.0, "en", dense_rank=3),
    ]
    scores = adaptive(candidates, "en")
    weight = LEXICAL_WEIGHT_SAME + GAP_SHIFT * 0.9
    assert scores[1] == pytest.approx(1.0)
    assert scores[2] == pytest.approx((1 - weight) + weight * 0.1)
    assert scores[3] == pytest.approx(0.0)


def test_the_same_language_weight_stays_within_bounds():
    """However lopsided the gaps, neither retriever is ever ignored: the weight is held within 0.05..0.95."""
    candidates = [
        Candidate(1, 0.9, 50.0, "en", dense_rank=1, lexical_rank=1),
        Candidate(2, 0.9, 0.1, "en", dense_rank=2, lexical_rank=2),
        Candidate(3, 0.1, 0.0, "en", dense_rank=3),
    ]
    scores = adaptive(candidates, "en", weight=0.9)  # 0.9 + 0.3 × (gap 1.0 - gap 0) would be 1.2
    assert scores[2] == pytest.approx(0.05 + 0.95 * 0.1 / 50)


def test_a_passage_only_the_dense_list_found_gets_no_lexical_credit():
    candidates = [
        Candidate(1, 0.7, 0.0, "en", dense_rank=1),
        Candidate(2, 0.3, 6.0, "en", dense_rank=2, lexical_rank=1),
    ]
    scores = adaptive(candidates, "en")
    assert scores[1] < 1.0 and scores[2] > 0.0


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_fusions_do_not_depend_on_the_order_of_candidates(name):
    candidates = [
        Candidate(1, 0.42, 3.0, "en", 2, 1),
        Candidate(2, 0.55, 0.0, "fr", 1, None),
        Candidate(3, 0.31, 2.5, "en", 3, 2),
        Candidate(4, 0.29, 0.7, "fr", None, 3),
    ]
    expected = FUSIONS[name](candidates, "en")
    for order in itertools.permutations(candidates):
        assert FUSIONS[name](list(order), "en") == pytest.approx(expected)


def test_language_aware_scales_words_within_each_language():
    candidates = [
        Candidate(1, 0.5, 10.0, "en", 1, 1),
        Candidate(2, 0.5, 2.0, "fr", 2, 2),
    ]
    scores = language_aware(candidates, "en")
    assert scores[1] == pytest.approx(scores[2])  # each is the best of its language
