"""Small SQL helpers for the store's thread: insert a dict as a row, update changed columns."""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from .errors import not_found


def marks(count: int) -> str:
    return ", ".join("?" * count)


def insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> int:
    cursor = conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks(len(row))})",
                          tuple(row.values()))
    return int(cursor.lastrowid)


def update(conn: sqlite3.Connection, table: str, record_id: int, changes: dict[str, Any]) -> None:
    if changes:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*changes.values(), record_id))


def changed_columns(current: sqlite3.Row, changes: dict[str, Any]) -> dict[str, Any]:
    return {column: value for column, value in changes.items() if current[column] != value}


def by_ids(conn: sqlite3.Connection, sql: str, ids: Iterable[int], *params: Any) -> list[sqlite3.Row]:
    """Rows of `sql`, which ends in `IN ({ids})`, for these ids."""
    ids = list(ids)
    if not ids:
        return []
    return conn.execute(sql.format(ids=marks(len(ids))), (*params, *ids)).fetchall()


def require(conn: sqlite3.Connection, table: str, record_id: int, resource: str) -> sqlite3.Row:
    """The row with that id, or v2's 404 naming the ``resource`` (``party``, ``kase``...)."""
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
    if row is None:
        raise not_found(resource, record_id)
    return row
