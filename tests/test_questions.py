"""What a question asks for, and where a sentence holds it, on small French and English texts."""

import pytest

from healthqa.questions import (
    COUNT,
    DATE,
    DURATION,
    MONEY,
    NUMBER,
    OTHER,
    PLACE,
    SHARE,
    WHO,
    asked_measure,
    asks_reason,
    counted_noun,
    defined_term,
    defines,
    gives_reason,
    holds_kind,
    kind_spans,
    measure_spans,
    question_kind,
)


def spans(sentence: str, kind: str, question: str = "") -> list[str]:
    return [sentence[s.start : s.end] for s in kind_spans(sentence, kind, question)]


@pytest.mark.parametrize(("question", "kind"), [
    ("Who led Kestrel Bio-Sensing's Series B?", WHO),
    ("Which company bought Aeris Medical?", WHO),
    ("Qui a mené la série B de Kestrel ?", WHO),
    ("Par qui l'étude a-t-elle été menée ?", WHO),
    ("Quel laboratoire a racheté Cardiolink ?", WHO),
    ("How many patients were enrolled?", NUMBER),
    ("How much did Kestrel raise?", NUMBER),
    ("What percentage of firms use AI?", NUMBER),
    ("Combien de patients ont été inclus ?", NUMBER),
    ("Quel est le montant de la levée ?", NUMBER),
    ("When was the company founded?", DATE),
    ("In what year did the trial start?", DATE),
    ("Quand la société a-t-elle été fondée ?", DATE),
    ("En quelle année l'essai a-t-il commencé ?", DATE),
    ("Where is the company based?", PLACE),
    ("In which country are DiGA reimbursed?", PLACE),
    ("Où se trouve le siège de Histalyse ?", PLACE),
    ("Dans quelle ville l'usine est-elle installée ?", PLACE),
    ("Why do hospitals adopt telemonitoring?", OTHER),
    ("How are digital therapeutics reimbursed in Germany?", OTHER),
    ("Pourquoi les hôpitaux adoptent-ils la télésurveillance ?", OTHER),
    ("Quelles sont les priorités des laboratoires ?", OTHER),
])
def test_question_kind(question, kind):
    assert question_kind(question) == kind


def test_counted_noun():
    assert counted_noun("How many patients were enrolled?") == "patients"
    assert counted_noun("Combien de candidatures ont été reçues ?") == "candidatures"
    assert counted_noun("Combien d'utilisateurs compte l'application ?") == "utilisateurs"
    assert counted_noun("How much did Kestrel raise?") == ""


def test_figures_with_currency_percent_and_number_words():
    assert spans("Kestrel raised $42 million, up 15% on last year, with two investors.", NUMBER) == [
        "$42 million", "million", "15%", "two"]
    assert spans("Elle a levé 38 millions d'euros, soit 12,5 % de plus, avec trois fonds.", NUMBER) == [
        "38 millions", "millions", "12,5 %", "trois"]
    assert spans("The £38m round closed.", NUMBER) == ["£38m"]


def test_no_figure_inside_a_code_name():
    assert spans("The OR-MYO2 trial enrolled patients.", NUMBER) == []
    assert not holds_kind("L'essai OR-MYO2 a inclus des patients.", NUMBER)


def test_dates_in_both_languages():
    assert spans("It was founded on 12 March 2019 and listed in 2021.", DATE) == ["12 March 2019", "2021"]
    assert spans("Elle a été fondée le 1er mars 2019, puis cotée en 2021.", DATE) == ["1er mars 2019", "2021"]
    assert spans("The 2019 plan was dropped.", DATE, "What happened to the 2019 plan?") == []


def test_names_leave_out_what_the_question_names_and_sentence_starts():
    question = "Who led Kestrel Bio-Sensing's Series B?"
    assert spans("The round was led by Harrowgate Ventures, with Kestrel Bio-Sensing.", WHO, question) == [
        "Harrowgate Ventures"]
    assert spans("La série B a été menée par Harrowgate Ventures.", WHO, "Qui a mené la série B de Kestrel ?") == [
        "Harrowgate Ventures"]
    assert spans("Harrowgate led it.", WHO) == []  # one capitalised word opening a sentence is not enough
    assert spans("Harrowgate Ventures led it.", WHO) == ["Harrowgate Ventures"]
    assert spans("Paris, Lyon et Marseille accueillent les essais.", PLACE) == ["Lyon", "Marseille"]
    assert spans("Everything is explained.", OTHER) == []


def test_names_stop_at_the_end_of_a_sentence():
    """A quote can hold several sentences: the word that opens the next one is not a name, nor joined to one."""
    assert spans("It closed in Cork. It was led by Harrowgate Ventures. The fund is in London.", WHO) == [
        "Cork", "Harrowgate Ventures", "London"]
    assert spans("It closed in May, on a Monday.", WHO) == []  # month and day names are not who or where
    assert spans("Le tour a été bouclé en mai. « Nous sommes ravis », dit Lucia Benedetti.", WHO) == ["Lucia Benedetti"]


def test_definition_questions():
    assert defined_term("What is IFITM?") == "IFITM"
    assert defined_term("What does DTx stand for?") == "DTx"
    assert defined_term("Qu'est-ce que la DiGA ?") == "DiGA"
    assert defined_term("Who led the round?") == ""
    assert defines("Digital therapeutics (DTx) are apps that treat disease.", "DTx")
    assert defines("La DiGA est une application remboursée.", "DiGA")
    assert defines("DTx, a new class of software, treat disease.", "DTx")
    assert not defines("Several DTx were listed this year.", "DTx")


@pytest.mark.parametrize(("question", "measure"), [
    ("How much did Valtrane pay to buy Cardiolink?", MONEY),
    ("Combien coûtera la mise en conformité ?", MONEY),
    ("What is the budget of the consortium?", MONEY),
    ("Quel objectif de chiffre d'affaires Hallberg fixe-t-il ?", MONEY),
    ("How much did the programme reduce admissions?", SHARE),
    ("De combien l'observance a-t-elle progressé ?", SHARE),
    ("What stake is Respiral taking in Souffleo?", SHARE),
    ("How long does it take to get a certificate?", DURATION),
    ("Combien de temps un carpophore survit-il ?", DURATION),
    ("How many months did enrolment take?", DURATION),
    ("How many patients were enrolled?", COUNT),
    ("How many patients took part in the trial?", COUNT),  # "part" is French for a share, not English
    ("Combien d'euros la start-up a-t-elle levés ?", MONEY),
    ("Quelle part des sujets avaient moins de 6 ans ?", SHARE),
    ("Combien de candidatures Mervick a-t-il reçues ?", COUNT),
    ("Who led the round?", ""),
    ("Why does the cost of trials rise?", ""),
])
def test_asked_measure(question, measure):
    assert asked_measure(question) == measure


def measured(sentence: str, measure: str) -> list[str]:
    return [sentence[s.start : s.end] for s in measure_spans(sentence, measure)]


def test_figures_of_the_sort_asked():
    french = "Cardiolink compte 160 salariés ; le montant de l'opération s'élève à 210 millions d'euros."
    assert measured(french, MONEY) == ["210 millions"]
    assert measured(french, COUNT) == ["160"]
    english = "Admissions fell 34% over 19 months, a third of the 1,240 patients in 2020 were older."
    assert measured(english, SHARE) == ["34%", "third"]
    assert measured(english, DURATION) == ["19"]  # not "19 m" of "months"
    assert measured(english, COUNT) == ["1,240"]
    assert measured("Une prise en charge pour une durée d'un an.", DURATION) == ["un an"]
    assert measured("A pen costs €95.", "") == []
    # rough figures: "une trentaine d'alcaloïdes" counts, "quelques jours" lasts
    assert measured("Le suc contient une trentaine d'alcaloïdes toxiques.", COUNT) == ["trentaine"]
    assert measured("En général, il dure quelques jours.", DURATION) == ["quelques jours"]
    # "phase 2" names a trial, "five and a half months" is a duration, "le 11 mai" a day: none counts patients
    assert measured("Its phase 2 trial enrolled in five and a half months.", COUNT) == []
    assert measured("Orphéa a présenté le 11 mai 2023 le bilan de son essai.", COUNT) == []


def test_a_question_that_asks_why_wants_a_cause_or_a_purpose():
    assert asks_reason("Why is iron critical to bacteria?")
    assert asks_reason("Pourquoi ce besoin de paraître bronzé ?")
    assert not asks_reason("How much did Valtrane pay for Cardiolink?")
    assert not asks_reason("Qui dirige la nouvelle direction du numérique ?")
    assert gives_reason("Fe plays a role in infection as bacteria need it, because they utilize Fe for growth.")
    assert gives_reason("The delay was due to a shortage of reagents.")
    assert gives_reason("Le teint hâlé est recherché parce qu'il est signe de succès.")
    assert gives_reason("Les laboratoires s'associent à des start-up afin de gagner du temps.")
    assert not gives_reason("The study enrolled 612 adults with chronic insomnia.")
    assert not gives_reason("La chélidoine pousse sur le bord des chemins.")
    assert gives_reason("Il a renoncé, car le marché était trop petit.")
    assert gives_reason("Le retard est dû à une pénurie de réactifs.")
    assert not gives_reason("« Il faut mettre nos données en commun », explique Hélène Marchetti.")
    assert not gives_reason("Le groupe, ainsi que ses filiales, emploie 6 800 personnes.")
    assert not gives_reason("Thus far, twelve patients were enrolled.")
    assert not gives_reason("The final report is due next month.")
    assert not gives_reason("CAR-T cell therapy was given to nine patients.")
