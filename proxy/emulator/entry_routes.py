"""`/api/v2/entries`: create a note, show, update (notes and emails), delete.

A record's entries are listed by `GET /{parties,opportunities,kases}/{id}/entries` (record_routes).
Entries have no batch show: `/entries/1,2` is a 404, as on the live API.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import entry_store
from .body import parse_link, read_envelope, text_field
from .errors import ValidationFailed, field_error, json_response
from .keys import USER
from .records import ID, created, embeds, no_content, run, single_id
from .task_model import parse_timestamp

routes = web.RouteTableDef()
EMBEDS = ("party", "opportunity", "kase", "creator")  # nested forms are always complete: embed only validates


def _entry_at(fields: dict[str, Any], errors: list[dict[str, str]]) -> str | None:
    stamp = parse_timestamp(fields["entryAt"])
    if stamp is None:
        errors.append(field_error("entry", "entryAt", "entryAt must be an ISO-8601 date-time such as "
                                                      f"2026-01-02T15:04:05Z, got {fields['entryAt']!r}"))
    return stamp


@routes.post("/api/v2/entries")
async def create_entry(request: web.Request) -> web.Response:
    embeds(request, EMBEDS)
    fields = await read_envelope(request, "entry")
    errors: list[dict[str, str]] = []
    if "type" not in fields:
        errors.append(field_error("entry", "type", "type is required"))
    elif fields["type"] != "note":
        errors.append(field_error("entry", "type", f"only note entries can be created, got {fields['type']!r}"))
    content = text_field(fields, "content", "entry", errors, required=True, nullable=False)
    parents = [(name, parse_link(fields, name, "entry", errors)) for name in entry_store.PARENTS
               if fields.get(name) is not None]
    if not parents:
        errors.append(field_error("entry", "party", "an entry needs one of party, opportunity or kase"))
    elif len(parents) > 1:
        errors.append(field_error("entry", parents[1][0],
                                  "an entry belongs to only one of party, opportunity and kase"))
    entry_at = _entry_at(fields, errors) if fields.get("entryAt") is not None else None
    if errors:
        raise ValidationFailed(errors)
    (parent, parent_id), = parents
    # The creator is always the token's user: v2 documents no way to write as someone else.
    entry = await run(request, entry_store.create_note, content, parent, parent_id, entry_at, request[USER]["id"])
    return created(request, "entry", entry, "/api/v2/entries")


@routes.get(f"/api/v2/entries/{ID}")
async def show_entry(request: web.Request) -> web.Response:
    embeds(request, EMBEDS)
    return json_response({"entry": await run(request, entry_store.get_entry, single_id(request, "entry", "id"))})


@routes.put(f"/api/v2/entries/{ID}")
async def update_entry(request: web.Request) -> web.Response:
    embeds(request, EMBEDS)
    entry_id = single_id(request, "entry", "id")
    fields = await read_envelope(request, "entry")
    errors: list[dict[str, str]] = []
    changes: dict[str, Any] = {}
    if "content" in fields:
        changes["content"] = text_field(fields, "content", "entry", errors, required=True, nullable=False)
    if "entryAt" in fields:
        changes["entry_at"] = _entry_at(fields, errors)
    if errors:
        raise ValidationFailed(errors)
    return json_response({"entry": await run(request, entry_store.update_entry, entry_id, changes)})


@routes.delete(f"/api/v2/entries/{ID}")
async def delete_entry(request: web.Request) -> web.Response:
    await run(request, entry_store.delete_entry, single_id(request, "entry", "id"))
    return no_content()
