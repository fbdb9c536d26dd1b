"""SQLite storage: one connection to one file, its migrations, and one module per concern.

:class:`Store` is the database (``db``) with the queries of each concern mixed in: keys and
master keys (``keys``), the person's own providers (``providers``), profiles and settings
(``settings``), conversations and their attachments (``conversations``), the usage log (``usage``), budgets
(``budgets``), the gateway's client tokens (``tokens``) and the log of keys handed to other programs (``handoffs``).
The last two, which `byok run` never touches, are loaded on their first use.
"""

from __future__ import annotations

from .budgets import Budget, BudgetTables, Standing
from .conversations import Conversation, ConversationTables, Message, StoredAttachment
from .db import Database, now
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .files import DB_NAME, data_dir, file_mode
from .keys import KeyTables, StoredKey
from .providers import ProviderTables
from .settings import PROFILE_SETTINGS, PROVIDER_SETTINGS, SettingsTables
from .usage import DAY, UsageRow, UsageTables, bucket, bucket_sql


TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from .handoffs import Handoff, HandoffSummary, HandoffTables
    from .tokens import ClientToken, TokenTables

# Names whose module is imported when one of them is first asked for: the hand-off log's and
# the gateway's tables cost `byok run` their import (issue 25) and it never uses them.
_LATER = {"Handoff": "handoffs", "HandoffSummary": "handoffs", "HandoffTables": "handoffs",
          "ClientToken": "tokens", "TokenTables": "tokens"}


def __getattr__(name: str):
    if name in _LATER:
        module = __import__(f"{__name__}.{_LATER[name]}", fromlist=[name])
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _later_tables() -> tuple[type, ...]:
    from .handoffs import HandoffTables
    from .tokens import TokenTables

    return HandoffTables, TokenTables


class Store(Database, SettingsTables, KeyTables, ProviderTables, ConversationTables,
            UsageTables, BudgetTables):
    """The byok database. Opening it creates or migrates it; never alters a newer one.

    The hand-off log's queries (``handoffs``) and the client tokens' (``tokens``) are
    methods of a Store like the others, found on first use (see ``__getattr__``)."""

    def __getattr__(self, name: str):
        # Called only for a name the classes above do not have.
        if not name.startswith("__"):
            for tables in _later_tables():
                if name in tables.__dict__:
                    return tables.__dict__[name].__get__(self, type(self))
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


if TYPE_CHECKING:  # what type checkers see: one class with every table's queries
    class Store(Store, HandoffTables, TokenTables):  # type: ignore[no-redef]
        pass


__all__ = ["DAY", "DB_NAME", "MIGRATIONS", "PROFILE_SETTINGS", "PROVIDER_SETTINGS",
           "SCHEMA_VERSION", "Budget", "ClientToken", "Conversation", "Handoff", "HandoffSummary", "Message",
           "Standing", "Store", "StoredAttachment", "StoredKey", "UsageRow", "bucket", "bucket_sql", "data_dir",
           "file_mode", "now"]
