"""Keeping the index current: cost in proportion to what changed, from files and from URLs (a real local HTTP
server), with the real default encoder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from healthqa import Index, Settings, SourceError, add, build, remove
from healthqa.fetch import FetchLimits
from healthqa.index import MANIFEST

from conftest import CORPUS
from http_site import STORIES, serve_site

SITE = CORPUS / "medtechledger"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of one site's pages that tests may change."""
    copy = tmp_path / "pages"
    shutil.copytree(SITE, copy)
    return copy


@pytest.fixture
def built(folder: Path, settings: Settings, encoder) -> Settings:
    build([folder], settings=settings, encoder=encoder)
    return settings


def generation(settings: Settings) -> str:
    return json.loads((settings.index_dir / MANIFEST).read_text())["generation"]


def search_urls(settings: Settings, encoder, query: str, k: int = 10) -> list[str]:
    with Index.open(settings.index_dir, settings=settings, encoder=encoder) as index:
        return [hit.article.url for hit in index.search(query, k)]


def test_nothing_changed_embeds_nothing_and_keeps_the_generation(built: Settings, folder: Path, encoder):
    before = generation(built)
    report = build([folder], settings=built, encoder=encoder)
    assert report.unchanged and report.embedded == 0 and report.added == report.replaced == report.removed == 0
    assert generation(built) == before


def test_changing_one_article_reembeds_only_its_passages(built: Settings, folder: Path, encoder):
    page = folder / "2022-06-kestrel-biosensing-series-b.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</article>", "<p>Kestrel also opened a Lisbon office "
                    "staffed by twelve engineers working on the wearable patch firmware.</p></article>"), encoding="utf-8")
    report = build([folder], settings=built, encoder=encoder)
    assert report.replaced == 1 and report.added == 0 and report.removed == 0 and report.articles == 11
    with Index.open(built.index_dir, settings=built, encoder=encoder) as index:
        kestrel = index.store.find_article("https://www.medtechledger.com/funding/2022/06/kestrel-biosensing-series-b")
        own = [h for h in index.search("Lisbon office wearable patch firmware engineers", 20) if h.article.id == kestrel.id]
    assert "Lisbon office" in own[0].text
    # Only passages whose text changed are embedded: at least the last one, never all of the article's.
    assert 1 <= report.embedded < report.passages / 11 * 3


def test_deleting_a_file_removes_its_passages(built: Settings, folder: Path, encoder):
    url = "https://www.medtechledger.com/funding/2022/06/kestrel-biosensing-series-b"
    assert url in search_urls(built, encoder, "Kestrel Bio-Sensing Series B round")
    (folder / "2022-06-kestrel-biosensing-series-b.html").unlink()
    report = build([folder], settings=built, encoder=encoder)
    assert report.removed == 1 and report.articles == 10 and report.embedded == 0
    assert url not in search_urls(built, encoder, "Kestrel Bio-Sensing Series B round")


def test_add_and_remove_articles(built: Settings, encoder, tmp_path: Path):
    page = CORPUS / "pharmapulse" / "2022-03-kvistgaard-chief-digital-officer.html"
    report = add([page], settings=built, encoder=encoder)
    assert report.added == 1 and report.articles == 12 and report.embedded > 0
    again = add([page], settings=built, encoder=encoder)
    assert again.unchanged and again.embedded == 0

    url = "https://www.pharmapulsedaily.com/strategy/2022/03/kvistgaard-appoints-first-chief-digital-officer"
    assert url in search_urls(built, encoder, "Kvistgaard chief digital officer")
    removed = remove([url], settings=built)
    assert removed.removed == 1 and removed.articles == 11
    assert url not in search_urls(built, encoder, "Kvistgaard chief digital officer")
    with pytest.raises(SourceError, match="no such article"):
        remove(["https://example.org/never-indexed"], settings=built)

    # The cache outlives the article: adding it back embeds nothing.
    back = add([page], settings=built, encoder=encoder)
    assert back.added == 1 and back.embedded == 0


def test_a_fresh_rebuild_reuses_the_embedding_cache(built: Settings, folder: Path, encoder):
    report = build([folder], settings=built, encoder=encoder, fresh=True)
    assert report.articles == 11 and report.embedded == 0 and not report.unchanged


def test_other_sources_survive_a_folder_sync(built: Settings, folder: Path, encoder):
    add([CORPUS / "pharmapulse" / "2022-03-kvistgaard-chief-digital-officer.html"], settings=built, encoder=encoder)
    (folder / "2022-06-kestrel-biosensing-series-b.html").unlink()
    report = build([folder], settings=built, encoder=encoder)
    assert report.removed == 1 and report.articles == 11  # 10 left in the folder, and the added one


def test_add_from_a_local_site_feed_sitemap_and_pages(built: Settings, encoder):
    with serve_site() as site:
        limits = FetchLimits(allow_private=True, timeout=2, retries=0)
        report = add([site.url("/feed.xml")], settings=built, encoder=encoder, limits=limits)
        stories = {story.path for story in STORIES}
        assert report.added == len(stories) and report.articles == 11 + len(stories)
        assert all(site.hits(path) == 1 for path in stories)

        # The sitemap lists the same pages: downloaded again, unchanged, nothing to do.
        again = add([site.url("/sitemap.xml")], settings=built, encoder=encoder, limits=limits)
        assert again.unchanged and again.embedded == 0

        bad = add([site.url("/missing-page"), site.url("/image.png"), site.url("/redirect/private"), "file:///etc/passwd"],
                  settings=built, encoder=encoder, limits=FetchLimits(allowed_hosts=(f"127.0.0.1:{site.port}",), timeout=2, retries=0))
        reasons = " | ".join(s.reason for s in bad.skipped)
        assert "HTTP 404" in reasons and "not an HTML or XML document" in reasons
        assert "refused: 10.0.0.1 is a private address" in reasons and "unsupported URL scheme 'file'" in reasons
        assert bad.articles == 11 + len(stories)
    found = search_urls(built, encoder, STORIES[0].title, k=3)
    assert any(url.endswith(STORIES[0].path) for url in found)


def test_a_huge_file_is_refused_unread_and_the_rest_is_built(folder: Path, settings: Settings, encoder):
    (folder / "huge.html").write_bytes(b"<html><body>" + b"<p>word</p>" * 600_000 + b"</body></html>")
    report = build([folder], settings=settings, encoder=encoder)
    assert report.articles == 11
    assert any(s.source.endswith("huge.html") and s.reason.startswith("too large") for s in report.skipped)


def test_a_moved_file_keeps_its_article(built: Settings, folder: Path, encoder):
    (folder / "2022-06-kestrel-biosensing-series-b.html").rename(folder / "renamed.html")
    report = build([folder], settings=built, encoder=encoder)
    assert report.articles == 11 and report.embedded == 0
    url = "https://www.medtechledger.com/funding/2022/06/kestrel-biosensing-series-b"
    assert url in search_urls(built, encoder, "Kestrel Bio-Sensing Series B round")


def test_a_changed_page_and_a_new_copy_with_its_url_are_stored_once(built: Settings, folder: Path, encoder):
    page = folder / "2022-06-kestrel-biosensing-series-b.html"
    changed = page.read_text(encoding="utf-8").replace("</article>", "<p>An added closing paragraph about the "
                                                       "company's hiring plans for the coming year.</p></article>")
    page.write_text(changed, encoding="utf-8")
    (folder / "zz-copy.html").write_text(changed.replace("<title>", "<title>Copy "), encoding="utf-8")
    report = build([folder], settings=built, encoder=encoder)
    assert report.articles == 11 and report.replaced == 1
    assert any(s.source.endswith("zz-copy.html") and s.reason.endswith("(same URL)") for s in report.skipped)


def test_adding_to_an_index_built_with_other_settings_is_refused(built: Settings, encoder):
    from healthqa import HealthQAError

    other = built.with_(passage_tokens=120, overlap_tokens=20)
    with pytest.raises(HealthQAError, match="build --fresh"):
        add([CORPUS / "pharmapulse" / "2022-03-kvistgaard-chief-digital-officer.html"], settings=other, encoder=encoder)
    with Index.open(built.index_dir, settings=built, encoder=encoder) as index:
        assert index.manifest.articles == 11
