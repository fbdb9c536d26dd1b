"""HTTP/1.1 over the standard library: one kept-alive connection per host per process.

Why the standard library: `http.client` + `json` import in ~15 ms, `ssl` ~7 ms more
(only for https), where `httpx2` takes ~47 ms and the SDKs 0.5–1.3 s. byok sends two
kinds of request, so what a general client adds is not needed; what it must not lose is:

- proxies: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY (lower case first, as curl
  does); https goes through a CONNECT tunnel, so a proxy never sees a key; loopback hosts
  never go through a proxy;
- TLS: the system CA store (OpenSSL's default paths, which honour SSL_CERT_FILE and
  SSL_CERT_DIR), hostname checking, TLS 1.2 at least;
- separate connect and read timeouts (see types.Settings), and one overall deadline per
  request that no server can stretch by dripping bytes (headers included: see clock.py);
- gzip/deflate answers, as the SDKs ask for them too.

`check_transport` is the one call point that decides whether a key may travel to a URL.
"""

from __future__ import annotations

import http.client
import os
import socket
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from .clock import Clock as _Clock, DeadlinePassed, answer_class as _answer_class
from .limits import MAX_BODY, MAX_LINE, Gathered, LimitExceeded, size
from .sse import Lines
from .types import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from .proxy import Proxy

DRAIN = 64 * 1024             # read at most this much after the end of a stream to reuse it
INFLATED = ("gzip", "x-gzip", "deflate")  # the encodings byok inflates
INFLATE_STEP = 256 * 1024     # a compressed answer is inflated this much at a time


class TransportError(Exception):
    """No usable HTTP answer: connect, proxy, TLS, timeout, or a dropped connection.

    ``kind`` is one of: connect, timeout (idle), deadline (the whole request), stalled (only
    keep-alives), tls, proxy, dropped, too_large, malformed, local (see ``request``)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# --- where a key may go --------------------------------------------------------------------

def check_transport(url: str, env: Mapping[str, str] | None = None) -> None:
    """Refuse to send a key over plain http to anything but this machine (the rule and its
    message are urls.check's; endpoint() has applied it already, naming where the URL came
    from: this is the last gate before a connection, for every request)."""
    from ..urls import check

    check(url, "the base URL", env)


# --- TLS ---------------------------------------------------------------------------------------

_TLS = None


def tls_context():
    """The system's CA store (SSL_CERT_FILE / SSL_CERT_DIR honoured), made once."""
    global _TLS
    if _TLS is None:
        import ssl

        context = ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        _TLS = context
    return _TLS


# --- connections --------------------------------------------------------------------------------

class _Slot:
    """A kept-alive connection, whether it has served a request, and the answer in flight."""

    def __init__(self, conn: http.client.HTTPConnection, read_timeout: float, clock: _Clock):
        self.conn = conn
        self.read_timeout = read_timeout
        self.clock = clock
        self.busy = False


_POOL: dict[tuple, _Slot] = {}


def _open(scheme: str, host: str, port: int, proxy: Proxy | None, settings: Settings,
          clock: _Clock, local_ok: bool = True) -> http.client.HTTPConnection:
    timeout = settings.connect_timeout
    if scheme == "https":
        target = (proxy.host, proxy.port) if proxy else (host, port)
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            *target, timeout=timeout, context=tls_context())
        if proxy:
            headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
            conn.set_tunnel(host, port, headers=headers)
    elif proxy:
        conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        if host.lower() == "localhost":  # this machine, whatever a resolver would say
            conn._create_connection = _to_loopback  # type: ignore[attr-defined]
    if not local_ok and not proxy:
        conn._create_connection = _elsewhere  # type: ignore[attr-defined]
    conn.response_class = _answer_class(clock)  # type: ignore[assignment]
    try:
        conn.connect()  # TCP, the proxy's tunnel and the TLS handshake, all within `timeout`
    except BaseException:
        conn.close()
        raise
    conn.sock.settimeout(settings.timeout)  # then each read may wait this long
    try:  # requests are small: send them at once rather than wait for an ACK (Nagle)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    return conn


def _to_loopback(address: tuple, timeout=None, source_address=None) -> socket.socket:
    """A connection to ``localhost``'s port on 127.0.0.1, else ::1, never through DNS or
    /etc/hosts: a plain-http key may go to "localhost" only because it stays here."""
    failure: OSError | None = None
    for ip in ("127.0.0.1", "::1"):
        try:
            return socket.create_connection((ip, address[1]), timeout, source_address)
        except OSError as exc:
            failure = exc
    raise failure  # type: ignore[misc]


class LocalAddress(OSError):
    """The host resolved to an address of this machine where only elsewhere may be reached."""


def _on_this_machine(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address.split("%", 1)[0])
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_loopback or ip.is_unspecified


def _elsewhere(address: tuple, timeout=None, source_address=None) -> socket.socket:
    """A connection to ``address`` resolved once and checked: no address of this machine
    (127.0.0.0/8, ::1, 0.0.0.0, ::), however the host is written (127.1, 2130706433,
    0x7f000001, a DNS name that resolves there). It connects to the address checked, so a
    second lookup cannot answer differently."""
    host, port = address[0], address[1]
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_, sockaddr in found:
        if _on_this_machine(sockaddr[0]):
            raise LocalAddress(f"{host} is {sockaddr[0]}, an address of this machine")
    failure: OSError = OSError(f"{host} has no address")
    for *_, sockaddr in found:
        try:
            return socket.create_connection(sockaddr[:2], timeout, source_address)
        except OSError as exc:
            failure = exc
    raise failure


def _failure(exc: BaseException, where: str, proxy: Proxy | None) -> TransportError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, LocalAddress):
        return TransportError("local", text)
    if isinstance(exc, DeadlinePassed):
        return TransportError("deadline", f"{where}: {text}")
    if isinstance(exc, TimeoutError) or "timed out" in text:
        return TransportError("timeout", f"no answer from {where} in time")
    if type(exc).__name__.startswith("SSL") or "CERTIFICATE" in text.upper():
        return TransportError("tls", f"TLS with {where} failed: {text}")
    if text.startswith("Tunnel connection failed") and proxy:
        return TransportError("proxy", f"the proxy {proxy.label} refused the tunnel to {where} "
                              f"({text.split(':', 1)[-1].strip()})")
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                        http.client.IncompleteRead)):
        return TransportError("dropped", f"{where} closed the connection ({text})")
    if proxy and not isinstance(exc, http.client.HTTPException):
        return TransportError("connect", f"could not use the proxy {proxy.label} for {where} "
                              f"({text})")
    # Connected, but the answer's head broke a bound: say so (still no usable answer).
    if isinstance(exc, http.client.LineTooLong):
        return TransportError("connect", f"{where} answered with a line too long ({text})")
    if isinstance(exc, http.client.HTTPException) and "headers" in text:
        return TransportError("connect", f"{where} answered with too many headers ({text})")
    if isinstance(exc, http.client.HTTPException):
        return TransportError("connect", f"{where} did not answer in HTTP ({text})")
    return TransportError("connect", f"could not connect to {where} ({text})")


# A kept-alive connection the server has meanwhile closed fails like this on first use.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
          ConnectionAbortedError)


def request(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
            settings: Settings, local_ok: bool = True) -> "Response":
    """Send one request; return once the status line and headers are in. With ``local_ok``
    false, a host that resolves to this machine is refused (TransportError "local").

    Raises TransportError when there is no HTTP answer, ByokError when the URL may not
    carry a key."""
    check_transport(url)
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    proxy = _proxy_for(scheme, host, port)
    target = url if (proxy and scheme == "http") else (parts.path or "/") + (
        "?" + parts.query if parts.query else "")
    sent = dict(headers)
    if proxy and scheme == "http" and proxy.authorization:
        sent["Proxy-Authorization"] = proxy.authorization
    key = (scheme, host, port, proxy, local_ok)
    where = f"{host}:{port}"
    for _ in range(2):
        slot = _POOL.get(key)
        if slot is not None and (slot.busy or slot.conn.sock is None):
            _discard(key, slot)  # an answer left unread, or closed by the last one
            slot = None
        reused = slot is not None
        try:
            if slot is None:
                clock = _Clock(settings)
                conn = _open(scheme, host, port, proxy, settings, clock, local_ok)
                slot = _POOL[key] = _Slot(conn, settings.timeout, clock)
            else:
                slot.clock.start(settings)
                slot.read_timeout = settings.timeout
                slot.conn.sock.settimeout(settings.timeout)
            slot.busy = True
            slot.conn.request(method, target, body=body, headers=sent)
            raw = slot.conn.getresponse()
        except _STALE as exc:
            _discard(key, slot)
            if reused:
                continue  # the server closed the idle connection: once more on a new one
            raise _failure(exc, where, proxy) from None
        except (OSError, http.client.HTTPException) as exc:
            _discard(key, slot)
            raise _failure(exc, where, proxy) from None
        return Response(raw, key, slot, where)
    raise AssertionError("unreachable")


def _discard(key: tuple, slot: _Slot | None) -> None:
    if slot is not None:
        slot.conn.close()
        if _POOL.get(key) is slot:
            del _POOL[key]


def close_all() -> None:
    for key, slot in list(_POOL.items()):
        _discard(key, slot)


class Response:
    """An answer whose body is read once: whole (`read`) or as it arrives (`lines`).

    Read to its end, it hands its connection back for the next request; closed early, the
    connection is dropped (its unread rest would otherwise be taken for the next answer)."""

    def __init__(self, raw: http.client.HTTPResponse, key: tuple, slot: _Slot, where: str):
        self._raw, self._key, self._slot = raw, key, slot
        self.where = where
        self.status = raw.status
        self.headers = {k.lower(): v for k, v in raw.getheaders()}
        encoding = self.headers.get("content-encoding", "").strip().lower()
        self._inflate = Inflater(encoding) if encoding in INFLATED else None
        self._done = False
        self._closed = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def peek(self) -> bytes:
        """The first bytes of a plain (not compressed) body, without consuming them."""
        if self._inflate:
            return b""
        try:
            return self._raw.peek(1)
        except (OSError, http.client.HTTPException):
            return b""

    def chunks(self) -> Iterator[bytes]:
        """The body, decoded from gzip/deflate, as the network delivers it. Read to its end,
        the connection goes back to the pool; a reader that stops early must `close`."""
        while True:
            try:
                data = self._raw.read1(65536)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise _failure(exc, self.where, None) from None
            if not data:
                break
            if self._inflate:
                yield from self._inflate.feed(data)
            else:
                yield data
        rest = self._inflate.flush() if self._inflate else b""
        self._done = True
        self.close()
        if rest:
            yield rest

    def read(self, limit: int = MAX_BODY) -> bytes:
        body = Gathered(limit)
        for chunk in self.chunks():
            if not body.add(chunk):
                self.close()
                raise TransportError("too_large", f"{self.where} sent more than "
                                     f"{size(limit)}")
        return body.joined()

    def lines(self) -> Iterator[str]:
        """Lines of text (UTF-8; CR, LF and CRLF all end a line: sse.Lines), the last one
        even without an ending."""
        lines = Lines()
        for chunk in self.chunks():
            for line in lines.feed(chunk):
                yield line.decode("utf-8", "replace")
            try:
                lines.check()
            except LimitExceeded:
                self.close()
                raise TransportError("too_large", f"{self.where} sent a line of more than "
                                     f"{size(MAX_LINE)}") from None
        last = lines.end()
        if last is not None:
            yield last.decode("utf-8", "replace")

    def finish(self) -> None:
        """The answer is complete (a stream's last event came): read the little that may
        follow (the chunked trailer), briefly, so that the connection can be reused."""
        self._slot.clock.idle = min(self._slot.clock.idle, 1.0)
        try:
            for _ in range(16):
                if self._raw.isclosed() or not self._raw.read1(DRAIN):
                    self._done = True
                    break
        except (OSError, http.client.HTTPException):
            pass
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        reusable = self._done and not self._raw.will_close
        self._raw.close()
        self._slot.busy = False
        if not reusable:
            _discard(self._key, self._slot)
        elif self._slot.conn.sock is not None:
            self._slot.conn.sock.settimeout(self._slot.read_timeout)


def _proxy_for(scheme: str, host: str, port: int) -> Proxy | None:
    """The proxy for this request (see wire.proxy), which is loaded only when some *_proxy
    variable is set: most runs have none, and pay nothing for proxies."""
    if not any(name[-6:].lower() == "_proxy" for name in os.environ):
        return None
    from .proxy import proxy_for

    return proxy_for(scheme, host, port)


class Inflater:
    """A gzip or deflate body inflated a bounded step at a time."""

    def __init__(self, encoding: str):
        import zlib  # only for a compressed answer

        # 32 + 15: a zlib or gzip header, detected; raw deflate (a common server bug) as well.
        self._zlib = zlib
        self._z = zlib.decompressobj(32 + zlib.MAX_WBITS)
        self._first = encoding == "deflate"

    def feed(self, data: bytes) -> Iterator[bytes]:
        """What ``data`` inflates to, in pieces of at most INFLATE_STEP bytes: a reader that
        stops at its limit stops a compression bomb there, rather than after inflating a
        whole network read (64 KiB of zeros inflate to 64 MiB)."""
        while data:
            try:
                out = self._z.decompress(data, INFLATE_STEP)
            except self._zlib.error:
                if not self._first:
                    raise TransportError("malformed", "the compressed answer is corrupt") from None
                self._z = self._zlib.decompressobj(-self._zlib.MAX_WBITS)
                out = self._z.decompress(data, INFLATE_STEP)
            self._first = False
            data = self._z.unconsumed_tail
            if out:
                yield out

    def flush(self) -> bytes:
        return self._z.flush()
