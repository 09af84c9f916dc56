"""Users, the site and task categories, run on the store's thread."""

from __future__ import annotations

import sqlite3
from typing import Any

from .errors import ValidationFailed, field_error, not_found
from .store import read_meta


# --- users and site ---

def render_user(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "username": row["username"], "name": row["name"],
            "timezone": row["timezone"], "locale": "en_GB", "currency": "GBP",
            "status": "ACTIVE", "lastLoginAt": None, "party": None}


def list_users(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [render_user(row) for row in conn.execute("SELECT * FROM users ORDER BY id")]


def site(conn: sqlite3.Connection) -> dict[str, Any]:
    meta = read_meta(conn)
    subdomain = meta["subdomain"]
    return {"url": f"https://{subdomain}.capsulecrm.com", "subdomain": subdomain,
            "name": meta["site_name"]}


def requests_per_hour(conn: sqlite3.Connection) -> int:
    return int(read_meta(conn)["requests_per_hour"])


# --- categories ---

def render_category(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "colour": row["colour"]}


def list_categories(conn: sqlite3.Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM categories ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
    return [render_category(row) for row in rows]


def get_category(conn: sqlite3.Connection, category_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM categories WHERE id = ?", (category_id,)).fetchone()
    if row is None:
        raise not_found("category", category_id)
    return render_category(row)


def create_category(conn: sqlite3.Connection, name: str, colour: str) -> dict[str, Any]:
    if conn.execute("SELECT 1 FROM categories WHERE name = ?", (name,)).fetchone():
        raise ValidationFailed([field_error("category", "name", "name has already been taken")])
    cursor = conn.execute("INSERT INTO categories (name, colour) VALUES (?, ?)", (name, colour))
    return get_category(conn, cursor.lastrowid)


def users_by_token(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Users never change while the emulator runs, so auth reads them from memory."""
    return {row["token"]: render_user(row) for row in conn.execute("SELECT * FROM users")}
