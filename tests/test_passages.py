from healthqa import Article, Encoder, Settings
from healthqa.build import make_passages
from healthqa.passages import split_passages, split_sentences


def word_count(texts):
    return [len(text.split()) for text in texts]


def article(text: str) -> Article:
    return Article(id="a1", url="", title="T", text=text)


def test_sentences_respect_abbreviations_and_numbers():
    text = "Dr. Martin met M. Dupont at 9.30 in the U.S. office. Revenue rose 3.5% to €12m! Did it work? « Oui. » Fin."
    assert split_sentences(text) == [
        "Dr. Martin met M. Dupont at 9.30 in the U.S. office.",
        "Revenue rose 3.5% to €12m!",
        "Did it work?",
        "« Oui. »",
        "Fin.",
    ]


def test_passages_fit_the_limit_overlap_and_keep_headings():
    sentences = [f"Sentence number {n} has exactly seven words." for n in range(30)]
    text = " ".join(sentences[:20]) + "\n\n## Second part\n\n" + " ".join(sentences[20:])
    passages = split_passages(article(text), word_count, max_tokens=30, overlap_tokens=7)
    assert all(len(p.text.split()) <= 30 for p in passages)
    assert all(p.text == text[p.start : p.end] for p in passages)
    assert [p.position for p in passages] == list(range(len(passages)))
    first, second = passages[0], passages[1]
    assert first.text.split(". ")[-1] in second.text  # one sentence of overlap
    assert passages[0].heading == "" and passages[-1].heading == "Second part"
    assert not any("## " in p.text for p in passages)  # passages never cross a heading


def test_a_sentence_longer_than_the_limit_is_cut_at_words():
    text = " ".join(f"w{n}" for n in range(100)) + "."
    passages = split_passages(article(text), word_count, max_tokens=30, overlap_tokens=0)
    assert all(len(p.text.split()) <= 30 for p in passages)
    assert " ".join(p.text for p in passages) == text


def test_encoder_inputs_never_exceed_the_model_window():
    """A sentence-transformers model cuts what exceeds its window; the default USE has none."""
    encoder = Encoder("all-MiniLM-L6-v2")
    text = "\n\n".join(
        " ".join(f"La société Néphrolia{n} a levé {n} millions d'euros auprès d'investisseurs européens." for _ in range(9))
        for n in range(6)
    )
    long_title = "Un titre d'article particulièrement long " * 12
    passages, inputs = make_passages([Article(id="x", url="", title=long_title, text=text)], encoder, Settings())
    assert len(passages) > 3
    counts = encoder.count_tokens(inputs)
    assert max(counts) + 2 <= encoder.max_tokens  # [CLS] and [SEP] included: nothing is truncated
    assert all(n.passage.text == text[n.passage.start : n.passage.end] for n in passages)
