"""Routes every family of records has: list (`since`), show (batch), delete, search, filters,
deleted, entries; plus a party's people, opportunities and kases, and additional parties."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import cascade, deal_store, entry_store, record_store
from .body import read_json
from .errors import V2Error, json_response
from .filters import compile_conditions
from .records import ID, IDS, batch_ids, embeds, no_content, paged, run, since, single_id
from .record_store import FAMILIES, Family

routes = web.RouteTableDef()
ENTRIES_PER_PAGE = 50  # the entry lists allow at most 50 a page


async def _filter_body(request: web.Request) -> list[Any]:
    body = await read_json(request)
    conditions = body.get("filter", {}).get("conditions") if isinstance(body, dict) and isinstance(
        body.get("filter"), dict) else None
    if not isinstance(conditions, list):
        raise V2Error(400, 'request body must be {"filter": {"conditions": [{"field", "operator", "value"}]}}')
    return conditions


def _family_routes(family: Family) -> None:
    base = f"/api/v2/{family.table}"

    @routes.get(base)
    async def list_all(request: web.Request) -> web.Response:
        wanted, after = embeds(request, family.embeds), since(request)
        where, params = ("x.updated_at >= ?", [after]) if after else ("1", [])
        return await paged(request, family.table, record_store.page, family, where, params, wanted)

    @routes.get(f"{base}/{IDS}")
    async def show(request: web.Request) -> web.Response:
        wanted = embeds(request, family.embeds)
        records = await run(request, record_store.show, family, batch_ids(request, family.resource), wanted)
        if "," in request.match_info["ids"]:
            return json_response({family.table: records})
        return json_response({family.resource: records[0]})

    @routes.delete(f"{base}/{IDS}")
    async def delete(request: web.Request) -> web.Response:
        await run(request, cascade.delete_record, family.table, single_id(request, family.resource))
        return no_content()

    @routes.get(f"{base}/search")
    async def search(request: web.Request) -> web.Response:
        wanted, q = embeds(request, family.embeds), request.query.get("q", "").strip()
        if not q:
            raise V2Error(400, "q is required: the text to search for")
        where, params = family.search(q)
        return await paged(request, family.table, record_store.page, family, where, params, wanted)

    @routes.post(f"{base}/filters/results")
    async def filter_results(request: web.Request) -> web.Response:
        wanted = embeds(request, family.embeds)
        where, params = compile_conditions(family.filters, family.table, await _filter_body(request))
        return await paged(request, family.table, record_store.page, family, where, params, wanted)

    @routes.get(f"{base}/deleted")
    async def deleted(request: web.Request) -> web.Response:
        after = since(request, required=True)
        extra = {"restrictedOpportunities": []} if family.table == "opportunities" else None
        return await paged(request, family.table, cascade.deleted_since, family.table, after, extra=extra)

    @routes.get(f"{base}/{ID}/entries")
    async def entries(request: web.Request) -> web.Response:
        parent_id = single_id(request, family.resource, "id")
        return await paged(request, "entries", entry_store.list_for, family.resource, parent_id,
                           max_per_page=ENTRIES_PER_PAGE)


def _children(path: str, family: Family, column: str) -> None:
    @routes.get(f"/api/v2/parties/{ID}/{path}")
    async def children(request: web.Request) -> web.Response:
        parent_id = single_id(request, "party", "id")
        return await paged(request, family.table, record_store.children, family, column, parent_id,
                           embeds(request, family.embeds))


def _additional_parties(entity: str) -> None:
    resource = deal_store.RESOURCES[entity]
    base = f"/api/v2/{entity}/{ID}/parties"
    party_embeds = FAMILIES["parties"].embeds

    @routes.get(base)
    async def listed(request: web.Request) -> web.Response:
        record_id = single_id(request, resource, "id")
        return await paged(request, "parties", deal_store.related_parties, entity, record_id,
                           embeds(request, party_embeds))

    @routes.post(base + "/{party:[0-9]+}")
    async def add(request: web.Request) -> web.Response:
        await run(request, deal_store.add_related, entity, single_id(request, resource, "id"),
                  single_id(request, "party", "party"))
        return no_content()

    @routes.delete(base + "/{party:[0-9]+}")
    async def remove(request: web.Request) -> web.Response:
        await run(request, deal_store.remove_related, entity, single_id(request, resource, "id"),
                  single_id(request, "party", "party"))
        return no_content()


for _family in FAMILIES.values():
    _family_routes(_family)
_children("people", FAMILIES["parties"], "organisation_id")
_children("opportunities", FAMILIES["opportunities"], "party_id")
_children("kases", FAMILIES["kases"], "party_id")
_additional_parties("opportunities")
_additional_parties("kases")
