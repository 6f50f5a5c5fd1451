"""Term proximity on crafted term lists: which pairs count, and when two terms stand close enough."""

from __future__ import annotations

import pytest

from healthqa.lexical import query_terms_by_language
from healthqa.proximity import pair_bonus, question_pairs

IDF = {"white": 1.0, "blood": 2.0, "cell": 1.5, "count": 0.5}.__getitem__


def test_pairs_are_neighbours_and_next_but_one_each_once():
    assert question_pairs(["white", "blood", "cell", "count"]) == [
        ("blood", "white"), ("cell", "white"), ("blood", "cell"), ("blood", "count"), ("cell", "count")]
    assert question_pairs(["cell", "cell"]) == []
    assert question_pairs(["white"]) == []


def test_bonus_sums_the_idf_of_pairs_that_stand_close():
    pairs = question_pairs(["white", "blood", "cell", "count"])
    together = "the white blood cell count was low"
    assert pair_bonus(pairs, together, IDF) == pytest.approx(3 + 2.5 + 3.5 + 2.5 + 2.0)
    apart = " x x x x x x x x x x ".join(["white", "blood", "cell", "count"])
    assert pair_bonus(pairs, apart, IDF) == 0.0
    assert pair_bonus(pairs, "count x x cell", IDF) == pytest.approx(2.0)  # order does not matter, 3 apart
    assert pair_bonus(pairs, "count x x x cell", IDF) == 0.0
    assert pair_bonus(pairs, "counts x bloodcell cell", IDF) == 0.0  # whole terms only
    assert pair_bonus([], together, IDF) == 0.0


def test_a_repeated_term_is_near_if_any_of_its_places_is():
    pairs = [("blood", "cell")]
    assert pair_bonus(pairs, "blood " + "x " * 20 + "cell x blood", IDF) == pytest.approx(3.5)


def test_question_terms_follow_each_language_analyser_in_order():
    terms = query_terms_by_language("What is the white blood cell count in severe cases?", ("en", "fr"))
    assert terms["en"] == ["white", "blood", "cell", "count", "sever", "case"]
    assert set(terms) == {"en", "fr"} and len(terms["fr"]) == len(terms["en"])
