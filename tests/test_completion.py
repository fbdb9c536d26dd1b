"""Shell completion as a person gets it: `byok completion SHELL` from the installed package,
installed with the docs' lines on a fresh home, then a real bash, zsh and fish at TAB."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD

SCRIPTS = Path(__file__).resolve().parents[1] / "byok_cli" / "data" / "completions"


def shell_env(byok_env, home: Path) -> dict:
    return {**byok_env.vars, "HOME": str(home), "PATH": f"{BYOK.parent}:{os.environ['PATH']}",
            "TERM": "xterm"}


def test_completion_prints_the_packaged_scripts(byok_env):
    for shell, name in (("bash", "byok.bash"), ("zsh", "_byok"), ("fish", "byok.fish")):
        r = byok_env.run("completion", shell)
        assert r.returncode == 0 and r.stdout == (SCRIPTS / name).read_text(), shell
    assert byok_env.run("completion", "tcsh").returncode == 2


@pytest.fixture
def used(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("run", "what's a closure in one line")
    byok_env.run("--profile", "work", "config", "set", "logging", "on")
    return byok_env


def bash_complete(env: dict, line: str) -> list[str]:
    """What bash offers at TAB after `line`, with the script the docs install."""
    words = line.split(" ")
    script = ('source "$HOME/.local/share/bash-completion/completions/byok"\n'
              f'COMP_WORDS=({" ".join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n'
              '_byok_completion byok\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
    proc = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                          env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [x for x in proc.stdout.splitlines() if x]


def fish_completer(env: dict):
    """fish with byok's completion installed (the docs' line): its completions of a line."""
    install(env, "mkdir -p ~/.config/fish/completions && "
                 "byok completion fish > ~/.config/fish/completions/byok.fish")

    def complete(line: str) -> list[str]:
        proc = subprocess.run(["fish", "-c", f"complete -C {line!r}"], env=env,
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()
    return complete


def install(env: dict, line: str) -> None:
    """One of the install lines in docs/getting-started.md, run on the fresh home."""
    proc = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, (line, proc.stderr)


@pytest.mark.skipif(not shutil.which("bash"), reason="no bash")
def test_bash(used, tmp_path):
    env = shell_env(used, tmp_path / "home")
    install(env, "mkdir -p ~/.local/share/bash-completion/completions && "
                 "byok completion bash > ~/.local/share/bash-completion/completions/byok")
    providers = bash_complete(env, "byok key set ")
    assert providers[:2] == ["openai", "anthropic"] and "openrouter" in providers
    models = bash_complete(env, "byok run -m ")
    assert {"gpt-6.2-sol", "claude-sonnet-5-5", "sonnet", "haiku", "mini"} <= set(models)
    assert "gpt-4-turbo" not in models and "claude-opus-4-20250514" not in models  # retired
    assert bash_complete(env, "byok run -m claude-h") == ["claude-haiku-5-5", "claude-haiku-4-5"]
    assert {"run", "chat", "key", "models", "vault", "completion"} <= set(
        bash_complete(env, "byok "))
    assert "--no-fallback" in bash_complete(env, "byok run --")
    assert bash_complete(env, "byok --profile ") == ["default", "work"]
    assert bash_complete(env, "byok history show ") == ["1"]
    assert "preferred-provider" in bash_complete(env, "byok config set ")
    assert bash_complete(env, "byok config set logging ") == ["on", "off"]
    assert bash_complete(env, "byok config set preferred-provider s") == ["system"]
    assert "gpt-6-luna" in bash_complete(env, "byok config set openai.model gpt-6")
    assert "claude-haiku-5-5" not in bash_complete(env, "byok config set openai.model ")
    assert "bash" in bash_complete(env, "byok exec -- bas")
    assert bash_complete(env, "byok exec -- bash ") == []  # its arguments: bash's files


@pytest.mark.skipif(not shutil.which("zsh"), reason="no zsh")
def test_zsh_completes_on_the_first_tab_and_keeps_apostrophes(used, tmp_path):
    home = tmp_path / "home"
    env = shell_env(used, home)
    install(env, "mkdir -p ~/.zfunc && byok completion zsh > ~/.zfunc/_byok")
    (home / ".zshrc").write_text("fpath=(~/.zfunc $fpath)\nautoload -U compinit && "
                                 "compinit -u\nPS1='READY> '\n")
    zsh = pexpect.spawn("zsh", ["-i"], env={**env, "ZDOTDIR": str(home)}, encoding="utf-8",
                        timeout=20, dimensions=(40, 120))
    zsh.expect("READY> ")
    zsh.send("byok key se\t")  # the very first TAB of this shell
    zsh.expect("byok key set")
    zsh.send("\x15")
    zsh.send("byok --\t")
    zsh.expect("Settings profile to use \\(default: 'default'\\)")
    zsh.expect("Show byok's version and exit.")
    zsh.send("\x15")
    zsh.send("byok history show \t")
    zsh.expect("byok history show 1")
    zsh.send("\x15exit\r")
    zsh.expect(pexpect.EOF)


@pytest.mark.skipif(not shutil.which("fish"), reason="no fish")
def test_fish(used, tmp_path):
    env = shell_env(used, tmp_path / "home")
    fish = fish_completer(env)

    assert fish("byok key se") == ["set\tStore a provider key, encrypted."]
    assert "--version\tShow byok's version and exit." in fish("byok --")
    assert fish("byok --profile w") == ["work"]
    assert fish("byok run -m sonn") == ["sonnet\tclaude-sonnet-5-5"]
    assert "bash" in [x.split("\t")[0] for x in fish("byok exec -- bas")]


def bashrc_complete(env: dict, line: str) -> tuple[str, list[str]]:
    """What a bash with no rc file and no bash-completion package offers at TAB after `line`,
    once `source <(byok completion bash)` (the docs' .bashrc line) has run: the function
    `complete -p byok` names is called as bash calls it."""
    words = line.split(" ")
    script = ('source <(byok completion bash)\n'
              'if declare -F _init_completion >/dev/null; then echo "bash-completion is loaded"; '
              'exit 3; fi\n'
              'spec=$(complete -p byok) || exit 4; echo "$spec"\n'
              'fn=${spec##*-F }; fn=${fn%% *}\n'
              f'COMP_WORDS=({" ".join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n'
              'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}\n'
              '"$fn" byok "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                          text=True, env=env, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    return lines[0], [x for x in lines[1:] if x]


@pytest.fixture
def listed(used):
    """A profile that has also fetched Anthropic's own list (`models list --remote`), which
    holds a model byok's catalogue does not know."""
    used.set_key("anthropic", ANTHROPIC_GOOD)
    r = used.run("models", "list", "--remote", "-p", "anthropic", "--json")
    assert r.returncode == 0 and "claude-brandnew-9" in r.stdout, r.stderr
    return used


@pytest.mark.skipif(not shutil.which("bash"), reason="no bash")
def test_bash_from_bashrc_without_bash_completion(listed, tmp_path):
    env = shell_env(listed, tmp_path / "home")
    spec, models = bashrc_complete(env, "byok run -m anthropic/claude-h")
    assert spec == "complete -o default -F _byok_completion byok"
    assert models == ["anthropic/claude-haiku-5-5", "anthropic/claude-haiku-4-5"]
    assert bashrc_complete(env, "byok run -m anthropic/")[1][:2] == [
        "anthropic/claude-opus-5-5", "anthropic/claude-sonnet-5-5"]
    # the provider's own list, as `models list --remote` cached it
    assert bashrc_complete(env, "byok run -m anthropic/claude-b")[1] == [
        "anthropic/claude-brandnew-9"]
    assert bashrc_complete(env, "byok chat -m openai/lu")[1] == ["openai/luna"]
    assert bashrc_complete(env, "byok run -m c")[1][-1] == "claude"
    assert {"claude-opus-5-5", "claude"} <= set(bashrc_complete(env, "byok run -m c")[1])
    assert bashrc_complete(env, "byok run -m anthr")[1] == ["anthropic/"]
    assert {"openai/", "openrouter/"} <= set(bashrc_complete(env, "byok run -m o")[1])
    assert bashrc_complete(env, "byok run -m nobody/x")[1] == []  # bash's file names


@pytest.mark.skipif(not shutil.which("bash"), reason="no bash")
def test_bash_tab_goes_on_from_a_provider_prefix(listed, tmp_path):
    """At a real TAB in an interactive bash started with --norc: `anthr` becomes
    `anthropic/` with no space, and the next TAB completes that provider's model."""
    home = tmp_path / "home"
    env = {**shell_env(listed, home), "PS1": "READY> ", "INPUTRC": "/dev/null"}
    home.mkdir()
    sh = pexpect.spawn("bash", ["--norc", "--noprofile", "-i"], env=env, encoding="utf-8",
                       timeout=20, dimensions=(40, 120))
    sh.sendline("PS1='READY> '; source <(byok completion bash)")
    sh.expect("READY> ")
    sh.expect("READY> ")
    sh.send("byok run -m anthr\t")
    sh.send("claude-haiku-5\t")  # unique: completed, then a space
    # not run: the line as bash completed it, echoed between brackets (Ctrl-A, Ctrl-E)
    sh.send("\x01echo [\x05]\r")
    sh.expect("[\r\n]\\[byok run -m anthropic/claude-haiku-5-5 \\]\r?\n")
    sh.sendline("exit")
    sh.expect(pexpect.EOF)


@pytest.mark.skipif(not shutil.which("zsh"), reason="no zsh")
def test_zsh_completes_a_providers_models(listed, tmp_path):
    home = tmp_path / "home"
    env = shell_env(listed, home)
    install(env, "mkdir -p ~/.zfunc && byok completion zsh > ~/.zfunc/_byok")
    (home / ".zshrc").write_text("fpath=(~/.zfunc $fpath)\nautoload -U compinit && "
                                 "compinit -u\nPS1='READY> '\n")
    zsh = pexpect.spawn("zsh", ["-i"], env={**env, "ZDOTDIR": str(home)}, encoding="utf-8",
                        timeout=20, dimensions=(40, 120))
    zsh.expect("READY> ")
    zsh.send("byok run -m anthr\t")  # `anthropic/`, and no space after it
    zsh.send("claude-haiku-5\t")
    zsh.send("\x01echo \x05END\r")  # not run: echoed as completed
    zsh.expect("[\r\n]byok run -m anthropic/claude-haiku-5-5 ?END\r?\n")
    zsh.expect("READY> ")
    zsh.send("byok run -m anthropic/claude-b\t")  # from the list `--remote` cached
    zsh.send("\x01echo \x05END\r")  # not run: echoed as completed
    zsh.expect("[\r\n]byok run -m anthropic/claude-brandnew-9 ?END\r?\n")
    zsh.expect("READY> ")
    zsh.send("exit\r")
    zsh.expect(pexpect.EOF)


@pytest.mark.skipif(not shutil.which("fish"), reason="no fish")
def test_fish_completes_a_providers_models(listed, tmp_path):
    env = shell_env(listed, tmp_path / "home")
    completions = fish_completer(env)

    def fish(line: str) -> list[str]:
        return [x.split("\t")[0] for x in completions(line)]

    assert fish("byok run -m anthropic/claude-h") == ["anthropic/claude-haiku-4-5",
                                                      "anthropic/claude-haiku-5-5"]
    assert fish("byok run -m anthropic/claude-b") == ["anthropic/claude-brandnew-9"]
    assert fish("byok run -m anthr") == ["anthropic/"]
    assert "openai/gpt-6-luna" in fish("byok run -m openai/gpt-6")
    # at a real TAB: `anthropic/` takes no space after it, so the next TAB goes on
    sh = pexpect.spawn("fish", ["-C", "function fish_prompt; echo 'READY> '; end"], env=env,
                       encoding="utf-8", timeout=20, dimensions=(40, 120))
    sh.expect("READY> ")
    sh.send("byok run -m anthr\t")
    sh.send("claude-haiku-5\t")
    sh.send("\x01echo \x05END\r")  # not run: echoed as completed
    sh.expect("[\r\n]byok run -m anthropic/claude-haiku-5-5 ?END")
    sh.sendline("exit")
    sh.expect(pexpect.EOF)


def test_completing_never_creates_a_database(byok_env, tmp_path):
    env = {**byok_env.vars, "_BYOK_COMPLETE": "complete_bash", "COMP_WORDS": "byok history show ",
           "COMP_CWORD": "3", "BYOK_HOME": str(tmp_path / "nowhere")}
    proc = subprocess.run([str(BYOK)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == ""
    assert not (tmp_path / "nowhere").exists()
    started = time.monotonic()
    env.update(COMP_WORDS="byok run -m ", COMP_CWORD="3")
    assert "sonnet" in subprocess.run([str(BYOK)], env=env, capture_output=True, text=True,
                                      timeout=30).stdout
    assert time.monotonic() - started < 10
