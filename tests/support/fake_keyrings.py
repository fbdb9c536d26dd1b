"""Keyring backends for the tests, chosen with PYTHON_KEYRING_BACKEND.

None of them touches the real user's keyring. ``FileKeyring`` persists between byok
processes in the JSON file named by BYOK_TEST_KEYRING (test data only).
"""

import json
import os
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

    def get_password(self, service, username):
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        data = self._load()
        data[f"{service}/{username}"] = password
        with open(self._path(), "w") as f:
            json.dump(data, f)

    def delete_password(self, service, username):
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise errors.PasswordDeleteError(username)
        with open(self._path(), "w") as f:
            json.dump(data, f)


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


class ForgetfulKeyring(FileKeyring):
    """Accepts everything and gives nothing back, like keyring's null backend."""

    def set_password(self, service, username, password):
        pass

    def get_password(self, service, username):
        return None
