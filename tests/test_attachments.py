"""`-a/--attach` (issue 22): images and PDFs from a file, stdin or a URL, their type told
from the bytes, each API's limits and each model's inputs refused before sending (exit 24),
kept once by content hash so `-c` sends them again, and nothing kept under --no-log.
The bodies themselves are compared with the SDKs' (test_contract.py) and validated against
the official OpenAPI specs (test_spec_bodies.py)."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from byok_cli.attachments import _checked_url
from byok_cli.catalog.curated import load as catalog
from byok_cli.cli import app
from byok_cli.errors import ByokError, Code
from byok_cli.registry import builtin
from byok_cli.routing.attached import refusal
from byok_cli.routing.resolve import Attempt
from byok_cli.wire.attachments import (LIMITS, Attachment, check_limits, dimensions,
                                       identify, sniff)
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, TESTS
from support.media import FILES, GIF, JPEG, WEBP, pdf, png

ATTACHED = TESTS / "data" / "attachments"
PNG_PATH, PDF_PATH = str(ATTACHED / "small.png"), str(ATTACHED / "small.pdf")
EXIT_24 = Code.ATTACHMENT_REFUSED.exit_status


def posts(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


def big_png(size: int) -> bytes:
    """A well-formed PNG of about ``size`` bytes (a private ancillary chunk pads it)."""
    import struct
    import zlib

    small = png()
    pad = os.urandom(size)
    chunk = (struct.pack(">I", len(pad)) + b"byOk" + pad
             + struct.pack(">I", zlib.crc32(b"byOk" + pad) & 0xFFFFFFFF))
    return small[:-12] + chunk + small[-12:]


def db(byok_env) -> sqlite3.Connection:
    return sqlite3.connect(byok_env.home / "byok.db")


# --- type from the content -------------------------------------------------------------------

@pytest.mark.parametrize("name, media_type", [
    ("small.png", "image/png"), ("small.jpg", "image/jpeg"), ("small.gif", "image/gif"),
    ("small.webp", "image/webp"), ("small.pdf", "application/pdf")])
def test_the_type_comes_from_the_bytes(name, media_type):
    assert sniff(FILES[name]) == media_type
    assert identify(FILES[name], "renamed.txt").media_type == media_type  # not the name


@pytest.mark.parametrize("data, named", [
    (b"", "an empty file"),
    (b"just some notes\n", "text"),
    (b"PK\x03\x04" + b"\x00" * 40, "a ZIP archive"),
    (b"BM" + b"\x00" * 40, "a BMP image"),
    (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, "a HEIC/HEIF image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "an SVG image"),
    (os.urandom(1) + b"\xff\xfe\x00\x81" * 30, "binary data of unknown type"),
    # attack2 F9: an HTML page quoting a PDF header is not a PDF; nor is one after junk
    (b"<html><body>%PDF-1.4 example\n%%EOF</body></html>", "content with %PDF- at byte 12"),
    (b"\n" + pdf(), "re-save it with a PDF tool"),
])
def test_other_content_is_a_usage_error_naming_it(data, named):
    with pytest.raises(ByokError) as caught:
        identify(data, "x.png")
    assert caught.value.code == Code.USAGE and named in caught.value.message


@pytest.mark.parametrize("data", [png()[:-20], png()[:30], JPEG[:-2], GIF[:-1],
                                  WEBP[:-4], pdf()[:-40]])
def test_a_truncated_file_is_refused(data):
    with pytest.raises(ByokError) as caught:
        identify(data, "cut")
    assert caught.value.code == Code.USAGE and "truncated" in caught.value.message


# --- files that are not attachments, through the installed command --------------------------

def test_bad_files_each_get_one_line_and_nothing_is_sent(byok_env, fake, tmp_path):
    byok_env.set_key("openai", OPENAI_GOOD)
    notes = tmp_path / "notes.png"
    notes.write_text("meeting notes, not a picture\n")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.png"
    cut.write_bytes(png()[:-20])
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it would block: byok must not
    for path, code, words in [
            (notes, Code.USAGE, "text is not an image"),
            (empty, Code.USAGE, "an empty file"),
            (cut, Code.USAGE, "truncated"),
            (tmp_path, Code.USAGE, "is a directory"),
            (fifo, Code.USAGE, "not a regular file"),
            (tmp_path / "missing.png", Code.USAGE, "no such file")]:
        r = byok_env.run("run", "-a", str(path), "what is this?", timeout=30)
        assert r.returncode == code.exit_status, (path, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        if path.name == "missing.png":  # what to do, too (user2's finding 10)
            assert " — check the path" in r.stderr and "- for stdin" in r.stderr
    assert posts(fake) == []


def test_a_2gb_sparse_file_is_refused_by_its_size_before_reading(byok_env, fake, tmp_path):
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as f:
        f.write(png()[:16])
        f.truncate(2 * 1024 ** 3)  # sparse: 2 GB on paper, nothing on disk
    byok_env.set_key("openai", OPENAI_GOOD)
    # byok's own peak: RUSAGE_CHILDREN of this test process would also count every child
    # the session ran before, so a fresh process runs byok and reports its children's peak
    measure = ("import resource, subprocess, sys\n"
               "r = subprocess.run(sys.argv[1:], capture_output=True)\n"
               "sys.stderr.buffer.write(r.stderr)\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(r.returncode)")
    proc = subprocess.run([sys.executable, "-c", measure, str(BYOK), "run", "-a", str(huge),
                           "x"], capture_output=True, text=True, env=byok_env.vars, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == EXIT_24, proc.stderr
    assert "2048.0 MiB" in proc.stderr and "32 MiB" in proc.stderr
    assert int(proc.stdout) < 300 * 1024  # it never held the file (KiB)
    assert posts(fake) == []


def test_an_unreadable_file_is_a_usage_error(byok_env, fake, tmp_path):
    from support.users import without_root_powers

    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    secret.chmod(0o000)
    byok_env.set_key("openai", OPENAI_GOOD)
    proc = subprocess.run([str(Path(sys.executable).with_name("byok")), "run", "-a",
                           str(secret), "x"], capture_output=True, text=True,
                          env=byok_env.vars, timeout=60, stdin=subprocess.DEVNULL,
                          preexec_fn=without_root_powers)
    assert proc.returncode == Code.USAGE.exit_status, proc.stderr
    assert "cannot read it (Permission denied)" in proc.stderr
    assert posts(fake) == []


@pytest.mark.parametrize("path", ["/proc/kmsg", "/proc/self/environ",
                                  "/sys/kernel/uevent_seqnum"])
def test_a_kernel_pseudo_file_is_refused_before_reading(byok_env, fake, path):
    """attack2 F8: /proc/kmsg reports size 0 and blocks on read (as root): refused, never
    read, at once."""
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-a", path, "x", timeout=20)
    assert r.returncode == Code.USAGE.exit_status, r.stderr
    assert "a file the kernel makes up" in r.stderr and "Traceback" not in r.stderr
    assert posts(fake) == []


def test_a_file_that_would_block_is_not_waited_for(tmp_path):
    """A size-0 file elsewhere that would block (a FIFO with a silent writer stands for
    one here) is opened non-blocking: a one-line error, no hang."""
    from byok_cli.attachments import _read_bounded

    fifo = tmp_path / "blocks"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # holds it open, writes nothing
    try:
        with pytest.raises(ByokError, match="would wait for more data") as caught:
            _read_bounded(str(fifo), "blocks", 0)
        assert caught.value.code == Code.USAGE
    finally:
        os.close(writer)


# --- each API's parts, and -c ------------------------------------------------------------------

@pytest.mark.parametrize("provider, key", [("openai", OPENAI_GOOD),
                                           ("anthropic", ANTHROPIC_GOOD)])
def test_continue_resends_the_attachment_stored_once(byok_env, fake, provider, key):
    byok_env.set_key(provider, key)
    r = byok_env.run("run", "-p", provider, "-a", PNG_PATH, "-a", PDF_PATH, "compare")
    assert r.returncode == 0, r.stderr
    first = posts(fake)[-1]["body"]["messages"][-1]["content"]
    assert [p["type"] for p in first] == (["image_url", "file", "text"] if provider == "openai"
                                          else ["image", "document", "text"])
    r = byok_env.run("run", "-c", "and now?")
    assert r.returncode == 0, r.stderr
    again = posts(fake)[-1]["body"]["messages"]
    assert again[0]["content"] == first and again[-1] == {"role": "user", "content": "and now?"}
    r = byok_env.run("run", "-a", PNG_PATH, "the same picture again")
    assert r.returncode == 0, r.stderr
    with db(byok_env) as conn:  # the bytes once, however many messages carry them
        assert conn.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM message_attachments").fetchone()[0] == 3
    assert oct((byok_env.home / "byok.db").stat().st_mode & 0o777) == "0o600"
    shown = json.loads(byok_env.run("history", "show", "1", "--json").stdout)
    assert [a["name"] for a in shown["messages"][0]["attachments"]] == ["small.png",
                                                                        "small.pdf"]
    assert "[attached: small.png (image/png)]" in byok_env.run("history", "show", "1").stdout


def test_continue_on_the_other_api_converts_the_parts(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    assert byok_env.run("run", "-p", "anthropic", "-a", PDF_PATH, "read").returncode == 0
    r = byok_env.run("run", "-c", "-p", "openai", "and on OpenAI?")
    assert r.returncode == 0, r.stderr
    part = posts(fake)[-1]["body"]["messages"][0]["content"][0]
    assert part == {"type": "file", "file": {
        "filename": "small.pdf",
        "file_data": "data:application/pdf;base64,"
                     + base64.b64encode(FILES["small.pdf"]).decode()}}


def test_no_log_keeps_nothing_and_deleting_drops_the_bytes(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    assert byok_env.run("run", "--no-log", "-a", PNG_PATH, "secret picture").returncode == 0
    with db(byok_env) as conn:
        assert conn.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 0
    assert byok_env.run("run", "-a", PNG_PATH, "kept").returncode == 0
    assert byok_env.run("history", "clear", "--yes").returncode == 0
    with db(byok_env) as conn:
        assert conn.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 0


def test_json_names_the_attachments_and_the_usage_row_is_written(byok_env, fake):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("run", "--json", "-p", "anthropic", "-a", PDF_PATH, "summarise")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["attachments"] == [{"name": "small.pdf", "media_type": "application/pdf",
                                   "bytes": len(FILES["small.pdf"]),
                                   "sha256": Attachment("application/pdf",
                                                        FILES["small.pdf"]).digest}]
    assert out["stop_reason"] == "end"
    usage = json.loads(byok_env.run("usage", "--json").stdout)
    assert sum(row["requests"] for row in usage["rows"]) == 1


def test_stdin_holds_the_attachment_and_the_prompt_must_be_an_argument(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-a", "-", "what colour?", input=FILES["small.gif"])
    assert r.returncode == 0, r.stderr
    part = posts(fake)[-1]["body"]["messages"][0]["content"][0]
    assert part["image_url"]["url"].startswith("data:image/gif;base64,")
    r = byok_env.run("run", "-a", "-", input=FILES["small.gif"])
    assert r.returncode == Code.USAGE.exit_status
    assert "the prompt cannot come from stdin too" in r.stderr
    r = byok_env.run("run", "-a", "-", "-a", "-", "x", input=FILES["small.gif"])
    assert r.returncode == Code.USAGE.exit_status and "once" in r.stderr


# --- limits and capabilities -------------------------------------------------------------------

def test_each_apis_documented_image_limit_is_named(byok_env, fake, tmp_path):
    picture = tmp_path / "photo.png"
    picture.write_bytes(big_png(4 * 1024 * 1024))  # 5.3 MiB once base64-encoded
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-p", "anthropic", "-a", str(picture), "x")
    assert r.returncode == EXIT_24, r.stderr
    assert "over the anthropic API's limit of 5.0 MiB per image" in r.stderr
    assert "Anthropic's vision and PDF support pages" in r.stderr
    assert posts(fake) == []
    r = byok_env.run("run", "-p", "openai", "-a", str(picture), "x")  # 20 MB there
    assert r.returncode == 0, r.stderr
    huge = tmp_path / "huge.png"
    huge.write_bytes(big_png(21 * 1024 * 1024))  # measured as it is there: said once
    r = byok_env.run("run", "-p", "openai", "-a", str(huge), "x")
    assert r.returncode == EXIT_24, r.stderr
    assert "attachment huge.png (image/png) is 21.0 MiB, over the openai API's limit of " \
        "20.0 MiB per image" in r.stderr, r.stderr
    assert r.stderr.count("21.0 MiB") == 1


def test_limits_per_request():
    many = [Attachment("image/png", b"x" * 10, f"{i}.png") for i in range(101)]
    with pytest.raises(ByokError, match="101 images are more than the anthropic API's 100"):
        check_limits("anthropic", "anthropic", many)
    check_limits("openai", "openai", many)
    pdfs = [Attachment("application/pdf", b"x" * (17 * 1024 * 1024), f"{i}.pdf")
            for i in range(2)]
    with pytest.raises(ByokError) as caught:
        check_limits("openai", "openai", pdfs)
    assert caught.value.code == Code.ATTACHMENT_REFUSED and "32.0 MiB of PDFs" in str(caught.value)
    assert LIMITS["openai"].image == 20 * 1024 * 1024


@pytest.mark.parametrize("name, size", [("small.png", (8, 6)), ("small.jpg", (1, 1)),
                                        ("small.gif", (1, 1)), ("small.webp", (1, 1))])
def test_image_sizes_are_read_from_the_headers(name, size):
    assert dimensions(sniff(FILES[name]), FILES[name]) == size


def test_anthropics_pixel_limits():
    wide = Attachment("image/png", png(8001, 1), "wide.png")
    with pytest.raises(ByokError, match="8001x1 px, over the anthropic API's 8000 px a side"):
        check_limits("anthropic", "anthropic", [wide])
    check_limits("openai", "openai", [wide])  # OpenAI scales any size down
    many = [Attachment("image/png", png(2001, 1), f"{i}.png") for i in range(21)]
    with pytest.raises(ByokError, match="2000 px a side in a request of more than 20 images"):
        check_limits("anthropic", "anthropic", many)
    check_limits("anthropic", "anthropic", many[:20])


def test_a_provider_without_image_input_is_refused_and_dropped_as_a_fallback(byok_env, fake):
    byok_env.set_key("deepseek", "sk-" + "d" * 32, "--base-url", fake.url + "/v1")
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-p", "deepseek", "-a", PNG_PATH, "x")
    assert r.returncode == EXIT_24, r.stderr
    assert "DeepSeek's API takes no images" in r.stderr and "-m gpt-" in r.stderr
    assert posts(fake) == []
    assert byok_env.run("config", "set", "fallback", "openai,deepseek").returncode == 0
    r = byok_env.run("run", "--explain", "--json", "-p", "openai", "--fallback", "-a",
                     PNG_PATH)
    plan = json.loads(r.stdout)
    assert [a["provider"] for a in plan["attempts"]] == ["openai"], plan
    assert any("deepseek" in line and "takes no images" in line for line in plan["skipped"])


def test_a_catalogued_model_without_pdf_input_is_refused():
    registry = builtin()
    attempt = Attempt("openai", "gpt-4-turbo", "stored", "…abcd", "-m")
    pdf_file = Attachment("application/pdf", FILES["small.pdf"], "a.pdf")
    picture = Attachment("image/png", FILES["small.png"], "a.png")
    why = refusal(attempt, [picture, pdf_file], catalog(), registry)
    assert why.code == Code.ATTACHMENT_REFUSED and "gpt-4-turbo reads no PDFs" in why.message
    assert refusal(attempt, [picture], catalog(), registry) is None
    # not in the catalogue: the API decides
    assert refusal(attempt._replace(model="gpt-brand-new"), [pdf_file], catalog(),
                   registry) is None


def test_a_pdf_under_a_budget_is_held_at_the_context_window(byok_env, fake):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    assert byok_env.run("budget", "set", "--per", "day", "0.05").returncode == 0
    args = ("run", "-p", "anthropic", "-m", "claude-haiku-4-5", "--max-tokens", "10")
    r = byok_env.run(*args, "-a", PNG_PATH, "a picture fits")
    assert r.returncode == 0, r.stderr
    r = byok_env.run(*args, "-a", PDF_PATH, "a document does not")
    assert r.returncode == Code.BUDGET_EXCEEDED.exit_status, r.stderr
    assert len(posts(fake)) == 1


# --- URLs ---------------------------------------------------------------------------------------

class _Files(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.path == "/photo.png":
            body = FILES["small.png"]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/photo.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/huge.pdf":
            self.send_response(200)
            self.send_header("Content-Length", str(40 * 1024 * 1024))
            self.end_headers()
        elif self.path == "/bomb.pdf":  # 40 MiB of zeros in 40 KiB of gzip
            import gzip

            body = gzip.compress(b"%PDF-1.4\n" + bytes(40 * 1024 * 1024), 9)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path in ("/manyheaders.png", "/longheader.png"):  # attack2 F9
            self.send_response(200)
            if self.path == "/manyheaders.png":
                for i in range(150):
                    self.send_header(f"X-Filler-{i}", "x")
            else:
                self.send_header("X-Filler", "x" * 70_000)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/endless.pdf":  # no length given: byok stops it at the bound
            self.send_response(200)
            self.end_headers()
            try:
                self.wfile.write(b"%PDF-1.4\n")
                chunk = b"0" * 65536
                for _ in range(1024):
                    self.wfile.write(chunk)
            except OSError:
                pass
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture
def files_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    _Files.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_is_fetched_bounded_and_without_a_key(byok_env, fake, files_server):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    env = {"OPENAI_API_KEY": OPENAI_GOOD, "ANTHROPIC_API_KEY": ANTHROPIC_GOOD}
    r = byok_env.run("run", "-p", "anthropic", "-a", files_server + "/moved", "what?", env=env)
    assert r.returncode == 0, r.stderr
    block = posts(fake)[-1]["body"]["messages"][0]["content"][0]
    assert block["source"] == {"type": "base64", "media_type": "image/png",
                               "data": base64.b64encode(FILES["small.png"]).decode()}
    for headers in _Files.seen:  # no key, no credential of any kind went to it
        assert not {"authorization", "x-api-key", "cookie"} & set(headers), headers
    for path, code in (("/huge.pdf", EXIT_24), ("/endless.pdf", EXIT_24),
                       ("/bomb.pdf", EXIT_24),
                       ("/missing.png", Code.NETWORK_ERROR.exit_status)):
        r = byok_env.run("run", "-p", "anthropic", "-a", files_server + path, "x")
        assert r.returncode == code, (path, r.stderr)
        if path == "/missing.png":
            assert "answered 404; nothing was sent — " in r.stderr and "-a PATH" in r.stderr
    assert len(posts(fake)) == 1


def test_plain_http_beyond_this_machine_and_redirects_into_it_are_refused(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-a", "http://example.com/photo.png", "x")
    assert r.returncode == Code.USAGE.exit_status and "plain http" in r.stderr
    with pytest.raises(ByokError, match="redirects to this machine"):
        _checked_url("http://127.0.0.1:9/secret", first="https://example.com/photo.png")
    assert _checked_url("http://127.0.0.1:9/x.png") == "http://127.0.0.1:9/x.png"


# --- chat, the Typer runner, the Python API, and what run imports -------------------------------

def test_chat_attach_goes_with_the_next_message(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("chat", "-a", PDF_PATH,
                     input=f"read it\n/attach {PNG_PATH}\n/attach\nand this\nplain\n/history\n")
    assert r.returncode == 0, r.stderr
    bodies = [p["body"]["messages"] for p in posts(fake)]
    assert [p["type"] for p in bodies[0][0]["content"]] == ["file", "text"]
    assert [p["type"] for p in bodies[1][-1]["content"]] == ["image_url", "text"]
    assert bodies[2][-1] == {"role": "user", "content": "plain"}
    assert "small.png (image/png" in r.stderr and "[attached: small.pdf]" in r.stdout
    r = byok_env.run("chat", "-a", "-", input="x\n")
    assert r.returncode == Code.USAGE.exit_status


def test_typer_runner_attach(in_process, fake):
    runner = CliRunner()
    runner.invoke(app, ["key", "set", "anthropic", "--no-validate"], input=ANTHROPIC_GOOD)
    r = runner.invoke(app, ["run", "-p", "anthropic", "--attach", str(ATTACHED / "small.webp"),
                            "--attach", PDF_PATH, "hi"])
    assert r.exit_code == 0, r.output
    content = posts(fake)[-1]["body"]["messages"][0]["content"]
    assert [b["source"]["media_type"] for b in content[:2]] == ["image/webp", "application/pdf"]


def test_python_api_takes_paths_and_bytes(in_process, fake):
    from byok_cli import Byok

    in_process.set_key("openai", OPENAI_GOOD)
    result = Byok().ask("what are these?", attachments=[Path(PNG_PATH), FILES["small.jpg"]],
                        log=False)
    assert result.outcome.text.startswith("Echo[")
    parts = posts(fake)[-1]["body"]["messages"][0]["content"]
    assert [p["image_url"]["url"][:22] for p in parts[:2]] == ["data:image/png;base64,",
                                                              "data:image/jpeg;base64"]
    with pytest.raises(ByokError) as caught:
        Byok().ask("x", attachments=b"plain text")
    assert caught.value.code == Code.USAGE


def test_run_loads_the_attachment_code_only_with_a(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.__stderr__.write('LOADED=%s\\n' % sorted(m for m in "
            "sys.modules if m.endswith('attachments') or m.split('.')[0] in "
            "('typer', 'openai', 'anthropic'))))\n"
            "sys.argv = ['byok'] + sys.argv[1:]\n"
            "from byok_cli.cli import main\nmain()\n")

    def loaded(*args):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, env=byok_env.vars, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
        return [x for x in proc.stderr.splitlines() if x.startswith("LOADED=")][-1]

    assert loaded("run", "hi") == "LOADED=[]"
    assert loaded("run", "-a", PNG_PATH, "hi") == \
        "LOADED=['byok_cli.attachments', 'byok_cli.wire.attachments']"


def test_the_store_keeps_a_bounded_amount_and_continue_says_what_is_missing(
        in_process, fake, monkeypatch):
    """Past the store's bound a new attachment's bytes are not kept (said at once), and a
    later -c sends the conversation without it, saying so, rather than failing."""
    from byok_cli import Byok
    from byok_cli.store import conversations

    in_process.set_key("openai", OPENAI_GOOD)
    monkeypatch.setattr(conversations, "MAX_KEPT_ATTACHMENTS", len(FILES["small.png"]))
    said: list[str] = []
    Byok().ask("one", attachments=[FILES["small.png"]], on_warning=said.append)
    Byok().ask("two", attachments=[FILES["small.pdf"]], continue_latest=True,
               on_warning=said.append)
    assert said == ["attachment attachment-1 is not kept in the history (its store of "
                    "attachments is full: delete old conversations); -c will not send it "
                    "again"]
    said.clear()
    Byok().ask("three", continue_latest=True, on_warning=said.append)
    assert said == ["attachment attachment-1 of this conversation was not kept; it is not "
                    "sent again"]
    messages = posts(fake)[-1]["body"]["messages"]
    assert [type(m["content"]) for m in messages] == [list, str, str, str, str]
    assert [p["type"] for p in messages[0]["content"]] == ["image_url", "text"]
    assert messages[2] == {"role": "user", "content": "two"}


@pytest.mark.parametrize("url", ["https://127.1:9/x.png", "https://0.0.0.0:9/x.png",
                                 "https://2130706433:9/x.png", "https://0x7f000001:9/x.png",
                                 "https://[::]:9/x.png", "https://0:9/x.png",
                                 "https://[::ffff:127.0.0.1]:9/x.png", "http://127.0.0.1:9/x"])
def test_after_a_redirect_from_elsewhere_no_spelling_of_this_machine_is_connected(url):
    """attack2 F7: the address is checked once resolved, at connect time (the text of the
    host is not enough), and that checked address is the one connected to."""
    from byok_cli.wire import Settings, transport

    with pytest.raises(transport.TransportError) as caught:
        transport.request("GET", url, {}, None, Settings.from_env(), local_ok=False)
    assert caught.value.kind == "local" and "an address of this machine" in caught.value.detail
    with pytest.raises(transport.TransportError) as direct:  # given first, it is tried
        transport.request("GET", url, {}, None, Settings.from_env())
    assert direct.value.kind == "connect"


@pytest.mark.parametrize("path, said", [("/manyheaders.png", "answered with too many headers"),
                                        ("/longheader.png", "answered with a line too long")])
def test_a_download_whose_headers_break_a_bound_says_so(byok_env, fake, files_server, path,
                                                        said):
    """attack2 F9: not "could not connect": it connected, and the answer was refused."""
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-a", files_server + path, "x")
    assert r.returncode == Code.NETWORK_ERROR.exit_status, r.stderr
    assert said in r.stderr and "could not connect" not in r.stderr, r.stderr
    assert posts(fake) == []
