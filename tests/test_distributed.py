"""The build's stages on real Ray clusters on this machine: a local one, and two nodes (ray.cluster_utils)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="the 'scale' extra is not installed: pip install '.[scale]'")

from conftest import CORPUS  # noqa: E402
from healthqa import Encoder, Index, Settings, add, build  # noqa: E402
from healthqa.errors import SourceError  # noqa: E402
from healthqa.extract import iter_html_files, read_page  # noqa: E402
from healthqa.stages import article_passages, extract_page  # noqa: E402

SETTINGS = Settings()


def _pages(files: list[Path]) -> list[tuple[str, object]]:
    return [(str(path.resolve()), (lambda path=path: read_page(path, SETTINGS.max_page_bytes))) for path in files]


def _check_same_as_local(runner, encoder: Encoder, files: list[Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "gone.html"
    pages = [*_pages(files), (str(missing), lambda: read_page(missing, SETTINGS.max_page_bytes)),
             ("https://example.org/x", SourceError("https://example.org/x", "HTTP 404"))]
    unchanged_source, unchanged_page = pages[0]
    known = {unchanged_source: extract_page(unchanged_source, unchanged_page, SETTINGS).page_hash}

    results = runner.extract(pages, SETTINGS, known)
    local = [extract_page(source, page, SETTINGS, known.get(source)) for source, page in pages]
    assert results == local  # same articles, same skip reasons, in order
    assert results[0].unchanged and results[-1].unreadable and results[-2].unreadable
    assert any(r.reason for r in results[:-2]) and sum(1 for r in results if r.article) >= 3

    articles = [r.article for r in results if r.article]
    split = runner.split(articles, SETTINGS)
    assert split == [article_passages(article, encoder, SETTINGS) for article in articles]
    # The extractor actors split what they extracted; an article they did not see as it is now (a new title) is
    # split on the splitter actors, in its place in the order.
    retitled = replace(articles[0], title=articles[0].title + " (updated)")
    assert runner.split([articles[1], retitled], SETTINGS) == [article_passages(a, encoder, SETTINGS) for a in (articles[1], retitled)]

    # Vectors: those that streamed from extraction to the encoder actors, the retitled article's (never seen)
    # from the encoder pool; all as the local encoder gives them.
    inputs = [text for passages in [*split, article_passages(retitled, encoder, SETTINGS)] for _, text in passages]
    vectors = runner.encode(inputs, SETTINGS, encoder.dimension)
    assert vectors.shape == (len(inputs), encoder.dimension)
    assert np.allclose(vectors, encoder.encode(inputs), atol=1e-5)
    assert runner.encode([], SETTINGS, encoder.dimension).shape == (0, encoder.dimension)


def test_the_encoders_after_extraction_skip_cached_inputs(encoder: Encoder) -> None:
    """The stage that follows extraction, called as Ray calls it: each page's new passages get vectors, and an
    input the embedding cache holds (a page read again) is not encoded."""
    import pickle

    from healthqa.cache import input_hash
    from healthqa.distributed import _EncodeNewStage

    results = [extract_page(source, page, SETTINGS) for source, page in _pages(sorted(iter_html_files([CORPUS / "medtechledger"]))[:2])]
    pieces = [article_passages(r.article, encoder, SETTINGS) for r in results]
    assert len(pieces[0]) >= 2 and pieces[1]
    cached = [frozenset({input_hash(pieces[0][0][1])}), frozenset()]  # the first page's first passage is cached
    batch = {"n": [0, 1], "result": [pickle.dumps((r, p)) for r, p in zip(results, pieces)], "cached": [pickle.dumps(c) for c in cached]}
    found = [pickle.loads(blob) for blob in _EncodeNewStage(SETTINGS)(batch)["vectors"]]
    expected = [[input_hash(text) for _, text in page] for page in pieces]
    assert list(found[0]) == expected[0][1:] and list(found[1]) == expected[1]
    texts = [text for _, text in pieces[1]]
    assert np.allclose(np.vstack([found[1][input_hash(t)] for t in texts]), encoder.encode(texts), atol=1e-5)


def _contents(index_dir: Path) -> dict[str, list]:
    """What an index holds, read from its store; vectors from its segments."""
    manifest = json.loads((index_dir / "manifest.json").read_text())
    with sqlite3.connect(index_dir / manifest["store_file"]) as db:
        contents = {table: db.execute(query).fetchall() for table, query in (
            ("articles", "SELECT id, url, title, text, site, author, date, language, source, also_at FROM articles ORDER BY id"),
            ("passages", 'SELECT id, article_id, position, heading, start, "end", text, terms, input_hash FROM passages ORDER BY id'),
            ("skipped", "SELECT source, reason FROM skipped ORDER BY source"))}
    index = Index.open(index_dir, settings=Settings(index_dir=index_dir))
    try:
        contents["vectors"] = index.engine.vectors([row[0] for row in contents["passages"]])
    finally:
        index.close()
    return contents


def test_stages_on_a_local_cluster_give_what_a_local_build_gives(encoder: Encoder, tmp_path: Path) -> None:
    from healthqa.distributed import RayRunner

    files = list(iter_html_files([CORPUS / "santenumerique", CORPUS / "medtechledger"]))
    with RayRunner(num_cpus=2) as runner:
        assert runner.nodes() == 1
        _check_same_as_local(runner, encoder, files, tmp_path)
        # The whole build: `build --ray` (joining the cluster already running) against a local build.
        local, on_ray = Settings(index_dir=tmp_path / "local"), Settings(index_dir=tmp_path / "ray", ray="local")
        sources = [CORPUS / "santenumerique", CORPUS / "medtechledger"]
        build(sources, settings=local, encoder=encoder)
        report = build(sources, settings=on_ray, encoder=encoder)
        expected, found = _contents(local.index_dir), _contents(on_ray.index_dir)
        for table in ("articles", "passages", "skipped"):
            assert found[table] == expected[table], table
        assert np.allclose(found["vectors"], expected["vectors"], atol=1e-5)
        # The embedding cache and the incremental rules hold: unchanged pages are not read again, and only
        # passages never seen are sent to the encoders.
        added = add([CORPUS / "echolabos"], settings=on_ray, encoder=encoder)
        assert added.added == 11 and 0 < added.embedded <= added.passages - report.passages
        again = add([CORPUS / "echolabos"], settings=on_ray, encoder=encoder)
        assert again.unchanged and again.embedded == 0


def test_stages_on_a_two_node_cluster(encoder: Encoder, tmp_path: Path) -> None:
    from ray.cluster_utils import Cluster

    from healthqa.distributed import RayRunner

    # Two nodes on this machine, two logical CPUs each: one for an actor of the running stage, one for Ray Data's
    # read tasks (with one CPU a node, the actors would take them all and the read stage would stall).
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        files = list(iter_html_files([CORPUS / "echolabos"]))
        with RayRunner(address=cluster.address) as runner:
            assert runner.nodes() == 2 and runner.pool_size == 2
            _check_same_as_local(runner, encoder, files, tmp_path)
    finally:
        cluster.shutdown()


def test_an_unreachable_ray_cluster_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from healthqa.cli import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there
    assert main(["build", str(CORPUS / "santenumerique"), "--index", str(tmp_path / "index"), "--ray", address, "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and address in err and "Ray" in err
