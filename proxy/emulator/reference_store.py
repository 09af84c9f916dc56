"""Pipelines and their milestones, track definitions and the tracks applied to records."""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from .errors import field_error, not_found
from .rows import by_ids, insert


def render_pipeline(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "archived": bool(row["archived"]), "createdAt": row["created_at"], "updatedAt": row["updated_at"]}


def list_pipelines(conn: sqlite3.Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM pipelines ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
    return [render_pipeline(row) for row in rows]


def get_pipeline(conn: sqlite3.Connection, pipeline_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM pipelines WHERE id = ?", (pipeline_id,)).fetchone()
    if row is None:
        raise not_found("pipeline", pipeline_id)
    return render_pipeline(row)


_MILESTONES = "SELECT m.*, p.name AS pipeline_name FROM milestones m JOIN pipelines p ON p.id = m.pipeline_id"


def render_milestone(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "probability": row["probability"], "complete": bool(row["complete"]),
            "displayOrder": row["display_order"],
            "pipeline": {"id": row["pipeline_id"], "name": row["pipeline_name"]},
            "createdAt": row["created_at"], "updatedAt": row["updated_at"]}


def list_milestones(conn: sqlite3.Connection, pipeline_id: int, limit: int, offset: int) -> list[dict[str, Any]]:
    get_pipeline(conn, pipeline_id)
    rows = conn.execute(f"{_MILESTONES} WHERE m.pipeline_id = ? ORDER BY m.display_order, m.id LIMIT ? OFFSET ?",
                        (pipeline_id, limit, offset))
    return [render_milestone(row) for row in rows]


def oldest_active_pipeline(conn: sqlite3.Connection) -> int | None:
    """Where /milestones and milestone names resolve: Capsule's v1 compatibility rule."""
    row = conn.execute("SELECT id FROM pipelines WHERE archived = 0 ORDER BY created_at, id LIMIT 1").fetchone()
    return None if row is None else row["id"]


def default_milestones(conn: sqlite3.Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    pipeline_id = oldest_active_pipeline(conn)
    return [] if pipeline_id is None else list_milestones(conn, pipeline_id, limit, offset)


def milestone(conn: sqlite3.Connection, milestone_id: int) -> sqlite3.Row | None:
    return conn.execute(f"{_MILESTONES} WHERE m.id = ?", (milestone_id,)).fetchone()


def milestones_for(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    return {row["id"]: render_milestone(row) for row in by_ids(conn, f"{_MILESTONES} WHERE m.id IN ({{ids}})", ids)}


def resolve_milestone(conn: sqlite3.Connection, ref: tuple[str, Any]) -> sqlite3.Row | str:
    """A milestone by id (any pipeline: the id says which), or by name in the oldest active
    pipeline; otherwise why not."""
    kind, value = ref
    if kind == "id":
        row = milestone(conn, value)
        return row if row is not None else f"milestone {value} does not exist"
    pipeline_id = oldest_active_pipeline(conn)
    rows = conn.execute(f"{_MILESTONES} WHERE m.pipeline_id = ? AND fold(m.name) = fold(?)",
                        (pipeline_id, value)).fetchall()
    if len(rows) == 1:
        return rows[0]
    if rows:
        return f"{len(rows)} milestones of the default pipeline are named {value!r}; give the milestone id"
    return f"no milestone named {value!r} in the default pipeline"


# --- track definitions and tracks ---

def render_track_definition(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "description": row["description"], "captureRule": row["capture_rule"],
            "direction": row["direction"]}


def list_track_definitions(conn: sqlite3.Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM track_definitions ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
    return [render_track_definition(row) for row in rows]


def resolve_tracks(conn: sqlite3.Connection, capture_rule: str, refs: list[tuple[int, int]], resource: str,
                   errors: list[dict[str, str]]) -> list[int]:
    ids = []
    for index, definition_id in refs:
        row = conn.execute("SELECT * FROM track_definitions WHERE id = ?", (definition_id,)).fetchone()
        if row is None:
            errors.append(field_error(resource, f"tracks[{index}].definition",
                                      f"track definition {definition_id} does not exist"))
        elif row["capture_rule"] != capture_rule:
            errors.append(field_error(resource, f"tracks[{index}].definition",
                                      f"track definition {definition_id} is for {row['capture_rule']} records"))
        else:
            ids.append(definition_id)
    return ids


def apply_tracks(conn: sqlite3.Connection, entity: str, record_id: int, definition_ids: list[int], now: str) -> None:
    for definition_id in definition_ids:
        insert(conn, "tracks", {"definition_id": definition_id, "entity": entity, "record_id": record_id,
                                "created_at": now})


def tracks_for(conn: sqlite3.Connection, entity: str, ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    rows = by_ids(conn, "SELECT t.id AS track_id, t.record_id, d.* FROM tracks t"
                        " JOIN track_definitions d ON d.id = t.definition_id"
                        " WHERE t.entity = ? AND t.record_id IN ({ids}) ORDER BY t.id", ids, entity)
    for row in rows:
        found.setdefault(row["record_id"], []).append(
            {"id": row["track_id"], "definition": render_track_definition(row)})
    return found
