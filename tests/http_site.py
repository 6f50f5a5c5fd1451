"""A small news site served on 127.0.0.1 for tests that need HTTP without the internet: articles, feeds,
sitemaps, redirects and the ways a real site goes wrong. Every request is logged so tests can prove which
URLs were (not) contacted.

    with serve_site() as site:
        fetch(site.url("/articles/ai-triage-pilot.html"), FetchLimits(allow_private=True))
        site.hits("/articles/ai-triage-pilot.html")  # → 1
"""

from __future__ import annotations

import functools
import ssl
import sys
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Story:
    slug: str
    lang: str
    title: str
    date: str
    author: str
    section: str
    paragraphs: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/articles/{self.slug}.html"

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


STORIES = (
    Story(
        slug="ai-triage-pilot",
        lang="en",
        title="Northvale Health Partners pilots AI triage in three emergency departments",
        date="2024-03-12",
        author="Maya Okafor",
        section="Digital health",
        paragraphs=(
            "Northvale Health Partners, a regional network of eleven hospitals, has started a twelve-month pilot of "
            "software that helps nurses sort patients arriving at its emergency departments. The tool reads the "
            "reason for the visit, vital signs and a short list of symptoms, then proposes a priority level that the "
            "triage nurse can accept or change. The network says the final decision always stays with clinical "
            "staff, and every override is logged so that the suggestions can be audited later.",
            "The pilot runs in three departments that together see about 190,000 visits a year. Waiting times there "
            "have grown steadily since 2021, and managers hope that faster, more consistent triage will shorten the "
            "time before a first medical assessment, especially for patients with chest pain or signs of sepsis. An "
            "independent team from a university public-health school will compare outcomes with three similar "
            "departments that keep their current process.",
            "Regulators are watching closely. Because the software influences clinical priorities, it is classified "
            "as a medical device and needed a conformity assessment before deployment. The vendor published a "
            "summary of its validation study, which reports good sensitivity for the most urgent categories but "
            "weaker results for children, who are therefore excluded from the first phase.",
            "Nursing unions welcomed the transparency but asked for protected training time and for guarantees that "
            "the tool will not be used to cut staffing. Northvale's chief nursing officer said the aim is to free "
            "experienced nurses for the most complex cases, not to replace them, and promised to publish the results "
            "every quarter.",
        ),
    ),
    Story(
        slug="biosimilar-tenders",
        lang="en",
        title="Biosimilar uptake accelerates as European hospital tenders tighten prices",
        date="2024-05-28",
        author="Daniel Brandt",
        section="Pharma",
        paragraphs=(
            "Hospital purchasing groups in several European countries are switching faster to biosimilar versions of "
            "expensive biologic medicines, according to an analysis of public tender results published this spring. "
            "In the twelve months to March, biosimilars of two widely used anti-inflammatory antibodies won more than "
            "seventy percent of the volume in national and regional tenders, up from about half two years earlier.",
            "The analysis attributes the shift to tender rules that reward lower prices while allowing several "
            "suppliers to share a contract. Multi-winner tenders reduce the risk of shortages, because a hospital can "
            "turn to a second manufacturer if the first cannot deliver. They also keep enough competitors in the "
            "market to stop prices from rising again once the originator has lost its share.",
            "Manufacturers describe a tougher environment. Prices for some molecules have fallen by more than eighty "
            "percent compared with the original brand, and smaller producers say margins no longer cover the cost of "
            "developing the next generation of products. Several companies have announced that they will concentrate "
            "on fewer molecules and on markets where tenders value reliable supply and services, not only price.",
            "Pharmacists point out that the savings are real but unevenly shared. In some countries the money saved "
            "returns to hospital budgets and funds new treatments; in others it disappears into general spending. "
            "Patient groups ask that switching decisions be explained clearly, with time for questions, so that "
            "confidence in biosimilars keeps growing.",
        ),
    ),
    Story(
        slug="relocalisation-principes-actifs",
        lang="fr",
        title="Pénuries de médicaments : les façonniers français misent sur la relocalisation des principes actifs",
        date="2024-09-17",
        author="Claire Fontaine",
        section="Industrie",
        paragraphs=(
            "Après plusieurs hivers marqués par des ruptures d'approvisionnement en antibiotiques et en paracétamol "
            "pédiatrique, les sous-traitants pharmaceutiques français accélèrent leurs projets de relocalisation. Une "
            "quinzaine de sites ont annoncé des investissements pour produire à nouveau des principes actifs qui "
            "étaient jusqu'ici fabriqués presque exclusivement en Asie. Les montants cumulés dépassent plusieurs "
            "centaines de millions d'euros, en partie financés par des aides publiques.",
            "Les industriels reconnaissent que l'équation économique reste fragile. Un principe actif produit en "
            "Europe coûte souvent deux à trois fois plus cher, en raison de l'énergie, de la main-d'œuvre et des "
            "normes environnementales. Sans engagement d'achat sur plusieurs années, les usines risquent de tourner "
            "en dessous de leur capacité. Les façonniers demandent donc que les appels d'offres hospitaliers "
            "intègrent un critère de sécurité d'approvisionnement, et pas seulement le prix.",
            "Du côté des autorités sanitaires, la priorité reste la liste des médicaments jugés essentiels, qui "
            "compte plusieurs centaines de molécules. L'agence nationale impose désormais des stocks de sécurité plus "
            "importants pour certains produits et demande aux laboratoires des plans de gestion des pénuries "
            "détaillés. Les pharmaciens d'officine saluent ces mesures, tout en rappelant qu'ils passent encore "
            "plusieurs heures par semaine à chercher des alternatives pour leurs patients.",
            "Les économistes de la santé appellent à la prudence : relocaliser une étape de fabrication ne suffit "
            "pas si les matières premières, les solvants ou les emballages restent dépendants d'un seul fournisseur. "
            "Ils plaident pour une coordination européenne, afin d'éviter que chaque pays finance la même usine.",
        ),
    ),
)
SITE_NAME = "Health Industry Wire"
SLOW_SECONDS = 3.0


@dataclass
class Site:
    """The running site: its base URL and the log of every request it received (path with query, headers)."""

    base_url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _counts: dict[str, int] = field(default_factory=dict, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def __str__(self) -> str:
        return self.base_url

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> int:
        """Requests received for `path` (without its query)."""
        with self._lock:
            return sum(1 for logged, _ in self.requests if logged.split("?", 1)[0] == path)

    def _log(self, path: str, headers: dict[str, str]) -> int:
        """Record a request; the number of requests so far for this exact path and query."""
        with self._lock:
            self.requests.append((path, headers))
            self._counts[path] = self._counts.get(path, 0) + 1
            return self._counts[path]


@contextmanager
def serve_site(*, with_sitemap: bool = True, tls: tuple[str, str] | None = None) -> Iterator[Site]:
    """Serve the site on 127.0.0.1 (a free port) from a background thread for the duration of the block;
    over https when `tls` gives a certificate and key file (PEM)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    scheme = "http"
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    site = Site(f"{scheme}://127.0.0.1:{server.server_address[1]}")
    server.site = site
    server.with_sitemap = with_sitemap
    gzip_bomb()  # built before any test measures memory
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site._stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site
    with_sitemap: bool

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the client gave up on a slow or oversized answer, as tests make it do
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "HealthWire/1.0"

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        site = self.server.site
        count = site._log(self.path, {key.lower(): value for key, value in self.headers.items()})
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        route = _ROUTES.get(parts.path)
        if route is None:
            route = next((handler for prefix, handler in _PREFIX_ROUTES if parts.path.startswith(prefix)), _not_found)
        route(self, _Request(parts.path, query, count, site, self.server.with_sitemap))

    def send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        length: bool = True,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@dataclass(frozen=True)
class _Request:
    path: str
    query: dict[str, str]
    count: int  # requests so far for this path and query, this one included
    site: Site
    with_sitemap: bool

    def url(self, path: str) -> str:
        return self.site.url(path)


# --- pages ------------------------------------------------------------------------------------------------


def article_html(story: Story, *, charset: str | None = "utf-8", extra: str = "") -> str:
    meta_charset = f'<meta charset="{charset}">' if charset else ""
    paragraphs = "\n".join(f"      <p>{escape(p)}</p>" for p in story.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{story.lang}">
<head>
  {meta_charset}
  <title>{escape(story.title)} | {SITE_NAME}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{escape(story.title)}">
  <meta property="og:site_name" content="{SITE_NAME}">
  <meta property="article:published_time" content="{story.date}T08:30:00+00:00">
  <meta name="date" content="{story.date}">
  <meta name="author" content="{escape(story.author)}">
  <link rel="alternate" type="application/rss+xml" title="{SITE_NAME}" href="/feed.xml">
</head>
<body>
  <header class="masthead">
    <a class="logo" href="/">{SITE_NAME}</a>
    <nav><ul><li><a href="/section/pharma/">Pharma</a></li><li><a href="/section/medtech/">Medtech</a></li>
    <li><a href="/section/digital/">Digital health</a></li><li><a href="/about.html">About</a></li></ul></nav>
  </header>
  <main>
    <article>
      <p class="kicker">{escape(story.section)}</p>
      <h1>{escape(story.title)}</h1>
      <p class="byline">By {escape(story.author)} · <time datetime="{story.date}">{story.date}</time></p>
{paragraphs}
{extra}
    </article>
  </main>
  <aside><h2>Newsletter</h2><p>Get the week's health-industry news every Friday.</p></aside>
  <footer><p>© 2024 {SITE_NAME}. <a href="/privacy.html">Privacy</a> · <a href="/contact.html">Contact</a></p></footer>
</body>
</html>
"""


def home_html(*, feeds: bool = True) -> str:
    links = (
        '<link rel="alternate" type="application/rss+xml" title="All news" href="/feed.xml">\n'
        '  <link rel="alternate" type="application/atom+xml" title="All news (Atom)" href="/atom.xml">'
        if feeds
        else ""
    )
    teasers = "\n".join(
        f'    <li><a href="{s.path}">{escape(s.title)}</a> <time>{s.date}</time></li>' for s in STORIES
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{SITE_NAME}: pharma, medtech and digital health news</title>
  <meta property="og:type" content="website">
  <meta property="og:site_name" content="{SITE_NAME}">
  {links}
</head>
<body>
  <header><a href="/">{SITE_NAME}</a><nav><a href="/section/pharma/">Pharma</a> <a href="/about.html">About</a></nav></header>
  <main><h1>Latest news</h1>
  <ul>
{teasers}
  </ul></main>
  <footer><p>© 2024 {SITE_NAME}</p></footer>
</body>
</html>
"""


def rss_xml(base: str, links: list[str]) -> str:
    items = "\n".join(
        f"    <item><title>Story {i}</title><link>{escape(link)}</link><guid>{escape(link)}</guid></item>"
        for i, link in enumerate(links)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>{SITE_NAME}</title>
    <link>{base}/</link>
    <description>Health-industry news</description>
{items}
  </channel>
</rss>
"""


def sitemap_xml(locs: list[str], *, index: bool = False) -> str:
    tag, child = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    entries = "\n".join(f"  <{child}><loc>{escape(loc)}</loc></{child}>" for loc in locs)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{tag} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
{entries}
</{tag}>
"""


@functools.cache
def gzip_bomb() -> bytes:
    """10 MB of zeros, gzip-compressed (about 10 KB) without ever holding the 10 MB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [compressor.compress(zeros) for _ in range(10)]
    return b"".join(parts) + compressor.flush()


@functools.cache
def png_image() -> bytes:
    """A valid 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xcc\x33\x33")  # one filter byte, one RGB pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def big_html(size: int = 300_000) -> bytes:
    story = STORIES[0]
    filler = "\n".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    copies = size // len(filler) + 1
    return article_html(story, extra=filler * copies).encode("utf-8")


# --- routes -------------------------------------------------------------------------------------------------

Route = Callable[[_Handler, _Request], None]


def _story_page(story: Story) -> Route:
    return lambda handler, request: handler.send(200, article_html(story).encode("utf-8"))


def _home(handler: _Handler, request: _Request) -> None:
    handler.send(200, home_html().encode("utf-8"))


def _plain_home(handler: _Handler, request: _Request) -> None:
    handler.send(200, home_html(feeds=False).encode("utf-8"))


def _feed(handler: _Handler, request: _Request) -> None:
    # One relative link, one duplicate: both must be handled by the reader.
    links = [request.url(STORIES[0].path), STORIES[1].path, request.url(STORIES[2].path), request.url(STORIES[0].path)]
    handler.send(200, rss_xml(request.site.base_url, links).encode("utf-8"), "application/rss+xml; charset=utf-8")


def _mixed_feed(handler: _Handler, request: _Request) -> None:
    links = [request.url(s.path) for s in STORIES]
    links += [request.url("/articles/withdrawn.html"), request.url("/image.png")]
    handler.send(200, rss_xml(request.site.base_url, links).encode("utf-8"), "application/rss+xml")


def _empty_feed(handler: _Handler, request: _Request) -> None:
    handler.send(200, rss_xml(request.site.base_url, []).encode("utf-8"), "application/rss+xml")


def _atom(handler: _Handler, request: _Request) -> None:
    base = request.site.base_url
    entries = "\n".join(
        f"""  <entry>
    <title>{escape(s.title)}</title>
    <id>tag:healthwire.test,2024:{s.slug}</id>
    <updated>{s.date}T08:30:00Z</updated>
    <link rel="alternate" type="text/html" href="{base}{s.path}"/>
    <link rel="enclosure" type="image/png" href="{base}/image.png"/>
  </entry>"""
        for s in STORIES
    )
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>{SITE_NAME}</title>
  <id>tag:healthwire.test,2024:feed</id>
  <updated>2024-09-17T08:30:00Z</updated>
  <link rel="self" type="application/atom+xml" href="{base}/atom.xml"/>
  <link rel="alternate" type="text/html" href="{base}/"/>
{entries}
</feed>
"""
    handler.send(200, body.encode("utf-8"), "application/atom+xml")


def _xxe_feed(handler: _Handler, request: _Request) -> None:
    base = request.site.base_url
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE rss [
  <!ENTITY file SYSTEM "file:///etc/passwd">
  <!ENTITY remote SYSTEM "{base}/xxe-probe">
  <!ENTITY lol "lollollollollollollollollollol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rss version="2.0"><channel><title>&lol3;</title>
  <item><title>passwd</title><link>&file;</link></item>
  <item><title>probe</title><link>&remote;</link></item>
  <item><title>real</title><link>{base}{STORIES[0].path}</link></item>
</channel></rss>
"""
    handler.send(200, body.encode("utf-8"), "application/xml")


def _other_xml(handler: _Handler, request: _Request) -> None:
    handler.send(200, b'<?xml version="1.0"?><note><to>Editor</to><body>Call me</body></note>', "text/xml")


def _sitemap(handler: _Handler, request: _Request) -> None:
    if not request.with_sitemap:
        return _not_found(handler, request)
    handler.send(200, sitemap_xml([request.url(s.path) for s in STORIES]).encode("utf-8"), "application/xml")


def _sitemap_index(handler: _Handler, request: _Request) -> None:
    children = ["/sitemaps/news-en.xml", "/sitemaps/news-fr.xml", "/sitemaps/gone.xml"]
    handler.send(200, sitemap_xml([request.url(c) for c in children], index=True).encode("utf-8"), "application/xml")


def _sitemap_en(handler: _Handler, request: _Request) -> None:
    locs = [request.url(s.path) for s in STORIES if s.lang == "en"]
    handler.send(200, sitemap_xml(locs).encode("utf-8"), "application/xml; charset=utf-8")


def _sitemap_fr(handler: _Handler, request: _Request) -> None:
    locs = [request.url(s.path) for s in STORIES if s.lang == "fr"]
    handler.send(200, sitemap_xml(locs).encode("utf-8"), "text/xml")


def _sitemap_large(handler: _Handler, request: _Request) -> None:
    locs = [request.url(f"/generated/page-{i}.html") for i in range(30)] * 2
    handler.send(200, sitemap_xml(locs).encode("utf-8"), "application/xml")


def _sitemap_wide_index(handler: _Handler, request: _Request) -> None:
    children = [request.url(f"/sitemaps/child-{i}.xml") for i in range(30)]
    handler.send(200, sitemap_xml(children, index=True).encode("utf-8"), "application/xml")


def _sitemap_child(handler: _Handler, request: _Request) -> None:
    number = request.path.rsplit("-", 1)[1].split(".")[0]
    body = sitemap_xml([request.url(f"/generated/child-page-{number}.html")])
    handler.send(200, body.encode("utf-8"), "application/xml")


def _sitemap_loop(handler: _Handler, request: _Request) -> None:
    other = "/sitemaps/loop-b.xml" if request.path.endswith("loop-a.xml") else "/sitemaps/loop-a.xml"
    locs = [request.url(request.path), request.url(other)]
    handler.send(200, sitemap_xml(locs, index=True).encode("utf-8"), "application/xml")


def _redirect(status: int, location: str) -> Route:
    return lambda handler, request: handler.send(status, b"", headers={"Location": location})


def _redirect_chain(handler: _Handler, request: _Request) -> None:
    left = int(request.path.rsplit("/", 1)[1])
    location = STORIES[0].path if left <= 1 else f"/redirect/chain/{left - 1}"
    handler.send(302, b"", headers={"Location": location})


def _redirect_to(handler: _Handler, request: _Request) -> None:
    handler.send(302, b"", headers={"Location": request.query.get("location", "/")})


def _broken(handler: _Handler, request: _Request) -> None:
    handler.send(500, b"<html><body><h1>Internal Server Error</h1></body></html>")


def _flaky(handler: _Handler, request: _Request) -> None:
    """/flaky/<status>/<key>?fails=N: `status` for the first N requests of that URL, then the article."""
    status = int(request.path.split("/")[2])
    if request.count <= int(request.query.get("fails", "1")):
        handler.send(status, f"<html><body>error {status}</body></html>".encode())
    else:
        handler.send(200, article_html(STORIES[1]).encode("utf-8"))


def _slow(handler: _Handler, request: _Request) -> None:
    if request.site._stop.wait(SLOW_SECONDS):
        return
    handler.send(200, article_html(STORIES[0]).encode("utf-8"))


def _drip(handler: _Handler, request: _Request) -> None:
    """Headers at once, then one byte every 0.1 s: each read is quick, the whole is far too slow."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "200")
    handler.end_headers()
    for _ in range(200):
        if request.site._stop.wait(0.1):
            return
        handler.wfile.write(b"<")
        handler.wfile.flush()


def _big(handler: _Handler, request: _Request) -> None:
    handler.send(200, big_html())


def _big_stream(handler: _Handler, request: _Request) -> None:
    """No Content-Length: the size is only known by reading (HTTP/1.0, the body ends when the connection does)."""
    handler.send(200, big_html(), length=False)


def _bomb(handler: _Handler, request: _Request) -> None:
    handler.send(200, gzip_bomb(), headers={"Content-Encoding": "gzip"})


def _gzip_article(handler: _Handler, request: _Request) -> None:
    body = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    data = body.compress(article_html(STORIES[2]).encode("utf-8")) + body.flush()
    handler.send(200, data, headers={"Content-Encoding": "gzip"})


def _deflate_article(handler: _Handler, request: _Request) -> None:
    handler.send(200, zlib.compress(article_html(STORIES[1]).encode("utf-8")), headers={"Content-Encoding": "deflate"})


def _gzip_two_members(handler: _Handler, request: _Request) -> None:
    """Allowed by RFC 1952 and sent by some servers that compress chunk by chunk."""
    page = article_html(STORIES[0]).encode("utf-8")
    members = []
    for part in (page[:1000], page[1000:]):
        compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        members.append(compressor.compress(part) + compressor.flush())
    handler.send(200, b"".join(members), headers={"Content-Encoding": "gzip"})


def _raw_deflate_article(handler: _Handler, request: _Request) -> None:
    """'deflate' without the zlib wrapper, as some servers wrongly send it."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = compressor.compress(article_html(STORIES[2]).encode("utf-8")) + compressor.flush()
    handler.send(200, data, headers={"Content-Encoding": "deflate"})


def _png(handler: _Handler, request: _Request) -> None:
    handler.send(200, png_image(), "image/png")


def _pdf(handler: _Handler, request: _Request) -> None:
    handler.send(200, b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", "application/pdf")


def _charset(handler: _Handler, request: _Request) -> None:
    """French article in windows-1252: declared in the page only, wrongly in the header, or in the header only."""
    story = STORIES[2]
    variant = request.path.rsplit("/", 1)[1]
    meta = None if variant == "header-only" else "windows-1252"
    header = {"no-header": "text/html", "wrong-header": "text/html; charset=utf-8"}.get(
        variant, "text/html; charset=windows-1252"
    )
    handler.send(200, article_html(story, charset=meta).encode("cp1252"), header)


def _no_type(handler: _Handler, request: _Request) -> None:
    handler.send(200, article_html(STORIES[0]).encode("utf-8"), content_type=None)


def _not_found(handler: _Handler, request: _Request) -> None:
    handler.send(404, b"<html><body><h1>Not found</h1></body></html>")


_ROUTES: dict[str, Route] = {
    "/": _home,
    "/plain-home/": _plain_home,
    "/feed.xml": _feed,
    "/atom.xml": _atom,
    "/feeds/mixed.xml": _mixed_feed,
    "/feeds/empty.xml": _empty_feed,
    "/feeds/xxe.xml": _xxe_feed,
    "/other.xml": _other_xml,
    "/sitemap.xml": _sitemap,
    "/sitemap-index.xml": _sitemap_index,
    "/sitemaps/news-en.xml": _sitemap_en,
    "/sitemaps/news-fr.xml": _sitemap_fr,
    "/sitemaps/large.xml": _sitemap_large,
    "/sitemaps/wide-index.xml": _sitemap_wide_index,
    "/sitemaps/loop-a.xml": _sitemap_loop,
    "/sitemaps/loop-b.xml": _sitemap_loop,
    "/redirect/301": _redirect(301, STORIES[0].path),
    "/redirect/302": _redirect(302, STORIES[1].path),
    "/redirect/loop": _redirect(302, "/redirect/loop"),
    "/redirect/private": _redirect(302, "http://10.0.0.1/"),
    "/redirect/metadata": _redirect(302, "http://169.254.169.254/latest/meta-data/"),
    "/redirect/file": _redirect(302, "file:///etc/passwd"),
    "/redirect/to": _redirect_to,
    "/broken": _broken,
    "/slow": _slow,
    "/drip": _drip,
    "/big": _big,
    "/big-stream": _big_stream,
    "/bomb": _bomb,
    "/gzip/article.html": _gzip_article,
    "/deflate/article.html": _deflate_article,
    "/deflate/raw.html": _raw_deflate_article,
    "/gzip/two-members.html": _gzip_two_members,
    "/image.png": _png,
    "/report.pdf": _pdf,
    "/no-type": _no_type,
    **{story.path: _story_page(story) for story in STORIES},
}
_PREFIX_ROUTES: tuple[tuple[str, Route], ...] = (
    ("/redirect/chain/", _redirect_chain),
    ("/flaky/", _flaky),
    ("/slow/", _slow),
    ("/charset/", _charset),
    ("/sitemaps/child-", _sitemap_child),
)
