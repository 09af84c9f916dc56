"""What a v2 task body may say, checked without touching the database.

`parse_task_input` turns the object inside `{"task": {...}}` into column changes, collecting
every bad field into one 422. Whether linked records exist is checked later, in the store,
inside the same transaction as the write.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from .body import parse_link, text_field
from .errors import ValidationFailed, field_error

STATUSES = ("OPEN", "COMPLETED", "PENDING")
LINKS = ("party", "opportunity", "kase")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$", re.ASCII)


def parse_due_on(value: Any) -> str | None:
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    return None


def parse_timestamp(value: Any) -> str | None:
    """An ISO-8601 instant (Z or an offset) -> `YYYY-MM-DDTHH:MM:SSZ`, as v2 writes them."""
    if not isinstance(value, str) or not _STAMP.match(value):
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_due_time(value: Any) -> str | None:
    """HH:MM:SS or HH:MM, kept to the minute as Capsule does ("18:00:48" -> "18:00:00").

    The time is the owner's local time.
    """
    if isinstance(value, str):
        match = _TIME.match(value)
        if match:
            return f"{match[1]}:{match[2]}:00"
    return None


def parse_task_input(fields: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Column changes for a create (all required fields) or a partial update.

    Keys of the result are column names; a None value clears the column. Read-only and
    unknown fields (id, createdAt, hasTrack, ...) are ignored, as v2 does.
    """
    errors: list[dict[str, str]] = []
    changes: dict[str, Any] = {}

    if creating or "description" in fields:
        description = text_field(fields, "description", "task", errors, required=True, nullable=False)
        if description is not None:
            changes["description"] = description
    if "detail" in fields:
        changes["detail"] = text_field(fields, "detail", "task", errors)

    if "dueOn" not in fields:
        if creating:
            errors.append(field_error("task", "dueOn", "dueOn is required"))
    elif fields["dueOn"] is None:
        errors.append(field_error("task", "dueOn", "dueOn is required"))
    else:
        due_on = parse_due_on(fields["dueOn"])
        if due_on is None:
            errors.append(field_error("task", "dueOn",
                                      f"dueOn must be a date as YYYY-MM-DD, got {fields['dueOn']!r}"))
        changes["due_on"] = due_on
    if "dueTime" in fields:
        if fields["dueTime"] is None:
            changes["due_time"] = None
        else:
            due_time = parse_due_time(fields["dueTime"])
            if due_time is None:
                errors.append(field_error("task", "dueTime",
                                          f"dueTime must be a time as HH:MM:SS, got {fields['dueTime']!r}"))
            changes["due_time"] = due_time

    if "status" in fields:
        status = fields["status"]
        if status == "PENDING":
            errors.append(field_error("task", "status", "cannot set task status to PENDING"))
        elif status not in STATUSES:
            errors.append(field_error("task", "status",
                                      f"status must be OPEN or COMPLETED, got {status!r}"))
        else:
            changes["status"] = status

    if "completedAt" in fields and fields["completedAt"] is not None:
        completed_at = parse_timestamp(fields["completedAt"])
        if completed_at is None:
            errors.append(field_error("task", "completedAt", "completedAt must be an ISO-8601 UTC "
                                      f"date-time such as 2026-01-02T15:04:05Z, got {fields['completedAt']!r}"))
        changes["completed_at"] = completed_at

    if "category" in fields:
        changes["category_id"] = parse_link(fields, "category", "task", errors)
    if "owner" in fields:
        changes["owner_id"] = parse_link(fields, "owner", "task", errors, nullable=False)
    linked = []
    for link in LINKS:
        if link in fields:
            changes[f"{link}_id"] = parse_link(fields, link, "task", errors)
            if fields[link] is not None:
                linked.append(link)
    if len(linked) > 1:
        errors.append(field_error("task", linked[1],
                                  "a task can be linked to only one of party, opportunity and kase"))

    if errors:
        raise ValidationFailed(errors)
    return changes
