"""Conversations and their messages."""

from __future__ import annotations

from typing import NamedTuple

from .db import now


class Message(NamedTuple):
    role: str
    content: str
    provider: str | None = None
    model: str | None = None
    created_at: str | None = None


class Conversation(NamedTuple):
    id: int
    profile: str
    system: str | None
    created_at: str
    updated_at: str
    messages: list[Message]


# Most recently updated first: `history list`'s top row is what `run -c` continues. Within
# one second (updated_at's resolution) the latest message decides. Each conversation's
# message count and newest message id are kept by triggers (migration 12), and the index
# conversations_newest is in this order, so neither reads every conversation.
NEWEST_FIRST = "updated_at DESC, last_message_id DESC, id DESC"


class ConversationTables:
    def conversations(self, profile: str, limit: int | None = None) -> list[dict]:
        sql = ("SELECT c.id, c.created_at, c.updated_at, c.message_count, "
               "(SELECT content FROM messages WHERE conversation_id = c.id AND role = 'user' "
               " ORDER BY id LIMIT 1), "
               "(SELECT model FROM messages WHERE conversation_id = c.id AND role = 'assistant' "
               " ORDER BY id DESC LIMIT 1) "
               "FROM conversations c WHERE c.profile = ? ORDER BY " + NEWEST_FIRST)
        rows = self.conn.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), (profile,))
        return [{"id": r[0], "created_at": r[1], "updated_at": r[2], "messages": r[3],
                 "first_prompt": r[4], "model": r[5]} for r in rows]

    def conversation(self, profile: str, cid: int) -> Conversation | None:
        row = self.conn.execute("SELECT id, profile, system, created_at, updated_at FROM "
                                "conversations WHERE profile = ? AND id = ?", (profile, cid)).fetchone()
        if row is None:
            return None
        messages = [Message(*m) for m in self.conn.execute(
            "SELECT role, content, provider, model, created_at FROM messages "
            "WHERE conversation_id = ? ORDER BY id", (cid,))]
        return Conversation(*row, messages=messages)

    def latest_conversation_id(self, profile: str) -> int | None:
        row = self.conn.execute("SELECT id FROM conversations WHERE profile = ? ORDER BY "
                                + NEWEST_FIRST + " LIMIT 1", (profile,)).fetchone()
        return row[0] if row else None

    def append_exchange(self, profile: str, cid: int | None, system: str | None,
                         new: list[Message]) -> int:
        """Add messages to a conversation (made if cid is None) in one transaction."""
        stamp = now()
        with self.transaction() as conn:
            if cid is None:
                cid = conn.execute("INSERT INTO conversations (profile, system, created_at, "
                                   "updated_at) VALUES (?, ?, ?, ?)",
                                   (profile, system, stamp, stamp)).lastrowid
            else:
                conn.execute("UPDATE conversations SET system = ?, updated_at = ? WHERE id = ?",
                             (system, stamp, cid))
            conn.executemany("INSERT INTO messages (conversation_id, role, content, provider, model, "
                             "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                             [(cid, m.role, m.content, m.provider, m.model, stamp) for m in new])
        return cid

    def delete_conversations(self, profile: str, cid: int | None = None) -> int:
        with self.transaction() as conn:
            if cid is None:
                cur = conn.execute("DELETE FROM conversations WHERE profile = ?", (profile,))
            else:
                cur = conn.execute("DELETE FROM conversations WHERE profile = ? AND id = ?",
                                   (profile, cid))
        self.wipe()
        return cur.rowcount

