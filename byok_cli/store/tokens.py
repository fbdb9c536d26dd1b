"""The gateway's client tokens: a name, the providers a token may reach, and when it ends.

Only a digest of each token is stored (SHA-256 of its text: a token is 32 random bytes, so
a slow hash would add nothing but latency). Lookups are by digest; the caller compares the
digest it made with the stored one in constant time.
"""

from __future__ import annotations

from ..records import tuple_record



@tuple_record
class ClientToken:
    profile: str
    name: str
    digest: str
    providers: tuple[str, ...]  # () : every provider
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    requests: int

    def live(self, at: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)

    def allows(self, provider: str) -> bool:
        return not self.providers or provider in self.providers


_COLUMNS = ("profile, name, digest, providers, created_at, expires_at, revoked_at, "
            "last_used_at, requests")


def _token(row) -> ClientToken:
    return ClientToken(row[0], row[1], row[2], tuple(p for p in row[3].split(",") if p),
                       *row[4:])


class TokenTables:
    def add_token(self, profile: str, name: str, digest: str, providers: list[str],
                  created_at: float, expires_at: float | None) -> bool:
        """False when the profile already has a live token of that name. A revoked or
        expired one of the same name is replaced."""
        with self.transaction() as conn:
            old = conn.execute("SELECT " + _COLUMNS + " FROM client_tokens WHERE profile = ? "
                               "AND name = ?", (profile, name)).fetchone()
            if old is not None:
                if _token(old).live(created_at):
                    return False
                conn.execute("DELETE FROM client_tokens WHERE profile = ? AND name = ?",
                             (profile, name))
            conn.execute("INSERT INTO client_tokens (profile, name, digest, providers, "
                         "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                         (profile, name, digest, ",".join(providers), created_at, expires_at))
        return True

    def tokens(self, profile: str) -> list[ClientToken]:
        return [_token(r) for r in self.conn.execute(
            "SELECT " + _COLUMNS + " FROM client_tokens WHERE profile = ? ORDER BY name",
            (profile,))]

    def token_by_digest(self, digest: str) -> ClientToken | None:
        row = self.conn.execute("SELECT " + _COLUMNS + " FROM client_tokens WHERE digest = ?",
                                (digest,)).fetchone()
        return _token(row) if row else None

    def revoke_token(self, profile: str, name: str, at: float) -> bool:
        with self.transaction() as conn:
            cur = conn.execute("UPDATE client_tokens SET revoked_at = ? WHERE profile = ? "
                               "AND name = ? AND revoked_at IS NULL", (at, profile, name))
        return cur.rowcount > 0

    def delete_token(self, profile: str, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM client_tokens WHERE profile = ? AND name = ?",
                         (profile, name))

    def token_used(self, profile: str, name: str, at: float, count: int = 1) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE client_tokens SET requests = requests + ?, last_used_at = ? "
                         "WHERE profile = ? AND name = ?", (count, at, profile, name))

    def usage_by_token(self, profile: str, since: float | None, provider: str | None
                       ) -> list[tuple]:
        """(provider, token name, requests, errors, fallbacks, input, output, cost in
        micro-dollars, successful requests of unknown cost) per provider and token; '-' for
        requests made without one (run, chat)."""
        return self.usage_by("token", profile, since, provider)
