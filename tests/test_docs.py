"""The documentation holds together: every page of docs/ is in mkdocs.yml's nav, the README
is a short door whose links lead to pages and headings that exist, and `byok --help` and
every command's help end with the link to its page, whole, within 80 columns, on a page and
heading that exist. (`mkdocs build --strict` in CI checks the links between pages; the
commands the pages show are run by test_readme.py.)"""

import re
import subprocess
import unicodedata

import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from conftest import BYOK, TESTS
from byok_cli.cli import docs_links
from byok_cli.cli.root import COMMANDS, app

ROOT = TESTS.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()
MKDOCS = yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def slug(heading: str) -> str:
    """A heading's anchor, as MkDocs' toc extension makes it."""
    text = unicodedata.normalize("NFKD", heading.replace("`", "")).encode("ascii", "ignore")
    text = re.sub(r"[^\w\s-]", "", text.decode()).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: str) -> set[str]:
    body = re.sub(r"```.*?```", "", (DOCS / page).read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", body, re.M)}


def nav_pages() -> list[str]:
    return [next(iter(entry.values())) for entry in MKDOCS["nav"]]


def test_every_page_is_in_the_nav_once():
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert sorted(nav_pages()) == pages and len(set(nav_pages())) == len(pages)
    assert len(pages) >= 13  # index and the twelve topics


def test_the_readme_is_a_short_door():
    assert len(README.splitlines()) <= 150
    # CI runs this line as it stands (.ci/run).
    assert "```sh\npip install -e '.[test]' && python -m pytest\n```" in README
    assert "BYOK_MASTER_KEY" in README


def test_the_readme_links_lead_to_pages_and_headings_that_exist():
    links = re.findall(r"\]\((docs/[^)#]+)(?:#([^)]+))?\)", README)
    assert len({page for page, _ in links}) >= 13
    for page, anchor in links:
        assert (ROOT / page).is_file(), page
        if anchor:
            assert anchor in anchors(page.removeprefix("docs/")), (page, anchor)


def test_the_help_links_name_the_site_mkdocs_builds():
    assert MKDOCS["site_url"] == docs_links.SITE


@pytest.mark.parametrize("path", sorted(docs_links.PAGES))
def test_each_help_link_leads_to_a_page_and_heading_that_exist(path):
    url = docs_links.link(path)
    page, _, anchor = url.removeprefix(docs_links.SITE).partition("#")
    name = page.rstrip("/") + ".md" if page else "index.md"
    assert name in nav_pages(), (path, url)
    if anchor:
        assert anchor in anchors(name), (path, url)


def command_paths() -> list[str]:
    """Every command below `byok`, groups and their commands."""
    root = get_command(app)
    found = []
    for name in COMMANDS:
        command = root.get_command(None, name)
        found.append(name)
        found += [f"{name} {sub}" for sub in getattr(command, "commands", {})]
    return found


def test_every_command_has_a_page():
    paths = command_paths()
    assert len(paths) > len(COMMANDS)  # the groups' commands are there too
    for path in paths:
        assert path in docs_links.PAGES or path.split()[0] in docs_links.PAGES, path


def shown_link(text: str) -> str:
    """The URL after "Docs:" at the end of a help screen, on its line or the next."""
    tail = text.rstrip().split("Docs:")[-1]
    return tail.strip()


@pytest.mark.parametrize("group", ["", *COMMANDS])
def test_the_installed_byok_help_links_to_the_page(byok_env, group):
    argv = [str(BYOK), *group.split(), "--help"]
    out = subprocess.run(argv, env={**byok_env.vars, "COLUMNS": "80"}, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert shown_link(out.stdout) == docs_links.link(group)
    assert max(len(line) for line in out.stdout.splitlines()) <= 80


def test_every_command_help_links_to_its_page(in_process):
    runner = CliRunner()
    for path in command_paths():
        out = runner.invoke(app, [*path.split(), "-h"], env={"COLUMNS": "80"},
                            prog_name="byok")
        assert out.exit_code == 0, (path, out.output)
        assert shown_link(out.stdout) == docs_links.link(path), path
        assert max(len(line) for line in out.stdout.splitlines()) <= 80, path
