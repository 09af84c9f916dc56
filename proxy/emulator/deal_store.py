"""Opportunities and kases in the database, their v2 JSON shape, and their additional parties.

The two share everything but a few columns: an opportunity moves through milestones (which
set probability, closedOn, lastOpenMilestone and lastStageChangedAt), a kase is OPEN or CLOSED.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable

from . import clock, field_store, party_store, reference_store, tag_store
from .deal_model import DealInput
from .errors import ValidationFailed, field_error
from .field_values import json_number
from .nested import PARTY_COLUMNS, nested_named, nested_party_from, nested_user
from .rows import by_ids, changed_columns, insert, require, update

RESOURCES = {"opportunities": "opportunity", "kases": "kase"}
EMBEDS = {"opportunities": frozenset({"tags", "fields", "party", "milestone", "tracks", "missingImportantFields"}),
          "kases": frozenset({"tags", "fields", "party", "opportunity", "tracks", "missingImportantFields"})}

_SELECT = {
    "opportunities": f"""
        SELECT x.*, {PARTY_COLUMNS}, u.username AS owner_username, u.name AS owner_name,
               m.name AS milestone_name, lm.name AS last_open_name
        FROM opportunities x JOIN parties p ON p.id = x.party_id LEFT JOIN users u ON u.id = x.owner_id
        JOIN milestones m ON m.id = x.milestone_id LEFT JOIN milestones lm ON lm.id = x.last_open_milestone_id""",
    "kases": f"""
        SELECT x.*, {PARTY_COLUMNS}, u.username AS owner_username, u.name AS owner_name,
               o.name AS opportunity_name
        FROM kases x JOIN parties p ON p.id = x.party_id LEFT JOIN users u ON u.id = x.owner_id
        LEFT JOIN opportunities o ON o.id = x.opportunity_id""",
}


def _render_opportunity(row: sqlite3.Row) -> dict[str, Any]:
    value = (None if row["value_amount"] is None else
             {"amount": json_number(row["value_amount"]), "currency": row["value_currency"]})
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "party": nested_party_from(row),
            "owner": nested_user(row["owner_id"], row["owner_username"], row["owner_name"]), "team": None,
            "milestone": nested_named(row["milestone_id"], row["milestone_name"]), "value": value,
            "expectedCloseOn": row["expected_close_on"], "probability": row["probability"],
            "durationBasis": row["duration_basis"], "duration": row["duration"], "closedOn": row["closed_on"],
            "lostReason": None,
            "lastOpenMilestone": nested_named(row["last_open_milestone_id"], row["last_open_name"]),
            "lastStageChangedAt": row["last_stage_changed_at"],
            "createdAt": row["created_at"], "updatedAt": row["updated_at"], "lastContactedAt": None}


def _render_kase(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"], "status": row["status"],
            "party": nested_party_from(row),
            "owner": nested_user(row["owner_id"], row["owner_username"], row["owner_name"]), "team": None,
            "opportunity": nested_named(row["opportunity_id"], row["opportunity_name"]), "stage": None,
            "expectedCloseOn": row["expected_close_on"], "closedOn": row["closed_on"],
            "createdAt": row["created_at"], "updatedAt": row["updated_at"], "lastContactedAt": None}


_RENDER: dict[str, Callable[[sqlite3.Row], dict[str, Any]]] = {
    "opportunities": _render_opportunity, "kases": _render_kase}


def render_many(conn: sqlite3.Connection, entity: str, ids: list[int], embeds: frozenset[str]
                ) -> list[dict[str, Any]]:
    """Records in the order of ids (missing ones left out), with what embeds asks for."""
    rows = {row["id"]: row for row in by_ids(conn, _SELECT[entity] + " WHERE x.id IN ({ids})", ids)}
    records = {record_id: _RENDER[entity](row) for record_id, row in rows.items()}
    extras: dict[str, Callable[[list[int]], dict[int, Any]]] = {
        "tags": lambda found: tag_store.tags_for(conn, entity, found),
        "fields": lambda found: field_store.fields_for(conn, entity, found),
        "tracks": lambda found: reference_store.tracks_for(conn, entity, found),
        "missingImportantFields": lambda found: field_store.missing_important(conn, entity, found)}
    for embed, fetch in extras.items():
        if embed in embeds:
            values = fetch(list(records))
            for record_id, record in records.items():
                record[embed] = values.get(record_id, False if embed == "missingImportantFields" else [])
    # Embedding a link swaps the nested reference for the full record.
    links = {"party": ("party_id", lambda found: party_store.render_many(conn, found, frozenset())),
             "milestone": ("milestone_id", lambda found: list(reference_store.milestones_for(conn, found).values())),
             "opportunity": ("opportunity_id", lambda found: render_many(conn, "opportunities", found, frozenset()))}
    for embed, (column, fetch) in links.items():
        if embed in embeds:
            full = {item["id"]: item for item in fetch([row[column] for row in rows.values() if row[column]])}
            for record_id, record in records.items():
                if rows[record_id][column] in full:
                    record[embed] = full[rows[record_id][column]]
    return [records[record_id] for record_id in ids if record_id in records]


def _check_links(conn: sqlite3.Connection, resource: str, columns: dict[str, Any],
                 errors: list[dict[str, str]]) -> None:
    for column, table, name in (("party_id", "parties", "party"), ("owner_id", "users", "owner"),
                                ("opportunity_id", "opportunities", "opportunity")):
        ref = columns.get(column)
        if ref is not None and conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (ref,)).fetchone() is None:
            errors.append(field_error(resource, name, f"{name} {ref} does not exist"))


def _resolve_subrecords(conn: sqlite3.Connection, entity: str, record_id: int | None, deal: DealInput,
                        errors: list[dict[str, str]]) -> tuple[list, list, list[int]]:
    resource = RESOURCES[entity]
    return (tag_store.resolve(conn, entity, record_id, deal.tags, resource, errors),
            field_store.resolve(conn, entity, record_id, deal.fields, resource, errors),
            reference_store.resolve_tracks(conn, resource, deal.tracks, resource, errors))


def _apply_subrecords(conn: sqlite3.Connection, entity: str, record_id: int,
                      resolved: tuple[list, list, list[int]], now: str) -> bool:
    tags, fields, tracks = resolved
    changed = tag_store.apply(conn, entity, record_id, tags)
    changed |= field_store.apply(conn, entity, record_id, fields)
    reference_store.apply_tracks(conn, entity, record_id, tracks, now)
    return changed


def _milestone(conn: sqlite3.Connection, deal: DealInput, errors: list[dict[str, str]]) -> sqlite3.Row | None:
    if deal.milestone is None:
        return None
    found = reference_store.resolve_milestone(conn, deal.milestone)
    if isinstance(found, str):
        errors.append(field_error("opportunity", "milestone", found))
        return None
    return found


def _check_duration(columns: dict[str, Any], current: sqlite3.Row | None, errors: list[dict[str, str]]) -> None:
    basis = columns.get("duration_basis", current["duration_basis"] if current else "FIXED")
    duration = columns.get("duration", current["duration"] if current else None)
    if basis == "FIXED" and duration is not None:
        errors.append(field_error("opportunity", "duration", "duration must be null when durationBasis is FIXED"))


def _enter_milestone(columns: dict[str, Any], milestone: sqlite3.Row, was_complete: bool, now: str) -> None:
    """What moving to a milestone sets, unless the write set it itself."""
    columns["milestone_id"] = milestone["id"]
    columns["last_stage_changed_at"] = now
    columns.setdefault("probability", milestone["probability"])
    if milestone["complete"]:
        if not was_complete:
            columns.setdefault("closed_on", clock.today())
    else:
        columns["last_open_milestone_id"] = milestone["id"]
        columns.setdefault("closed_on", None)


def create(conn: sqlite3.Connection, entity: str, deal: DealInput, user_id: int, embeds: frozenset[str]
           ) -> dict[str, Any]:
    errors = list(deal.errors)
    if entity == "opportunities":
        # An opportunity belongs to the token's user unless it names an owner; a kase to nobody.
        columns = {"owner_id": user_id, "duration_basis": "FIXED"} | deal.columns
        _check_duration(columns, None, errors)
    else:
        columns = {"status": "OPEN"} | deal.columns
    _check_links(conn, RESOURCES[entity], columns, errors)
    milestone = _milestone(conn, deal, errors)
    resolved = _resolve_subrecords(conn, entity, None, deal, errors)
    if errors:
        raise ValidationFailed(errors)
    now = clock.utc_now()
    if milestone is not None:
        _enter_milestone(columns, milestone, False, now)
    if columns.get("status") == "CLOSED":
        columns.setdefault("closed_on", clock.today())
    record_id = insert(conn, entity, columns | {"created_at": now, "updated_at": now})
    _apply_subrecords(conn, entity, record_id, resolved, now)
    return render_many(conn, entity, [record_id], embeds)[0]


def update_record(conn: sqlite3.Connection, entity: str, record_id: int, deal: DealInput,
                  embeds: frozenset[str]) -> dict[str, Any]:
    current = _require(conn, entity, record_id)
    errors = list(deal.errors)
    columns = dict(deal.columns)
    _check_links(conn, RESOURCES[entity], columns, errors)
    milestone = _milestone(conn, deal, errors)
    if entity == "opportunities":
        _check_duration(columns, current, errors)
    resolved = _resolve_subrecords(conn, entity, record_id, deal, errors)
    if errors:
        raise ValidationFailed(errors)
    now = clock.utc_now()
    if milestone is not None and milestone["id"] != current["milestone_id"]:
        was = reference_store.milestone(conn, current["milestone_id"])
        _enter_milestone(columns, milestone, bool(was and was["complete"]), now)
    if entity == "kases":
        # Real v2 writes a kase's owner and team as a pair: naming one clears the other.
        if deal.names_team and not deal.names_owner:
            columns["owner_id"] = None
        if columns.get("status", current["status"]) != current["status"]:
            columns.setdefault("closed_on", clock.today() if columns["status"] == "CLOSED" else None)
    changed = changed_columns(current, columns)
    if "party_id" in changed:  # the new main party is no longer an additional one
        conn.execute("DELETE FROM related_parties WHERE entity = ? AND record_id = ? AND party_id = ?",
                     (entity, record_id, changed["party_id"]))
    if _apply_subrecords(conn, entity, record_id, resolved, now) or changed:
        update(conn, entity, record_id, changed | {"updated_at": now})
    return render_many(conn, entity, [record_id], embeds)[0]


# --- additional parties ---

def _require(conn: sqlite3.Connection, entity: str, record_id: int) -> sqlite3.Row:
    return require(conn, entity, record_id, RESOURCES[entity])


def related_parties(conn: sqlite3.Connection, entity: str, record_id: int, embeds: frozenset[str],
                    limit: int, offset: int) -> list[dict[str, Any]]:
    _require(conn, entity, record_id)
    ids = [row["party_id"] for row in conn.execute(
        "SELECT party_id FROM related_parties WHERE entity = ? AND record_id = ? ORDER BY party_id LIMIT ? OFFSET ?",
        (entity, record_id, limit, offset))]
    return party_store.render_many(conn, ids, embeds)


def _relation(conn: sqlite3.Connection, entity: str, record_id: int, party_id: int) -> tuple[sqlite3.Row, bool]:
    record = _require(conn, entity, record_id)
    party_store.party_type(conn, party_id)  # 404 when the party does not exist
    related = conn.execute("SELECT 1 FROM related_parties WHERE entity = ? AND record_id = ? AND party_id = ?",
                           (entity, record_id, party_id)).fetchone() is not None
    return record, related


def add_related(conn: sqlite3.Connection, entity: str, record_id: int, party_id: int) -> None:
    record, related = _relation(conn, entity, record_id, party_id)
    resource = RESOURCES[entity]
    if related or record["party_id"] == party_id:
        raise ValidationFailed([field_error(resource, "party", f"party is already related to this {resource}")])
    conn.execute("INSERT INTO related_parties (entity, record_id, party_id) VALUES (?, ?, ?)",
                 (entity, record_id, party_id))
    update(conn, entity, record_id, {"updated_at": clock.utc_now()})


def remove_related(conn: sqlite3.Connection, entity: str, record_id: int, party_id: int) -> None:
    _, related = _relation(conn, entity, record_id, party_id)
    resource = RESOURCES[entity]
    if not related:
        raise ValidationFailed([field_error(resource, "party", f"party is not related to this {resource}")])
    conn.execute("DELETE FROM related_parties WHERE entity = ? AND record_id = ? AND party_id = ?",
                 (entity, record_id, party_id))
    update(conn, entity, record_id, {"updated_at": clock.utc_now()})
