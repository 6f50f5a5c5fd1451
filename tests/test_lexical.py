"""Lexical analysis and fusion on small inputs."""

from healthqa.fusion import Candidate, language_aware, recency_boost, reciprocal_rank, weighted
from healthqa.lexical import LexicalIndex, analyse, analyse_query


def test_french_analysis_drops_elisions_stop_words_and_accents():
    assert analyse("L'hôpital d'Amiens et les données de santé", "fr") == ["hopital", "amien", "don", "sant"]
    assert analyse("l’essai qu’il a mené", "fr") == ["essai", "men"]


def test_english_analysis_stems():
    assert analyse("The hospitals are digitising their records", "en") == ["hospit", "digitis", "record"]


def test_a_question_is_analysed_in_every_language_without_any_stop_words():
    terms = analyse_query("Quelle régulation pour le numérique ?", ("en", "fr"))
    assert "pour" not in terms and "le" not in terms and "quell" not in terms
    assert "regul" in terms  # French and English stems meet on shared words


def test_bm25_ranks_and_filters_inside_the_search():
    index = LexicalIndex.build([analyse(t, "en") for t in ("insulin pen price", "pen", "", "heart failure telemonitoring")])
    scores, ids = index.search(analyse_query("price of insulin pens", ("en",)), 10)
    assert ids.tolist() == [0, 1] and scores[0] > scores[1] > 0
    assert index.search(analyse_query("insulin pen", ("en",)), 10, allowed_ids=[1, 3])[1].tolist() == [1]
    assert index.search(["nothing"], 10)[1].tolist() == []


def test_language_aware_fusion_scales_lexical_scores_within_each_language():
    """An English question: the French passage that answers has weak lexical evidence (names only), but it is
    the best French match, so it keeps its dense lead; a plain weighted fusion lets English lexical matches win."""
    french_answer = Candidate(1, similarity=0.60, lexical=2.0, language="fr", dense_rank=1, lexical_rank=3)
    english_noise = Candidate(2, similarity=0.45, lexical=9.0, language="en", dense_rank=2, lexical_rank=1)
    english_other = Candidate(3, similarity=0.30, lexical=8.0, language="en", dense_rank=3, lexical_rank=2)
    candidates = [french_answer, english_noise, english_other]
    aware = language_aware(candidates, "en", weight=0.3)
    plain = weighted(candidates, "en", weight=0.3)
    assert max(aware, key=aware.get) == 1
    assert max(plain, key=plain.get) == 2
    assert reciprocal_rank(candidates, "en")[1] == 1 / 61 + 1 / 63


def test_recency_boost_halves_each_year():
    from datetime import date

    boosted = recency_boost({1: 0.5, 2: 0.5, 3: 0.5}, {1: "2026-01-01", 2: "2025-01-01", 3: ""}, 0.1, today=date(2026, 1, 1))
    assert boosted[1] == 0.6 and abs(boosted[2] - 0.55) < 1e-9 and boosted[3] == 0.5
    assert recency_boost({1: 0.5}, {1: "2026-01-01"}, 0.0) == {1: 0.5}
