"""Operations on what hangs under a record (a party, an opportunity or a case) and is not a
record of its own in v2: its tags and custom field values, kept in the record and changed
through the record's PUT; and the nested history paths, which name the parent as well as the item.

Every write here is a read, then one PUT of the parent record. The read only decides what to
send, so when the PUT fails nothing else was changed; the answer says so, and whether the
change itself may have been applied (the record's PUT is one transaction in v2, but a timeout or
a dropped connection leaves its fate unknown, as for creates in R1).
"""

from __future__ import annotations

from aiohttp import web

from ..resources.base import Resource, Route
from ..translate import v2_data
from ..upstream.client import UpstreamError
from . import respond
from .errors import V1Error
from .handlers import Operation, _call, _item, new_context, path_id, path_parent, translate_in

# --- an item named under its parent -------------------------------------------------------------------

async def _in_parent(request: web.Request, resource: Resource) -> int:
    """The item's id, once the item is known to belong to the parent the path names (a 404
    otherwise: one call)."""
    kind, parent_id = path_parent(request)
    ident = path_id(request, "item", resource.noun)
    try:
        answer = await _call(request, "GET", f"{resource.v2.path}/{ident}")
    except UpstreamError as exc:
        if exc.status == 404:
            raise V1Error(404, f"there is no {resource.noun} with id {ident}") from None
        raise
    linked = v2_data.record(_item(answer, resource.v2.item), kind.link)
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
    if ctx.warnings:
        respond.warn(request, ctx.warnings)
    return respond.empty(200)


async def delete_in_parent(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """DELETE /api/{kind}/{id}/history/{item}: as DELETE /api/history/{item}, with the parent checked."""
    ident = await _in_parent(request, resource)
    await _call(request, "DELETE", f"{resource.v2.path}/{ident}")
    return respond.empty(200)  # v2 answers 204 (or 202: deleted later); v1 clients check for 200


SUBRECORD_OPERATIONS: dict[str, Operation] = {
    "update_in_parent": update_in_parent, "delete_in_parent": delete_in_parent,
}
