"""Tag definitions (one entity type each, ids global) and the tags attached to records."""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from .errors import ValidationFailed, field_error, not_found
from .rows import by_ids, insert
from .subrecords import TagOp


def render_tag(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "dataTag": bool(row["data_tag"])}


def list_definitions(conn: sqlite3.Connection, entity: str, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM tags WHERE entity = ? ORDER BY id LIMIT ? OFFSET ?",
                        (entity, limit, offset))
    return [render_tag(row) for row in rows]


def get_definition(conn: sqlite3.Connection, entity: str, tag_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM tags WHERE entity = ? AND id = ?", (entity, tag_id)).fetchone()
    if row is None:
        raise not_found("tag", tag_id)
    return render_tag(row)


def _find(conn: sqlite3.Connection, entity: str, name: str) -> int | None:
    row = conn.execute("SELECT id FROM tags WHERE entity = ? AND name_key = ?",
                       (entity, name.casefold())).fetchone()
    return None if row is None else row["id"]


def define(conn: sqlite3.Connection, entity: str, name: str, description: str | None = None,
           data_tag: bool = False) -> int:
    return insert(conn, "tags", {"entity": entity, "name": name, "name_key": name.casefold(),
                                 "description": description, "data_tag": int(data_tag)})


def create_definition(conn: sqlite3.Connection, entity: str, name: str, description: str | None,
                      data_tag: bool) -> dict[str, Any]:
    if _find(conn, entity, name) is not None:
        raise ValidationFailed([field_error("tag", "name", "name has already been taken")])
    return get_definition(conn, entity, define(conn, entity, name, description, data_tag))


def delete_definition(conn: sqlite3.Connection, entity: str, tag_id: int) -> None:
    """Also detaches it everywhere and, for a datatag, removes its custom fields and their values."""
    if conn.execute("DELETE FROM tags WHERE entity = ? AND id = ?", (entity, tag_id)).rowcount == 0:
        raise not_found("tag", tag_id)


def find_or_define(conn: sqlite3.Connection, entity: str, name: str) -> int:
    """The definition matching name case-insensitively, created when there is none."""
    found = _find(conn, entity, name)
    return found if found is not None else define(conn, entity, name)


def tags_for(conn: sqlite3.Connection, entity: str, ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    rows = by_ids(conn, "SELECT l.record_id, t.* FROM tag_links l JOIN tags t ON t.id = l.tag_id"
                        " WHERE l.entity = ? AND l.record_id IN ({ids}) ORDER BY t.id", ids, entity)
    for row in rows:
        found.setdefault(row["record_id"], []).append(render_tag(row))
    return found


def resolve(conn: sqlite3.Connection, entity: str, record_id: int | None, ops: list[TagOp],
            resource: str, errors: list[dict[str, str]]) -> list[TagOp]:
    """The ops that are valid for this record; problems go into errors."""
    valid = []
    for op in ops:
        where = f"tags[{op.index}]"
        if op.action == "name":
            valid.append(op)
            continue
        exists = conn.execute("SELECT 1 FROM tags WHERE entity = ? AND id = ?", (entity, op.tag_id)).fetchone()
        if exists is None:
            errors.append(field_error(resource, f"{where}.id", f"tag {op.tag_id} is not a {resource} tag"))
        elif op.action == "delete" and (record_id is None or not _attached(conn, entity, record_id, op.tag_id)):
            errors.append(field_error(resource, f"{where}.id", "tag not found to delete"))
        else:
            valid.append(op)
    return valid


def _attached(conn: sqlite3.Connection, entity: str, record_id: int, tag_id: int) -> bool:
    return conn.execute("SELECT 1 FROM tag_links WHERE entity = ? AND record_id = ? AND tag_id = ?",
                        (entity, record_id, tag_id)).fetchone() is not None


def apply(conn: sqlite3.Connection, entity: str, record_id: int, ops: list[TagOp]) -> bool:
    """Attach and detach; True when the record's tags changed."""
    changed = False
    for op in ops:
        if op.action == "delete":
            changed |= conn.execute("DELETE FROM tag_links WHERE entity = ? AND record_id = ? AND tag_id = ?",
                                    (entity, record_id, op.tag_id)).rowcount > 0
            continue
        tag_id = op.tag_id if op.action == "id" else find_or_define(conn, entity, op.name or "")
        changed |= conn.execute("INSERT OR IGNORE INTO tag_links (tag_id, entity, record_id) VALUES (?, ?, ?)",
                                (tag_id, entity, record_id)).rowcount > 0
    return changed
