"""`explain` shows what the proxy actually sends: the same v1 request through the proxy against a
recording emulator makes the same v2 calls (method, path and query, JSON body), and every
declared route explains with the records its path names. Nothing reaches a real upstream."""

from __future__ import annotations

import asyncio
import base64
import json
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings
from proxy.migrate import examples
from proxy.migrate import explain as explaining

from .conftest import BodyRecorder
from .helpers import run

# The demo seed's account, so the synthetic account resolves names to the same ids, and each
# owner's zone is the demo's (the due time is the owner's, P1).
OWNERS = {"phillip": 1, "sofia": 2}
OWNER_ZONES = {"phillip": "America/New_York", "sofia": "Europe/Rome"}
CATEGORIES = {"Call": 1, "Email": 2, "Follow-up": 3, "Meeting": 4}
ZONE = "America/New_York"  # phillip's
XML = "application/xml"
JSON = "application/json"


async def explain(method: str, path: str, **kwargs):
    return await explaining.explain(method, path, make_app=create_proxy_app, **kwargs)


# Cases whose demo data has the synthetic account's shape where it matters: the tasks each list
# answers have a time of day (the samples do), so the same users look-up happens on both sides.
CASES = [
    ("GET", "/api/task/1", None, None),
    ("GET", "/api/tasks?start=0&limit=2", None, None),
    ("GET", "/api/tasks?start=0&limit=1&status=open,completed&category=call&user=phillip", None, None),
    ("GET", "/api/party/1/tasks", None, None),
    ("GET", "/api/kase/1/tasks?status=open", None, None),
    ("GET", "/api/users", None, None),
    ("GET", "/api/task/categories", None, None),
    ("POST", "/api/task", XML, "<task><description>Call customer</description><category>Meeting</category>"
                              "<dueDateTime>2026-04-21T15:00:00Z</dueDateTime><owner>sofia</owner></task>"),
    ("POST", "/api/party/1/task", JSON, '{"task": {"description": "Lunch", "dueDate": "2026-05-01"}}'),
    ("POST", "/api/opportunity/1/task", XML, "<task><description>Demo</description>"
                                            "<dueDateTime>2026-06-01T09:30:00Z</dueDateTime></task>"),
    ("PUT", "/api/task/2", XML, "<task><detail>Now 30 seats</detail><dueDate>2026-12-04</dueDate>"
                                "<category></category></task>"),
    ("PUT", "/api/task/2", JSON, '{"task": {"id": "2", "description": "Renamed", "partyName": "ignored"}}'),
    ("POST", "/api/task/1/complete", None, None),
    ("POST", "/api/task/1/reopen", None, None),
    ("DELETE", "/api/task/3", None, None),
    ("POST", "/api/task", XML, "<task><description>No due date</description></task>"),
    ("GET", "/api/task/abc", None, None),
]


def _basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:x".encode()).decode()}


@pytest.mark.parametrize("method, path, content_type, body", CASES,
                         ids=[f"{m} {p}" + (f" {c}" if c else "") for m, p, c, _ in CASES])
async def test_explain_matches_what_the_proxy_sends(aiohttp_client, recording_emulator, body_recorder,
                                                    method, path, content_type, body):
    settings = load_settings(environ={})
    proxy = await aiohttp_client(create_proxy_app(settings, str(recording_emulator.make_url("")).rstrip("/")))
    headers = _basic("tok-phillip") | ({"Content-Type": content_type} if content_type else {})
    response = await proxy.request(method, path, data=body, headers=headers)
    await response.read()
    sent = body_recorder.calls

    explanation = await explain(method, path, body=body, content_type=content_type, timezone=ZONE,
                                owners=OWNERS, owner_zones=OWNER_ZONES, categories=CATEGORIES, settings=settings)
    explained = [(call["method"], call["path"], call["body"]) for call in explanation["calls"]]
    assert sent or response.status >= 400
    assert explained == sent
    assert explanation["answer"]["status"] == response.status
    assert all(call["url"] == "https://api.capsulecrm.com" + call["path"] for call in explanation["calls"])


@pytest.mark.parametrize("example", list(examples.every_route(ZoneInfo(ZONE))),
                         ids=lambda e: f"{e.method} {e.route.path}")
async def test_every_declared_route_explains_with_the_records_its_path_names(example):
    """Generic over the declarations: a family added to proxy/resources is explained too."""
    explanation = await explain(example.method, example.path, body=example.body,
                                content_type=example.content_type, timezone=ZONE)
    assert 200 <= explanation["answer"]["status"] < 300, explanation["answer"]
    calls = explanation["calls"]
    assert any(call["role"] == "call" for call in calls)
    assert all(call["purpose"] for call in calls), calls
    # Look-ups succeed; the route's own call may meet a v2 refusal the v1 answer turns into a
    # success (removing an additional party that was not related is a 200, LK2).
    assert all(call["answer"]["status"] < 400 for call in calls if call["role"] == "look-up"), calls
    if example.route.op == "action":
        assert calls[-1]["purpose"] == example.route.options["doc"]
    if example.route.options.get("parent") in ("path", "link", "move"):  # "scoped": v2 lists under it
        # The parent is checked before the call (after the look-ups the document needs, P5).
        checks = [i for i, call in enumerate(calls) if call["role"] == "look-up"
                  and call["purpose"].endswith("must exist (the v1 answer is 404 otherwise)")]
        assert checks and checks[0] < max(i for i, call in enumerate(calls) if call["role"] == "call")


async def test_an_explanation_names_the_lookups_and_the_call():
    explanation = await explain(
        "POST", "/api/party/7/task", body="<task><description>Call</description><category>Lunch</category>"
                                          "<dueDateTime>2026-04-21T15:00:00Z</dueDateTime></task>",
        timezone="Europe/London")
    calls = {(call["role"], call["method"], call["path"]): call["purpose"] for call in explanation["calls"]}
    # The look-ups the document needs come first (in a fixed order, handlers.fill), then the
    # parent's check, then the create (P5: the document is translated before the parent is read).
    assert list(calls)[-2] == ("look-up", "GET", "/api/v2/parties/7")
    assert list(calls)[-1] == ("call", "POST", "/api/v2/tasks")
    assert calls == {
        ("look-up", "GET", "/api/v2/parties/7"): "the party must exist (the v1 answer is 404 otherwise)",
        ("look-up", "GET", "/api/v2/users/current"): "the caller, for <dueDate|dueDateTime>",
        ("look-up", "GET", "/api/v2/categories?page=1&perPage=100"):
            "the categories list (every page), for <category>",
        ("call", "POST", "/api/v2/tasks"): "create the task linked to the party"}
    assert explanation["calls"][-1]["body"] == {"task": {"description": "Call", "category": {"id": 5},
                                                         "dueOn": "2026-04-21", "dueTime": "16:00:00",
                                                         "party": {"id": 7}}}
    assert explanation["answer"]["status"] == 201
    assert explanation["answer"]["headers"]["Location"] == "http://proxy/api/task/1"   # the account's first
    assert len(explanation["lookups"]) == 3
    assert explanation["assumptions"]["categories"]["Lunch"] == 5                       # a name used is added
    text = explaining.render_text(explanation)
    assert "4. call    POST https://api.capsulecrm.com/api/v2/tasks" in text
    assert "Location: http://proxy/api/task/1" in text


async def test_the_answer_is_turned_back_into_v1_in_the_asked_format():
    explanation = await explain("GET", "/api/task/59", accept=JSON, timezone="Europe/Rome")
    assert json.loads(explanation["answer"]["body"]) == {"task": {
        "id": "59", "description": "Example task 59", "category": "Call", "dueDateTime": "2026-04-21T13:00:00Z",
        "owner": "api.user", "status": "OPEN", "createdOn": "2026-04-01T09:00:00Z",
        "updatedOn": "2026-04-01T09:00:00Z"}}
    assert explanation["calls"][0]["answer"]["body"]["task"]["dueTime"] == "15:00:00"
    # The due time is read in the owner's zone, from the users list (P1).
    assert [(c["role"], c["path"], c["purpose"]) for c in explanation["calls"][1:]] == [
        ("look-up", "/api/v2/users", "the users list, for <dueDate|dueDateTime>")]


async def test_a_map_without_the_name_shows_the_proxys_400():
    explanation = await explain(
        "POST", "/api/task", body='{"task": {"description": "x", "dueDate": "2026-01-02", "owner": "ghost"}}',
        owners=OWNERS)
    assert explanation["answer"]["status"] == 400
    assert "unknown owner 'ghost'" in explanation["answer"]["body"]
    assert [call["path"] for call in explanation["calls"]] == ["/api/v2/users", "/api/v2/users"]
    assert explanation["calls"][1]["purpose"].startswith("the users list again: a name was not in the cached one")


async def test_the_settings_apply_but_never_the_auth_or_the_upstream():
    settings = load_settings(environ={}, flags={
        "translate": {"timezone": "Asia/Tokyo"},
        "auth": {"mode": "static", "static_token": "v2-secret", "allowed_clients": ["old-token"]}})
    explanation = await explain("GET", "/api/task/5", settings=settings)
    assert [call["path"] for call in explanation["calls"]] == ["/api/v2/tasks/5"]  # no zone look-up
    assert "2026-04-21T06:00:00Z" in explanation["answer"]["body"]                 # 15:00 in Tokyo
    assert any("static_token" in note for note in explanation["notes"])
    assert any("Asia/Tokyo" in note for note in explanation["notes"])
    assert "v2-secret" not in json.dumps(explanation)


@pytest.mark.parametrize("method, path, message", [
    ("FETCH", "/api/task/1", "method must be"),
    ("GET", "/healthz", "v1 API path"),
    ("GET", "api/task/1", "v1 API path"),
    ("GET", "/api/task/1 HTTP/1.1", "without spaces"),
])
async def test_requests_that_are_not_v1_calls_are_refused(method, path, message):
    with pytest.raises(explaining.ExplainError, match=message):
        await explain(method, path)


async def test_an_unknown_zone_is_refused():
    with pytest.raises(explaining.ExplainError, match="unknown IANA time zone"):
        await explain("GET", "/api/task/1", timezone="Mars/Olympus")
    with pytest.raises(explaining.ExplainError, match="unknown IANA time zone"):
        await explain("GET", "/api/task/1", owner_zones={"a": "Mars/Olympus"})


# --- POST /_proxy/explain ---

@pytest.fixture
async def real_upstream(aiohttp_server):
    """What the proxy is configured to call: it must see nothing."""
    recorder = BodyRecorder()
    app = web.Application(middlewares=[recorder.middleware])
    server = await aiohttp_server(app)
    server.recorder = recorder
    return server


@pytest.fixture
async def proxy_with_explain(aiohttp_client, real_upstream):
    app = create_proxy_app(load_settings(environ={}), str(real_upstream.make_url("")).rstrip("/"))
    explaining.install(app, create_proxy_app)    # what the app owner wires
    return await aiohttp_client(app)


async def test_the_proxy_serves_explanations_and_sends_nothing_upstream(proxy_with_explain, real_upstream):
    response = await proxy_with_explain.post("/_proxy/explain", json={
        "method": "POST", "path": "/api/kase/3/task", "contentType": XML, "timezone": "Europe/Rome",
        "body": "<task><description>Chase</description><dueDateTime>2026-03-29T08:30:00Z</dueDateTime></task>"})
    assert response.status == 200
    explanation = await response.json()
    assert real_upstream.recorder.calls == []
    base = str(real_upstream.make_url("")).rstrip("/")
    assert [call["url"] for call in explanation["calls"]] == [
        f"{base}/api/v2/users/current", f"{base}/api/v2/kases/3", f"{base}/api/v2/tasks"]
    assert explanation["calls"][-1]["body"]["task"] == {"description": "Chase", "dueOn": "2026-03-29",
                                                        "dueTime": "10:30:00", "kase": {"id": 3}}
    # Location names the proxy the caller reached.
    assert explanation["answer"]["headers"]["Location"] == f"{proxy_with_explain.make_url('')}".rstrip("/") \
        + "/api/task/1"


async def test_many_explanations_at_once(proxy_with_explain, real_upstream):
    async def one(index: int) -> int:
        response = await proxy_with_explain.post("/_proxy/explain", json={"method": "GET", "path": f"/api/task/{index}"})
        return response.status
    statuses = await asyncio.gather(*(one(i) for i in range(1, 9)))
    assert set(statuses) <= {200, 503} and 200 in statuses
    assert real_upstream.recorder.calls == []


@pytest.mark.parametrize("payload, message", [
    ("not json", "JSON object"),
    ([], "JSON object"),
    ({"path": "/api/task/1"}, '"method" is required'),
    ({"method": "GET", "path": "/api/task/1", "body": 5}, '"body" must be text'),
    ({"method": "GET", "path": "/api/task/1", "owners": {"a": "1"}}, '"owners" must be'),
    ({"method": "GET", "path": "/nope"}, "v1 API path"),
])
async def test_a_bad_explain_request_is_a_400(proxy_with_explain, real_upstream, payload, message):
    data = payload if isinstance(payload, str) else json.dumps(payload)
    response = await proxy_with_explain.post("/_proxy/explain", data=data, headers={"Content-Type": JSON})
    assert response.status == 400
    assert message in (await response.json())["message"]
    assert real_upstream.recorder.calls == []


# --- capsule-proxy explain ---

def test_the_command_prints_the_calls_and_the_answer(tmp_path):
    body = tmp_path / "task.xml"
    body.write_text("<task><description>Call</description><dueDate>2026-04-22</dueDate><owner>sofia</owner></task>")
    owners = tmp_path / "owners.toml"
    owners.write_text('phillip = 1\nsofia = 2\n')
    status, out, err = run("explain", "POST", "/api/task", "--body", str(body), "--owner-map", str(owners),
                           "--timezone", ZONE)
    assert status == 0, err
    text = out.decode()
    assert "look-up GET https://api.capsulecrm.com/api/v2/users" in text
    assert "call    POST https://api.capsulecrm.com/api/v2/tasks" in text
    assert '"id": 2' in text
    assert "201 Created" in text and "Location: http://proxy/api/task/1" in text


def test_the_command_prints_json_and_reads_the_body_from_stdin():
    status, out, _ = run("explain", "PUT", "/api/task/4", "--body", "-", "--accept", "json", "--json",
                         stdin=b'{"task": {"description": "New"}}')
    assert status == 0
    explanation = json.loads(out)
    assert explanation["request"]["contentType"] == JSON and explanation["request"]["accept"] == JSON
    assert explanation["calls"][0]["body"] == {"task": {"description": "New"}}


@pytest.mark.parametrize("argv", [
    ["explain", "BREW", "/api/task/1"],
    ["explain", "GET", "/api/task/1", "--timezone", "Nowhere/Special"],
    ["explain", "GET", "/api/task/1", "--body", "/nonexistent/body.xml"],
    ["explain", "GET", "/api/task/1", "--config", "/nonexistent/config.toml"],
])
def test_the_command_refuses_bad_input_with_status_2(argv):
    status, out, err = run(*argv)
    assert status == 2 and out == b""
    assert err.startswith("capsule-proxy explain: ")


async def test_a_window_far_down_a_filtered_list_scans_to_it():
    explanation = await explain("GET", "/api/party/1/tasks?start=450&limit=5")
    pages = [call["path"] for call in explanation["calls"] if call["path"].startswith("/api/v2/tasks")]
    assert pages == [f"/api/v2/tasks?status=open&page={n}&perPage=100" for n in range(1, 6)]
    assert explanation["answer"]["status"] == 200 and 'size="2"' in explanation["answer"]["body"]
    assert explanation["assumptions"]["records"] == {"parties": "1", "tasks": "1-452"}


@pytest.mark.parametrize("path, calls", [
    ("/api/tasks?start=20000", []),                         # [upstream] max_pages (200) x 100
    ("/api/party/1/tasks?start=20000", ["/api/v2/parties/1"]),
])
async def test_a_window_beyond_max_pages_is_refused_before_any_page(path, calls):
    explanation = await explain("GET", path)
    assert [call["path"] for call in explanation["calls"]] == calls
    assert explanation["answer"]["status"] == 400
    assert "start must be below 20000" in explanation["answer"]["body"]


async def test_a_window_in_an_unfiltered_list_fetches_only_its_page():
    explanation = await explain("GET", "/api/tasks?start=250&limit=10")
    assert [call["path"] for call in explanation["calls"]] == ["/api/v2/tasks?status=open&page=3&perPage=100",
                                                                "/api/v2/users"]
    assert explanation["answer"]["body"].count("<task>") == 2
    assert '<tasks size="2">' in explanation["answer"]["body"]


def test_the_command_shows_the_configured_addresses_but_calls_neither(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[upstream]\nurl = "http://127.0.0.1:9"\n[server]\npublic_url = "https://crm.example.com"\n')
    status, out, err = run("explain", "POST", "/api/task", "--config", str(config), "--body", "-",
                           stdin=b"<task><description>x</description><dueDate>2026-01-02</dueDate></task>")
    assert status == 0, err
    text = out.decode()
    assert "POST http://127.0.0.1:9/api/v2/tasks" in text           # port 9 (discard): nothing listens
    assert "Location: https://crm.example.com/api/task/1" in text


async def test_the_record_a_put_changes_is_read_when_a_rule_needs_it():
    # A wall time on a daylight-saving day needs the stored task (T2): the purpose says so.
    explanation = await explain("PUT", "/api/task/59", body="<task><dueDateTime>2026-03-08T15:00:00Z</dueDateTime>"
                                                            "</task>", timezone=ZONE)
    assert [(c["role"], c["method"], c["path"], c["purpose"]) for c in explanation["calls"]] == [
        ("look-up", "GET", "/api/v2/users", "the users list, for <dueDate|dueDateTime>"),
        ("look-up", "GET", "/api/v2/tasks/59", "the stored task, for <dueDate|dueDateTime>"),
        ("call", "PUT", "/api/v2/tasks/59", "update only the fields the v1 document holds")]
    assert explanation["calls"][-1]["body"] == {"task": {"dueOn": "2026-03-08", "dueTime": "11:00:00"}}


@pytest.mark.parametrize("method, path", list(examples.untranslated()), ids=lambda value: value)
async def test_an_untranslated_v1_call_is_explained_as_the_proxys_501(method, path):
    # One per entry of proxy/resources/untranslated.py, whatever it lists.
    explanation = await explain(method, path)
    assert explanation["calls"] == [] and explanation["answer"]["status"] == 501
    assert "v2 calls: none" in explaining.render_text(explanation)


async def test_the_same_request_explains_the_same_way():
    first = await explain("POST", "/api/task/59/complete", timezone=ZONE)
    second = await explain("POST", "/api/task/59/complete", timezone=ZONE)
    assert first == second
    assert first["calls"][0]["answer"]["body"]["task"]["completedAt"] == "2026-04-01T09:00:00Z"


def test_a_saved_users_answer_gives_each_owner_its_zone(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"users": [{"id": 1, "username": "phillip", "timezone": "America/New_York"},
                                           {"id": 2, "username": "sofia", "timezone": "Europe/Rome"}]}))
    status, out, err = run("explain", "POST", "/api/task", "--owner-map", str(users), "--json", "--body", "-",
                           stdin=b"<task><description>x</description><owner>sofia</owner>"
                                 b"<dueDateTime>2026-04-21T15:00:00Z</dueDateTime></task>")
    assert status == 0, err
    explanation = json.loads(out)
    assert explanation["assumptions"]["ownerZones"] == {"phillip": "America/New_York", "sofia": "Europe/Rome"}
    assert explanation["calls"][-1]["body"]["task"]["dueTime"] == "17:00:00"        # Rome, not New York


def test_an_account_the_emulator_cannot_hold_still_explains_with_a_note():
    from proxy.migrate import account as accounts
    from proxy.migrate import seeding
    account = accounts.new_account(ZoneInfo("UTC"), owners=None, owner_zones=None, categories=None)
    account.records["widgets"] = {1: {"id": 1, "name": "a widget"}}            # no such emulator table
    seed, notes = seeding.make_seed(account)
    assert [user["username"] for user in seed.users] == ["api.user"] and len(seed.categories) == 4
    assert "could not hold this request's records" in notes[0] and "widgets" in notes[0]


# --- what a route's example data and its path give the account ---

async def test_a_tag_route_detaches_the_tag_its_path_names():
    # The route's `example` gives the record the tag the path names ({name}), whatever it is.
    explanation = await explain("DELETE", "/api/kase/3/tag/VIP", timezone=ZONE)
    assert [(c["role"], c["method"], c["path"], c["purpose"]) for c in explanation["calls"]] == [
        ("look-up", "GET", "/api/v2/kases/3?embed=tags", "the stored case, with its tags"),
        ("call", "PUT", "/api/v2/kases/3", "detach the tag by its id (a PUT of the record); 200 with a Warning "
                                           "when it was not there")]
    assert explanation["calls"][1]["body"] == {"kase": {"tags": [{"id": 1, "_delete": True}]}}
    assert explanation["answer"]["status"] == 200


async def test_a_route_that_only_reads_a_record_has_that_read_as_its_call():
    explanation = await explain("GET", "/api/opportunity/3/customfields", timezone=ZONE)
    assert [(c["role"], c["path"]) for c in explanation["calls"]] == [
        ("call", "/api/v2/opportunities/3?embed=fields"),
        ("look-up", "/api/v2/opportunities/fields/definitions?page=1&perPage=100")]
    # The definitions come from the route's `example_lookups`, the value from its `example`.
    assert explanation["assumptions"]["lookups"] == {"opportunity_fields": {"Example field": 1, "Example list": 2}}
    assert "<label>Example field</label>" in explanation["answer"]["body"]


async def test_a_history_item_is_seeded_with_the_id_its_path_names():
    explanation = await explain("GET", "/api/history/120", timezone=ZONE)
    assert explanation["answer"]["status"] == 200 and "<id>120</id>" in explanation["answer"]["body"]
    assert explanation["assumptions"]["records"]["entries"] == "120"


async def test_an_item_named_under_its_parent_belongs_to_it():
    explanation = await explain("DELETE", "/api/opportunity/3/history/4", timezone=ZONE)
    read, delete = explanation["calls"]
    assert (read["role"], read["path"]) == ("look-up", "/api/v2/entries/4")
    assert read["purpose"] == "the history item, which must belong to opportunity 3 (the v1 answer is 404 otherwise)"
    assert read["answer"]["body"]["entry"]["opportunity"]["id"] == 3
    assert (delete["role"], delete["method"]) == ("call", "DELETE")
    assert explanation["answer"]["status"] == 200


async def test_a_look_up_the_emulator_cannot_seed_is_left_to_its_own():
    # A milestone needs a pipeline: the emulator's default one (New, Bid, Won, Lost) answers.
    explanation = await explain("POST", "/api/party/7/opportunity", timezone=ZONE,
                                body="<opportunity><name>Deal</name><milestone>Bid</milestone></opportunity>")
    assert explanation["answer"]["status"] == 201
    assert explanation["calls"][-1]["body"]["opportunity"]["milestone"] == {"id": 2}
    assert "lookups" not in explanation["assumptions"]
    assert any("cannot hold the milestones" in note for note in explanation["notes"])


def test_route_example_data_takes_the_path_parameters():
    from proxy.migrate.account import filled
    params = {"kind": "kase", "id": "3", "item": "12", "name": "007"}
    assert filled({"{kind}_fields": ["{name}", "{item}", "party {item}"]}, params) == {
        "kase_fields": ["007", 12, "party 12"]}
    assert filled("{other}", params) == "{other}"




async def test_a_filter_naming_no_such_user_explains_the_empty_answer_the_proxy_gives():
    """Issue 10 §9: a filter's name is not made up for the synthetic account (M1)."""
    explanation = await explain("GET", "/api/tasks?user=nobody", timezone=ZONE)
    answer = explanation["answer"]
    assert answer["status"] == 200 and '<tasks size="0"/>' in answer["body"], answer
    assert [call["path"] for call in explanation["calls"]] == ["/api/v2/users", "/api/v2/users"]
    assert any(note.startswith("user='nobody' names none") for note in explanation["notes"])
    named = await explain("GET", "/api/tasks?user=sofia", timezone=ZONE, owners=OWNERS)
    assert '<tasks size="0"/>' not in named["answer"]["body"]
