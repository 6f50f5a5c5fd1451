"""What a question asks for: a person or organisation, a number, a date, a place, or an explanation; and where
in a sentence such a thing stands (the short answer).

Pure functions over text, in French and English: the answer step uses them to prefer sentences that hold what is
asked for, and to point at the name, figure or date inside the chosen one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .passages import sentence_spans
from .terms import fold, named_terms, words

# Kinds of answer a question can ask for; "other" asks for an explanation, a description, a list.
WHO, NUMBER, DATE, PLACE, OTHER = "who", "number", "date", "place", "other"

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        (DATE, r"^\s*(?:since\s+)?when\b|\b(?:what|which|in which|in what)\s+(?:year|date|month|day|decade|century)\b"
               r"|\bquand\b|\b(?:quelle|en quelle|à quelle|a quelle|de quelle)\s+(?:année|annee|date|époque|epoque|période|periode)\b"
               r"|\ben quel (?:mois|siècle|siecle)\b|\bquel (?:jour|mois|siècle|siecle)\b"),
        (NUMBER, r"\bhow\s+(?:many|much|long|old|large|big|far|often)\b"
                 r"|\b(?:what|which)\s+(?:percentage|proportion|share|fraction|number|amount|sum|rate|size|price|cost|range|dose|concentration)\b"
                 r"|\bcombien\b|\b(?:quel|quelle|quels|quelles)\s+(?:est\s+(?:le|la)\s+)?(?:pourcentage|proportion|part|nombre|montant|somme|taux|taille|prix|coût|cout|âge|age|durée|duree|dose)\b"),
        (WHO, r"^\s*(?:who|whom|whose)\b|\b(?:which|what)\s+(?:company|companies|firm|fund|investor|lab|laboratory|organi[sz]ation|person|people|agency|group|start-?up)\b"
              r"|^\s*(?:par|de|à|a|pour|avec)?\s*qui\b"
              r"|\b(?:quel|quelle|quels|quelles)\s+(?:entreprise|entreprises|société|societe|sociétés|fonds|investisseur|laboratoire|laboratoires|personne|organisme|agence|groupe|start-?up)\b"),
        (PLACE, r"^\s*where\b|\b(?:which|what|in which)\s+(?:country|countries|city|cities|region|town)\b"
                r"|^\s*(?:d['’]|par\s+)?où\b|\b(?:quel|quels|quelle|quelles|dans quel|dans quelle)\s+(?:pays|ville|villes|région|region)\b"),
    )
)

_NUMBER_WORDS = frozenset(
    """two three four five six seven eight nine ten eleven twelve dozen dozens hundred hundreds thousand thousands
    million millions billion billions half third quarter twice none zero
    deux trois quatre cinq six sept huit neuf dix onze douze quinze vingt trente quarante cinquante soixante
    cent cents mille million millions milliard milliards moitié moitie tiers quart double aucun aucune
    dizaine dizaines douzaine douzaines quinzaine vingtaine trentaine quarantaine cinquantaine centaine centaines
    millier milliers""".split()
)
_MONTHS = frozenset(
    """january february march april may june july august september october november december
    janvier février fevrier mars avril mai juin juillet août aout septembre octobre novembre décembre decembre""".split()
)
# Capitalised in English, yet never who or where.
_CALENDAR = _MONTHS | frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_DIGIT = re.compile(r"\d")
# A figure as written in news: currency, digits with separators, decimals, words for large units, a percent sign.
_FIGURE = re.compile(
    r"(?<![\w-])(?:[£$€]\s?)?\d[\d\u00a0\u202f ,.]*\d(?:\s?(?:%|pour\s?cent|per\s?cent|percent))?"
    r"(?:\s?(?:millions?|milliards?|billions?|thousand|mille|[mkMK]€|M\$|bn|m)(?!\w))?(?:\s?(?:€|euros?|dollars?|\$|£))?"
    r"|(?<![\w-])(?:[£$€]\s?)?\d(?:\s?(?:%|millions?|milliards?|billions?))?",
)
_DATE_PHRASE = re.compile(
    r"\b(?:\d{1,2}(?:er)?\s+)?(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?:\s+\d{1,2}(?:st|nd|rd|th)?,?)?(?:\s+\d{4})?\b"
    r"|\b(?:1[0-9]{3}|20[0-9]{2})s?\b",
    re.IGNORECASE,
)
# A run of capitalised words (names of people, companies, products, places), with the small words that join them.
# A word of a name ends with a letter or digit: "Ventures." at a sentence's end is "Ventures", "May. It" two words.
_NAME = re.compile(
    r"\b[A-ZÀ-ÖØ-Þ](?:[\w’'&.-]*[\w&])?(?:(?:\s+(?:de|du|des|la|le|of|the|and|&|von|van|der)){0,2}\s+[A-ZÀ-ÖØ-Þ](?:[\w’'&.-]*[\w&])?)*"
)


def question_kind(question: str) -> str:
    """WHO, NUMBER, DATE, PLACE or OTHER: the first pattern that the question matches."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return OTHER


_COUNTED = re.compile(r"\bhow\s+many\s+(?P<en>[\w-]+)|\bcombien\s+(?:de|d['’])\s*(?P<fr>[\w-]+)", re.IGNORECASE)


def counted_noun(question: str) -> str:
    """What a "how many" question counts: "How many patients…" → patients, "Combien de candidatures…" → candidatures."""
    match = _COUNTED.search(question)
    return (match.group("en") or match.group("fr")) if match else ""


def holds_kind(sentence: str, kind: str, question: str = "") -> bool:
    """Whether the sentence holds something of the kind asked for that the question does not already say."""
    return bool(kind_spans(sentence, kind, question))


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


def kind_spans(sentence: str, kind: str, question: str = "") -> list[Span]:
    """Where the sentence holds a name, figure, date or place of the kind asked for, leaving out what the question
    itself names (asked "Who led Kestrel's round?", Kestrel is not an answer)."""
    if kind == OTHER:
        return []
    asked = {fold(word) for word in words(question)}
    if kind == NUMBER:
        found = [Span(m.start(), m.end()) for m in _FIGURE.finditer(sentence)]
        found += [Span(m.start(), m.end()) for m in re.finditer(r"\b\w+\b", sentence) if m.group().lower() in _NUMBER_WORDS]
    elif kind == DATE:
        found = [Span(m.start(), m.end()) for m in _DATE_PHRASE.finditer(sentence)]
    else:
        starts = [span.start for span in sentence_spans(sentence)]  # a quote can hold several sentences
        found = [
            Span(m.start(), m.end()) for m in _NAME.finditer(sentence)
            if (not _opens_sentence(sentence, m.start(), starts) or _is_name_at_start(m.group()))
            and m.group().lower() not in _CALENDAR
        ]
    kept = [
        span for span in found
        if not _only_asked(sentence[span.start : span.end], asked) and sentence[span.start : span.end].lower() not in _FUNCTION_WORDS
    ]
    return sorted(set(kept), key=lambda span: (span.start, -span.end))


# Capitalised words that never name anyone: a sentence the splitter did not see start ("…en série B. Le tour est
# mené par…": "B." reads like an initial) opens on one of them.
_FUNCTION_WORDS = frozenset(
    "le la les l un une des du de au aux ce cet cette ces il elle ils elles on en dans pour par sur selon avec mais et ou "
    "the a an this that these those it its they he she we in on at for by with from to of and or but as after before "
    "according".split()
)
# What follows "by" or "par" up to the next punctuation: the party that did what the sentence says.
_AGENT = re.compile(r"\b(?:by|par)\s+([^,.;:()]{1,100})", re.IGNORECASE)
_LOWER_WORDS = re.compile(r"\s*(?:[a-zà-ÿ’'-]+\s+){0,3}")  # "le fonds européen ", "the "
_CONJUNCTIONS = frozenset("and et with avec or ou alongside".split())


def agent_spans(sentence: str, question: str = "") -> list[Span]:
    """Names that follow "by" or "par", at most three lower-case words after it: who did what the sentence says,
    whatever the language of the question ("led by Harrowgate Ventures", "dirigée par Hélène Marchetti", "mené
    par le fonds européen Meridian Life Ventures"). Of names that lower-case words chain ("led by the Boston
    investor Bluefern Capital"), the last is the party. One that holds a name the question gives comes last: "made
    by Corran Medical and the Vitaflo Gateway" is the thing asked about, not who found its flaws."""
    names = kind_spans(sentence, WHO, question)
    agents = []
    for match in _AGENT.finditer(sentence):
        inside = [span for span in names if match.start(1) <= span.start and span.end <= match.end(1)]
        if not inside or not _LOWER_WORDS.fullmatch(sentence, match.start(1), inside[0].start):
            continue
        head = inside[0]
        for following in inside[1:]:
            gap = sentence[head.end : following.start]
            if not _LOWER_WORDS.fullmatch(gap) or not gap.strip() or _CONJUNCTIONS & set(gap.lower().split()):
                break
            head = following
        agents.append(head)
    asked = {fold(word) for word in named_terms(question)}
    return sorted(dict.fromkeys(agents), key=lambda span: bool(asked & {fold(word) for word in words(sentence[span.start : span.end])}))


# What a figure asked for measures: money, a share, a duration, or a count of things. Asked "How much did Valtrane
# pay?", "210 millions d'euros" answers and "160 salariés" does not, though both are figures.
MONEY, SHARE, DURATION, COUNT = "money", "share", "duration", "count"
_TIME_UNITS = r"(?:days?|weeks?|months?|years?|hours?|minutes?|decades?|jours?|semaines?|mois|ans|années?|annees?|heures?|décennies?)"
_MEASURES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (measure, re.compile(pattern, re.IGNORECASE))
    for measure, pattern in (
        (DURATION, r"\bhow\s+long\b|\bcombien\s+de\s+temps\b|\bdur[ée]e\b|\b(?:how\s+many|combien\s+(?:de|d['’]))\s*" + _TIME_UNITS + r"\b"),
        (MONEY, r"\bcombien\s+(?:d['’]\s*(?:euros|argent)|de\s+(?:dollars|livres))\b"),
        (COUNT, r"\bhow\s+many\b|\bcombien\s+(?:de|d['’])"),
        (SHARE, r"\b(?:percentage|proportion|share|fraction|percent|stake|pourcentage|taux|participation)\b"
                r"|\b(?:quelle|la|une)\s+part\b"
                r"|\bhow\s+much\b.*\b(?:reduc|increas|cut|fell|fall|ris|rose|grow|grew|drop|improv|declin|lower)\w*"
                r"|\bde\s+combien\b"),
        (MONEY, r"\bhow\s+much\b.*\b(?:money|funding|cash|pay|paid|cost|costs|raise|raised|spend|spent|invest\w*|charge\w*|earn\w*|worth|price\w*|sell|sold|sav\w+|fund\w*)\b"
                r"|\b(?:price|cost|amount|budget|fee|sum|revenue|sales|valuation|funding|turnover)\b"
                r"|\bcombien\b.*\b(?:co[uû]t\w*|pa[iy]\w*|investi\w*|lev[ée]\w*|vaut|valait|rapport\w*|d[ée]pens\w*|[ée]conomis\w*|factur\w*|financ\w*)\b"
                r"|\b(?:prix|co[uû]t|montant|budget|somme|chiffre\s+d['’]affaires|valorisation|financement)\b"),
        (COUNT, r"\bnumber\s+of\b|\bnombre\b"),
    )
)
_MONEY_FIGURE = re.compile(r"[£$€¥]|\b(?:euros?|dollars?|pounds?|livres?|francs?|USD|EUR|GBP|CHF|yuans?|yens?)\b", re.IGNORECASE)
_SHARE_FIGURE = re.compile(r"%|\b(?:per\s?cent|percent|pour\s?cent)\b", re.IGNORECASE)
_SHARE_WORDS = re.compile(r"\b(?:half|third|quarter|thirds|quarters|moitié|tiers|quart|quarts)\b", re.IGNORECASE)
_DURATION_AFTER = re.compile(r"^\s*(?:(?:de|of|more|plus|and|et|a|half|demi)\s+){0,3}" + _TIME_UNITS + r"\b", re.IGNORECASE)
# A figure that names rather than counts: "phase 2", "type 1", "version 4.2.7", "class IIb".
_LABEL_BEFORE = re.compile(r"\b(?:phase|type|version|grade|stage|class|classe|série|series|article|no|n°)\.?\s*$", re.IGNORECASE)
_ONE_UNIT = re.compile(
    r"\b(?:un|une|one|a|an|quelques|plusieurs|several|a\s+few)\s+(?:an|ans|année|années|years?|mois|months?|semaines?|weeks?|jours?|days?|heures?|hours?)\b",
    re.IGNORECASE,
)


# Questions that ask for an amount without "how much": "What is the budget of…", "Quel objectif de chiffre d'affaires…"
_ASKS_AMOUNT = re.compile(
    r"^\W*(?:\w+\W+){0,6}?(?:what|which|quel|quelle)\b[^?]*"
    r"\b(?:budget|price|prix|cost|co[uû]t|fee|stake|revenue|chiffre\s+d['’]affaires|montant|valuation|valorisation)\b",
    re.IGNORECASE,
)


# Asked why, the answer gives a cause or a purpose: on COVID-QA's 35 "why" questions, 19 of the 27 sentences
# holding a gold phrase say "because", "due to", "leads to"…, against 282 of the 1,536 other candidates.
_ASKS_REASON = re.compile(r"\b(?:why|pourquoi)\b|\bfor what (?:reason|purpose)\b|\bpour quelle raison\b", re.IGNORECASE)
# Only words that give one: "…, explique Hélène Marchetti" attributes a quote, "ainsi que" adds, "thus far" and
# "the report is due" speak of time, and "car" is French only after a comma (not "CAR-T" nor an English car).
_GIVES_REASON = re.compile(
    r"\b(?:because|due to|owing to|as a result|results? (?:in|from)|resulted (?:in|from)|caus\w*|leads? to|leading to"
    r"|led to|thus(?!\s+far)|therefore|hence|so that|in order to|allows?|allowing|enabl\w*|attributed|reasons?"
    r"|explained by|parce que|parce qu['’]|en raison|grâce|afin|pour que|c['’]est pourquoi|donc|ainsi(?!\s+que)"
    r"|provoqu\w*|entraîn\w*|permet\w*|d[ûu]e?s?\s+(?:à|au|aux)|expliqu\w*\s+par|raisons?)\b"
    r"|,\s*(?-i:car)\b",
    re.IGNORECASE,
)


def asks_reason(question: str) -> bool:
    """Whether the question asks why ("Why is iron critical to bacteria?", "Pourquoi ce besoin…")."""
    return bool(_ASKS_REASON.search(question))


def gives_reason(sentence: str) -> bool:
    """Whether a sentence states a cause or a purpose ("…because they need iron", "afin de…", "…, car…")."""
    return bool(_GIVES_REASON.search(sentence))


def asked_measure(question: str) -> str:
    """MONEY, SHARE, DURATION or COUNT when the question asks for a figure of that sort, else ''."""
    if question_kind(question) != NUMBER and not _ASKS_AMOUNT.search(question):
        return ""
    for measure, pattern in _MEASURES:
        if pattern.search(question):
            return measure
    return ""


def measure_spans(sentence: str, measure: str) -> list[Span]:
    """Where the sentence holds a figure of that sort: an amount in a currency, a percentage or a fraction, a
    figure of days to years, or (for a count) a figure that is none of these, nor a year, a day of the month or a
    label ("phase 2")."""
    if not measure:
        return []
    found = []
    if measure == SHARE:
        found += [Span(m.start(), m.end()) for m in _SHARE_WORDS.finditer(sentence)]
    if measure == DURATION:
        found += [Span(m.start(), m.end()) for m in _ONE_UNIT.finditer(sentence)]
    dates = kind_spans(sentence, DATE)
    for span in kind_spans(sentence, NUMBER):
        if any(date.start <= span.start and span.end <= date.end for date in dates):
            continue  # "le 11 mai 2023" counts nothing
        money = bool(_MONEY_FIGURE.search(sentence[max(0, span.start - 3) : span.end + 22]))
        share = bool(_SHARE_FIGURE.search(sentence[span.start : span.end + 10]) or _SHARE_WORDS.fullmatch(sentence[span.start : span.end]))
        duration = bool(_DURATION_AFTER.match(sentence[span.end :]))
        if (
            (measure == MONEY and money) or (measure == SHARE and share) or (measure == DURATION and duration)
            or (measure == COUNT and not (money or share or duration or _YEAR.fullmatch(sentence[span.start : span.end].strip())
                                          or _LABEL_BEFORE.search(sentence[max(0, span.start - 12) : span.start])))
        ):
            found.append(span)
    return sorted(
        {span for span in found if not any(o != span and o.start <= span.start and span.end <= o.end for o in found)},
        key=lambda span: span.start,
    )  # "210 millions", not also "millions"


def _only_asked(text: str, asked: set[str]) -> bool:
    folded = [fold(word) for word in words(text)]
    return bool(folded) and all(word in asked for word in folded)


def _opens_sentence(text: str, position: int, starts: list[int]) -> bool:
    return position == 0 or any(start <= position and not text[start:position].strip(" «“\"'‘(\u00a0") for start in starts)


def _is_name_at_start(text: str) -> bool:
    """A sentence's first word is capitalised anyway: it counts as a name only when more capitals follow."""
    return len(text.split()) > 1 or sum(ch.isupper() for ch in text) > 1


_DEFINITION = re.compile(
    r"^\s*(?:what\s+(?:is|are|does)|what's|qu['’]est[- ]ce\s+qu(?:e|['’])|que\s+(?:signifie|veut\s+dire|désigne|designe)"
    r"|qu['’]appelle[- ]t[- ]on|c['’]est\s+quoi)\s+(?:the\s+|an?\s+|l['’]|les?\s+|la\s+|une?\s+|des\s+|acronym\s+|term\s+)*"
    r"[\"«“]?\s*(?P<term>[^?\"»”]{2,60}?)\s*[\"»”]?\s*(?:stand\s+for|mean)?\s*\??\s*$",
    re.IGNORECASE,
)


def defined_term(question: str) -> str:
    """The term a definition question asks about ("What is IFITM?" → IFITM), else ''."""
    match = _DEFINITION.match(question)
    return match.group("term").strip() if match else ""


def defines(sentence: str, term: str) -> bool:
    """Whether the sentence reads like a definition of the term: "X is…", "X, a…", "… (X)", "X est…"."""
    escaped = re.escape(term)
    pattern = rf"\b{escaped}\b\s*(?:\(|,\s*(?:a|an|the|un|une|le|la)\b|(?:is|are|refers to|means|est|sont|désigne|signifie)\b)|\({escaped}\)"
    return re.search(pattern, sentence, re.IGNORECASE) is not None
