"""The unlock agent: after `byok unlock`, a small process of the user's own holds the master
key in memory for a while and hands it to the same user's byok processes over a Unix socket.

- The socket is ``$XDG_RUNTIME_DIR/byok-<id>.sock`` (a private, per-login directory) or, without
  one, ``agent.sock`` in the data dir; 0600, and each peer's uid is checked (SO_PEERCRED):
  another user's process gets no answer. byok checks the agent's uid in turn.
- The agent never writes the key: it forks from `byok unlock` (nothing passes through argv,
  the environment or a file), is non-dumpable (no core file, no ptrace or /proc/PID/mem by
  others), locks its memory out of swap where the system allows, and exits at its TTL, on
  `byok lock`, on SIGTERM/SIGINT/SIGHUP, or as soon as its socket is removed or replaced (a
  second `byok unlock` takes over).
- A new agent binds a socket of its own name, then renames it into place, so a client sees
  the old agent, the new one, or none: never a socket that does not answer yet.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import signal
import socket
import struct
import time
from pathlib import Path
from typing import Iterator

from ..errors import ByokError, Code
from .vault import MasterKey

SOCKET_NAME = "agent.sock"
ANSWER_WAIT = 5.0    # a client's wait for the agent's answer
REQUEST_WAIT = 2.0   # the agent's wait for a request once connected
MAX_LINE = 256


def socket_path(data_dir: Path, env=None) -> Path:
    """Where the agent for this data dir listens."""
    env = os.environ if env is None else env
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and _private_dir(Path(runtime)):
        tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
        return Path(runtime) / f"byok-{tag}.sock"
    return data_dir / SOCKET_NAME


def _private_dir(path: Path) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return path.is_dir() and st.st_uid == os.geteuid() and not st.st_mode & 0o077


@contextlib.contextmanager
def _short(path: Path) -> Iterator[str]:
    """A name for ``path`` that fits a socket address (108 bytes): itself, or reached through
    a descriptor of its directory (/proc/self/fd/N/name) when it is too long."""
    if len(os.fsencode(str(path))) < 100 or not os.path.isdir("/proc/self/fd"):
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def _peer_uid(conn: socket.socket) -> int | None:
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if so_peercred is None:
        return None
    creds = conn.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _locked(path: Path, why: str) -> ByokError:
    return ByokError(Code.KEYRING_UNAVAILABLE, f"the vault is locked ({why})",
                     hint="run `byok unlock` (your passphrase opens it for a while)")


# --- client -------------------------------------------------------------------------

def ask(path: Path, request: str) -> str:
    """Send one request to the agent; its answer. A locked error when none answers."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(ANSWER_WAIT)
        try:
            with _short(path) as name:
                conn.connect(name)
        except (FileNotFoundError, ConnectionRefusedError):
            raise _locked(path, "no unlock agent is running") from None
        except OSError as exc:
            raise _locked(path, f"the agent's socket {path} cannot be reached: "
                          f"{exc.strerror or type(exc).__name__}") from None
        uid = _peer_uid(conn)
        if uid is not None and uid != os.geteuid():
            raise ByokError(Code.KEYRING_UNAVAILABLE, f"the process behind {path} is not "
                            f"yours (uid {uid}); byok did not ask it for the master key",
                            hint="remove that socket and run `byok unlock`")
        try:
            conn.sendall(request.encode() + b"\n")
            answer = _read_line(conn)
        except (OSError, ValueError):
            raise _locked(path, "the unlock agent did not answer") from None
    finally:
        conn.close()
    if not answer.startswith("ok"):
        raise _locked(path, answer.partition(" ")[2] or "the unlock agent refused")
    return answer[2:].strip()


def master_key(path: Path) -> tuple[MasterKey, float]:
    """The master key the agent holds, and when it expires (epoch seconds)."""
    value, _, expires = ask(path, "get").partition(" ")
    try:
        key = base64.urlsafe_b64decode(value)
        until = float(expires)
    except ValueError:
        raise _locked(path, "the unlock agent answered nonsense") from None
    if len(key) != 32:
        raise _locked(path, "the unlock agent answered nonsense")
    return MasterKey(key, "agent"), until


def status(path: Path) -> dict | None:
    """What the agent says of itself (no key), or None when none answers."""
    try:
        mk_id, _, rest = ask(path, "status").partition(" ")
    except ByokError:
        return None
    expires, _, pid = rest.partition(" ")
    return {"master_key_id": mk_id, "expires": float(expires), "pid": int(pid or 0),
            "socket": str(path)}


def lock(path: Path) -> bool:
    """End the agent; whether one was running."""
    try:
        ask(path, "lock")
    except ByokError:
        return False
    return True


def _read_line(conn: socket.socket) -> str:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(MAX_LINE)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_LINE:
            raise ValueError("too long")
    return data.partition(b"\n")[0].decode("ascii")


# --- server -------------------------------------------------------------------------

def start(key: MasterKey, ttl: float, path: Path) -> int:
    """Start an agent holding ``key`` for ``ttl`` seconds at ``path`` (taking over from one
    already there); its pid. Call in the process that read the passphrase."""
    expires = time.time() + ttl
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        with _short(temp) as name:
            listener.bind(name)
    finally:
        os.umask(old_umask)
    os.chmod(temp, 0o600)
    listener.listen(64)
    inode = os.stat(temp).st_ino
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the first child: detach, fork the agent, leave
        os.close(read_end)
        try:
            os.setsid()
            agent_pid = os.fork()
            if agent_pid:
                os.write(write_end, str(agent_pid).encode())
                os._exit(0)
            os.close(write_end)
            _become_agent(listener, key, expires, path, temp, inode)
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    agent_pid = int(os.read(read_end, 32) or b"0")
    os.close(read_end)
    listener.close()
    os.replace(temp, path)  # the agent is listening already: no client sees a dead socket
    return agent_pid


def _become_agent(listener: socket.socket, key: MasterKey, expires: float, path: Path,
                  temp: Path, inode: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    keep = listener.fileno()  # the database and the rest of byok's descriptors go
    os.closerange(3, keep)
    os.closerange(keep + 1, 65536)
    os.chdir("/")
    get_answer = (f"ok {base64.urlsafe_b64encode(key.key).decode()} {expires:.0f}\n").encode()
    status_answer = f"ok {key.id} {expires:.0f} {os.getpid()}\n".encode()
    _lock_memory()
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    listener.settimeout(None)
    started = time.monotonic()
    try:
        while not stop["now"] and time.time() < expires and (
                _is(path, inode) or (_is(temp, inode) and time.monotonic() - started < 10)):
            import select

            ready, _, _ = select.select([listener], [], [], min(1.0, max(expires - time.time(),
                                                                         0.01)))
            if not ready:
                continue
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                if _serve_one(conn, get_answer, status_answer, expires) == "lock":
                    stop["now"] = True
                    break
        if not stop["now"]:  # replaced or removed: answer who connected before the switch
            _drain(listener, get_answer, status_answer, expires)
    finally:
        for mine in (path, temp):
            if _is(mine, inode):
                with contextlib.suppress(OSError):
                    os.unlink(mine)
        listener.close()


def _drain(listener: socket.socket, get_answer: bytes, status_answer: bytes,
           expires: float) -> None:
    """Serve the connections already waiting (a client that reached this agent just before a
    newer one took its name must not be left without an answer)."""
    listener.setblocking(False)
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.setblocking(True)
            if _serve_one(conn, get_answer, status_answer, expires) == "lock":
                return


def _is(path: Path, inode: int) -> bool:
    """Our socket is the one at ``path`` (a `byok lock`'s removal or a new agent's rename
    ends us: nobody can reach us any more)."""
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False


def _serve_one(conn: socket.socket, get_answer: bytes, status_answer: bytes,
               expires: float) -> str:
    conn.settimeout(REQUEST_WAIT)
    try:
        if _peer_uid(conn) not in (None, os.geteuid()):
            return "refused"  # another user's process: not a word
        request = _read_line(conn)
        if time.time() >= expires:
            conn.sendall(b"no expired\n")
            return "expired"
        if request == "get":
            conn.sendall(get_answer)
        elif request == "status":
            conn.sendall(status_answer)
        elif request == "lock":
            conn.sendall(b"ok\n")
            return "lock"
        else:
            conn.sendall(b"no unknown request\n")
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    return "served"


def _lock_memory() -> None:
    """Keep this process's pages (the key among them) out of swap, where allowed."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).mlockall(1)  # MCL_CURRENT
