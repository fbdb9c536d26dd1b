"""`-a/--attach PATH|URL|-`: read an attachment from a file, stdin or the web, bounded.

The type comes from the bytes (`wire.attachments.identify`), never from the name. Each is
at most `wire.attachments.MAX_ATTACHMENT` bytes (the largest any API documents), checked
before reading: a file by its size on disk, a download by its Content-Length and then as it
arrives. A URL is fetched by byok itself, not passed on, so that its type and size are
checked like a file's, it works with every API (Chat Completions takes no PDF by URL) and
a conversation keeps it for `-c`. The download is https (http only to this machine), with
no key or other credential, follows at most MAX_REDIRECTS redirects (never from elsewhere
to this machine, checked on the address connected to), and takes at most FETCH_DEADLINE
seconds.

Imported only when there is an attachment: `run` without `-a` never loads it.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO

from .errors import ByokError, Code
from .wire.attachments import MAX_ATTACHMENT, Attachment, identify

MAX_REDIRECTS = 5
FETCH_DEADLINE = 60.0
READ_DEADLINE = 10.0  # for a file that reports size 0
_MIB = 1024 * 1024


def load(source: str, stdin: BinaryIO | None = None) -> Attachment:
    """The attachment ``source`` names: ``-`` (stdin), an http(s) URL, or a file path."""
    if source == "-":
        return _from_stdin(stdin)
    if source.lower().startswith(("http://", "https://")):
        return fetch(source)
    return _from_file(source)


def too_big(name: str, size: int | None) -> ByokError:
    what = f"is {size / _MIB:.1f} MiB" if size is not None else "holds more than that"
    return ByokError(Code.ATTACHMENT_REFUSED, f"attachment {name} {what}: no API byok speaks "
                     f"takes one over {MAX_ATTACHMENT // _MIB} MiB; nothing was sent",
                     hint="make it smaller (fewer pages, a smaller image)")


def _from_file(path: str) -> Attachment:
    shown = path if len(path) <= 120 else path[:119] + "…"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ByokError(Code.USAGE, f"attachment {shown}: no such file",
                        hint="check the path (relative to the current directory); -a takes "
                             "a file, an http(s) URL, or - for stdin") from None
    except OSError as exc:
        raise ByokError(Code.USAGE, f"attachment {shown}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ByokError(Code.USAGE, f"attachment {shown} is a directory",
                        hint="attach the files in it one by one: -a FILE -a FILE")
    if not stat.S_ISREG(info.st_mode):
        # a FIFO or a device could block, or never end: give its content through stdin
        raise ByokError(Code.USAGE, f"attachment {shown} is not a regular file (a pipe, "
                        "device or socket)", hint=f"pipe it in instead: byok run -a - … < {shown}")
    if info.st_size > MAX_ATTACHMENT:  # before reading: a 2 GB file is never loaded
        raise too_big(shown, info.st_size)
    if _kernel_file(path):
        raise ByokError(Code.USAGE, f"attachment {shown} is a file the kernel makes up "
                        "(under /proc, /sys or /dev), not an image or a PDF",
                        hint="copy what you need into an ordinary file and attach that")
    data = _read_bounded(path, shown, info.st_size)
    if len(data) > MAX_ATTACHMENT:  # it grew while being read
        raise too_big(shown, None)
    return identify(data, os.path.basename(path) or shown)


def _kernel_file(path: str) -> bool:
    """Whether ``path`` lies in a kernel's pseudo-filesystem: its "regular" files report
    size 0 and may block on read (/proc/kmsg) or change the system when read."""
    real = os.path.realpath(path)
    return real.startswith(("/proc/", "/sys/", "/dev/")) and not real.startswith("/dev/shm/")


def _read_bounded(path: str, shown: str, size: int) -> bytes:
    """The file's bytes, read without blocking forever: opened non-blocking (a file that
    would block says so), and a file reporting size 0 (a pseudo-file elsewhere, on FUSE)
    is read within READ_DEADLINE seconds."""
    def read() -> bytes:  # os.read: EAGAIN raises BlockingIOError (a buffered read: None)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            chunks, left = [], MAX_ATTACHMENT + 1
            while left > 0:
                chunk = os.read(fd, min(left, _MIB))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    try:
        if size:
            return read()
        import threading

        got: list = []

        def reader() -> None:
            try:
                got.append(read())
            except BaseException as exc:  # handed to the waiting thread
                got.append(exc)

        # a daemon thread: one blocked in read() does not keep byok from exiting
        worker = threading.Thread(target=reader, daemon=True)
        worker.start()
        worker.join(READ_DEADLINE)
        if not got:
            raise ByokError(Code.USAGE, f"attachment {shown}: reading it did not end within "
                            f"{READ_DEADLINE:.0f} s (a special file?); nothing was sent",
                            hint="copy what you need into an ordinary file and attach that")
        if isinstance(got[0], BaseException):
            raise got[0]
        return got[0]
    except BlockingIOError:
        raise ByokError(Code.USAGE, f"attachment {shown}: reading it would wait for more "
                        "data (a special file); nothing was sent") from None
    except OSError as exc:
        raise ByokError(Code.USAGE, f"attachment {shown}: cannot read it "
                        f"({exc.strerror or exc})") from None


def _from_stdin(stdin: BinaryIO | None) -> Attachment:
    stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise ByokError(Code.USAGE, "-a -: there is no stdin to read the attachment from")
    try:
        if os.isatty(stream.fileno()):
            raise ByokError(Code.USAGE, "-a - reads the attachment from stdin, which is a "
                            "terminal", hint="byok run -a - \"describe it\" < picture.png")
    except (AttributeError, OSError, ValueError):
        pass  # not a file descriptor (a test's BytesIO, an API caller's stream)
    data = stream.read(MAX_ATTACHMENT + 1)
    if len(data) > MAX_ATTACHMENT:
        raise too_big("from stdin", None)
    return identify(data, "stdin")


# --------------------------------------------------------------------------- fetch
def _checked_url(url: str, first: str | None = None) -> str:
    """``url`` if byok may download an attachment from it; a usage error otherwise."""
    from urllib.parse import urlsplit

    from .urls import check, is_loopback, shown

    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        raise ByokError(Code.USAGE, f"attachment URL {shown(url)!r} is not a URL") from None
    if parts.scheme.lower() == "http" and not is_loopback(host):
        raise ByokError(Code.USAGE, f"attachment URL {shown(url)}: plain http beyond this "
                        "machine is refused (only https, or http to 127.0.0.1, ::1, "
                        "localhost)", hint="use its https:// address")
    if first is not None and is_loopback(host) and not is_loopback(urlsplit(first).hostname):
        raise ByokError(Code.USAGE, f"attachment URL {shown(first)} redirects to this machine "
                        f"({shown(url)}); refused, so no local service's data is sent on")
    return check(url, "attachment URL")


def fetch(url: str) -> Attachment:
    """Download one attachment (see the module's docstring for the bounds)."""
    from urllib.parse import urljoin, urlsplit

    from .urls import is_loopback, shown
    from .version import __version__
    from .wire import Settings
    from .wire import transport
    from .wire.transport import TransportError

    first = _checked_url(url)
    settings = Settings.from_env()
    settings = settings._replace(deadline=min(settings.deadline, FETCH_DEADLINE),
                                 max_retries=0)
    headers = {"User-Agent": f"byok/{__version__}",
               "Accept": "image/png, image/jpeg, image/gif, image/webp, application/pdf",
               "Accept-Encoding": "identity"}
    current = first
    # After a redirect from elsewhere, the connection itself must not reach this machine,
    # however the host is written or what it resolves to (not only what _checked_url sees).
    first_is_local = is_loopback(urlsplit(first).hostname)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            resp = transport.request("GET", current, headers, None, settings,
                                     local_ok=current == first or first_is_local)
            if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("location"):
                resp.close()
                current = _checked_url(urljoin(current, resp.headers["location"]), first)
                continue
            if resp.status != 200:
                resp.close()
                raise ByokError(Code.NETWORK_ERROR, f"attachment URL {shown(current)} "
                                f"answered {resp.status}; nothing was sent",
                                hint="check the URL in a browser, or download the file and "
                                     "attach it with -a PATH")
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_ATTACHMENT:
                resp.close()
                raise too_big(shown(current), int(declared))
            try:
                data = resp.read(MAX_ATTACHMENT)
            except TransportError as exc:
                if exc.kind == "too_large":
                    raise too_big(shown(current), None) from None
                raise
            name = os.path.basename(urlsplit(current).path) or urlsplit(current).hostname
            return identify(data, name or "download")
        raise ByokError(Code.NETWORK_ERROR, f"attachment URL {shown(first)} redirected more "
                        f"than {MAX_REDIRECTS} times; nothing was sent")
    except TransportError as exc:
        if exc.kind == "local":
            raise ByokError(Code.USAGE, f"attachment URL {shown(first)} redirects to this "
                            f"machine ({shown(current)}: {exc.detail}); refused, so no local "
                            "service's data is sent on") from None
        raise ByokError(Code.NETWORK_ERROR, f"could not download attachment "
                        f"{shown(first)}: {exc.detail}; nothing was sent") from None
