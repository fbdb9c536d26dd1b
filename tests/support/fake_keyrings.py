"""Keyring backends for the tests, chosen with PYTHON_KEYRING_BACKEND.

None of them touches the real user's keyring, and none is an OS keyring: byok accepts them
only with BYOK_ALLOW_INSECURE_KEYRING=1. ``FileKeyring`` persists between byok processes in
the JSON file named by BYOK_TEST_KEYRING (test data only); several processes may write it
at once.
"""

import fcntl
import json
import os
import sys
import termios
import time

from keyring import errors
from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    priority = 1

    def _path(self):
        return os.environ["BYOK_TEST_KEYRING"]

    def _load(self):
        try:
            with open(self._path()) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def _change(self, change):
        """Read, change and replace the file under a lock: concurrent writers lose nothing
        and readers never see half a file."""
        with open(self._path() + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            change(data)
            with open(self._path() + ".tmp", "w") as f:
                json.dump(data, f)
            os.replace(self._path() + ".tmp", self._path())

    def get_password(self, service, username):
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        self._change(lambda data: data.__setitem__(f"{service}/{username}", password))

    def delete_password(self, service, username):
        if f"{service}/{username}" not in self._load():
            raise errors.PasswordDeleteError(username)
        self._change(lambda data: data.pop(f"{service}/{username}", None))


class SlowWritesKeyring(FileKeyring):
    """Writes and deletes take BYOK_TEST_KEYRING_DELAY seconds (default 0.3), like a
    keyring daemon under load: a rotation's steps stretch out, races show. While a write
    is under way, the file BYOK_TEST_KEYRING + ".writing" exists (tests start processes
    on it)."""

    def _change(self, change):
        marker = self._path() + ".writing"
        with open(marker, "w"):
            pass
        try:
            time.sleep(float(os.environ.get("BYOK_TEST_KEYRING_DELAY", "0.3")))
            super()._change(change)
        finally:
            try:
                os.unlink(marker)
            except FileNotFoundError:
                pass


class LockedKeyring(FileKeyring):
    def get_password(self, *args):
        raise errors.KeyringLocked("collection is locked")

    set_password = get_password


class InitErrorKeyring(FileKeyring):
    def get_password(self, *args):
        raise errors.InitError("cannot create collection")

    set_password = get_password


class SlowKeyring(FileKeyring):
    """Waits on an 'unlock prompt' that nobody will ever answer."""

    def get_password(self, service, username):
        time.sleep(60)

    def set_password(self, service, username, password):
        time.sleep(60)


class PromptingKeyring(FileKeyring):
    """Asks for an unlock password on the terminal (echo off, as a password prompt does),
    and nobody answers."""

    def _prompt(self, *args):
        fd = os.open("/dev/tty", os.O_RDWR)
        modes = termios.tcgetattr(fd)
        modes[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, modes)
        os.write(fd, b"keyring password: ")
        time.sleep(60)

    get_password = set_password = _prompt


class ForgetfulKeyring(FileKeyring):
    """Accepts everything and gives nothing back, like keyring's null backend."""

    def set_password(self, service, username, password):
        pass

    def get_password(self, service, username):
        return None


class ExitingKeyring(FileKeyring):
    """A backend that calls sys.exit(0) (as some do when a helper program is missing)."""

    def get_password(self, *args):
        sys.exit(0)

    set_password = get_password


class BaseExceptionKeyring(FileKeyring):
    def get_password(self, *args):
        raise BaseException("backend gave up")

    set_password = get_password
