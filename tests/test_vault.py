"""The AES-256-GCM envelope and the master key sources."""

import base64
import os
import time

import pytest
from hypothesis import given, settings, strategies as st

from byok_cli.secrets import vault
from byok_cli.errors import ByokError, Code

MASTER = vault.MasterKey(bytes(range(32)), "environment")
OTHER = vault.MasterKey(bytes(range(1, 33)), "environment")
AAD = vault.aad("default", "openai", "abcd")


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=3000))
def test_round_trip_any_text(plaintext):
    blob = vault.encrypt(MASTER, plaintext, AAD)
    assert vault.decrypt(MASTER, blob, AAD, what="k") == plaintext
    assert plaintext.encode() not in blob or len(plaintext) < 4


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 64, 164, 511, 4096])
def test_round_trip_lengths(length):
    text = "x" * length
    assert vault.decrypt(MASTER, vault.encrypt(MASTER, text, AAD), AAD, what="k") == text


def test_envelope_names_master_key_and_version():
    blob = vault.encrypt(MASTER, "sk-secret", AAD)
    assert blob[0] == vault.ENVELOPE_VERSION
    assert vault.envelope_key_id(blob) == MASTER.id
    assert len(blob) == 1 + 8 + 12 + len("sk-secret") + 16


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_a_master_key_id_is_the_start_of_its_sha256(key):
    """The id every stored envelope carries: the first 8 bytes of SHA-256 over a fixed
    prefix and the key, as it has always been (now computed with cryptography)."""
    import hashlib

    expected = hashlib.sha256(b"byok master key id\x00" + key).hexdigest()[:16]
    assert vault.key_id(key) == expected == vault.MasterKey(key, "environment").id
    assert vault.key_id(bytes(range(32))) == "c778fe956d79556b"  # a known answer


def test_nonces_are_unique():
    nonces = {vault.encrypt(MASTER, "same", AAD)[9:21] for _ in range(5000)}
    assert len(nonces) == 5000


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_detected(position, bit):
    blob = bytearray(vault.encrypt(MASTER, "sk-proj-secret-value", AAD))
    i = position % len(blob)
    blob[i] ^= 1 << bit
    with pytest.raises(ByokError) as err:
        vault.decrypt(MASTER, bytes(blob), AAD, what="the stored openai key")
    assert err.value.code == Code.DECRYPT_FAILED
    assert "openai" in err.value.message


@pytest.mark.parametrize("other_aad", [
    vault.aad("work", "openai", "abcd"),        # copied to another profile
    vault.aad("default", "anthropic", "abcd"),  # copied to another provider
    vault.aad("default", "openai", "wxyz"),     # hint altered
    vault.aad("default", "openai", "abcd", "work"),  # copied to another key name
])
def test_ciphertext_is_bound_to_its_row(other_aad):
    blob = vault.encrypt(MASTER, "sk-proj-secret", AAD)
    with pytest.raises(ByokError) as err:
        vault.decrypt(MASTER, blob, other_aad, what="the stored openai key")
    assert err.value.code == Code.DECRYPT_FAILED
    assert "copied from another profile or provider" in err.value.message


def test_wrong_master_key_names_both_ids():
    blob = vault.encrypt(MASTER, "sk-proj-secret", AAD)
    with pytest.raises(ByokError) as err:
        vault.decrypt(OTHER, blob, AAD, what="the stored openai key")
    assert err.value.code == Code.DECRYPT_FAILED
    assert MASTER.id in err.value.message and OTHER.id in err.value.message


@pytest.mark.parametrize("blob", [b"", b"\x02" + bytes(40), b"\x01short"])
def test_unreadable_envelope(blob):
    with pytest.raises(ByokError) as err:
        vault.decrypt(MASTER, blob, AAD, what="the stored openai key")
    assert err.value.code == Code.DECRYPT_FAILED


def test_master_key_from_environment():
    raw = os.urandom(32)
    mk = vault.master_from_env(base64.urlsafe_b64encode(raw).decode())
    assert mk.key == raw and mk.source == "environment"
    # padding may be left off
    assert vault.master_from_env(base64.urlsafe_b64encode(raw).decode().rstrip("=")).key == raw


@pytest.mark.parametrize("value", ["", "not base64!!", base64.urlsafe_b64encode(b"short").decode(),
                                   base64.urlsafe_b64encode(os.urandom(33)).decode()])
def test_bad_master_key_from_environment(value):
    with pytest.raises(ByokError) as err:
        vault.master_from_env(value)
    assert err.value.code == Code.KEYRING_UNAVAILABLE
    assert "master key your keys were stored with" in err.value.hint  # never a fresh one


def test_insecure_backends_are_refused():
    from keyring.backends import fail, null

    assert "stores nothing" in vault.insecure_reason(null.Keyring())
    assert vault.insecure_reason(fail.Keyring()) is not None


def backend_named(qualified: str) -> object:
    """An object whose class has the given module and name, as a keyring backend would."""
    module, _, name = qualified.rpartition(".")
    return type(name, (), {"__module__": module, "__qualname__": name})()


@pytest.mark.parametrize("name", sorted(vault.OS_KEYRINGS))
def test_os_keyrings_are_accepted(name):
    assert vault.insecure_reason(backend_named(name)) is None


@pytest.mark.parametrize("name", [
    "keyrings.alt.file.PlaintextKeyring", "keyrings.alt.file.EncryptedKeyring",
    "keyrings.alt.Windows.RegistryKeyring", "keyrings.cryptfile.file.PlaintextKeyring",
    "keyrings.cryptfile.cryptfile.CryptFileKeyring", "some_vendor.keyring.CloudKeyring",
    "support.fake_keyrings.FileKeyring",
    # the right name in the wrong module is someone else's class
    "my_keyrings.SecretService.Keyring",
])
def test_anything_else_is_refused(name):
    assert "is not an OS keyring" in vault.insecure_reason(backend_named(name))


def test_a_subclass_of_an_os_keyring_is_not_one():
    from keyring.backends import SecretService

    class Lookalike(SecretService.Keyring):
        pass

    assert vault.insecure_reason(Lookalike.__new__(Lookalike)) is not None


def test_a_chain_is_accepted_only_when_every_member_is_an_os_keyring(monkeypatch):
    from keyring.backends import chainer

    def chain_of(*names):  # the chainer's members are those keyring finds usable
        monkeypatch.setattr(chainer.ChainerBackend, "backends", [backend_named(n) for n in names])
        return chainer.ChainerBackend.__new__(chainer.ChainerBackend)

    assert vault.insecure_reason(chain_of("keyring.backends.SecretService.Keyring",
                                          "keyring.backends.kwallet.DBusKeyring")) is None
    mixed = vault.insecure_reason(chain_of("keyring.backends.SecretService.Keyring",
                                           "keyrings.alt.file.PlaintextKeyring"))
    assert "keyrings.alt.file.PlaintextKeyring" in mixed
    assert vault.insecure_reason(chain_of()) == "no usable keyring backend was found"


def test_keyring_calls_are_bounded_in_time(monkeypatch):
    monkeypatch.setenv("BYOK_KEYRING_TIMEOUT", "0.3")
    started = time.monotonic()
    with pytest.raises(ByokError) as err:
        vault.bounded(lambda: time.sleep(5), "reading the master key")
    assert time.monotonic() - started < 2
    assert err.value.code == Code.KEYRING_UNAVAILABLE
    assert "unlock" in err.value.message


def test_bounded_passes_results_and_errors_through():
    assert vault.bounded(lambda: 42, "x") == 42
    with pytest.raises(ZeroDivisionError):
        vault.bounded(lambda: 1 / 0, "x")


def test_master_key_repr_shows_its_id_not_the_key():
    key = os.urandom(32)
    shown = repr(vault.MasterKey(key, "environment")) + str(vault.MasterKey(key, "keyring"))
    assert vault.key_id(key) in shown
    for form in (repr(key), key.hex(), base64.urlsafe_b64encode(key).decode()):
        assert form not in shown


def test_the_default_key_name_keeps_the_associated_data_keys_always_had():
    # Keys stored before keys had names open as the key called 'default'.
    assert vault.aad("p", "openai", "abcd") == vault.aad("p", "openai", "abcd", "default") == (
        b"byok/v1\x00p\x00openai\x00abcd")
    assert vault.aad("p", "openai", "abcd", "work") == b"byok/v1\x00p\x00openai\x00abcd\x00work"
