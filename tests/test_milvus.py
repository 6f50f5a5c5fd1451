"""The Milvus engine against the real Milvus core (Milvus Lite, a file in a temporary folder)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the 'scale' extra is not installed: pip install '.[scale]'")

from healthqa.backends import Entry  # noqa: E402
from healthqa.backends.milvus import MilvusEngine, MilvusUnavailable, analyser  # noqa: E402
from healthqa.records import Filters  # noqa: E402

DIMENSION = 8


def _vector(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


PASSAGES = [
    (1, "fr", "sante.fr", "2024-03-01", "L'hôpital de Lyon a testé les nouveaux vaccins contre la grippe chez les enfants."),
    (2, "fr", "sante.fr", "2021-06-10", "Les essais cliniques décentralisés réduisent les déplacements des patients."),
    (3, "en", "pharma.com", "2023-11-20", "The vaccine trial enrolled 312 patients across twelve hospitals in Europe."),
    (4, "en", "pharma.com", "", "Regulators approved the first digital therapeutic for insomnia."),
    (5, "en", "other.org", "2020-01-01", "Telemonitoring of heart failure patients cut readmissions by a third."),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> MilvusEngine:
    uri = str(tmp_path_factory.mktemp("milvus") / "milvus.db")
    engine = MilvusEngine.create(uri, "passages_test", dimension=DIMENSION, languages=("en", "fr"))
    engine.upsert([Entry(i, _vector(i), text, language, site, date, segment=1) for i, language, site, date, text in PASSAGES])
    engine.publish(1)
    yield engine
    engine.close()


def _ids(scored: list[tuple[int, float]]) -> list[int]:
    return [i for i, _ in scored]


def test_french_analyser_stems_folds_accents_and_drops_elisions(engine: MilvusEngine) -> None:
    # "hopitaux" (no accent, plural) reaches "L'hôpital"; "vaccin" reaches "vaccins" in French and "vaccine" in English.
    assert _ids(engine.search_lexical("hopitaux", 5)) == [1]
    assert set(_ids(engine.search_lexical("vaccin", 5))) == {1, 3}
    assert _ids(engine.search_lexical("essai clinique", 5))[0] == 2
    # Stop words and elided particles alone match nothing.
    assert engine.search_lexical("l' les de la", 5) == []
    assert engine.search_lexical("   ", 5) == []


def test_english_analyser_stems(engine: MilvusEngine) -> None:
    assert _ids(engine.search_lexical("approving therapeutics", 5)) == [4]
    assert _ids(engine.search_lexical("What readmission rates?", 5)) == [5]


def test_analyser_parameters_name_milvus_filters() -> None:
    french = analyser("fr", ("en", "fr"))
    assert french["tokenizer"] == "standard"
    assert {"type": "stemmer", "language": "french"} in french["filter"] and "asciifolding" in french["filter"]
    stop = next(f for f in french["filter"] if isinstance(f, dict) and f["type"] == "stop")["stop_words"]
    assert {"les", "the", "quel", "qu"} <= set(stop)  # both languages' lists: a question loses both
    assert not any(isinstance(f, dict) and f["type"] == "stemmer" for f in analyser("fi")["filter"])  # folding only


def test_dense_search_ranks_by_inner_product(engine: MilvusEngine) -> None:
    found = engine.search_dense(_vector(3), 3)
    assert found[0][0] == 3 and found[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert np.allclose(engine.vectors([5, 3]), np.vstack([_vector(5), _vector(3)]), atol=1e-6)


def test_filters_on_site_language_and_dates(engine: MilvusEngine) -> None:
    everything = _vector(0)
    assert set(_ids(engine.search_dense(everything, 10, Filters(sites=("pharma.com",))))) == {3, 4}
    assert set(_ids(engine.search_dense(everything, 10, Filters(languages=("fr",))))) == {1, 2}
    assert set(_ids(engine.search_dense(everything, 10, Filters(date_from="2023-01-01")))) == {1, 3}
    # An undated article is outside any range with an end.
    assert set(_ids(engine.search_dense(everything, 10, Filters(date_to="2022-12-31")))) == {2, 5}
    assert _ids(engine.search_lexical("patients", 10, Filters(sites=("other.org",)))) == [5]
    assert engine.search_dense(everything, 10, Filters(sites=('we"ird\\site',))) == []  # quoted, not parsed


def test_unpublished_segment_is_invisible_then_discarded(tmp_path: Path) -> None:
    engine = MilvusEngine.create(str(tmp_path / "m.db"), "segments", dimension=DIMENSION, languages=("en",))
    try:
        engine.upsert([Entry(1, _vector(1), "first trial results", "en", "a.com", "", 1)])
        engine.publish(1)
        engine.upsert([Entry(2, _vector(2), "second trial results", "en", "a.com", "", 2)])  # an update not yet published
        assert _ids(engine.search_lexical("trial", 5)) == [1] and engine.count() == 1
        assert 2 not in _ids(engine.search_dense(_vector(2), 5))
        assert engine.discard_unpublished() == 1  # what the next update does first when this one never published
        engine.upsert([Entry(3, _vector(3), "third trial results", "en", "a.com", "", 2)])
        engine.publish(2)
        assert sorted(_ids(engine.search_lexical("trial", 5))) == [1, 3] and engine.count() == 2
        engine.upsert([Entry(3, _vector(4), "replaced text about devices", "en", "a.com", "", 2)])
        assert _ids(engine.search_lexical("devices", 5)) == [3] and _ids(engine.search_lexical("third", 5)) == []
        engine.delete([1])
        assert _ids(engine.search_lexical("trial", 5)) == [] and engine.count() == 1
    finally:
        engine.close()


def test_reopened_collection_keeps_its_languages_and_rows(tmp_path: Path) -> None:
    uri = str(tmp_path / "m.db")
    engine = MilvusEngine.create(uri, "kept", dimension=DIMENSION, languages=("en", "fr"), index_type="IVF_FLAT")
    engine.upsert([Entry(7, _vector(7), "Les soignants adoptent la télésurveillance.", "fr", "a.fr", "", 1)])
    engine.publish(1)
    engine.close()
    reopened = MilvusEngine.open(uri, "kept", published=1)
    try:
        assert reopened.languages == ("en", "fr") and reopened.index_type == "IVF_FLAT"
        assert _ids(reopened.search_lexical("telesurveillance", 3)) == [7]
    finally:
        reopened.close()


def test_unreachable_server_is_one_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # a port nothing listens on
    with pytest.raises(MilvusUnavailable, match=f"http://127.0.0.1:{port}"):
        MilvusEngine.open(f"http://127.0.0.1:{port}", "passages", published=0)


def test_lite_file_used_by_another_process_is_named(engine: MilvusEngine) -> None:
    script = (
        "from healthqa.backends.milvus import MilvusEngine, MilvusUnavailable\n"
        f"try:\n    MilvusEngine.open({engine.uri!r}, 'passages_test', published=1)\n"
        "except MilvusUnavailable as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert engine.uri in result.stdout and "one process at a time" in result.stdout
