"""Building, opening and damaging real indexes (real HTML, real model)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from healthqa import Index, IndexCorrupt, IndexMismatch, IndexMissing, Settings, SourceError, build
from healthqa.index import FORMAT_VERSION, MANIFEST

from conftest import CORPUS, ROOT

SMALL = [CORPUS / "medtechledger"]


@pytest.fixture
def small_index(settings: Settings, encoder) -> Settings:
    build(SMALL, settings=settings, encoder=encoder)
    return settings


def test_round_trip(small_index: Settings, encoder):
    with Index.open(small_index.index_dir, settings=small_index, encoder=encoder) as index:
        hits = index.search("remote monitoring of heart failure patients", k=3)
        assert [h.rank for h in hits] == [1, 2, 3]
        assert hits[0].article.site == "MedTech Ledger"
        assert "telemonitoring" in hits[0].article.title.lower()
        assert hits[0].score >= hits[1].score >= hits[2].score
        assert hits[0].text == hits[0].article.text[hits[0].passage.start : hits[0].passage.end]
        stats = index.stats()
    assert stats["articles"] == 11
    assert {s["reason"].split(":")[0] for s in stats["skipped"]} == {"cookie or consent wall", "no main text found"}


def test_manifest_records_what_was_built(small_index: Settings):
    manifest = json.loads((small_index.index_dir / MANIFEST).read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"] == "use-multilingual-v3"
    assert manifest["dimension"] == 512
    assert manifest["articles"] == 11 and manifest["passages"] > 11
    assert len(manifest["corpus_fingerprint"]) == 64
    assert manifest["built_at"]
    files = {p.name for p in small_index.index_dir.iterdir()}
    assert {manifest["store_file"], *manifest["segments"]} <= files and len(manifest["segments"]) == 1
    assert manifest["removed"] == 0
    assert not any(name.endswith(".pkl") or name.endswith(".pickle") for name in files)


def test_if_stale_keeps_an_up_to_date_index(small_index: Settings, encoder):
    before = (small_index.index_dir / MANIFEST).read_text()
    report = build(SMALL, settings=small_index, encoder=encoder, if_stale=True)
    assert report.unchanged
    assert (small_index.index_dir / MANIFEST).read_text() == before


def test_duplicates_are_indexed_once(tmp_path: Path, settings: Settings, encoder):
    source = CORPUS / "medtechledger" / "2022-06-kestrel-biosensing-series-b.html"
    html = source.read_text(encoding="utf-8")
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "a.html").write_text(html, encoding="utf-8")
    (tmp_path / "pages" / "b-same-url.html").write_text(html.replace("<title>", "<title>Copy "), encoding="utf-8")
    # The same story syndicated on another site: another URL and site name, a changed first line.
    syndicated = html.replace("kestrel-biosensing-series-b", "kestrel-copy").replace("MedTech Ledger", "Wire Health")
    syndicated = syndicated.replace("<p>", "<p>(Syndicated) ", 1)
    (tmp_path / "pages" / "c-syndicated.html").write_text(syndicated, encoding="utf-8")
    report = build([tmp_path / "pages"], settings=settings, encoder=encoder)
    assert report.articles == 1 and report.also_published == 1
    reasons = sorted(s.reason for s in report.skipped)
    assert reasons[0].startswith("duplicate of") and reasons[0].endswith("(same URL)")
    assert reasons[1].startswith("same story as article") and "kestrel-copy" in reasons[1]
    with Index.open(settings.index_dir, settings=settings, encoder=encoder) as index:
        article = index.store.find_article("https://www.medtechledger.com/funding/2022/06/kestrel-copy")
        assert article is not None and article.url.endswith("kestrel-biosensing-series-b")
        assert article.also_at == ("https://www.medtechledger.com/funding/2022/06/kestrel-copy",)
        assert index.search("Kestrel Bio-Sensing Series B", 5)[0].article.also_at == article.also_at


def test_a_build_without_articles_keeps_the_index(small_index: Settings, encoder, tmp_path: Path):
    generation = json.loads((small_index.index_dir / MANIFEST).read_text())["generation"]
    report = build([CORPUS / "medtechledger" / "page-empty.html"], settings=small_index, encoder=encoder)
    assert report.articles == 11 and report.unchanged  # the other articles are not this build's business
    with pytest.raises(SourceError, match="no article found"):
        build([CORPUS / "medtechledger" / "page-empty.html"], settings=small_index, encoder=encoder, fresh=True)
    assert json.loads((small_index.index_dir / MANIFEST).read_text())["generation"] == generation


def test_missing_index(tmp_path: Path, encoder):
    with pytest.raises(IndexMissing, match="healthqa build"):
        Index.open(tmp_path / "nowhere", encoder=encoder)


def test_other_model_or_format(small_index: Settings, encoder):
    path = small_index.index_dir / MANIFEST
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "model": "some-other-model"}))
    with pytest.raises(IndexMismatch, match="some-other-model"):
        Index.open(small_index.index_dir, encoder=encoder)
    path.write_text(json.dumps({**data, "format_version": 99}))
    with pytest.raises(IndexMismatch, match="format version"):
        Index.open(small_index.index_dir, encoder=encoder)
    path.write_text("{ not json")
    with pytest.raises(IndexCorrupt, match="rebuild"):
        Index.open(small_index.index_dir, encoder=encoder)


def _segment_file(settings: Settings, relative: str) -> Path:
    manifest = json.loads((settings.index_dir / MANIFEST).read_text())
    return settings.index_dir / manifest["segments"][0] / relative


def test_damaged_vectors(small_index: Settings, encoder):
    target = _segment_file(small_index, "vectors.faiss")
    size = target.stat().st_size
    target.write_bytes(b"\x00garbage" * (size // 8) + b"\x00" * (size % 8))  # same size, wrong bytes
    with pytest.raises(IndexCorrupt, match="damaged"):
        Index.open(small_index.index_dir, encoder=encoder)
    target.write_bytes(b"short")
    with pytest.raises(IndexCorrupt, match="size"):
        Index.open(small_index.index_dir, encoder=encoder)


def test_damaged_store(small_index: Settings, encoder):
    manifest = json.loads((small_index.index_dir / MANIFEST).read_text())
    target = small_index.index_dir / manifest["store_file"]
    size = target.stat().st_size
    target.write_bytes(b"\x00garbage" * (size // 8) + b"\x00" * (size % 8))
    with pytest.raises(IndexCorrupt, match="damaged"):
        Index.open(small_index.index_dir, encoder=encoder)
    target.unlink()
    with pytest.raises(IndexCorrupt, match="lacks its file"):
        Index.open(small_index.index_dir, encoder=encoder)


def test_damaged_lexical_index(small_index: Settings, encoder):
    target = _segment_file(small_index, "lexical/rows.npy")
    target.write_bytes(b"\x00" * target.stat().st_size)  # same size, not a numpy file any more
    with pytest.raises(IndexCorrupt, match="lexical index .* is damaged"):
        Index.open(small_index.index_dir, encoder=encoder)


def test_an_index_of_the_previous_format_asks_for_a_rebuild_and_build_migrates_it(small_index: Settings, encoder):
    path = small_index.index_dir / MANIFEST
    data = json.loads(path.read_text())
    old = {**data, "format_version": 3, "vectors_file": "vectors-old.faiss", "lexical_dir": "lexical-old"}
    path.write_text(json.dumps(old))
    (small_index.index_dir / "vectors-old.faiss").write_bytes(b"old")
    with pytest.raises(IndexMismatch, match="rebuild it with `healthqa build"):
        Index.open(small_index.index_dir, encoder=encoder)
    report = build(SMALL, settings=small_index, encoder=encoder)
    assert report.articles == 11 and report.embedded == 0  # rebuilt from scratch, through the cache
    with Index.open(small_index.index_dir, encoder=encoder) as index:
        assert index.manifest.format_version == FORMAT_VERSION
    build(SMALL, settings=small_index, encoder=encoder, fresh=True)  # the next generation drops the old files
    assert not (small_index.index_dir / "vectors-old.faiss").exists()


def test_a_sentence_transformers_model_by_name(tmp_path: Path):
    """The bundled all-MiniLM-L6-v2 stays selectable: its own dimension, tokenizer and a working search."""
    from healthqa import Encoder

    settings = Settings(index_dir=tmp_path / "minilm", model="all-MiniLM-L6-v2")
    encoder = Encoder(settings.model)
    build(SMALL, settings=settings, encoder=encoder)
    with Index.open(settings.index_dir, settings=settings, encoder=encoder) as index:
        assert index.manifest.model == "all-MiniLM-L6-v2" and index.engine.dimension == 384
        hits = index.search("connected insulin pen price", 3)
        assert hits and all(0 < hit.similarity <= 1 for hit in hits)
    with pytest.raises(IndexMismatch, match="all-MiniLM-L6-v2"):
        Index.open(settings.index_dir)  # the default model is configured, not the one it was built with


def test_killed_build_leaves_the_previous_index_serving(small_index: Settings, encoder):
    """SIGKILL a real `healthqa build` of the whole corpus while it embeds; the old index still opens and answers."""
    before = (small_index.index_dir / MANIFEST).read_text()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "healthqa", "build", str(CORPUS), "--index", str(small_index.index_dir)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    progress = ""
    while time.monotonic() < deadline and "Embedding" not in progress:
        progress += process.stderr.read(64) or ""
        if process.poll() is not None:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert "Embedding" in progress, "the build never reached the embedding stage"
    assert (small_index.index_dir / MANIFEST).read_text() == before
    with Index.open(small_index.index_dir, encoder=encoder) as index:
        assert index.search("connected insulin pen", k=1)[0].article.site == "MedTech Ledger"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_killed_at_a_random_point_the_index_still_answers(small_index: Settings, encoder, seed: int):
    """SIGKILL `healthqa build --fresh` of the whole corpus at a random moment (from start-up to publishing):
    afterwards the index in place is either the previous one or the complete new one, and it answers; the next
    build cleans up what the killed one left and succeeds."""
    import random

    delay = random.Random(seed).uniform(0.3, 8.0)
    before = json.loads((small_index.index_dir / MANIFEST).read_text())["generation"]
    process = subprocess.Popen(
        [sys.executable, "-m", "healthqa", "build", str(CORPUS), "--fresh", "--quiet", "--index", str(small_index.index_dir)],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Index.open(small_index.index_dir, encoder=encoder) as index:
        expected = 11 if index.manifest.generation == before else 44
        assert index.manifest.articles == expected, f"killed after {delay:.1f} s"
        assert index.search("connected insulin pen", k=1)[0].article.site == "MedTech Ledger"
    report = build([CORPUS], settings=small_index, encoder=encoder)
    assert report.articles == 44
    leftovers = [p.name for p in small_index.index_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers


def test_a_server_following_updates_closes_the_indexes_it_replaced(small_index: Settings, encoder):
    from healthqa.index import LiveIndex

    first = Index.open(small_index.index_dir, settings=small_index, encoder=encoder)
    live = LiveIndex(first, grace_seconds=0.0)
    build(SMALL + [CORPUS / "santenumerique"], settings=small_index, encoder=encoder)
    second = live.current()
    assert second is not first and second.search("télésurveillance", k=1)
    with pytest.raises(Exception, match="closed"):  # the replaced generation's store is closed
        first.store.stats()
    kept = LiveIndex(second)  # by default the old index stays open a while for questions still running on it
    build(SMALL, settings=small_index, encoder=encoder)
    assert kept.current() is not second and second.search("heart failure", k=1)
    second.close()


def test_the_store_gives_the_cache_keys_of_a_source_s_passages(small_index: Settings):
    """What a Ray build's encoders skip for a page read again: the embedding-cache keys of its article's passages."""
    import sqlite3

    manifest = json.loads((small_index.index_dir / MANIFEST).read_text())
    with sqlite3.connect(small_index.index_dir / manifest["store_file"]) as db:
        expected: dict[str, set[str]] = {}
        for source, key in db.execute("SELECT a.source, p.input_hash FROM passages p JOIN articles a ON a.id = p.article_id"):
            expected.setdefault(source, set()).add(key)
    with Index.open(small_index.index_dir, settings=small_index) as index:
        sources = sorted(expected)[:3]
        assert index.store.input_hashes([*sources, "/nowhere.html"]) == {source: expected[source] for source in sources}


def test_bm25_reads_each_passage_with_its_article_s_title(tmp_path: Path, encoder):
    """A passage deep in an article rarely names what the article is about: the title's words find it too."""
    from conftest import page

    paragraphs = "".join(
        f"<p>Paragraph {n} of the report describes how hospital pharmacists checked infusion pumps, logged every "
        f"alarm and compared the readings with the manufacturer's tolerance tables during week {n} of the audit.</p>"
        for n in range(1, 13)
    )
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "recall.html").write_text(page(paragraphs, title="Quintaval recall widens"), encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", passage_tokens=80, overlap_tokens=10, per_article=100)
    build([tmp_path / "pages"], settings=settings, encoder=encoder)
    with Index.open(settings.index_dir, settings=settings, encoder=encoder) as index:
        passages = index.stats()["passages"]
        hits = index.search("Quintaval", k=passages, retrieval="lexical")
    assert passages >= 3
    assert len(hits) == passages
    assert sum("Quintaval" in hit.text for hit in hits) <= 1  # the others hold it only through their title
