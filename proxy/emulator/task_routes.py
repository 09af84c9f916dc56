"""`/api/v2/tasks`: list, show (one id or a batch of up to 10), create, update, delete."""

from __future__ import annotations

import re

from aiohttp import web

from . import task_store
from .body import read_envelope
from .errors import V2Error, json_response, not_found
from .keys import STORE, USER
from .paging import link_header, page_from
from .task_model import parse_task_input

routes = web.RouteTableDef()

LIST_STATUSES = {"open": "OPEN", "completed": "COMPLETED", "pending": "PENDING"}
EMBEDS = {"party", "opportunity", "kase", "owner", "nextTask"}
MAX_BATCH = 10
_IDS = re.compile(r"^[1-9]\d{0,17}(,[1-9]\d{0,17})*\Z", re.ASCII)


def _comma_list(request: web.Request, name: str) -> list[str]:
    raw = request.query.get(name, "")
    return [item.strip() for item in raw.split(",") if item.strip()]


def _check_embed(request: web.Request) -> None:
    """Nested party/opportunity/kase/owner are always complete enough, so embed only validates."""
    unknown = [value for value in _comma_list(request, "embed") if value not in EMBEDS]
    if unknown:
        raise V2Error(400, f"embed: unsupported value {unknown[0]!r}; "
                           f"supported: {', '.join(sorted(EMBEDS))}")


def _task_ids(request: web.Request) -> list[int]:
    raw = request.match_info["ids"]
    if not _IDS.match(raw):
        raise not_found("task", raw)
    ids = list(dict.fromkeys(int(part) for part in raw.split(",")))
    if len(ids) > MAX_BATCH:
        raise V2Error(400, f"at most {MAX_BATCH} task ids can be fetched at once, got {len(ids)}")
    return ids


def _single_id(request: web.Request) -> int:
    raw = request.match_info["ids"]
    if "," in raw or not _IDS.match(raw):
        raise not_found("task", raw)
    return int(raw)


@routes.get("/api/v2/tasks")
async def list_tasks(request: web.Request) -> web.Response:
    page = page_from(request)
    _check_embed(request)
    wanted = _comma_list(request, "status") or ["open"]
    unknown = [value for value in wanted if value not in LIST_STATUSES]
    if unknown:
        raise V2Error(400, f"status: unsupported value {unknown[0]!r}; use open, completed or pending")
    statuses = sorted({LIST_STATUSES[value] for value in wanted})
    # One extra row tells whether a next page exists without a COUNT query.
    tasks = await request.app[STORE].run(task_store.list_tasks, statuses, page.size + 1, page.offset)
    has_next = len(tasks) > page.size
    return json_response({"tasks": tasks[:page.size]}, headers=link_header(request, page, has_next))


@routes.get("/api/v2/tasks/{ids}")
async def show_tasks(request: web.Request) -> web.Response:
    _check_embed(request)
    ids = _task_ids(request)
    tasks = await request.app[STORE].run(task_store.get_tasks, ids)
    if "," in request.match_info["ids"]:
        return json_response({"tasks": tasks})
    return json_response({"task": tasks[0]})


@routes.post("/api/v2/tasks")
async def create_task(request: web.Request) -> web.Response:
    _check_embed(request)
    changes = parse_task_input(await read_envelope(request, "task"), creating=True)
    task = await request.app[STORE].run(task_store.create_task, changes, request[USER]["id"])
    location = request.url.with_path(f"/api/v2/tasks/{task['id']}").with_query(None)
    return json_response({"task": task}, status=201, headers={"Location": str(location)})


@routes.put("/api/v2/tasks/{ids}")
async def update_task(request: web.Request) -> web.Response:
    _check_embed(request)
    task_id = _single_id(request)
    changes = parse_task_input(await read_envelope(request, "task"), creating=False)
    task = await request.app[STORE].run(task_store.update_task, task_id, changes, request[USER]["id"])
    return json_response({"task": task})


@routes.delete("/api/v2/tasks/{ids}")
async def delete_task(request: web.Request) -> web.Response:
    await request.app[STORE].run(task_store.delete_task, _single_id(request))
    return web.Response(status=204)
