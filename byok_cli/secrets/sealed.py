"""A master key sealed with a passphrase (`vault init --passphrase`), as age and sops do.

The file ``master.sealed`` in the data dir is JSON: the KDF's parameters, a salt, and the
master key under AES-256-GCM with the key scrypt derives from the passphrase. scrypt's
parameters are at least age's (N = 2**18, r = 8, p = 1: about 256 MiB and ~1 s); a file
asking for less is refused (a lowered cost would only help whoever copied it), and one
asking for more than 2**22 too (it would take 4 GiB to open).
"""

from __future__ import annotations

import base64
import json
import os

from ..errors import ByokError, Code
from .vault import MasterKey, key_id

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from pathlib import Path  # its callers' paths: `byok run` imports no pathlib

SEALED_NAME = "master.sealed"
LOG_N = 18          # age's scrypt work factor
MIN_LOG_N, MAX_LOG_N = 18, 22
R, P = 8, 1
_AAD = b"byok sealed master key v1"


def sealed_path(data_dir: Path) -> Path:
    return data_dir / SEALED_NAME


def staged_path(data_dir: Path) -> Path:
    """A rotation's new sealed key, until the re-sealed keys are committed."""
    return data_dir / (SEALED_NAME + ".new")


def finish_rotation(data_dir: Path, sealed_ids: set[str]) -> bool:
    """A rotation killed between its commit and putting the new sealed key in place left
    it staged: put it there when the stored keys need it, else drop it. Whether it moved."""
    staged = staged_path(data_dir)
    if not staged.exists():
        return False
    try:
        needed = read_header(staged).get("master_key_id") in sealed_ids
    except ByokError:
        needed = False
    if needed:
        os.replace(staged, sealed_path(data_dir))
    else:
        os.unlink(staged)
    return needed


def _derive(passphrase: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=2 ** log_n, r=r, p=p).derive(passphrase.encode())


def seal(key: bytes, passphrase: str) -> bytes:
    """The sealed file's content for ``key``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not passphrase:
        raise ByokError(Code.USAGE, "the passphrase is empty", hint="choose a passphrase")
    salt, nonce = os.urandom(16), os.urandom(12)
    wrapping = _derive(passphrase, salt, LOG_N, R, P)
    sealed = AESGCM(wrapping).encrypt(nonce, key, _AAD)
    doc = {"version": 1, "kdf": "scrypt", "log_n": LOG_N, "r": R, "p": P,
           "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce).decode(),
           "sealed": base64.b64encode(sealed).decode(), "master_key_id": key_id(key)}
    return (json.dumps(doc, indent=1) + "\n").encode()


def _damaged(path: Path, why: str) -> ByokError:
    return ByokError(Code.DECRYPT_FAILED, f"the sealed master key {path} is damaged ({why})",
                     hint="restore it from a backup; without it the stored keys cannot be "
                          "opened")


def read_header(path: Path) -> dict:
    """The sealed file's parameters, checked (no passphrase needed)."""
    try:
        if len(raw := path.read_bytes()) > 8192:
            raise _damaged(path, "too large")
        doc = json.loads(raw)
    except OSError as exc:
        raise ByokError(Code.STORE_ERROR, f"cannot read {path}: {exc.strerror}",
                        hint="check its permissions") from None
    except (ValueError, UnicodeDecodeError):
        raise _damaged(path, "not JSON") from None
    if not isinstance(doc, dict) or doc.get("version") != 1 or doc.get("kdf") != "scrypt":
        raise _damaged(path, "unknown format")
    log_n, r, p = doc.get("log_n"), doc.get("r"), doc.get("p")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (log_n, r, p)):
        raise _damaged(path, "bad parameters")
    if not (MIN_LOG_N <= log_n <= MAX_LOG_N) or r != R or p != P:
        raise _damaged(path, f"scrypt parameters log2 N={log_n}, r={r}, p={p} are outside "
                             f"what byok accepts (log2 N {MIN_LOG_N}..{MAX_LOG_N}, r=8, p=1)")
    return doc


def unseal(path: Path, passphrase: str) -> MasterKey:
    """The master key in the sealed file; DECRYPT_FAILED for a wrong passphrase."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    doc = read_header(path)
    try:
        salt, nonce, sealed = (base64.b64decode(doc[k], validate=True)
                               for k in ("salt", "nonce", "sealed"))
    except (KeyError, TypeError, ValueError):
        raise _damaged(path, "bad fields") from None
    if len(nonce) != 12 or not 8 <= len(salt) <= 64 or len(sealed) != 48:
        raise _damaged(path, "bad field sizes")
    wrapping = _derive(passphrase, salt, doc["log_n"], doc["r"], doc["p"])
    try:
        key = AESGCM(wrapping).decrypt(nonce, sealed, _AAD)
    except InvalidTag:
        raise ByokError(Code.DECRYPT_FAILED, "wrong passphrase (or the sealed master key was "
                        "altered)", hint="try again") from None
    return MasterKey(key, "agent")


def write_private(path: Path, content: bytes, *, replace: bool, rename: bool = True) -> None:
    """Write a secret-bearing file 0600, never through a symlink: created anew, or (with
    ``replace``) in place of the old one: atomically, or, without ``rename``, unlinked
    first (a staged file nobody reads yet)."""
    target = path.with_name(path.name + ".new") if replace and rename else path
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    if replace:
        try:
            os.unlink(target)  # a leftover of an interrupted write
        except FileNotFoundError:
            pass
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        raise ByokError(Code.USAGE, f"{path} already exists; byok will not overwrite it",
                        hint="choose another path, or move that file away") from None
    except OSError as exc:
        raise ByokError(Code.STORE_ERROR, f"cannot write {path}: {exc.strerror}",
                        hint="check the directory exists and is yours") from None
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    if replace and rename:
        os.replace(target, path)
