"""Entries (a record's history): notes, seeded emails, and the entries completed tasks leave."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from . import clock
from .errors import ValidationFailed, field_error, not_found
from .nested import PARTY_COLUMNS, nested_named, nested_party_from, nested_user
from .rows import changed_columns, insert, require, update

PARENTS = {"party": "parties", "opportunity": "opportunities", "kase": "kases"}
# Capsule's built-in activity types for the three kinds of entry.
ACTIVITY_TYPES = {"note": (-1, "Note"), "email": (-2, "Email"), "task": (-4, "Task completed")}

_SELECT = f"""
SELECT e.*, u.username AS creator_username, u.name AS creator_name, {PARTY_COLUMNS},
       o.name AS opportunity_name, k.name AS kase_name
FROM entries e LEFT JOIN users u ON u.id = e.creator_id
LEFT JOIN parties p ON p.id = e.party_id
LEFT JOIN opportunities o ON o.id = e.opportunity_id
LEFT JOIN kases k ON k.id = e.kase_id
"""


def render_entry(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "type": row["type"], "content": row["content"], "subject": row["subject"],
            "activityType": {"id": row["activity_type_id"], "name": row["activity_type_name"]},
            "entryAt": row["entry_at"],
            "creator": nested_user(row["creator_id"], row["creator_username"], row["creator_name"]),
            "party": nested_party_from(row),
            "opportunity": nested_named(row["opportunity_id"], row["opportunity_name"]),
            "kase": nested_named(row["kase_id"], row["kase_name"]),
            "participants": json.loads(row["participants"]), "attachments": [],
            "createdAt": row["created_at"], "updatedAt": row["updated_at"]}


def list_for(conn: sqlite3.Connection, parent: str, parent_id: int, limit: int, offset: int
             ) -> list[dict[str, Any]]:
    """Newest entryAt first; 404 when the parent does not exist."""
    require(conn, PARENTS[parent], parent_id, parent)
    rows = conn.execute(f"{_SELECT} WHERE e.{parent}_id = ? ORDER BY e.entry_at DESC, e.id DESC LIMIT ? OFFSET ?",
                        (parent_id, limit, offset))
    return [render_entry(row) for row in rows]


def get_entry(conn: sqlite3.Connection, entry_id: int) -> dict[str, Any]:
    row = conn.execute(f"{_SELECT} WHERE e.id = ?", (entry_id,)).fetchone()
    if row is None:
        raise not_found("entry", entry_id)
    return render_entry(row)


def add_entry(conn: sqlite3.Connection, kind: str, content: str, parent: str, parent_id: int, creator_id: int,
              entry_at: str | None = None, subject: str | None = None,
              participants: list[dict[str, Any]] | None = None, ident: int | None = None) -> int:
    now = clock.utc_now()
    activity_id, activity_name = ACTIVITY_TYPES[kind]
    return insert(conn, "entries", {
        **({"id": ident} if ident is not None else {}),    # a seed's entries keep their ids
        "type": kind, "content": content, "subject": subject, "activity_type_id": activity_id,
        "activity_type_name": activity_name, "entry_at": entry_at or now, "creator_id": creator_id,
        f"{parent}_id": parent_id, "participants": json.dumps(participants or []),
        "created_at": now, "updated_at": now})


def create_note(conn: sqlite3.Connection, content: str, parent: str, parent_id: int, entry_at: str | None,
                user_id: int) -> dict[str, Any]:
    if conn.execute(f"SELECT 1 FROM {PARENTS[parent]} WHERE id = ?", (parent_id,)).fetchone() is None:
        raise ValidationFailed([field_error("entry", parent, f"{parent} {parent_id} does not exist")])
    return get_entry(conn, add_entry(conn, "note", content, parent, parent_id, user_id, entry_at))


def update_entry(conn: sqlite3.Connection, entry_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    row = require(conn, "entries", entry_id, "entry")
    if row["type"] == "task":
        raise ValidationFailed([field_error("entry", "type", "only note and email entries can be updated")])
    changed = changed_columns(row, changes)
    if changed:
        update(conn, "entries", entry_id, changed | {"updated_at": clock.utc_now()})
    return get_entry(conn, entry_id)


def delete_entry(conn: sqlite3.Connection, entry_id: int) -> None:
    if conn.execute("DELETE FROM entries WHERE id = ?", (entry_id,)).rowcount == 0:
        raise not_found("entry", entry_id)
