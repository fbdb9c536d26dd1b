"""Where each command's documentation lives: `byok --help` and every command's help end
with a link to its page (plain strings, so help stays as fast as it was). The site is
built from docs/ by MkDocs (mkdocs.yml's site_url is SITE); tests/test_docs.py holds
every link to a page and an anchor that exist."""

SITE = "https://byok.readthedocs.io/en/latest/"

# A command's page: by its path below `byok` ("key get"), else by its group ("key").
PAGES = {
    "": "",
    "key": "keys-and-profiles/",
    "key get": "other-tools/#byok-key-get",
    "key import": "keys-and-profiles/#importing-keys",
    "profile": "keys-and-profiles/#profiles",
    "vault": "keys-and-profiles/#the-vault",
    "doctor": "keys-and-profiles/#the-vault",
    "unlock": "keys-and-profiles/#your-own-master-key",
    "lock": "keys-and-profiles/#your-own-master-key",
    "provider": "providers-and-gateways/",
    "run": "running-prompts/",
    "chat": "running-prompts/#byok-chat",
    "history": "running-prompts/#history",
    "models": "running-prompts/#models",
    "models sync": "costs-and-budgets/#prices-and-limits",
    "usage": "costs-and-budgets/#usage",
    "budget": "costs-and-budgets/#budgets",
    "exec": "other-tools/#byok-exec",
    "setup": "other-tools/#byok-setup",
    "gateway": "gateway/",
    "token": "gateway/",
    "config": "configuration/",
    "completion": "getting-started/#shell-completions",
}


def link(path: str) -> str:
    """The documentation URL for a command path below `byok` ("", "key", "key get")."""
    page = PAGES.get(path)
    if page is None:
        page = PAGES[path.split(" ")[0]]
    return SITE + page


def epilog(path: str) -> str:
    """The help's last paragraph: the link, never rewrapped (a URL cut in two is no link),
    on a line of its own when it would not fit 80 columns beside "Docs:"."""
    url = link(path)
    return f"\b\nDocs: {url}" if len(url) <= 70 else f"\b\nDocs:\n{url}"


def add_links(command, path: str) -> None:
    """End the help of `command` (at `path`) and of each of its subcommands with the
    link to its page."""
    command.epilog = epilog(path)
    for name, sub in getattr(command, "commands", {}).items():
        add_links(sub, f"{path} {name}".strip())
