"""`/api/v2/tasks`: list, show (one id or a batch of up to 10), create, update, delete."""

from __future__ import annotations

from aiohttp import web

from . import task_store
from .body import read_envelope
from .errors import V2Error, json_response
from .keys import USER
from .records import batch_ids, comma_list, created, embeds, no_content, paged, run, single_id
from .task_model import parse_task_input

routes = web.RouteTableDef()

LIST_STATUSES = {"open": "OPEN", "completed": "COMPLETED", "pending": "PENDING"}
# The nested party/opportunity/kase/owner are always complete enough, so embed only validates.
EMBEDS = {"party", "opportunity", "kase", "owner", "nextTask"}


@routes.get("/api/v2/tasks")
async def list_tasks(request: web.Request) -> web.Response:
    embeds(request, EMBEDS)
    wanted = comma_list(request, "status") or ["open"]
    unknown = [value for value in wanted if value not in LIST_STATUSES]
    if unknown:
        raise V2Error(400, f"status: unsupported value {unknown[0]!r}; use open, completed or pending")
    return await paged(request, "tasks", task_store.list_tasks, sorted({LIST_STATUSES[value] for value in wanted}))


@routes.get("/api/v2/tasks/{ids}")
async def show_tasks(request: web.Request) -> web.Response:
    embeds(request, EMBEDS)
    ids = batch_ids(request, "task")
    tasks = await run(request, task_store.get_tasks, ids)
    if "," in request.match_info["ids"]:
        return json_response({"tasks": tasks})
    return json_response({"task": tasks[0]})


@routes.post("/api/v2/tasks")
async def create_task(request: web.Request) -> web.Response:
    embeds(request, EMBEDS)
    changes = parse_task_input(await read_envelope(request, "task"), creating=True)
    task = await run(request, task_store.create_task, changes, request[USER]["id"])
    return created(request, "task", task, "/api/v2/tasks")


@routes.put("/api/v2/tasks/{ids}")
async def update_task(request: web.Request) -> web.Response:
    embeds(request, EMBEDS)
    task_id = single_id(request, "task")
    changes = parse_task_input(await read_envelope(request, "task"), creating=False)
    task = await run(request, task_store.update_task, task_id, changes, request[USER]["id"])
    return json_response({"task": task})


@routes.delete("/api/v2/tasks/{ids}")
async def delete_task(request: web.Request) -> web.Response:
    await run(request, task_store.delete_task, single_id(request, "task"))
    return no_content()
