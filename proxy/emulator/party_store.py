"""Parties (people and organisations) in the database and their v2 JSON shape."""

from __future__ import annotations

import sqlite3
from typing import Any

from . import clock, contact_store, field_store, tag_store
from .contact_model import KINDS
from .errors import ValidationFailed, field_error, not_found
from .nested import ORGANISATION_PICTURE, PERSON_PICTURE, nested_party, nested_user
from .party_model import PartyInput
from .rows import by_ids, changed_columns, insert, require, update

EMBEDS = frozenset({"tags", "fields", "organisation", "missingImportantFields"})

_SELECT = """
SELECT x.*, o.name AS org_name, u.username AS owner_username, u.name AS owner_name
FROM parties x LEFT JOIN parties o ON o.id = x.organisation_id LEFT JOIN users u ON u.id = x.owner_id
"""


def render_many(conn: sqlite3.Connection, ids: list[int], embeds: frozenset[str]) -> list[dict[str, Any]]:
    """Parties in the order of ids (missing ones left out), with what embeds asks for."""
    rows = {row["id"]: row for row in by_ids(conn, _SELECT + " WHERE x.id IN ({ids})", ids)}
    contacts = contact_store.contacts_for(conn, ids)
    tags = tag_store.tags_for(conn, "parties", ids) if "tags" in embeds else {}
    fields = field_store.fields_for(conn, "parties", ids) if "fields" in embeds else {}
    missing = field_store.missing_important(conn, "parties", ids) if "missingImportantFields" in embeds else {}
    organisations: dict[int, dict[str, Any]] = {}
    if "organisation" in embeds:
        org_ids = [row["organisation_id"] for row in rows.values() if row["organisation_id"] is not None]
        organisations = {org["id"]: org for org in render_many(conn, org_ids, frozenset())}
    parties = []
    for party_id in ids:
        row = rows.get(party_id)
        if row is None:
            continue
        party = _render(row, contacts.get(party_id) or {kind: [] for kind in KINDS})
        if row["organisation_id"] in organisations:
            party["organisation"] = organisations[row["organisation_id"]]
        if "tags" in embeds:
            party["tags"] = tags.get(party_id, [])
        if "fields" in embeds:
            party["fields"] = fields.get(party_id, [])
        if "missingImportantFields" in embeds:
            party["missingImportantFields"] = missing.get(party_id, False)
        parties.append(party)
    return parties


def _render(row: sqlite3.Row, contacts: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    party: dict[str, Any] = {"id": row["id"], "type": row["type"]}
    if row["type"] == "person":
        party |= {"title": row["title"], "firstName": row["first_name"], "lastName": row["last_name"],
                  "jobTitle": row["job_title"],
                  "organisation": nested_party(row["organisation_id"], "organisation", None, None, row["org_name"]),
                  "pictureURL": PERSON_PICTURE}
    else:
        party |= {"name": row["name"], "pictureURL": ORGANISATION_PICTURE}
    return party | {"about": row["about"], "createdAt": row["created_at"], "updatedAt": row["updated_at"],
                    "lastContactedAt": None,
                    "owner": nested_user(row["owner_id"], row["owner_username"], row["owner_name"]),
                    "team": None, **contacts}


def party_type(conn: sqlite3.Connection, party_id: int) -> str:
    row = conn.execute("SELECT type FROM parties WHERE id = ?", (party_id,)).fetchone()
    if row is None:
        raise not_found("party", party_id)
    return str(row["type"])


def _check_owner(conn: sqlite3.Connection, columns: dict[str, Any], errors: list[dict[str, str]]) -> None:
    owner = columns.get("owner_id")
    if owner is not None and conn.execute("SELECT 1 FROM users WHERE id = ?", (owner,)).fetchone() is None:
        errors.append(field_error("party", "owner", f"owner {owner} does not exist"))


def _name_taken(conn: sqlite3.Connection, name: str, party_id: int | None) -> bool:
    # Real v2 refuses a second organisation of the same name (Capsule staff, API group).
    return conn.execute("SELECT 1 FROM parties WHERE type = 'organisation' AND name = ? AND id IS NOT ?",
                        (name, party_id)).fetchone() is not None


def _check_organisation(conn: sqlite3.Connection, link: tuple[str, Any] | None,
                        errors: list[dict[str, str]]) -> None:
    if link is not None and link[0] == "id":
        row = conn.execute("SELECT type FROM parties WHERE id = ?", (link[1],)).fetchone()
        if row is None or row["type"] != "organisation":
            errors.append(field_error("party", "organisation", f"party {link[1]} is not an organisation"))


def _organisation_id(conn: sqlite3.Connection, link: tuple[str, Any], user_id: int, now: str) -> int | None:
    """The organisation a person links to: by id, by exact name (created when missing), or none."""
    kind, value = link
    if kind != "name":
        return value
    row = conn.execute("SELECT id FROM parties WHERE type = 'organisation' AND name = ? ORDER BY id",
                       (value,)).fetchone()
    if row is not None:
        return int(row["id"])
    return insert(conn, "parties", {"type": "organisation", "name": value, "owner_id": user_id,
                                    "created_at": now, "updated_at": now})


def _resolve_subrecords(conn: sqlite3.Connection, party_id: int | None, party: PartyInput,
                        errors: list[dict[str, str]]) -> tuple[list, list, list]:
    return (contact_store.resolve(conn, party_id, party.contacts, "party", errors),
            tag_store.resolve(conn, "parties", party_id, party.tags, "party", errors),
            field_store.resolve(conn, "parties", party_id, party.fields, "party", errors))


def _apply_subrecords(conn: sqlite3.Connection, party_id: int, resolved: tuple[list, list, list]) -> bool:
    contacts, tags, fields = resolved
    changed = contact_store.apply(conn, party_id, contacts)
    changed |= tag_store.apply(conn, "parties", party_id, tags)
    return field_store.apply(conn, "parties", party_id, fields) | changed


def create_party(conn: sqlite3.Connection, party: PartyInput, user_id: int, embeds: frozenset[str]
                 ) -> dict[str, Any]:
    errors = list(party.errors)
    # A party created through the API belongs to the token's user unless it names an owner.
    columns = {"owner_id": user_id} | party.columns
    _check_owner(conn, columns, errors)
    if party.kind == "organisation" and columns.get("name") and _name_taken(conn, columns["name"], None):
        errors.append(field_error("party", "name", "name has already been taken"))
    _check_organisation(conn, party.organisation, errors)
    resolved = _resolve_subrecords(conn, None, party, errors)
    if errors:
        raise ValidationFailed(errors)
    now = clock.utc_now()
    if party.organisation is not None:
        columns["organisation_id"] = _organisation_id(conn, party.organisation, user_id, now)
    party_id = insert(conn, "parties", {"type": party.kind, **columns, "created_at": now, "updated_at": now})
    _apply_subrecords(conn, party_id, resolved)
    return render_many(conn, [party_id], embeds)[0]


def update_party(conn: sqlite3.Connection, party_id: int, party: PartyInput, user_id: int,
                 embeds: frozenset[str]) -> dict[str, Any]:
    current = require(conn, "parties", party_id, "party")
    errors = list(party.errors)
    columns = dict(party.columns)
    _check_owner(conn, columns, errors)
    if party.kind == "person":
        names = [columns.get(c, current[c]) for c in ("first_name", "last_name")]
        if not any((name or "").strip() for name in names):
            errors.append(field_error("party", "firstName", "a person needs a firstName or lastName"))
    elif "name" in columns and _name_taken(conn, columns["name"], party_id):
        errors.append(field_error("party", "name", "name has already been taken"))
    _check_organisation(conn, party.organisation, errors)
    resolved = _resolve_subrecords(conn, party_id, party, errors)
    if errors:
        raise ValidationFailed(errors)
    now = clock.utc_now()
    if party.organisation is not None:
        columns["organisation_id"] = _organisation_id(conn, party.organisation, user_id, now)
    changed = changed_columns(current, columns)
    if _apply_subrecords(conn, party_id, resolved) or changed:
        update(conn, "parties", party_id, changed | {"updated_at": now})
    return render_many(conn, [party_id], embeds)[0]
