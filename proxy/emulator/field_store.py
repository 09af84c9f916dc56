"""Custom field definitions (per entity type, optionally under a datatag) and record values."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from . import field_values
from .errors import field_error, not_found
from .rows import by_ids
from .subrecords import FieldOp

_DEFINITIONS = """
SELECT d.*, t.name AS tag_name, t.data_tag AS tag_data_tag
FROM field_definitions d LEFT JOIN tags t ON t.id = d.tag_id
"""


def render_definition(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "type": row["type"], "options": json.loads(row["options"]) if row["options"] else None,
            "tag": (None if row["tag_id"] is None else
                    {"id": row["tag_id"], "name": row["tag_name"], "dataTag": bool(row["tag_data_tag"])}),
            "important": bool(row["important"]), "displayOrder": row["display_order"],
            "captureRule": None}


def list_definitions(conn: sqlite3.Connection, entity: str, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = conn.execute(f"{_DEFINITIONS} WHERE d.entity = ? ORDER BY d.display_order, d.id LIMIT ? OFFSET ?",
                        (entity, limit, offset))
    return [render_definition(row) for row in rows]


def get_definition(conn: sqlite3.Connection, entity: str, definition_id: int) -> dict[str, Any]:
    row = conn.execute(f"{_DEFINITIONS} WHERE d.entity = ? AND d.id = ?", (entity, definition_id)).fetchone()
    if row is None:
        raise not_found("field definition", definition_id)
    return render_definition(row)


def fields_for(conn: sqlite3.Connection, entity: str, ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    rows = by_ids(conn, "SELECT v.*, d.name, d.type, d.tag_id FROM field_values v"
                        " JOIN field_definitions d ON d.id = v.definition_id"
                        " WHERE v.entity = ? AND v.record_id IN ({ids}) ORDER BY d.display_order, d.id",
                  ids, entity)
    for row in rows:
        found.setdefault(row["record_id"], []).append(
            {"id": row["id"], "definition": {"id": row["definition_id"], "name": row["name"]},
             "value": field_values.render(row["type"], row["value"]), "tagId": row["tag_id"]})
    return found


def missing_important(conn: sqlite3.Connection, entity: str, ids: Iterable[int]) -> dict[int, bool]:
    """Whether an important field that applies to the record (no datatag, or its datatag is
    attached) has no value."""
    rows = by_ids(conn, f"""
        SELECT r.id AS record_id, EXISTS (
            SELECT 1 FROM field_definitions d
            WHERE d.entity = ? AND d.important = 1
              AND (d.tag_id IS NULL OR EXISTS (SELECT 1 FROM tag_links l WHERE l.tag_id = d.tag_id
                                               AND l.entity = d.entity AND l.record_id = r.id))
              AND NOT EXISTS (SELECT 1 FROM field_values v WHERE v.definition_id = d.id
                              AND v.entity = d.entity AND v.record_id = r.id)) AS missing
        FROM {entity} r WHERE r.id IN ({{ids}})""", ids, entity)
    return {row["record_id"]: bool(row["missing"]) for row in rows}


def _definition(conn: sqlite3.Connection, entity: str, op: FieldOp) -> sqlite3.Row | str:
    """The definition an op names, or why there is none."""
    if op.definition_id is not None:
        row = conn.execute("SELECT * FROM field_definitions WHERE entity = ? AND id = ?",
                           (entity, op.definition_id)).fetchone()
        return row if row is not None else f"no custom field definition {op.definition_id} for {entity}"
    rows = conn.execute("SELECT * FROM field_definitions WHERE entity = ? AND fold(name) = fold(?)",
                        (entity, op.definition_name)).fetchall()
    if len(rows) == 1:
        return rows[0]
    if rows:
        return f"{len(rows)} custom fields of {entity} are named {op.definition_name!r}; give the definition id"
    return f"no custom field named {op.definition_name!r} for {entity}"


def _value_row(conn: sqlite3.Connection, entity: str, record_id: int | None, value_id: int | None
               ) -> sqlite3.Row | None:
    if record_id is None:
        return None
    # The value's id, and its definition's row: what resolve() reads of both.
    return conn.execute("SELECT v.id AS value_id, d.* FROM field_values v"
                        " JOIN field_definitions d ON d.id = v.definition_id"
                        " WHERE v.id = ? AND v.entity = ? AND v.record_id = ?",
                        (value_id, entity, record_id)).fetchone()


def resolve(conn: sqlite3.Connection, entity: str, record_id: int | None, ops: list[FieldOp],
            resource: str, errors: list[dict[str, str]]) -> list[tuple[str, int, str | None]]:
    """("set", definition id, stored text), ("clear", definition id, None) or ("delete", value id, None)."""
    resolved: list[tuple[str, int, str | None]] = []
    for op in ops:
        where = f"fields[{op.index}]"
        if op.action in ("delete", "set_value"):
            row = _value_row(conn, entity, record_id, op.value_id)
            if row is None:
                errors.append(field_error(resource, f"{where}.id",
                                          f"custom field value {op.value_id} is not one of this {resource}'s"))
                continue
            if op.action == "delete":
                resolved.append(("delete", row["value_id"], None))
                continue
            definition: sqlite3.Row | str = row
        else:
            definition = _definition(conn, entity, op)
        if isinstance(definition, str):
            errors.append(field_error(resource, f"{where}.definition", definition))
            continue
        if op.value is None:
            if definition["type"] == "boolean":
                errors.append(field_error(resource, f"{where}.value",
                                          f"{definition['name']}: a boolean field cannot be cleared with null"))
            else:
                resolved.append(("clear", definition["id"], None))
            continue
        options = json.loads(definition["options"]) if definition["options"] else None
        try:
            resolved.append(("set", definition["id"], field_values.normalize(definition["type"], options, op.value)))
        except ValueError as exc:
            errors.append(field_error(resource, f"{where}.value",
                                      f"{definition['name']}: a {definition['type']} value {exc}, got {op.value!r}"))
    return resolved


def apply(conn: sqlite3.Connection, entity: str, record_id: int,
          resolved: list[tuple[str, int, str | None]]) -> bool:
    changed = False
    for action, ident, text in resolved:
        if action == "delete":
            changed |= conn.execute("DELETE FROM field_values WHERE id = ?", (ident,)).rowcount > 0
        elif action == "clear":
            changed |= conn.execute("DELETE FROM field_values WHERE entity = ? AND record_id = ?"
                                    " AND definition_id = ?", (entity, record_id, ident)).rowcount > 0
        else:
            current = conn.execute("SELECT value FROM field_values WHERE entity = ? AND record_id = ?"
                                   " AND definition_id = ?", (entity, record_id, ident)).fetchone()
            if current is None or current["value"] != text:
                # An existing value keeps its id when replaced, as it does in Capsule's UI.
                conn.execute("INSERT INTO field_values (definition_id, entity, record_id, value)"
                             " VALUES (?, ?, ?, ?) ON CONFLICT (entity, record_id, definition_id)"
                             " DO UPDATE SET value = excluded.value", (ident, entity, record_id, text))
                changed = True
    return changed
