"""The records tasks point at (users, categories, parties, opportunities, kases) and the site.

Run on the store's thread. Each render gives the fields a v2 client reads, and all the fields
the nested forms inside a task need.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .clock import utc_now
from .errors import ValidationFailed, field_error, not_found
from .store import read_meta
from .task_store import ORGANISATION_PICTURE, PERSON_PICTURE, nested_party


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


# --- parties ---

def render_party(row: sqlite3.Row) -> dict[str, Any]:
    party: dict[str, Any] = {"id": row["id"], "type": row["type"]}
    if row["type"] == "person":
        party |= {"title": None, "firstName": row["first_name"], "lastName": row["last_name"],
                  "jobTitle": None, "organisation": None, "pictureURL": PERSON_PICTURE}
    else:
        party |= {"name": row["name"], "pictureURL": ORGANISATION_PICTURE}
    return party | {"about": None, "createdAt": row["created_at"], "updatedAt": row["updated_at"],
                    "lastContactedAt": None, "owner": None, "team": None,
                    "emailAddresses": [], "phoneNumbers": [], "addresses": [], "websites": []}


def list_parties(conn: sqlite3.Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM parties ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
    return [render_party(row) for row in rows]


def get_party(conn: sqlite3.Connection, party_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM parties WHERE id = ?", (party_id,)).fetchone()
    if row is None:
        raise not_found("party", party_id)
    return render_party(row)


def create_party(conn: sqlite3.Connection, kind: str, first: str | None, last: str | None,
                 name: str | None) -> dict[str, Any]:
    now = utc_now()
    cursor = conn.execute(
        "INSERT INTO parties (type, first_name, last_name, name, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)", (kind, first, last, name, now, now))
    return get_party(conn, cursor.lastrowid)


# --- opportunities and kases: a name and the party they belong to ---

_PARENT_SELECT = """
SELECT x.*, p.type AS party_type, p.first_name AS party_first_name,
       p.last_name AS party_last_name, p.name AS party_name
FROM {table} x JOIN parties p ON p.id = x.party_id
"""


def _render_parent(table: str, row: sqlite3.Row) -> dict[str, Any]:
    record = {"id": row["id"], "name": row["name"], "description": None,
              "party": nested_party(row["party_id"], row["party_type"], row["party_first_name"],
                                    row["party_last_name"], row["party_name"])}
    if table == "opportunities":
        record |= {"value": None, "milestone": None, "probability": None}
    else:
        record |= {"status": "OPEN"}
    return record | {"closedOn": None, "createdAt": row["created_at"], "updatedAt": row["updated_at"]}


def list_parents(conn: sqlite3.Connection, table: str, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = conn.execute(_PARENT_SELECT.format(table=table) + " ORDER BY x.id LIMIT ? OFFSET ?",
                        (limit, offset))
    return [_render_parent(table, row) for row in rows]


def get_parent(conn: sqlite3.Connection, table: str, record_id: int) -> dict[str, Any]:
    row = conn.execute(_PARENT_SELECT.format(table=table) + " WHERE x.id = ?", (record_id,)).fetchone()
    if row is None:
        raise not_found("opportunity" if table == "opportunities" else "kase", record_id)
    return _render_parent(table, row)


def create_parent(conn: sqlite3.Connection, table: str, resource: str, name: str, party_id: int
                  ) -> dict[str, Any]:
    if conn.execute("SELECT 1 FROM parties WHERE id = ?", (party_id,)).fetchone() is None:
        raise ValidationFailed([field_error(resource, "party", f"party {party_id} does not exist")])
    now = utc_now()
    cursor = conn.execute(
        f"INSERT INTO {table} (name, party_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (name, party_id, now, now))
    return get_parent(conn, table, cursor.lastrowid)


def users_by_token(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Users never change while the emulator runs, so auth reads them from memory."""
    return {row["token"]: render_user(row) for row in conn.execute("SELECT * FROM users")}
