"""The usage inventory: which v1 routes each client still calls, and how often (docs/decisions.md M3).

Three modules, one concern each:

* `usage_inventory.py`: counting, bounded by clients and rows; the Prometheus counter; the snapshot;
* `usage_store.py`: the JSON file, its lock, atomic writes, and the bounded merge with other workers;
* this module: `GET /_proxy/usage`, `install` into the proxy app, the text table, and the names
  the rest of the proxy imports (`from proxy.migrate import usage`).

`install` counts the main app's requests (the observer), exports the Prometheus counter into
the app's metrics registry, and saves the file while the app runs. `GET /_proxy/usage` is
served where the operational endpoints are: on the ops listener when `[ops] port` is set
(`add_routes`, called by `proxy.ops.create_ops_app`), else on the main port, without auth in
both places.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any, AsyncIterator

from aiohttp import web

from ..keys import SERVICES
# Re-exported: the command line and the tests reach the inventory through this module.
from .usage_inventory import (DEFAULT_LIMIT, MAX_AGENTS_PER_TOKEN, MAX_LIMIT, MAX_USER_AGENT,  # noqa: F401
                              OTHER_AGENTS, OTHER_LABEL, SNAPSHOT_TTL, UsageInventory, file_snapshot)
from .usage_store import OTHER_CLIENTS, UsageFileError  # noqa: F401

USAGE = web.AppKey("capsule_usage_inventory", UsageInventory)
PATH = "/_proxy/usage"
_LIMIT = re.compile(r"[0-9]{1,7}\Z")


def inventory_of(app: web.Application) -> UsageInventory | None:
    """The app's inventory (`install` and `add_routes` put it there), or None."""
    return app.get(USAGE)


async def usage_handler(request: web.Request) -> web.Response:
    """`GET /_proxy/usage[?limit=N]`: totals and the N most-called rows (default 100), as JSON,
    from the inventory's snapshot (404 when the app counts nothing)."""
    inventory = inventory_of(request.app)
    if inventory is None:
        return web.json_response({"message": "this proxy keeps no usage inventory"}, status=404)
    limit = DEFAULT_LIMIT
    raw = request.query.get("limit")
    if raw is not None:
        if not _LIMIT.match(raw) or not 1 <= int(raw) <= MAX_LIMIT:
            return web.json_response({"message": f"limit must be a whole number from 1 to {MAX_LIMIT}"},
                                     status=400)
        limit = int(raw)
    return web.Response(body=inventory.answer(limit), content_type="application/json", charset="utf-8")


def add_routes(app: web.Application, inventory: UsageInventory) -> None:
    """Serve `GET /_proxy/usage` for `inventory` on `app` (the main app, or the ops listener's)."""
    app[USAGE] = inventory
    app.router.add_get(PATH, usage_handler)


async def usage_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: save periodically while the app runs, and once more when it stops."""
    inventory = app[USAGE]
    task = asyncio.create_task(inventory.autosave()) if inventory.path is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await inventory.save()


def from_settings(settings: Any) -> UsageInventory:
    """The inventory the `[usage]` settings describe."""
    return UsageInventory(salt=settings.get("usage", "salt"), path=settings.get("usage", "file") or None,
                          max_clients=settings.get("usage", "max_clients"))


def install(app: web.Application, inventory: UsageInventory | None = None) -> UsageInventory:
    """Count the main app's requests: the observer, the counter, the saving, and `GET /_proxy/usage`
    unless an ops listener serves it (`[ops] port`). Installing twice changes nothing."""
    if USAGE in app:
        return app[USAGE]
    services = app[SERVICES]
    inventory = inventory or from_settings(services.settings)
    services.observers.append(inventory)
    inventory.export(services.metrics.registry)
    app.cleanup_ctx.append(usage_context)
    app[USAGE] = inventory
    if not services.settings.get("ops", "port"):   # else proxy.ops serves it on the ops listener
        app.router.add_get(PATH, usage_handler)
    return inventory


def table(snapshot: dict[str, Any], limit: int | None = None) -> str:
    """The inventory as a plain-text table, most-called first."""
    calls = list(snapshot.get("calls") or [])
    calls.sort(key=lambda row: (-int(row.get("count", 0)), str(row.get("route")), str(row.get("method")),
                                int(row.get("status", 0)), str(row.get("client"))))
    shown = calls if limit is None else calls[:limit]
    header = ("COUNT", "METHOD", "ROUTE", "STATUS", "CLIENT", "LAST SEEN")
    rows = [(f"{int(row.get('count', 0)):,}", str(row.get("method", "")), str(row.get("route", "")),
             str(row.get("status", "")), str(row.get("client", "")), str(row.get("lastSeen", "")))
            for row in shown]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
              for i in range(len(header))]
    right = {0, 3}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                         for i, cell in enumerate(cells)).rstrip()

    out = [line(header), *(line(r) for r in rows)]
    total = snapshot.get("total", sum(int(row.get("count", 0)) for row in calls))
    note = f"{total:,} v1 calls since {snapshot.get('since', '?')}"
    # A proxy's answer holds only its top rows; "rows" says how many there are in all.
    hidden = max(int(snapshot.get("rows", len(calls))), len(calls)) - len(shown)
    if hidden > 0:
        note += f" ({hidden} more rows not shown)"
    if not calls:
        note = f"no v1 calls counted since {snapshot.get('since', '?')}"
    out.append("")
    out.append(note)
    return "\n".join(out) + "\n"
