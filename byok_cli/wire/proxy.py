"""Which proxy a request goes through: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY.

Lower-case variables win over upper-case ones, as with curl and urllib; under CGI,
HTTP_PROXY is a request header ("httpoxy") and is ignored, as urllib ignores it. NO_PROXY
entries are host names (matching their subdomains too, with or without a leading dot or
*.), IP addresses, CIDR blocks, optionally with a :port, or * for everything. Loopback
hosts never go through a proxy. Only http:// proxies are spoken to; https requests go
through them in a CONNECT tunnel, so the proxy never sees a key.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from ..errors import ByokError, Code
from ..records import tuple_record
from ..urls import is_loopback, port_of  # one definition each (is_loopback re-exported)


@tuple_record
class Proxy:
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization header, from user:password@ in the URL

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def _env(env: Mapping[str, str], name: str) -> str:
    # Lower case first (curl and urllib agree). Under CGI, HTTP_PROXY is a request header
    # ("httpoxy"), so it is ignored there as urllib ignores it.
    value = env.get(name.lower())
    if value is None and not (name == "HTTP_PROXY" and "REQUEST_METHOD" in env):
        value = env.get(name)
    return (value or "").strip()


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, want_port = entry, None
        if entry.startswith("[") and "]" in entry:  # [::1]:8080
            name, _, rest = entry[1:].partition("]")
            want_port = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:
            name, want_port = entry.split(":")
        if want_port and want_port != str(port):
            continue
        name = name.lstrip("*").lstrip(".").rstrip(".")
        if "/" in name:
            if _in_network(host, name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def _in_network(host: str, cidr: str) -> bool:
    import ipaddress  # only NO_PROXY entries with a '/' need it

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _source(env: Mapping[str, str], scheme: str) -> str:
    """The variable the proxy URL came from, spelled as it was set (lower case wins)."""
    for name in (f"{scheme.upper()}_PROXY", "ALL_PROXY"):
        if _env(env, name):
            return name.lower() if (env.get(name.lower()) or "").strip() else name
    return f"{scheme.upper()}_PROXY"


def proxy_for(scheme: str, host: str, port: int,
              env: Mapping[str, str] | None = None) -> Proxy | None:
    env = os.environ if env is None else env
    if is_loopback(host):
        return None
    url = _env(env, f"{scheme.upper()}_PROXY") or _env(env, "ALL_PROXY")
    if not url or _bypassed(host, port, _env(env, "NO_PROXY")):
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ByokError(Code.USAGE, f"unsupported proxy {parts.scheme}://{parts.hostname or ''} "
                        f"(from {_source(env, scheme)})",
                        hint="byok speaks to http:// proxies (https goes through them in a "
                             "CONNECT tunnel)")
    proxy_port = port_of(parts, f"the proxy URL in {_source(env, scheme)}") or 80
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    return Proxy(parts.hostname, proxy_port, auth)
