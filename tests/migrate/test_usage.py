"""The usage inventory: right under concurrency, kept across a restart, never holding a token."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import re
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


# --- bounds, snapshot, Prometheus, 501s: through the real proxy in front of the emulator ---

from collections import Counter as Tally  # noqa: E402

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from tests.proxy.conftest import make_proxy, recorder, seed_text, upstream  # noqa: E402,F401


def _auth(token: str, agent: str) -> dict[str, str]:
    return {"Authorization": _basic(token), "User-Agent": agent}


def _digest(salt: str, token: str) -> str:
    return hmac.new(salt.encode(), token.encode(), hashlib.sha256).hexdigest()[:8]


async def _v1_calls(client: Any) -> dict[tuple[str, str, str, str], float]:
    """capsule_proxy_v1_calls_total from /metrics, by (route, method, status_class, client)."""
    text = await (await client.get("/metrics")).text()
    return {(s.labels["route"], s.labels["method"], s.labels["status_class"], s.labels["client"]): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "capsule_proxy_v1_calls_total"}


async def test_junk_clients_cannot_push_a_real_client_out(make_proxy):
    from tests.conftest import untranslated_call
    method, untranslated, _ = untranslated_call()
    proxy = await make_proxy(usage={"max_clients": 2})
    real = _auth("tok-phillip", "billing/2.0")
    assert (await proxy.get("/api/task/1", headers=real)).status == 200
    for index in range(15):
        junk = {"User-Agent": f"junk/{index}"}
        assert (await proxy.get("/api/task/1", headers={**junk, "Authorization": _basic(f"tok-junk-{index}")})
                ).status == 401                               # the upstream refuses the token
        assert (await proxy.get("/api/task/1", headers=junk)).status == 401          # no token at all
        assert (await proxy.request(method, untranslated, headers={**junk, "Authorization": _basic(f"tok-junk-{index}")})
                ).status == 501                               # never reaches the upstream
    assert (await proxy.get("/api/task/1", headers=real)).status == 200
    assert (await proxy.get("/api/tasks", headers=_auth("tok-sofia", "crm-sync/4"))).status == 200
    assert (await proxy.get("/api/tasks", headers=_auth("tok-sofia", "late/1"))).status == 200   # no room
    body = await (await proxy.get("/_proxy/usage")).json()
    by_client = Tally()
    for row in body["calls"]:
        by_client[row["client"]] += row["count"]
    salt = usage.inventory_of(proxy.app)._salt
    assert by_client == {f"billing/2.0 #{_digest(salt, 'tok-phillip')}": 2,
                         f"crm-sync/4 #{_digest(salt, 'tok-sofia')}": 1, usage.OTHER_CLIENTS: 46}
    assert body["clients"] == 3 and body["total"] == 49


async def test_the_answer_is_bounded_and_comes_from_a_snapshot(make_proxy):
    proxy = await make_proxy()
    inventory = usage.inventory_of(proxy.app)
    now = [1000.0]
    inventory.monotonic = lambda: now[0]
    assert (await proxy.get("/api/task/1", headers=_auth("tok-phillip", "billing/2.0"))).status == 200
    for index in range(250):                                  # 199 more clients, then 51 beyond the bound
        inventory(record(agent=f"job/{index}", token=f"tok-job-{index}"))
    response = await proxy.get("/_proxy/usage")
    body = await response.json()
    assert len(body["calls"]) == usage.DEFAULT_LIMIT and len(await response.read()) < 40_000
    assert (body["total"], body["rows"], body["clients"], body["otherClientsCalls"]) == (251, 201, 201, 51)
    assert body["calls"][0]["client"] == usage.OTHER_CLIENTS and body["calls"][0]["count"] == 51
    assert len((await (await proxy.get("/_proxy/usage?limit=5")).json())["calls"]) == 5
    for bad in ("0", "x", "1001", "-1", "٣"):
        assert (await proxy.get("/_proxy/usage", params={"limit": bad})).status == 400
    assert inventory.snapshot_builds == 1                    # every answer so far: one walk of the table
    for _ in range(20):                                       # polled while counting: no rebuild within the TTL
        inventory(record())
        assert (await (await proxy.get("/_proxy/usage")).json())["total"] == 251
    assert inventory.snapshot_builds == 1
    now[0] += usage.SNAPSHOT_TTL
    assert (await (await proxy.get("/_proxy/usage")).json())["total"] == 271
    now[0] += usage.SNAPSHOT_TTL                              # old enough, but nothing changed
    await proxy.get("/_proxy/usage?limit=7")
    assert inventory.snapshot_builds == 2


async def test_an_untranslated_call_is_counted_under_its_template(make_proxy):
    from tests.conftest import untranslated_call
    method, path, label = untranslated_call()
    proxy = await make_proxy(usage={"salt": "s"})
    legacy, fresh = _auth("tok-phillip", "legacy-crm/3"), _auth("tok-sofia", "fresh/1")
    assert (await proxy.get("/api/task/1", headers=legacy)).status == 200
    assert (await proxy.request(method, path, headers=legacy)).status == 501
    assert (await proxy.get("/api/never/was/v1", headers=legacy)).status == 404
    assert (await proxy.request(method, path, headers=fresh)).status == 501     # before any success of its own
    body = await (await proxy.get("/_proxy/usage")).json()
    rows = {(c["route"], c["status"], c["client"]): c["count"] for c in body["calls"]}
    client = f"legacy-crm/3 #{_digest('s', 'tok-phillip')}"
    assert rows == {("/api/task/{id}", 200, client): 1, (label, 501, client): 1,
                    ("unmatched", 404, client): 1,
                    (label, 501, usage.OTHER_CLIENTS): 1}     # its route is still shown
    calls = await _v1_calls(proxy)
    assert calls[(label, method, "5xx", _digest("s", "tok-phillip"))] == 1
    assert calls[(label, method, "5xx", usage.OTHER_LABEL)] == 1


async def test_the_counter_is_bounded_and_names_no_token(make_proxy):
    proxy = await make_proxy(usage={"max_clients": 3, "salt": "s"})
    inventory = usage.inventory_of(proxy.app)
    assert (await proxy.get("/api/task/1", headers=_auth("tok-phillip", "a"))).status == 200
    for index in range(20):                                   # 20 tokens the upstream accepted
        inventory(record(agent=f"bot/{index}", token=f"{SECRET}-{index}"))
    assert (await proxy.get("/api/task/1", headers=_auth("tok-nobody", "b"))).status == 401
    calls = await _v1_calls(proxy)
    labels = {key[3] for key in calls}
    assert len(labels) == 4 and usage.OTHER_LABEL in labels and _digest("s", "tok-phillip") in labels
    assert all(re.fullmatch(r"[0-9a-f]{8}", label) for label in labels - {usage.OTHER_LABEL})
    assert {key[0] for key in calls} == {"/api/task/{id}", ROUTE} and {key[2] for key in calls} == {"2xx", "4xx"}
    assert sum(calls.values()) == 22
    text = await (await proxy.get("/metrics")).text()
    assert "# TYPE capsule_proxy_v1_calls_total counter" in text
    assert not _leaks(text) and "tok-phillip" not in text and "tok-nobody" not in text


async def test_a_fleet_of_sidecars_adds_up_in_prometheus(make_proxy):
    """Each sidecar counts its own calls; with one salt, a client has one label fleet-wide, so
    Prometheus' sum over the sidecars is the fleet's usage."""
    from tests.conftest import untranslated_call
    method, untranslated, label = untranslated_call()
    sidecars = [await make_proxy(usage={"salt": "fleet-salt"}) for _ in range(2)]
    billing, sync = _auth("tok-phillip", "billing/2.0"), _auth("tok-sofia", "crm-sync/4")
    for sidecar, times in zip(sidecars, (3, 5)):
        for _ in range(times):
            assert (await sidecar.get("/api/task/1", headers=billing)).status == 200
    assert (await sidecars[1].get("/api/tasks", headers=sync)).status == 200
    assert (await sidecars[0].request(method, untranslated, headers=billing)).status == 501
    assert (await sidecars[1].get("/api/task/1", headers={"User-Agent": "junk"})).status == 401
    summed: Tally[tuple[str, str, str, str]] = Tally()
    for sidecar in sidecars:
        summed.update(await _v1_calls(sidecar))
    phillip, sofia = _digest("fleet-salt", "tok-phillip"), _digest("fleet-salt", "tok-sofia")
    assert summed == {("/api/task/{id}", "GET", "2xx", phillip): 8, ("/api/tasks", "GET", "2xx", sofia): 1,
                      (label, method, "5xx", phillip): 1,
                      ("/api/task/{id}", "GET", "4xx", usage.OTHER_LABEL): 1}
    totals = [(await (await sidecar.get("/_proxy/usage")).json())["total"] for sidecar in sidecars]
    assert sum(totals) == sum(summed.values()) == 11


# --- the file stays bounded across workers, and older files are read ---

async def test_workers_sharing_a_file_stay_within_the_client_bound(tmp_path):
    path = tmp_path / "usage.json"
    workers = [UsageInventory(path=path, max_clients=2) for _ in range(3)]
    for index, worker in enumerate(workers):
        for _ in range(index + 1):
            worker(record(agent=f"worker-{index}-client"))    # each admits a client of its own
    for worker in workers:
        await worker.save()
    on_disk = usage.file_snapshot(path)
    assert on_disk["total"] == 6 and on_disk["clients"] == 3  # two clients and "(other clients)"
    assert {c["userAgent"]: c["count"] for c in on_disk["calls"]} == {
        "worker-0-client": 1, "worker-1-client": 2, usage.OTHER_CLIENTS: 3}
    workers[2](record(agent="worker-2-client"))               # its client did not make it into the file
    await workers[2].save()
    top = workers[2].snapshot()["calls"][0]
    assert (top["userAgent"], top["count"]) == (usage.OTHER_CLIENTS, 4)


def test_an_older_file_with_too_many_clients_keeps_the_most_called(tmp_path):
    path = tmp_path / "usage.json"
    calls = [{"method": "GET", "route": ROUTE, "status": 200, "client": f"c{n} #0000000{n}", "userAgent": f"c{n}",
              "tokenHash": f"0000000{n}", "count": n, "firstSeen": "2026-01-02T15:04:05Z",
              "lastSeen": "2026-01-03T15:04:05Z"} for n in range(1, 6)]
    calls.append({**calls[0], "status": 401, "client": "curl #anonymous", "userAgent": "curl",
                  "tokenHash": "anonymous", "count": 9})      # written by the version that kept these
    path.write_text(json.dumps({"version": 1, "since": "2026-01-02T15:04:05Z", "salt": "old", "calls": calls}))
    inventory = UsageInventory(path=path, max_clients=2)
    assert {(c["userAgent"], c["status"]): c["count"] for c in inventory.snapshot()["calls"]} == {
        ("c5", 200): 5, ("c4", 200): 4, (usage.OTHER_CLIENTS, 200): 6, (usage.OTHER_CLIENTS, 401): 9}
    assert inventory.token_hash("x") == _digest("old", "x")
