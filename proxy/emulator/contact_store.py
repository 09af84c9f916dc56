"""A party's contacts in the database: read them, and apply a write's add/update/delete ops."""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from .contact_model import KINDS, ContactOp, render_contact, website_url
from .errors import field_error
from .rows import by_ids, changed_columns, insert, update


def contacts_for(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    found: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for row in by_ids(conn, "SELECT * FROM contacts WHERE party_id IN ({ids}) ORDER BY id", ids):
        lists = found.setdefault(row["party_id"], {kind: [] for kind in KINDS})
        lists[row["kind"]].append(render_contact(row["kind"], row))
    return found


def resolve(conn: sqlite3.Connection, party_id: int | None, ops: list[ContactOp], resource: str,
            errors: list[dict[str, str]]) -> list[ContactOp]:
    """The ops whose ids are this party's contacts of that kind; the others are errors."""
    valid = []
    for op in ops:
        if op.action != "add":
            row = None if party_id is None else conn.execute(
                "SELECT 1 FROM contacts WHERE id = ? AND party_id = ? AND kind = ?",
                (op.contact_id, party_id, op.kind)).fetchone()
            if row is None:
                errors.append(field_error(resource, f"{op.kind}[{op.index}].id",
                                          f"{op.contact_id} is not the id of one of this party's {op.kind}"))
                continue
        valid.append(op)
    return valid


def add(conn: sqlite3.Connection, party_id: int, kind: str, changes: dict[str, Any]) -> None:
    row = {"party_id": party_id, "kind": kind, **changes}
    if kind == "websites":
        row["url"] = website_url(changes.get("service"), changes.get("address"))
    insert(conn, "contacts", row)


def apply(conn: sqlite3.Connection, party_id: int, ops: list[ContactOp]) -> bool:
    changed = False
    for op in ops:
        if op.action == "add":
            add(conn, party_id, op.kind, op.changes)
            changed = True
        elif op.action == "delete":
            changed |= conn.execute("DELETE FROM contacts WHERE id = ?", (op.contact_id,)).rowcount > 0
        else:
            current = conn.execute("SELECT * FROM contacts WHERE id = ?", (op.contact_id,)).fetchone()
            if current is None:  # deleted earlier in the same write
                continue
            changes = changed_columns(current, op.changes)
            if op.kind == "websites" and changes:
                changes["url"] = website_url(changes.get("service", current["service"]),
                                             changes.get("address", current["address"]))
            update(conn, "contacts", op.contact_id, changes)
            changed |= bool(changes)
    return changed
