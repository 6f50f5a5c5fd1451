"""Word folding and the typo tolerance of the named-term rule."""

from healthqa.terms import edit_distance, fold, named_terms, sound_skeleton, typo_allowance


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


def test_sound_skeleton_is_shared_by_a_name_spelt_in_each_language():
    assert sound_skeleton("Kashmir") == sound_skeleton("Cachemire") == sound_skeleton("Cachemiris") == "kʃmr"
    assert sound_skeleton("Morocco") == sound_skeleton("Maroc") == "mrk"
    assert sound_skeleton("Mexico") == sound_skeleton("Mexique") == "mksk"  # x is not the sound of "sh"
    assert sound_skeleton("Venice") == sound_skeleton("Venise") == "vns"  # a soft c
    assert sound_skeleton("Uganda") == sound_skeleton("Ouganda") == "agnd"  # an opening vowel is only marked
    assert sound_skeleton("Paris") == "prs"  # three sounds keep their last s
    assert sound_skeleton("Welsh") != sound_skeleton("Galles")  # a translation, not a spelling
    assert sound_skeleton("Aia") == "a" and sound_skeleton("") == ""
