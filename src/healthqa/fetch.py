"""Every download of the build goes through one bounded `fetch`: each redirect hop is checked, private and local
addresses are refused unless allowed, the body is capped after decompression. What a URL is (article, feed,
sitemap, home page) is discover.py's business; nothing here knows the index."""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, replace
from importlib import metadata
from urllib.parse import urldefrag, urljoin

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import parse_url

from .errors import ConfigError, SourceError
from .pageguard import decode_html

try:
    import certifi  # a trafilatura dependency: the same CA bundle whatever the system has

    _CA_CERTS: str | None = certifi.where()
except ImportError:  # pragma: no cover
    _CA_CERTS = None


def _version() -> str:
    try:
        return metadata.version("healthqa")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


USER_AGENT = f"healthqa/{_version()} (+local news QA assistant)"
ALLOW_PRIVATE_HINT = (
    "private and local addresses are blocked; to allow them set allow_private_urls "
    "(environment HEALTHQA_ALLOW_PRIVATE_URLS=1)"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TRANSIENT = frozenset({429, 502, 503, 504})
_CHUNK = 64 * 1024
_ACCEPT = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.1"
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Bounds of every download: the caller maps its own settings onto them (e.g. allow_private_urls)."""

    timeout: float = 10.0  # seconds to connect, and at most between two reads
    deadline: float = 60.0  # seconds one URL may take in all, redirects and retries included
    max_bytes: int = 5_000_000  # size of the body after decompression, so a gzip bomb stops here
    max_redirects: int = 5
    retries: int = 2  # further attempts after a transient failure (connection, timeout, HTTP 429/502/503/504)
    backoff: float = 0.5  # seconds before the first retry, doubled at each next one
    user_agent: str = USER_AGENT
    allow_private: bool = False  # fetch from loopback, private, link-local... addresses (a local news server)
    # Hosts ("name" or "name:port") exempt from the private-address guard while it stays on for all others.
    allowed_hosts: tuple[str, ...] = ()
    ca_certs: str = ""  # PEM file of the CAs trusted for https; empty means certifi's bundle

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.deadline <= 0:
            raise ConfigError("fetch timeout and deadline must be positive numbers of seconds")
        if self.max_bytes < 1:
            raise ConfigError(f"fetch max_bytes must be at least 1, not {self.max_bytes}")
        if self.max_redirects < 0 or self.retries < 0 or self.backoff < 0:
            raise ConfigError("fetch max_redirects, retries and backoff cannot be negative")
        object.__setattr__(self, "allowed_hosts", tuple(host.strip().lower() for host in self.allowed_hosts))


@dataclass(frozen=True, slots=True)
class Fetched:
    """One downloaded document, its body already decompressed."""

    url: str  # as requested
    final_url: str  # after redirects: relative links resolve against it
    status: int
    content_type: str  # media type in lower case, without parameters; "" when the server sent none
    body: bytes
    charset: str = ""  # from the Content-Type header: often missing or wrong, so text() tries it last

    def text(self) -> str:
        """The body as text: UTF-8, else the charset the page declares, else the one the HTTP header gives."""
        try:
            return decode_html(self.body, self.url)
        except SourceError as exc:
            if not self.charset or not exc.reason.startswith("undecodable"):  # binary stays binary
                raise
        try:
            return self.body.decode(self.charset)
        except (LookupError, UnicodeDecodeError):
            raise SourceError(
                self.url, f"undecodable bytes: not UTF-8, nor the page's charset, nor the header's '{self.charset}'"
            ) from None


def fetch(url: str, limits: FetchLimits = FetchLimits()) -> Fetched:
    """GET one URL within the limits, following redirects only to addresses that pass the same checks.

    Raises SourceError(url, reason) for anything that does not end in an HTML or XML document."""
    deadline = time.monotonic() + limits.deadline
    current = urldefrag(url.strip())[0]
    visited = {current}
    for hop in range(limits.max_redirects + 1):
        try:
            target = _target(current, limits)
            response = _get(target, limits, deadline)
        except _Failure as failure:
            prefix = f"redirected to {current}: " if hop and failure.refusal else ""
            raise SourceError(url, prefix + failure.reason) from None
        if response.status in _REDIRECTS:
            location = response.headers.get("Location", "").strip()
            if not location:
                raise SourceError(url, f"HTTP {response.status} redirect without a Location header")
            current = urldefrag(urljoin(current, location))[0]
            if current in visited:
                raise SourceError(url, f"redirect loop (back to {current})")
            visited.add(current)
            continue
        if response.status >= 300:
            raise SourceError(url, _status_reason(response))
        return Fetched(
            url=url,
            final_url=current,
            status=response.status,
            content_type=response.content_type,
            body=response.body,
            charset=response.charset,
        )
    raise SourceError(url, f"too many redirects (more than {limits.max_redirects}, the max_redirects limit)")


# --- one request ------------------------------------------------------------------------------------------


class _Failure(Exception):
    """Why one hop failed: `transient` ones are retried, `unreachable` ones try the host's next address,
    `refusal` ones were never sent."""

    def __init__(
        self, reason: str, *, transient: bool = False, unreachable: bool = False, refusal: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient or unreachable
        self.unreachable = unreachable
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class _Target:
    """A URL checked and resolved: the request goes to one of `addresses`, never to a fresh DNS answer."""

    scheme: str
    host: str  # ASCII (IDNA), without IPv6 brackets
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.scheme == "https" else 80) else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    reason: str
    headers: urllib3.HTTPHeaderDict
    content_type: str = ""
    charset: str = ""
    body: bytes = b""
    attempts: int = 1


def _target(url: str, limits: FetchLimits) -> _Target:
    try:
        parsed = parse_url(url)
    except LocationParseError:
        raise _Failure("not a valid URL", refusal=True) from None
    if not parsed.scheme:
        raise _Failure("not an absolute URL: it must start with http:// or https://", refusal=True)
    if parsed.scheme not in ("http", "https"):
        raise _Failure(
            f"unsupported URL scheme '{parsed.scheme}': only http:// and https:// addresses are fetched", refusal=True
        )
    if not parsed.host:
        raise _Failure("the URL has no host name", refusal=True)
    if parsed.auth:
        raise _Failure("URLs with a user name or password are not supported", refusal=True)
    host = parsed.host.strip("[]")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    target = _Target(parsed.scheme, host, port, parsed.request_uri, _resolve(host, port))
    if not limits.allow_private and not {host, target.authority, f"{host}:{port}"} & set(limits.allowed_hosts):
        for address in target.addresses:
            kind = _non_public(ipaddress.ip_address(address))
            if kind:
                where = f"{address} is" if address == host else f"{host} resolves to {address},"
                article = "an" if kind[0] in "aeiou" else "a"
                raise _Failure(f"refused: {where} {article} {kind} address ({ALLOW_PRIVATE_HINT})", refusal=True)
    return target


def _resolve(host: str, port: int) -> tuple[str, ...]:
    # getaddrinfo has no timeout of its own; the system resolver's applies.
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise _Failure(f"cannot resolve host name '{host}' (DNS: {exc.strerror})") from None
    except (UnicodeError, ValueError):
        raise _Failure(f"invalid host name '{host}'", refusal=True) from None
    # Every answer is checked (the caller refuses if any is non-public) and the connection goes to one of
    # them: a DNS rebinding between check and connect cannot happen because no second lookup is made.
    return tuple(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def _non_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """'' for a public address, else the kind of address it is, for the message."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _non_public(embedded)
    kinds = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),  # shared (carrier NAT), documentation, benchmarking ranges
    )
    return next((kind for kind, flag in kinds if flag), "")


def _get(target: _Target, limits: FetchLimits, deadline: float) -> _Response:
    """One hop, retried after transient failures with a doubling backoff (or the server's Retry-After)."""
    attempt = 0
    while True:
        attempt += 1
        wait = limits.backoff * 2 ** (attempt - 1)
        outcome: _Response | _Failure
        try:
            outcome = replace(_get_once(target, limits, deadline), attempts=attempt)
        except _Failure as failure:
            if not failure.transient:
                raise
            outcome = failure
        else:
            if outcome.status not in _TRANSIENT:
                return outcome
            retry_after = outcome.headers.get("Retry-After", "").strip()
            if retry_after.isdigit():
                wait = min(float(retry_after), limits.timeout)
        if attempt > limits.retries or time.monotonic() + wait >= deadline:
            if isinstance(outcome, _Response):
                return outcome
            if attempt > 1:
                outcome.reason += f" (after {attempt} attempts)"
            raise outcome
        time.sleep(wait)


def _get_once(target: _Target, limits: FetchLimits, deadline: float) -> _Response:
    failure: _Failure | None = None
    for address in target.addresses:  # in the resolver's order, like socket.create_connection
        try:
            return _get_from(address, target, limits, deadline)
        except _Failure as exc:
            if not exc.unreachable:
                raise
            failure = exc
    assert failure is not None  # getaddrinfo never answers with no address
    raise failure


def _get_from(address: str, target: _Target, limits: FetchLimits, deadline: float) -> _Response:
    seconds = max(0.001, min(limits.timeout, deadline - time.monotonic()))
    timeout = urllib3.Timeout(connect=seconds, read=seconds)
    headers = {
        "Host": target.authority,
        "User-Agent": limits.user_agent,
        "Accept": _ACCEPT,
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    if target.scheme == "https":  # TLS names and checks the host, while the socket goes to the checked address
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=limits.ca_certs or _CA_CERTS,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)
    where = target.authority if address == target.host else f"{target.authority} ({address})"
    with pool:
        try:
            response = pool.urlopen(
                "GET",
                target.path,
                headers=headers,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
            )
        except HTTPError as exc:
            raise _network_failure(exc, where, seconds) from None
        try:
            return _read(response, limits, deadline, where)
        except HTTPError as exc:
            raise _network_failure(exc, where, seconds) from None
        finally:
            response.close()


def _network_failure(exc: HTTPError, where: str, seconds: float) -> _Failure:
    if isinstance(exc, NewConnectionError):
        if "refused" in str(exc).lower():
            return _Failure(f"connection refused by {where}: is the site up?", unreachable=True)
        return _Failure(f"cannot connect to {where} ({_short(exc)})", unreachable=True)
    if isinstance(exc, ConnectTimeoutError):
        return _Failure(f"timed out after {seconds:g} s connecting to {where}", transient=True)
    if isinstance(exc, ReadTimeoutError):
        return _Failure(f"timed out: {where} sent nothing for {seconds:g} s", transient=True)
    if isinstance(exc, SSLError):
        verify = next((arg.verify_message for arg in exc.args if isinstance(arg, ssl.SSLCertVerificationError)), "")
        if verify:
            return _Failure(f"TLS error with {where}: its certificate was rejected ({verify.rstrip('.')})")
        return _Failure(f"TLS error with {where} ({_short(exc)})")
    if isinstance(exc, ProtocolError):
        return _Failure(f"connection to {where} broken during the download ({_short(exc)})", transient=True)
    return _Failure(f"download from {where} failed ({type(exc).__name__}: {_short(exc)})")


def _short(exc: BaseException) -> str:
    """urllib3's message without the connection object's repr it starts with, nor tuples of causes."""
    if len(exc.args) == 2 and isinstance(exc.args[0], str) and isinstance(exc.args[1], BaseException):
        cause = exc.args[1]
        detail = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        text = f"{exc.args[0].rstrip('.')}: {detail}"
    else:
        text = re.sub(r"^\w+\(host=[^)]*\):\s*", "", str(exc))
    return text if len(text) <= 200 else text[:199] + "…"


def _read(response: urllib3.BaseHTTPResponse, limits: FetchLimits, deadline: float, where: str) -> _Response:
    """Status and headers; for a success, the body too, streamed within the limits."""
    headers = response.headers
    media, charset = _content_type(headers.get("Content-Type", ""))
    if response.status >= 300:  # redirects and errors: the body is never read
        return _Response(response.status, response.reason or "", headers, media, charset)
    if media and not _is_markup_type(media):
        raise _Failure(f"not an HTML or XML document (content type {media})")
    encoding = headers.get("Content-Encoding", "identity").strip().lower() or "identity"
    decoder = _Decoder(encoding)
    length = headers.get("Content-Length", "").strip()
    if encoding == "identity" and length.isdigit() and int(length) > limits.max_bytes:
        raise _Failure(_too_large(limits))
    body = bytearray()
    while True:
        # read1 returns what has arrived, so a server trickling bytes still meets the deadline between reads.
        chunk = response.read1(_CHUNK, decode_content=False)
        if not chunk:
            break
        if time.monotonic() > deadline:
            raise _Failure(f"the download from {where} took longer than {limits.deadline:g} s (deadline)")
        decoder.feed(chunk, body, limits.max_bytes)
        if len(body) > limits.max_bytes:
            raise _Failure(_too_large(limits))
    decoder.feed(b"", body, limits.max_bytes)
    if len(body) > limits.max_bytes:
        raise _Failure(_too_large(limits))
    if not media and not bytes(body[:512]).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise _Failure("not an HTML or XML document (no content type, and the body does not start with markup)")
    return _Response(response.status, response.reason or "", headers, media, charset, bytes(body))


class _Decoder:
    """Content-Encoding undone incrementally, in pieces of at most _CHUNK bytes appended to the body, so the
    body never grows much past the limit whatever the compression ratio."""

    def __init__(self, encoding: str) -> None:
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise _Failure(f"unsupported content encoding '{encoding}'")
        self._encoding = encoding
        self._zlib = None if encoding == "identity" else self._new()
        self._started = False

    def _new(self, raw: bool = False) -> "zlib._Decompress":
        wbits = -zlib.MAX_WBITS if raw else (16 + zlib.MAX_WBITS if "gzip" in self._encoding else zlib.MAX_WBITS)
        return zlib.decompressobj(wbits)

    def feed(self, data: bytes, body: bytearray, limit: int) -> None:
        """Append what `data` decodes to, stopping as soon as the body holds more than `limit` bytes.
        feed(b"", ...) at the end drains what the decompressor still holds."""
        if self._zlib is None:
            body += data
            return
        while len(body) <= limit:
            if self._zlib.eof:
                if not data or "gzip" not in self._encoding:
                    return  # the end; bytes after a deflate stream are ignored
                self._zlib = self._new()  # a further gzip member
            room = min(_CHUNK, limit + 1 - len(body))
            try:
                piece = self._zlib.decompress(data, room)
            except zlib.error:
                if self._encoding == "deflate" and not self._started:  # servers sending raw deflate
                    self._zlib = self._new(raw=True)
                    self._started = True
                    continue
                raise _Failure(f"corrupt {self._encoding} compressed body") from None
            self._started = True
            body += piece
            data = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail
            if not data and len(piece) < room:
                return


def _content_type(value: str) -> tuple[str, str]:
    media = value.split(";", 1)[0].strip().lower()
    charset = _CHARSET.search(value)
    return media, (charset.group(1).lower() if charset else "")


def _is_markup_type(media: str) -> bool:
    if media in ("text/html", "application/xhtml+xml"):
        return True
    kind, _, subtype = media.partition("/")
    return kind in ("text", "application") and (subtype == "xml" or subtype.endswith("+xml"))


def _too_large(limits: FetchLimits) -> str:
    return f"too large: the page exceeds the limit of {limits.max_bytes:,} bytes (max_bytes, after decompression)"


def _status_reason(response: _Response) -> str:
    reason = f"HTTP {response.status} {response.reason}".rstrip()
    return reason + (f" (after {response.attempts} attempts)" if response.attempts > 1 else "")
