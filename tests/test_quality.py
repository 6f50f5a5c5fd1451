"""End to end on the shipped corpus and its labelled questions, with the real model.

Measured (hit@5 = an expected article among the top 5 passages): en->en 1.00, fr->fr 0.96, en->fr 0.85,
fr->en 0.05 (the bundled English model does not match French questions to English text; the bilingual issue
addresses it). Floors sit a little below the measured figures."""

import pytest

from healthqa.evaluate import evaluate_answers, evaluate_retrieval, load_questions
from healthqa.answer import Assistant

from conftest import CORPUS

QUESTIONS = load_questions(CORPUS / "questions.jsonl")
HIT_AT_5_FLOORS = {"en->en": 0.95, "fr->fr": 0.9, "en->fr": 0.75, "en": 0.88, "fr": 0.5}


def test_the_labelled_questions_are_well_formed(corpus_index):
    answerable = [q for q in QUESTIONS if q.answerable]
    assert len(answerable) >= 80 and len(QUESTIONS) - len(answerable) >= 10
    for question in answerable:
        for url in question.articles:
            language = corpus_index.store.article_language(url)
            assert language in ("en", "fr"), f"{url} is not in the index"
        texts = [corpus_index.store.find_article(url).text for url in question.articles]
        for phrase in question.answers:
            assert any(" ".join(phrase.split()) in " ".join(t.split()) for t in texts), phrase


@pytest.fixture(scope="module")
def retrieval_report(corpus_index):
    return evaluate_retrieval(corpus_index, QUESTIONS, by_article=True)


@pytest.mark.parametrize("group", sorted(HIT_AT_5_FLOORS))
def test_expected_article_in_top_5(retrieval_report, group):
    assert retrieval_report[group]["recall@5"] >= HIT_AT_5_FLOORS[group], retrieval_report[group]


def test_answers_cite_expected_articles_and_quote_verbatim(corpus_index, corpus_settings):
    report = evaluate_answers(Assistant(corpus_index, corpus_settings), QUESTIONS)
    # Measured: first citation from an expected article 0.62 (en 0.78, fr 0.45); answered 1.00; abstained 0.83.
    assert report["quotes"] > 100 and report["quotes_verbatim"] == report["quotes"]
    assert report["en:first_citation_expected"] >= 0.72
    assert report["all:first_citation_expected"] >= 0.56
    assert report["answerable_answered"] >= 0.95
    assert report["unanswerable_abstained"] >= 0.75
