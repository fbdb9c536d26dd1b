"""What carrying out a plan decides, apart from how a request is sent.

`runner` (run, chat, the Python API) sends requests byok built; the gateway forwards a
client's own request. Both ask a :class:`Policy` the same questions, so there is one copy
of each rule: where an attempt's requests go and whether its key may go there, which key,
what budget room to hold, what the answer cost, and which attempt answers a failure (the
plan's key order and fallbacks, `resolve.next_attempt`).

An endpoint that is not a key's own (routes.is_own) receives at most one key per request's
way through the plan: a rejection there moves on only to a key whose own endpoint it is,
and marks no key failed (a hostile or broken gateway answering 401 would otherwise collect
every key, and condemn them all).
"""

from __future__ import annotations

from ..records import record
from collections.abc import Callable

from ..errors import ByokError, Code
from ..secrets.keychain import PROVIDER_VERDICT, Keychain
from .resolve import KEY_REJECTED, KEY_UNREADABLE, Attempt, Excluded, Plan, next_attempt
from .routes import is_own, require
from ..wire.endpoint import Endpoint, endpoint

KIND = {Code.UNAUTHORIZED: "key_rejected", Code.QUOTA_EXCEEDED: "key_rejected",
        Code.DECRYPT_FAILED: "key_unreadable", Code.KEYRING_UNAVAILABLE: "key_unreadable",
        Code.MODEL_NOT_FOUND: "model_not_found",
        Code.PROVIDER_UNAVAILABLE: "provider_unavailable",
        Code.NETWORK_ERROR: "provider_unavailable", Code.LIMIT_EXCEEDED: "provider_unavailable",
        Code.BUDGET_EXCEEDED: "budget_exceeded"}


@record
class Spending:
    """What a policy needs to hold budget room and price the answer."""

    budgets: list          # the profile's budgets (store.Budget)
    allow_unpriced: bool = False
    on_warning: Callable[[str], None] = lambda s: None
    token_name: str | None = None  # the gateway client token the request came with


class Policy:
    """One request's way through a plan: the current attempt, and what each failure
    leads to. ``allow_unpriced``: send to a model of unknown price even when a budget
    applies (None: the profile's `allow-unpriced` setting)."""

    def __init__(self, plan: Plan, keychain: Keychain, *,
                 on_warning: Callable[[str], None] = lambda s: None,
                 allow_unpriced: bool | None = None, token_name: str | None = None):
        self.plan, self.keychain = plan, keychain
        self.settings = keychain.store.settings(keychain.profile)
        if allow_unpriced is None:
            allow_unpriced = self.settings.get("allow_unpriced") == "on"
        self.spending = Spending(keychain.store.budgets(keychain.profile), allow_unpriced,
                                 on_warning, token_name)
        self.fallbacks = list(plan.fallbacks)
        self.failures: list[tuple[Attempt, ByokError]] = []
        self._excluded = Excluded()
        self._index = 0
        self.held_micros: int | None = None  # the worst case the last hold reserved
        self._foreign: dict[str, tuple] = {}  # URL -> the one key sent there, not its own
        self._held_back: list[Attempt] = []   # keys not sent: another went there first
        self._last: tuple[Endpoint, bool] | None = None  # the last attempt's: where, own
        self._infos: dict[tuple, object] = {}  # (provider, model, keyless) -> model_info

    @property
    def attempt(self) -> Attempt:
        return self.plan.attempts[self._index]

    def where(self, a: Attempt) -> Endpoint:
        """Where ``a``'s requests go; NO_KEY when its key may not go there (planning left
        such keys out; this is the last gate)."""
        found = self.plan.endpoints.get(a.provider) or endpoint(
            self.keychain.registry.require(a.provider),
            profile=self.settings["base_urls"].get(a.provider))
        own = is_own(found, a.key_source, a.key_name, self.keychain)
        self._last = (found, own)
        require(found, a.key_source, self.settings, self.keychain.registry)
        return found

    def _allowed(self, b: Attempt) -> bool:
        """Whether ``b`` may still be sent: at an endpoint that is not its key's own, only
        if no other key went there first."""
        there = self.plan.endpoints.get(b.provider) or endpoint(
            self.keychain.registry.require(b.provider),
            profile=self.settings["base_urls"].get(b.provider))
        if is_own(there, b.key_source, b.key_name, self.keychain):
            return True
        first = self._foreign.get(there.url)
        if first is None or first == (b.key_source, b.key_name):
            return True
        self._held_back.append(b)
        return False

    def key(self, a: Attempt) -> str | None:
        if a.key_source == "none":
            return None  # a provider that needs no key is sent none
        key = self.keychain.key(a.provider, a.key_source, a.key_name)
        if not key:
            raise ByokError(Code.NO_KEY, f"the {a.key_label} disappeared", provider=a.provider)
        if self._last and not self._last[1]:
            # Counted once it is read: a key whose command failed went nowhere, so the
            # provider's next key may still go to this endpoint (one key per request).
            self._foreign.setdefault(self._last[0].url, (a.key_source, a.key_name))
        return key

    def model_info(self, a: Attempt, model: str | None = None):
        """What the catalogue knows of the attempt's model (kept for this request: its
        hold, bound and cost each ask)."""
        where = (a.provider, model or a.model, a.key_source == "none")
        if where not in self._infos:
            from ..catalog.prices import load, model_info

            record = self.keychain.registry.require(a.provider)
            self._infos[where] = model_info(load(self.keychain.store.home_dir), record,
                                            where[1], keyless=where[2])
        return self._infos[where]

    def hold(self, a: Attempt, system: str | None, messages: list[dict],
             max_tokens: int | None, model: str | None = None) -> int | None:
        """Reserve the attempt's worst-case cost under the budgets that apply
        (BUDGET_EXCEEDED if one does not allow it); the hold's id, or None."""
        s = self.spending
        if not s.budgets:
            return None
        from .budget import reserve

        model = model or a.model
        held = reserve(self.keychain.store, self.keychain.profile, s.budgets, a.provider,
                       model, a.key_name, self.model_info(a, model), system, messages,
                       max_tokens, s.allow_unpriced, syncable=self._syncable(a),
                       token_name=s.token_name)
        if held is None:
            return None
        for warning in held.warnings:
            s.on_warning(warning)
        self.held_micros = held.micros
        return held.id

    def _syncable(self, a: Attempt) -> bool:
        return bool(self.keychain.registry.require(a.provider).catalog)

    def unpriced(self, a: Attempt) -> list[str]:
        """What the budgets that apply say of ``a`` before holding anything, if its model
        has no price: the warning of one let through uncounted, or BUDGET_EXCEEDED for one
        refused (as :meth:`hold` would); [] for a priced model, or when no budget applies."""
        from .budget import applicable, unpriced

        s = self.spending
        budgets = applicable(s.budgets, a.provider, a.key_name, s.token_name)
        info = self.model_info(a) if budgets else None
        if not budgets or (info is not None and info.price is not None):
            return []
        return unpriced(self.keychain.store, budgets, a.provider, a.model, s.allow_unpriced,
                        self._syncable(a), gateway=s.token_name is not None).warnings

    def release(self, hold: int | None) -> None:
        if hold is not None:
            self.keychain.store.release_hold(hold)

    def cost(self, a: Attempt, input_tokens: int | None, output_tokens: int | None,
             cached: int | None, model: str | None = None,
             cache_write: int | None = None) -> int | None:
        """What the answer cost at the price in force now (micro-dollars), or None."""
        if input_tokens is None or output_tokens is None:
            return None
        info = self.model_info(a, model)
        if info is None or info.price is None:
            return None
        return info.price.cost_micros(input_tokens, output_tokens, cached or 0,
                                      cache_write or 0)

    def bounded(self, a: Attempt, input_tokens: int, output_tokens: int, cached: int | None,
                max_tokens: int | None, model: str | None = None) -> tuple[int, int, int | None]:
        """The counts to book (input, output, cached input): no more than the request
        allowed, output up to its max_tokens (else the model's output limit), input up to
        the context window. A provider (or a gateway) that reports more cannot make a
        budget pay for it: the count is booked at the bound, with a warning."""
        info = self.model_info(a, model)
        out_bound = max_tokens or (info.max_output if info else None)
        in_bound = info.context_window if info else None
        counts = {"output tokens": output_tokens, "input tokens": input_tokens}
        for what, bound, allows in (("output tokens", out_bound, "max_tokens"),
                                    ("input tokens", in_bound, "the context window")):
            reported = counts[what]
            if bound and reported > bound:
                counts[what] = bound
                self.spending.on_warning(f"{a.provider} reported {reported} {what}, more than "
                                         f"{allows} allows ({bound}); booked at {bound}")
        booked_in = counts["input tokens"]
        return booked_in, counts["output tokens"], (min(cached, booked_in) if cached
                                                    else cached)

    def usage_row(self, a: Attempt, started: float, code: str, *, model: str | None = None,
                  tokens: tuple = (None, None, None), ttft_ms: int | None = None,
                  latency_ms: int | None = None, cost: int | None = None,
                  stop_reason: str | None = None, cache_write: int | None = None,
                  reasoning: int | None = None):
        """The request's usage row, for the caller to write with the hold it settles
        (store.record_usages; the gateway writes those of one event-loop pass together);
        ``tokens``: input, output, cached input. A success clears a stored key's failed
        mark."""
        from ..store import UsageRow

        if code == "OK" and a.key_source == "stored":
            self.keychain.mark_used(a.provider, a.key_name or "default")
        return UsageRow(
            started, self.keychain.profile, a.provider, model or a.model, a.key_source,
            ",".join(f["kind"] for f in self.fallbacks), tokens[0], tokens[1], ttft_ms,
            latency_ms, code, tokens[2], cost, a.key_name, stop_reason=stop_reason,
            cache_write_tokens=cache_write, reasoning_tokens=reasoning,
            token_name=self.spending.token_name)

    def failed(self, err: ByokError) -> Attempt | None:
        """Record the current attempt's failure (a key the provider rejected is marked so)
        and move to the attempt that answers it; None when none does (then
        :meth:`final_error` says why)."""
        a = self.attempt
        self.failures.append((a, err))
        own = self._last[1] if self._last else True
        if a.key_source == "stored" and err.code in PROVIDER_VERDICT and own:
            # Only the provider's verdict marks a key, at the key's own endpoint: a key that
            # cannot be opened here (the master key in the environment is another) may be
            # fine, and so may one another endpoint refused.
            try:
                self.keychain.mark(a.provider, a.key_name or "default",
                                   f"failed: {err.code.value}")
            except ByokError as unmarked:  # a read-only or full database: go on anyway
                self.spending.on_warning(f"could not mark the stored key failed: "
                                         f"{unmarked.message}")
        pinned = self.plan.pinned_model
        nxt = next_attempt(self.plan.attempts, self._index, err.code, self._excluded,
                           getattr(err, "budget_scope", None), self._allowed, pinned)
        if nxt is None:
            if pinned == a.model and self._index + 1 < len(self.plan.attempts) and \
                    getattr(err, "budget_scope", None) == "model":  # held by the pin alone
                err.hint = f"{err.hint}; --fallback lets another model answer"
            return None
        b = self.plan.attempts[nxt]
        self.fallbacks.append({"kind": KIND.get(err.code, err.code.value.lower()),
                               "code": err.code.value, "from": label(a), "to": label(b)})
        self.spending.on_warning(f"{err.message}; trying {b.provider} {b.model} with the "
                                 f"{b.key_label}")
        self._index = nxt
        return b

    def final_error(self) -> ByokError:
        final = final_error(self.failures)
        if self._held_back and self._last and not self._last[1]:
            final = _one_key_only(final, self.attempt, self._last[0], self._held_back)
        return final

    def tagged(self, exc: BaseException) -> BaseException:
        """Say which attempt failed and which fallbacks came before, for the usage log."""
        exc.attempt = label(self.attempt)  # type: ignore[attr-defined]
        exc.fallbacks = list(self.fallbacks)  # type: ignore[attr-defined]
        return exc


def priced_out(plan: Plan, keychain: Keychain, allow_unpriced: bool | None = None
               ) -> tuple[list[str], ByokError | None]:
    """What the budgets would make of ``plan`` before anything is sent (`run --explain`),
    in run's own words: the warnings of the models without a price they pass over (and the
    attempt that answers instead) or let through uncounted, and the error that would end
    the run there, if one would."""
    said: list[str] = []
    policy = Policy(plan, keychain, on_warning=said.append, allow_unpriced=allow_unpriced)
    while True:
        try:
            return said + policy.unpriced(policy.attempt), None
        except ByokError as err:
            if policy.failed(err) is None:
                return said, policy.final_error()


def label(a: Attempt) -> dict:
    return {"provider": a.provider, "model": a.model, "key_source": a.key_source,
            "key_name": a.key_name}


def final_error(failures: list[tuple[Attempt, ByokError]]) -> ByokError:
    last_attempt, last = failures[-1]
    p = last_attempt.provider
    mine = [(a, e) for a, e in failures if a.provider == p]
    rejected = [a for a, e in mine if e.code in PROVIDER_VERDICT]
    if last.code in KEY_REJECTED and len(mine) > 1 and all(
            e.code in KEY_REJECTED | KEY_UNREADABLE for _, e in mine):
        # Only the provider's verdict says a key is bad; a key this process could not open
        # (another master key, a locked keyring) is fine, and its own error says why.
        unopened = [e for _, e in mine if e.code not in PROVIDER_VERDICT]
        if not rejected:
            return unopened[-1]
        tried = _names([a.key_label.split(" (")[0] for a in rejected])
        if unopened:
            # the master key is what to fix first: it may open a key that works
            return ByokError(unopened[-1].code, f"{p} rejected {tried}; and "
                             f"{unopened[-1].message}", hint=unopened[-1].hint, provider=p)
        return ByokError(last.code, f"{p} rejected every key tried: {tried}",
                         hint=f"store a valid key with `byok key set {p}` or fix the "
                              "environment's", provider=p)
    if len(failures) > 1:
        tried = ", ".join(f"{a.provider}/{a.model} ({e.code.value})" for a, e in failures[:-1])
        last.hint = (last.hint + "; " if last.hint else "") + f"also tried {tried}"
    return last


def _one_key_only(err: ByokError, a: Attempt, where: Endpoint,
                  held_back: list[Attempt]) -> ByokError:
    """The way ends at an endpoint that is no key's own: say which key was tried there, and
    how to send another."""
    others = _names([repr(b.key_name or "default") if b.key_source == "stored" else
                     str(b.key_name) for b in dict.fromkeys(held_back)])
    named = a.key_name if a.key_source == "stored" else None
    tried = f" ({named!r} was tried)" if named is not None else ""
    err.hint = (f"byok sends one key per run to an endpoint that is not the key's own "
                f"({where.where}; see security.md), so not {others}; pick one with -k NAME"
                f"{tried}, or store one for it with --base-url")
    return err


def _names(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]
