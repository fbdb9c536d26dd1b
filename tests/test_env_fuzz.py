"""A property test over the environment (issue 11, "Tests and figures"): random values for
every BYOK_* variable, the base URL variables, the provider key variables and the OpenAI
organisation/project variables, with a random command of the installed `byok`. Whatever
the values: no traceback, no "internal error", an exit status from docs/exit-codes.md,
never 1, and no key printed.

Requests never leave the machine: HTTP(S)_PROXY points at the recording proxy, and the
default data dir is inside the test's tmp dir. FUZZ_EXAMPLES sets the number of
environments tried (default 60); the figures are printed (pytest -s) and, with
FUZZ_REPORT=path, written as JSON.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

from hypothesis import HealthCheck, given, settings, strategies as st

from byok_cli.errors import Code

from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, OPENAI_GOOD_ENV, _clean_env

# docs/exit-codes.md: every code byok has, but 1 (a bug).
KNOWN_STATUSES = {0} | {c.exit_status for c in Code} - {Code.INTERNAL.exit_status}
DEBUG_ON = {b"1", b"true", b"yes", b"on", b"y", b"t"}
GOOD_MASTER = base64.urlsafe_b64encode(bytes(range(7, 39))).decode()

COMMANDS = [
    (["key", "list"], None), (["key", "list", "--json"], None), (["run", "hi"], None),
    (["run", "--explain", "--json"], None), (["run", "-p", "anthropic", "hi"], None),
    (["models", "list"], None), (["models", "list", "--remote", "-p", "openai"], None),
    (["config", "show", "--json"], None), (["doctor", "--json"], None),
    (["vault", "status", "--json"], None), (["vault", "rotate"], None),
    (["exec", "--", "true"], None), (["key", "validate"], None), (["usage"], None),
    (["history", "list"], None), (["chat"], b"hi\n/model haiku\nhello\n"),
    (["key", "set", "openai", "--no-validate"], OPENAI_GOOD.encode()),
    (["key", "set", "anthropic"], ANTHROPIC_GOOD.encode()),
    (["run", "hi there"], b"piped text\n"), (["models", "sync"], None),
    (["budget", "list"], None), (["run", "--cost", "hi"], None),
]


def env_text() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes an environment can hold (anything but NUL), and text."""
    return st.one_of(st.binary(max_size=40).map(lambda b: b.replace(b"\0", b"")),
                     st.text(max_size=40).map(lambda s: s.replace("\0", "").encode(
                         "utf-8", "surrogatepass")))


def pick(*values: str | bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from([v if isinstance(v, bytes) else v.encode() for v in values])


NUMBERS = st.one_of(pick("abc", "nan", "NaN", "inf", "-inf", "-1", "1e309", "0", "1", "2",
                         "0.0001", "-0", "1e3", " 2 ", "", "0x10", "1_000", "１２", "9" * 400,
                         "86401", "3.5", "1e-320", "+5", b"\xff\xfe"), env_text())
FLAGS = st.one_of(pick("1", "0", "true", "yes", "", "on", "2", b"\xff"), env_text())


def variables(tmp_path, fake_url: str) -> dict[str, st.SearchStrategy[bytes]]:
    home = tmp_path / "home"  # the working one; the others are broken in some way
    urls = pick(fake_url + "/v1", fake_url, "http://[::1", "ftp://x", "https://", "http://",
                "https://u:p@127.0.0.1:9/v1", "http://10.0.0.1/v1", "http://localhost:1",
                "https://byok-fuzz.invalid/v1", f"{fake_url}/{OPENAI_GOOD}",
                "http://127.0.0.1:99999", "https://exa mple.com", "http://\x1b[2J/",
                "javascript:alert(1)", "", " ", b"http://\xff/", "HTTP://127.0.0.1:1")
    keys = pick(OPENAI_GOOD_ENV, ANTHROPIC_GOOD, "sk-proj-revoked-K1l2m3n4o5p6q7r8s9t0",
                "x", "", "sk-caf\xe9-K1l2m3n4o5p6q7r8s9t0", "sk-ab\x1bcd-efgh-ijkl-mnop",
                "gw token with spaces", b"sk-\xff\xfe-K1l2m3n4o5p6q7r8", "k" * 600)
    master = pick(GOOD_MASTER, GOOD_MASTER.rstrip("="), GOOD_MASTER + "!!",
                  base64.urlsafe_b64encode(bytes(32)).decode(), "", "short", b"\xff" * 44,
                  GOOD_MASTER[:-2] + "B=", " " + GOOD_MASTER + "\n")
    homes = pick(str(tmp_path / "other-home"), "~nosuchuser-fuzz/x", "", "relative/dir",
                 str(tmp_path / "a-file"),
                 str(home) + "/" + "d" * 300, str(home).encode() + b"/\xff\xfe",
                 "~", str(home) + "/../home")
    return {
        "BYOK_HOME": homes, "BYOK_PROFILE": st.one_of(pick("default", "work", "", "a" * 65),
                                                      env_text()),
        "BYOK_MASTER_KEY": master, "BYOK_NEW_MASTER_KEY": st.one_of(master, env_text()),
        "BYOK_TIMEOUT": NUMBERS, "BYOK_MAX_RETRIES": NUMBERS, "BYOK_MAX_RETRY_WAIT": NUMBERS,
        "BYOK_KEYRING_TIMEOUT": NUMBERS, "BYOK_STDIN_TIMEOUT": NUMBERS,
        "BYOK_MODELS_TTL": NUMBERS, "BYOK_ALLOW_INSECURE_KEYRING": FLAGS,
        "BYOK_ALLOW_INSECURE_HTTP": FLAGS, "BYOK_DEBUG": FLAGS,
        "BYOK_EXEC": st.one_of(pick(""), env_text()),
        "OPENAI_BASE_URL": st.one_of(urls, env_text()),
        "ANTHROPIC_BASE_URL": st.one_of(urls, env_text()),
        "OPENAI_API_KEY": st.one_of(keys, env_text()),
        "ANTHROPIC_API_KEY": st.one_of(keys, env_text()),
        "BYOK_CONNECT_TIMEOUT": NUMBERS, "BYOK_CATALOG_URL": st.one_of(urls, env_text()),
        "OPENAI_ORG_ID": st.one_of(pick("org-abc", "a\nb", "caf\xe9", ""), env_text()),
        "OPENAI_PROJECT_ID": st.one_of(pick("proj_abc", "x\r\nInjected: 1", ""), env_text()),
    }


def test_random_environments_never_end_in_an_internal_error(tmp_path, fake, proxy_server):
    fake.slow_seconds = 0.2
    (tmp_path / "a-file").write_text("not a directory")
    base = {k.encode(): v.encode("utf-8", "surrogateescape")
            for k, v in _clean_env(proxy_server).items()}
    base.update({b"PYTHONPATH": os.path.dirname(os.path.abspath(__file__)).encode(),
                 b"HOME": str(tmp_path / "user").encode(),
                 b"XDG_DATA_HOME": str(tmp_path / "xdg").encode(),
                 b"PYTHON_KEYRING_BACKEND": b"support.fake_keyrings.FileKeyring",
                 b"BYOK_TEST_KEYRING": str(tmp_path / "keyring.json").encode()})
    # A working setup (stored keys, a master key, base URLs at the fake server), then a
    # few variables (up to 5) given random values: deep enough to reach the code that
    # sends keys, not stopped at the first bad number every time.
    home = tmp_path / "home"
    base.update({b"BYOK_HOME": str(home).encode(), b"BYOK_MASTER_KEY": GOOD_MASTER.encode(),
                 b"OPENAI_BASE_URL": f"{fake.url}/v1".encode(),
                 b"ANTHROPIC_BASE_URL": fake.url.encode()})
    for provider, key in (("openai", OPENAI_GOOD), ("anthropic", ANTHROPIC_GOOD)):
        subprocess.run([str(BYOK), "key", "set", provider, "--no-validate"], env=base,
                       input=key.encode(), check=True, capture_output=True, timeout=60)
    strategies = variables(tmp_path, fake.url)
    names = sorted(strategies)
    chosen_variables = st.lists(st.sampled_from(names), unique=True, max_size=5).flatmap(
        lambda some: st.fixed_dictionaries({n: strategies[n] for n in some}))
    figures = {"environments": 0, "values": 0, "exit_1": 0, "statuses": {}}

    @settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(chosen=chosen_variables, command=st.sampled_from(COMMANDS))
    def one(chosen: dict[str, bytes], command) -> None:
        args, stdin = command
        env = {**base, **{k.encode(): v for k, v in chosen.items()}}
        proc = subprocess.run([str(BYOK), *args], env=env, input=stdin, capture_output=True,
                              timeout=120, cwd=tmp_path,
                              stdin=None if stdin is not None else subprocess.DEVNULL)
        figures["environments"] += 1
        figures["values"] += len(chosen)
        figures["statuses"][proc.returncode] = figures["statuses"].get(proc.returncode, 0) + 1
        if proc.returncode == 1:
            figures["exit_1"] += 1
        err = proc.stderr.decode("utf-8", "replace")
        out = proc.stdout.decode("utf-8", "replace")
        shown = {k: v.decode("utf-8", "replace")[:80] for k, v in chosen.items()}
        assert proc.returncode in KNOWN_STATUSES, (args, shown, proc.returncode, err)
        debug = chosen.get("BYOK_DEBUG", b"").strip().lower() in DEBUG_ON
        assert debug or "Traceback" not in err, (args, shown, err)  # --debug shows them
        assert "internal error" not in err, (args, shown, err)
        for secret in (OPENAI_GOOD, OPENAI_GOOD_ENV, GOOD_MASTER.rstrip("=")):
            assert secret[10:22] not in out + err, (args, shown)

    one()
    print(f"\nenvironment fuzz: {figures['environments']} environments, {figures['values']} "
          f"variable values, {figures['exit_1']} ended in exit 1; statuses "
          f"{dict(sorted(figures['statuses'].items()))}")
    if os.environ.get("FUZZ_REPORT"):
        with open(os.environ["FUZZ_REPORT"], "w") as f:
            json.dump(figures, f)
    assert figures["exit_1"] == 0
