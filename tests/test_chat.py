"""`byok chat` on a terminal, as a person uses it: what answers, /help, /model and /provider,
errors that say what to do in the chat, pasted and multi-line messages, Ctrl-D."""

import io

import pexpect
import pytest

from byok_cli.errors import Code
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD


def sent(fake) -> list[str]:
    return [r["messages"][-1]["content"] for r in fake.requests if r["method"] == "POST"]


@pytest.fixture
def chat(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    child = pexpect.spawn(str(BYOK), ["chat"], env={**byok_env.vars, "TERM": "xterm-256color"},
                          encoding="utf-8", timeout=20, dimensions=(40, 100))
    yield child
    child.close(force=True)


def test_banner_help_and_current_choice(chat):
    chat.expect(f"byok chat — openai gpt-6.1-sol with the stored key \\(…{OPENAI_GOOD[-4:]}\\)")
    chat.expect("› ")
    chat.sendline("/help")
    for command in ("/model", "/provider", "/system", "/history", '"""', "/exit"):
        chat.expect_exact(command)
    chat.expect("› ")
    chat.sendline("/model")
    chat.expect("model: gpt-6.1-sol")
    chat.sendline("/provider")
    chat.expect("provider: openai")
    chat.sendline("/model haiku")
    chat.expect(f"now answering: anthropic claude-haiku-5-5 with the stored key "
                f"\\(…{ANTHROPIC_GOOD[-4:]}\\)")
    chat.sendline("/provider")
    chat.expect("provider: anthropic")
    chat.sendline("/exit")
    chat.expect(pexpect.EOF)


def test_errors_say_what_to_do_in_the_chat(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    child = pexpect.spawn(str(BYOK), ["chat", "--no-fallback"], env=byok_env.vars,
                          encoding="utf-8", timeout=20)
    child.logfile_read = seen = io.StringIO()
    child.expect("› ")
    child.sendline("/model gpt-4-turbo")
    child.expect("gpt-4-turbo reached end of life on 2026-10-23 — use gpt-6.1-sol instead")
    child.sendline("/provider anthropic")
    child.expect(r"no anthropic key is available — switch with /provider, or store a key with "
                 r"`byok key set anthropic`")
    child.sendline("/provider")
    child.expect("provider: openai")  # the switch that could not answer was not made
    child.sendline("hi")
    child.expect(r"Echo\[gpt-6.1-sol\]: hi")
    assert " -p" not in seen.getvalue() and " -m " not in seen.getvalue()
    child.expect("› ")
    child.sendeof()
    child.expect(pexpect.EOF)


def test_a_pasted_block_is_one_message(chat, fake):
    chat.expect("› ")
    chat.send("\x1b[200~first line\rsecond line\x1b[201~")  # a terminal's bracketed paste
    chat.send("\r")
    chat.expect(r"Echo\[gpt-6.1-sol\]: first line")
    chat.expect("› ")
    chat.sendline('"""')
    chat.sendline("one")
    chat.sendline("two")
    chat.sendline('"""')
    chat.expect(r"Echo\[gpt-6.1-sol\]: one")
    chat.expect("› ")
    assert sent(fake) == ["first line\nsecond line", "one\ntwo"]


def test_ctrl_d_leaves_on_a_new_line(chat):
    chat.expect("› ")
    chat.sendeof()
    chat.expect(pexpect.EOF)
    assert chat.before.endswith("\r\n")  # the shell's prompt comes back on its own line
    chat.close()
    assert chat.exitstatus == 0


def test_multiline_through_a_pipe(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("chat", input='"""\nline one\nline two\n"""\nafter\n')
    assert r.returncode == 0, r.stderr
    assert sent(fake) == ["line one\nline two", "after"]


def test_an_unknown_model_fails_before_the_first_turn(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("chat", "-m", "nosuch", input="hi\n",
                     env={"OPENAI_BASE_URL": "", "ANTHROPIC_BASE_URL": ""})
    assert r.returncode == Code.MODEL_NOT_FOUND.exit_status and "nosuch" in r.stderr
    assert "--remote" in r.stderr  # where to see the provider's own list
    assert fake.requests == []
    nokey = byok_env.run("chat", "-p", "anthropic", "--no-fallback", input="hi\n")
    assert nokey.returncode == Code.NO_KEY.exit_status and fake.requests == []


@pytest.mark.parametrize("term", ["dumb", None])
def test_a_dumb_terminal_gets_no_bracketed_paste_escapes(byok_env, fake, term):
    byok_env.set_key("openai", OPENAI_GOOD)
    env = {k: v for k, v in byok_env.vars.items() if k != "TERM"}
    if term:
        env["TERM"] = term
    child = pexpect.spawn(str(BYOK), ["chat"], env=env, encoding="utf-8", timeout=20,
                          dimensions=(40, 80))
    child.expect("› ")
    seen = child.before
    child.sendline("hi")
    child.expect(r"Echo\[gpt-6.1-sol\]: hi")
    seen += child.before
    child.expect("› ")
    seen += child.before
    child.sendeof()
    child.expect(pexpect.EOF)
    seen += child.before
    child.close()
    assert "\x1b[?2004" not in seen, repr(seen)


def test_a_real_terminal_gets_bracketed_paste(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    child = pexpect.spawn(str(BYOK), ["chat"], env={**byok_env.vars, "TERM": "xterm"},
                          encoding="utf-8", timeout=20, dimensions=(40, 80))
    child.expect(r"\x1b\[\?2004h")
    child.expect("› ")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()


def test_the_banner_fits_80_columns(byok_env, fake):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD, "--name", "personal-laptop")
    child = pexpect.spawn(str(BYOK), ["chat"], env={**byok_env.vars, "TERM": "xterm"},
                          encoding="utf-8", timeout=20, dimensions=(40, 80))
    child.expect("› ")
    banner = [line for line in child.before.replace("\x1b[?2004h", "").split("\r\n") if line]
    child.close(force=True)
    assert banner[0] == "byok chat — anthropic claude-sonnet-5-5"
    assert banner[1].strip() == f"with the stored key 'personal-laptop' (…{ANTHROPIC_GOOD[-4:]})"
    assert banner[2] == "/help for commands, Ctrl-D to leave"
    assert all(len(line) <= 80 for line in banner), banner


def test_chat_says_how_to_choose_a_model_and_what_an_unknown_one_means(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url", fake.url + "/v1",
                 "--no-key")
    byok_env.run("config", "set", "openai.base_url", fake.url + "/v1")
    r = byok_env.run("chat", input="/provider gw\n/model nosuch\n")
    lines = r.stderr.splitlines()
    assert any("no model to use with gw" in x and "/model gw/MODEL" in x for x in lines), lines
    assert not any("see /help" in x for x in lines), lines
    assert any(f"nosuch is not in byok's catalogue: it is sent as given to openai at "
               f"{fake.url}/v1, which may reject it" in x for x in lines), lines
    assert not any("kept for" in x for x in lines), lines
