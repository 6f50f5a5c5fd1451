"""fetch.py and discover.py against a real HTTP server on 127.0.0.1 (tests/http_site.py): no mocks, no internet."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from healthqa import Settings
from healthqa.errors import ConfigError, SourceError
from healthqa.extract import extract_html
from healthqa.discover import Discovery, discover, iter_documents
from healthqa.fetch import FetchLimits, Fetched, fetch

from http_site import STORIES, Site, article_html, gzip_bomb, serve_site

HINT = "allow_private_urls (environment HEALTHQA_ALLOW_PRIVATE_URLS=1)"
ARTICLE = STORIES[0].path


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


@pytest.fixture(scope="module")
def local() -> FetchLimits:
    """The test server is on loopback, so the private-address guard is off; retries wait little."""
    return FetchLimits(allow_private=True, timeout=3, backoff=0.01)


@pytest.fixture(scope="module")
def guarded(site: Site) -> FetchLimits:
    """The guard on, with only the test server exempt: redirects elsewhere must still be checked."""
    return FetchLimits(allowed_hosts=(f"127.0.0.1:{site.port}",), timeout=3, backoff=0.01)


def reason_of(url: str, limits: FetchLimits) -> str:
    with pytest.raises(SourceError) as caught:
        fetch(url, limits)
    assert caught.value.source == url
    return caught.value.reason


def paths(site: Site, urls: tuple[str, ...]) -> list[str]:
    return [url.removeprefix(site.base_url) for url in urls]


# --- the test site itself ---------------------------------------------------------------------------------------


def test_stories_are_long_enough_to_be_articles() -> None:
    assert {story.lang for story in STORIES} == {"en", "fr"}
    assert all(story.words >= 200 for story in STORIES)


# --- fetch: what works ------------------------------------------------------------------------------------------


def test_fetches_an_article_with_a_polite_request(site: Site, local: FetchLimits) -> None:
    fetched = fetch(site.url(ARTICLE), local)
    assert (fetched.status, fetched.content_type, fetched.charset) == (200, "text/html", "utf-8")
    assert fetched.url == fetched.final_url == site.url(ARTICLE)
    assert fetched.body == article_html(STORIES[0]).encode("utf-8")
    path, headers = next((p, h) for p, h in reversed(site.requests) if p == ARTICLE)
    assert headers["user-agent"].startswith("healthqa/") and "news QA assistant" in headers["user-agent"]
    assert headers["host"] == f"127.0.0.1:{site.port}"
    assert "gzip" in headers["accept-encoding"]


def test_fetched_pages_feed_the_extractor(site: Site, local: FetchLimits) -> None:
    for story in STORIES:
        fetched = fetch(site.url(story.path), local)
        article = extract_html(fetched.text(), source=fetched.url, settings=Settings(), url=fetched.final_url)
        assert (article.title, article.language, article.date) == (story.title, story.lang, story.date)
        assert story.paragraphs[1][:60] in article.text


@pytest.mark.parametrize("path, target", [("/redirect/301", STORIES[0].path), ("/redirect/302", STORIES[1].path)])
def test_follows_redirects(site: Site, local: FetchLimits, path: str, target: str) -> None:
    fetched = fetch(site.url(path), local)
    assert fetched.url == site.url(path)
    assert fetched.final_url == site.url(target)
    assert fetched.status == 200


def test_redirect_chain_up_to_the_limit_is_followed(site: Site, local: FetchLimits) -> None:
    assert fetch(site.url("/redirect/chain/5"), local).final_url == site.url(ARTICLE)


@pytest.mark.parametrize(
    "path, story",
    [("/gzip/article.html", 2), ("/gzip/two-members.html", 0), ("/deflate/article.html", 1), ("/deflate/raw.html", 2)],
)
def test_compressed_pages_are_decompressed(site: Site, local: FetchLimits, path: str, story: int) -> None:
    fetched = fetch(site.url(path), local)
    assert fetched.body == article_html(STORIES[story]).encode("utf-8")


def test_the_size_limit_counts_decompressed_bytes_exactly(site: Site) -> None:
    size = len(article_html(STORIES[2]).encode("utf-8"))
    assert len(fetch(site.url("/gzip/article.html"), FetchLimits(allow_private=True, max_bytes=size)).body) == size
    too_small = FetchLimits(allow_private=True, max_bytes=size - 1)
    assert reason_of(site.url("/gzip/article.html"), too_small).startswith("too large")


@pytest.mark.parametrize("variant", ["no-header", "wrong-header", "header-only"])
def test_pages_with_a_missing_or_wrong_charset_decode(site: Site, local: FetchLimits, variant: str) -> None:
    fetched = fetch(site.url(f"/charset/{variant}"), local)
    text = fetched.text()
    assert "Pénuries de médicaments" in text and "main-d&#x27;œuvre" in text and "façonniers" in text


def test_a_page_without_content_type_is_accepted_by_its_markup(site: Site, local: FetchLimits) -> None:
    fetched = fetch(site.url("/no-type"), local)
    assert fetched.content_type == "" and fetched.body.startswith(b"<!DOCTYPE html>")


# --- fetch: what fails, and why ------------------------------------------------------------------------------------


def test_too_many_redirects(site: Site, local: FetchLimits) -> None:
    assert "too many redirects (more than 5" in reason_of(site.url("/redirect/chain/6"), local)
    strict = FetchLimits(allow_private=True, max_redirects=1)
    assert "too many redirects (more than 1" in reason_of(site.url("/redirect/chain/2"), strict)


def test_redirect_loop(site: Site, local: FetchLimits) -> None:
    assert reason_of(site.url("/redirect/loop"), local).startswith("redirect loop")


def test_redirect_to_a_private_address_is_refused_before_connecting(site: Site, guarded: FetchLimits) -> None:
    started = time.monotonic()
    reason = reason_of(site.url("/redirect/private"), guarded)
    assert reason.startswith("redirected to http://10.0.0.1/: refused: 10.0.0.1 is a private address")
    assert HINT in reason
    assert time.monotonic() - started < 1  # no connection attempt, which would wait for the 3 s timeout


def test_redirect_to_the_cloud_metadata_address_is_refused(site: Site, guarded: FetchLimits) -> None:
    reason = reason_of(site.url("/redirect/metadata"), guarded)
    assert "169.254.169.254 is a link-local address" in reason and HINT in reason


def test_redirect_to_another_local_port_never_connects(site: Site, guarded: FetchLimits) -> None:
    """The guard is re-applied at each hop: the listener must see no connection at all."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        other = f"http://127.0.0.1:{listener.getsockname()[1]}/admin"
        reason = reason_of(site.url(f"/redirect/to?location={other}"), guarded)
        assert reason.startswith(f"redirected to {other}: refused: 127.0.0.1 is a loopback address")
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_redirect_to_a_file_url_is_refused_even_with_private_addresses_allowed(site: Site, local: FetchLimits) -> None:
    reason = reason_of(site.url("/redirect/file"), local)
    assert reason == (
        "redirected to file:///etc/passwd: "
        "unsupported URL scheme 'file': only http:// and https:// addresses are fetched"
    )


def test_http_errors_name_the_status_and_are_not_retried(site: Site, local: FetchLimits) -> None:
    assert reason_of(site.url("/missing/page.html"), local) == "HTTP 404 Not Found"
    assert reason_of(site.url("/broken"), local) == "HTTP 500 Internal Server Error"
    assert site.hits("/missing/page.html") == 1 and site.hits("/broken") == 1


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_statuses_are_retried(site: Site, local: FetchLimits, status: int) -> None:
    path = f"/flaky/{status}/recovers"
    fetched = fetch(site.url(f"{path}?fails=2"), local)
    assert fetched.status == 200 and b"Biosimilar" in fetched.body
    assert site.hits(path) == 3


def test_retries_stop_after_the_limit(site: Site, local: FetchLimits) -> None:
    path = "/flaky/503/stays-down"
    assert reason_of(site.url(f"{path}?fails=99"), local) == "HTTP 503 Service Unavailable (after 3 attempts)"
    assert site.hits(path) == 3


def test_timeout(site: Site) -> None:
    started = time.monotonic()
    reason = reason_of(site.url("/slow"), FetchLimits(allow_private=True, timeout=0.5, retries=0))
    assert reason == f"timed out: 127.0.0.1:{site.port} sent nothing for 0.5 s"
    assert time.monotonic() - started < 2


def test_timeouts_are_retried(site: Site) -> None:
    limits = FetchLimits(allow_private=True, timeout=0.3, retries=1, backoff=0.01)
    assert reason_of(site.url("/slow/retried"), limits).endswith("sent nothing for 0.3 s (after 2 attempts)")
    assert site.hits("/slow/retried") == 2


def test_a_trickling_server_meets_the_deadline(site: Site) -> None:
    limits = FetchLimits(allow_private=True, timeout=2, deadline=0.5, retries=0)
    started = time.monotonic()
    assert "took longer than 0.5 s (deadline)" in reason_of(site.url("/drip"), limits)
    assert time.monotonic() - started < 1.5


def test_connection_refused(local: FetchLimits) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed on leaving: nothing listens there
    reason = reason_of(f"http://127.0.0.1:{port}/", local)
    assert reason == f"connection refused by 127.0.0.1:{port}: is the site up? (after 3 attempts)"


def test_dns_failure(local: FetchLimits) -> None:
    reason = reason_of("http://no-such-host.invalid/news", local)
    assert reason.startswith("cannot resolve host name 'no-such-host.invalid' (DNS: ")


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_too_large(site: Site, path: str) -> None:
    limits = FetchLimits(allow_private=True, max_bytes=100_000)
    assert reason_of(site.url(path), limits) == (
        "too large: the page exceeds the limit of 100,000 bytes (max_bytes, after decompression)"
    )


@pytest.mark.parametrize("max_bytes", [1_000_000, 5_000_000])
def test_gzip_bomb_is_stopped_without_inflating_it(site: Site, max_bytes: int) -> None:
    """10 MB of zeros in about 10 KB: the memory used stays near the limit, far from the 10 MB."""
    assert len(gzip_bomb()) < 20_000
    limits = FetchLimits(allow_private=True, max_bytes=max_bytes)
    tracemalloc.start()
    try:
        reason = reason_of(site.url("/bomb"), limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason == f"too large: the page exceeds the limit of {max_bytes:,} bytes (max_bytes, after decompression)"
    assert peak < 1.5 * max_bytes, f"{peak:,} bytes allocated for a 10 MB bomb"


@pytest.mark.parametrize("path, media", [("/image.png", "image/png"), ("/report.pdf", "application/pdf")])
def test_documents_that_are_not_html_or_xml(site: Site, local: FetchLimits, path: str, media: str) -> None:
    assert reason_of(site.url(path), local) == f"not an HTML or XML document (content type {media})"


# --- https -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for the name localhost only (no IP address in it)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    command += ["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=DNS:localhost"]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


def test_https_checks_the_certificate_against_the_host_name(certificate: tuple[str, str]) -> None:
    """The socket goes to the address checked by the guard, while TLS still names and verifies the host."""
    cert, _ = certificate
    with serve_site(tls=certificate) as secure:
        by_name = f"https://localhost:{secure.port}{ARTICLE}"
        trusted = FetchLimits(allow_private=True, ca_certs=cert, retries=0)
        fetched = fetch(by_name, trusted)
        assert (fetched.status, fetched.final_url) == (200, by_name)
        assert secure.requests[-1][1]["host"] == f"localhost:{secure.port}"

        by_address = f"https://127.0.0.1:{secure.port}{ARTICLE}"
        assert reason_of(by_address, trusted) == (
            f"TLS error with 127.0.0.1:{secure.port}: its certificate was rejected "
            "(IP address mismatch, certificate is not valid for '127.0.0.1')"
        )
        untrusted = reason_of(by_name, FetchLimits(allow_private=True, retries=0))
        assert untrusted == (
            f"TLS error with localhost:{secure.port} (127.0.0.1): "
            "its certificate was rejected (self-signed certificate)"
        )
        assert len(secure.requests) == 1


# --- the private-address guard ------------------------------------------------------------------------------------


def guarded_urls(port: int) -> list[tuple[str, str]]:
    return [
        (f"http://127.0.0.1:{port}{ARTICLE}", "127.0.0.1 is a loopback address"),
        (f"http://localhost:{port}/", "localhost resolves to 127.0.0.1, a loopback address"),
        ("http://localhost/", "localhost resolves to 127.0.0.1, a loopback address"),
        (f"http://[::1]:{port}/", "::1 is a loopback address"),
        (f"http://[::ffff:127.0.0.1]:{port}/", "::ffff:127.0.0.1 is a loopback address"),
        (f"http://2130706433:{port}/", "2130706433 resolves to 127.0.0.1, a loopback address"),
        (f"http://0.0.0.0:{port}/", "0.0.0.0 is an unspecified address"),
        ("http://10.1.2.3/", "10.1.2.3 is a private address"),
        ("http://192.168.1.1/router", "192.168.1.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://[fd12:3456::1]/", "fd12:3456::1 is a private address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ]


def test_private_and_local_addresses_are_refused_and_never_contacted(site: Site) -> None:
    limits = FetchLimits()
    before = len(site.requests)
    for url, explanation in guarded_urls(site.port):
        reason = reason_of(url, limits)
        assert reason == f"refused: {explanation} (private and local addresses are blocked; to allow them set {HINT})"
    assert len(site.requests) == before


@pytest.mark.parametrize(
    "url, scheme",
    [
        ("file:///etc/passwd", "file"),
        ("ftp://127.0.0.1/pub/news.html", "ftp"),
        ("data:text/html,<h1>news</h1>", "data"),
        ("javascript:alert(1)", "javascript"),
        ("gopher://127.0.0.1:70/", "gopher"),
    ],
)
def test_other_schemes_are_refused_even_when_private_addresses_are_allowed(url: str, scheme: str) -> None:
    for limits in (FetchLimits(), FetchLimits(allow_private=True)):
        expected = f"unsupported URL scheme '{scheme}': only http:// and https:// addresses are fetched"
        assert reason_of(url, limits) == expected


def test_a_url_without_scheme_is_explained() -> None:
    assert reason_of("healthwire.example/news", FetchLimits()).startswith("not an absolute URL")


def test_allowed_hosts_exempt_one_host_only(site: Site, guarded: FetchLimits) -> None:
    assert fetch(site.url(ARTICLE), guarded).status == 200
    assert "loopback" in reason_of(f"http://localhost:{site.port}{ARTICLE}", guarded)


def test_limits_are_checked() -> None:
    with pytest.raises(ConfigError):
        FetchLimits(timeout=0)
    with pytest.raises(ConfigError):
        FetchLimits(max_bytes=0)
    with pytest.raises(ConfigError):
        FetchLimits(retries=-1)


# --- discover -----------------------------------------------------------------------------------------------


ALL = [story.path for story in STORIES]


def test_an_article_is_its_own_page_and_is_downloaded_once(site: Site, local: FetchLimits) -> None:
    url = site.url(STORIES[1].path)
    found = discover(url, local)
    assert (found.kind, found.pages) == ("article", (url,))
    assert isinstance(found.fetched[url], Fetched)
    before = site.hits(STORIES[1].path)
    results = list(iter_documents([url], local))
    assert [(page, type(result)) for page, result in results] == [(url, Fetched)]
    assert site.hits(STORIES[1].path) == before + 1


@pytest.mark.parametrize(
    "path, kind", [("/feed.xml", "RSS feed"), ("/atom.xml", "Atom feed"), ("/sitemap.xml", "sitemap")]
)
def test_feeds_and_sitemaps_list_their_pages(site: Site, local: FetchLimits, path: str, kind: str) -> None:
    found = discover(site.url(path), local)
    # RSS: a relative link resolved, a duplicate dropped; Atom: the self, home and enclosure links left out.
    assert (found.kind, paths(site, found.pages), found.fetched) == (kind, ALL, {})


def test_sitemap_index_follows_children_and_reports_the_dead_one(site: Site, local: FetchLimits) -> None:
    found = discover(site.url("/sitemap-index.xml"), local)
    assert found.kind == "sitemap index"
    assert sorted(paths(site, found.pages)) == sorted(ALL)
    assert [(p.source, p.reason) for p in found.problems] == [(site.url("/sitemaps/gone.xml"), "HTTP 404 Not Found")]


def test_child_sitemaps_are_bounded(site: Site, local: FetchLimits) -> None:
    found = discover(site.url("/sitemaps/wide-index.xml"), local, max_sitemaps=5)
    assert len(found.pages) == 5
    assert sum(site.hits(f"/sitemaps/child-{i}.xml") for i in range(30)) == 5


def test_looping_sitemap_indexes_end(site: Site, local: FetchLimits) -> None:
    with pytest.raises(SourceError, match="nothing to index: the sitemap index lists no pages"):
        discover(site.url("/sitemaps/loop-a.xml"), local)
    assert site.hits("/sitemaps/loop-a.xml") == 1 and site.hits("/sitemaps/loop-b.xml") == 1


def test_pages_are_capped_and_unique(site: Site, local: FetchLimits) -> None:
    found = discover(site.url("/sitemaps/large.xml"), local, max_pages=10)
    assert paths(site, found.pages) == [f"/generated/page-{i}.html" for i in range(10)]
    assert len(discover(site.url("/sitemaps/large.xml"), local).pages) == 30


def test_home_page_leads_to_its_feeds(site: Site, local: FetchLimits) -> None:
    found = discover(site.url("/"), local)
    assert (found.kind, paths(site, found.pages)) == ("home page", ALL)
    assert site.url("/feed.xml") in found.followed and site.url("/atom.xml") in found.followed
    assert found.fetched == {}


def test_home_page_without_feeds_uses_the_sitemap(site: Site, local: FetchLimits) -> None:
    found = discover(site.url("/plain-home/"), local)
    assert (found.kind, paths(site, found.pages)) == ("home page", ALL)
    assert found.followed[-1] == site.url("/sitemap.xml")


def test_a_page_leading_nowhere_is_left_to_the_extractor(local: FetchLimits) -> None:
    with serve_site(with_sitemap=False) as bare:
        url = bare.url("/plain-home/")
        found = discover(url, local)
        assert (found.kind, found.pages, list(found.fetched)) == ("page", (url,), [url])
        assert bare.hits("/sitemap.xml") == 1


def test_feeds_are_parsed_without_entities_or_network(site: Site, local: FetchLimits) -> None:
    found = discover(site.url("/feeds/xxe.xml"), local)
    assert paths(site, found.pages) == [ARTICLE]
    assert site.hits("/xxe-probe") == 0


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/feeds/empty.xml", "nothing to index: the RSS feed lists no pages"),
        ("/other.xml", "an XML document that is neither a feed nor a sitemap (root <note>)"),
        ("/image.png", "not an HTML or XML document (content type image/png)"),
        ("/missing.xml", "HTTP 404 Not Found"),
    ],
)
def test_sources_that_lead_nowhere(site: Site, local: FetchLimits, path: str, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        discover(site.url(path), local)
    assert (caught.value.source, caught.value.reason) == (site.url(path), reason)


def test_discovery_is_a_plain_record(site: Site, local: FetchLimits) -> None:
    found = discover(site.url("/feed.xml"), local)
    assert isinstance(found, Discovery) and found.followed == (site.url("/feed.xml"),) and found.problems == ()


# --- iter_documents -------------------------------------------------------------------------------------------


def test_dead_sources_and_pages_do_not_stop_the_others(site: Site, local: FetchLimits) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    limits = FetchLimits(allow_private=True, retries=0)
    sources = [site.url("/feeds/mixed.xml"), site.url("/gone/source"), closed, site.url(ARTICLE), site.url("/atom.xml")]
    results = list(iter_documents(sources, limits))
    outcome = {
        url.removeprefix(site.base_url): (result.reason if isinstance(result, SourceError) else result.status)
        for url, result in results
    }
    assert outcome == {
        **{path: 200 for path in ALL},
        "/articles/withdrawn.html": "HTTP 404 Not Found",
        "/image.png": "not an HTML or XML document (content type image/png)",
        "/gone/source": "HTTP 404 Not Found",
        closed: f"connection refused by {closed[7:-1]}: is the site up?",
    }
    assert len(results) == len(outcome)  # each page once, though the article and the Atom feed repeat them


def test_the_page_limit_holds_across_sources(site: Site, local: FetchLimits) -> None:
    results = list(iter_documents([site.url("/sitemaps/large.xml"), site.url("/feed.xml")], local, max_pages=4))
    assert [url.removeprefix(site.base_url) for url, _ in results] == [
        "/generated/page-0.html",
        "/generated/page-1.html",
        "/generated/page-2.html",
        "/generated/page-3.html",
        "/feed.xml",
    ]
    assert results[-1][1].reason == "not read: the limit of 4 pages (max_pages) was reached"  # type: ignore[union-attr]
