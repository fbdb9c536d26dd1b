"""What the repository itself holds: no stray data files from a run (issue 24: an empty
`relative/byok.db` was committed when byok ran with a relative BYOK_HOME)."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def test_no_database_is_committed():
    # tests/data/ holds old-schema databases on purpose (the migration tests open them)
    tracked = [p for p in _git("ls-files").splitlines() if not p.startswith("tests/data/")]
    assert [p for p in tracked if p.endswith((".db", ".db-wal", ".db-shm", ".db-journal"))] == []


@pytest.mark.parametrize("path", ["relative/byok.db", "relative/profiles/work/byok.db",
                                  "somewhere/byok.db"])
def test_a_data_file_left_by_a_run_is_ignored(path):
    assert _git("check-ignore", "--no-index", path).strip() == path
