"""The master key (OS keyring or ``BYOK_MASTER_KEY``) and the AES-256-GCM envelope.

Envelope layout (bytes)::

    b"\\x01" | master key id (8 bytes) | nonce (12 bytes) | ciphertext + 16-byte tag

The associated data binds a ciphertext to its profile, provider, shown hint and key name,
so a ciphertext copied to another row or profile fails to decrypt.

``keyring`` and ``cryptography`` are imported only when a key is actually encrypted or
decrypted, so commands that only list things start fast.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from collections.abc import Callable, Iterator

from ..errors import ByokError, Code, remember_secret
from ..records import tuple_record
from .key_reports import MASTER_KEY_VARIABLES  # noqa: F401 (vault.MASTER_KEY_VARIABLES)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")  # in annotations only

SERVICE = "byok"
ENVELOPE_VERSION = 1
_NONCE_LEN = 12
_ID_LEN = 8
_HEADER_LEN = 1 + _ID_LEN + _NONCE_LEN


def make_key_command(variable: str = "BYOK_MASTER_KEY") -> str:
    """A shell line that puts a new random master key in `variable`."""
    return (f'export {variable}="$(python3 -c \'import base64,os;'
            f'print(base64.urlsafe_b64encode(os.urandom(32)).decode())\')"')


# Only for a vault that seals nothing yet: a new master key cannot open keys sealed before.
MAKE_KEY_HINT = ("without a keyring: `byok vault init --file` (a key file only you can read) "
                 "or `byok vault init --passphrase`; or make a master key of your own: "
                 + make_key_command() + " (every program you start inherits it)")



# Where a master key came from (master_sources has the order), as named to the user.
SOURCE_NAMES = {"environment": "BYOK_MASTER_KEY", "file": "BYOK_MASTER_KEY_FILE",
                "command": "BYOK_MASTER_KEY_COMMAND", "agent": "the unlock agent",
                "keyring": "the OS keyring"}


@tuple_record
class MasterKey:
    key: bytes
    source: str  # a key of SOURCE_NAMES

    @property
    def id(self) -> str:
        return key_id(self.key)

    def __repr__(self) -> str:  # never the key itself, even in a debugger or a log
        return f"MasterKey(id={self.id!r}, source={self.source!r})"


def key_id(key: bytes) -> str:
    """A short public name for a master key (not usable to recover it): the start of a
    SHA-256. Computed with cryptography, which opening a key loads anyway: hashlib would
    load a second OpenSSL (~2.5 ms of `byok run`'s start)."""
    from cryptography.hazmat.primitives.hashes import SHA256, Hash

    digest = Hash(SHA256())
    digest.update(b"byok master key id\x00" + key)
    return digest.finalize()[:_ID_LEN].hex()


def aad(profile: str, provider: str, hint: str, name: str = "default") -> bytes:
    """The associated data binding a ciphertext to its row. A key named ``default`` has the
    data every key had before keys had names, so ciphertexts from then still open; another
    name is bound too (no key or hint holds a NUL, so the two forms cannot collide)."""
    bound = f"byok/v{ENVELOPE_VERSION}\x00{profile}\x00{provider}\x00{hint}"
    return (bound if name == "default" else f"{bound}\x00{name}").encode()


def encrypt(master: MasterKey, plaintext: str, associated: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_LEN)
    sealed = AESGCM(master.key).encrypt(nonce, plaintext.encode(), associated)
    return bytes([ENVELOPE_VERSION]) + bytes.fromhex(master.id) + nonce + sealed


def envelope_key_id(blob: bytes) -> str | None:
    """The id of the master key an envelope was sealed with; None when ``blob`` is not an
    envelope (not even bytes, in a damaged database)."""
    if not isinstance(blob, bytes) or len(blob) < _HEADER_LEN + 16 or blob[0] != ENVELOPE_VERSION:
        return None
    return blob[1:1 + _ID_LEN].hex()


def sealed_with(blob: bytes, *, what: str) -> str:
    """The id of the master key an envelope names; DECRYPT_FAILED when it is none."""
    made_with = envelope_key_id(blob)
    if made_with is None:
        raise ByokError(Code.DECRYPT_FAILED, f"{what} is not a byok envelope this version can read",
                        hint="store the key again with `byok key set`")
    return made_with


def decrypt(master: MasterKey, blob: bytes, associated: bytes, *, what: str) -> str:
    """Open an envelope; ``what`` names the secret in messages (e.g. "the stored openai key")."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    made_with = sealed_with(blob, what=what)
    if made_with != master.id:
        source = SOURCE_NAMES.get(master.source, master.source)
        raise ByokError(
            Code.DECRYPT_FAILED,
            f"{what} is sealed with master key {made_with}, but the master key in use "
            f"(from {source}) is {master.id}",
            hint=f"set BYOK_MASTER_KEY to master key {made_with}, or unset it if the OS keyring "
                 "holds that key; if it is lost, store the key again with `byok key set`")
    nonce = blob[1 + _ID_LEN:_HEADER_LEN]
    try:
        plain = AESGCM(master.key).decrypt(nonce, blob[_HEADER_LEN:], associated)
    except InvalidTag:
        raise ByokError(
            Code.DECRYPT_FAILED,
            f"{what} failed its integrity check: the ciphertext was altered or copied from "
            "another profile or provider",
            hint="store the key again with `byok key set`") from None
    return plain.decode()


# --- master key sources -------------------------------------------------------------

def master_from_env(value: str, variable: str = "BYOK_MASTER_KEY") -> MasterKey:
    """The master key in ``variable``: exactly 32 bytes as url-safe base64 (43 characters
    and an optional "="; surrounding whitespace is ignored), nothing else, not all zero."""
    text = value.strip()
    remember_secret(text)
    raw = b""
    if re.fullmatch(r"[A-Za-z0-9_-]{43}=?", text):
        raw = base64.urlsafe_b64decode(text.rstrip("=") + "=")
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != text.rstrip("="):
            raw = b""  # stray bits in the last character: not the encoding of a key
    if len(raw) != 32:
        raise ByokError(Code.KEYRING_UNAVAILABLE,
                        f"{variable} must be url-safe base64 of exactly 32 bytes "
                        "(43 characters of A-Z a-z 0-9 - _, and an optional =)",
                        hint="set it to the master key your keys were stored with")
    if not any(raw):
        raise ByokError(Code.KEYRING_UNAVAILABLE, f"{variable} is all zero bytes, not a key",
                        hint="set it to the master key your keys were stored with")
    return MasterKey(raw, "environment")


def new_master_key() -> bytes:
    import secrets  # not at import: `run` opens keys, it never makes one

    return secrets.token_bytes(32)


def _timeout() -> float:
    from ..inputs import env_number

    return env_number("BYOK_KEYRING_TIMEOUT", 5.0, high=3600)


@contextlib.contextmanager
def _controlling_terminal() -> Iterator[int | None]:
    """A descriptor of the controlling terminal, or None without one (or without termios)."""
    try:
        import termios  # noqa: F401 - POSIX only

        fd = os.open("/dev/tty", os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except (ImportError, OSError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _terminal_modes() -> list | None:
    """The terminal's modes (echo, line editing), to put back after an abandoned call."""
    with _controlling_terminal() as fd:
        if fd is not None:
            import termios

            with contextlib.suppress(termios.error):
                return termios.tcgetattr(fd)
    return None


def _restore_terminal(modes: list | None) -> None:
    with _controlling_terminal() as fd:
        if fd is not None and modes is not None:
            import termios

            with contextlib.suppress(termios.error):
                termios.tcsetattr(fd, termios.TCSANOW, modes)


def bounded(call: Callable[[], T], what: str) -> T:
    """Run a keyring call in a daemon thread; give up after BYOK_KEYRING_TIMEOUT seconds.

    A keyring that waits on an unlock prompt nobody can see must not hang byok, nor leave
    the terminal as its prompt set it (echo off). A backend that raises SystemExit or any
    other BaseException has failed: that is never taken for success.
    """
    box: dict = {}
    wait = _timeout()

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    import threading  # only for the keyring: a master key from the environment needs none

    terminal = _terminal_modes()
    thread = threading.Thread(target=run, name="byok-keyring", daemon=True)
    thread.start()
    thread.join(wait)
    if thread.is_alive():
        _restore_terminal(terminal)
        raise ByokError(Code.KEYRING_UNAVAILABLE,
                        f"the OS keyring did not answer within {wait:g} s while {what} "
                        "(is it waiting for an unlock prompt?)",
                        hint="unlock your keyring")
    error = box.get("error")
    if error is not None and not isinstance(error, Exception):
        raise ByokError(Code.KEYRING_UNAVAILABLE, f"the OS keyring backend failed while {what}: "
                        f"it raised {type(error).__name__}",
                        hint="repair or replace the keyring backend")
    if error is not None:
        raise error
    return box["value"]


# The backends that keep secrets in an OS store: anything else is refused unless the
# person opts in with BYOK_ALLOW_INSECURE_KEYRING=1 (null and fail never hold a key).
OS_KEYRINGS = {
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Locker",
    "keyring.backends.SecretService.Keyring": "Secret Service",
    "keyring.backends.libsecret.Keyring": "Secret Service (libsecret)",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
    "keyring.backends.kwallet.DBusKeyringKWallet4": "KWallet",
}
_CHAINER = "keyring.backends.chainer.ChainerBackend"
INSECURE_OPT_IN = "BYOK_ALLOW_INSECURE_KEYRING"


def backend_class_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def insecure_reason(backend: object) -> str | None:
    """Why a keyring backend must not hold the master key, or None when it may."""
    name = backend_class_name(backend)
    if name in OS_KEYRINGS:
        return None
    if name == "keyring.backends.null.Keyring":
        return "the keyring backend is 'null', which stores nothing"
    if name == "keyring.backends.fail.Keyring":
        return "no keyring backend is available"
    if name == _CHAINER:
        members = list(getattr(backend, "backends", []))
        if not members:
            return "no usable keyring backend was found"
        others = [backend_class_name(b) for b in members if insecure_reason(b) is not None]
        if others:
            return (f"the keyring chain includes {', '.join(others)}, which is not an OS "
                    "keyring")
        return None
    return (f"the keyring backend {name} is not an OS keyring (byok accepts macOS Keychain, "
            "Windows Credential Locker, Secret Service and KWallet)")


def _refuse_backend(backend: object) -> None:
    reason = insecure_reason(backend)
    if reason is None:
        return
    never = backend_class_name(backend) in ("keyring.backends.null.Keyring",
                                            "keyring.backends.fail.Keyring")
    if not never and os.environ.get(INSECURE_OPT_IN) == "1":
        return
    raise ByokError(Code.KEYRING_UNAVAILABLE, f"refusing to keep the master key: {reason}",
                    hint="install or unlock an OS keyring"
                    + ("" if never else f" ({INSECURE_OPT_IN}=1 accepts it at your risk)"))


def _load_error(exc: BaseException) -> ByokError:
    """keyring could not even load a backend: name where the choice came from."""
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    if chosen is not None:
        where = f"PYTHON_KEYRING_BACKEND={chosen!r}"
        hint = "unset it, or name an OS keyring (e.g. keyring.backends.SecretService.Keyring)"
    else:
        where = "the configured keyring backend (keyringrc.cfg)"
        hint = "fix keyringrc.cfg (`keyring diagnose` shows where it is)"
    detail = " ".join(str(exc).split())[:200]
    return ByokError(Code.KEYRING_UNAVAILABLE, f"{where} cannot be used: "
                     f"{type(exc).__name__}" + (f": {detail}" if detail else ""), hint=hint)


def _keyring_error(exc: Exception, action: str) -> ByokError:
    """Map keyring's exceptions to one actionable message each."""
    from keyring import errors as kerr

    if isinstance(exc, kerr.KeyringLocked):
        return ByokError(Code.KEYRING_UNAVAILABLE, f"the OS keyring is locked ({action})",
                         hint="unlock it (log in to your desktop session)")
    if isinstance(exc, kerr.InitError):
        return ByokError(Code.KEYRING_UNAVAILABLE,
                         f"the OS keyring could not open or create its collection ({action})",
                         hint="start a Secret Service (gnome-keyring, KeePassXC) and unlock it")
    if isinstance(exc, kerr.NoKeyringError):
        return ByokError(Code.KEYRING_UNAVAILABLE, "no OS keyring backend is available",
                         hint="install and unlock a keyring (gnome-keyring, KWallet, Keychain)")
    return ByokError(Code.KEYRING_UNAVAILABLE,
                     f"the OS keyring failed ({action}): {type(exc).__name__}",
                     hint="unlock or repair the keyring")


def _account(mk_id: str) -> str:
    return f"master-key:{mk_id}"


class KeyringStore:
    """The master keys kept in the OS keyring, under service ``byok``."""

    def __init__(self) -> None:
        self._backend = None

    def backend(self):
        """The keyring backend, if it is one byok may keep the master key in."""
        if self._backend is None:
            import keyring
            from keyring import errors as kerr

            try:
                backend = bounded(keyring.get_keyring, "finding a keyring")
            except ByokError:
                raise
            except kerr.KeyringError as exc:
                raise _keyring_error(exc, "finding a backend") from None
            except Exception as exc:  # a backend that does not load: a bad name, no D-Bus
                raise _load_error(exc) from None
            _refuse_backend(backend)
            self._backend = backend
        return self._backend

    def backend_name(self) -> str:
        return backend_class_name(self.backend())

    def _call(self, action: str, call: Callable[[], T]) -> T:
        """A keyring call, bounded in time, with keyring's errors made actionable."""
        try:
            return bounded(call, action)
        except ByokError:
            raise
        except Exception as exc:
            raise _keyring_error(exc, action) from None

    def get(self, mk_id: str) -> bytes | None:
        backend = self.backend()
        value = self._call("reading the master key",
                           lambda: backend.get_password(SERVICE, _account(mk_id)))
        if value is None:
            return None
        remember_secret(value)
        try:
            return base64.urlsafe_b64decode(value)
        except ValueError:
            return None

    def put(self, key: bytes) -> str:
        mk_id = key_id(key)
        backend = self.backend()
        value = base64.urlsafe_b64encode(key).decode()
        self._call("saving a new master key",
                   lambda: backend.set_password(SERVICE, _account(mk_id), value))
        if self.get(mk_id) != key:  # the null backend and its kind "succeed" silently
            raise ByokError(Code.KEYRING_UNAVAILABLE,
                            "the OS keyring accepted the master key but does not give it back",
                            hint="repair the keyring")
        return mk_id

    def delete(self, mk_id: str) -> None:
        from keyring.errors import PasswordDeleteError

        backend = self.backend()

        def remove() -> None:
            try:
                backend.delete_password(SERVICE, _account(mk_id))
            except PasswordDeleteError:
                pass  # already gone: what we wanted

        self._call("removing an old master key", remove)
