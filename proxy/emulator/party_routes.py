"""`POST /api/v2/parties` and `PUT /api/v2/parties/{id}`: the writes only a party has."""

from __future__ import annotations

from aiohttp import web

from . import party_store
from .body import read_envelope
from .errors import json_response
from .keys import USER
from .party_model import parse_party
from .records import IDS, created, embeds, run, single_id

routes = web.RouteTableDef()


@routes.post("/api/v2/parties")
async def create_party(request: web.Request) -> web.Response:
    wanted = embeds(request, party_store.EMBEDS)
    party = parse_party(await read_envelope(request, "party"), None, creating=True)
    record = await run(request, party_store.create_party, party, request[USER]["id"], wanted)
    return created(request, "party", record, "/api/v2/parties")


@routes.put(f"/api/v2/parties/{IDS}")
async def update_party(request: web.Request) -> web.Response:
    wanted = embeds(request, party_store.EMBEDS)
    party_id = single_id(request, "party")
    fields = await read_envelope(request, "party")
    # A party's type never changes, so reading it first cannot race with another write.
    party = parse_party(fields, await run(request, party_store.party_type, party_id), creating=False)
    record = await run(request, party_store.update_party, party_id, party, request[USER]["id"], wanted)
    return json_response({"party": record})
