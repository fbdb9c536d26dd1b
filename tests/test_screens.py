"""What a person sees: every table at 80 columns on a real terminal (ids, aliases, URLs,
paths and key hints whole; descriptions wrap or go first), tab-separated lines for
scripts, --json errors, empty results."""

import io
import json
import re

import pexpect
import pytest
from rich.cells import cell_len

from byok_cli.errors import Code
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, openai_key

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SHORT_TIME = re.compile(r"\b20\d\d-\d\d-\d\d \d\d:\d\d\b")


def screen(byok_env, *args: str, width: int = 80) -> tuple[int, list[str]]:
    """The command's output on a terminal `width` columns wide: (exit status, lines)."""
    child = pexpect.spawn(str(BYOK), list(args), env=byok_env.vars, timeout=30,
                          dimensions=(60, width), encoding="utf-8")
    child.expect(pexpect.EOF)
    child.close()
    lines = [ANSI.sub("", line) for line in child.before.replace("\r\n", "\n").split("\n")]
    return child.exitstatus, [line.rstrip() for line in lines if line.strip()]


def fits(lines: list[str], width: int = 80) -> None:
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, too_wide


def whole(lines: list[str], *tokens: str) -> None:
    """Each token appears unbroken on a line (not cut, not wrapped)."""
    for token in tokens:
        assert any(re.search(rf"(?<!\S){re.escape(token)}(?!\S)", line) for line in lines), \
            (token, lines)


def unbroken(lines: list[str], *tokens: str, column: str | None = None) -> None:
    """Each token appears, perhaps wrapped across lines, never cut short (within one
    `column`, found by its header, when several columns wrap)."""
    if column is not None:
        headers = lines[0]
        start = re.search(rf"(?<!\S){re.escape(column)}(?!\S)", headers).start()
        after = re.search(r"(?<=\s)\S", headers[start + len(column):])
        end = start + len(column) + after.start() if after else None
        lines = [line[start:end] for line in lines[1:]]
    flat = "".join("".join(lines).split())
    for token in tokens:
        assert "".join(token.split()) in flat, (token, lines)


@pytest.fixture
def used(byok_env, fake):
    """A profile with both keys, a few conversations and usage."""
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    byok_env.run("run", "a first question that is long enough to need wrapping on a narrow "
                 "screen, and then some more words")
    byok_env.run("run", "-m", "haiku", "second")
    return byok_env


def test_models_list_at_80_columns(used):
    from byok_cli.catalog.curated import load

    status, lines = screen(used, "models", "list")
    assert status == 0
    fits(lines)
    cat = load()
    whole(lines, *[m.id for m in cat.models], *[",".join(m.aliases) for m in cat.models
                                                 if m.aliases])
    assert "…" not in "".join(lines)
    wide = screen(used, "models", "list", width=200)[1]
    assert any("The everyday workhorse: strong reasoning and coding" in x for x in wide)
    middle = screen(used, "models", "list", width=120)[1]
    fits(middle, 120)
    unbroken(middle, "Most capable OpenAI model, for the hardest end-to-end work")


def test_usage_at_80_columns(used):
    status, lines = screen(used, "usage")
    assert status == 0
    fits(lines)
    whole(lines, "gpt-6.2-sol", "claude-haiku-5-5", "requests", "tokens in/out", "cost usd")


def test_run_explain_at_80_columns(used):
    status, lines = screen(used, "run", "--explain", "-m", "gpt-4o", "--fallback")
    assert status == 0
    fits(lines)
    whole(lines, "gpt-4o", "gpt-6.2-sol", "claude-sonnet-5-5")
    assert sum(f"stored key (…{OPENAI_GOOD[-4:]})" in x for x in lines) >= 2
    unbroken(lines, "the model given with -m; from -m/--model")


def test_doctor_at_80_columns(used):
    assert screen(used, "doctor")[0] == 0  # both keys were used, so they are valid now
    used.home.chmod(0o755)
    status, lines = screen(used, "doctor")
    assert status == Code.NEEDS_ATTENTION.exit_status
    fits(lines)
    unbroken(lines, str(used.home / "byok.db"), column="detail")
    unbroken(lines, f"chmod 700 {used.home} && chmod 600 {used.home}/byok.db*", column="fix")
    whole(lines, f"…{OPENAI_GOOD[-4:]}", f"…{ANTHROPIC_GOOD[-4:]}")


def test_key_list_at_80_columns(used):
    status, lines = screen(used, "key", "list")
    assert status == 0
    fits(lines)
    whole(lines, f"…{OPENAI_GOOD[-4:]}", f"…{ANTHROPIC_GOOD[-4:]}")
    assert len(SHORT_TIME.findall("\n".join(lines))) == 2


def test_history_list_at_80_columns(used):
    status, lines = screen(used, "history", "list")
    assert status == 0
    fits(lines)
    whole(lines, "gpt-6.2-sol", "claude-haiku-5-5")
    assert len(SHORT_TIME.findall("\n".join(lines))) == 2
    assert not any("T" in t for t in SHORT_TIME.findall("\n".join(lines)))


def test_vault_status_at_80_columns(used):
    status, lines = screen(used, "vault", "status")
    assert status == 0
    fits(lines)
    unbroken(lines, str(used.home / "byok.db"))
    info = json.loads(used.run("vault", "status", "--json").stdout)
    whole(lines, info["master_key_id"])


def test_config_show_keeps_urls_whole(used):
    url = "https://gateway.example.com/some/long/path/to/an/openai-compatible/api/v1"
    used.run("config", "set", "openai.base_url", url)
    status, lines = screen(used, "config", "show")
    assert status == 0
    fits(lines)
    unbroken(lines, url)


@pytest.mark.parametrize("args", [["key", "list"], ["models", "list"], ["history", "list"],
                                  ["usage"], ["doctor"], ["vault", "status"], ["config", "show"],
                                  ["models", "default"], ["run", "--explain"],
                                  ["key", "validate"]])
def test_tab_separated_lines_have_a_header_that_a_flag_drops(used, args):
    with_header = used.run(*args).stdout.splitlines()
    without = used.run(*args, "--no-header").stdout.splitlines()
    if args == ["key", "validate"]:  # latencies differ from run to run
        with_header = [line.rsplit("\t", 1)[0] for line in with_header]
        without = [line.rsplit("\t", 1)[0] for line in without]
    if args == ["run", "--explain"]:  # two tables: the attempts, then the base URLs
        assert [x for x in with_header if not x.startswith(("#\t", "provider\t"))] == without
        assert len(with_header) == len(without) + 2
        return
    assert with_header[1:] == without and with_header[0] not in without
    assert all("\t" in line for line in with_header)
    widths = {len(line.split("\t")) for line in with_header}
    assert len(widths) == 1, with_header  # one field per column on every line


def test_tab_separated_values_are_bare(used):
    usage = [dict(zip(lines[0], row)) for lines in
             [[line.split("\t") for line in used.run("usage").stdout.splitlines()]]
             for row in lines[1:]]
    for row in usage:
        numbers = ["requests", "errors", "fallbacks", "tokens in", "tokens out"]
        if row["provider"] != "total":
            numbers += ["ttft p50 ms", "ttft p95 ms", "total p50 ms", "total p95 ms"]
        assert all(row[n].isdigit() for n in numbers), row
        assert row["cost usd"] == "unknown" or re.fullmatch(r"\d+\.\d+", row["cost usd"])
    assert usage[-1]["provider"] == "total"
    history = [line.split("\t") for line in used.run("history", "list").stdout.splitlines()]
    assert history[0][:3] == ["id", "updated", "messages"]
    assert all(re.fullmatch(r"20\d\d-\d\d-\d\dT[\d:]+\+00:00", row[1]) for row in history[1:])
    validate = [line.split("\t") for line in used.run("key", "validate").stdout.splitlines()]
    assert validate[0][-1] == "latency ms" and all(row[-1].isdigit() for row in validate[1:])


def test_json_errors_are_json_on_stdout_too(used):
    for args in (["run", "--json", "-p", "nosuch", "hi"], ["models", "list", "--json", "-p", "x"],
                 ["history", "show", "99", "--json"], ["models", "list", "--json", "--bogus"]):
        r = used.run(*args)
        assert r.returncode == 2 and r.stderr.startswith(("error:", "Usage:")), args
        error = json.loads(r.stdout)["error"]
        assert error["code"] == "USAGE" and error["message"], args
    plain = used.run("run", "-p", "nosuch", "hi")
    assert plain.stdout == "" and plain.returncode == 2


def test_empty_results_say_so_in_one_line(byok_env):
    for args, words in ((["history", "list"], "no conversations in profile 'default' yet"),
                        (["usage"], "no requests in profile 'default' in the last 7d"),
                        (["usage", "--since", "all"], "no requests in profile 'default' yet")):
        r = byok_env.run(*args)
        assert r.returncode == 0 and r.stdout == "" and r.stderr == words + "\n", args
        status, lines = screen(byok_env, *args)
        assert status == 0 and lines == [words]
    assert json.loads(byok_env.run("history", "list", "--json").stdout) == []


def test_no_color_means_no_escape_codes(used):
    child = pexpect.spawn(str(BYOK), ["key", "list"], env={**used.vars, "NO_COLOR": "1"},
                          timeout=30, dimensions=(40, 80), encoding="utf-8")
    child.expect(pexpect.EOF)
    assert "\x1b[" not in child.before and "provider" in child.before


def test_provider_list_at_80_columns(byok_env):
    status, lines = screen(byok_env, "provider", "list")
    assert status == 0
    fits(lines)
    whole(lines, "https://generativelanguage.googleapis.com/v1beta/openai", "openrouter")
    wider = screen(byok_env, "provider", "list", width=110)[1]
    fits(wider, 110)
    whole(wider, "OPENROUTER_API_KEY", "builtin", "anthropic")  # room for every column


def test_key_list_with_a_failed_key_at_80_columns(byok_env, fake):
    # (only the provider's verdict marks a key failed: a key out of credit)
    byok_env.set_key("openai", openai_key("quota"), "--name", "a-longer-key-name",
                     "--no-validate")
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    byok_env.run("key", "validate")
    status, lines = screen(byok_env, "key", "list")
    assert status == 0
    fits(lines)
    whole(lines, "QUOTA_EXCEEDED", "a-longer-key-name", f"…{ANTHROPIC_GOOD[-4:]}")


def test_doctor_keeps_urls_and_codes_whole_where_they_fit(byok_env, fake):
    url = "http://127.0.0.1:18734/v1"
    byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url", url)
    byok_env.set_key("gw", "sk-gw-abcdefghijklmnop1234")
    byok_env.set_key("openai", openai_key("quota"), "--no-validate")
    byok_env.run("key", "validate")
    status, lines = screen(byok_env, "doctor")
    assert status == Code.NEEDS_ATTENTION.exit_status
    fits(lines)
    whole(lines, url, "(QUOTA_EXCEEDED,", fake.url + "/v1", "`byok")


def test_models_list_wide_shows_its_columns_at_any_width(byok_env):
    plain = screen(byok_env, "models", "list")[1]
    status, wide = screen(byok_env, "models", "list", "--wide")
    assert status == 0 and wide != plain
    header = next(line for line in wide if line.startswith("provider"))
    for column in ("$/M cached", "max out", "aliases", "description", "context", "key"):
        assert column in header, header
    whole(wide, "gpt-6.2-sol", "sol,gpt")
    fits(plain)


def test_chat_help_at_80_columns(used):
    """/help wraps each description at word boundaries under itself (issue 24, finding 4)."""
    from byok_cli.cli.chat import COMMANDS

    child = pexpect.spawn(str(BYOK), ["chat"], env=used.vars, timeout=30,
                          dimensions=(60, 80), encoding="utf-8")
    child.logfile_read = seen = io.StringIO()
    child.expect("Ctrl-D to leave")
    child.sendline("/help")
    child.expect("leave \\(or Ctrl-D\\); Ctrl-C stops an answer, not the chat")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    text = ANSI.sub("", seen.getvalue()).replace("\r\n", "\n").replace("\r", "")
    start = text.index("/model [MODEL]")
    lines = [line.rstrip() for line in text[text.rindex("\n", 0, start) + 1:].split("\n")]
    lines = lines[:next(i for i, line in enumerate(lines) if "/exit" in line) + 1]
    fits(lines)
    for command, description in COMMANDS:
        assert any(line.startswith(f"  {command} ") for line in lines), (command, lines)
        unbroken(lines, description)
    words = set(" ".join(f"{c} {d}" for c, d in COMMANDS).split())
    assert [w for line in lines for w in line.split() if w not in words] == []  # none cut
