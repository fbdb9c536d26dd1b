"""`byok completion SHELL`: print the shell's completion script, from the installed package."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import ByokError, Code
from . import complete
from .root import single

SCRIPTS = {"bash": "byok.bash", "zsh": "_byok", "fish": "byok.fish"}
FOLDER = Path(__file__).resolve().parent.parent / "data" / "completions"


def completion(
    shell: str = typer.Argument(..., metavar="SHELL", autocompletion=complete.shells,
                                help="bash, zsh or fish."),
) -> None:
    """Print the completion script for SHELL; save it where the shell looks.

    It completes commands, options, providers, model ids and aliases, profiles,
    conversation ids, settings and their values, and the command of `byok exec`.

    Examples:

      echo 'source <(byok completion bash)' >> ~/.bashrc
      # or, with the bash-completion package:
      mkdir -p ~/.local/share/bash-completion/completions
      byok completion bash > ~/.local/share/bash-completion/completions/byok

      mkdir -p ~/.zfunc && byok completion zsh > ~/.zfunc/_byok
      # and in ~/.zshrc, before compinit: fpath=(~/.zfunc $fpath)

      mkdir -p ~/.config/fish/completions
      byok completion fish > ~/.config/fish/completions/byok.fish
    """
    name = SCRIPTS.get(shell.strip().lower())
    if name is None:
        raise ByokError(Code.USAGE, f"no completion for {shell!r}", hint="choose bash, zsh or fish")
    sys.stdout.write((FOLDER / name).read_text(encoding="utf-8"))
    sys.stdout.flush()


app = single("completion", completion)
