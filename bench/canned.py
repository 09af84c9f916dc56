"""A canned Capsule v2 upstream for benchmarks: fixed answers, serialised once, served fast.

    python -m bench.canned [--host 127.0.0.1] [--port 0] [--records 2500]

prints ``canned v2 upstream listening on http://HOST:PORT (N records per family)`` when ready
and serves until SIGTERM/SIGINT. Unlike the emulator (proxy/emulator) it keeps no state and
validates nothing, so a benchmark measures the proxy in front of it, not the upstream. Its JSON
shapes are the emulator's, field for field (tests/bench checks that the proxy reads them):

* tasks, parties, opportunities, kases: records 1..N. ``GET /{collection}/{id}`` (``embed=tags,fields``
  adds those on parties, opportunities and kases), ``GET /{collection}?page=&perPage=`` with
  ``Link: <...>; rel="next"`` while more pages follow (tasks: ``status=`` without ``open`` is
  empty), ``POST /{collection}`` -> 201, ``Location: .../{N+1}`` and that record, ``PUT`` -> 200
  and the record, ``DELETE`` -> 204. Task 10 has party 1 (a person), odd tasks party 2 (an
  organisation); party 1 is Eric Jones with contacts, party 2 ABC Furniture.
* parties also: ``GET /parties/search``, ``POST /parties/filters/results``, ``GET /parties/{id}/people``,
  ``/parties/{id}/opportunities``, ``/parties/{id}/kases``; opportunities and kases: ``filters/results``,
  ``search``, ``/{id}/parties``; every family: ``/deleted`` (empty).
* entries (history): 100 notes on party 1, opportunity 1 and kase 1
  (``GET /{parties,opportunities,kases}/{id}/entries``, paged), ``GET|PUT|DELETE /entries/{id}``,
  ``POST /entries``.
* look-ups: ``/users``, ``/users/current`` (phillip, America/New_York), ``/categories``, ``/milestones``,
  ``/pipelines``, ``/pipelines/{id}/milestones``, ``/{entity}/tags``, ``/{entity}/fields/definitions``,
  ``/site``, ``/countries``, ``/currencies``.
* any ``/api/`` request without ``Authorization: Bearer ...`` gets 401; any other path 404, counted
  as ``unmatched METHOD PATH`` so that a family calling something this upstream lacks shows up.

``GET /_stats`` answers the requests counted per kind (``GET /parties/{id}``, ...) since the last
reset (``?reset=1`` reads and resets), with the look-up calls counted apart (``LOOKUP_KINDS``);
the benchmark suite uses it to report upstream calls per v1 request.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any, Callable, Sequence
from urllib.parse import urlencode

import orjson
from aiohttp import web

JSON = "application/json"
DEFAULT_RECORDS = 2500
MAX_PER_PAGE = 100
HISTORY_ITEMS = 100           # entries on party 1, opportunity 1 and kase 1
STAMP = "2026-01-05T09:12:44Z"
UPDATED = "2026-02-11T16:03:27Z"

OWNER = {"id": 1, "deleted": False, "username": "phillip",
         "pictureURL": "https://facehub.appspot.com/default/person?text=PS&size=100&colour=2099955006",
         "name": "Phillip Smith"}
USERS = [
    {"id": 1, "username": "phillip", "name": "Phillip Smith", "timezone": "America/New_York", "locale": "en_GB",
     "currency": "USD", "status": "ACTIVE", "lastLoginAt": None, "party": {"id": 101}},
    {"id": 2, "username": "sofia", "name": "Sofia Rossi", "timezone": "Europe/Rome", "locale": "it_IT",
     "currency": "EUR", "status": "ACTIVE", "lastLoginAt": None, "party": {"id": 102}},
]
CATEGORIES = [
    {"id": 1, "name": "Call", "colour": "#2196f3"},
    {"id": 2, "name": "Email", "colour": "#4caf50"},
    {"id": 3, "name": "Follow-up", "colour": "#9c27b0"},
    {"id": 4, "name": "Meeting", "colour": "#ff7700"},
]
PERSON_PICTURE = "https://capsulecrm.com/theme/default/images/person_avatar_70.png"
ORG_PICTURE = "https://capsulecrm.com/theme/default/images/org_avatar_70.png"
#: Parties as other records embed them (a task's, an opportunity's party): the short form.
PARTIES = {
    1: {"id": 1, "type": "person", "firstName": "Eric", "lastName": "Jones", "pictureURL": PERSON_PICTURE},
    2: {"id": 2, "type": "organisation", "name": "ABC Furniture", "pictureURL": ORG_PICTURE},
}
OPPORTUNITY = {"id": 1, "name": "CRM System"}
KASE = {"id": 1, "name": "Invoicing"}
MILESTONES = [
    {"id": 1, "name": "New", "description": "You have a potential buyer for your offering", "probability": 10,
     "complete": False, "displayOrder": 1, "pipeline": {"id": 1, "name": "Sales"}, "createdAt": STAMP,
     "updatedAt": STAMP},
    {"id": 2, "name": "Bid", "description": "You have put forward a bid for your offering", "probability": 50,
     "complete": False, "displayOrder": 2, "pipeline": {"id": 1, "name": "Sales"}, "createdAt": STAMP,
     "updatedAt": STAMP},
    {"id": 3, "name": "Won", "description": None, "probability": 100, "complete": True, "displayOrder": 3,
     "pipeline": {"id": 1, "name": "Sales"}, "createdAt": STAMP, "updatedAt": STAMP},
    {"id": 4, "name": "Lost", "description": None, "probability": 0, "complete": True, "displayOrder": 4,
     "pipeline": {"id": 1, "name": "Sales"}, "createdAt": STAMP, "updatedAt": STAMP},
]
PIPELINES = [{"id": 1, "name": "Sales", "description": "New business", "archived": False, "createdAt": STAMP,
              "updatedAt": STAMP}]
TAGS = {
    "parties": [{"id": 1, "name": "VIP", "description": "Key accounts", "dataTag": False},
                {"id": 2, "name": "Staff", "description": None, "dataTag": True},
                {"id": 3, "name": "Prospect", "description": None, "dataTag": False}],
    "opportunities": [{"id": 4, "name": "Renewal", "description": None, "dataTag": False}],
    "kases": [{"id": 5, "name": "Urgent", "description": None, "dataTag": False}],
}
_DEFINITION = {"description": None, "options": None, "tag": None, "important": False, "captureRule": None}
DEFINITIONS = {
    "parties": [
        {**_DEFINITION, "id": 1, "name": "NI Number", "type": "text", "displayOrder": 1,
         "tag": {"id": 2, "name": "Staff", "dataTag": True}},
        {**_DEFINITION, "id": 2, "name": "Employees", "type": "number", "displayOrder": 2},
        {**_DEFINITION, "id": 3, "name": "Renewal Date", "type": "date", "displayOrder": 3, "important": True},
        {**_DEFINITION, "id": 4, "name": "Newsletter", "type": "boolean", "displayOrder": 4},
        {**_DEFINITION, "id": 5, "name": "Lead Source", "type": "list", "displayOrder": 5,
         "options": ["website", "newsletter", "referral"]},
    ],
    "opportunities": [{**_DEFINITION, "id": 6, "name": "Competitor", "type": "text", "displayOrder": 1}],
    "kases": [{**_DEFINITION, "id": 7, "name": "Ticket", "type": "text", "displayOrder": 1}],
}
#: The values a record shows with embed=fields (definition ids per entity).
FIELD_VALUES = {
    "parties": [{"id": 1, "definition": {"id": 1, "name": "NI Number"}, "value": "AB123456C", "tagId": 2},
                {"id": 3, "definition": {"id": 4, "name": "Newsletter"}, "value": True, "tagId": None},
                {"id": 2, "definition": {"id": 5, "name": "Lead Source"}, "value": "website", "tagId": None}],
    "opportunities": [{"id": 4, "definition": {"id": 6, "name": "Competitor"}, "value": "Acme CRM", "tagId": None}],
    "kases": [{"id": 5, "definition": {"id": 7, "name": "Ticket"}, "value": "T-1042", "tagId": None}],
}
SITE = {"url": "https://sample.capsulecrm.com", "name": "Sample Ltd", "subdomain": "sample"}
COUNTRIES = [{"name": "United Kingdom"}, {"name": "United States"}, {"name": "Italy"}]
CURRENCIES = [{"code": "GBP"}, {"code": "USD"}, {"code": "EUR"}]
NOT_FOUND = orjson.dumps({"message": "Could not find resource"})
UNAUTHORIZED = orjson.dumps({"message": "Authentication failed"})

#: The v2 calls that are look-ups (cached by the proxy): none of them in steady state is a goal.
LOOKUP_KINDS = frozenset({
    "GET /users", "GET /users/current", "GET /categories", "GET /milestones", "GET /pipelines",
    "GET /pipelines/{id}/milestones", "GET /site", "GET /countries", "GET /currencies",
    *(f"GET /{entity}/tags" for entity in TAGS), *(f"GET /{entity}/fields/definitions" for entity in TAGS),
})
#: collection -> the key of one object
ITEM = {"tasks": "task", "parties": "party", "opportunities": "opportunity", "kases": "kase", "entries": "entry"}
PARENT_LINK = {"parties": "party", "opportunities": "opportunity", "kases": "kase"}


# ============================================================================ the records

def make_task(n: int) -> dict[str, Any]:
    """Task n as Capsule v2 writes it: every field present, v2-only ones included."""
    category = CATEGORIES[n % len(CATEGORIES)]
    party = PARTIES[1] if n % 10 == 0 else (PARTIES[2] if n % 2 else None)
    return {
        "id": n,
        "category": category,
        "description": f"Call back about the renewal of contract #{n}",
        # Every 5th detail needs XML escaping, as real notes sometimes do.
        "detail": (f"Ask whether the new pricing works for them & confirm the <delivery> date (#{n})."
                   if n % 5 == 0 else f"Ask whether the new pricing works for them (#{n})."),
        "dueTime": None if n % 3 == 0 else f"{9 + n % 8:02d}:30:00",
        "status": "OPEN",
        "party": party,
        "opportunity": OPPORTUNITY if n % 7 == 0 else None,
        "owner": OWNER,
        "daysAfter": None,
        "taskDelayRule": None,
        "nextTask": None,
        "active": True,
        "createdAt": STAMP,
        "updatedAt": UPDATED,
        "dueOn": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "completedBy": None,
        "completedAt": None,
        "kase": KASE if n % 11 == 0 else None,
        "taskDayDelayRule": "TRACK_DAYS",
        "overrideToCurrentUser": None,
        "repeat": None,
        "hasTrack": False,
    }


def _contacts(n: int, person: bool) -> dict[str, Any]:
    base = 4 * n
    domain = "abcfurniture.example" if n <= 2 else f"company{n}.example"
    return {
        "emailAddresses": [{"id": base + 1, "type": "Work",
                            "address": (f"eric@{domain}" if n == 1 else f"contact{n}@{domain}")}],
        "phoneNumbers": [{"id": base + 2, "type": "Mobile" if person else "Work", "number": f"+44 7700 9{n:05d}"}],
        "addresses": [{"id": base + 3, "type": "Office", "street": f"{n} High Street", "city": "London",
                       "state": None, "country": "United Kingdom", "zip": "N1 1AA"}],
        "websites": [{"id": base + 4, "type": "Work", "service": "URL", "address": f"www.{domain}",
                      "url": f"http://www.{domain}"}],
    }


def make_party(n: int) -> dict[str, Any]:
    """Party n as the emulator answers it: 1 is Eric Jones (a person at 2), 2 ABC Furniture; then
    odd ids are people at organisation 2 and even ids organisations. Every 5th `about` needs
    XML escaping."""
    person = n == 1 or (n != 2 and n % 2 == 1)
    about = (f"Met at the trade fair & asked for <pricing> (#{n})" if n % 5 == 0
             else f"Met at the London trade fair (#{n})")
    common_head = {"id": n, "type": "person" if person else "organisation"}
    common_tail = {"pictureURL": PERSON_PICTURE if person else ORG_PICTURE, "about": about,
                   "createdAt": STAMP, "updatedAt": UPDATED, "lastContactedAt": None, "owner": OWNER,
                   "team": None, **_contacts(n, person)}
    if person:
        first, last = ("Eric", "Jones") if n == 1 else (f"Anna{n}", f"Smith{n}")
        return {**common_head, "title": "Mr" if n == 1 else "Ms", "firstName": first, "lastName": last,
                "jobTitle": "CTO" if n == 1 else "Buyer",
                "organisation": {**PARTIES[2], "type": "organisation"}, **common_tail}
    name = "ABC Furniture" if n == 2 else f"Company {n} Ltd"
    return {**common_head, "name": name, **common_tail}


def make_opportunity(n: int) -> dict[str, Any]:
    milestone = {"id": 2, "name": "Bid"}
    return {"id": n, "name": "CRM System" if n == 1 else f"CRM System #{n}",
            "description": f"25 seats, three-year licence (#{n})", "party": PARTIES[2], "owner": OWNER,
            "team": None, "milestone": milestone, "value": {"amount": 12500.5 + n, "currency": "GBP"},
            "expectedCloseOn": "2026-12-31", "probability": 50, "durationBasis": "FIXED", "duration": None,
            "closedOn": None, "lostReason": None, "lastOpenMilestone": milestone, "lastStageChangedAt": STAMP,
            "createdAt": STAMP, "updatedAt": UPDATED, "lastContactedAt": None}


def make_kase(n: int) -> dict[str, Any]:
    return {"id": n, "name": "Invoicing" if n == 1 else f"Invoicing #{n}",
            "description": f"November invoice disputed (#{n})", "status": "OPEN", "party": PARTIES[2],
            "owner": OWNER, "team": None, "opportunity": OPPORTUNITY, "stage": None, "expectedCloseOn": None,
            "closedOn": None, "createdAt": STAMP, "updatedAt": UPDATED, "lastContactedAt": None}


def make_entry(n: int, parent: str = "parties", parent_id: int = 1) -> dict[str, Any]:
    """A note (history item) on one parent; every 5th needs XML escaping."""
    links: dict[str, Any] = {"party": None, "opportunity": None, "kase": None}
    links[PARENT_LINK[parent]] = {"parties": PARTIES[1], "opportunities": OPPORTUNITY, "kases": KASE}[parent] \
        if parent_id == 1 else {"id": parent_id}
    content = (f"Called about the renewal & the <delivery> date (#{n})" if n % 5 == 0
               else f"Called about the renewal of the CRM System contract (#{n})")
    return {"id": n, "type": "note", "content": content, "subject": None,
            "activityType": {"id": -1, "name": "Note"},
            "entryAt": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T14:30:00Z", "creator": OWNER, **links,
            "participants": [], "attachments": [], "createdAt": STAMP, "updatedAt": UPDATED}


MAKERS: dict[str, Callable[[int], dict[str, Any]]] = {
    "tasks": make_task, "parties": make_party, "opportunities": make_opportunity, "kases": make_kase}
EMBEDDABLE = ("parties", "opportunities", "kases")


# ============================================================================ the answers

def _embed(raw: str | None) -> tuple[str, ...]:
    return tuple(sorted(part for part in (raw or "").split(",") if part in ("tags", "fields")))


class Canned:
    """The records, their answers serialised on first use and kept, and the request counters."""

    def __init__(self, records: int = DEFAULT_RECORDS):
        self.count = records
        self.records = {collection: [make(n) for n in range(1, records + 1)] for collection, make in MAKERS.items()}
        self.entries: dict[tuple[str, int], list[dict[str, Any]]] = {}
        first = 1
        for parent in EMBEDDABLE:
            self.entries[(parent, 1)] = [make_entry(n, parent, 1) for n in range(first, first + HISTORY_ITEMS)]
            first += HISTORY_ITEMS
        self.entry_by_id = {entry["id"]: entry for items in self.entries.values() for entry in items}
        self.created_id = records + 1
        self.base = ""                       # set once the port is known
        self.bodies: dict[Any, bytes] = {}   # every answer body, built once
        self.pages: dict[Any, tuple[bytes, str | None]] = {}
        self.fixed = {
            "users/current": orjson.dumps({"user": USERS[0]}),
            "users": orjson.dumps({"users": USERS}),
            "categories": orjson.dumps({"categories": CATEGORIES}),
            "milestones": orjson.dumps({"milestones": MILESTONES}),
            "pipelines": orjson.dumps({"pipelines": PIPELINES}),
            "site": orjson.dumps({"site": SITE}),
            "countries": orjson.dumps({"countries": COUNTRIES}),
            "currencies": orjson.dumps({"currencies": CURRENCIES}),
        }
        self.stats: dict[str, int] = {}

    def count_call(self, kind: str) -> None:
        self.stats[kind] = self.stats.get(kind, 0) + 1

    def record(self, collection: str, ident: int, embed: tuple[str, ...] = ()) -> dict[str, Any] | None:
        if collection == "entries":
            return self.entry_by_id.get(ident)
        items = self.records[collection]
        if not 1 <= ident <= len(items):
            return None
        record = items[ident - 1]
        if embed and collection in EMBEDDABLE:
            record = dict(record)
            if "tags" in embed:
                record["tags"] = TAGS[collection][:2]
            if "fields" in embed:
                record["fields"] = FIELD_VALUES[collection]
        return record

    def one(self, collection: str, ident: int, embed: tuple[str, ...] = ()) -> bytes | None:
        """``{"party": {...}}`` for one record, serialised once."""
        key = (collection, ident, embed)
        body = self.bodies.get(key)
        if body is None:
            record = self.record(collection, ident, embed)
            if record is None:
                return None
            body = self.bodies[key] = orjson.dumps({ITEM[collection]: record})
        return body

    def created(self, collection: str) -> bytes:
        key = ("created", collection)
        body = self.bodies.get(key)
        if body is None:
            if collection == "entries":
                record = make_entry(len(self.entry_by_id) + 1)
            else:
                record = MAKERS[collection](self.created_id)
            body = self.bodies[key] = orjson.dumps({ITEM[collection]: record})
        return body

    def created_location(self, collection: str) -> str:
        new_id = len(self.entry_by_id) + 1 if collection == "entries" else self.created_id
        return f"{self.base}/api/v2/{collection}/{new_id}"

    def page(self, key: Any, items: Callable[[], list[dict[str, Any]]], list_key: str, path: str,
             query: dict[str, str], page: int, per_page: int,
             embed: tuple[str, ...] = ()) -> tuple[bytes, str | None]:
        """The body and the Link header of one page of a list, built on first use and kept."""
        full_key = (key, page, per_page, embed)
        cached = self.pages.get(full_key)
        if cached is None:
            everything = items()
            begin = (page - 1) * per_page
            chunk = everything[begin:begin + per_page]
            if embed and list_key in EMBEDDABLE:
                chunk = [self.record(list_key, item["id"], embed) for item in chunk]
            body = orjson.dumps({list_key: chunk})
            link = None
            if begin + per_page < len(everything):
                params = {**{k: v for k, v in query.items() if k not in ("page", "perPage")},
                          "page": str(page + 1), "perPage": str(per_page)}
                link = f'<{self.base}{path}?{urlencode(params)}>; rel="next"'
            cached = self.pages[full_key] = (body, link)
        return cached


CANNED = web.AppKey("canned", Canned)


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def _number(raw: str | None, default: int, lo: int, hi: int) -> int:
    if raw is None or not raw.isdigit():
        return default
    return max(lo, min(hi, int(raw)))


def _id(request: web.Request, name: str = "id") -> int | None:
    raw = request.match_info[name]
    return int(raw) if raw.isdigit() else None


def kind_of(request: web.Request) -> str:
    """``GET /parties/{id}``: the method and the route as declared, without /api/v2; a request no
    route matched is ``unmatched GET /api/v2/...``."""
    if request.match_info.http_exception is not None:
        return f"unmatched {request.method} {request.path}"
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return f"{request.method} {template.removeprefix('/api/v2')}"


@web.middleware
async def _count_and_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    canned = request.app[CANNED]
    if not request.path.startswith("/api/"):
        return await handler(request)
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        canned.count_call("unauthorized")
        return _json(UNAUTHORIZED, 401)
    canned.count_call(kind_of(request))
    if request.match_info.http_exception is not None:
        return _json(NOT_FOUND, 404)
    return await handler(request)


# --- handlers ------------------------------------------------------------------------------------

def _show(collection: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        canned = request.app[CANNED]
        ident = _id(request)
        body = canned.one(collection, ident, _embed(request.query.get("embed"))) if ident else None
        return _json(body) if body is not None else _json(NOT_FOUND, 404)
    return handler


def _update(collection: str) -> Any:
    show = _show(collection)

    async def handler(request: web.Request) -> web.Response:
        await request.read()                       # the body is read, as v2 would, then ignored
        return await show(request)
    return handler


def _create(collection: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        canned = request.app[CANNED]
        return _json(canned.created(collection), 201, {"Location": canned.created_location(collection)})
    return handler


async def _no_content(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=204)


def _list(collection: str, source: Callable[[Canned, web.Request], list[dict[str, Any]] | None] | None = None,
          key: Callable[[web.Request], Any] | None = None) -> Any:
    """A paged list of one collection (all its records, or what `source` picks)."""
    async def handler(request: web.Request) -> web.Response:
        canned = request.app[CANNED]
        query = dict(request.query)
        if request.method == "POST":
            await request.read()
        page = _number(query.get("page"), 1, 1, 1_000_000)
        per_page = _number(query.get("perPage"), 50, 1, MAX_PER_PAGE)
        cache_key = (request.method, request.path, key(request) if key else None)
        if source is None:
            picked = lambda: canned.records[collection]  # noqa: E731
        else:
            found = source(canned, request)
            if found is None:
                return _json(NOT_FOUND, 404)
            picked = lambda: found  # noqa: E731
        body, link = canned.page(cache_key, picked, collection, request.path, query, page, per_page,
                                 _embed(query.get("embed")))
        return _json(body, headers={"Link": link} if link else None)
    return handler


def _tasks(canned: Canned, request: web.Request) -> list[dict[str, Any]]:
    statuses = (request.query.get("status") or "open").lower().split(",")
    return canned.records["tasks"] if "open" in statuses else []


def _task_status_key(request: web.Request) -> bool:
    return "open" in (request.query.get("status") or "open").lower().split(",")


def _entries_of(parent: str) -> Callable[[Canned, web.Request], list[dict[str, Any]] | None]:
    def source(canned: Canned, request: web.Request) -> list[dict[str, Any]] | None:
        ident = _id(request)
        if ident is None or canned.record(parent, ident) is None:
            return None
        return canned.entries.get((parent, ident), [])
    return source


def _children(collection: str, parent: str) -> Callable[[Canned, web.Request], list[dict[str, Any]] | None]:
    """Records of `collection` linked to one party (a few; the first 10 for party 1 and 2)."""
    def source(canned: Canned, request: web.Request) -> list[dict[str, Any]] | None:
        ident = _id(request)
        if ident is None or canned.record(parent, ident) is None:
            return None
        return canned.records[collection][:10] if ident <= 2 else []
    return source


def _empty(canned: Canned, request: web.Request) -> list[dict[str, Any]]:
    return []


def _fixed(name: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return _json(request.app[CANNED].fixed[name])
    return handler


def _static(body: bytes) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return _json(body)
    return handler


async def stats(request: web.Request) -> web.Response:
    canned = request.app[CANNED]
    counts = dict(canned.stats)
    if request.query.get("reset"):
        canned.stats.clear()
    lookups = sum(v for k, v in counts.items() if k in LOOKUP_KINDS)
    return _json(orjson.dumps({"calls": counts, "total": sum(counts.values()), "lookups": lookups}))


def create_app(records: int = DEFAULT_RECORDS) -> web.Application:
    app = web.Application(middlewares=[_count_and_auth], client_max_size=8 * 1024 * 1024)
    app[CANNED] = Canned(records)
    r = app.router
    v2 = "/api/v2"
    for name in ("users/current", "users", "categories", "milestones", "pipelines", "site", "countries",
                 "currencies"):
        r.add_get(f"{v2}/{name}", _fixed(name))
    r.add_get(f"{v2}/pipelines/{{id}}/milestones", _fixed("milestones"))
    for entity in EMBEDDABLE:
        r.add_get(f"{v2}/{entity}/tags", _static(orjson.dumps({"tags": TAGS[entity]})))
        r.add_get(f"{v2}/{entity}/fields/definitions", _static(orjson.dumps({"definitions": DEFINITIONS[entity]})))
        r.add_get(f"{v2}/{entity}/deleted", _list(entity, _empty))
        r.add_get(f"{v2}/{entity}/search", _list(entity, key=lambda request: request.query.get("q")))
        r.add_post(f"{v2}/{entity}/filters/results", _list(entity, key=lambda request: "filter"))
        r.add_get(f"{v2}/{entity}/{{id:\\d+}}/entries", _list("entries", _entries_of(entity)))
    r.add_get(f"{v2}/tasks", _list("tasks", _tasks, key=_task_status_key))
    for collection in ("parties", "opportunities", "kases"):
        r.add_get(f"{v2}/{collection}", _list(collection))
    r.add_get(f"{v2}/parties/{{id:\\d+}}/people", _list("parties", _children("parties", "parties")))
    r.add_get(f"{v2}/parties/{{id:\\d+}}/opportunities", _list("opportunities", _children("opportunities", "parties")))
    r.add_get(f"{v2}/parties/{{id:\\d+}}/kases", _list("kases", _children("kases", "parties")))
    for deal in ("opportunities", "kases"):
        r.add_get(f"{v2}/{deal}/{{id:\\d+}}/parties", _list("parties", _children("parties", deal)))
        r.add_post(f"{v2}/{deal}/{{id:\\d+}}/parties/{{pid:\\d+}}", _no_content)
        r.add_delete(f"{v2}/{deal}/{{id:\\d+}}/parties/{{pid:\\d+}}", _no_content)
    for collection in ("tasks", "parties", "opportunities", "kases", "entries"):
        r.add_get(f"{v2}/{collection}/{{id}}", _show(collection))
        r.add_put(f"{v2}/{collection}/{{id}}", _update(collection))
        r.add_delete(f"{v2}/{collection}/{{id}}", _no_content)
        r.add_post(f"{v2}/{collection}", _create(collection))
    r.add_get("/_stats", stats)
    return app


async def serve(host: str, port: int, records: int) -> None:
    app = create_app(records)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=300, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=4096)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    app[CANNED].base = f"http://{shown}:{bound_port}"
    print(f"canned v2 upstream listening on {app[CANNED].base} ({records} records per family)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.canned", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (default)")
    parser.add_argument("--records", "--tasks", type=int, default=DEFAULT_RECORDS,
                        help=f"records per family: tasks, parties, opportunities, kases ({DEFAULT_RECORDS})")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, max(1, args.records)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
