"""End to end on the shipped corpus and its labelled questions, with the real default encoder.

A question is found at k when one of the top k passages contains one of its answer phrases. Measured with the
default configuration (hybrid, adaptive fusion with the proximity bonus, passages of 300 tokens), recall@5:
en->en 0.96, fr->fr 0.96, en->fr 1.00, fr->en 1.00, all 0.98 (`healthqa eval corpus/questions.jsonl --compare`).
Floors sit about one question below. The real public sets have their gate in test_quality_real.py."""

import pytest

from healthqa.answer import Assistant
from healthqa.evaluate import compare_retrieval, evaluate_answers, load_questions

from conftest import CORPUS

QUESTIONS = load_questions(CORPUS / "questions.jsonl")
RECALL_AT_5_FLOORS = {"en->en": 0.92, "fr->fr": 0.91, "en->fr": 0.95, "fr->en": 0.95, "en": 0.95, "fr": 0.95, "all": 0.95}
PAIRS = ("en->en", "fr->fr", "en->fr", "fr->en")


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
def reports(corpus_index):
    return compare_retrieval(corpus_index, QUESTIONS, ks=(1, 5, 10))


@pytest.mark.parametrize("group", sorted(RECALL_AT_5_FLOORS))
def test_default_retrieval_recall_at_5(reports, group):
    default = reports["hybrid:adaptive"]
    assert default[group]["recall@5"] >= RECALL_AT_5_FLOORS[group], default[group]


def test_fusion_is_at_least_as_good_as_either_retriever_alone(reports):
    fused, lexical, dense = (reports[name]["all"] for name in ("hybrid:adaptive", "lexical", "dense"))
    assert fused["recall@5"] >= max(lexical["recall@5"], dense["recall@5"]), (fused, lexical, dense)
    assert fused["mrr@10"] >= max(lexical["mrr@10"], dense["mrr@10"]), (fused, lexical, dense)


# How far below the better single retriever the default may be at MRR@10, per pair (see the test below).
MRR_SHORTFALL = {"en->en": 0.025}


@pytest.mark.parametrize("pair", PAIRS)
def test_fusion_is_at_least_as_good_as_either_retriever_alone_on_each_pair(reports, pair):
    """Per pair (20 to 25 questions), no worse than the better single retriever by more than one question at
    recall@5 and by more than 0.01 at MRR@10, but en->en. Measured: en->en loses one question of 25 to BM25 alone, the
    eConsent one (0.96 against 1.00 at recall@5, 0.853 against 0.873 at MRR@10: BM25's second passage, which
    the fusion puts below French passages that only the encoder finds, weakly); every other pair is ahead."""
    fused, lexical, dense = (reports[name][pair] for name in ("hybrid:adaptive", "lexical", "dense"))
    count = fused["questions"]
    best = max(lexical["recall@5"], dense["recall@5"])
    assert round(fused["recall@5"] * count) >= round(best * count) - 1, (fused, lexical, dense)
    assert fused["mrr@10"] >= max(lexical["mrr@10"], dense["mrr@10"]) - MRR_SHORTFALL.get(pair, 0.01), (fused, lexical, dense)


def test_answers_contain_the_answer_and_quote_verbatim(corpus_index, corpus_settings):
    """What the user reads (`healthqa eval corpus/questions.jsonl --answers`). Measured: the answer text contains a
    gold phrase for 0.809 of the answerable questions, its first sentence for 0.719 (retrieved passages: 0.978);
    median 55 words; no answerable question refused; 10 of 12 unanswerable ones abstain."""
    report = evaluate_answers(Assistant(corpus_index, corpus_settings), QUESTIONS)
    scores = report["groups"]["all"]
    assert report["quotes"] > 80 and report["quotes_verbatim"] == report["quotes"]
    assert scores["answer_contains"] >= 0.80, scores
    assert scores["first_sentence_contains"] >= 0.68, scores
    assert scores["median_words"] <= 60, scores
    assert scores["abstained"] <= 0.02, scores
    assert report["unanswerable"]["abstained"] >= 0.83, report["unanswerable"]  # 10 of 12


OFF_TOPIC = (
    "What will the weather be like in Lyon tomorrow?",
    "Who won the football world cup in 2018?",
    "Comment faire une pâte à crêpes ?",
    "Quel temps fera-t-il demain à Paris ?",
    "How do I bake sourdough bread?",
)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain(corpus_index, corpus_settings, question):
    """Their best passages score 0.04-0.16 and hold at most 0.4 of their words (README, "Answers")."""
    assert Assistant(corpus_index, corpus_settings).answer(question).abstained
