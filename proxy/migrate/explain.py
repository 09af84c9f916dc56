"""`capsule-proxy explain` and `POST /_proxy/explain`: what the proxy sends v2 for one v1 request.

There is no second copy of the routing rules here. `explain` runs the real proxy application
(`proxy.app.create_app`, with the caller's settings) on a loopback port, in front of a
*dry-run upstream*: a small aiohttp app on another loopback port that records every v2 request
(method, path and query, JSON body) and answers it plausibly. The v1 request is then sent
through the proxy, and the explanation is what was recorded, plus the v1 answer the proxy made
from the dry-run answers. Nothing is ever sent to Capsule: the proxy under explanation only
knows the dry-run upstream's address.

The dry-run account (decisions):

* `users/current` is the caller, in `--timezone` (default UTC); `users` holds the caller plus
  every owner the body names, or exactly the `owners` map when one is given (the caller is its
  first entry); `categories` holds Call, Email, Follow-up and Meeting plus every category the
  body names, or exactly the `categories` map. So look-ups resolve, unless a map is given
  that lacks the name: then the explanation shows the proxy's 400.
* Tasks: `GET /api/v2/tasks/{id}` is a synthetic task with that id, due 2026-04-21 at 15:00
  (a time of day, so the zone conversion shows). A list holds exactly `start + 2` tasks
  (`start` and `limit` from the v1 query; fewer if `limit` is smaller; `start` counted up to
  500, so a filtered scan stays a few pages), matching the list's
  `status`, `user`, `category` and parent, so the v1 answer shows two of them; pages follow
  `page`/`perPage` with `Link: rel="next"` as v2 does.
* Parents (`parties`, `opportunities`, `kases`) all exist. `POST` answers 201 with
  `Location: .../api/v2/tasks/1001`, `PUT` 200, `DELETE` 204. Anything else is a v2 404.
* Timestamps are fixed, and the addresses shown are `upstream_base` (default
  https://api.capsulecrm.com) and `proxy_base` (default http://proxy), so the same request
  always gives the same explanation (docs/migrating.md is generated from it).
* The proxy runs with the caller's settings except: passthrough auth with a placeholder token
  (the real one is never needed), one attempt per call, no circuit breaker, `public_url` =
  `proxy_base`, no usage file, no observers. A fresh proxy has empty caches, so every look-up
  is shown; a warm one skips cached look-ups (see `notes`).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from aiohttp import web
from lxml import etree
from yarl import URL

from ..config import Settings, load_settings
from ..http.addresses import public_base
from ..keys import SERVICES
from ..translate.errors import InvalidField
from ..translate.fields import NameIndex
from ..translate.paging import parse_limit, parse_start
from ..v1 import codec
from ..v1.documents import DocumentError

DEFAULT_UPSTREAM = "https://api.capsulecrm.com"
DEFAULT_PROXY = "http://proxy"
PLACEHOLDER_TOKEN = "explain-placeholder-token"
DEFAULT_CATEGORIES = ("Call", "Email", "Follow-up", "Meeting")
CREATED_ID = 1001
MAX_DRY_START = 500
EXPLAIN_TIMEOUT = 30.0
MAX_PATH = 2048
_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")
_STAMP = "2026-04-01T09:00:00Z"
_PARENT_RESOURCES = {"parties": "party", "opportunities": "opportunity", "kases": "kase"}
_SHOWN_HEADERS = ("Content-Type", "Location", "Retry-After", "WWW-Authenticate", "Allow")


class ExplainError(Exception):
    """The request to explain is not one (bad method, path, zone, map): 400 / exit status 2."""


# --- the dry-run upstream ---------------------------------------------------------------------

@dataclass
class Recorded:
    method: str
    path: str                       # path and query, as sent
    body: Any                       # the JSON body sent, or None
    status: int = 0
    answer: Any = None              # the JSON answered, or None
    headers: dict[str, str] = field(default_factory=dict)


class DryRunUpstream:
    """A stand-in Capsule v2 that records each request and answers it plausibly (module doc)."""

    def __init__(self, *, zone: str, owners: Mapping[str, int] | None = None,
                 categories: Mapping[str, int] | None = None, names: Mapping[str, str] | None = None,
                 start: int = 0, limit: int | None = None, filters: Mapping[str, str] | None = None):
        names = dict(names or {})
        self.calls: list[Recorded] = []
        self.filters = {key: value.strip() for key, value in (filters or {}).items() if value and value.strip()}
        # Enough for the window to show two tasks; capped, so a filtered scan stays a few pages.
        self.size = min(start, MAX_DRY_START) + (2 if limit is None else min(limit, 2))
        self.parent: tuple[str, int] | None = None
        if owners:
            self.users = [self._user(ident, name) for name, ident in owners.items()]
        else:
            self.users = [self._user(1, "api.user", "API User")]
            for name in (names.get("owner"), self.filters.get("user")):
                if name and NameIndex(self.users, "username").find(name) is None:
                    self.users.append(self._user(len(self.users) + 1, name))
        self.users[0]["timezone"] = zone
        self.current = self.users[0]
        if categories:
            self.categories = [self._category(ident, name) for name, ident in categories.items()]
        else:
            self.categories = [self._category(i, name) for i, name in enumerate(DEFAULT_CATEGORIES, 1)]
            for name in (names.get("category"), self.filters.get("category")):
                if name and NameIndex(self.categories, "name").find(name) is None:
                    self.categories.append(self._category(len(self.categories) + 1, name))
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    @staticmethod
    def _ids(records: list[dict[str, Any]], key: str) -> dict[str, int]:
        return {record[key]: record["id"] for record in records}

    @staticmethod
    def _user(ident: int, username: str, name: str | None = None) -> dict[str, Any]:
        return {"id": ident, "username": username, "name": name or username.title(), "timezone": "UTC",
                "locale": "en_GB", "currency": "GBP", "status": "ACTIVE", "party": None}

    @staticmethod
    def _category(ident: int, name: str) -> dict[str, Any]:
        return {"id": ident, "name": name, "colour": "#2196f3"}

    def _named(self, records: list[dict[str, Any]], key: str, wanted: str | None) -> dict[str, Any]:
        if wanted:
            for record in records:
                if record[key].strip().casefold() == wanted.casefold():
                    return record
        return records[0]

    def _parent_record(self, kind: str, ident: int) -> dict[str, Any]:
        if kind == "party":
            return {"id": ident, "type": "person", "firstName": "Example", "lastName": "Person"}
        return {"id": ident, "name": f"Example {'opportunity' if kind == 'opportunity' else 'case'}"}

    def task(self, ident: int, status: str = "OPEN") -> dict[str, Any]:
        """A synthetic v2 task, as v2 answers it."""
        owner = self._named(self.users, "username", self.filters.get("user"))
        category = self._named(self.categories, "name", self.filters.get("category"))
        links: dict[str, Any] = {"party": None, "opportunity": None, "kase": None}
        if self.parent is not None:
            kind, parent_id = self.parent
            links[kind] = self._parent_record(kind, parent_id)
        return {"id": ident, "description": f"Example task {ident}", "detail": None,
                "category": dict(category), "dueOn": "2026-04-21", "dueTime": "15:00:00",
                "status": status, "owner": {"id": owner["id"], "username": owner["username"],
                                            "name": owner["name"]},
                **links, "createdAt": _STAMP, "updatedAt": _STAMP,
                "completedAt": "2026-04-20T10:00:00Z" if status == "COMPLETED" else None,
                "repeat": None, "hasTrack": False}

    def _page(self, request: web.Request, key: str, count: int, item: Callable[[int], Any]) -> web.Response:
        """Page `page` of `perPage` of a collection of `count` items; `item(i)` makes the i-th (0-based)."""
        try:
            page = max(int(request.query.get("page", "1")), 1)
            per_page = min(max(int(request.query.get("perPage", "50")), 1), 100)
        except ValueError:
            return self._error(400, "page and perPage must be numbers")
        chosen = [item(i) for i in range((page - 1) * per_page, min(page * per_page, count))]
        headers = {}
        if page * per_page < count:
            following = request.url.update_query(page=str(page + 1), perPage=str(per_page))
            headers["Link"] = f'<{following}>; rel="next"'
        return web.json_response({key: chosen}, headers=headers)

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        return web.json_response({"message": message}, status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = Recorded(request.method, request.path_qs, body)
        self.calls.append(record)
        response = self._answer(request, body)
        record.status = response.status
        record.answer = json.loads(response.body) if isinstance(response.body, bytes) and response.body else None
        record.headers = {name: response.headers[name] for name in ("Location", "Link") if name in response.headers}
        return response

    def _answer(self, request: web.Request, body: Any) -> web.Response:
        method = request.method
        parts = request.path.removeprefix("/api/v2/").split("/") if request.path.startswith("/api/v2/") else []
        if parts == ["users", "current"] and method == "GET":
            return web.json_response({"user": self.current})
        if parts == ["users"] and method == "GET":
            return web.json_response({"users": self.users})
        if parts == ["categories"] and method == "GET":
            return self._page(request, "categories", len(self.categories), self.categories.__getitem__)
        if len(parts) == 2 and parts[0] in _PARENT_RESOURCES and parts[1].isdigit() and method == "GET":
            kind = _PARENT_RESOURCES[parts[0]]
            self.parent = (kind, int(parts[1]))
            return web.json_response({kind: self._parent_record(kind, int(parts[1]))})
        if parts == ["tasks"] and method == "GET":
            status = (request.query.get("status") or "open").split(",")[0].strip().upper() or "OPEN"
            return self._page(request, "tasks", self.size, lambda index: self.task(index + 1, status))
        if parts == ["tasks"] and method == "POST":
            task = self.task(CREATED_ID)
            sent = body.get("task") if isinstance(body, dict) else None
            if isinstance(sent, dict):
                task.update({k: v for k, v in sent.items() if k not in ("owner", "category")})
            location = str(request.url.with_path(f"/api/v2/tasks/{CREATED_ID}").with_query(None))
            return web.json_response({"task": task}, status=201, headers={"Location": location})
        if len(parts) == 2 and parts[0] == "tasks" and parts[1].isdigit():
            ident = int(parts[1])
            if method == "GET":
                return web.json_response({"task": self.task(ident)})
            if method == "PUT":
                task = self.task(ident)
                sent = body.get("task") if isinstance(body, dict) else None
                if isinstance(sent, dict) and sent.get("status") in ("OPEN", "COMPLETED"):
                    task = self.task(ident, sent["status"])
                return web.json_response({"task": task})
            if method == "DELETE":
                return web.Response(status=204)
        return self._error(404, f"the dry-run upstream has nothing at {method} {request.path}")


# --- describing the calls ---------------------------------------------------------------------

def _purpose(v1_path: str, call: Recorded) -> tuple[str, str]:
    """(role, purpose) of one recorded v2 call: "look-up" or "call", and why it is made."""
    path = urlsplit(call.path).path.removeprefix("/api/v2/")
    parts = path.split("/")
    if path == "users/current":
        if v1_path == "/api/users":
            return "look-up", "who the caller is (v1 marks that user loggedIn)"
        return "look-up", "the caller's time zone: v2 keeps dueTime as wall-clock time in it"
    if path == "users":
        if v1_path == "/api/users":
            return "call", "the users"
        return "look-up", "owner username -> v2 user id"
    if path == "categories":
        if v1_path == "/api/task/categories":
            return "call", "every page of the task categories"
        return "look-up", "category name -> v2 category id (every page)"
    if len(parts) == 2 and parts[0] in _PARENT_RESOURCES:
        kind = _PARENT_RESOURCES[parts[0]]
        return "look-up", f"the {kind} must exist (the v1 answer is 404 otherwise)"
    if parts[0] == "tasks":
        sent = call.body.get("task") if isinstance(call.body, dict) else None
        if call.method == "GET" and len(parts) == 1:
            return "call", "a page of tasks; the proxy filters it and cuts the v1 window out"
        if call.method == "GET":
            return "call", "the task"
        if call.method == "POST":
            linked = [k for k in ("party", "opportunity", "kase") if isinstance(sent, dict) and k in sent]
            return "call", f"create the task{' linked to the ' + linked[0] if linked else ''}"
        if call.method == "PUT" and isinstance(sent, dict) and set(sent) == {"status"}:
            return "call", f"set the status to {sent['status']}"
        if call.method == "PUT":
            return "call", "update only the fields the v1 document holds"
        if call.method == "DELETE":
            return "call", "delete the task"
    return "call", ""


def _summary(call: Recorded) -> str:
    text = f"{call.status}"
    answer = call.answer
    if isinstance(answer, dict) and len(answer) == 1:
        (key, value), = answer.items()
        if isinstance(value, list):
            noun = key if len(value) != 1 else {"categories": "category"}.get(key, key.rstrip("s"))
            text += f", {len(value)} {noun}" + (", and a next page" if "Link" in call.headers else "")
        elif key != "message":
            text += f", one {key}"
        else:
            text += f": {value}"
    if "Location" in call.headers:
        text += f", Location: {call.headers['Location']}"
    return text


def _reason(status: int) -> str:
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# --- explaining -------------------------------------------------------------------------------

def _zone_name(timezone: str | None) -> str:
    name = (timezone or "UTC").strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExplainError(f"unknown IANA time zone {timezone!r}") from None
    return name


def _check_request(method: str, path: str) -> str:
    method = (method or "").strip().upper()
    if method not in _METHODS:
        raise ExplainError(f"method must be one of {', '.join(_METHODS)}; got {method!r}")
    if not isinstance(path, str) or not path.startswith("/api/"):
        raise ExplainError(f"path must be a v1 API path such as /api/task/1; got {path!r}")
    if len(path) > MAX_PATH or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7f for ch in path):
        raise ExplainError("path must be one line without spaces or control characters, "
                           f"at most {MAX_PATH} characters")
    return method


def _guess_content_type(body: bytes) -> str:
    first = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    return "application/json" if first in (b"{", b"[") else "application/xml"


def _names(body: bytes | None, content_type: str | None) -> dict[str, str]:
    """The owner/category a body names, so the dry-run users and categories can hold them."""
    if not body:
        return {}
    try:
        _, task = codec.decode(body, content_type, ("task",))
        return {key: task[key].strip() for key in ("owner", "category") if task.get(key, "").strip()}
    except (DocumentError, InvalidField):
        return {}


def _setting(settings: Settings, section: str, key: str, default: Any = None) -> Any:
    try:
        return settings.get(section, key)
    except KeyError:
        return default


def dry_run_settings(settings: Settings, proxy_base: str = DEFAULT_PROXY) -> Settings:
    """The caller's settings, changed only where a dry run must differ (module doc)."""
    values = copy.deepcopy(settings.values)
    values["auth"].update(mode="passthrough", static_token="", allowed_clients=())
    values["upstream"].update(retries=1, breaker_threshold=0, rate_limit_wait=0.0, connect_timeout=5.0,
                              read_timeout=10.0, total_timeout=10.0)
    values["server"].update(public_url=proxy_base.rstrip("/"), trust_forwarded=False)
    if "workers" in values["server"]:
        values["server"]["workers"] = 1
    if "usage" in values and "file" in values["usage"]:
        values["usage"]["file"] = ""
    if "ops" in values and "port" in values["ops"]:
        values["ops"]["port"] = 0
    return Settings(values, {})


def _notes(settings: Settings, calls: list[dict[str, Any]]) -> list[str]:
    if not calls:
        return []
    notes = ["Nothing was sent to Capsule: a dry-run upstream answered these calls. Every call "
             "carries `Authorization: Bearer <token>`: " + (
                 "the proxy's own [auth] static_token (static mode)."
                 if _setting(settings, "auth", "mode") == "static"
                 else "the v1 client's own token, its HTTP Basic user name.")]
    if any(call["path"].startswith(("/api/v2/users", "/api/v2/categories")) for call in calls):
        notes.append("Look-ups are cached per token (users for [cache] users_ttl seconds, categories "
                     "for categories_ttl, the time zone for timezone_ttl), so a warm proxy skips them.")
    zone = _setting(settings, "translate", "timezone")
    if zone:
        notes.append(f"[translate] timezone = {zone!r}: the proxy uses that zone instead of the caller's.")
    return notes


async def explain(method: str, path: str, *, body: bytes | str | None = None,
                  content_type: str | None = None, accept: str | None = None,
                  timezone: str | None = None, owners: Mapping[str, int] | None = None,
                  categories: Mapping[str, int] | None = None, settings: Settings | None = None,
                  upstream_base: str = DEFAULT_UPSTREAM, proxy_base: str = DEFAULT_PROXY) -> dict[str, Any]:
    """Run one v1 request through the real proxy against a dry-run upstream; the explanation.

    Raises ExplainError for a request that cannot be explained (the proxy's own refusals,
    such as a 400 for a bad body, are part of the explanation instead).
    """
    from .. import server
    create_app = _MAKE_APP[0]

    method = _check_request(method, path)
    zone = _zone_name(timezone)
    settings = settings or load_settings(environ={})
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body and not content_type:
        content_type = _guess_content_type(body)
    query = parse_qs(urlsplit(path).query)
    first = {key: values[0] for key, values in query.items()}
    try:
        start, limit = parse_start(first.get("start")), parse_limit(first.get("limit"))
    except InvalidField:
        start, limit = 0, None  # the proxy answers 400 itself
    upstream = DryRunUpstream(zone=zone, owners=owners, categories=categories,
                              names=_names(body, content_type), start=start, limit=limit,
                              filters={key: first.get(key, "") for key in ("user", "category")})
    dry_settings = dry_run_settings(settings, proxy_base)
    listeners: list[server.Listener] = []
    try:
        async with asyncio.timeout(EXPLAIN_TIMEOUT):
            dry = await server.start(upstream.app, "127.0.0.1", 0, 1.0)
            listeners.append(dry)
            dry_url = dry.url
            app = create_app(dry_settings, dry_url)
            app[SERVICES].observers.clear()
            proxy = await server.start(app, "127.0.0.1", 0, 1.0)
            listeners.insert(0, proxy)
            token = base64.b64encode(f"{PLACEHOLDER_TOKEN}:x".encode()).decode()
            headers = {"Authorization": f"Basic {token}"}
            if content_type:
                headers["Content-Type"] = content_type
            if accept:
                headers["Accept"] = accept
            async with aiohttp.ClientSession() as session:
                async with session.request(method, URL(proxy.url + path, encoded=True), data=body or None,
                                           headers=headers, allow_redirects=False) as response:
                    answer_body = await response.read()
                    answer = {"status": response.status, "reason": _reason(response.status),
                              "headers": {name: response.headers[name] for name in _SHOWN_HEADERS
                                          if name in response.headers},
                              "body": answer_body.decode("utf-8", "replace")}
    except TimeoutError:
        raise ExplainError(f"the dry run did not finish in {EXPLAIN_TIMEOUT:.0f} seconds") from None
    finally:
        for listener in listeners:
            await listener.runner.cleanup()
    base = upstream_base.rstrip("/")
    v1_path = urlsplit(path).path
    calls = []
    for step, call in enumerate(upstream.calls, 1):
        role, purpose = _purpose(v1_path, call)
        calls.append({"step": step, "role": role, "purpose": purpose, "method": call.method,
                      "path": call.path, "url": base + call.path, "body": call.body,
                      "answer": {"status": call.status, "summary": _summary(call).replace(dry_url, base),
                                 "body": call.answer}})
    return {
        "request": {"method": method, "path": path, "contentType": content_type, "accept": accept,
                    "body": body.decode("utf-8", "replace") if body else None},
        "assumptions": {"timezone": _setting(settings, "translate", "timezone") or zone,
                        "timezoneFrom": "[translate] timezone" if _setting(settings, "translate", "timezone")
                        else "the caller (GET /api/v2/users/current)",
                        "upstream": base, "proxy": proxy_base.rstrip("/"),
                        "owners": {u["username"]: u["id"] for u in upstream.users},
                        "categories": {c["name"]: c["id"] for c in upstream.categories}},
        "calls": calls,
        "lookups": [f"{c['method']} {c['path']}: {c['purpose']}" for c in calls if c["role"] == "look-up"],
        "answer": answer,
        "notes": _notes(settings, calls),
    }


# --- showing it -------------------------------------------------------------------------------

def _pretty_body(text: str, content_type: str | None) -> str:
    if not text:
        return ""
    try:
        if "json" in (content_type or ""):
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True,
                                                                       remove_blank_text=True))
        return etree.tostring(root, pretty_print=True, encoding="unicode").rstrip("\n")
    except (ValueError, etree.LxmlError):
        return text


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def render_text(explanation: dict[str, Any]) -> str:
    """The explanation for people: the v1 request, the v2 calls, the v1 answer."""
    request, answer = explanation["request"], explanation["answer"]
    out = [f"v1 request: {request['method']} {request['path']}"]
    if request.get("contentType"):
        out.append(f"  Content-Type: {request['contentType']}")
    if request.get("accept"):
        out.append(f"  Accept: {request['accept']}")
    if request.get("body"):
        out.append(_indent(_pretty_body(request["body"], request.get("contentType")), "  "))
    out.append("")
    calls = explanation["calls"]
    if not calls:
        out.append("v2 calls: none (the proxy answers without calling Capsule)")
    else:
        assumed = explanation["assumptions"]
        source = "caller's time zone" if assumed["timezoneFrom"].startswith("the caller") else "[translate] timezone"
        out.append(f"v2 calls ({source}: {assumed['timezone']}):")
    for call in calls:
        label = "look-up" if call["role"] == "look-up" else "call   "
        out.append(f"  {call['step']}. {label} {call['method']} {call['url']}")
        if call["purpose"]:
            out.append(f"             {call['purpose']}")
        if call["body"] is not None:
            out.append(_indent(json.dumps(call["body"], indent=2, ensure_ascii=False), "             "))
        out.append(f"             -> {call['answer']['summary']}")
        body = call["answer"]["body"]
        if call["role"] == "call" and isinstance(body, dict) and "task" in body and call["method"] == "GET":
            out.append("             the dry-run task, as v2 answers it:")
            out.append(_indent(json.dumps(body, indent=2, ensure_ascii=False), "             "))
    out.append("")
    out.append("v1 answer, made from the v2 answers:" if calls else "v1 answer:")
    out.append(f"  {answer['status']} {answer['reason']}".rstrip())
    for name, value in answer["headers"].items():
        if name != "Content-Type" or answer["body"]:
            out.append(f"  {name}: {value}")
    if answer["body"]:
        out.append(_indent(_pretty_body(answer["body"], answer["headers"].get("Content-Type")), "  "))
    notes = explanation.get("notes") or []
    if notes:
        out.append("")
        out.extend(f"note: {note}" for note in notes)
    return "\n".join(out) + "\n"


# --- POST /_proxy/explain ---------------------------------------------------------------------

EXPLAIN_SLOTS = web.AppKey("capsule_explain_slots", asyncio.Semaphore)
MAX_CONCURRENT = 4


def _id_map(value: Any, what: str) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
            for k, v in value.items()):
        raise ExplainError(f'"{what}" must be an object of name -> positive id')
    return value or None


async def explain_handler(request: web.Request) -> web.Response:
    """`POST /_proxy/explain` with `{"method", "path", "body"?, "contentType"?, "accept"?,
    "timezone"?, "owners"?, "categories"?}` -> the explanation as JSON (400 for a bad request).

    Uses the running proxy's settings, never its upstream: the dry run has its own."""
    slots = request.app.get(EXPLAIN_SLOTS)
    if slots is not None and slots.locked():
        return web.json_response({"message": "too many explanations at once; try again"}, status=503,
                                 headers={"Retry-After": "1"})
    try:
        try:
            data = await request.json()
        except ValueError:
            raise ExplainError("the request body must be a JSON object") from None
        if not isinstance(data, dict):
            raise ExplainError("the request body must be a JSON object")
        for key in ("method", "path"):
            if not isinstance(data.get(key), str):
                raise ExplainError(f'"{key}" is required and must be text')
        for key in ("body", "contentType", "accept", "timezone"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ExplainError(f'"{key}" must be text')
        services = request.app[SERVICES]
        kwargs = dict(body=data.get("body"), content_type=data.get("contentType"), accept=data.get("accept"),
                      timezone=data.get("timezone"), owners=_id_map(data.get("owners"), "owners"),
                      categories=_id_map(data.get("categories"), "categories"), settings=services.settings,
                      upstream_base=services.upstream.base_url, proxy_base=public_base(request, services.settings))
        if slots is None:
            result = await explain(data["method"], data["path"], **kwargs)
        else:
            async with slots:
                result = await explain(data["method"], data["path"], **kwargs)
    except ExplainError as exc:
        return web.json_response({"message": str(exc)}, status=400)
    return web.json_response(result, dumps=lambda d: json.dumps(d, ensure_ascii=False))


_MAKE_APP: list[Any] = [None]


def install(app: web.Application, make_app: Any) -> None:
    """Route `POST /_proxy/explain` on a proxy app (before it starts); `make_app` builds the proxy
    app the dry run runs (proxy.app.create_app, passed in so that this module needs no import of it)."""
    _MAKE_APP[0] = make_app
    if EXPLAIN_SLOTS in app:
        return
    app[EXPLAIN_SLOTS] = asyncio.Semaphore(MAX_CONCURRENT)
    app.router.add_post("/_proxy/explain", explain_handler)
