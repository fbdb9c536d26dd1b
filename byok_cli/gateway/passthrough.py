"""One client request forwarded to its provider under `routing`'s policy.

The body goes upstream as it came, the client's auth headers replaced by the key's; the
answer comes back as it arrives, status, headers and body, with only the key masked if the
upstream echoes it. A key the provider rejects (401/403/402, out of credit) gives way to
the provider's next key, as in `run`, as long as nothing has reached the client yet.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Mapping
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp import web
from yarl import URL

from ..errors import ByokError, Code
from ..registry import Provider
from ..routing.ask import provider_plan, typo
from ..routing.policy import Policy
from ..routing.resolve import KEY_REJECTED
from ..secrets.keychain import Keychain
from ..wire import connect
from ..wire.endpoint import endpoint
from ..wire.errors import classify, error_body, stream_error
from ..wire.limits import MAX_BODY, MAX_ERROR_BODY, LimitExceeded, loads
from ..wire.proxy import proxy_for
from ..wire.transport import Inflater, tls_context
from ..wire.types import Settings
from .answers import IdleWatch, encoding, inflated, read_usage, read_whole
from .deltas import DeltaMasker
from .exchange import (KeyMasker, Policed, StreamScanner, Usage, masked, masked_header,
                       policed, upstream_path)
from .tokens import AUTH_HEADERS, without_tokens
from .usage_log import UsageLog

# Not forwarded either way: they describe one connection, not the message.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host",
                        "content-length"})
MAX_WHOLE_BODY = 16 << 20    # an answer of known length up to this is read whole, then sent
# 402 for a budget: an SDK retries a 429, and no wait lets a budget's period end sooner
STATUS = {Code.NO_KEY: 503, Code.BUDGET_EXCEEDED: 402, Code.NETWORK_ERROR: 502,
          Code.PROVIDER_UNAVAILABLE: 502, Code.KEYRING_UNAVAILABLE: 503,
          Code.DECRYPT_FAILED: 503, Code.USAGE: 400, Code.LIMIT_EXCEEDED: 400,
          Code.MODEL_NOT_FOUND: 404}


class Upstream:
    """The gateway's pooled connections to the providers, through the proxy byok's own
    transport would use (wire.proxy: HTTPS_PROXY/ALL_PROXY, NO_PROXY honoured, loopback
    never through a proxy; https in a CONNECT tunnel, so a proxy never sees a key) and with
    its TLS settings (SSL_CERT_FILE / SSL_CERT_DIR)."""

    def __init__(self, settings: Settings, env: Mapping[str, str] | None = None):
        self.settings = settings
        self.env = env
        self.session: aiohttp.ClientSession | None = None
        # (scheme, host, port) -> the proxy arguments: the environment is read once, and
        # the hosts are the providers' (the client chooses only the path), so few
        self._routes: dict[tuple, dict] = {}

    async def open(self) -> None:
        # The proxy is chosen per request by wire.proxy (trust_env would let aiohttp's own
        # rules send a key through a proxy to loopback); answers are asked for uncompressed
        # (the key is masked in them), and inflated here when an upstream compresses anyway.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, ssl=tls_context()),
            timeout=aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout,
                                          sock_read=max(self.settings.timeout, 300.0)),
            auto_decompress=False, trust_env=False, skip_auto_headers=("User-Agent",))

    def route(self, url: str) -> dict:
        """The proxy arguments for a request to ``url`` (none when it goes direct)."""
        parts = urlsplit(url)
        scheme = parts.scheme
        where = (scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        found = self._routes.get(where)
        if found is None:
            if len(self._routes) >= 1024:
                self._routes.clear()
            found = self._routes[where] = self._proxy(*where)
        return found

    def _proxy(self, scheme: str, hostname: str, port: int) -> dict:
        proxy = proxy_for(scheme, hostname, port, self.env)
        if proxy is None:
            return {}
        host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
        found = {"proxy": f"http://{host}:{proxy.port}"}
        if proxy.authorization:
            found["proxy_headers"] = {"Proxy-Authorization": proxy.authorization}
        return found

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


class Exchange:
    """One request: its policy, and what happened, for the usage row."""

    def __init__(self, keychain: Keychain, record: Provider, token_name: str,
                 spec: Policed | None, on_warning: Callable[[str], None], log: UsageLog):
        self.record, self.spec, self.log = record, spec, log
        self.policy = Policy(_plan(keychain, record, spec.model if spec else None),
                             keychain, token_name=token_name, on_warning=on_warning)
        self.usage = Usage()
        self.started = time.time()
        self.clock = time.monotonic()
        self.first_at: float | None = None
        self.hold: int | None = None
        self.key: str | None = None
        self.settled = False
        self.read_through = False  # the upstream answer was read to its end
        self.inflater: Inflater | None = None  # the upstream compressed its answer
        self.live: Callable[[], bool] = lambda: True  # the client's token, not revoked
        self.idle = 60.0  # a policed stream's bound on waiting for progress (BYOK_TIMEOUT)
        self.watch: IdleWatch | None = None

    def settle(self, code: str) -> Awaitable[None]:
        """The usage row of a policed request (nothing for a passed-through one), once:
        queued now, done when it is committed (the answer's end waits for that)."""
        if self.settled:
            return _DONE
        self.settled = True
        if self.spec is None:
            self.policy.release(self.hold)
            return _DONE
        a, u = self.policy.attempt, self.usage
        model = u.model or self.spec.model
        if u.input_tokens is not None and u.output_tokens is not None:  # as run books them
            u.input_tokens, u.output_tokens, u.cached_input_tokens = self.policy.bounded(
                a, u.input_tokens, u.output_tokens, u.cached_input_tokens,
                self.spec.max_tokens, model=model)
        cost = self.policy.cost(a, u.input_tokens, u.output_tokens, u.cached_input_tokens,
                                model=model)
        if cost is None and self.hold is not None and code != "BUDGET_EXCEEDED":
            cost = self.policy.held_micros  # no usage in the answer: its worst case
        end = time.monotonic()
        try:
            row = self.policy.usage_row(
                a, self.started, code, model=model,
                tokens=(u.input_tokens, u.output_tokens, u.cached_input_tokens),
                ttft_ms=None if self.first_at is None else
                int((self.first_at - self.clock) * 1000),
                latency_ms=int((end - self.clock) * 1000), cost=cost)
        except ByokError as err:
            self.policy.spending.on_warning(f"a request is missing from the usage log: "
                                            f"{err.message}")
            return _DONE
        return self.log.add(row, self.hold)


def _plan(keychain: Keychain, record: Provider, model: str | None):
    """routing's plan for a request to ``record`` (its keys in order, and where they go),
    kept while the reads it is made of are (reads.KeptReads)."""
    def compute():
        plan = provider_plan(keychain, record.name, model)
        settings = keychain.store.settings(keychain.profile)
        plan.endpoints[record.name] = endpoint(record,
                                               profile=settings["base_urls"].get(record.name))
        return plan

    kept = getattr(keychain.store, "kept", None)
    return compute() if kept is None else kept(("plan", record.name, model), compute)


class _Done:
    def __await__(self):
        return iter(())


_DONE = _Done()  # a settlement with nothing to wait for


def upstream_headers(request: web.Request, auth: dict[str, str], spec: Policed | None
                     ) -> dict[str, str]:
    out = {k: v for k, v in request.headers.items()
           if k.lower() not in HOP_BY_HOP and k.lower() not in AUTH_HEADERS}
    present = {k.lower() for k in out}
    for k, v in auth.items():
        if k.lower() == "anthropic-version" and k.lower() in present:
            continue  # the client's own API version stands
        out[k] = v
    # byok masks the key in the answer and reads its usage: have it sent uncompressed
    for k in [k for k in out if k.lower() == "accept-encoding"]:
        del out[k]
    out["Accept-Encoding"] = "identity"
    return out


def error_response(api: str, status: int, message: str) -> web.Response:
    return web.Response(status=status, body=error_body(api, status, message),
                        content_type="application/json")


async def forward(request: web.Request, upstream: Upstream, keychain: Keychain,
                  record: Provider, token_name: str, body: bytes,
                  on_warning: Callable[[str], None], log: UsageLog,
                  live: Callable[[], bool] = lambda: True) -> web.StreamResponse:
    try:
        # policy is decided on the path the upstream receives, not on how it was spelled
        tail, query = upstream_path(request.raw_path, record.name)
        query = without_tokens(query)
        spec = policed(record.api, request.method, unquote(tail), body)
        ex = Exchange(keychain, record, token_name, spec, on_warning, log)
        ex.live, ex.idle = live, upstream.settings.timeout
    except ByokError as err:  # with what to do about it (a key to store, a setting)
        return error_response(record.api, STATUS.get(err.code, 502), err.one_line())
    while True:
        a = ex.policy.attempt
        try:
            where = ex.policy.where(a)
            ex.key = ex.policy.key(a)
            if spec is not None:
                ex.hold = ex.policy.hold(a, spec.system, spec.messages, spec.max_tokens,
                                         model=spec.model)
            url = where.url.rstrip("/") + "/" + tail + ("?" + query if query else "")
            auth = connect(record, ex.key, where.url, upstream.settings).auth_headers(ex.key)
            up = await upstream.session.request(  # as it is: already resolved and encoded
                request.method, URL(url, encoded=True), data=body if body else None,
                allow_redirects=False,
                headers=upstream_headers(request, auth, spec), **upstream.route(url))
        except ByokError as err:
            failed = err
            if err.code == Code.BUDGET_EXCEEDED and spec is not None:  # unpriced: a typo?
                failed = typo(keychain, record.name, spec.model) or err
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            failed = ByokError(Code.NETWORK_ERROR, f"could not reach {record.name}: "
                               f"{type(exc).__name__}", provider=record.name)
        else:
            failed = encoding(up, ex)
            if failed is None:
                failed = await _rejected(up, ex)
            if failed is None:
                return await _relay(request, up, ex)
        if ex.policy.failed(failed) is None:
            sent = isinstance(failed, _Rejection) or failed.code == Code.NETWORK_ERROR
            if sent:
                await ex.settle(failed.code.value)
            else:  # nothing went upstream: no usage row, as for `run`
                ex.policy.release(ex.hold)
            if isinstance(failed, _Rejection):  # the provider's own answer, as it gave it
                return failed.response
            return error_response(record.api, STATUS.get(failed.code, 502), failed.one_line())
        ex.policy.release(ex.hold)
        ex.hold = None


class _Rejection(ByokError):
    """An upstream error answer: a fallback may follow; if none does, it is the answer."""

    def __init__(self, err: ByokError, response: web.Response):
        super().__init__(err.code, err.message, provider=err.provider)
        self.response = response


async def _rejected(up: aiohttp.ClientResponse, ex: Exchange) -> _Rejection | None:
    """A key rejection that another key may answer, read whole; None to relay ``up``."""
    if up.status not in (401, 402, 403) or ex.policy.attempt.key_source == "none":
        return None
    try:
        data = await up.content.read(MAX_ERROR_BODY)
    finally:
        up.release()
    try:
        data = inflated(data, ex.inflater, MAX_ERROR_BODY)
    except ByokError as err:
        return _Rejection(err, error_response(ex.record.api, 502, err.message))
    try:
        parsed = loads(data, "the error body")
    except (ValueError, LimitExceeded):
        parsed = data.decode("utf-8", "replace")
    err = classify(ex.record.name, up.status, parsed, headers=up.headers)
    if err.code not in KEY_REJECTED:
        err = ByokError(Code.BAD_REQUEST, err.message)
    response = web.Response(status=up.status, body=masked(data, ex.key, thorough=True),
                            headers=_down_headers(up, ex))
    return _Rejection(err, response)


def _down_headers(up: aiohttp.ClientResponse, ex: Exchange) -> dict[str, str]:
    """The answer's headers for the client, each value masked as an error body is (a
    hostile upstream may echo the key in any header); Content-Encoding dropped when the
    body is inflated here."""
    out = {}
    for k, v in up.headers.items():
        low = k.lower()
        if low in HOP_BY_HOP or (low == "content-encoding" and ex.inflater is not None):
            continue
        out[k] = masked_header(v, ex.key)
    return out


async def _relay(request: web.Request, up: aiohttp.ClientResponse, ex: Exchange
                 ) -> web.StreamResponse:
    """The answer, relayed; its usage row is committed before its end leaves (a whole
    answer's before any of it: the middleware sends it whole once this returns)."""
    code = "OK" if up.status < 400 else f"HTTP_{up.status}"
    length = up.content_length
    # byok reads a policed answer (usage, cost, masking): within its own limits, a whole
    # one (not an event stream) read whole first, so that one past them is refused whole
    deltas = (DeltaMasker(ex.spec.kind, ex.spec.choices) if ex.spec is not None and up.status < 400
              else None)
    # a stream asked for is read as one, whatever type the upstream says it is (clients
    # read it so, by the request's flag)
    events = up.content_type == "text/event-stream" or (deltas is not None and ex.spec.stream)
    try:
        if ((length is not None and length <= MAX_WHOLE_BODY)
                or (deltas is not None and not events)):
            try:
                data = inflated(await read_whole(up, ex), ex.inflater, MAX_BODY)
                if deltas is not None and events:
                    StreamScanner(ex.usage).feed(data + b"\n")
                    data = deltas.feed(data) + deltas.end()
                elif deltas is not None:
                    read_usage(ex.usage, data)
            except LimitExceeded as exc:
                code = Code.LIMIT_EXCEEDED.value
                return error_response(ex.record.api, 502, exc.detail)
            except ByokError as err:
                code = err.code.value
                return error_response(ex.record.api, 502, err.message)
            return web.Response(status=up.status, headers=_down_headers(up, ex),
                                body=masked(data, ex.key, thorough=up.status >= 400))
        response, code = await _stream(request, up, ex, code,
                                       deltas if events else None)
        return response
    finally:
        if ex.watch is not None:
            ex.watch.cancel()
        if ex.read_through:
            up.release()  # its connection goes back to the pool
        else:
            up.close()  # the client left or the upstream broke: drop the connection
        await ex.settle(code)


async def _stream(request: web.Request, up: aiohttp.ClientResponse, ex: Exchange,
                  code: str, deltas: DeltaMasker | None = None
                  ) -> tuple[web.StreamResponse, str]:
    """The answer passed on as it arrives, but for its end (the caller's, once the usage
    row is in); with the code its usage row is settled with."""
    response = web.StreamResponse(status=up.status, headers=_down_headers(up, ex))
    await response.prepare(request)
    scanner = StreamScanner(ex.usage) if ex.spec is not None else None
    masker, thorough = KeyMasker(ex.key), up.status >= 400
    if deltas is not None:  # (cancelled with the relay's end)
        ex.watch = IdleWatch(up, deltas, ex.idle, ex.record.name)
    while True:
        try:
            chunk = await up.content.readany()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            # the upstream broke off, or kept the request open without progress: end the
            # stream the way the API reports errors
            try:
                held = masker.feed(deltas.end()) if deltas is not None else b""
            except LimitExceeded:  # (the unended event is dropped: the error says why)
                held = b""
            why = (ex.watch.why if ex.watch is not None and ex.watch.stalled else
                   f"the connection to {ex.record.name} broke mid-answer")
            await _write(response, held + masker.end() + stream_error(ex.record.api, why))
            return response, Code.NETWORK_ERROR.value
        if not chunk:
            ex.read_through = True
            break
        if not ex.live():  # revoked (or expired) mid-stream: ended as the API ends errors
            await _write(response, stream_error(ex.record.api, "the client token was "
                                                "revoked or has expired", 401))
            return response, Code.INTERRUPTED.value
        if ex.inflater is not None:
            try:
                chunk = inflated(chunk, ex.inflater, MAX_BODY)
            except ByokError as err:
                await _write(response, masker.end() + stream_error(ex.record.api, err.message))
                return response, err.code.value
        if ex.first_at is None:
            ex.first_at = time.monotonic()
        if scanner is not None:
            scanner.feed(chunk)
        if deltas is not None:
            try:
                chunk = deltas.feed(chunk)
            except LimitExceeded as exc:  # an event past byok's limits: not passed on
                before = masker.feed(getattr(exc, "read_before", b"")) + masker.end()
                await _write(response, before + stream_error(ex.record.api, exc.detail))
                return response, Code.LIMIT_EXCEEDED.value
        out = masker.feed(chunk)
        if out and not await _write(response, masked(out, ex.key, thorough) if thorough
                                    else out):
            return response, Code.INTERRUPTED.value  # the client left: upstream dropped
    try:
        rest = (masker.feed(deltas.end()) if deltas is not None else b"") + masker.end()
    except LimitExceeded as exc:  # the last event, unended, was one byok refuses
        await _write(response, masker.end() + stream_error(ex.record.api, exc.detail))
        return response, Code.LIMIT_EXCEEDED.value
    if rest:
        await _write(response, masked(rest, ex.key, thorough) if thorough else rest)
    return response, code


async def _write(response: web.StreamResponse, data: bytes) -> bool:
    try:
        await response.write(data)
        return True
    except (ConnectionError, aiohttp.ClientError, RuntimeError):
        return False
