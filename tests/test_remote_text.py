"""Text a provider or gateway chose (model ids, names) never carries a key to the screen or
to disk (issue 11, items 8 and 11: a key never touches disk in plaintext)."""

import base64
import json
import sqlite3

import pytest

from byok_cli.errors import Code
from support.listing_gateway import ListingGateway
from test_masking import assert_masked

GW_KEY = "gwkey-Tq8Wm3Xr6Zp1Lv5Nb9Kc2Hd7Yf4"  # a gateway key without any known prefix


def _gateway_with_key(byok_env, url: str) -> None:
    r = byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url", url,
                     "--key-env", "GW_API_KEY")
    assert r.returncode == 0, r.stderr
    assert byok_env.set_key("gw", GW_KEY).returncode == 0


def _cached_payloads(byok_env) -> str:
    with sqlite3.connect(byok_env.home / "byok.db") as db:
        return " ".join(r[0] for r in db.execute("SELECT payload FROM model_cache"))


@pytest.mark.parametrize("echo", [
    [GW_KEY],
    [base64.b64encode(GW_KEY.encode()).decode()],
    [GW_KEY[:15], GW_KEY[15:]],
    ["prefix-" + GW_KEY.upper() + "-suffix"],
], ids=["whole", "base64", "split", "upper-cased"])
def test_model_ids_that_echo_the_key_are_never_printed_nor_cached(byok_env, echo):
    with ListingGateway(["gw-model-1", *echo]) as gw:
        _gateway_with_key(byok_env, gw.url)
        runs = [byok_env.run("models", "list", "--remote", "--provider", "gw", "--json"),
                byok_env.run("models", "list", "--remote", "--provider", "gw", "--json"),
                byok_env.run("models", "list", "--remote", "--provider", "gw")]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert_masked(GW_KEY, r.stdout, r.stderr)
    ids = [m["id"] for m in json.loads(runs[1].stdout) if m["provider"] == "gw"]
    assert "gw-model-1" in ids  # the honest model is still listed
    assert "look like a key" in runs[0].stderr  # and the person is told why others are not
    cached = _cached_payloads(byok_env)
    assert "gw-model-1" in cached
    assert_masked(GW_KEY, cached)
