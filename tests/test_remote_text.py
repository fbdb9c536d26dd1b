"""Text a provider or gateway chose (model ids, names) never carries a key to the screen or
to disk (issue 11, items 8 and 11: a key never touches disk in plaintext)."""

import base64
import json
import sqlite3

import pytest

from byok_cli.errors import Code
from support.listing_gateway import ListingGateway
from support.pricedata import MapServer, litellm_map
from test_masking import CONTROL, assert_masked

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


# --- models sync: the price map is text from elsewhere too -------------------------------------

@pytest.fixture
def maps():
    server = MapServer()
    yield server
    server.close()


HOSTILE_IDS = ["gpt-evil\x1b[2J", "gpt-csi\x9b31m", "gpt-\u202etxt.exe", "gpt-zw\u200bj",
               "sk-proj-ab12cd34ef56gh78ij90"]


def test_a_price_map_id_with_control_characters_or_a_key_never_reaches_the_data(byok_env, maps):
    served = litellm_map()
    for mid in HOSTILE_IDS:
        served[mid] = dict(served["gpt-4o"])
    r = byok_env.run("models", "sync", "--url", maps.serve("/odd.json", served))
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if "left out" in line]
    assert len(notes) == len(HOSTILE_IDS), r.stderr
    assert sum("control or format characters" in n for n in notes) == 4
    assert "looks like an API key" in r.stderr and "ab12cd34ef56" not in r.stderr
    data = (byok_env.home / "prices.json").read_text(encoding="utf-8")
    listed = byok_env.run("models", "list", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    for text in (data, listed.stdout, r.stderr):
        assert CONTROL.search(text) is None and "\u200b" not in text
        assert "ab12cd34ef56" not in text
    assert "gpt-4o" in {m["id"] for m in json.loads(listed.stdout)}


def test_sync_never_sends_a_loopback_request_through_a_proxy(byok_env, maps, proxy):
    url = maps.serve("/good.json", litellm_map())
    via_proxy = {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url, "ALL_PROXY": proxy.url,
                 "NO_PROXY": "", "no_proxy": ""}
    r = byok_env.run("models", "sync", "--url", url, env=via_proxy)
    assert r.returncode == 0, r.stderr
    assert proxy.seen == [] and "synced" in r.stderr


def test_a_catalog_urls_password_is_kept_masked(byok_env, maps):
    url = maps.serve("/good.json", litellm_map()).replace("http://", "http://me:Pw9sEcReT7x@") \
        + "?token=ghp_Tok3nT0k3nT0k3n&ref=main"  # a token in the query, as raw GitHub takes one
    r = byok_env.run("models", "sync", "--url", url, "--json")
    assert r.returncode == 0, r.stderr
    bad = byok_env.run("models", "sync", "--url", url.replace("good", "missing"))
    assert bad.returncode != 0
    maps.serve("/broken.json", b"{not json")
    refused = byok_env.run("models", "sync", "--url", url.replace("good", "broken"))
    assert refused.returncode == Code.INVALID_FORMAT.exit_status, refused.stderr
    with sqlite3.connect(byok_env.home / "byok.db") as db:
        kept = [u for (u,) in db.execute("SELECT url FROM catalog_syncs")]
    assert len(kept) == 3 and all("me:***@127.0.0.1" in u for u in kept), kept
    listed = byok_env.run("models", "list", "--json")
    for text in (r.stdout, r.stderr, bad.stderr, refused.stderr, listed.stderr, " ".join(kept),
                 (byok_env.home / "prices.json").read_text()):
        assert "Pw9sEcReT7x" not in text and "Tok3n" not in text
