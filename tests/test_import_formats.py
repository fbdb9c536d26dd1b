"""The importers' file formats and safe rewriting, in-process: edge cases of each format."""

import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from byok_cli.errors import ByokError, Code
from byok_cli.importers import aichat, dotenv, llm, mods
from byok_cli.importers.files import read_file, rewrite_file
from byok_cli.importers.linefmt import AICHAT_ENV, DOTENV, SGPTRC, dotenv_values
from byok_cli.importers.scrub import scrubbed_text
from conftest import fill_disk, small_tmpfs

OK = "sk-proj-good-fmt-A1b2C3d4E5f6G7h8"
ANT = "sk-ant-api03-good-fmt-B1c2D3e4F5g6"


def scrub_file(module, path, **env):
    reading = module.read(path, env)
    out = {}
    for file in reading.files:
        known = [e for e in file.entries if e.provider]
        text, leftovers = scrubbed_text(file, known)
        out[file.path.name] = (text, leftovers)
    return reading, out


@pytest.mark.parametrize("doc,expected", [
    ('{\n  "openai": "%s",\n  "x": "y"\n}\n' % OK, '{\n  "x": "y"\n}\n'),
    ('{\n  "x": "y",\n  "openai": "%s"\n}\n' % OK, '{\n  "x": "y"\n}\n'),
    ('{\n  "a": "1",\n  "openai": "%s",\n  "b": "2"\n}\n' % OK, '{\n  "a": "1",\n  "b": "2"\n}\n'),
    ('{"openai": "%s"}' % OK, "{}"),
    ('{"x": "{\\"openai\\": 1}", "openai" :"%s" , "z": ""}' % OK,
     '{"x": "{\\"openai\\": 1}", "z": ""}'),
    ('{\r\n  "openai": "%s",\r\n  "anthropic": "%s"\r\n}\r\n' % (OK, ANT), "{\r\n}\r\n"),
])
def test_json_members_are_removed_with_their_commas_only(tmp_path, doc, expected):
    path = tmp_path / "keys.json"
    path.write_bytes(doc.encode())
    _, out = scrub_file(llm, path)
    assert out["keys.json"] == (expected, [])


def test_json_duplicates_and_non_strings(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"openai": "%s", "openai": "%s"}' % (OK, OK))
    with pytest.raises(ByokError, match="names 'openai' twice"):
        llm.read(path, {})
    path.write_text('{"claude": "%s", "github": "ghp_x", "empty": ""}' % ANT)
    entries = llm.read(path, {}).files[0].entries
    assert [(e.provider, e.label) for e in entries] == [("anthropic", "claude"), (None, "github")]


def test_yaml_flow_style_value_is_blanked(tmp_path):
    path = tmp_path / "mods.yml"
    path.write_text("apis:\n  openai: {base-url: https://api.openai.com/v1, api-key: %s}\n"
                    "  anthropic:\n    api-key: %s\n    models: {}\n" % (OK, ANT))
    reading = mods.read(path, {})
    file = reading.files[0]
    openai, anthropic = file.entries
    text, _ = scrubbed_text(file, [openai])
    assert text == file.text.replace(f"api-key: {OK}}}", 'api-key: ""}')


@pytest.mark.parametrize("text", [
    "apis:\n  anthropic:\n    api-key: &k %s\n  copy:\n    api-key: *k\n" % ANT,
    # a "billion laughs": a few hundred bytes that expand to millions of nodes
    "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi")) + "apis: *i\n"])
def test_yaml_aliases_are_refused_before_anything_is_read(tmp_path, text):
    path = tmp_path / "mods.yml"
    path.write_text(text)
    with pytest.raises(ByokError, match="alias") as refused:
        mods.read(path, {})
    assert refused.value.code == Code.INVALID_FORMAT


def test_yaml_only_entry_of_a_mapping_and_crlf_and_block_scalars(tmp_path):
    path = tmp_path / "mods.yml"
    path.write_bytes(("apis:\r\n  openai:\r\n    api-key: %s # mine\r\n  anthropic:\r\n"
                      "    base-url: https://api.anthropic.com/v1\r\n    api-key: >-\r\n"
                      "      %s\r\n    models: {}\r\n" % (OK, ANT)).encode())
    _, out = scrub_file(mods, path)
    text, _ = out["mods.yml"]
    # the openai mapping would become null: its value is blanked instead
    assert text == ('apis:\r\n  openai:\r\n    api-key: "" # mine\r\n  anthropic:\r\n'
                    "    base-url: https://api.anthropic.com/v1\r\n    models: {}\r\n")


def test_aichat_custom_base_urls_are_not_taken_as_the_official_provider(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("clients:\n- type: openai\n  api_base: https://proxy.example/v1\n"
                    f"  api_key: {OK}\n- type: claude\n  name: work\n  api_key: {ANT}\n")
    entries = aichat.read(path, {}).files[0].entries
    assert [(e.provider, e.note, e.env_var) for e in entries] == [
        (None, "a custom api_base", "OPENAI_API_KEY"), ("anthropic", None, "WORK_API_KEY")]


def test_dotenv_reads_as_python_dotenv_does():
    text = ('# c\nexport A="multi\nline # not a comment"\nB=\'x\\\'y\' # c\nC=plain value # c\n'
            'D=a#b\nE=\nF\n  G = "q\\"t"\n\nH=\'#\'')
    pairs = [(p.name, p.value, p.line) for p in DOTENV.pairs(text)]
    assert pairs == [("A", "multi\nline # not a comment", 2), ("B", "x'y", 4),
                     ("C", "plain value", 5), ("D", "a#b", 6), ("E", "", 7), ("F", None, 8),
                     ("G", 'q"t', 9), ("H", "#", 11)]


def test_dotenv_interpolates_as_python_dotenv_does():
    # Each value as python-dotenv 1.2.2's dotenv_values() gives it for this file and
    # environment (checked against it): the lines above first, then the environment, then
    # the default; single- and double-quoted values alike; bare $NAME left alone.
    text = ("BASE=sk-proj-abc\nA=${BASE}\nB='${BASE}'\nC=\"${BASE}x\"\nD=${NOPE:-dflt}\n"
            "E=${HOME}\nF=$BASE\nG=${LATER}\nLATER=1\nH=${EMPTY:-d}\nEMPTY=\nI=${EMPTY:-d}\n"
            "J=${BASE:-other}${HOME}\nK\nL=${K:-d}\nHOME=mine\nM=${HOME}\n")
    values = dotenv_values(DOTENV.pairs(text), {"HOME": "/root", "LATER": "env"})
    assert values == ["sk-proj-abc", "sk-proj-abc", "sk-proj-abc", "sk-proj-abcx", "dflt",
                      "/root", "$BASE", "env", "1", "d", "", "", "sk-proj-abc/root", None, "",
                      "mine", "mine"]


def test_aichat_env_and_sgptrc_read_as_their_tools_do():
    text = ' OPENAI_API_KEY = "sk-x" \n#X=1\nnot a setting\nK=v=w\r\n'
    assert [(p.name, p.value) for p in AICHAT_ENV.pairs(text)] == [
        ("OPENAI_API_KEY", '"sk-x"'), ("K", "v=w")]
    # sgpt: only lines *starting* with '#' are comments; the line is stripped, then split
    assert [(p.name, p.value) for p in SGPTRC.pairs("A=1\n #B=2\n\nC = 3\n")] == [
        ("A", "1"), ("#B", "2"), ("C ", " 3")]
    with pytest.raises(ByokError, match="line 2"):
        SGPTRC.pairs("A=1\nnot a setting\n", "f")


def test_quoted_keys_in_aichat_env_keep_their_quotes_as_aichat_does(tmp_path):
    path = tmp_path / ".env"
    path.write_text(f'OPENAI_API_KEY="{OK}"\n')
    entries = dotenv.read_lines(path, AICHAT_ENV).entries
    assert entries[0].key == f'"{OK}"'  # and so its shape check fails: it is not imported


def test_a_key_that_also_appears_in_a_comment_is_reported(tmp_path):
    path = tmp_path / ".env"
    path.write_text(f"# old: {OK}\nOPENAI_API_KEY={OK}\nX=1\n")
    _, out = scrub_file(dotenv, path)
    text, leftovers = out[".env"]
    assert text == f"# old: {OK}\nX=1\n" and [e.label for e in leftovers] == ["OPENAI_API_KEY"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.sampled_from(["# comment\n", "\n", "AIDER_MODEL=sonnet\n", 'X="a b" # c\n',
                     "export PATHS='/a:/b'\n", "COHERE_API_KEY=FAKEco123\n"]),
    st.sampled_from([f"OPENAI_API_KEY={OK}\n", f'export ANTHROPIC_API_KEY="{ANT}"\n',
                     f"OPENAI_API_KEY='{OK}'   # mine\n"])), max_size=12))
def test_dotenv_scrub_removes_exactly_the_key_lines(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("p") / ".env"
    text = "".join(lines)
    path.write_text(text)
    reading = dotenv.read(path, {})
    known = [e for e in reading.files[0].entries if e.provider]
    if not known:
        return
    new, leftovers = scrubbed_text(reading.files[0], known)
    assert new == "".join(line for line in lines if OK not in line and ANT not in line)
    assert leftovers == []


def test_rewrite_keeps_mode_and_refuses_a_changed_or_swapped_file(tmp_path):
    path = tmp_path / "f.env"
    path.write_text("A=1\n")
    path.chmod(0o604)
    data, _, ident, mode = read_file(path)
    rewrite_file(path, data, ident, mode, b"B=2\n")
    assert path.read_bytes() == b"B=2\n" and oct(path.stat().st_mode & 0o777) == "0o604"
    assert sorted(os.listdir(tmp_path)) == ["f.env"]

    data, _, ident, mode = read_file(path)
    path.write_bytes(b"B=3\n")
    with pytest.raises(ByokError, match="changed since it was read") as err:
        rewrite_file(path, data, ident, mode, b"C=4\n")
    assert err.value.code == Code.INVALID_FORMAT and path.read_bytes() == b"B=3\n"

    data, _, ident, mode = read_file(path)
    other = tmp_path / "other"
    other.write_bytes(data)
    path.unlink()
    path.symlink_to(other)
    with pytest.raises(ByokError, match="changed since it was read"):
        rewrite_file(path, data, ident, mode, b"C=4\n")
    assert other.read_bytes() == data and path.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["f.env", "other"]


def test_llm_keys_json_as_llm_itself_writes_it(tmp_path):
    """The layout of `llm keys set`: json.dumps(indent=2) + newline, key order kept."""
    keys = {"// Note": "This file stores secret API credentials. Do not share!", "openai": OK}
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(keys, indent=2) + "\n")
    _, out = scrub_file(llm, path)
    keys.pop("openai")
    assert out["keys.json"][0] == json.dumps(keys, indent=2) + "\n"


def test_a_full_disk_during_the_rewrite_leaves_the_file_as_it_was(tmp_path):
    with small_tmpfs(tmp_path / "tiny", "64k") as mount:
        path = mount / ".env"
        original = f"OPENAI_API_KEY={OK}\n" + "X=" + "x" * 20000 + "\n"
        path.write_text(original)
        fill_disk(mount)
        data, _, ident, mode = read_file(path)
        with pytest.raises(ByokError, match="could not be rewritten") as err:
            rewrite_file(path, data, ident, mode, original[len(f"OPENAI_API_KEY={OK}\n"):]
                         .encode())
        assert err.value.code == Code.INVALID_FORMAT
        assert path.read_text() == original
        assert sorted(os.listdir(mount)) == [".env", "filler"]
