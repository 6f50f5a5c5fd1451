"""Word folding and the typo tolerance of the named-term rule."""

from healthqa.terms import edit_distance, fold, named_terms, typo_allowance


def test_edit_distance_counts_inserts_deletes_substitutions_and_swaps():
    assert edit_distance("kestrel", "kestrel", 2) == 0
    assert edit_distance("kestrel", "kestral", 2) == 1  # substitution
    assert edit_distance("harrowgate", "harowgate", 2) == 1  # deletion
    assert edit_distance("carrefour", "carrefours", 2) == 1  # insertion
    assert edit_distance("mercadier", "mercaider", 2) == 1  # two neighbours swapped
    assert edit_distance("", "abc", 3) == 3
    assert edit_distance("novadyne", "nephrolia", 2) == 3  # stops counting past the limit
    assert edit_distance("ab", "abcdef", 2) == 3


def test_typo_allowance_grows_with_length():
    assert [typo_allowance(word) for word in ("dtx", "diga", "kestrel", "harrowgate")] == [0, 1, 1, 2]


def test_named_terms_are_folded_for_the_vocabulary():
    assert named_terms("Who led Kestrel Bio-Sensing's Series B?") == ["Kestrel", "Bio-Sensing's", "Series"]
    assert [fold(word) for word in named_terms("Qui dirige Néphrolia’s lab ?")] == ["nephrolia"]
