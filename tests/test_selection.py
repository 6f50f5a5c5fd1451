"""Answer selection on small hand-made passages: candidate sentences, announced lists, quotes, the short answer."""

import numpy as np

from healthqa.records import Article, Citation, Hit, Passage
from healthqa.selection import (
    FEATURE_WEIGHTS,
    FEATURES,
    Limits,
    Quote,
    announces,
    candidate_sentences,
    choose_quotes,
    refers_back,
    sentence_features,
    short_answer,
)

LANGUAGES = ("en", "fr")
# Closeness alone decides, but for the rule that lifts a sentence leading into a list.
CLOSENESS_ONLY = tuple(
    1.0 if name == "closeness" else weight if name == "leads_into_list" else 0.0 for name, weight in zip(FEATURES, FEATURE_WEIGHTS)
)


def choose(question: str, sentences, closeness, *, weights=FEATURE_WEIGHTS, limits: Limits = Limits()) -> list[Quote]:
    """What the assistant does: features of every sentence, closeness given (here chosen by the test)."""
    features = sentence_features(question, sentences, languages=LANGUAGES) if sentences else np.zeros((0, len(FEATURES)))
    return choose_quotes(sentences, features, np.asarray(closeness, dtype=float), limits=limits, weights=weights)


def hit(text: str, language: str = "en", *, article: str = "a1", title: str = "A title", rank: int = 1,
        score: float = 1.0, offset: int = 0) -> Hit:
    """A retrieved passage starting at `offset` in its article (text before it is padding)."""
    full = "x" * offset + text
    record = Article(article, f"https://example.org/{article}", title, full, language=language)
    return Hit(text, score, rank, Passage(article, 0, text, offset, offset + len(text)), record, 0.5)


def whole(text: str, language: str = "en") -> Quote:
    return Quote(hit(text, language), 0, len(text), 1.0)


def short(question: str, text: str, language: str = "en") -> str | None:
    span = short_answer(question, whole(text, language), languages=LANGUAGES)
    return None if span is None else text[span[0] : span[1]]


def test_features_and_weights_line_up():
    assert len(FEATURES) == len(FEATURE_WEIGHTS) == len(set(FEATURES))


def test_candidates_skip_questions_scraps_and_repeats_of_overlapping_passages():
    text = "Kestrel raised £38 million. Why now? Growth.\n\n« Pourquoi attendre ? », demande le PDG."
    first = hit(text)
    sentences = candidate_sentences([first])
    assert [s.text for s in sentences] == ["Kestrel raised £38 million.", "« Pourquoi attendre ? », demande le PDG."]
    assert [s.paragraph for s in sentences] == [0, 1]
    assert all(first.text[s.start : s.end] == s.text for s in sentences)
    # The same article's next passage overlaps the first: its repeated sentence is a candidate once.
    tail = text[28:]
    second = hit(tail, offset=28, rank=2)
    assert second.article.text[second.passage.start : second.passage.end] == tail
    assert candidate_sentences([first, second]) == sentences
    assert candidate_sentences([hit("")]) == []


def test_no_sentences_no_quotes():
    assert choose("Who led the round?", [], np.zeros(0)) == []


def test_announcements_in_both_languages():
    assert announces("Trois objectifs se détachent.")
    assert announces("Three priorities stand out.")
    assert announces("The goals of the programme are:")
    assert announces("Les engagements du laboratoire sont les suivants :")
    assert announces("The plan rests on the following")
    assert not announces("Trois hôpitaux de la région ont rejoint le réseau de télésurveillance depuis le mois de mars dernier.")
    assert not announces("The study looked at how drug makers expect digital tools to change their work.")
    assert not announces("Le rapport sera publié en juin.")
    assert not announces("She received five pulses of IVMP (30 mg/kg/day).")  # reports figures, announces nothing


FRENCH_STUDY = (
    "Consacrée aux priorités des grands laboratoires en matière de e-santé, l'étude décrit leurs attentes. "
    "Trois objectifs se détachent. Améliorer l'observance est cité par 95 % des répondants, accélérer les essais "
    "par 74 % et mieux connaître les patients par 69 %.\n\nLe rapport complet sera publié en juin prochain."
)


def test_an_announcement_brings_the_rest_of_its_paragraph_in_french():
    passage = hit(FRENCH_STUDY, "fr", title="Étude e-santé")
    sentences = candidate_sentences([passage])
    assert len(sentences) == 4
    # The topic sentence is the closest; the sentence it precedes announces the list, which comes with it.
    quotes = choose("Quelles sont les priorités des laboratoires ?", sentences, np.array([0.9, 0.2, 0.3, 0.1]), weights=CLOSENESS_ONLY,
                    limits=Limits(sentences=1))
    first = quotes[0].text
    assert first.startswith("Consacrée aux priorités") and first.endswith("mieux connaître les patients par 69 %.")
    assert "Le rapport" not in first  # the next paragraph is not part of the list
    assert passage.text[quotes[0].start : quotes[0].end] == first


def test_an_announcement_brings_its_list_items_in_english():
    text = ("The survey asked forty drug makers about digital health.\n\nThree priorities stand out:\n\n"
            "- better adherence for 95% of them\n\n- faster trials for 74% of them\n\n- knowing patients for 69% of them\n\n"
            "The report comes out in June.")
    sentences = candidate_sentences([hit(text)])
    assert [s.paragraph for s in sentences] == [0, 1, 2, 3, 4, 5]
    # The announcement itself is the closest sentence: it brings the three items, not the last paragraph.
    quotes = choose("Which priorities do drug makers name?", sentences, np.array([0.1, 0.9, 0.2, 0.2, 0.2, 0.1]), weights=CLOSENESS_ONLY, limits=Limits(sentences=1))
    assert [q.text for q in quotes] == [text[text.index("Three") : text.index("\n\nThe report")]]


def test_a_question_for_several_things_lifts_the_sentence_that_leads_into_a_list():
    text = "Our firm tracks many topics. The goals are as follows. Cut costs by half. Reach ten countries."
    sentences = candidate_sentences([hit(text)])
    closeness = np.array([0.3, 0.2, 0.5, 0.45])
    single = choose("Which goal came first?", sentences, closeness, weights=CLOSENESS_ONLY, limits=Limits(sentences=1))
    several = choose("What are the goals?", sentences, closeness, weights=CLOSENESS_ONLY)
    assert single[0].text == "Cut costs by half."
    assert several[0].text == text  # the sentence before the announcement, the announcement and its items


def test_quotes_keep_to_the_limits_and_never_repeat_a_sentence():
    text = ("Drug makers were asked about their plans for digital tools. The survey covered forty firms in Europe. "
            "Three priorities stand out. Better adherence was named by 95% of the drug makers surveyed.")
    sentences = candidate_sentences([hit(text)])
    closeness = np.array([0.1, 0.9, 0.1, 1.0])
    quotes = choose("Which priorities do drug makers name?", sentences, closeness, weights=CLOSENESS_ONLY)
    # The second best sentence, completed by the announcement and its list, runs into the best one: both become
    # one stretch of the passage, which quotes the best sentence once.
    texts = [q.text for q in quotes]
    assert texts[0].startswith("The survey covered") or texts[0].startswith("Drug makers")
    assert texts[0].endswith("Better adherence was named by 95% of the drug makers surveyed.")
    assert sum(t.count("Better adherence") for t in texts) == 1
    assert [q.score for q in quotes] == sorted((q.score for q in quotes), reverse=True)
    one = choose("Which priorities do drug makers name?", sentences, closeness,
                        weights=CLOSENESS_ONLY, limits=Limits(sentences=1))
    assert len(one) == 1
    narrow = choose("Which priorities do drug makers name?", sentences, closeness, weights=CLOSENESS_ONLY, limits=Limits(margin=0.05))
    assert [q.text for q in narrow] == ["Better adherence was named by 95% of the drug makers surveyed."]


def test_sentences_that_refer_back_in_both_languages():
    assert refers_back("It enrolled 312 patients living in 41 US states.")
    assert refers_back("They were found by Blackthorn Labs, a security firm in Rotterdam.")
    assert refers_back("« Elle sera dirigée par Élodie Marchal-Winter. »")
    assert refers_back("Cette étude a inclus 612 adultes.")
    assert not refers_back("Italy reported its first cases in February.")
    assert not refers_back("Cessation of treatment was rare.")
    assert not refers_back("Iteration counts were small.")


def test_a_sentence_that_refers_back_brings_the_one_it_refers_to():
    text = ("Corvane Biosciences completed enrolment in its remote eczema trial. It enrolled 312 patients in 41 states. "
            "The drug is a cream.")
    sentences = candidate_sentences([hit(text)])
    question = "How many patients took part in Corvane's remote eczema trial?"
    features = sentence_features(question, sentences, languages=LANGUAGES)
    referred = FEATURES.index("terms_referred")
    # "It enrolled…" counts the question's terms of the sentence it refers to; the last sentence does not.
    assert features[1, referred] > features[1, FEATURES.index("terms")]
    assert features[2, referred] == features[2, FEATURES.index("terms")]
    quotes = choose(question, sentences, np.array([0.2, 0.9, 0.1]), weights=CLOSENESS_ONLY, limits=Limits(sentences=1))
    assert [q.text for q in quotes] == [text[: text.index(" The drug")]]


def test_a_further_sentence_that_refers_back_is_quoted_alone_when_its_antecedent_leaves_no_room():
    """The answer's first quote takes most of the words; "He estimated…" still fits, the sentence it refers to
    does not: the sentence is quoted alone rather than left out."""
    first = hit("Caldera Cardio won FDA clearance for VentriScan AI, a tool that reads a standard electrocardiogram to "
                "flag weak heart pumps, and will now prepare its European launch.", article="a1")
    second = hit("Its chief executive spoke at length about the regulation at a conference in Amsterdam last week. "
                 "He estimated that AI Act compliance would cost about 1.1 million euros.", article="a2", rank=2)
    sentences = candidate_sentences([first, second])
    question = "How much will AI Act compliance cost Caldera Cardio?"
    quotes = choose(question, sentences, np.array([0.9, 0.1, 0.8]), weights=CLOSENESS_ONLY, limits=Limits(words=45, close_words=45))
    assert [q.text for q in quotes] == [sentences[0].text, "He estimated that AI Act compliance would cost about 1.1 million euros."]
    roomy = choose(question, sentences, np.array([0.9, 0.1, 0.8]), weights=CLOSENESS_ONLY, limits=Limits(words=80))
    assert roomy[1].text == second.text  # with room, it brings the sentence it refers to


def test_neighbouring_quotes_of_one_passage_become_one_stretch_in_reading_order():
    text = "Tessellate Health raised $22 million. The round was led by Bluefern Capital. Sales doubled in 2024."
    sentences = candidate_sentences([hit(text)])
    quotes = choose("Who led the Series A round of Tessellate Health?", sentences, np.array([0.5, 0.9, 0.1]), weights=CLOSENESS_ONLY,
                    limits=Limits(margin=0.5))
    assert quotes[0].text == "Tessellate Health raised $22 million. The round was led by Bluefern Capital."
    assert len(quotes) == 1


def test_short_answer_who_is_the_name_next_to_the_verb():
    text = ("The round was led by Harrowgate Ventures, with Norrland Health Capital and Copperbeech Partners, "
            "which led the company's Series A in 2020.")
    assert short("Who led Kestrel Bio-Sensing's Series B?", text) == "Harrowgate Ventures"
    french = "La série B de Kestrel a été menée par Harrowgate Ventures, déjà présent lors de la série A."
    assert short("Qui a mené la série B de Kestrel ?", french, "fr") == "Harrowgate Ventures"



def test_short_answer_who_reads_past_the_words_between_by_and_the_name():
    french = ("Histalyse a levé 38 millions d'euros en série B. Le tour est mené par le fonds européen Meridian Life "
              "Ventures, avec ses investisseurs historiques.")  # "B." reads like an initial: "Le" is no name
    assert short("Quel fonds a mené la série B de Histalyse ?", french, "fr") == "Meridian Life Ventures"
    chained = "Tessellate Health raised $22 million in a Series A round led by the Boston investor Bluefern Capital."
    assert short("Quel investisseur a mené le tour de série A de Tessellate Health ?", chained) == "Bluefern Capital"
    two = ("The flaws affect the Vitaflo 300 pump made by Corran Medical and the Vitaflo Gateway software. They were "
           "found by Blackthorn Labs, a security firm in Rotterdam.")
    assert short("Qui a découvert les failles des pompes Vitaflo ?", two) == "Blackthorn Labs"  # not the maker of what is asked about

def test_short_answer_how_many_is_the_figure_that_counts_the_noun():
    question = "How many patients did the trial enroll?"
    assert short(question, "The trial enrolled 312 patients in phase 2.") == "312 patients"
    assert short(question, "In phase 2, the trial enrolled 312 adult patients.") == "312 adult patients"
    assert short(question, "The phase 2 trial enrolled patients across Europe.") is None  # 2 counts phases
    assert short(question, "The trial ran in phase 2. Patients were enrolled across Europe.") is None
    french = "Combien de patients l'essai a-t-il inclus ?"
    assert short(french, "L'essai de phase 2 a inclus 312 patients en Europe.", "fr") == "312 patients"
    assert short(french, "L'essai de phase 2 a inclus des patients en Europe.", "fr") is None
    assert short("Combien d'utilisateurs compte l'application ?", "L'application compte 2 millions d'utilisateurs.", "fr") == (
        "2 millions d'utilisateurs"
    )
    assert short("How many patients were treated?", "In the end, 312 of the patients were treated.") == "312 of the patients"
    assert short("Combien d'éléments ont été observés ?", "En 2017, aucun de ces éléments n'avait été observé.", "fr") == (
        "aucun de ces éléments"
    )
    assert short("Combien de pharmacies proposent le service ?", "Deux cents pharmacies le proposent.", "fr") == "Deux cents pharmacies"


def test_short_answer_how_much_is_an_amount_not_a_date():
    french = "Histalyse a annoncé le 23 juin 2025 une levée de fonds de 38 millions d'euros en série B."
    assert short("Combien Histalyse a-t-elle levé ?", french, "fr") == "38 millions"
    english = "Kestrel said in 2024 that it had raised £38 million from three investors."
    assert short("How much did Kestrel raise?", english) == "£38 million"


def test_short_answer_when_is_the_date_and_other_questions_get_none():
    text = "Kestrel was founded in Leeds in 2014 and listed on 12 March 2021."
    assert short("When was Kestrel founded?", text) == "2014"
    assert short("En quelle année Kestrel a-t-elle été fondée ?", "Kestrel a été fondée à Leeds en 2014.", "fr") == "2014"
    assert short("Why was Kestrel founded?", text) is None
    assert short("Pourquoi Kestrel a-t-elle été fondée ?", text) is None
    assert short("Who founded Kestrel?", "The company makes stick-on cardiac monitors for hospitals.") is None


def test_short_answer_offsets_are_in_the_passage():
    passage = hit("Intro sentence here. The round was led by Harrowgate Ventures.", offset=40)
    quote = Quote(passage, 21, len(passage.text), 1.0)
    start, end = short_answer("Who led the round?", quote, languages=LANGUAGES)
    assert passage.text[start:end].startswith("Harrowgate Ventures")
    assert passage.passage.text[start:end] == passage.text[start:end]


def test_a_passage_that_names_what_the_question_names_lifts_its_sentences():
    """Asked about Tessellate Health, a sentence of a passage about another start-up matches the question's words
    ("mené", "tour", "série") and the right one, in English, only its names: each gets the share of the
    question's names that its passage or article title holds."""
    other = hit("Le tour de série A est mené par Meridian Life Ventures.", "fr", article="a1", title="Histalyse lève 38 millions")
    right = hit("Its round was led by Bluefern Capital.", "en", article="a2", title="Tessellate Health raises $22 million", rank=2)
    sentences = candidate_sentences([other, right])
    features = sentence_features("Quel investisseur a mené le tour de série A de Tessellate Health ?", sentences, languages=LANGUAGES)
    names_held = features[:, FEATURES.index("names_held")]
    assert list(names_held) == [0.0, 1.0]
    assert FEATURE_WEIGHTS[FEATURES.index("names_held")] > 0
    # A question without names weighs no passage up.
    plain = sentence_features("Quel investisseur a mené le tour ?", sentences, languages=LANGUAGES)
    assert list(plain[:, FEATURES.index("names_held")]) == [0.0, 0.0]


def test_derived_forms_and_cognates_count_through_their_first_letters():
    """"fructifié" and "fructification" have different stems; the English "mycelia" and the French "mycéliums" too:
    the prefixes feature counts them, the terms feature does not."""
    question = "Que fait un mycélium après avoir fructifié ?"
    derived = hit("Après sa « fructification », il ne meurt pas mais continue de végéter.", "fr")
    other = hit("Les champignons vivent dans le sol des forêts tempérées.", "fr", article="a2", rank=2)
    sentences = candidate_sentences([derived, other])
    features = sentence_features(question, sentences, languages=LANGUAGES)
    prefixes, terms = FEATURES.index("prefixes"), FEATURES.index("terms")
    assert features[0, prefixes] > 0 and features[1, prefixes] == 0
    only_fructify = sentence_features("fructifié ?", sentences, languages=LANGUAGES)
    assert only_fructify[0, terms] == 0 and only_fructify[0, prefixes] > 0
    across = candidate_sentences([hit("Les mycéliums sont connectés à différentes plantes.", "fr")])
    mycelia = sentence_features("Where do mycelia grow?", across, languages=LANGUAGES)
    assert mycelia[0, terms] == 0 and mycelia[0, prefixes] > 0
    assert FEATURE_WEIGHTS[prefixes] > 0


def test_a_further_sentence_holding_none_of_the_question_terms_is_not_quoted_apart():
    """"Sales never came close to plan." fills an answer about reimbursement; a sentence in another language cannot
    share the question's words and is still quoted when close in meaning."""
    question = "How are digital therapeutics reimbursed in Germany?"
    best = hit("Insurers in Germany reimburse digital therapeutics listed in the DiGA directory.", article="a1")
    filler = hit("Sales never came close to plan.", article="a2", rank=2)
    french = hit("Le dispositif DiGA permet un remboursement provisoire pendant un an.", "fr", article="a3", rank=3)
    sentences = candidate_sentences([best, filler, french])
    quotes = choose(question, sentences, [0.9, 0.85, 0.8], weights=CLOSENESS_ONLY, limits=Limits(4, 62, 5.0))
    assert [q.text for q in quotes] == [best.text, french.text]
    # Next to a quote, it still joins it: one stretch of the passage, in reading order.
    stretch = hit("Insurers in Germany reimburse digital therapeutics. Sales never came close to plan.", article="a4")
    joined = choose(question, candidate_sentences([stretch]), [0.9, 0.85], weights=CLOSENESS_ONLY, limits=Limits(4, 62, 5.0))
    assert [q.text for q in joined] == [stretch.text]


def test_asked_what_it_cost_a_sentence_with_an_amount_beats_one_with_a_head_count():
    """Both sentences hold a figure; only one of them is money, the sort of figure "how much did … pay" asks for."""
    staff = hit("Valtrane rachète Cardiolink, une PME de Montpellier qui compte 160 salariés.", "fr")
    price = hit("Le montant de l'opération s'élève à 210 millions d'euros.", "fr", article="a2", rank=2)
    sentences = candidate_sentences([staff, price])
    features = sentence_features("How much did Valtrane pay for Cardiolink?", sentences, languages=LANGUAGES)
    measure = FEATURES.index("measure")
    assert list(features[:, measure]) == [-1.0, 1.0]
    assert FEATURE_WEIGHTS[measure] > 0
    assert list(sentence_features("Who bought Cardiolink?", sentences, languages=LANGUAGES)[:, measure]) == [0.0, 0.0]
    assert short("Combien coûte le stylo ?", "Le stylo réduit de 43 % les oublis et coûtera 95 euros.", "fr") == "95 euros"


def test_a_paragraph_break_inside_a_sentence_does_not_split_it():
    """Pages made from PDFs break lines inside sentences: the sentence stays whole (and holds its answer), shown on
    one line; a break after a full stop, or before a capital, still ends a paragraph."""
    text = ("One of the key assumptions of the model is that each\n\nintervention has the same effect on the\n\n"
            "reproduction number across countries.\n\nTrying To Understand What Happened\n\nBy the early 1990s, it was.")
    passage = hit(text)
    sentences = candidate_sentences([passage])
    assert [s.text.split("\n\n")[0] for s in sentences] == [
        "One of the key assumptions of the model is that each", "Trying To Understand What Happened", "By the early 1990s, it was."
    ]
    assert [s.paragraph for s in sentences] == [0, 1, 2]
    whole = sentences[0]
    assert whole.text.endswith("reproduction number across countries.")
    citation = Citation(1, whole.text, whole.start, whole.end, passage.passage, passage.article)
    assert citation.shown == ("One of the key assumptions of the model is that each intervention has the same effect on the "
                              "reproduction number across countries.")


def test_a_further_sentence_nearly_as_good_as_the_best_may_lengthen_the_answer():
    """Two sentences that score alike: the second is quoted even past the usual word budget, up to close_words;
    one that scores clearly lower is not."""
    first = hit("Medicare does not pay for prescription digital therapeutics, because the programme has no benefit "
                "category for software that treats a disease on its own.", article="a1")
    second = hit("In Germany, the DiGA fast-track pathway lets doctors prescribe approved apps and statutory health "
                 "insurers pay for them from the first day of a provisional listing year.", article="a2", rank=2)
    sentences = candidate_sentences([first, second])
    question = "How are digital therapeutics paid for in Germany?"
    words = Limits(words=40, close=0.5, close_words=60)
    close = choose(question, sentences, np.array([0.9, 0.8]), weights=CLOSENESS_ONLY, limits=words)
    assert [q.text for q in close] == [first.text, second.text]
    apart = choose(question, sentences, np.array([0.9, 0.3]), weights=CLOSENESS_ONLY, limits=words)
    assert [q.text for q in apart] == [first.text]
