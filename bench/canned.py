"""A canned Capsule v2 upstream for benchmarks: fixed answers, serialised once, served fast.

    python -m bench.canned [--host 127.0.0.1] [--port 0] [--tasks 1000]

prints ``canned v2 upstream listening on http://HOST:PORT (N tasks)`` when ready and serves
until SIGTERM/SIGINT. Unlike the emulator it keeps no state and validates nothing, so a
benchmark measures the proxy in front of it, not the upstream:

* ``GET /api/v2/tasks/{id}``: task ``id`` (1..N; 404 beyond), with owner, category, a party on
  every 10th task (party 1, a person) and on odd ones (party 2, an organisation), an
  opportunity on every 7th, and a ``dueTime`` on every task whose id is not a multiple of 3;
* ``GET /api/v2/tasks?page=&perPage=&status=``: the N tasks, all OPEN (a status filter without
  ``open`` gives an empty list), with ``Link: <...>; rel="next"`` while more pages follow;
* ``POST /api/v2/tasks``: 201, ``Location: .../api/v2/tasks/{N+1}`` and that task;
  ``PUT /api/v2/tasks/{id}``: 200 and the task; ``DELETE``: 204;
* ``GET /api/v2/users/current`` (phillip, America/New_York), ``/api/v2/users``,
  ``/api/v2/categories``, ``/api/v2/parties/{1,2}``, ``/api/v2/opportunities/1``,
  ``/api/v2/kases/1``;
* any request without ``Authorization: Bearer ...`` gets 401.

``GET /_stats`` answers the requests counted per kind since the last reset (``?reset=1``
reads and resets); the benchmark suite uses it to report upstream calls per v1 request.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any, Sequence

import orjson
from aiohttp import web

JSON = "application/json"
DEFAULT_TASKS = 1000
MAX_PER_PAGE = 100

OWNER = {"id": 1, "deleted": False, "username": "phillip", "name": "Phillip Smith",
         "pictureURL": "https://facehub.appspot.com/default/person?text=PS&size=100&colour=2099955006"}
USERS = [
    {"id": 1, "username": "phillip", "name": "Phillip Smith", "currency": "USD",
     "timezone": "America/New_York", "party": {"id": 101}, "pictureURL": OWNER["pictureURL"]},
    {"id": 2, "username": "sofia", "name": "Sofia Rossi", "currency": "EUR",
     "timezone": "Europe/Rome", "party": {"id": 102}, "pictureURL": OWNER["pictureURL"]},
]
CATEGORIES = [
    {"id": 1, "name": "Call", "colour": "#2196f3"},
    {"id": 2, "name": "Email", "colour": "#4caf50"},
    {"id": 3, "name": "Follow-up", "colour": "#9c27b0"},
    {"id": 4, "name": "Meeting", "colour": "#ff7700"},
]
PARTIES = {
    1: {"id": 1, "type": "person", "firstName": "Eric", "lastName": "Jones", "title": None,
        "pictureURL": "https://facehub.appspot.com/default/person?text=EJ&size=100"},
    2: {"id": 2, "type": "organisation", "name": "ABC Furniture",
        "pictureURL": "https://facehub.appspot.com/default/org?text=AF&size=100"},
}
OPPORTUNITY = {"id": 1, "name": "CRM System"}
KASE = {"id": 1, "name": "Invoicing"}
NOT_FOUND = orjson.dumps({"message": "Could not find resource"})
UNAUTHORIZED = orjson.dumps({"message": "Authentication failed"})


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
        "createdAt": "2026-01-05T09:12:44Z",
        "updatedAt": "2026-02-11T16:03:27Z",
        "dueOn": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "completedBy": None,
        "completedAt": None,
        "kase": KASE if n % 11 == 0 else None,
        "taskDayDelayRule": "TRACK_DAYS",
        "overrideToCurrentUser": None,
        "repeat": None,
        "hasTrack": False,
    }


class Canned:
    """The pre-serialised answers and the request counters."""

    def __init__(self, tasks: int = DEFAULT_TASKS):
        self.count = tasks
        self.tasks = [make_task(n) for n in range(1, tasks + 1)]
        self.one = {task["id"]: orjson.dumps({"task": task}) for task in self.tasks}
        self.created_id = tasks + 1
        self.created = orjson.dumps({"task": make_task(self.created_id)})
        self.base = ""                       # set once the port is known
        self.pages: dict[tuple[int, int, bool], tuple[bytes, str | None]] = {}
        self.fixed = {
            "users_current": orjson.dumps({"user": USERS[0]}),
            "users": orjson.dumps({"users": USERS}),
            "categories": orjson.dumps({"categories": CATEGORIES}),
        }
        self.records = {
            "parties": {i: orjson.dumps({"party": p}) for i, p in PARTIES.items()},
            "opportunities": {1: orjson.dumps({"opportunity": OPPORTUNITY})},
            "kases": {1: orjson.dumps({"kase": KASE})},
        }
        self.stats: dict[str, int] = {}

    def count_call(self, kind: str) -> None:
        self.stats[kind] = self.stats.get(kind, 0) + 1

    def page(self, page: int, per_page: int, open_tasks: bool) -> tuple[bytes, str | None]:
        """The body and the Link header of one task page, built on first use and kept."""
        key = (page, per_page, open_tasks)
        cached = self.pages.get(key)
        if cached is None:
            items = self.tasks if open_tasks else []
            begin = (page - 1) * per_page
            body = orjson.dumps({"tasks": items[begin:begin + per_page]})
            link = None
            if begin + per_page < len(items):
                status = "open" if open_tasks else "completed"
                link = (f'<{self.base}/api/v2/tasks?page={page + 1}&perPage={per_page}'
                        f'&status={status}>; rel="next"')
            cached = self.pages[key] = (body, link)
        return cached


CANNED = web.AppKey("canned", Canned)


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def _number(raw: str | None, default: int, lo: int, hi: int) -> int:
    if raw is None or not raw.isdigit():
        return default
    return max(lo, min(hi, int(raw)))


@web.middleware
async def _bearer_only(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/api/") and not request.headers.get("Authorization", "").startswith("Bearer "):
        request.app[CANNED].count_call("unauthorized")
        return _json(UNAUTHORIZED, 401)
    return await handler(request)


async def get_task(request: web.Request) -> web.Response:
    canned = request.app[CANNED]
    canned.count_call("GET /tasks/{id}")
    raw = request.match_info["id"]
    body = canned.one.get(int(raw)) if raw.isdigit() else None
    return _json(body) if body is not None else _json(NOT_FOUND, 404)


async def list_tasks(request: web.Request) -> web.Response:
    canned = request.app[CANNED]
    canned.count_call("GET /tasks?page")
    query = request.query
    page = _number(query.get("page"), 1, 1, 1_000_000)
    per_page = _number(query.get("perPage"), 50, 1, MAX_PER_PAGE)
    statuses = (query.get("status") or "open").lower().split(",")
    body, link = canned.page(page, per_page, "open" in statuses)
    return _json(body, headers={"Link": link} if link else None)


async def create_task(request: web.Request) -> web.Response:
    canned = request.app[CANNED]
    canned.count_call("POST /tasks")
    await request.read()
    return _json(canned.created, 201, {"Location": f"{canned.base}/api/v2/tasks/{canned.created_id}"})


async def update_task(request: web.Request) -> web.Response:
    canned = request.app[CANNED]
    canned.count_call("PUT /tasks/{id}")
    await request.read()
    raw = request.match_info["id"]
    body = canned.one.get(int(raw)) if raw.isdigit() else None
    return _json(body) if body is not None else _json(NOT_FOUND, 404)


async def delete_task(request: web.Request) -> web.Response:
    request.app[CANNED].count_call("DELETE /tasks/{id}")
    return web.Response(status=204)


def _fixed(kind: str, label: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        canned = request.app[CANNED]
        canned.count_call(label)
        return _json(canned.fixed[kind])
    return handler


def _record(kind: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        canned = request.app[CANNED]
        canned.count_call(f"GET /{kind}/{{id}}")
        raw = request.match_info["id"]
        body = canned.records[kind].get(int(raw)) if raw.isdigit() else None
        return _json(body) if body is not None else _json(NOT_FOUND, 404)
    return handler


async def stats(request: web.Request) -> web.Response:
    canned = request.app[CANNED]
    counts = dict(canned.stats)
    if request.query.get("reset"):
        canned.stats.clear()
    return _json(orjson.dumps({"calls": counts, "total": sum(v for k, v in counts.items())}))


def create_app(tasks: int = DEFAULT_TASKS) -> web.Application:
    app = web.Application(middlewares=[_bearer_only])
    app[CANNED] = Canned(tasks)
    app.router.add_get("/api/v2/tasks/{id}", get_task)
    app.router.add_put("/api/v2/tasks/{id}", update_task)
    app.router.add_delete("/api/v2/tasks/{id}", delete_task)
    app.router.add_get("/api/v2/tasks", list_tasks)
    app.router.add_post("/api/v2/tasks", create_task)
    app.router.add_get("/api/v2/users/current", _fixed("users_current", "GET /users/current"))
    app.router.add_get("/api/v2/users", _fixed("users", "GET /users"))
    app.router.add_get("/api/v2/categories", _fixed("categories", "GET /categories"))
    for kind in ("parties", "opportunities", "kases"):
        app.router.add_get(f"/api/v2/{kind}/{{id}}", _record(kind))
    app.router.add_get("/_stats", stats)
    return app


async def serve(host: str, port: int, tasks: int) -> None:
    app = create_app(tasks)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=300, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=4096)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    app[CANNED].base = f"http://{shown}:{bound_port}"
    print(f"canned v2 upstream listening on {app[CANNED].base} ({tasks} tasks)", flush=True)
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
    parser.add_argument("--tasks", type=int, default=DEFAULT_TASKS, help="tasks in the list (1000)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, max(1, args.tasks)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
