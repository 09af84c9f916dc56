"""Operations on links between two records that v2 keeps as a sub-collection of one of them:
`/api/v2/<collection>/{id}/<sub>/{itemId}`, POST to link (204), DELETE to unlink (204).

The route's path has `{kind}` and `{id}` for the record, `{item}` for the linked one; its
options name v2's sub-collection (`sub`), the linked record's noun (`item_noun`) and the v1 path
a new link's Location names (`location`, `{item}` filled in). v2 answers 422 when the link
already exists (POST) or does not (DELETE); v1 saw either as "nothing to change", so both are
200 (decisions LK1, LK2).
"""

from __future__ import annotations

from aiohttp import web

from ..keys import SERVICES
from ..resources.base import Resource, Route
from ..upstream.client import UpstreamError
from . import respond
from .addresses import public_base
from .handlers import Operation, _call, path_id, path_parent


def _sub_path(request: web.Request, route: Route) -> tuple[str, int]:
    kind, ident = path_parent(request)
    item = path_id(request, "item", route.options["item_noun"])
    return f"/api/v2/{kind.collection}/{ident}/{route.options['sub']}/{item}", item


def _nothing_to_change(exc: UpstreamError, words: tuple[str, ...]) -> bool:
    """v2's 422 saying the link is already there ("party is already related to this ...") or
    is not there ("... is not related to this ...")."""
    return exc.status == 422 and bool(exc.errors) and all(
        any(word in str(error.get("message", "")) for word in words) for error in exc.errors)


async def link(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """201 with Location when linked; 200 when the link was already there."""
    path, item = _sub_path(request, route)
    try:
        await _call(request, "POST", path)
    except UpstreamError as exc:
        if _nothing_to_change(exc, ("already",)):
            return respond.empty(200)
        raise
    base = public_base(request, request.app[SERVICES].settings)
    return respond.empty(201, {"Location": base + route.options["location"].format(item=item)})


async def unlink(request: web.Request, resource: Resource, route: Route) -> web.StreamResponse:
    """200, whether the link was there or not."""
    path, _ = _sub_path(request, route)
    try:
        await _call(request, "DELETE", path)
    except UpstreamError as exc:
        if not _nothing_to_change(exc, ("not related", "not a ")):
            raise
    return respond.empty(200)


LINK_OPERATIONS: dict[str, Operation] = {"link": link, "unlink": unlink}
