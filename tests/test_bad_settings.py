"""Settings a person can get wrong (URLs with impossible ports, header variables with line
breaks): each is one line, exit 2, naming the value and where it came from, and nothing is
sent."""

import pytest

from byok_cli.errors import Code
from conftest import OPENAI_GOOD

USAGE = Code.USAGE.exit_status


def one_line_usage_error(r, *words: str) -> None:
    assert r.returncode == USAGE, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    for word in words:
        assert word in r.stderr, r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/v1", "http://127.0.0.1:0/v1",
                                 "http://127.0.0.1:http/v1", "http://127.0.0.1:1:2/v1"])
def test_a_base_url_with_an_impossible_port_is_a_usage_error(byok_env, fake, url):
    byok_env.set_key("openai", OPENAI_GOOD)
    one_line_usage_error(byok_env.run("run", "--base-url", url, "hi"), "--base-url", url)
    one_line_usage_error(byok_env.run("run", "hi", env={"OPENAI_BASE_URL": url}),
                         "OPENAI_BASE_URL", url)
    one_line_usage_error(byok_env.run("config", "set", "openai.base_url", url),
                         "openai.base_url has a bad port", url)
    one_line_usage_error(byok_env.run("models", "sync", "--url", url), "--url", url)
    assert fake.requests == []


@pytest.mark.parametrize("variable, value", [
    ("https_proxy", "http://127.0.0.1:0"), ("HTTPS_PROXY", "http://proxy.invalid:70000"),
    ("ALL_PROXY", "http://user:pass@proxy.invalid:x")])
def test_a_proxy_with_an_impossible_port_is_a_usage_error(byok_env, fake, variable, value):
    byok_env.set_key("openai", OPENAI_GOOD)
    # A non-loopback https base URL goes through the proxy; the port is refused before any
    # connection is opened, so nothing leaves the machine.
    r = byok_env.run("run", "--no-fallback", "--base-url", "https://api.example.invalid/v1",
                     "hi", env={variable: value})
    one_line_usage_error(r, variable, "bad port")
    assert "pass" not in r.stderr  # a proxy password is never shown


@pytest.mark.parametrize("variable, value", [("OPENAI_ORG_ID", "a\nb"),
                                             ("OPENAI_PROJECT_ID", "proj\r\nX-Evil: 1"),
                                             ("OPENAI_ORG_ID", "org-\u20ac")])
def test_a_header_variable_that_cannot_be_sent_is_a_usage_error(byok_env, fake, variable,
                                                                value):
    byok_env.set_key("openai", OPENAI_GOOD)
    one_line_usage_error(byok_env.run("run", "hi", env={variable: value}), variable,
                         repr(value)[1:-1])
    assert [r for r in fake.requests if r["method"] == "POST"] == []


def test_a_key_that_cannot_be_sent_is_a_usage_error_that_does_not_show_it(byok_env, fake):
    key = OPENAI_GOOD + "\nX-Evil: 1"
    r = byok_env.run("run", "--no-fallback", "hi", env={"OPENAI_API_KEY": key})
    one_line_usage_error(r, "OpenAI key", "nothing was sent")
    assert OPENAI_GOOD[-12:] not in r.stderr and fake.requests == []


def test_an_empty_master_key_variable_names_the_key_the_stored_keys_need(byok_env, fake,
                                                                         master_key, tmp_path):
    import base64
    import subprocess

    from byok_cli.secrets import vault
    from conftest import BYOK

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    mk_id = vault.key_id(base64.urlsafe_b64decode(master_key))
    for args in (["run", "hi"], ["key", "get", "openai"]):
        r = byok_env.run(*args, env={"BYOK_MASTER_KEY": ""})
        assert r.returncode == Code.DECRYPT_FAILED.exit_status, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "BYOK_MASTER_KEY (empty)" in r.stderr and f"sealed with master key {mk_id}" in r.stderr
        assert "no key was ever stored" not in r.stderr
    # Unset, with a keyring that never held it: the same facts.
    bare = {k: v for k, v in byok_env.vars.items() if k != "BYOK_MASTER_KEY"}
    bare.update(PYTHON_KEYRING_BACKEND="support.fake_keyrings.FileKeyring",
                BYOK_TEST_KEYRING=str(tmp_path / "empty-keyring.json"))
    r = subprocess.run([str(BYOK), "run", "hi"], env=bare, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == Code.DECRYPT_FAILED.exit_status, r.stderr
    assert f"sealed with master key {mk_id}" in r.stderr and "BYOK_MASTER_KEY (not set)" in r.stderr
    assert [x for x in fake.requests if x["method"] == "POST"] == []
