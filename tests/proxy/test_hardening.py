"""The defects outside probes found in the Task API (issue 10, sections 2-5 and 8), each held by a
test through real HTTP: the emulator as the upstream, or a fake one where a fault is needed."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from lxml import etree

from proxy import server as proxy_server
from proxy.app import create_app
from proxy.config import load_settings
from proxy.http.router import Router
from proxy.resources import RESOURCES

from .conftest import JSON, PHILLIP, SOFIA, XML_BODY, Recorder
from .test_upstream_failures import error_message, fake_proxy, fake_recorder, json_answer, v2_task  # noqa: F401

# A New York owner's tasks around the 2026 daylight-saving changes (8 March, 1 November), and one
# for Rome, so the account has two zones.
SEED = """
[site]
subdomain = "sample"
[[users]]
id = 1
username = "phillip"
timezone = "America/New_York"
token = "tok-phillip"
[[users]]
id = 2
username = "sofia"
timezone = "Europe/Rome"
token = "tok-sofia"
[[categories]]
id = 1
name = "Call"
[[categories]]
id = 2
name = "call"
[[categories]]
id = 3
name = "CALL"
[[tasks]]
id = 1
description = "In the spring-forward gap"
dueOn = 2026-03-08
dueTime = "02:30"
owner = "phillip"
[[tasks]]
id = 2
description = "An ordinary day"
dueOn = 2026-12-01
dueTime = "15:00"
owner = "phillip"
[[tasks]]
id = 3
description = "Rome"
dueOn = 2026-12-01
dueTime = "09:00"
owner = "sofia"
"""


@pytest.fixture
def seed_text() -> str:
    return SEED


async def v2(upstream, path: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer tok-phillip"}) as session:
        async with session.get(str(upstream.make_url(path))) as response:
            return await response.json()


async def task_xml(proxy, task_id: int, headers=PHILLIP) -> bytes:
    response = await proxy.get(f"/api/task/{task_id}", headers=headers)
    assert response.status == 200
    return await response.read()


def element(body: bytes, name: str) -> str | None:
    return etree.fromstring(body).findtext(name)


async def put(proxy, path: str, body: str | bytes, headers=XML_BODY):
    return await proxy.put(path, data=body, headers={**PHILLIP, **headers})


# --- 2. Time zones: one task, one instant ---------------------------------------------------------

async def test_changing_the_owner_keeps_the_instant(proxy, upstream):
    before = element(await task_xml(proxy, 2), "dueDateTime")          # 15:00 New York = 20:00Z
    response = await put(proxy, "/api/task/2", "<task><owner>sofia</owner></task>")
    assert response.status == 200, await response.text()
    stored = (await v2(upstream, "/api/v2/tasks/2"))["task"]
    assert (stored["owner"]["username"], stored["dueTime"]) == ("sofia", "21:00:00")   # 20:00Z in Rome
    assert element(await task_xml(proxy, 2, SOFIA), "dueDateTime") == before == "2026-12-01T20:00:00Z"


async def test_a_put_of_what_get_answered_changes_nothing_even_in_a_dst_gap(proxy, upstream, recorder):
    # 02:30 does not exist in New York on 8 March 2026: GET reads it as 07:30Z (T2), which is
    # 03:30 local. Writing that back must not move the task to 03:30.
    body = await task_xml(proxy, 1)
    assert element(body, "dueDateTime") == "2026-03-08T07:30:00Z"
    recorder.clear()
    response = await put(proxy, "/api/task/1", body)
    assert response.status == 200, await response.text()
    assert (await v2(upstream, "/api/v2/tasks/1"))["task"]["dueTime"] == "02:30:00"
    # The stored task was read because the day has a DST change; the users were cached by the GET.
    assert [(m, p.split("?")[0]) for m, p in recorder.calls[:-1]] == [
        ("GET", "/api/v2/tasks/1"), ("PUT", "/api/v2/tasks/1")]


async def test_the_extra_read_happens_only_where_it_is_needed(proxy, recorder):
    await task_xml(proxy, 2)                                 # warms the users' zones
    recorder.clear()
    body = "<task><owner>phillip</owner><dueDateTime>2026-12-02T20:00:00Z</dueDateTime></task>"
    assert (await put(proxy, "/api/task/2", body)).status == 200
    assert [m for m, p in recorder.calls if not p.startswith("/api/v2/users")] == ["PUT"]
    recorder.clear()
    # No owner in the document and two zones in the account: the stored owner decides.
    assert (await put(proxy, "/api/task/2", "<task><dueDateTime>2026-12-02T20:00:00Z</dueDateTime></task>")).status == 200
    assert [m for m, _ in recorder.calls] == ["GET", "PUT"]
    recorder.clear()
    # A date-only change needs no zone at all.
    assert (await put(proxy, "/api/task/2", "<task><dueDate>2026-12-03</dueDate></task>")).status == 200
    assert [m for m, _ in recorder.calls] == ["PUT"]


async def test_the_second_pass_of_a_repeated_hour_is_stored_with_a_warning(proxy, upstream, caplog):
    # 06:30Z on 1 November 2026 is 01:30 EST, the second 01:30 in New York: v2 keeps wall time only.
    with caplog.at_level(logging.WARNING):
        response = await put(proxy, "/api/task/2", "<task><owner>phillip</owner>"
                                                    "<dueDateTime>2026-11-01T06:30:00Z</dueDateTime></task>")
    assert response.status == 200
    assert "second pass of a repeated hour" in response.headers["Warning"]
    assert response.headers["Warning"].startswith('299 capsule-proxy "')
    assert (await v2(upstream, "/api/v2/tasks/2"))["task"]["dueTime"] == "01:30:00"
    assert any("second pass" in record.getMessage() for record in caplog.records)


async def test_capsule_drops_the_seconds_and_the_answer_says_so(proxy, upstream):
    response = await put(proxy, "/api/task/2", "<task><owner>phillip</owner>"
                                                "<dueDateTime>2026-12-01T20:00:48Z</dueDateTime></task>")
    assert response.status == 200
    assert "seconds are dropped" in response.headers["Warning"]
    assert (await v2(upstream, "/api/v2/tasks/2"))["task"]["dueTime"] == "15:00:00"


# --- 3. The v1 documents: what the decisions promise, the code does -------------------------------

@pytest.mark.parametrize("due, instant", [
    ("2026-12-01T20:00:00Z", "2026-12-01T20:00:00Z"),
    ("2026-12-01T20:00:00", "2026-12-01T20:00:00Z"),            # no zone: UTC, as every v1 stamp
    ("2026-12-01t20:00:00z", "2026-12-01T20:00:00Z"),
    ("2026-12-01T20:00Z", "2026-12-01T20:00:00Z"),              # HH:MM
    ("2026-12-02T01:00:00+05", "2026-12-01T20:00:00Z"),
    ("2026-12-02T01:30:00+0530", "2026-12-01T20:00:00Z"),
])
async def test_every_date_time_form_t1_promises_is_read(proxy, due, instant):
    body = f"<task><description>x</description><dueDate/><dueDateTime>{due}</dueDateTime></task>"
    response = await proxy.post("/api/task", data=body, headers={**PHILLIP, **XML_BODY})
    assert response.status == 201, await response.text()
    created = await task_xml(proxy, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert element(created, "dueDateTime") == instant


async def test_a_get_document_with_empty_read_only_elements_is_accepted(proxy):
    body = ("<task><id/><description>x</description><dueDate>2026-12-03</dueDate><partyId/><partyName/>"
            "<createdOn/><updatedOn></updatedOn><status/></task>")
    assert (await put(proxy, "/api/task/2", body)).status == 200


async def test_xsi_nil_is_read_as_empty(proxy, upstream):
    await put(proxy, "/api/task/2", "<task><detail>some</detail></task>")
    body = ('<task xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<detail xsi:nil="true"/></task>')
    assert (await put(proxy, "/api/task/2", body)).status == 200
    assert (await v2(upstream, "/api/v2/tasks/2"))["task"]["detail"] is None


async def test_xsi_nil_without_its_namespace_is_a_400_that_names_it(proxy, recorder):
    response = await put(proxy, "/api/task/2", '<task><detail xsi:nil="true"/></task>')
    assert "xsi" in await error_message(response, 400)
    assert recorder.calls == []


@pytest.mark.parametrize("encode", ["utf-16", "utf-16-be-with-bom"])
async def test_utf16_with_a_byte_order_mark_is_read(proxy, encode):
    text = "<task><description>caf\u00e9</description><dueDate>2026-12-03</dueDate></task>"
    body = text.encode("utf-16") if encode == "utf-16" else b"\xfe\xff" + text.encode("utf-16-be")
    response = await proxy.post("/api/task", data=body, headers={**PHILLIP, **XML_BODY})
    assert response.status == 201, await response.text()


async def test_messages(proxy):
    ambiguous = await proxy.post("/api/task", data="<task><description>x</description><dueDate>2026-12-03</dueDate>"
                                                   "<category>cAlL</category></task>",
                                 headers={**PHILLIP, **XML_BODY})
    assert "several task categories" in await error_message(ambiguous, 400)
    spaces = await put(proxy, "/api/task/2", "<task><description>   </description></task>")
    assert "description cannot be empty" in await error_message(spaces, 400)
    lone = await put(proxy, "/api/task/2", "<task><dueDate/></task>")
    assert "cannot clear" in await error_message(lone, 400)
    big = await proxy.post("/api/task", data=b"<task>" + b" " * (1024 * 1024 + 10) + b"</task>",
                           headers={**PHILLIP, **XML_BODY})
    assert "1048576 bytes" in await error_message(big, 413)


async def test_a_latin1_query_value_is_a_400_not_a_silent_miss(proxy, recorder):
    response = await proxy.get("/api/tasks?user=ph%E9llip", headers=PHILLIP)
    assert "user is not UTF-8" in await error_message(response, 400)
    assert recorder.calls == []


# --- 4. HTTP -------------------------------------------------------------------------------------

async def _raw(url: str, head: str, body: bytes = b"", *, read_first: bool = False) -> bytes:
    host, port = url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.encode() + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536) if read_first else reader.read(), 10)
    writer.close()
    return answer


@pytest.fixture
async def live(upstream):
    """The proxy on a real listener (raw sockets), with the project's own server setup."""
    app = create_app(load_settings(environ={}, flags={"server": {"public_url": "http://crm.example"}}),
                     str(upstream.make_url("")).rstrip("/"))
    listener = await proxy_server.start(app, "127.0.0.1", 0, 1.0)
    yield listener.url
    await listener.runner.cleanup()


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"{token}:x".encode()).decode()


async def test_a_body_whose_content_encoding_lies_is_a_v1_400(live):
    body = b"<task><description>not gzip</description></task>"
    answer = await _raw(live, f"POST /api/task HTTP/1.1\r\nHost: x\r\nAuthorization: {_basic('tok-phillip')}\r\n"
                              f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n", body)
    assert answer.startswith(b"HTTP/1.1 400") and b"<error><message>" in answer and b"gzip" in answer


async def test_an_unsupported_content_encoding_is_a_v1_415(live):
    answer = await _raw(live, f"POST /api/task HTTP/1.1\r\nHost: x\r\nAuthorization: {_basic('tok-phillip')}\r\n"
                              "Content-Encoding: br\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", b"xx")
    assert b" 415 " in answer.split(b"\r\n")[0] and b"<error><message>" in answer and b"Brotli" not in answer


async def test_a_gzipped_body_is_read(proxy):
    body = gzip.compress(b"<task><description>zipped</description><dueDate>2026-12-03</dueDate></task>")
    response = await proxy.post("/api/task", data=body,
                                headers={**PHILLIP, **XML_BODY, "Content-Encoding": "gzip"})
    assert response.status == 201


@pytest.mark.parametrize("header", ["Basic " + base64.b64encode(b"tok\x01en:x").decode(),
                                    "Basic " + base64.b64encode(b"tok\x7fen:x").decode(),
                                    "Basic " + base64.b64encode("tök:x".encode()).decode()])
async def test_control_characters_in_credentials_are_a_401_never_a_500(proxy, recorder, header):
    response = await proxy.get("/api/task/2", headers={"Authorization": header})
    await error_message(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Capsule"'
    assert recorder.calls == []


@pytest.mark.parametrize("head, status", [
    ("GET /api/task/2 HTTP/1.1\r\nHost: x\r\n", b"401"),                                  # no credentials
    ("POST /api/nothing HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n", b"404"),       # never v1
    ("POST /api/task HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 99999999\r\n", b"413"),
])
async def test_expect_100_continue_is_answered_only_after_the_checks(live, head, status):
    request = head.format(auth=_basic("tok-phillip")) + "Expect: 100-continue\r\nConnection: close\r\n\r\n"
    answer = await _raw(live, request, read_first=True)
    assert b"100 Continue" not in answer
    assert answer.split(b"\r\n")[0].split(b" ")[1] == status


async def test_expect_100_continue_is_answered_for_an_acceptable_request(live):
    body = b"<task><description>x</description><dueDate>2026-12-03</dueDate></task>"
    head = (f"POST /api/task HTTP/1.1\r\nHost: x\r\nAuthorization: {_basic('tok-phillip')}\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
    host, port = live.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.encode())
    await writer.drain()
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 100 Continue")
    writer.write(body)
    await writer.drain()
    assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 201")
    writer.close()


@pytest.mark.parametrize("path", ["/api/task/2/", "/api//task/2", "/api/task//2/", "/api/task/2.xml"])
async def test_slashes_and_a_suffix_are_forgiven(proxy, path):
    response = await proxy.get(path, headers=PHILLIP)
    assert response.status == 200, await response.text()
    assert element(await response.read(), "id") == "2"


async def test_a_json_suffix_chooses_json(proxy):
    response = await proxy.get("/api/task/2.json", headers=PHILLIP)
    assert response.status == 200 and (await response.json())["task"]["id"] == "2"


async def test_http10_without_host_is_served_when_public_url_is_set(live, upstream):
    answer = await _raw(live, f"GET /api/task/2 HTTP/1.0\r\nAuthorization: {_basic('tok-phillip')}\r\n\r\n")
    assert answer.split(b"\r\n")[0].endswith(b"200 OK"), answer[:200]
    app = create_app(load_settings(environ={}), str(upstream.make_url("")).rstrip("/"))
    listener = await proxy_server.start(app, "127.0.0.1", 0, 1.0)
    try:
        refused = await _raw(listener.url, f"GET /api/task/2 HTTP/1.0\r\nAuthorization: {_basic('tok-phillip')}\r\n\r\n")
        assert b" 400 " in refused.split(b"\r\n")[0] and b"public_url" in refused
    finally:
        await listener.runner.cleanup()


# --- 5. Lists cannot hurt the proxy or the account -------------------------------------------------

async def test_an_upstream_that_always_says_next_cannot_hold_the_proxy(fake_proxy, fake_recorder):
    async def always_more(request: web.Request) -> web.Response:
        return json_answer({"tasks": [v2_task(id=int(request.query.get("page", 1)))]},
                           headers={"Link": '<http://x/api/v2/tasks?page=2>; rel="next"'})
    proxy = await fake_proxy(always_more, upstream={"max_pages": 7})
    message = await error_message(await proxy.get("/api/tasks", headers=PHILLIP), 502)
    assert "7 pages" in message and "start and limit" in message
    assert len(fake_recorder.paths()) == 7


async def test_every_request_has_a_deadline(fake_proxy):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return json_answer({"tasks": [v2_task()]}, headers={"Link": '<x>; rel="next"'})
    proxy = await fake_proxy(slow, server={"request_timeout": 0.5})
    message = await error_message(await proxy.get("/api/tasks", headers=PHILLIP), 504)
    assert "request_timeout" in message


async def test_the_scan_stops_when_the_client_goes_away(fake_proxy, fake_recorder):
    async def slow_pages(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return json_answer({"tasks": [v2_task()]}, headers={"Link": '<x>; rel="next"'})
    proxy = await fake_proxy(slow_pages, upstream={"max_pages": 10_000})
    request = asyncio.ensure_future(proxy.get("/api/tasks", headers=PHILLIP))
    await asyncio.sleep(0.4)
    request.cancel()                                   # the client closes its connection
    await asyncio.sleep(0.3)
    seen = len(fake_recorder.calls)
    await asyncio.sleep(0.5)
    assert len(fake_recorder.calls) <= seen + 1 and seen < 30


async def test_an_unknown_user_filter_is_answered_from_the_users_list_without_a_scan(proxy, recorder):
    body = await (await proxy.get("/api/tasks?user=nobody", headers=PHILLIP)).read()
    assert etree.fromstring(body).get("size") == "0"
    assert recorder.paths() == ["/api/v2/users", "/api/v2/users"]     # read, then read once more
    recorder.clear()
    await proxy.get("/api/tasks?category=Lunch", headers=PHILLIP)
    assert all(path.startswith("/api/v2/categories") for path in recorder.paths())


async def test_names_filter_by_the_rule_writes_use(proxy):
    body = await (await proxy.get("/api/tasks?category=call", headers=PHILLIP)).read()
    assert etree.fromstring(body).get("size") == "0"               # "call" is its own category
    mine = await (await proxy.get("/api/tasks?user=PHILLIP", headers=PHILLIP)).read()
    assert etree.fromstring(mine).get("size") == "2"              # a unique case-insensitive match


@pytest.mark.parametrize("query, named", [("start=99999999", "start"), ("start=" + "9" * 40, "start"),
                                          ("status=open&status=completed", "status"),
                                          ("limit=1&limit=2", "limit")])
async def test_absurd_and_repeated_parameters_are_refused_before_any_call(proxy, recorder, query, named):
    assert named in await error_message(await proxy.get(f"/api/tasks?{query}", headers=PHILLIP), 400)
    assert recorder.calls == []


async def _scrape(proxy) -> str:
    return await (await proxy.get("/metrics")).text()


async def test_pages_per_list_are_counted(proxy):
    await proxy.get("/api/tasks", headers=PHILLIP)
    text = await _scrape(proxy)
    assert 'capsule_proxy_list_pages_count{route="/api/tasks"} 1.0' in text


# --- 8. Operational endpoints cannot be turned against the proxy -----------------------------------

def test_a_v1_path_the_proxy_does_not_translate_is_501_naming_it():
    router = Router(RESOURCES, (("*", "/api/{kind:party|kase}/{id}/attachment/{aid}"),))
    found = router.resolve("GET", "/api/party/12/attachment/3")
    assert (found.status, found.label) == (501, "/api/party/{id}/attachment/{aid}")
    assert "does not translate" in found.message
    assert router.resolve("GET", "/api/partyx/12").status == 404           # never v1


async def test_untranslated_calls_are_501_and_labelled_by_their_template(proxy, recorder):
    from tests.conftest import untranslated_call
    method, path, label = untranslated_call()
    response = await proxy.request(method, path, headers=PHILLIP)
    assert "does not translate" in await error_message(response, 501)
    assert recorder.calls == []
    assert f'route="{label}"' in await _scrape(proxy)


async def test_rate_limit_gauges_stay_bounded(proxy):
    from proxy.keys import SERVICES
    limits = proxy.app[SERVICES].upstream.rate_limits
    for n in range(50):
        limits.update(f"token-{n}", {"X-RateLimit-Remaining": str(100 + n), "X-RateLimit-Reset": "2000000000",
                                     "X-RateLimit-Limit": "4000"})
    text = await _scrape(proxy)
    shown = [line for line in text.splitlines() if line.startswith("capsule_proxy_rate_limit_remaining{")]
    assert len(shown) == 10
    assert "capsule_proxy_rate_limit_accounts 50.0" in text
    assert "capsule_proxy_rate_limit_remaining_min 100.0" in text
