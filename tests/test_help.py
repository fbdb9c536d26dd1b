"""`--help` at 80 columns: words, not Python types; every option described; examples whole."""

import os
import re
import subprocess

import pytest
import typer.main

from byok_cli.cli.root import COMMANDS, app
from conftest import BYOK

PYTHON_TYPES = re.compile(r"<[a-z_\[\]| ,]+>|\{[A-Za-z_ -]+\}|\[\[|\brange\b|x[<>]=")


def commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    ctx = group.make_context("byok", ["--help"], resilient_parsing=True)
    found = [[]]
    for name in COMMANDS:
        command = group.get_command(ctx, name)
        found.append([name])
        found += [[name, sub] for sub in getattr(command, "commands", {})]
    return found


def help_text(path: list[str]) -> str:
    env = {**os.environ, "COLUMNS": "80", "BYOK_HOME": "/nonexistent/never-opened"}
    proc = subprocess.run([str(BYOK), *path, "--help"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, (path, proc.stderr)
    return proc.stdout


@pytest.mark.parametrize("path", commands(), ids=lambda p: " ".join(p) or "byok")
def test_help_reads_as_words_at_80_columns(path):
    text = help_text(path)
    assert not PYTHON_TYPES.findall(text), (path, PYTHON_TYPES.findall(text))
    assert all(len(line) <= 80 for line in text.splitlines()), path
    # examples stay on their lines
    group = typer.main.get_command(app)
    ctx = group.make_context("byok", ["--help"], resilient_parsing=True)
    command = group
    for name in path:
        command = command.get_command(ctx, name)
    doc = command.help or ""
    examples = doc.split("Example", 1)[1] if "Example" in doc else ""
    for line in examples.splitlines():
        line = line.strip()
        if line.startswith(("byok ", "printf ", "git ")):
            assert line in text, (path, line)


def test_every_option_and_argument_is_described():
    group = typer.main.get_command(app)
    ctx = group.make_context("byok", ["--help"], resilient_parsing=True)
    missing = []
    for path in commands():
        command = group
        for name in path:
            command = command.get_command(ctx, name)
        for param in command.params:
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {param.name}")
    assert missing == []
