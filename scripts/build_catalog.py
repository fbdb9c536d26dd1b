"""Build byok_cli/data/prices.json, the bundled snapshot of context windows, output limits and
prices, from the copy of LiteLLM's model_prices_and_context_window.json that the litellm wheel
on PyPI ships (litellm/model_prices_and_context_window_backup.json).

    python scripts/build_catalog.py                      # pip download the pinned wheel
    python scripts/build_catalog.py --wheel litellm-….whl

The wheel is only unzipped, never installed or imported. Only chat models of the providers
byok knows are kept (byok_cli/catalog/source.py says which). byok reads the snapshot from
byok_cli/catalog/prices_data.py: run scripts/generate.py after this.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from byok_cli.catalog import source as catalog_source  # noqa: E402

PINNED = "1.110.2"
# 1.82.7 and 1.82.8 shipped a credential stealer; 1.107.0 was reported compromised too
# (all three are gone from PyPI). The wheel is only unzipped, but never fetch these.
BLOCKED = {"1.82.7", "1.82.8", "1.107.0"}
MEMBER = "litellm/model_prices_and_context_window_backup.json"
OUT = ROOT / "byok_cli" / "data" / "prices.json"


def download(version: str, into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", f"litellm=={version}", "--no-deps",
                    "--only-binary", ":all:", "-q", "-d", str(into)], check=True)
    return next(into.glob(f"litellm-{version}-*.whl"))


def build(wheel: Path, version: str, taken: str) -> dict:
    with zipfile.ZipFile(wheel) as z:
        body = z.read(MEMBER)
    models = catalog_source.extract(json.loads(body))
    return {"source": {
        "name": "LiteLLM model_prices_and_context_window.json",
        "url": catalog_source.DEFAULT_URL,
        "via": f"litellm=={version} wheel, {MEMBER}",
        "version": version, "sha256": hashlib.sha256(body).hexdigest(),
        "taken": taken, "kind": "snapshot"}, "models": models}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default=PINNED, help=f"litellm version (default {PINNED})")
    ap.add_argument("--wheel", type=Path, help="a litellm wheel already downloaded")
    ap.add_argument("--taken", default=dt.date.today().isoformat(),
                    help="the date the prices were taken (default today)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.version in BLOCKED:
        sys.exit(f"litellm {args.version} is a known-compromised release; pick another")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download(args.version, Path(tmp))
        data = build(wheel, args.version, args.taken)
    # One model per line: small diffs when prices move, and cheap to parse.
    lines = [f'{{"source": {json.dumps(data["source"])},', ' "models": {']
    providers = list(data["models"].items())
    for i, (provider, models) in enumerate(providers):
        lines.append(f"  {json.dumps(provider)}: {{")
        items = list(models.items())
        for j, (model, entry) in enumerate(items):
            comma = "," if j < len(items) - 1 else ""
            lines.append(f"   {json.dumps(model)}: {json.dumps(entry)}{comma}")
        lines.append("  }" + ("," if i < len(providers) - 1 else ""))
    lines.append(" }}")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.out}: {catalog_source.count(data['models'])} models "
          f"from litellm {args.version}; now run scripts/generate.py", file=sys.stderr)


if __name__ == "__main__":
    main()
