"""Deleting parties, opportunities and kases, and what `GET /{entity}/deleted` reports.

Deleting a party deletes its opportunities and kases first, so each of those is recorded and
its own tags, values, tracks and additional parties go too. Contacts, tasks and entries follow
their record through foreign keys.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from . import clock
from .rows import require

RESOURCES = {"parties": "party", "opportunities": "opportunity", "kases": "kase"}


def delete_record(conn: sqlite3.Connection, entity: str, record_id: int) -> None:
    """Delete one record and everything that belongs to it; 404 when it does not exist."""
    require(conn, entity, record_id, RESOURCES[entity])
    now = clock.utc_now()
    if entity == "parties":
        for table in ("opportunities", "kases"):
            for row in conn.execute(f"SELECT id FROM {table} WHERE party_id = ?", (record_id,)).fetchall():
                delete_record(conn, table, row["id"])
        # Capsule keeps the people of a deleted organisation; they just lose the link.
        conn.execute("UPDATE parties SET organisation_id = NULL, updated_at = ? WHERE organisation_id = ?",
                     (now, record_id))
    for table in ("tag_links", "field_values", "tracks", "related_parties"):
        conn.execute(f"DELETE FROM {table} WHERE entity = ? AND record_id = ?", (entity, record_id))
    conn.execute(f"DELETE FROM {entity} WHERE id = ?", (record_id,))
    conn.execute("INSERT OR REPLACE INTO deletions (entity, record_id, deleted_at) VALUES (?, ?, ?)",
                 (entity, record_id, now))


def deleted_since(conn: sqlite3.Connection, entity: str, since: str, limit: int, offset: int
                  ) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT record_id, deleted_at FROM deletions WHERE entity = ? AND deleted_at >= ?"
                        " ORDER BY deleted_at, record_id LIMIT ? OFFSET ?", (entity, since, limit, offset))
    return [{"id": row["record_id"], "deletedAt": row["deleted_at"]} for row in rows]
