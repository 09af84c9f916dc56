"""Operations on what hangs under a record (a party, an opportunity or a case) and is not a
record of its own in v2: its tags and custom field values, kept in the record and changed
through the record's PUT; and the nested history paths, which name the parent as well as the item.

Every write here is a read, then one PUT of the parent record. The read only decides what to
send, so when the PUT fails nothing else was changed; the answer says so, and whether the
change itself may have been applied (the record's PUT is one transaction in v2, but a timeout or
a dropped connection leaves its fate unknown, as for creates in R1).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from ..keys import PARAMS, SERVICES, TOKEN
from ..resources.base import Parent, Resource, Route
from ..resources.custom_field import (CUSTOM_FIELD_SHAPE, join, lookup_name, needs_stored_values, plan_changes,
                                      shown, stored_values, unknown_definitions, v2_body)
from ..resources.custom_field import check_items as check_custom_fields
from ..resources.tag import TAG_SHAPE, find_tag, tag_name
from ..translate import fields as engine
from ..translate import v2_data
from ..translate.fields import UnknownName
from ..upstream.client import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from . import respond
from .addresses import public_base
from .errors import V1Error
from .handlers import Operation, _call, new_context, path_id, path_parent, require, translate_in


# --- the parent record ------------------------------------------------------------------------------

async def embedded(request: web.Request, kind: Parent, ident: int, embed: str) -> dict[str, Any]:
    """The parent's v2 record with ``embed`` (tags, fields), or a v1 404 naming it."""
    return await require(request, kind.collection, kind.link, ident, kind.noun, params={"embed": embed})


async def write_parent(request: web.Request, kind: Parent, ident: int, body: dict[str, Any], change: str,
                       read_back: str) -> None:
    """One PUT of the parent record. When it fails, the answer says that ``change`` was not
    applied (nothing was sent) or may have been (it was sent), and that nothing else was changed:
    the calls before it only read. ``read_back`` is the v1 path word to check it with."""
    where = f"{kind.noun} {ident}"
    check = f"read GET /api/{kind.word}/{ident}/{read_back} before sending the request again"
    try:
        await _call(request, "PUT", f"/api/v2/{kind.collection}/{ident}", json={kind.link: body})
    except UpstreamError as exc:
        if exc.status == 404:
            raise V1Error(404, f"there is no {kind.noun} with id {ident}") from None
        if exc.status < 500:
            raise                             # refused (422 -> 400, 429, ...): nothing was applied
        raise V1Error(502, f"Capsule answered {exc.status} to the change of {where}: {change} may or may "
                           f"not have been applied, and nothing else was changed; {check}") from None
    except UpstreamTimeout:
        raise V1Error(504, f"Capsule did not answer the change of {where} in time: {change} may or may not "
                           f"have been applied, and nothing else was changed; {check}") from None
    except UpstreamUnavailable as exc:
        if not exc.sent:
            raise V1Error(502, f"Capsule could not be reached ({exc}): {change} was not applied to {where}, "
                               "and nothing was changed") from None
        raise V1Error(502, f"Capsule broke off the change of {where} ({exc}): {change} may or may not have "
                           f"been applied, and nothing else was changed; {check}") from None


# --- tags -------------------------------------------------------------------------------------------

async def tags(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """GET /api/{kind}/{id}/tag: the names on the record read with embed=tags (one call)."""
    kind, ident = path_parent(request)
    record = await embedded(request, kind, ident, "tags")
    ctx = new_context(request)
    items = [("tag", engine.to_v1(TAG_SHAPE, tag, ctx))
             for tag in v2_data.records(record.get("tags") or [], "tags")]
    return respond.listing(request, resource.list_root, items, item="tag")


async def add_tag(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """POST /api/{kind}/{id}/tag/{name}: 200 when the record has it (one call), else attached by
    name, which defines it when the account has none of that name: 201 and its Location (TG2)."""
    kind, ident = path_parent(request)
    name = tag_name(request[PARAMS]["name"])
    record = await embedded(request, kind, ident, "tags")
    if find_tag(record, name) is not None:
        return respond.empty(200)
    await write_parent(request, kind, ident, {"tags": [{"name": name}]}, f"tag {name!r} (added)", "tag")
    base = public_base(request, request.app[SERVICES].settings)
    return respond.empty(201, {"Location": f"{base}/api/{kind.word}/{ident}/tag/{quote(name, safe='')}"})


async def remove_tag(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """DELETE /api/{kind}/{id}/tag/{name}: detached by its id on the record (two calls). A tag the
    record does not have is already gone: 200, with a Warning saying so (TG3)."""
    kind, ident = path_parent(request)
    name = tag_name(request[PARAMS]["name"])
    record = await embedded(request, kind, ident, "tags")
    tag = find_tag(record, name)
    if tag is None:
        respond.warn(request, [f"{kind.noun} {ident} has no tag {name!r}; nothing was removed"])
        return respond.empty(200)
    await write_parent(request, kind, ident, {"tags": [v2_data.removal(v2_data.id_number(tag))]},
                       f"tag {name!r} (removed)", "tag")
    return respond.empty(200)


# --- custom fields ------------------------------------------------------------------------------------

async def _definitions(request: web.Request, kind: Parent, *, refresh: bool = False) -> list[Any]:
    return await request.app[SERVICES].lookups.get(lookup_name(kind.word), request[TOKEN], refresh=refresh)


async def custom_fields(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """GET /api/{kind}/{id}/customfields: the record with embed=fields, each value joined to its
    (cached) definition; a value of a definition the cache does not know reads it once more."""
    kind, ident = path_parent(request)
    record = await embedded(request, kind, ident, "fields")
    values = v2_data.records(record.get("fields") or [], "fields")
    definitions = await _definitions(request, kind)
    if unknown_definitions(values, definitions):
        definitions = await _definitions(request, kind, refresh=True)
    ctx = new_context(request)
    items = [("customField", engine.to_v1(CUSTOM_FIELD_SHAPE, value, ctx))
             for value in join(values, definitions) if shown(value)]
    return respond.listing(request, resource.list_root, items, item="customField")


async def write_custom_fields(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """PUT or POST /api/{kind}/{id}/customfields: every field resolved and converted before
    anything is sent (an unknown label writes nothing), then one PUT of the record. Clearing a
    field needs its value's id, so only then is the record read first (CF5)."""
    kind, ident = path_parent(request)
    _, document = await respond.read_document(request, (resource.list_root,))
    items = document.get("customField") or []
    check_custom_fields(items)
    if not items:                             # nothing to write: still a 404 for a missing record
        await embedded(request, kind, ident, "fields")
        return respond.empty(200)
    lookup = lookup_name(kind.word)
    try:
        changes = plan_changes(items, await _definitions(request, kind), kind.word, lookup)
    except UnknownName:
        changes = plan_changes(items, await _definitions(request, kind, refresh=True), kind.word, lookup)
    stored = None
    if needs_stored_values(changes):
        stored = stored_values(await embedded(request, kind, ident, "fields"))
    body = v2_body(changes, stored)
    if not body:
        if stored is None:                    # nothing to write: still a 404 for a missing record
            await embedded(request, kind, ident, "fields")
        return respond.empty(200)
    described = ", ".join(repr(change.label) for change in changes)
    await write_parent(request, kind, ident, body,
                       f"the custom field{'s' if len(changes) > 1 else ''} {described}", "customfields")
    return respond.empty(200)


# --- an item named under its parent -------------------------------------------------------------------

async def _in_parent(request: web.Request, resource: Resource) -> int:
    """The item's id, once the item is known to belong to the parent the path names (a 404
    otherwise: one call)."""
    kind, parent_id = path_parent(request)
    ident = path_id(request, "item", resource.noun)
    item = await require(request, resource.v2.collection, resource.v2.item, ident, resource.noun)
    linked = v2_data.record(item, kind.link)
    if not linked or linked.get("id") != parent_id:
        raise V1Error(404, f"{kind.noun} {parent_id} has no {resource.noun} with id {ident}")
    return ident


async def update_in_parent(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """PUT /api/{kind}/{id}/history/{item}: as PUT /api/history/{item}, with the parent checked.
    The document is read and translated first, so a bad one costs no call."""
    root, v1 = await respond.read_document(request, resource.roots)
    ctx = new_context(request)
    body = await translate_in(request, resource.shape(root), v1, ctx)
    ident = await _in_parent(request, resource)
    await _call(request, "PUT", f"{resource.v2.path}/{ident}", json={resource.v2.item: body})
    respond.warn(request, ctx.warnings)
    return respond.empty(200)


async def delete_in_parent(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """DELETE /api/{kind}/{id}/history/{item}: as DELETE /api/history/{item}, with the parent checked."""
    ident = await _in_parent(request, resource)
    await _call(request, "DELETE", f"{resource.v2.path}/{ident}")
    return respond.empty(200)  # v2 answers 204 (or 202: deleted later); v1 clients check for 200


SUBRECORD_OPERATIONS: dict[str, Operation] = {
    "tags": tags, "add_tag": add_tag, "remove_tag": remove_tag,
    "custom_fields": custom_fields, "write_custom_fields": write_custom_fields,
    "update_in_parent": update_in_parent, "delete_in_parent": delete_in_parent,
}
