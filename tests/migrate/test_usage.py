"""The usage inventory: right under concurrency, kept across a restart, never holding a token."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
from typing import Any

import pytest
from aiohttp import web

from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings
from proxy.migrate import usage
from proxy.migrate.usage import UsageInventory
from proxy.observe import RequestRecord, notify

from .helpers import run

SECRET = "tok-SECRET-7f3a9c"          # distinctive, so a leak is found by plain text search
OTHER = "tok-SECRET-other-51bd"
ROUTE = "/api/party/{id}/tasks"


def record(route: str = ROUTE, *, token: str | None = SECRET, agent: str = "invoicing-job/1.2",
           method: str = "GET", status: int = 200) -> RequestRecord:
    return RequestRecord(request_id="r", client="10.0.0.1", user_agent=agent, method=method, route=route,
                         status=status, duration=0.01, upstream_calls=1, bytes_in=0, bytes_out=10, token=token)


def _leaks(text: str) -> bool:
    return SECRET in text or OTHER in text


# --- counting ---

def test_calls_are_counted_by_method_route_status_and_client():
    inventory = UsageInventory(salt="pepper")
    for _ in range(3):
        inventory(record())
    inventory(record(status=404))
    inventory(record(token=OTHER))
    inventory(record(token=None, status=401))
    inventory(record("/api/task/{id}", method="PUT"))
    digest = hmac.new(b"pepper", SECRET.encode(), hashlib.sha256).hexdigest()[:8]
    calls = inventory.snapshot()["calls"]
    assert calls[0] == {"method": "GET", "route": ROUTE, "status": 200, "client": f"invoicing-job/1.2 #{digest}",
                        "userAgent": "invoicing-job/1.2", "tokenHash": digest, "count": 3,
                        "firstSeen": calls[0]["firstSeen"], "lastSeen": calls[0]["lastSeen"]}
    assert {(c["method"], c["status"], c["tokenHash"], c["count"]) for c in calls[1:]} == {
        ("GET", 404, digest, 1), ("GET", 200, inventory.token_hash(OTHER), 1), ("GET", 401, "anonymous", 1),
        ("PUT", 200, digest, 1)}
    assert inventory.snapshot()["total"] == 7 and inventory.snapshot()["clients"] == 3


def test_only_v1_api_calls_are_counted():
    inventory = UsageInventory()
    inventory(record("/healthz", token=None))
    inventory(record("/readyz", token=None))
    inventory(record("/_proxy/usage", token=None))
    inventory(record("unmatched", token=None))               # /favicon.ico and the like
    assert inventory.snapshot()["calls"] == []
    inventory(record("unmatched", status=404))               # an authenticated v1 call the proxy lacks
    assert [c["route"] for c in inventory.snapshot()["calls"]] == ["unmatched"]


def test_user_agents_are_cleaned_and_never_carry_the_token():
    inventory = UsageInventory()
    inventory(record(agent=f"job\r\n\x00with {SECRET} inside" + "x" * 500))
    inventory(record(agent=""))
    cleaned, empty = sorted((c["userAgent"] for c in inventory.snapshot()["calls"]), key=len, reverse=True)
    assert cleaned.startswith("job with *** insidexxx") and len(cleaned) == usage.MAX_USER_AGENT
    assert empty == "(no user agent)"
    assert not _leaks(json.dumps(inventory.snapshot()))


def test_a_client_is_admitted_after_a_success_and_the_rest_count_as_other():
    inventory = UsageInventory(salt="s", max_clients=2)
    inventory(record(agent="a", status=401))                 # not yet a success: maybe junk
    inventory(record(agent="a"))                             # admitted
    inventory(record(agent="b", token=OTHER, status=201))    # admitted: the bound is reached
    inventory(record(agent="c", token="tok-c"))              # no room left
    inventory(record(agent="a", token=None, status=401))     # anonymous: never a client
    inventory(record(agent="a", status=500))                 # an admitted client keeps its failures
    calls = {(c["userAgent"], c["status"]): c["count"] for c in inventory.snapshot()["calls"]}
    assert calls == {(usage.OTHER_CLIENTS, 401): 2, ("a", 200): 1, ("b", 201): 1, (usage.OTHER_CLIENTS, 200): 1,
                     ("a", 500): 1}
    assert inventory.snapshot()["clients"] == 3              # a, b and "(other clients)"


def test_an_accepted_token_admits_its_other_agents_within_a_bound():
    inventory = UsageInventory(salt="s")
    inventory(record(agent="job/1"))
    inventory(record(agent="job/2", status=501))             # the token already succeeded: same caller
    for index in range(3, 40):
        inventory(record(agent=f"job/{index}"))
    agents = {c["userAgent"] for c in inventory.snapshot()["calls"]}
    assert "job/2" in agents and usage.OTHER_AGENTS in agents
    assert len(agents) == usage.MAX_AGENTS_PER_TOKEN + 1


def test_rows_are_bounded_and_odd_methods_are_one():
    inventory = UsageInventory(salt="s", max_rows=3)
    for route in ("/api/a", "/api/b", "/api/c", "/api/d", "/api/e"):
        inventory(record(route))
    inventory(record(method="BREW"))
    inventory(record(method="WHEN"))
    calls = {(c["method"], c["route"], c["userAgent"]): c["count"] for c in inventory.snapshot()["calls"]}
    assert len([key for key in calls if key[2] != usage.OTHER_CLIENTS]) == 3
    assert calls[("OTHER", ROUTE, usage.OTHER_CLIENTS)] == 2
    assert sum(calls.values()) == 7


def _harness(observers: list[Any]) -> web.Application:
    """A tiny app whose middleware reports RequestRecords the way the v1 middleware does."""
    @web.middleware
    async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as exc:
            response, status = exc, exc.status
        resource = request.match_info.route.resource
        header = request.headers.get("Authorization", "")
        token = base64.b64decode(header[6:]).decode().partition(":")[0] if header.startswith("Basic ") else None
        notify(observers, RequestRecord("id", "peer", request.headers.get("User-Agent", ""), request.method,
                                        resource.canonical if resource is not None else "unmatched",
                                        status, 0.0, 0, 0, 0, token))
        if isinstance(response, web.HTTPException):
            raise response
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(random.random() / 100)
        return web.Response(text="ok")

    app = web.Application(middlewares=[observe])
    app.router.add_get("/api/task/{id}", slow)
    app.router.add_get(ROUTE, slow)
    return app


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"{token}:x".encode()).decode()


async def test_counts_are_exact_under_concurrency_with_saves_in_between(aiohttp_client, tmp_path):
    inventory = UsageInventory(path=tmp_path / "usage.json", save_interval=0.005)
    client = await aiohttp_client(_harness([inventory]))
    saver = asyncio.create_task(inventory.autosave())
    clients = [("billing/2.0", SECRET), ("invoicing-job/1.2", OTHER), ("cron", SECRET)]

    async def call(index: int) -> None:
        agent, token = clients[index % 3]
        path = f"/api/party/{index}/tasks" if index % 2 else f"/api/task/{index}"
        response = await client.get(path, headers={"User-Agent": agent, "Authorization": _basic(token)})
        assert response.status == 200

    await asyncio.gather(*(call(i) for i in range(600)))
    saver.cancel()
    await inventory.save()
    counts = {(c["userAgent"], c["route"]): c["count"] for c in inventory.snapshot()["calls"]}
    assert sum(counts.values()) == 600
    assert counts == {(agent, route): 100 for agent, _ in clients for route in ("/api/task/{id}", ROUTE)}
    on_disk = usage.file_snapshot(tmp_path / "usage.json")
    assert on_disk["total"] == 600 and on_disk["calls"] == inventory.snapshot()["calls"]


# --- persistence ---

async def test_counts_and_client_hashes_survive_a_restart(tmp_path):
    path = tmp_path / "usage.json"
    first = UsageInventory(path=path)
    for _ in range(4):
        first(record())
    await first.save()
    hashed = first.token_hash(SECRET)

    second = UsageInventory(path=path)                       # the restarted proxy
    assert second.token_hash(SECRET) == hashed               # the salt was kept in the file
    assert second.snapshot()["calls"] == first.snapshot()["calls"]
    second(record())
    await second.save()
    assert UsageInventory(path=path).snapshot()["calls"][0]["count"] == 5


async def test_a_configured_salt_is_used_and_not_written(tmp_path):
    path = tmp_path / "usage.json"
    inventory = UsageInventory(salt="from-config", path=path)
    inventory(record())
    await inventory.save()
    data = json.loads(path.read_text())
    assert "salt" not in data and "from-config" not in path.read_text()
    assert data["calls"][0]["tokenHash"] == hmac.new(b"from-config", SECRET.encode(), hashlib.sha256).hexdigest()[:8]


async def test_workers_sharing_a_file_add_up(tmp_path):
    path = tmp_path / "usage.json"
    workers = [UsageInventory(path=path) for _ in range(3)]
    assert len({worker.token_hash(SECRET) for worker in workers}) == 1   # one salt for all
    for index, worker in enumerate(workers, 1):
        for _ in range(index):
            worker(record())
    await asyncio.gather(*(worker.save() for worker in workers))
    assert usage.file_snapshot(path)["total"] == 6
    workers[0](record())
    await workers[0].save()
    assert workers[0].snapshot()["total"] == 7                # its view includes the others' saves


async def test_a_failed_save_keeps_the_counts_for_the_next(tmp_path, caplog):
    path = tmp_path / "later" / "usage.json"
    inventory = UsageInventory(path=path)
    inventory(record())
    with caplog.at_level(logging.WARNING, logger="capsule_proxy.usage"):
        await inventory.save()
    assert "cannot be written" in caplog.text
    path.parent.mkdir()
    inventory(record())
    await inventory.save()
    assert usage.file_snapshot(path)["total"] == 2


def test_a_corrupt_file_is_moved_aside(tmp_path, caplog):
    path = tmp_path / "usage.json"
    path.write_text("{ not json")
    with caplog.at_level(logging.WARNING, logger="capsule_proxy.usage"):
        inventory = UsageInventory(path=path)
    assert inventory.snapshot()["calls"] == []
    assert (tmp_path / "usage.json.corrupt").read_text() == "{ not json"
    assert "moved aside" in caplog.text


async def test_no_token_in_the_file_the_json_the_table_or_the_logs(tmp_path, caplog):
    path = tmp_path / "usage.json"
    with caplog.at_level(logging.DEBUG):
        inventory = UsageInventory(path=path)
        inventory(record(agent=f"bot {SECRET}"))
        inventory(record(token=OTHER))
        await inventory.save()
    assert not _leaks(path.read_text())
    assert not _leaks(json.dumps(inventory.snapshot()))
    assert not _leaks(usage.table(inventory.snapshot()))
    assert not _leaks(caplog.text)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


# --- the proxy side: GET /_proxy/usage, the observer, the lifecycle ---

async def test_install_serves_the_inventory_and_saves_at_shutdown(aiohttp_client, tmp_path):
    settings = load_settings(environ={}, flags={"usage": {"file": str(tmp_path / "usage.json")}})
    app = create_proxy_app(settings, "http://127.0.0.1:9")   # create_app installs the inventory
    inventory = usage.inventory_of(app)
    assert usage.install(app) is inventory                    # installing again changes nothing
    from proxy.keys import SERVICES
    assert inventory in app[SERVICES].observers
    client = await aiohttp_client(app)
    inventory(record())
    inventory(record())
    response = await client.get("/_proxy/usage")
    assert response.status == 200
    body = await response.json()
    assert body["total"] == 2 and body["calls"][0]["route"] == ROUTE
    assert not _leaks(json.dumps(body))
    await client.close()                                      # cleanup: the last save
    assert usage.file_snapshot(tmp_path / "usage.json")["total"] == 2


def test_install_reads_the_usage_settings(tmp_path):
    settings = load_settings(environ={}, flags={"usage": {"file": str(tmp_path / "u.json"), "salt": "s",
                                                          "max_clients": 7}})
    inventory = usage.from_settings(settings)
    assert inventory.path == tmp_path / "u.json" and inventory.max_clients == 7
    assert inventory.token_hash("x") == hmac.new(b"s", b"x", hashlib.sha256).hexdigest()[:8]


async def test_the_real_proxy_reports_its_requests_to_the_inventory(aiohttp_client, upstream_emulator):
    """End to end through the v1 middleware, which reports every request to Services.observers."""
    app = create_proxy_app(load_settings(environ={}), upstream_emulator)
    inventory = usage.install(app, UsageInventory())
    client = await aiohttp_client(app)
    headers = {"Authorization": _basic("tok-phillip"), "User-Agent": "legacy-crm/3"}
    await asyncio.gather(*(client.get(f"/api/party/1/tasks?start={i}", headers=headers) for i in range(20)))
    await client.get("/healthz")
    [row] = inventory.snapshot()["calls"]                     # /healthz is not counted
    # The middleware reports aiohttp's canonical template; /api/party/{id}/tasks once it fills in {kind}.
    assert row["route"] in (ROUTE, "/api/{kind}/{id}/tasks")
    assert (row["method"], row["status"], row["count"]) == ("GET", 200, 20)
    assert row["client"].startswith("legacy-crm/3 #") and "tok-phillip" not in json.dumps(row)


@pytest.fixture
async def upstream_emulator(aiohttp_server):
    from proxy.emulator.app import create_app
    from proxy.emulator.seed import load_seed
    server = await aiohttp_server(create_app(load_seed(None)))
    return str(server.make_url("")).rstrip("/")


# --- capsule-proxy usage ---

def _snapshot_with_counts() -> dict[str, Any]:
    inventory = UsageInventory(salt="s")
    for _ in range(4000):
        inventory(record())
    for _ in range(12):
        inventory(record("/api/task/{id}", method="PUT", agent="crm-sync"))
    return inventory.snapshot()


def test_the_table_lists_the_most_called_first():
    text = usage.table(_snapshot_with_counts())
    lines = text.splitlines()
    assert lines[0].split() == ["COUNT", "METHOD", "ROUTE", "STATUS", "CLIENT", "LAST", "SEEN"]
    assert lines[1].split()[:4] == ["4,000", "GET", ROUTE, "200"]
    assert lines[2].split()[:4] == ["12", "PUT", "/api/task/{id}", "200"]
    assert "4,012 v1 calls since" in text
    assert "1 more rows not shown" in usage.table(_snapshot_with_counts(), limit=1)
    assert "no v1 calls counted" in usage.table(UsageInventory().snapshot())


async def test_the_command_reads_a_running_proxy(aiohttp_server):
    app = web.Application()
    app[usage.USAGE] = UsageInventory(salt="s")
    for _ in range(3):
        app[usage.USAGE](record())
    app.router.add_get("/_proxy/usage", usage.usage_handler)
    server = await aiohttp_server(app)
    url = str(server.make_url("")).rstrip("/")
    status, out, err = await asyncio.to_thread(run, "usage", "--url", url)
    assert status == 0, err
    assert out.decode().splitlines()[1].split()[:4] == ["3", "GET", ROUTE, "200"]
    status, out, _ = await asyncio.to_thread(run, "usage", "--url", url + "/_proxy/usage", "--json")
    assert status == 0 and json.loads(out)["total"] == 3


async def test_the_command_explains_a_proxy_without_the_inventory(aiohttp_server):
    server = await aiohttp_server(web.Application())
    status, out, err = await asyncio.to_thread(run, "usage", "--url", str(server.make_url("")))
    assert status == 1 and out == b""
    assert "answered 404 (is the usage inventory wired into this proxy?" in err


def test_the_command_reports_an_unreachable_proxy():
    status, _, err = run("usage", "--url", "http://127.0.0.1:9")
    assert status == 1 and "cannot read the inventory" in err


async def test_the_command_reads_a_usage_file(tmp_path):
    inventory = UsageInventory(path=tmp_path / "usage.json")
    inventory(record())
    await inventory.save()
    status, out, _ = run("usage", "--file", str(tmp_path / "usage.json"))
    assert status == 0 and ROUTE in out.decode() and not _leaks(out.decode())
    assert run("usage", "--file", str(tmp_path / "missing.json"))[0] == 1
    (tmp_path / "bad.json").write_text("[]")
    assert run("usage", "--file", str(tmp_path / "bad.json"))[0] == 1


def test_the_command_refuses_bad_options():
    assert run("usage", "--url", "ftp://x")[0] == 2
    assert run("usage", "--url", "http://x", "--limit", "0")[0] == 2
    assert run("usage", "--url", "http://x", "--limit", "1001")[0] == 2
    with pytest.raises(SystemExit):
        run("usage")                                           # --url or --file is required


async def test_the_ops_app_serves_the_main_apps_inventory(aiohttp_client):
    from proxy import ops
    main = create_proxy_app(load_settings(environ={}, flags={"ops": {"port": 9}}), "http://127.0.0.1:9")
    usage.inventory_of(main)(record())
    client = await aiohttp_client(ops.create_ops_app(main))
    assert (await (await client.get("/_proxy/usage")).json())["total"] == 1


async def test_static_mode_clients_are_told_apart(aiohttp_client, upstream_emulator):
    settings = load_settings(environ={}, flags={"auth": {"mode": "static", "static_token": "tok-phillip",
                                                         "allowed_clients": ["old-a", "old-b"]}})
    app = create_proxy_app(settings, upstream_emulator)
    inventory = usage.install(app, UsageInventory())
    client = await aiohttp_client(app)
    for token in ("old-a", "old-b"):
        response = await client.get("/api/task/1", headers={"Authorization": _basic(token), "User-Agent": "same"})
        assert response.status == 200
    assert len(inventory.snapshot()["calls"]) == 2


async def test_cancelling_a_save_under_way_loses_nothing(tmp_path, monkeypatch):
    import time as time_module
    path = tmp_path / "usage.json"
    inventory = UsageInventory(path=path)
    slow = inventory._save_batch
    monkeypatch.setattr(inventory, "_save_batch", lambda batch: (time_module.sleep(0.1), slow(batch))[1])
    for _ in range(5):
        inventory(record())
    saving = asyncio.create_task(inventory.save())
    await asyncio.sleep(0.02)                                  # the thread is writing
    saving.cancel()
    inventory(record())
    await inventory.save()                                     # waits for it, then saves the rest
    assert usage.file_snapshot(path)["total"] == 6
    assert inventory.snapshot()["total"] == 6
