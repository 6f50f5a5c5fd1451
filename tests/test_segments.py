"""Segmented updates (real HTML, real model): results equal a build from scratch after adds, changes and removals,
before and after a merge; kill -9 during an update or a merge; readers during a merge; the background merge."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from healthqa import Index, Settings, add, build, remove
from healthqa.index import MANIFEST, LiveIndex
from healthqa.merge import merge
from healthqa.segments import MERGE_SMALL_SEGMENTS, merge_plan, remove_unused, writer_temporary
from healthqa.store import SegmentRecord

from conftest import CORPUS, ROOT

QUESTIONS = [json.loads(line)["question"] for line in (CORPUS / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
SITES = sorted(path for path in CORPUS.iterdir() if path.is_dir())


def _manifest(settings: Settings) -> dict:
    return json.loads((settings.index_dir / MANIFEST).read_text())


def _top10(settings: Settings, encoder, mode: str = "hybrid") -> list[list[tuple[str, int, int, float]]]:
    with Index.open(settings.index_dir, settings=settings, encoder=encoder) as index:
        return [[(h.article.url, h.passage.start, h.passage.end, h.score) for h in index.search(q, 10, retrieval=mode)]
                for q in QUESTIONS]


def _same_results(got: list, expected: list) -> bool:
    """The same passages at the same places, but that passages of equal score (within float error) may swap: the two
    indexes number passages differently, and a tie keeps the order of the ids."""
    for hits, wanted in zip(got, expected, strict=True):
        if len(hits) != len(wanted) or {h[:3] for h in hits} != {w[:3] for w in wanted}:
            return False
        if any(h[:3] != w[:3] and abs(h[3] - w[3]) > 1e-5 for h, w in zip(hits, wanted)):
            return False
    return True


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """Copies of two sites' pages, which the tests change."""
    folder = tmp_path / "pages"
    for site in SITES[:2]:
        shutil.copytree(site, folder / site.name)
    return folder


@pytest.fixture
def updated(pages: Path, tmp_path: Path, encoder) -> tuple[Settings, list[Path]]:
    """An index built from two sites, then: one add per page of a third site, a changed page, two removals.
    Returns its settings and the sources a build from scratch needs to hold the same articles."""
    settings = Settings(index_dir=tmp_path / "segmented", auto_merge=False)
    build([pages], settings=settings, encoder=encoder)
    third = sorted(SITES[2].glob("*.html"))
    for page in third:
        add([page], settings=settings, encoder=encoder)
    changed = sorted((pages / SITES[0].name).glob("*.html"))[0]
    changed.write_text(changed.read_text(encoding="utf-8").replace("</article>", "<p>The company also opened a Lisbon "
                       "office staffed by twelve engineers working on remote patient monitoring.</p></article>"), encoding="utf-8")
    assert build([pages], settings=settings, encoder=encoder).replaced == 1
    gone = sorted((pages / SITES[1].name).glob("*.html"))[:2]
    remove([str(path.resolve()) for path in gone], settings=settings)
    for path in gone:
        path.unlink()
    return settings, [pages, SITES[2]]


def test_updates_give_the_results_of_a_build_from_scratch(updated, tmp_path: Path, encoder):
    settings, sources = updated
    manifest = _manifest(settings)
    assert len(manifest["segments"]) > 3 and manifest["removed"] > 0  # really segmented, with tombstones
    scratch = Settings(index_dir=tmp_path / "scratch", auto_merge=False)
    build(sources, settings=scratch, encoder=encoder)
    assert _manifest(scratch)["passages"] == manifest["passages"]
    for mode in ("hybrid", "lexical", "dense"):
        assert _same_results(_top10(settings, encoder, mode), _top10(scratch, encoder, mode)), mode

    expected = _top10(scratch, encoder)
    report = merge(settings)  # few removed passages: the small segments join the base, tombstones stay
    assert report.kind == "full" and report.published and not report.rebuilt
    merged = _manifest(settings)
    assert len(merged["segments"]) == 1 and merged["removed"] == manifest["removed"] and merged["passages"] == manifest["passages"]
    assert _same_results(_top10(settings, encoder), expected)

    report = merge(settings, rebuild=True)
    assert report.rebuilt and report.dropped == manifest["removed"]
    rebuilt = _manifest(settings)
    assert len(rebuilt["segments"]) == 1 and rebuilt["removed"] == 0 and rebuilt["passages"] == manifest["passages"]
    assert _same_results(_top10(settings, encoder), expected)


def test_the_store_is_updated_in_place(updated, encoder):
    settings, _ = updated
    before = _manifest(settings)["store_file"]
    add([sorted(SITES[3].glob("*.html"))[0]], settings=settings, encoder=encoder)
    assert _manifest(settings)["store_file"] == before


def _run_killed(command: list[str], delay: float) -> None:
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "HEALTHQA_AUTO_MERGE": "0"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_during_an_update_the_index_still_answers(updated, encoder, seed: int):
    """SIGKILL `healthqa add` of a whole site at a random moment: the index holds either the articles before or
    all of them, answers, and the next update cleans up and succeeds."""
    settings, _ = updated
    before = _manifest(settings)["articles"]
    delay = random.Random(seed).uniform(1.0, 6.0)
    _run_killed([sys.executable, "-m", "healthqa", "add", str(SITES[3]), "--quiet", "--index", str(settings.index_dir)], delay)
    with Index.open(settings.index_dir, settings=settings, encoder=encoder) as index:
        killed = index.manifest.articles
        assert index.search("connected insulin pen", k=1)
    report = add([SITES[3]], settings=settings, encoder=encoder)
    assert report.articles > before
    assert killed in (before, report.articles), f"killed after {delay:.1f} s: {killed} articles, not {before} or {report.articles}"
    leftovers = [p.name for p in settings.index_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers
    referenced = set(_manifest(settings)["segments"])
    on_disk = {p.name for p in settings.index_dir.iterdir() if p.name.startswith("segment-")}
    assert referenced <= on_disk


@pytest.mark.parametrize("seed", [1, 2])
def test_killed_during_a_merge_the_index_still_answers(updated, encoder, seed: int):
    settings, _ = updated
    expected = _top10(settings, encoder)
    generation = _manifest(settings)["generation"]
    delay = random.Random(seed).uniform(0.8, 3.0)
    _run_killed([sys.executable, "-m", "healthqa", "merge", "--quiet", "--index", str(settings.index_dir)], delay)
    assert _same_results(_top10(settings, encoder), expected), f"killed after {delay:.1f} s (generation {generation})"
    report = merge(settings)  # finishes the work, or finds it done (the killed merge had published)
    assert (report.published or report.kind == "") and len(_manifest(settings)["segments"]) == 1
    assert _same_results(_top10(settings, encoder), expected)
    add([sorted(SITES[3].glob("*.html"))[0]], settings=settings, encoder=encoder)  # an update cleans up the rest
    leftovers = [p.name for p in settings.index_dir.iterdir() if p.name.startswith(".merge-") or p.name.endswith(".tmp")]
    assert leftovers == [], leftovers


def test_readers_keep_answering_during_a_merge_and_then_follow_it(updated, encoder):
    settings, _ = updated
    live = LiveIndex(Index.open(settings.index_dir, settings=settings, encoder=encoder))
    expected = [[h.passage.start for h in live.current().search(q, 10)] for q in QUESTIONS[:10]]
    answered, errors, done = [], [], threading.Event()

    def ask() -> None:
        while not done.is_set():
            for number, question in enumerate(QUESTIONS[:10]):
                try:
                    hits = live.current().search(question, 10)
                    answered.append([h.passage.start for h in hits] == expected[number])
                except Exception as exc:  # noqa: BLE001 - any failure of a reader is what this test looks for
                    errors.append(repr(exc))

    reader = threading.Thread(target=ask)
    reader.start()
    try:
        report = merge(settings)
    finally:
        done.set()
        reader.join()
    assert report.published and not errors, errors[:3]
    assert len(answered) >= 10 and all(answered)
    assert len(live.current().manifest.segments) == 1  # the reader moved to the merged generation


def test_an_update_starts_the_merge_in_the_background(pages: Path, tmp_path: Path, encoder):
    settings = Settings(index_dir=tmp_path / "auto")  # auto_merge on, as by default
    first = build([pages / SITES[0].name], settings=settings, encoder=encoder).articles
    articles = [page for page in sorted(SITES[2].glob("*.html")) if not page.name.startswith("page-")]
    for page in articles[: MERGE_SMALL_SEGMENTS + 1]:
        assert add([page], settings=settings, encoder=encoder).added == 1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_manifest(settings)["segments"]) > 2:
        time.sleep(0.5)
    assert len(_manifest(settings)["segments"]) == 2  # the base and the small segments folded into one
    with Index.open(settings.index_dir, settings=settings, encoder=encoder) as index:
        assert index.manifest.articles == first + MERGE_SMALL_SEGMENTS + 1


def test_merge_policy():
    def record(number: int, passages: int) -> SegmentRecord:
        return SegmentRecord(str(number), number * 100_000, number * 100_000 + passages, passages, "flat", {})

    base = record(0, 90_000)
    assert merge_plan([base], 0) == ""
    assert merge_plan([base] + [record(n, 50) for n in range(1, MERGE_SMALL_SEGMENTS + 1)], 0) == ""
    assert merge_plan([base] + [record(n, 50) for n in range(1, MERGE_SMALL_SEGMENTS + 2)], 0) == "small"
    assert merge_plan([base, record(1, 4_000)], 0) == "full"
    assert merge_plan([base], 9_000) == "full"


def test_a_killed_writers_temporary_file_is_swept_and_a_live_writers_kept(tmp_path: Path):
    """A manifest write killed between writing and renaming leaves `.manifest.json.<pid>.tmp`; the next update's
    sweep removes it once that process is gone, never a file another live process is still writing."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = tmp_path / f".{MANIFEST}.{dead.pid}.tmp"
    leftover.write_text("{")
    being_written = writer_temporary(tmp_path, MANIFEST)
    being_written.write_text("{")
    remove_unused(tmp_path, keep=())
    assert not leftover.exists()
    assert being_written.exists() and being_written.name == f".{MANIFEST}.{os.getpid()}.tmp"
