"""Where keys may go (issue 11, items 1 and 7): https only beyond loopback, for every way a
base URL arrives and every call that sends a key; an environment key only to its
provider's official endpoint or to a base URL from the environment too.

Every CLI test runs with HTTP(S)_PROXY pointing at a recording proxy on 127.0.0.1 (see
conftest), so a request to another host never leaves this machine, and a test can see
whether byok tried."""

import json
import subprocess
import sys

import pytest

from byok_cli.errors import Code
from conftest import OPENAI_GOOD, OPENAI_GOOD_ENV, assert_no_leak, openai_key

INSECURE = "http://byok-test.invalid/v1"  # plain http, not this machine


def one_line_error(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


# --- item 1: every call that sends a key ----------------------------------------------------

SENDERS = {
    "key set (live check)": (["key", "set", "openai"], OPENAI_GOOD),
    "key validate": (["key", "validate", "openai"], None),
    "models list --remote": (["models", "list", "--remote", "-p", "openai"], None),
    "run": (["run", "--no-fallback", "-p", "openai", "hi"], None),
    "chat": (["chat", "--no-fallback", "-p", "openai"], "hi\n"),
    "exec": (["exec", "-p", "openai", "--", "true"], None),
}


@pytest.mark.parametrize("what", SENDERS)
def test_plain_http_from_the_environment_fails_before_any_connection(byok_env, fake, proxy,
                                                                     what):
    byok_env.set_key("openai", OPENAI_GOOD)
    args, stdin = SENDERS[what]
    r = byok_env.run(*args, input=stdin, env={"OPENAI_BASE_URL": INSECURE,
                                              "OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == Code.USAGE.exit_status, (what, r.stderr)
    line = one_line_error(r)
    assert "OPENAI_BASE_URL" in line and "plain http" in line and "BYOK_ALLOW_INSECURE_HTTP" in line
    assert proxy.seen == [] and fake.requests == []
    assert_no_leak(OPENAI_GOOD, r.stdout, r.stderr)


def test_python_api_refuses_plain_http_too(byok_env, proxy):
    byok_env.set_key("openai", OPENAI_GOOD)
    script = ("from byok_cli import Byok, ByokError\n"
              "for call in (lambda b: b.ask('hi', provider='openai', fallback=False),\n"
              "             lambda b: b.client('openai')):\n"
              "    try:\n"
              "        call(Byok())\n"
              "        print('sent')\n"
              "    except ByokError as err:\n"
              "        print(err.code.value, err.message)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       env={**byok_env.vars, "OPENAI_BASE_URL": INSECURE}, timeout=60)
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(x.startswith("USAGE OPENAI_BASE_URL") for x in lines), r
    assert proxy.seen == []


def test_the_profile_setting_is_refused_at_config_set_and_at_use(byok_env, proxy):
    r = byok_env.run("config", "set", "openai.base_url", "http://10.0.0.7:8080/v1")
    assert r.returncode == Code.USAGE.exit_status and "openai.base_url" in one_line_error(r)
    assert byok_env.run("config", "get", "openai.base_url").stdout == "\n"
    # One stored before this rule (or through sqlite) is refused when a key would be sent.
    import sqlite3

    byok_env.set_key("openai", OPENAI_GOOD)
    with sqlite3.connect(byok_env.home / "byok.db") as db:
        db.execute("INSERT INTO provider_settings (profile, provider, base_url) "
                   "VALUES ('default', 'openai', 'http://10.0.0.7:8080/v1')")
    env = {k: v for k, v in byok_env.vars.items() if k != "OPENAI_BASE_URL"}
    byok_env.vars = env
    ran = byok_env.run("run", "--no-fallback", "hi")
    assert ran.returncode == Code.USAGE.exit_status and "openai.base_url" in one_line_error(ran)
    doctor = {c["check"]: c for c in json.loads(byok_env.run("doctor", "--json").stdout)}
    assert doctor["openai base URL"]["status"] == "fail"
    assert proxy.seen == []


@pytest.mark.parametrize("url", ["ftp://example.com/v1", "file:///etc/passwd", "javascript:x",
                                 "http://[::1", "https://", "https://host:99999/v1",
                                 "https://exa mple.com", "gopher://127.0.0.1:70/",
                                 "http://localhost%2e.evil.com:18080/v1",
                                 "http://localhost.:18080/v1",
                                 "http://127.0.0.1%25evil.com/"])
def test_other_schemes_and_unparseable_urls_are_usage_errors(byok_env, url):
    r = byok_env.run("config", "set", "anthropic.base_url", url)
    assert r.returncode == Code.USAGE.exit_status
    assert "anthropic.base_url" in one_line_error(r)
    byok_env.set_key("anthropic", "sk-ant-api03-good-Aa1b2c3d4e5f6g7h8i9")
    env = byok_env.run("run", "-p", "anthropic", "hi", env={"ANTHROPIC_BASE_URL": url})
    assert env.returncode == Code.USAGE.exit_status
    assert "ANTHROPIC_BASE_URL" in one_line_error(env)


def test_opt_in_lifts_the_rule_for_a_trusted_network(byok_env, proxy):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--no-fallback", "hi", env={"OPENAI_BASE_URL": INSECURE,
                                                        "BYOK_ALLOW_INSECURE_HTTP": "1",
                                                        "BYOK_MAX_RETRIES": "0"})
    assert r.returncode != Code.USAGE.exit_status
    assert [s["target"] for s in proxy.seen] == ["http://byok-test.invalid/v1/chat/completions"]


def test_credentials_in_a_base_url_are_masked_wherever_shown(byok_env, proxy):
    url = "https://alice:hunter2hunter2@127.0.0.1:9/v1"
    refused = byok_env.run("config", "set", "openai.base_url", url)  # never stored
    assert refused.returncode == Code.USAGE.exit_status and "credentials" in refused.stderr
    byok_env.set_key("openai", OPENAI_GOOD)
    env = {"OPENAI_BASE_URL": url, "BYOK_MAX_RETRIES": "0"}
    shown = [byok_env.run(*args, env=env) for args in (
        ["doctor"], ["doctor", "--json"], ["run", "--no-fallback", "hi"],
        ["--debug", "run", "--no-fallback", "hi"], ["run", "--explain", "--json"])]
    assert any("https://alice:***@127.0.0.1" in r.stdout + r.stderr for r in shown)
    for r in shown + [refused]:
        assert "hunter2" not in r.stdout + r.stderr
    env_url = byok_env.run("run", "--no-fallback", "hi",
                           env={"OPENAI_BASE_URL": "https://tok3nt0k3nt0k3n@127.0.0.1:9/v1"})
    assert "https://***@127.0.0.1:9" in env_url.stderr and "tok3n" not in env_url.stderr


# --- item 7: environment keys stay with their provider ----------------------------------------

@pytest.fixture
def profile_url(byok_env, fake):
    """A profile whose base URL is the fake server, set in the profile, not the environment."""
    byok_env.vars = {k: v for k, v in byok_env.vars.items() if not k.endswith("_BASE_URL")}
    assert byok_env.run("config", "set", "openai.base_url", fake.url + "/v1").returncode == 0
    assert byok_env.run("config", "set", "preferred-provider", "openai").returncode == 0
    return byok_env


def test_environment_key_not_sent_to_a_profile_base_url(profile_url, fake):
    env = {"OPENAI_API_KEY": OPENAI_GOOD_ENV}
    r = profile_url.run("run", "--no-fallback", "hi", env=env)
    assert r.returncode == Code.NO_KEY.exit_status
    line = one_line_error(r)
    assert "OPENAI_API_KEY is not sent to the profile's base URL" in line
    assert "byok config set openai.send_env_key on" in line
    validate = profile_url.run("key", "validate", "openai", "--json", env=env)
    assert json.loads(validate.stdout)[0]["result"] == "NO_KEY"
    remote = profile_url.run("models", "list", "--remote", "-p", "openai", env=env)
    assert remote.returncode == Code.NO_KEY.exit_status and "send_env_key" in remote.stderr
    assert fake.requests == []
    # The person opts in for this profile: now it goes.
    assert profile_url.run("config", "set", "openai.send_env_key", "on").returncode == 0
    ok = profile_url.run("run", "--no-fallback", "hi", env=env)
    assert ok.returncode == 0, ok.stderr
    assert [x["key"] for x in fake.requests] == [OPENAI_GOOD_ENV]


@pytest.mark.parametrize("preferred", ["openai", "system"])
def test_a_base_url_given_now_may_take_the_environment_key(profile_url, fake, preferred):
    """--base-url (or the Python API's base_url) is the person's own, given with the key in
    the environment: the key may go there, whichever provider the plan puts first."""
    profile_url.run("config", "set", "preferred-provider", preferred)
    env = {"OPENAI_API_KEY": OPENAI_GOOD_ENV}
    r = profile_url.run("run", "--no-fallback", "--base-url", fake.url + "/v1", "hi", env=env)
    assert r.returncode == 0, r.stderr
    assert profile_url.run("run", "--no-fallback", "hi", env=env).returncode == \
        Code.NO_KEY.exit_status  # the profile's URL still does not get it
    assert [x["key"] for x in fake.requests] == [OPENAI_GOOD_ENV]


def test_key_get_still_hands_over_the_environment_key(profile_url):
    # byok sends it nowhere: the program it goes to has its own endpoint.
    r = profile_url.run("key", "get", "openai", env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == 0 and r.stdout == OPENAI_GOOD_ENV + "\n"


def test_fallback_1_does_not_carry_the_environment_key_to_a_profile_base_url(profile_url, fake):
    profile_url.set_key("openai", openai_key("revoked"))
    r = profile_url.run("run", "--no-fallback", "hi", env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    assert [x["key"] for x in fake.requests] == [openai_key("revoked")]


def test_stored_key_goes_to_the_profile_base_url_and_env_key_to_an_env_base_url(profile_url,
                                                                                  fake):
    profile_url.set_key("openai", OPENAI_GOOD)
    assert profile_url.run("run", "hi").returncode == 0
    env = {"OPENAI_API_KEY": OPENAI_GOOD_ENV, "OPENAI_BASE_URL": fake.url + "/v1"}
    profile_url.run("config", "set", "preferred-provider", "system")
    assert profile_url.run("run", "hi", env=env).returncode == 0  # the person set both
    assert [x["key"] for x in fake.requests] == [OPENAI_GOOD, OPENAI_GOOD_ENV]


def test_exec_does_not_pair_the_environment_key_with_a_profile_base_url(profile_url, tmp_path):
    out = tmp_path / "seen"
    r = profile_url.run("exec", "-p", "openai", "-p", "anthropic", "--", "sh", "-c",
                        f'printf "%s|%s" "$OPENAI_API_KEY" "$OPENAI_BASE_URL" > {out}',
                        env={"OPENAI_API_KEY": OPENAI_GOOD_ENV,
                             "ANTHROPIC_API_KEY": "sk-ant-api03-goodenv-Qq1w2e3r4t5y6u7i8"})
    assert r.returncode == 0, r.stderr
    assert "OPENAI_API_KEY is not passed on" in r.stderr
    assert out.read_text() == "|"


# --- the rules themselves -------------------------------------------------------------------

@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("::ffff:127.0.0.1", True),
    ("localhost.", False), ("LOCALHOST.", False),  # fully qualified: DNS answers for it
    ("128.0.0.1", False), ("0.0.0.0", False), ("localhost.example.com", False),
    ("127.0.0.1.nip.io", False), ("10.0.0.1", False), ("::2", False), ("", False),
    ("127.1", False), ("localhost%2e.evil.com", False), ("127.0.0.1%25evil.com", False),
    ("::1%lo", True), ("::1%25.evil.com", True),  # an IPv6 zone: the address is still ::1
])
def test_loopback_hosts(host, loopback):
    from byok_cli.urls import is_loopback

    assert is_loopback(host) is loopback


def test_check_and_endpoint_origins():
    from byok_cli import urls
    from byok_cli.errors import ByokError
    from byok_cli.wire.endpoint import endpoint

    assert urls.check(" https://gw.example.com/v1/ ", "X") == "https://gw.example.com/v1"
    assert urls.check("http://[::1]:8080", "X") == "http://[::1]:8080"
    for bad in ("http://gw.example.com", "HTTP://10.1.1.1", "https://gw.example.com/\x1b[2J"):
        with pytest.raises(ByokError) as err:
            urls.check(bad, "X")
        assert err.value.code == Code.USAGE and err.value.message.startswith("X: ")
    assert urls.check("http://gw.example.com", "X", {"BYOK_ALLOW_INSECURE_HTTP": "1"})
    env = {"OPENAI_BASE_URL": "https://env.example.com"}
    profile = "https://profile.example.com"
    assert endpoint("openai", profile=profile, env=env).source == urls.ENVIRONMENT
    assert endpoint("openai", profile=profile, env={}).source == urls.PROFILE
    assert endpoint("openai", flag=profile, env=env).source == urls.FLAG
    assert endpoint("openai", env={"OPENAI_BASE_URL": "  "}).source == urls.DEFAULT
    with pytest.raises(ByokError) as err:
        endpoint("openai", profile="http://10.0.0.1/v1", env={})
    assert "openai.base_url" in err.value.message


@pytest.mark.parametrize("origin,source,opt_in,allowed", [
    ("default", "stored", False, True), ("default", "environment", False, True),
    ("environment", "stored", False, True), ("environment", "environment", False, True),
    ("flag", "environment", False, True),
    ("profile", "stored", False, True), ("profile", "environment", False, False),
    ("profile", "environment", True, True),
])
def test_which_key_may_go_where(origin, source, opt_in, allowed):
    from byok_cli.urls import env_key_refusal

    why = env_key_refusal(source, origin, "https://x.example.com", "where", "OPENAI_API_KEY",
                          opt_in, "openai.send_env_key")
    assert (why is None) is allowed
