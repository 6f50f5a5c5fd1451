"""Answers from the real corpus index: quoting, citing, abstaining, languages, follow-ups."""

from healthqa import Filters
from healthqa.answer import Assistant, retrieval_query


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
