"""The answer evaluation's matching rules on small strings."""

import pytest

from healthqa.evaluate import contains_answer, normalise, read_text, token_f1
from healthqa.records import Answer, Article, Citation, Passage


def test_normalise_folds_unicode_forms_apostrophes_case_and_spaces():
    assert normalise("  L\u2019e\ufb03cacit\u00e9 \u00a0du\n traitement ") == "l'efficacité du traitement"
    assert normalise("\u2018Quoted\u2019") == "'quoted'"
    assert normalise("Ｈｅａｌｔｈ") == "health"  # full-width letters (NFKC)


def test_contains_answer():
    assert contains_answer("The round was led by Harrowgate\u00a0Ventures.", ["harrowgate ventures"])
    assert contains_answer("Selon l’étude, 95 % des laboratoires…", ["l'étude, 95 %"])
    assert not contains_answer("The round was led by Harrowgate.", ["Harrowgate Ventures"])
    assert not contains_answer("", ["x"]) and not contains_answer("anything", [""]) and not contains_answer("anything", [])


def test_read_text_drops_the_answer_s_markers_but_not_a_paper_s_own_references():
    text = "Dry powder inhalers delivered insulin [39] and heparin [40] to the lungs."
    article = Article("p1", "https://example.org/p1", "A paper", text, language="en")
    passage = Passage("p1", 0, text, 0, len(text))
    reply = Answer("What did inhalers deliver?", f"{text} [1]", "en", (Citation(1, text, 0, len(text), passage, article),), (), False)
    assert read_text(reply) == text
    assert contains_answer(read_text(reply), ["insulin [39] and heparin [40]"])
    assert read_text(Answer("?", "The articles do not say.", "en", (), (), True)) == ""


def test_token_f1_as_squad():
    assert token_f1("Harrowgate Ventures", "Harrowgate Ventures") == 1.0
    assert token_f1("the Harrowgate Ventures.", "Harrowgate Ventures") == 1.0  # articles and punctuation off
    assert token_f1("l'hôpital", "hôpital") == 1.0
    assert token_f1("Harrowgate Ventures", "Harrowgate Ventures Ltd") == pytest.approx(0.8)
    assert token_f1("Copperbeech", "Harrowgate Ventures") == 0.0
    assert token_f1("", "Harrowgate") == 0.0
