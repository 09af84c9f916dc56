"""Creating and updating opportunities and kases (`POST /{entity}`, `PUT /{entity}/{id}`)."""

from __future__ import annotations

from typing import Any, Callable

from aiohttp import web

from . import deal_store
from .body import read_envelope
from .deal_model import DealInput, parse_kase, parse_opportunity
from .errors import json_response
from .keys import USER
from .records import IDS, created, embeds, run, single_id

routes = web.RouteTableDef()


def _deal_routes(entity: str, parse: Callable[[dict[str, Any], bool], DealInput]) -> None:
    resource = deal_store.RESOURCES[entity]
    allowed = deal_store.EMBEDS[entity]

    @routes.post(f"/api/v2/{entity}")
    async def create(request: web.Request) -> web.Response:
        wanted = embeds(request, allowed)
        deal = parse(await read_envelope(request, resource), True)
        record = await run(request, deal_store.create, entity, deal, request[USER]["id"], wanted)
        return created(request, resource, record, f"/api/v2/{entity}")

    @routes.put(f"/api/v2/{entity}/{IDS}")
    async def update(request: web.Request) -> web.Response:
        wanted = embeds(request, allowed)
        record_id = single_id(request, resource)
        deal = parse(await read_envelope(request, resource), False)
        return json_response({resource: await run(request, deal_store.update_record, entity, record_id, deal, wanted)})


_deal_routes("opportunities", parse_opportunity)
_deal_routes("kases", parse_kase)
