"""`byok exec --gateway`: a program run with a gateway of its own instead of keys.

The gateway listens on a free loopback port for the child's lifetime and answers one
token, made for this run, limited to the providers asked for, and deleted when the child
ends. The child's environment gets each provider's base URL variable pointed at the gateway
and its key variable set to that token: it holds no key and no master key. byok waits
for the child and ends with its status; a signal that ended it ends byok the same way.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import threading
from typing import Callable, Mapping

from ..errors import ByokError, Code
from ..registry import Provider
from ..secrets.keychain import Keychain
from . import tokens

# Sent to byok, they are meant for the program.
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH,
             signal.SIGCONT)
# A terminal sends these to its whole foreground group, the program included: forwarded
# only when someone sent them to byok itself (kill), or the program would get two (and
# many take a second Ctrl-C as "quit now").
FROM_TERMINAL = frozenset({signal.SIGINT, signal.SIGQUIT})


def child_env(base: Mapping[str, str], url: str, token: str, providers: list[Provider]
              ) -> dict[str, str]:
    env = dict(base)
    for p in providers:
        if p.base_url_env:
            env[p.base_url_env] = f"{url}/{p.name}"
        if p.key_env:
            env[p.key_env] = token
    return env


def run(keychain: Keychain, providers: list[Provider], program: str, argv: list[str],
        base_env: Mapping[str, str], preexec: Callable[[], None] | None = None,
        on_warning: Callable[[str], None] = lambda s: None) -> int:
    """Run the program under a gateway; its exit status (128+N for a signal N that byok
    could not re-raise on itself)."""
    from .server import Gateway, Limits

    store, profile = keychain.store, keychain.profile
    name = f"exec-{os.getpid()}-{secrets.token_hex(3)}"
    token = tokens.create(store, profile, name, [p.name for p in providers])
    try:
        # the child gone, its open streams have little time to finish
        gateway = Gateway(keychain, port=0, on_warning=on_warning, only_token=token,
                          limits=Limits(drain=2.0))
        status = asyncio.run(_serve(gateway, providers, program, argv, base_env, token,
                                    preexec))
    finally:
        try:
            store.delete_token(profile, name)  # the token dies with the child
        except ByokError as err:
            on_warning(f"could not delete this run's token: {err.message}")
    if status < 0:  # killed by a signal: end the same way, as a shell would see it
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status
    return status


async def _serve(gateway, providers: list[Provider], program: str, argv: list[str],
                 base_env: Mapping[str, str], token: str, preexec) -> int:
    await gateway.start()
    loop = asyncio.get_running_loop()
    # from before the program starts, so that none is missed; where a signal's sender
    # cannot be known (no sigwaitinfo: macOS), byok leaves them to the terminal, as before
    sent = _SentToByok() if hasattr(signal, "sigwaitinfo") else _Ignored(loop)
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                program, *argv[1:], env=child_env(base_env, gateway.url, token, providers),
                preexec_fn=_unblocked(preexec) if isinstance(sent, _SentToByok) else preexec,
                stdin=None, stdout=None, stderr=None)
        except OSError as exc:
            raise ByokError(Code.NOT_EXECUTABLE, f"cannot run {argv[0]}: {exc.strerror}"
                            ) from None
        for sig in FORWARDED:
            loop.add_signal_handler(sig, _forward, proc, sig)
        sent.deliver(lambda sig: loop.call_soon_threadsafe(_forward, proc, sig))
        try:
            return await proc.wait()
        finally:
            for sig in FORWARDED:
                loop.remove_signal_handler(sig)
    finally:
        sent.stop()
        await gateway.stop()


def _unblocked(preexec: Callable[[], None] | None) -> Callable[[], None]:
    def in_the_child() -> None:  # byok blocks FROM_TERMINAL; the program must not
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FROM_TERMINAL)
        if preexec is not None:
            preexec()
    return in_the_child


class _Ignored:
    """FROM_TERMINAL ignored by byok: the terminal tells the program itself."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        for sig in FROM_TERMINAL:
            loop.add_signal_handler(sig, lambda: None)

    def deliver(self, on_signal: Callable[[int], None]) -> None:
        pass

    def stop(self) -> None:
        for sig in FROM_TERMINAL:
            self.loop.remove_signal_handler(sig)


class _SentToByok:
    """Takes FROM_TERMINAL signals (blocked, then waited for in a thread, which shows who
    sent each) and passes on those a process sent rather than the terminal (the kernel)."""

    def __init__(self):
        self.stopping = False
        self.lock = threading.Lock()
        self.pending: list[int] = []
        self.on_signal: Callable[[int], None] | None = None
        # Blocked from here on, in this thread and the one started next (threads inherit
        # the mask); the program unblocks them (_unblocked).
        signal.pthread_sigmask(signal.SIG_BLOCK, FROM_TERMINAL)
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()

    def deliver(self, on_signal: Callable[[int], None]) -> None:
        """Pass signals to ``on_signal`` from now on, those that came before first."""
        with self.lock:
            self.on_signal = on_signal
            pending, self.pending = self.pending, []
        for sig in pending:
            on_signal(sig)

    def _wait(self) -> None:
        while True:
            got = signal.sigwaitinfo(FROM_TERMINAL)
            if self.stopping:
                return
            if got.si_code > 0:  # SI_KERNEL: the terminal, which told the program too
                continue
            with self.lock:  # SI_USER, SI_QUEUE, SI_TKILL: a process sent it to byok
                if self.on_signal is None:
                    self.pending.append(got.si_signo)
                    continue
            self.on_signal(got.si_signo)

    def stop(self) -> None:
        self.stopping = True
        signal.pthread_kill(self.thread.ident, signal.SIGINT)
        self.thread.join()
        while signal.sigtimedwait(FROM_TERMINAL, 0) is not None:
            pass  # one that came too late: the program has ended
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FROM_TERMINAL)


def _forward(proc, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass
