"""The v1 Task API routes. Each handler reads as: decode v1 → translate → call v2 →
translate back → encode v1. Conversion rules live in proxy/translate, never here."""

from __future__ import annotations

from typing import Any, Callable
from zoneinfo import ZoneInfo

from aiohttp import web

from ..services import SERVICES, Services
from ..translate import tasks as translate
from ..translate import users as translate_users
from ..translate.paging import parse_limit, parse_start
from ..upstream.client import Answer, UpstreamError, UpstreamUnavailable
from . import formats
from .listing import scan_tasks
from .problems import V1Error

routes = web.RouteTableDef()

TOKEN = web.RequestKey("capsule_upstream_token", str)  # the bearer token to send upstream
PARENTS = {"party": "parties", "opportunity": "opportunities", "kase": "kases"}
_PARENT = "{kind:party|opportunity|kase}"
# Stands in for the caller's zone when nothing to translate has a time of day, so that no
# look-up is made; the translation never reads it then.
_UNUSED_ZONE = ZoneInfo("UTC")


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


def path_id(request: web.Request, what: str = "task") -> int:
    """A positive decimal id; anything else (`1,2`, `abc`, `-1`, `%2C`) is a 404 and never sent
    upstream, where a comma list would be a batch call."""
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or raw.startswith("0") or len(raw) > 18:
        raise V1Error(404, f"there is no {what} with id {raw!r}")
    return int(raw)


def _item(answer: Answer, key: str) -> dict[str, Any]:
    item = answer.data.get(key) if isinstance(answer.data, dict) else None
    if not isinstance(item, dict):
        raise UpstreamUnavailable(f"the upstream answer has no {key!r} object")
    return item


async def _to_v1(request: web.Request, v2_tasks: list[dict[str, Any]]) -> list[dict[str, str]]:
    """v2 tasks in v1 form; the caller's zone is looked up only when a task has a time of day."""
    zone = _UNUSED_ZONE
    if any(task.get("dueTime") for task in v2_tasks):
        zone = await _services(request).lookups.zone(request[TOKEN])
    return [translate.task_to_v1(task, zone=zone) for task in v2_tasks]


async def _to_v2(request: web.Request, v1_task: dict[str, str], *, creating: bool) -> dict[str, Any]:
    """The v2 task body, with only the look-ups this document needs."""
    lookups, token = _services(request).lookups, request[TOKEN]
    names = translate.names_to_resolve(v1_task)
    zone = await lookups.zone(token) if translate.needs_zone(v1_task) else _UNUSED_ZONE
    owners, categories = {}, {}
    if "owner" in names:
        owners = await lookups.owner_ids(token, names["owner"], translate.lookup_id)
    if "category" in names:
        categories = await lookups.category_ids(token, names["category"], translate.lookup_id)
    return translate.task_to_v2(v1_task, zone=zone, owner_ids=owners, category_ids=categories,
                                creating=creating)


async def _require_parent(request: web.Request, kind: str, parent_id: int) -> None:
    """404 when the party, opportunity or kase does not exist upstream."""
    try:
        await _services(request).upstream.call("GET", f"/api/v2/{PARENTS[kind]}/{parent_id}", request[TOKEN])
    except UpstreamError as exc:
        if exc.status == 404:
            raise V1Error(404, f"there is no {kind} with id {parent_id}") from None
        raise


def _created(request: web.Request, answer: Answer) -> web.Response:
    """201 with `Location: <public base>/api/task/{id}`, whichever parent URL was used."""
    location = answer.headers.get("Location", "")
    new_id = location.rstrip("/").rsplit("/", 1)[-1]
    if not new_id.isdigit():
        new_id = str(_item(answer, "task").get("id", ""))
    if not new_id.isdigit():
        raise UpstreamUnavailable("Capsule accepted the create but did not say which id the new task "
                                  "has; the task may have been created, so check before sending it again",
                                  transient=False, maybe_created=True)
    base = _services(request).public_base(request)
    return web.Response(status=201, headers={"Location": f"{base}/api/task/{new_id}"})


# --- reads ---

@routes.get("/api/task/categories")
async def list_categories(request: web.Request) -> web.StreamResponse:
    categories = await _services(request).lookups.category_list(request[TOKEN], refresh=True)
    return formats.categories(request, translate_users.category_names(categories))


@routes.get("/api/users")
async def list_users(request: web.Request) -> web.StreamResponse:
    lookups = _services(request).lookups
    users = await lookups.user_list(request[TOKEN], refresh=True)
    current = await lookups.current_user(request[TOKEN])
    return formats.users(request, translate_users.users_to_v1(users, current_user_id=current.get("id")))


@routes.get("/api/task/{id}")
async def show_task(request: web.Request) -> web.StreamResponse:
    task_id = path_id(request)
    answer = await _services(request).upstream.call("GET", f"/api/v2/tasks/{task_id}", request[TOKEN])
    [task] = await _to_v1(request, [_item(answer, "task")])
    return formats.task(request, task)


@routes.get("/api/tasks")
async def list_tasks(request: web.Request) -> web.StreamResponse:
    return await _list(request, keep=None)


@routes.get(f"/api/{_PARENT}/{{id}}/tasks")
async def list_parent_tasks(request: web.Request) -> web.StreamResponse:
    kind, parent_id = request.match_info["kind"], path_id(request, request.match_info["kind"])
    await _require_parent(request, kind, parent_id)
    return await _list(request, keep=translate.parent_filter(kind, parent_id))


async def _list(request: web.Request, keep: Callable[[dict[str, Any]], bool] | None) -> web.StreamResponse:
    query = request.query
    start, limit = parse_start(query.get("start")), parse_limit(query.get("limit"))
    status = translate.list_status_filter(query.get("status"))
    category, user = query.get("category") or None, query.get("user") or None
    if category is not None or user is not None:
        outer = keep
        keep = lambda task: (outer is None or outer(task)) and translate.matches_filters(task, category, user)
    found = await scan_tasks(_services(request).upstream, request[TOKEN], status, start, limit, keep)
    return formats.tasks(request, await _to_v1(request, found))


# --- writes ---

@routes.post("/api/task")
async def create_task(request: web.Request) -> web.StreamResponse:
    body = await _to_v2(request, await formats.read_task(request), creating=True)
    answer = await _services(request).upstream.call("POST", "/api/v2/tasks", request[TOKEN], json={"task": body})
    return _created(request, answer)


@routes.post(f"/api/{_PARENT}/{{id}}/task")
async def create_linked_task(request: web.Request) -> web.StreamResponse:
    kind, parent_id = request.match_info["kind"], path_id(request, request.match_info["kind"])
    v1_task = await formats.read_task(request)  # a bad body is a 400 before any upstream call
    await _require_parent(request, kind, parent_id)
    body = await _to_v2(request, v1_task, creating=True) | translate.link_for_parent(kind, parent_id)
    answer = await _services(request).upstream.call("POST", "/api/v2/tasks", request[TOKEN], json={"task": body})
    return _created(request, answer)


@routes.put("/api/task/{id}")
async def update_task(request: web.Request) -> web.StreamResponse:
    task_id = path_id(request)
    body = await _to_v2(request, await formats.read_task(request), creating=False)
    await _services(request).upstream.call("PUT", f"/api/v2/tasks/{task_id}", request[TOKEN], json={"task": body})
    return web.Response(status=200)


@routes.delete("/api/task/{id}")
async def delete_task(request: web.Request) -> web.StreamResponse:
    task_id = path_id(request)
    await _services(request).upstream.call("DELETE", f"/api/v2/tasks/{task_id}", request[TOKEN])
    return web.Response(status=200)  # v2 answers 204; v1 clients check for 200


@routes.post("/api/task/{id}/complete")
async def complete_task(request: web.Request) -> web.StreamResponse:
    return await _set_status(request, translate.status_change("complete"))


@routes.post("/api/task/{id}/reopen")
async def reopen_task(request: web.Request) -> web.StreamResponse:
    return await _set_status(request, translate.status_change("reopen"))


async def _set_status(request: web.Request, change: dict[str, Any]) -> web.StreamResponse:
    task_id = path_id(request)  # any body (`{}`, an empty <task/>) is ignored, as v1 did
    await _services(request).upstream.call("PUT", f"/api/v2/tasks/{task_id}", request[TOKEN], json={"task": change})
    return web.Response(status=200)
