"""Answers from the real corpus index: quoting, citing, abstaining, languages, follow-ups."""

import pytest

from healthqa import Filters
from healthqa.answer import Assistant, retrieval_query, translates, unnamed_terms


def assistant(corpus_index, corpus_settings) -> Assistant:
    return Assistant(corpus_index, corpus_settings)


def test_techtomed_question_in_french_is_answered_from_the_study(corpus_index, corpus_settings):
    reply = assistant(corpus_index, corpus_settings).answer(
        "Quelles sont les priorités des laboratoires pharmaceutiques en santé numérique ?"
    )
    assert not reply.abstained and reply.language == "fr"
    assert 1 <= len(reply.citations) <= 5
    assert any("techtomed" in c.article.url for c in reply.citations)
    for citation in reply.citations:
        assert citation.passage.text[citation.start : citation.end] == citation.sentence
        assert citation.article.text[citation.passage.start : citation.passage.end] == citation.passage.text
        assert f"{citation.sentence} [{citation.marker}]" in reply.text
    assert reply.citations[0].article.title and reply.citations[0].article.date == "2023-01-11"


@pytest.mark.parametrize("question", [
    "Quelles sont les priorités des laboratoires pharmaceutiques en santé numérique ?",
    "What are pharma companies' digital-health priorities?",
])
def test_the_priorities_question_is_answered_with_the_three_objectives(corpus_index, corpus_settings, question):
    """The study announces "Trois objectifs se détachent." and lists them with their shares: the answer quotes
    the list, not the sentences that only name the study's topic."""
    reply = assistant(corpus_index, corpus_settings).answer(question)
    for share in ("95 %", "74 %", "69 %"):
        assert share in reply.text, (share, reply.text)


def test_unrelated_question_abstains_in_its_language(corpus_index, corpus_settings):
    bot = assistant(corpus_index, corpus_settings)
    english = bot.answer("How much did Novadyne Health raise for its radiology software?")
    assert english.abstained and english.text.startswith("The articles do not cover")
    assert not english.citations and english.hits  # leads are shown instead of quotes
    assert len({h.article.id for h in english.hits}) == len(english.hits)
    french = bot.answer("Combien de pharmacies proposent l'application Pharmadom ?")
    assert french.abstained and french.text.startswith("Les articles ne traitent pas")


def test_question_in_another_language_gets_a_note(corpus_index, corpus_settings):
    reply = assistant(corpus_index, corpus_settings).answer("Wie viel Geld hat das Start-up Kestrel eingesammelt?")
    assert "German" in reply.note


def test_follow_up_uses_the_previous_question():
    history = [{"role": "user", "content": "Which pharma companies run start-up accelerators?"}, {"role": "assistant", "content": "…"}]
    assert retrieval_query("and how much do they invest?", history).startswith("Which pharma companies")
    assert retrieval_query("How are digital therapeutics reimbursed in Germany?", history) == (
        "How are digital therapeutics reimbursed in Germany?"
    )
    assert retrieval_query("Quelles start-up ?", []) == "Quelles start-up ?"


def test_follow_up_answer_stays_on_topic(corpus_index, corpus_settings):
    bot = assistant(corpus_index, corpus_settings)
    first = "Tell me about the Mervick Launchpad accelerator for start-ups."
    reply = bot.answer("and what grant do they get?", history=[first])
    assert not reply.abstained
    assert any("mervick" in c.article.url for c in reply.citations)


def test_filters_narrow_retrieval(corpus_index, corpus_settings):
    bot = assistant(corpus_index, corpus_settings)
    reply = bot.answer("digital therapeutics reimbursement", filters=Filters(languages=("fr",)))
    assert reply.hits and all(h.article.language == "fr" for h in reply.hits)
    hits = corpus_index.search("funding round", k=10, filters=Filters(sites=("MedTech Ledger",), date_from="2024-01-01"))
    assert len(hits) == 10  # filtering happens inside the search, not after cutting to k
    assert all(h.article.site == "MedTech Ledger" and h.article.date >= "2024-01-01" for h in hits)


# Named terms, similarity and word coverage: what turns a question away, and what must not.

from healthqa.answer import _quotes_language_note, words_held  # noqa: E402
from healthqa.records import Article, Citation, Hit, Passage  # noqa: E402


def _hit(text: str, language: str = "en") -> Hit:
    article = Article("a1", "https://example.org/a1", "A title", text, language=language)
    return Hit(text, 1.0, 1, Passage("a1", 0, text, 0, len(text)), article, 0.3)


def _citation(language: str) -> Citation:
    hit = _hit("Some quoted sentence here.", language)
    return Citation(1, hit.text, 0, len(hit.text), hit.passage, hit.article)


def test_named_terms_tolerate_inflection_and_typos_but_not_invented_names(corpus_index):
    store = corpus_index.store
    written_otherwise = ["harowgate", "harrowgates", "kestral", "mercadiers"]
    assert store.unknown_words(written_otherwise) == written_otherwise  # exact matching turned them all away
    assert store.unknown_words(written_otherwise, tolerant=True) == []
    assert store.unknown_words(["novadyne", "pharmadom", "harrowgate"], tolerant=True) == ["novadyne", "pharmadom"]
    assert store.unknown_words([], tolerant=True) == []


def test_a_misspelt_company_is_still_answered_and_its_short_answer_stands_in_the_quote(corpus_index, corpus_settings):
    bot = assistant(corpus_index, corpus_settings)
    for question in ("Who led Kestrel Bio-Sensing's Series B?", "Who led Kestral Bio-Sensing's Series B?"):
        reply = bot.answer(question)
        assert not reply.abstained, question
        short = reply.to_dict()["short_answer"]
        assert short and short["text"] == "Harrowgate Ventures"
        cited = next(c for c in reply.citations if c.marker == short["marker"])
        assert cited.passage.text[short["start"] : short["end"]] == short["text"]
        assert cited.start <= short["start"] and short["end"] <= cited.end  # inside the quoted sentence


def test_questions_of_stop_words_only_are_not_answered(corpus_index, corpus_settings):
    bot = assistant(corpus_index, corpus_settings)
    for question in ("What is it?", "Qu'est-ce que c'est ?", "?"):
        reply = bot.answer(question)
        assert reply.abstained and not reply.citations and reply.short_answer is None, question


def test_words_held():
    languages = ("en", "fr")
    hits = [_hit("A Swiss fund put money into a clinic."), _hit("Harrowgate led the Series B round of Kestrel.")]
    assert words_held("Who led Kestrel's Series B round?", hits, languages) == 1.0
    assert words_held("Who led Kestrel's football match?", hits, languages) == 0.5
    assert words_held("Quel fonds a mené la série B de Kestrel ?", [_hit("Le fonds Harrowgate a mené une série B.", "fr")], languages) == 0.75
    assert words_held("What is it?", hits, languages) == 0.0


def test_quotes_language_note_in_both_languages():
    french, english = _citation("fr"), _citation("en")
    assert _quotes_language_note("en", [french]) == "The quotes are in French."
    assert _quotes_language_note("en", [english, french]) == "Some quotes are in French."
    assert _quotes_language_note("fr", [english]) == "Les citations sont en anglais."
    assert _quotes_language_note("fr", [french, english]) == "Certaines citations sont en anglais."
    assert _quotes_language_note("fr", [french]) == _quotes_language_note("en", [english]) == ""


def test_a_french_question_answered_from_english_articles_says_so(corpus_index, corpus_settings):
    reply = assistant(corpus_index, corpus_settings).answer("Qui a mené la série B de Kestrel Bio-Sensing ?")
    assert not reply.abstained and {c.article.language for c in reply.citations} == {"en"}
    assert reply.note == "Les citations sont en anglais."


def _passage(text: str, language: str) -> Hit:
    article = Article("x1", "https://example.org/x1", "Un titre", text, language=language)
    return Hit(text, 1.0, 1, Passage("x1", 0, text, 0, len(text)), article, 0.4)


def test_a_name_translated_in_another_language_is_known(corpus_index):
    """'Poland' is in no article of the sample corpus; a French passage that says 'Pologne' holds it."""
    question = "How many hospitals in Poland use the Kestrel patch?"
    assert corpus_index.store.unknown_words(["poland"], tolerant=True) == ["poland"]
    french = _passage("Le fabricant équipe désormais quarante hôpitaux en Pologne et en Allemagne.", "fr")
    english = _passage("The maker now equips forty hospitals across Europe.", "en")
    assert unnamed_terms(corpus_index, question, "en", [french]) == []
    assert unnamed_terms(corpus_index, question, "en", [english]) == ["poland"]  # no translation within a language
    made_up = "How many hospitals use the Zorbexa patch?"
    assert unnamed_terms(corpus_index, made_up, "en", [french]) == ["zorbexa"]


def test_a_name_spelt_another_way_in_another_language_is_known(corpus_index):
    """'Kashmir' and 'Cachemire' are only 0.54 close for the encoder, but sound alike; a French passage about
    another region does not hold the name."""
    question = "When did Islam reach Kashmir?"
    kashmir = _passage("L'islam arrive au Cachemire au XIVe siècle avec des prédicateurs venus de Perse.", "fr")
    bengal = _passage("L'islam arrive au Bengale au XIIIe siècle avec des prédicateurs venus de Perse.", "fr")
    assert unnamed_terms(corpus_index, question, "en", [kashmir]) == []
    assert unnamed_terms(corpus_index, question, "en", [bengal]) == ["kashmir"]


def test_a_translation_is_close_in_meaning_or_somewhat_close_and_sounding_alike():
    assert translates(0.92, "plgn", "pln")  # Pologne, Poland
    assert translates(0.54, "kʃmr", "kʃmr")  # Cachemire, Kashmir
    assert not translates(0.54, "bngl", "kʃmr")  # Bengale
    assert not translates(0.44, "kʃmr", "kʃmr")  # too far in meaning, whatever the sound
    assert not translates(0.60, "pl", "pl")  # two sounds are too easily another word's
