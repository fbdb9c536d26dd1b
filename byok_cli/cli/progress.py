"""A spinner on stderr while the first token is awaited. No Typer here (the fast path uses
it), and rich is imported only when a spinner is really shown."""

from __future__ import annotations

import os
import sys

DELAY = 0.5  # seconds of silence before the spinner appears


def wanted(stream=None) -> bool:
    """Only on a terminal that can redraw a line: never into a pipe or a file, nor on a
    dumb terminal."""
    stream = stream or sys.stderr
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class Waiting:
    """Shows a spinner after DELAY seconds without output; `stop` clears it (before any
    text or message is written); `start` arms it again."""

    def __init__(self, label: str = "waiting for the answer", enabled: bool | None = None):
        self.label = label
        self.enabled = wanted() if enabled is None else enabled
        self._lock = None
        self._timer = None
        self._live = None
        self._armed = False
        self._answering = False  # text has come: no spinner any more

    def start(self) -> None:
        if not self.enabled or self._answering:
            return
        import threading  # only on a terminal

        if self._lock is None:
            self._lock = threading.Lock()
        with self._lock:
            self._armed = True
            if self._timer is None and self._live is None:
                self._timer = threading.Timer(DELAY, self._show)
                self._timer.daemon = True
                self._timer.start()

    def _show(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        with self._lock:
            self._timer = None
            if not self._armed:
                return
            console = Console(file=sys.stderr, no_color=bool(os.environ.get("NO_COLOR")),
                              highlight=False)
            # Nothing else is redirected: the spinner is stopped before anything is written.
            self._live = Live(Spinner("dots", text=self.label), console=console, transient=True,
                              refresh_per_second=12.5, redirect_stdout=False,
                              redirect_stderr=False)
            self._live.start()

    def stop(self) -> None:
        if self._lock is None:
            return
        with self._lock:
            self._armed = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._live is not None:
                self._live.stop()
                self._live = None

    def __enter__(self) -> "Waiting":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def text(self, on_text):
        """`on_text` that clears the spinner first."""
        def receive(piece: str) -> None:
            if piece and not self._answering:
                self._answering = True
                self.stop()
            on_text(piece)
        return receive

    def message(self, say):
        """`say` (a warning) written with the spinner cleared, and the spinner armed again."""
        def receive(text: str) -> None:
            self.stop()
            say(text)
            self.start()
        return receive
