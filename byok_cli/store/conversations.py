"""Conversations and their messages."""

from __future__ import annotations

from ..records import tuple_record
from .db import now


@tuple_record
class Message:
    role: str
    content: str
    provider: str | None = None
    model: str | None = None
    created_at: str | None = None
    # a user turn's attachments: to store, objects with digest, media_type, name and data
    # (wire.attachments.Attachment); read back, StoredAttachment
    attachments: tuple = ()


@tuple_record
class StoredAttachment:
    digest: str
    media_type: str
    name: str
    data: bytes | None  # None: not kept (the store's bound on attachments was reached)


# The most attachment bytes one database keeps, all conversations together. Past it, a new
# attachment's bytes are not kept (its name and digest are): `-c` then says it is missing.
MAX_KEPT_ATTACHMENTS = 512 * 1024 * 1024


@tuple_record
class Conversation:
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
    # the names of attachments whose bytes the last append_exchange could not keep
    unkept_attachments: list[str] = []

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
        rows = self.conn.execute(
            "SELECT id, role, content, provider, model, created_at FROM messages "
            "WHERE conversation_id = ? ORDER BY id", (cid,)).fetchall()
        attached: dict[int, list[StoredAttachment]] = {}
        for mid, digest, media_type, name, data in self.conn.execute(
                "SELECT ma.message_id, ma.digest, a.media_type, ma.name, a.data "
                "FROM message_attachments ma JOIN attachments a ON a.digest = ma.digest "
                "JOIN messages m ON m.id = ma.message_id WHERE m.conversation_id = ? "
                "ORDER BY ma.message_id, ma.position", (cid,)):
            attached.setdefault(mid, []).append(StoredAttachment(digest, media_type, name,
                                                                 data))
        messages = [Message(*m[1:], attachments=tuple(attached.get(m[0], ())))
                    for m in rows]
        return Conversation(*row, messages=messages)

    def latest_conversation_id(self, profile: str) -> int | None:
        row = self.conn.execute("SELECT id FROM conversations WHERE profile = ? ORDER BY "
                                + NEWEST_FIRST + " LIMIT 1", (profile,)).fetchone()
        return row[0] if row else None

    def append_exchange(self, profile: str, cid: int | None, system: str | None,
                         new: list[Message]) -> int:
        """Add messages to a conversation (made if cid is None) in one transaction, each
        attachment's bytes stored once (see MAX_KEPT_ATTACHMENTS)."""
        stamp = now()
        self.unkept_attachments: list[str] = []
        with self.transaction() as conn:
            if cid is None:
                cid = conn.execute("INSERT INTO conversations (profile, system, created_at, "
                                   "updated_at) VALUES (?, ?, ?, ?)",
                                   (profile, system, stamp, stamp)).lastrowid
            else:
                conn.execute("UPDATE conversations SET system = ?, updated_at = ? WHERE id = ?",
                             (system, stamp, cid))
            for m in new:
                mid = conn.execute("INSERT INTO messages (conversation_id, role, content, "
                                   "provider, model, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                                   (cid, m.role, m.content, m.provider, m.model, stamp)).lastrowid
                for position, a in enumerate(m.attachments):
                    self._keep_attachment(conn, a, stamp)
                    conn.execute("INSERT INTO message_attachments (message_id, position, "
                                 "digest, name) VALUES (?, ?, ?, ?)",
                                 (mid, position, a.digest, a.name[:200]))
        return cid

    def _keep_attachment(self, conn, a, stamp: str) -> None:
        row = conn.execute("SELECT data IS NOT NULL FROM attachments WHERE digest = ?",
                           (a.digest,)).fetchone()
        if row is not None and row[0]:
            return  # stored once, however many messages carry it
        kept = conn.execute("SELECT TOTAL(size) FROM attachments WHERE data IS NOT NULL"
                            ).fetchone()[0]
        data = a.data if kept + len(a.data) <= MAX_KEPT_ATTACHMENTS else None
        if data is None:
            self.unkept_attachments.append(a.name)
        conn.execute("INSERT INTO attachments (digest, media_type, size, data, created_at) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) DO UPDATE SET "
                     "data = excluded.data", (a.digest, a.media_type, len(a.data), data, stamp))

    def delete_conversations(self, profile: str, cid: int | None = None) -> int:
        with self.transaction() as conn:
            if cid is None:
                cur = conn.execute("DELETE FROM conversations WHERE profile = ?", (profile,))
            else:
                cur = conn.execute("DELETE FROM conversations WHERE profile = ? AND id = ?",
                                   (profile, cid))
            count = cur.rowcount
            # the bytes of attachments no message refers to any more go with them
            conn.execute("DELETE FROM attachments WHERE digest NOT IN "
                         "(SELECT digest FROM message_attachments)")
        self.wipe()
        return count

