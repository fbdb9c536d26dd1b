"""The gateway's HTTP side: a loopback listener, guards, and one route per provider.

Kept thin, as aws-vault's credential server is: the guards (Host, Origin, limits, the client
token) wrap one handler, which asks `passthrough` (and through it `routing`) what to do.
"""

from __future__ import annotations

import asyncio
import copy
import errno
import json
import logging
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, TextIO

from aiohttp import web

from ..errors import ByokError, Code
from ..secrets.keychain import Keychain
from ..wire import limits
from ..wire.types import Settings
from . import tokens
from .connection import Connection
from .passthrough import Upstream, error_response, forward
from .reads import KeptReads
from .usage_log import UsageLog

LOOPBACK = {"127.0.0.1": "127.0.0.1", "::1": "::1", "localhost": "127.0.0.1"}


@dataclass
class Limits:
    """What one client may take (the numbers' home is wire/limits.py). Each is answered with
    its status code, never by dying."""

    max_body: int = limits.GATEWAY_MAX_BODY
    max_header: int = limits.GATEWAY_MAX_HEADER
    max_headers: int = limits.GATEWAY_MAX_HEADERS
    head_deadline: float = limits.GATEWAY_HEAD_DEADLINE
    body_deadline: float = limits.GATEWAY_BODY_DEADLINE
    idle: float = limits.GATEWAY_IDLE
    max_active: int = limits.GATEWAY_MAX_ACTIVE
    drain: float = limits.GATEWAY_DRAIN

    @classmethod
    def from_env(cls, env=None) -> "Limits":
        """BYOK_GATEWAY_MAX_BODY, _HEAD_TIMEOUT, _BODY_TIMEOUT, _IDLE, _MAX_ACTIVE, _DRAIN."""
        from ..inputs import env_number

        d = cls()
        return cls(
            max_body=env_number("BYOK_GATEWAY_MAX_BODY", d.max_body, kind=int, low=1024,
                                high=1 << 30, env=env),
            head_deadline=env_number("BYOK_GATEWAY_HEAD_TIMEOUT", d.head_deadline, low=0.1,
                                     env=env),
            body_deadline=env_number("BYOK_GATEWAY_BODY_TIMEOUT", d.body_deadline, low=0.1,
                                     env=env),
            idle=env_number("BYOK_GATEWAY_IDLE", d.idle, low=0.1, env=env),
            max_active=env_number("BYOK_GATEWAY_MAX_ACTIVE", d.max_active, kind=int, low=1,
                                  high=1 << 20, env=env),
            drain=env_number("BYOK_GATEWAY_DRAIN", d.drain, env=env))


@dataclass
class Gateway:
    keychain: Keychain
    host: str = "127.0.0.1"
    port: int = 0
    limits: Limits = field(default_factory=Limits.from_env)
    request_log: TextIO | None = None
    on_warning: Callable[[str], None] = lambda s: None
    only_token: str | None = None    # exec --gateway: the one token this gateway answers

    def __post_init__(self):
        # its own keychain, whose store keeps what every request reads between changes
        self.keychain = copy.copy(self.keychain)
        self.keychain.store = KeptReads(  # type: ignore[assignment]
            self.keychain.store, on_change=self.keychain.forget_registry)  # providers too
        if self.host not in LOOPBACK:
            raise ByokError(Code.USAGE, f"the gateway binds loopback only, not {self.host!r}",
                            hint="--host 127.0.0.1, ::1 or localhost; for a team, add a "
                                 "LiteLLM proxy with `byok provider add`")
        self.upstream = Upstream(Settings.from_env(self.keychain.env), self.keychain.env)
        self.usage_log: UsageLog | None = None  # its writer thread, from start() to stop()
        self.active = 0
        self._used: dict[str, tuple[int, float]] = {}
        self._server: asyncio.AbstractServer | None = None
        self._runner: web.AppRunner | None = None

    # -- addresses ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _hosts(self) -> set[str]:
        names = {"127.0.0.1", "localhost", "[::1]"}
        found = {f"{n}:{self.port}" for n in names}
        return found | (names if self.port == 80 else set())

    def providers(self) -> list[dict]:
        """One entry per provider with a key to send: its URL here, and what to set."""
        from ..routing.keys import key_availability

        settings = self.keychain.store.settings(self.keychain.profile)
        keys = key_availability(self.keychain)
        out = []
        for p in self.keychain.registry:
            found = keys.sources(p.name, settings)
            if found and found[0].source != "none":
                out.append({"provider": p.name, "api": p.api, "base_url": f"{self.url}/{p.name}",
                            "base_url_env": p.base_url_env, "key_env": p.key_env})
        return out

    # -- serving ----------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.limits.max_body, middlewares=[self._guard])
        app.router.add_route("*", "/{provider}/{tail:.*}", self._handle)
        app.router.add_route("*", "/{provider}", self._handle)
        return app

    async def start(self) -> None:
        # aiohttp's own log quotes what a malformed request sent (a token among it): the
        # client gets its 400, and nothing of it is printed here.
        quiet = logging.getLogger("aiohttp")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        _more_files()  # each open stream takes two descriptors: the client's and upstream's
        await self.upstream.open()
        self.usage_log = UsageLog(self.keychain.store, self.on_warning)  # type: ignore[arg-type]
        self.keychain.store.writer = self.usage_log  # type: ignore[attr-defined]
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=self.limits.drain)
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in LOOPBACK[self.host] else socket.AF_INET
        try:
            self._server = await loop.create_server(
                self._connection, LOOPBACK[self.host], self.port, family=family,
                backlog=1024, reuse_address=True)
        except OSError as exc:
            self._close_usage_log()
            await self.upstream.close()
            await self._runner.cleanup()
            busy = exc.errno == errno.EADDRINUSE
            raise ByokError(Code.USAGE, f"port {self.port} is busy (another gateway?)" if busy
                            else f"cannot listen on {self.host}:{self.port}: {exc.strerror}",
                            hint="choose another with --port, or --port 0 for a free one"
                            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        self._flusher = asyncio.ensure_future(self._flush_usage_counts())

    def _connection(self) -> Connection:
        return Connection(self._runner.server, loop=asyncio.get_running_loop(),
                          head_deadline=self.limits.head_deadline, api_of=self._api_of,
                          max_field_size=self.limits.max_header,
                          max_line_size=self.limits.max_header,
                          max_headers=self.limits.max_headers,
                          keepalive_timeout=self.limits.idle, access_log=None)

    async def stop(self) -> None:
        """Stop accepting, let open requests finish (up to the drain limit), then close."""
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._flusher.cancel()
        self._flush()
        self._close_usage_log()
        await self.upstream.close()

    async def serve(self, on_ready: Callable[["Gateway"], None] = lambda gw: None,
                    stop_on: tuple = (signal.SIGINT, signal.SIGTERM)) -> None:
        """Start, call ``on_ready``, and serve until one of ``stop_on`` arrives (their
        handlers are in place before anyone is told where the gateway is)."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in stop_on:
            loop.add_signal_handler(sig, stopping.set)
        try:
            await self.start()
            try:
                on_ready(self)
                await stopping.wait()
            finally:
                await self.stop()
        finally:
            for sig in stop_on:
                loop.remove_signal_handler(sig)

    # -- the guards -------------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler):
        connection = request.protocol
        if isinstance(connection, Connection):
            connection.head_arrived(request)
        try:
            response = await self._guarded(request, handler)
            # Sent whole here, so that once `request_done` is told, nothing is in flight.
            await response.prepare(request)
            await response.write_eof()
            return response
        finally:
            if isinstance(connection, Connection):
                connection.request_done()

    async def _guarded(self, request: web.Request, handler) -> web.StreamResponse:
        api = self._api_of(request.path)
        host = request.headers.get("Host", "")
        if host.lower() not in self._hosts():
            return self._logged(request, None, error_response(
                api, 403, "this gateway answers only requests addressed to this machine "
                "(Host)"))
        origins = request.headers.getall("Origin", ())  # two: not a browser's; refused
        if request.method == "OPTIONS" or len(origins) > 1 or (origins and origins[0].lower()
                                                                not in self._origins()):
            return self._logged(request, None, error_response(
                api, 403, "browser requests from other origins are refused"))
        if self.active >= self.limits.max_active:
            response = error_response(api, 503, "the gateway is at its limit of requests in "
                                                "flight; try again")
            response.headers["Retry-After"] = "1"
            return self._logged(request, None, response)
        self.active += 1
        try:
            return await handler(request)
        except web.HTTPException as exc:  # aiohttp's own refusals, in the API's shape
            return self._logged(request, None, error_response(
                api, exc.status, f"{exc.reason}: the gateway's URLs are {self.url}/PROVIDER/..."
                if exc.status == 404 else exc.reason))
        finally:
            self.active -= 1

    def _origins(self) -> set[str]:
        return {f"http://{h}" for h in self._hosts()}

    def _api_of(self, path: str) -> str:
        name = path.strip("/").split("/", 1)[0]
        found = self.keychain.registry.get(name)
        return found.api if found else "openai"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        name = request.match_info["provider"]
        self.keychain.store.fresh()  # KeptReads: what another process changed since
        record = self.keychain.registry.get(name)
        if record is None:
            return self._logged(request, None, error_response(
                "openai", 404, f"no provider called {name!r}: the gateway's URLs are "
                f"{self.url}/PROVIDER"), started)
        presented = tokens.presented(request.headers)
        if (self.only_token is not None and presented is not None
                and not tokens.same(presented, self.only_token)):
            presented = "-"  # not this run's token: refused below like any unknown one
        verdict = tokens.check(self.keychain.store, self.keychain.profile, presented, name)
        if verdict.status != 200:
            return self._logged(request, verdict.token, error_response(
                record.api, verdict.status, verdict.reason), started)
        token = verdict.token
        count, _ = self._used.get(token.name, (0, 0.0))
        self._used[token.name] = (count + 1, time.time())
        try:
            body = await asyncio.wait_for(request.read(), self.limits.body_deadline)
        except web.HTTPRequestEntityTooLarge:
            return self._logged(request, token, error_response(
                record.api, 413, f"the request is larger than the gateway's limit "
                f"({self.limits.max_body} bytes)"), started)
        except asyncio.TimeoutError:
            response = error_response(record.api, 408, "the request body did not arrive in time")
            response.force_close()  # the rest of the body is not waited for
            return self._logged(request, token, response, started)
        response = await forward(request, self.upstream, self.keychain, record, token.name,
                                 body, self.on_warning, self.usage_log,
                                 tokens.StillLive(self.keychain.store, token))
        return self._logged(request, token, response, started)

    def _logged(self, request: web.Request, token, response: web.StreamResponse,
                started: float | None = None) -> web.StreamResponse:
        """The request log (off by default): method, path, token name, status, timings;
        never a body, a query string, a header, a token or a key."""
        if self.request_log is not None:
            line = {"at": round(time.time(), 3), "method": request.method,
                    "path": tokens.hidden(request.path),
                    "token": token.name if token else None,
                    "status": response.status,
                    "ms": None if started is None else
                    round((time.monotonic() - started) * 1000, 1)}
            try:
                self.request_log.write(json.dumps(line) + "\n")
                self.request_log.flush()
            except (OSError, ValueError):
                pass
        return response

    def _close_usage_log(self) -> None:
        """Commit what is queued; the gateway's writes go through its own connection again."""
        if self.usage_log is not None:
            self.usage_log.close()
            self.keychain.store.writer = None  # type: ignore[attr-defined]
            self.usage_log = None

    # -- bookkeeping --------------------------------------------------------------------------
    async def _flush_usage_counts(self) -> None:
        """Tokens' request counts and last use, written once a second rather than per
        request (a write per request would be the gateway's largest cost)."""
        while True:
            await asyncio.sleep(1.0)
            self._flush()

    def _flush(self) -> None:
        used, self._used = self._used, {}
        for name, (count, at) in used.items():
            try:
                self.keychain.store.token_used(self.keychain.profile, name, at, count)
            except ByokError as err:
                self.on_warning(f"could not record the use of token {name!r}: {err.message}")


def _more_files() -> None:
    """Raise the soft limit on open files to the hard one (commonly 1,024 of 524,288)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 16
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (OSError, ValueError):
            pass


def run(gateway: Gateway, on_ready: Callable[[Gateway], None]) -> None:
    """Start ``gateway``, call ``on_ready``, serve until SIGINT or SIGTERM, drain, return."""
    serve_until_done(gateway.serve(on_ready))
    sys.stdout.flush()


def serve_until_done(main) -> None:
    """Run ``main`` on uvloop where it is installed (a dependency off Windows): its event
    loop and sockets are libuv's, in C, and the gateway's CPU per request is mostly the
    loop's and the sockets' (benchmarks/gateway.py: about a fifth less CPU per streamed
    request); else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)
