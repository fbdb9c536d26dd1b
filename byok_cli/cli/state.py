"""Per-invocation state shared by the commands; no Typer here, so the fast path can use it."""

from __future__ import annotations

# SQLite's largest integer: a conversation id or a count beyond it is refused as a usage
# error by the option itself, before it can overflow a query.
MAX_ID = 2**63 - 1


class State:
    """The profile and --debug of one invocation, over the Python API's Byok, opened
    lazily so that `--help` opens nothing."""

    def __init__(self, profile: str = "default", debug: bool = False) -> None:
        self.profile = profile
        self.debug = debug
        self._byok = None

    @property
    def byok(self):
        if self._byok is None:
            from ..api import Byok
            from .streams import warn

            self._byok = Byok(self.profile, on_warning=warn)
        return self._byok

    @property
    def store(self):
        return self.byok.store

    @property
    def keychain(self):
        return self.byok.keychain


def note_unknown_profile(st, empty: bool = True) -> None:
    """A read-only command on a profile never made (no key, no setting: a mistyped
    --profile, most likely) says so on stderr, naming the profiles there are, when it has
    nothing of that profile's to show. It still succeeds: an empty profile is not an error,
    and `run` fails anyway (naming the profiles) when it finds no key."""
    if not empty or st.profile == "default":
        return
    store = st.store
    known = set(store.profiles()) | set(store.profiles_with_keys())
    if known and st.profile not in known:
        from .streams import warn

        warn(f"profile {st.profile!r} does not exist yet; profiles: {', '.join(sorted(known))} "
             "— check --profile (or BYOK_PROFILE)")


def profile_name(given: str | None) -> str | None:
    """The profile to use for --profile/BYOK_PROFILE, or None when the name is not allowed."""
    from ..errors import looks_like_key

    if given is not None and not given.strip():
        return None  # `--profile "$P"` with P unset: not quietly the default profile
    name = (given or "default").strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        return None
    return None if looks_like_key(name) else name  # a key pasted in the wrong place
