"""SQLite storage: one connection to one file, its migrations, and one module per concern.

:class:`Store` is the database (``db``) with the queries of each concern mixed in: keys and
master keys (``keys``), the person's own providers (``providers``), profiles and settings
(``settings``), conversations and their attachments (``conversations``), the usage log (``usage``), budgets
(``budgets``), the gateway's client tokens (``tokens``) and the log of keys handed to other programs (``handoffs``).
"""

from __future__ import annotations

from .budgets import Budget, BudgetTables, Standing
from .conversations import Conversation, ConversationTables, Message, StoredAttachment
from .db import Database, now
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .files import DB_NAME, data_dir, file_mode
from .handoffs import Handoff, HandoffSummary, HandoffTables
from .keys import KeyTables, StoredKey
from .providers import ProviderTables
from .tokens import ClientToken, TokenTables
from .settings import PROFILE_SETTINGS, PROVIDER_SETTINGS, SettingsTables
from .usage import DAY, UsageRow, UsageTables, bucket, bucket_sql


class Store(Database, SettingsTables, KeyTables, ProviderTables, ConversationTables,
            UsageTables, BudgetTables, HandoffTables, TokenTables):
    """The byok database. Opening it creates or migrates it; never alters a newer one."""


__all__ = ["DAY", "DB_NAME", "MIGRATIONS", "PROFILE_SETTINGS", "PROVIDER_SETTINGS",
           "SCHEMA_VERSION", "Budget", "ClientToken", "Conversation", "Handoff", "HandoffSummary", "Message",
           "Standing", "Store", "StoredAttachment", "StoredKey", "UsageRow", "bucket", "bucket_sql", "data_dir",
           "file_mode", "now"]
