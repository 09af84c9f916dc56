"""Writing a checked seed into a new database, in one transaction on the store's thread."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from . import clock, contact_store
from .contact_model import KINDS
from .entry_store import add_entry
from .rows import insert
from .seed import Seed

_PARTY_COLUMNS = {"title": "title", "firstName": "first_name", "lastName": "last_name", "jobTitle": "job_title",
                  "name": "name", "about": "about", "organisation": "organisation_id", "owner": "owner_id"}


def seed_digest(seed: Seed) -> str:
    return hashlib.sha256(repr(vars(seed) | {"source": ""}).encode()).hexdigest()


def apply_seed(conn: sqlite3.Connection, seed: Seed, schema_version: str) -> list[str]:
    """Load the seed into a new database. A database that already holds data keeps it."""
    digest = seed_digest(seed)
    row = conn.execute("SELECT value FROM meta WHERE key = 'seed_digest'").fetchone()
    if row is not None:
        if row["value"] != digest:
            return [f"the database was seeded from a different seed than {seed.source}; "
                    "keeping the data it holds (delete the file to start again from this seed)"]
        return []
    now = clock.utc_now()
    meta = {"schema_version": schema_version, "seed_digest": digest, "subdomain": seed.subdomain,
            "site_name": seed.site_name, "requests_per_hour": str(seed.requests_per_hour)}
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
    for user in seed.users:
        insert(conn, "users", {k: user[k] for k in ("id", "username", "name", "timezone", "token")})
    for category in seed.categories:
        insert(conn, "categories", {k: category[k] for k in ("id", "name", "colour")})
    _reference_data(conn, seed, now)
    _parties(conn, seed, now)
    _deals(conn, seed, now)
    for entry in seed.entries:
        parent, parent_id = entry["parent"]
        add_entry(conn, entry["type"], entry["content"], parent, parent_id, entry["creator"], entry["entryAt"],
                  entry["subject"], entry["participants"], entry.get("id"))
    for task in seed.tasks:
        completed = task["status"] == "COMPLETED"
        insert(conn, "tasks", {
            "id": task["id"], "description": task["description"], "detail": task.get("detail"),
            "due_on": task["dueOn"], "due_time": task.get("dueTime"), "category_id": task.get("category"),
            "owner_id": task["owner"], "status": task["status"], "completed_at": now if completed else None,
            "completed_by": task["owner"] if completed else None, "party_id": task.get("party"),
            "opportunity_id": task.get("opportunity"), "kase_id": task.get("kase"),
            "created_at": now, "updated_at": now})
    return []


def _reference_data(conn: sqlite3.Connection, seed: Seed, now: str) -> None:
    for definition in seed.trackdefinitions:
        insert(conn, "track_definitions", {"id": definition["id"], "description": definition["description"],
                                           "capture_rule": definition["captureRule"],
                                           "direction": definition["direction"]})
    for pipeline in seed.pipelines:
        insert(conn, "pipelines", {"id": pipeline["id"], "name": pipeline["name"],
                                   "description": pipeline["description"], "archived": int(pipeline["archived"]),
                                   "created_at": now, "updated_at": now})
    for milestone in seed.milestones:
        insert(conn, "milestones", {
            "id": milestone["id"], "pipeline_id": milestone["pipeline"], "name": milestone["name"],
            "description": milestone["description"], "probability": milestone["probability"],
            "complete": int(milestone["complete"]), "display_order": milestone["displayOrder"],
            "created_at": now, "updated_at": now})
    for tag in seed.tags:
        insert(conn, "tags", {"id": tag["id"], "entity": tag["entity"], "name": tag["name"],
                              "name_key": tag["name"].casefold(), "description": tag["description"],
                              "data_tag": int(tag["dataTag"])})
    for field in seed.fields:
        insert(conn, "field_definitions", {
            "id": field["id"], "entity": field["entity"], "name": field["name"],
            "description": field["description"], "type": field["type"],
            "options": None if field["options"] is None else json.dumps(field["options"]),
            "tag_id": field["tag"], "important": int(field["important"]), "display_order": field["displayOrder"]})


def _extras(conn: sqlite3.Connection, entity: str, record: dict[str, Any]) -> None:
    for tag_id in record["tags"]:
        insert(conn, "tag_links", {"tag_id": tag_id, "entity": entity, "record_id": record["id"]})
    for definition_id, text in record["fields"]:
        insert(conn, "field_values", {"definition_id": definition_id, "entity": entity,
                                      "record_id": record["id"], "value": text})


def _parties(conn: sqlite3.Connection, seed: Seed, now: str) -> None:
    for party in seed.parties:
        row = {column: party[key] for key, column in _PARTY_COLUMNS.items()
               if key in party and key != "organisation"}
        insert(conn, "parties", {"id": party["id"], "type": party["type"], **row,
                                 "created_at": now, "updated_at": now})
    for party in seed.parties:  # organisations may come after their people in the file
        if "organisation" in party:
            conn.execute("UPDATE parties SET organisation_id = ? WHERE id = ?", (party["organisation"], party["id"]))
        for kind in KINDS:
            for contact in party[kind]:
                contact_store.add(conn, party["id"], kind, contact)
        _extras(conn, "parties", party)


def _deals(conn: sqlite3.Connection, seed: Seed, now: str) -> None:
    milestones = {m["id"]: m for m in seed.milestones}
    for record in seed.opportunities:
        milestone = milestones[record["milestone"]]
        value = record.get("value") or {}
        closed_on = record.get("closedOn", clock.today() if milestone["complete"] else None)
        insert(conn, "opportunities", {
            "id": record["id"], "name": record["name"], "description": record.get("description"),
            "party_id": record["party"], "owner_id": record["owner"], "milestone_id": milestone["id"],
            "value_amount": value.get("amount"), "value_currency": value.get("currency"),
            "expected_close_on": record.get("expectedCloseOn"),
            "probability": record.get("probability", milestone["probability"]),
            "duration_basis": record["durationBasis"], "duration": record.get("duration"), "closed_on": closed_on,
            "last_open_milestone_id": None if milestone["complete"] else milestone["id"],
            "last_stage_changed_at": now, "created_at": now, "updated_at": now})
    for record in seed.kases:
        closed = record["status"] == "CLOSED"
        insert(conn, "kases", {
            "id": record["id"], "name": record["name"], "description": record.get("description"),
            "status": record["status"], "party_id": record["party"], "owner_id": record["owner"],
            "opportunity_id": record.get("opportunity"), "expected_close_on": record.get("expectedCloseOn"),
            "closed_on": record.get("closedOn", clock.today() if closed else None),
            "created_at": now, "updated_at": now})
    for entity in ("opportunities", "kases"):
        for record in getattr(seed, entity):
            for party_id in record["additionalParties"]:
                insert(conn, "related_parties", {"entity": entity, "record_id": record["id"], "party_id": party_id})
            _extras(conn, entity, record)
