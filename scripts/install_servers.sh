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

# Prism (npm), which serves the providers' official OpenAPI specs for tests/test_prism.py:
# the exact version and every dependency's sha512 are in tests/servers/prism/package-lock.json,
# installed by `npm ci` (which refuses a lock that disagrees with package.json, and any file
# whose integrity differs), with no install scripts run. Prism 5.14.2 declares node >= 18.20.1
# (5.15 and later need node 24); one dependency, jsep, declares 20.16, so npm's engine check
# is left advisory and Prism's own floor is checked here.
prism_src=tests/servers/prism
prism="$dest/prism"
want=$(cat "$prism_src/package.json" "$prism_src/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$prism/.lock-sha256" 2>/dev/null)" = "$want" ]; then
    echo "prism: already installed from $prism_src/package-lock.json"
else
    node -e 'const [a, b, c] = process.versions.node.split(".").map(Number);
             process.exit(a * 1e6 + b * 1e3 + c >= 18020001 ? 0 : 1)' || {
        echo "install_servers: Prism needs node >= 18.20.1, found $(node --version 2>&1)" >&2; exit 1; }
    rm -rf "$prism"
    mkdir -p "$prism/bin"
    cp "$prism_src/package.json" "$prism_src/package-lock.json" "$prism/"
    (cd "$prism" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
    ln -s ../node_modules/.bin/prism "$prism/bin/prism"
    "$prism/bin/prism" --version >/dev/null
    echo "$want" > "$prism/.lock-sha256"
    echo "prism: installed @stoplight/prism-cli $("$prism/bin/prism" --version)"
fi
