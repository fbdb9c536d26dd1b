#!/usr/bin/env bash
# Install the third-party servers tests/test_third_party.py holds byok to, each into a
# virtualenv of its own under $BYOK_SERVERS_DIR (default: .servers in the checkout), never
# the project's. Every package comes from the registry at the version and sha256 in
# tests/servers/NAME.lock (written by scripts/lock_servers.py), wheels only, so nothing is
# built and nothing unpinned gets in. A venv already made from the same lock is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${BYOK_SERVERS_DIR:-$PWD/.servers}
python=$(.ci/find-python 3.11)  # the locks are for CPython 3.11 wheels
mkdir -p "$dest"
for lock in tests/servers/*.lock; do
    name=$(basename "$lock" .lock)
    venv="$dest/$name"
    want=$(sha256sum "$lock" | cut -d' ' -f1)
    if [ "$(cat "$venv/.lock-sha256" 2>/dev/null)" = "$want" ]; then
        echo "$name: already installed from $lock"
        continue
    fi
    if grep -Eq '^litellm==1\.82\.[78] ' "$lock"; then
        echo "install_servers: $lock pins a LiteLLM release that shipped a credential stealer" >&2
        exit 1
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --require-hashes --only-binary :all: -r "$lock" 2> >(grep -v "^WARNING: Location" >&2)
    "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
    echo "$want" > "$venv/.lock-sha256"
    echo "$name: installed $(grep -m1 '^# ' "$lock" | cut -d' ' -f2)"
done
