"""byok: bring your own AI provider keys.

The command-line tool is built on a small Python API that scripts can use too::

    from byok_cli import Byok
    answer = Byok().ask("hello").outcome.text

See :mod:`byok_cli.api`. Importing this package loads nothing heavy: the API is imported
on first use, and the provider SDKs only when a request is sent.
"""

from __future__ import annotations

from .version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Byok", "ByokError", "Code", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Byok":
        from .api import Byok

        return Byok
    if name in ("ByokError", "Code"):
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'byok_cli' has no attribute {name!r}")
