"""Task reads and writes, run on the store's thread, and the v2 JSON shape of a task.

The shape follows the task recorded from the live API (fixtures/v2-real): every key is
present, with null where there is no value, and nested objects for links and users.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from .clock import utc_now
from .entry_store import add_entry
from .errors import ValidationFailed, field_error, not_found
from .nested import nested_party, nested_user
from .rows import changed_columns, insert, update
from .task_model import LINKS

_SELECT = """
SELECT t.*,
       c.name AS category_name, c.colour AS category_colour,
       o.username AS owner_username, o.name AS owner_name,
       cb.username AS completed_by_username,
       p.type AS party_type, p.first_name AS party_first_name, p.last_name AS party_last_name,
       p.name AS party_name,
       op.name AS opportunity_name, k.name AS kase_name
FROM tasks t
LEFT JOIN categories c ON c.id = t.category_id
LEFT JOIN users o ON o.id = t.owner_id
LEFT JOIN users cb ON cb.id = t.completed_by
LEFT JOIN parties p ON p.id = t.party_id
LEFT JOIN opportunities op ON op.id = t.opportunity_id
LEFT JOIN kases k ON k.id = t.kase_id
"""


def render_task(row: sqlite3.Row) -> dict[str, Any]:
    status = row["status"]
    return {
        "id": row["id"],
        "category": (None if row["category_id"] is None else
                     {"id": row["category_id"], "name": row["category_name"],
                      "colour": row["category_colour"]}),
        "description": row["description"],
        "detail": row["detail"],
        "dueTime": row["due_time"],
        "status": status,
        "party": nested_party(row["party_id"], row["party_type"], row["party_first_name"],
                              row["party_last_name"], row["party_name"]),
        "opportunity": (None if row["opportunity_id"] is None else
                        {"id": row["opportunity_id"], "name": row["opportunity_name"]}),
        "owner": nested_user(row["owner_id"], row["owner_username"], row["owner_name"]),
        "daysAfter": None,
        "taskDelayRule": None,
        "nextTask": None,
        "active": status != "COMPLETED",
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "dueOn": row["due_on"],
        "completedBy": row["completed_by_username"],  # the model documents a username
        "completedAt": row["completed_at"],
        "kase": None if row["kase_id"] is None else {"id": row["kase_id"], "name": row["kase_name"]},
        "taskDayDelayRule": "TRACK_DAYS",
        "overrideToCurrentUser": None,
        "repeat": None,
        "hasTrack": False,
    }


def list_tasks(conn: sqlite3.Connection, statuses: Iterable[str], limit: int, offset: int
               ) -> list[dict[str, Any]]:
    statuses = list(statuses)
    marks = ", ".join("?" * len(statuses))
    rows = conn.execute(f"{_SELECT} WHERE t.status IN ({marks}) ORDER BY t.id LIMIT ? OFFSET ?",
                        (*statuses, limit, offset)).fetchall()
    return [render_task(row) for row in rows]


def get_tasks(conn: sqlite3.Connection, ids: list[int]) -> list[dict[str, Any]]:
    """The tasks with these ids, in the order asked; 404 naming the first id that is missing."""
    marks = ", ".join("?" * len(ids))
    found = {row["id"]: row for row in conn.execute(f"{_SELECT} WHERE t.id IN ({marks})", ids)}
    for task_id in ids:
        if task_id not in found:
            raise not_found("task", task_id)
    return [render_task(found[task_id]) for task_id in ids]


def _check_references(conn: sqlite3.Connection, changes: dict[str, Any]) -> None:
    tables = {"category_id": ("categories", "category"), "owner_id": ("users", "owner"),
              "party_id": ("parties", "party"), "opportunity_id": ("opportunities", "opportunity"),
              "kase_id": ("kases", "kase")}
    errors = []
    for column, (table, field) in tables.items():
        ref = changes.get(column)
        if ref is not None and conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (ref,)).fetchone() is None:
            errors.append(field_error("task", field, f"{field} {ref} does not exist"))
    if errors:
        raise ValidationFailed(errors)


def _apply_status(changes: dict[str, Any], current_status: str | None, user_id: int, now: str) -> None:
    """COMPLETED stamps completedAt/By once; OPEN clears both; unchanged status touches nothing.

    A completedAt sent in the body (offline clients) replaces the stamp, but only on a task that
    is, or becomes, completed: an open task has no completion time.
    """
    sent_completed_at = changes.pop("completed_at", None)
    status = changes.get("status")
    completed = status == "COMPLETED" or (status is None and current_status == "COMPLETED")
    if status is not None and status != current_status:
        if status == "COMPLETED":
            changes["completed_at"] = now
            changes["completed_by"] = user_id
        else:
            changes["completed_at"] = None
            changes["completed_by"] = None
    if completed and sent_completed_at is not None:
        changes["completed_at"] = sent_completed_at


def create_task(conn: sqlite3.Connection, changes: dict[str, Any], user_id: int) -> dict[str, Any]:
    _check_references(conn, changes)
    now = utc_now()
    row = {"detail": None, "due_time": None, "category_id": None, "owner_id": user_id,
           "status": "OPEN", "completed_at": None, "completed_by": None,
           "party_id": None, "opportunity_id": None, "kase_id": None} | changes
    _apply_status(row, None, user_id, now)
    row |= {"created_at": now, "updated_at": now}
    return get_tasks(conn, [insert(conn, "tasks", row)])[0]


def update_task(conn: sqlite3.Connection, task_id: int, changes: dict[str, Any], user_id: int
                ) -> dict[str, Any]:
    current = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if current is None:
        raise not_found("task", task_id)
    _check_references(conn, changes)
    linked = [link for link in LINKS
              if changes.get(f"{link}_id", current[f"{link}_id"]) is not None]
    if len(linked) > 1:
        raise ValidationFailed([field_error(
            "task", linked[-1], f"a task can be linked to only one of party, opportunity and kase; "
                                f"this one would be linked to {' and '.join(linked)}")])
    now = utc_now()
    _apply_status(changes, current["status"], user_id, now)
    changed = changed_columns(current, changes)
    if changed:
        changed["updated_at"] = now
        update(conn, "tasks", task_id, changed)
    if changed.get("status") == "COMPLETED":
        _record_completion(conn, current, changed, user_id)
    return get_tasks(conn, [task_id])[0]


def _record_completion(conn: sqlite3.Connection, current: sqlite3.Row, changed: dict[str, Any],
                       user_id: int) -> None:
    """Capsule adds a "Task completed" entry to the history of the record a task is linked to."""
    for link in LINKS:
        parent_id = changed.get(f"{link}_id", current[f"{link}_id"])
        if parent_id is not None:
            add_entry(conn, "task", changed.get("description", current["description"]), link, parent_id,
                      user_id, changed.get("completed_at"))


def delete_task(conn: sqlite3.Connection, task_id: int) -> None:
    if conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,)).rowcount == 0:
        raise not_found("task", task_id)
