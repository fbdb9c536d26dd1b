"""byok's one retry policy: what is retried, how long to wait, and when to give up.

Only what can succeed on a second try is retried: rate limits (429), outages (5xx, 529)
and connections that failed or broke; never a rejected key, a missing model or endpoint
(404), a billing problem, a malformed request or a bug. A Retry-After (or retry-after-ms)
on 429, 503 and 529 is waited out when it fits in BYOK_MAX_RETRY_WAIT; otherwise byok
gives up at once and says how long the provider asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from ..errors import ByokError, Code
from .types import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")  # in annotations only

RETRYABLE = {Code.RATE_LIMITED, Code.PROVIDER_UNAVAILABLE, Code.NETWORK_ERROR}
OnRetry = Callable[[ByokError, float], None]


def should_retry(err: ByokError, attempt: int, waited: float, settings: Settings) -> float | None:
    """Seconds to wait before the next try, or None to give up."""
    if err.code not in RETRYABLE or not err.retryable or attempt >= settings.max_retries:
        return None
    if err.retry_after is not None:
        wait = err.retry_after
    else:
        import random

        wait = min(8.0, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2)
    if waited + wait > settings.max_wait:
        return None
    return wait


class Backoff:
    """Counts tries and waiting for one call; sleeps before a retry or re-raises."""

    def __init__(self, settings: Settings, on_retry: OnRetry | None = None):
        self.settings, self.on_retry = settings, on_retry
        self.attempt, self.waited = 0, 0.0

    def wait_or_raise(self, err: ByokError) -> None:
        wait = should_retry(err, self.attempt, self.waited, self.settings)
        if wait is None:
            raise err
        if self.on_retry:
            self.on_retry(err, wait)
        time.sleep(wait)
        self.attempt, self.waited = self.attempt + 1, self.waited + wait


def with_retries(call: Callable[[], T], settings: Settings,
                 on_retry: OnRetry | None = None) -> T:
    backoff = Backoff(settings, on_retry)
    while True:
        try:
            return call()
        except ByokError as err:
            backoff.wait_or_raise(err)


def stream_with_retries(start: Callable[[], Iterator[str]], settings: Settings,
                        on_retry: OnRetry | None = None) -> Iterator[str]:
    """Retry a streamed call only until its first piece of text has been handed out."""
    backoff = Backoff(settings, on_retry)
    while True:
        started = False
        try:
            for piece in start():
                started = True
                yield piece
            return
        except ByokError as err:
            if started:
                err.partial = True
                raise
            backoff.wait_or_raise(err)
