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
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, anthropic_key, openai_key

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
    whole(lines, *[m.id for m in cat.models])
    assert "…" not in "".join(lines)
    # the key each model is used through is the headline: kept; what went is said, once
    header = next(line for line in lines if line.startswith("provider"))
    assert header.split() == ["provider", "model", "status", "key", "$/M", "in/out"]
    assert sum("default  " in line for line in lines) == len(cat.models)  # the key's name
    assert lines[-1] == "left out to fit 80 columns: context, aliases, description (--wide " \
                        "shows them)"
    wide = screen(used, "models", "list", width=200)[1]
    assert any("The everyday workhorse: strong reasoning and coding" in x for x in wide)
    middle = screen(used, "models", "list", width=120)[1]
    fits(middle, 120)
    unbroken(middle, "Most capable OpenAI model, for the hardest end-to-end work")


def test_usage_at_80_columns(used):
    status, lines = screen(used, "usage")
    assert status == 0
    fits(lines)
    whole(lines, "gpt-6.1-sol", "claude-haiku-5-5", "requests", "tokens in/out", "cost usd")
    # the columns that did not fit are named, with the way to see them (issue 24, finding 5)
    hint = " ".join(lines[-2:])
    assert hint == ("left out to fit 80 columns: fallbacks, ttft p50 ms, ttft p95 ms, total "
                    "p50 ms, total p95 ms (--wide shows them)"), lines
    status, wide = screen(used, "usage", "--wide")
    assert status == 0 and not any("left out" in line for line in wide)
    whole(wide, "fallbacks", "ttft p50 ms", "total p95 ms")
    assert all("left out" not in used.run(*args).stderr  # nothing dropped in a pipe
               for args in (["usage"], ["models", "list"], ["provider", "list"]))


def test_run_explain_at_80_columns(used):
    status, lines = screen(used, "run", "--explain", "-m", "gpt-4o", "--fallback")
    assert status == 0
    fits(lines)
    whole(lines, "gpt-4o", "gpt-6.1-sol", "claude-sonnet-5-5")
    assert sum(f"stored key (…{OPENAI_GOOD[-4:]})" in x for x in lines) >= 2
    unbroken(lines, "the model given with -m; from -m/--model")


def test_doctor_at_80_columns(used):
    assert screen(used, "doctor")[0] == 0  # both keys were used, so they are valid now
    used.home.chmod(0o755)
    status, lines = screen(used, "doctor")
    assert status == Code.NEEDS_ATTENTION.exit_status
    fits(lines)
    whole(lines, f"…{OPENAI_GOOD[-4:]}:", f"…{ANTHROPIC_GOOD[-4:]}:")
    for path in (str(used.home / "byok.db"), f"{used.home}/byok.db*", str(used.home)):
        tail_kept(lines, path)  # wrapped whole, or shortened at its start to fit
    # compact: a line for each check (its status first), its fix on the next; long
    # values wrap, a little (issue 24, finding 4: 44 lines for 12 checks before)
    checks = json.loads(used.run("doctor", "--json").stdout)
    starts = [line for line in lines if re.match(r"(ok|warn|fail) ", line)]
    assert [line.split()[0] for line in starts] == [c["status"] for c in checks]
    assert all(line.split(None, 1)[1].startswith(c["check"] + ":")
               for line, c in zip(starts, checks))
    fixes = [line for line in lines if line.startswith("      fix: ")]
    assert len(fixes) == sum(1 for c in checks if c["fix"]) == 1
    assert len(lines) <= 2 * len(checks), lines


def tail_kept(lines: list[str], value: str, width: int = 80) -> None:
    """`value` appears whole on a line, or, too long for the room after its line's indent,
    as "…" and as much of its end as fits there."""
    shortened = [line.split()[-1] if line.split() else "" for line in lines]
    assert any(re.search(rf"(?<!\S){re.escape(value)}(?!\S)", line) for line in lines) or any(
        w.startswith("…") and value.endswith(w[1:]) and cell_len(line) == width
        and len(value) > len(w) for w, line in zip(shortened, lines)), (value, lines)


def test_doctor_shortens_a_value_wider_than_the_terminal_at_its_start(byok_env):
    url = "https://gateway.example.com/" + "a-very-long-path-segment/" * 3 + "openai/v1"
    byok_env.vars["OPENAI_BASE_URL"] = url
    status, lines = screen(byok_env, "doctor", width=60)
    fits(lines, 60)
    line = next(line for line in lines if "openai/v1" in line)
    assert line.startswith("ok    openai base URL: …")  # on the check's own line
    shown = next(word for word in line.split() if "openai/v1" in word)
    assert url.endswith(shown[1:]) and cell_len(line) == 60  # the tail that names it
    assert any(line.strip() == "(OPENAI_BASE_URL)" for line in lines)


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
    whole(lines, "gpt-6.1-sol", "claude-haiku-5-5")
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
    assert lines[-1] == "left out to fit 80 columns: kind, api, from, key (--wide shows them)"
    wider = screen(byok_env, "provider", "list", width=140)[1]
    fits(wider, 140)
    whole(wider, "OPENROUTER_API_KEY", "builtin", "anthropic")  # room for every column
    assert not any("left out" in line for line in wider)


def test_provider_list_shows_the_url_in_effect(byok_env):
    """The URL requests go to now, and the setting it comes from (issue 24, finding 5)."""
    byok_env.run("config", "set", "groq.base_url", "http://127.0.0.1:4000/v1")
    rows = {line.split("\t")[0]: line.split("\t")
            for line in byok_env.run("provider", "list").stdout.splitlines()}
    assert rows["name"] == ["name", "kind", "api", "base url", "from", "key"]
    assert rows["groq"][3:5] == ["http://127.0.0.1:4000/v1", "profile"]
    assert rows["openai"][3:5] == [byok_env.vars["OPENAI_BASE_URL"], "OPENAI_BASE_URL"]
    assert rows["mistral"][3:5] == ["https://api.mistral.ai/v1", "default"]
    status, lines = screen(byok_env, "provider", "list", "--wide")
    assert status == 0
    whole(lines, "http://127.0.0.1:4000/v1", "profile", "OPENAI_BASE_URL")
    listed = {p["name"]: p for p in json.loads(byok_env.run("provider", "list",
                                                             "--json").stdout)}
    assert listed["groq"]["url_in_effect"] == "http://127.0.0.1:4000/v1"
    assert listed["groq"]["base_url"] == "https://api.groq.com/openai/v1"  # the preset's own
    assert listed["groq"]["url_from"] == "profile"


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
    whole(wide, "gpt-6.2-sol", "sol", "gpt-6.1-sol", "gpt")
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


def test_key_import_dry_run_at_80_columns(byok_env, tmp_path):
    import shutil
    from pathlib import Path

    where = tmp_path / "llm"
    shutil.copytree(Path(__file__).parent / "fixtures" / "import" / "llm", where)
    status, lines = screen(byok_env, "key", "import", "llm", str(where), "--dry-run")
    assert status == 0
    assert lines[0] == f"reading {where / 'keys.json'}"  # (a path as long as it is)
    fits(lines[1:])
    whole(lines, "…I9j0", "…i8J9", "openai", "anthropic")
    assert sum("would" in line for line in lines) >= 2
    assert lines[-1] == "dry run: nothing was stored or changed"


def test_run_explain_with_a_long_key_name_fits_and_names_wide(used):
    """user2's finding 2: a long key name pushed the plan past 80 columns, and the hint
    named an option run did not have."""
    long_name = "team-shared-account-2026"
    assert used.set_key("openai", openai_key("good"), "--name", long_name).returncode == 0
    assert used.run("key", "order", "openai", long_name, "default").returncode == 0
    status, lines = screen(used, "run", "--explain")
    assert status == 0
    fits(lines)
    whole(lines, f"'{long_name}'", "gpt-6.1-sol", "claude-sonnet-5-5")
    assert "left out to fit 80 columns: role, reason (--wide shows them)" in lines
    status, wide = screen(used, "run", "--explain", "--wide")
    assert status == 0 and not any("left out" in line for line in wide)
    assert wide[0].split() == ["#", "provider", "model", "key", "role", "reason"]
    whole(wide, "primary", "key_fallback")
    from typer.testing import CliRunner

    from byok_cli.cli import app

    plain = CliRunner().invoke(app, ["run", "--explain", "--wide", "--no-header"],
                               env=used.vars)
    assert plain.exit_code == 0 and "\tprimary\t" in plain.output


def test_usage_handoffs_at_80_columns(used):
    assert used.run("key", "get", "openai").returncode == 0
    status, lines = screen(used, "usage", "--handoffs")
    assert status == 0
    fits(lines)
    assert lines[0].split() == ["program", "provider", "key", "source", "times", "last"]
    text = "\n".join(lines)
    assert len(SHORT_TIME.findall(text)) == 1 and "T" not in SHORT_TIME.findall(text)[0]
    assert "+00:00" not in text  # the time as every other table shows it
    plain = used.run("usage", "--handoffs").stdout.splitlines()  # scripts keep ISO times
    assert re.search(r"\t20\d\d-\d\d-\d\dT[\d:]+\+00:00$", plain[1]), plain
    assert used.run("usage", "--handoffs", "--no-header").stdout.splitlines() == plain[1:]


def test_unknown_tokens_and_costs_stay_unknown_in_pipes(byok_env, fake):
    """Tab-separated usage says how many requests' cost is unknown, and a server that
    reports no tokens shows them unknown, not 0/0 (issue 24, finding 8)."""
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", anthropic_key("usageneg"))
    assert byok_env.run("run", "hello").returncode == 0                      # priced
    assert byok_env.run("run", "-m", "gpt-6.2-sol", "hello").returncode == 0  # no price
    assert byok_env.run("run", "-m", "haiku", "hello").returncode == 0        # no tokens
    lines = [line.split("\t") for line in byok_env.run("usage").stdout.splitlines()]
    rows = {(r[0], r[1]): dict(zip(lines[0], r)) for r in lines[1:]}
    assert "cost unknown" in lines[0]
    haiku = rows[("anthropic", "claude-haiku-5-5")]
    # (the fake's usageneg: input tokens -1000000, too implausible to keep; output counted)
    assert (haiku["tokens in"], haiku["cost usd"], haiku["cost unknown"]) \
        == ("unknown", "unknown", "1") and haiku["tokens out"].isdigit()
    assert rows[("openai", "gpt-6.2-sol")]["cost unknown"] == "1"
    assert rows[("openai", "gpt-6.1-sol")]["cost unknown"] == "0"
    total = rows[("total", "")]
    assert re.fullmatch(r"0\.\d+", total["cost usd"]) and total["cost unknown"] == "2"
    assert total["tokens in"].isdigit() and int(total["tokens in"]) > 0  # the known ones
    on_screen = screen(byok_env, "usage")[1]
    haiku_line = next(line for line in on_screen if "claude-haiku-5-5" in line)
    assert f"unknown/{haiku['tokens out']}" in haiku_line.split()
    total_line = next(line for line in on_screen if line.startswith("total"))
    # the cell is whole on its line, never "≥$0.00117 (1" / "unknown)" (user2, finding 11)
    assert re.search(r"≥\$[\d.]+ \(2 unknown\)$", total_line), on_screen
    data = json.loads(byok_env.run("usage", "--json").stdout)  # JSON says the same
    by_model = {r["model"]: r for r in data["rows"]}
    assert by_model["claude-haiku-5-5"]["input_tokens"] is None
    assert by_model["claude-haiku-5-5"]["output_tokens"] == int(haiku["tokens out"])
    assert by_model["claude-haiku-5-5"]["cost_usd"] is None
    assert data["totals"]["cost_unknown_requests"] == 2
    assert data["totals"]["input_tokens"] == int(total["tokens in"])


# The other tables byok draws (`grep -rn "output.table(" byok_cli`), each on a real pty at
# 80 columns: it fits, and the values that name things are whole.
OTHER_TABLES = {
    "key validate": (["key", "validate"], [f"…{OPENAI_GOOD[-4:]}", "VALID"]),
    "budget list": (["budget", "list"], ["profile", "$20.00"]),
    "profile list": (["profile", "list"], ["default"]),
    "models default": (["models", "default"], ["gpt-6.1-sol", "claude-sonnet-5-5"]),
    "token list": (["token", "list"], ["a-client-token-name", "all"]),
    "setup --list": (["setup", "--list"], ["claude", "aider",
                                           "~/.config/io.datasette.llm/extra-openai-models.yaml"]),
    "provider show": (["provider", "show", "gemini"],
                      ["https://generativelanguage.googleapis.com/v1beta/openai"]),
    "usage --by key": (["usage", "--by", "key"], ["default", "anthropic"]),
    "usage --by token": (["usage", "--by", "token"], ["requests"]),
}


@pytest.mark.parametrize("name", OTHER_TABLES)
def test_other_tables_at_80_columns(used, name):
    args, tokens = OTHER_TABLES[name]
    used.run("budget", "set", "--per", "month", "20")
    used.run("token", "create", "a-client-token-name")
    status, lines = screen(used, *args)
    assert status == 0, lines
    fits(lines)
    whole(lines, *tokens)
    if name == "token list":  # times as every table shows them; what went is said
        assert lines[-1] == "left out to fit 80 columns: created (--wide shows them)"
        wide = screen(used, "token", "list", "--wide")[1]
        assert SHORT_TIME.search(wide[1]) and "+00:00" not in wide[1]


def help_paths() -> list[list[str]]:
    from test_help import commands

    return commands()


@pytest.mark.parametrize("path", help_paths(), ids=lambda p: " ".join(p) or "byok")
def test_help_at_80_columns_on_a_terminal(byok_env, path):
    status, lines = screen(byok_env, *path, "--help")
    assert status == 0
    fits(lines)
    assert any(line.startswith(("Usage:", " Usage:")) for line in lines), lines


def test_a_warning_after_the_answer_starts_a_line_of_its_own(byok_env, fake):
    """On a terminal, a warning that comes before the answer's last line has ended (here:
    more output tokens reported than --max-tokens allows) is not glued to that line."""
    byok_env.set_key("openai", OPENAI_GOOD)
    status, lines = screen(byok_env, "run", "--max-tokens", "2", "lines:3")
    assert status == 0, lines
    assert lines[:3] == ["line 1", "line 2", "line 3"], lines
    assert lines[3].startswith("warning: openai reported"), lines
    piped = byok_env.run("run", "--max-tokens", "2", "lines:3")  # bytes as they came
    assert piped.stdout == "line 1\nline 2\nline 3\n" and "booked at 2" in piped.stderr


# -- user2's finding 11: table details --------------------------------------------------------

def test_usage_handoffs_with_none_says_so(byok_env):
    r = byok_env.run("usage", "--handoffs")
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr == "no key handed out with `byok key get` in profile 'default' in the " \
        "last 7d\n"
    status, lines = screen(byok_env, "usage", "--handoffs", "--since", "all")
    assert status == 0 and lines == ["no key handed out with `byok key get` in profile "
                                     "'default' yet"]


def test_history_list_shows_a_screenful_on_a_terminal(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    for i in range(22):
        assert byok_env.run("run", f"question {i}").returncode == 0
    status, lines = screen(byok_env, "history", "list")
    assert status == 0 and lines[0].split()[:2] == ["id", "updated"]
    assert len(lines) == 22 and lines[-1] == "the newest 20 shown; -n N shows more"
    assert lines[1].split()[0] == "22"  # newest first
    status, lines = screen(byok_env, "history", "list", "-n", "30")
    assert len(lines) == 23 and "newest" not in lines[-1]
    piped = byok_env.run("history", "list")  # scripts: as before, up to 50, no hint
    assert len(piped.stdout.splitlines()) == 23 and piped.stderr == ""


def test_config_show_names_a_base_url_from_the_environment(byok_env):
    status, lines = screen(byok_env, "config", "show")
    assert status == 0
    fits(lines)
    text = " ".join(" ".join(lines).split())
    assert f"(default); OPENAI_BASE_URL is in effect: {byok_env.vars['OPENAI_BASE_URL']}" in text
    piped = byok_env.run("config", "show").stdout.splitlines()
    assert "openai.base_url\t(default)" in piped  # scripts get the setting itself


def test_budget_list_drops_columns_to_fit_and_wide_keeps_them(byok_env):
    assert byok_env.run("budget", "set", "--per", "month", "20").returncode == 0
    status, lines = screen(byok_env, "budget", "list", width=40)
    assert status == 0
    fits(lines, 40)
    assert lines[0].split() == ["budget", "per", "limit", "usd", "spent", "usd"]
    assert " ".join(lines[-2:]) == "left out to fit 40 columns: in flight usd, resets " \
        "(--wide shows them)"
    status, wide = screen(byok_env, "budget", "list", "--wide", width=40)
    assert status == 0 and "resets" in wide[0] and not any("left out" in x for x in wide)
