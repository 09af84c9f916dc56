"""`capsule-proxy explain` and `POST /_proxy/explain`: the v2 calls the proxy makes for one v1
request, found by running it (decision M1).

`explain()` resolves the v1 path with the proxy's own router, builds a synthetic account for
that route (account.py), sends the request through the real proxy in front of the real
emulator seeded with it (seeding.py), recording every call (dry_run.py), and says what each
call is for from the declarations (explanation.py). render.py prints it for people. The proxy app factory
is a parameter, wired by `install(app, create_app)`, so this module never imports proxy.app.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from ..config import Settings, load_settings
from ..http.addresses import public_base
from ..http.router import Match, Router
from ..keys import SERVICES
from ..resources import RESOURCES, UNTRANSLATED
from ..resources.lookups import LOOKUPS
from ..translate.errors import InvalidField
from ..v1 import codec
from ..v1.documents import DocumentError
from . import account as accounts
from . import dry_run, seeding
from .explanation import claims_for, role_and_purpose, summary
from .render import render_text

__all__ = ["explain", "render_text", "install", "ExplainError", "DEFAULT_UPSTREAM", "DEFAULT_PROXY"]

DEFAULT_UPSTREAM = "https://api.capsulecrm.com"
DEFAULT_PROXY = "http://proxy"
EXPLAIN_TIMEOUT = 30.0
MAX_CONCURRENT = 4
MAX_PATH = 2048
_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")
ROUTER = Router(RESOURCES, UNTRANSLATED)


class ExplainError(Exception):
    """The request to explain is not one (bad method, path, zone, map): 400 / exit status 2."""


def _zone(timezone: str | None) -> ZoneInfo:
    name = (timezone or "UTC").strip() or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExplainError(f"unknown IANA time zone {timezone!r}") from None


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


def _query(path: str) -> dict[str, str]:
    """The query as the proxy reads it: names in any case, the first value of each."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(path).query, keep_blank_values=True):
        found.setdefault(name.lower(), value)
    return found


def _document(match: Match, body: bytes | None, content_type: str | None) -> tuple[str, dict[str, Any]] | None:
    if not body or match.resource is None or not match.resource.shapes:
        return None
    try:
        return codec.decode(body, content_type, match.resource.roots)
    except (DocumentError, InvalidField):
        return None                                  # the proxy will say what is wrong with it


def _notes(settings: Settings, calls: list[dict[str, Any]], seed_notes: list[str]) -> list[str]:
    notes = []
    if calls:
        notes.append("Nothing was sent to Capsule: the embedded emulator answered these calls, seeded with a "
                     "synthetic account made for this request. Every call carries `Authorization: Bearer "
                     "<token>`: " + ("the proxy's own [auth] static_token (static mode)."
                                     if settings.get("auth", "mode") == "static"
                                     else "the v1 client's own token, its HTTP Basic user name."))
    cached = [f"[cache] {source.ttl} for the {name}" for name, source in LOOKUPS.items()
              if any(urlsplit(call["path"]).path == source.path for call in calls)]
    if cached:
        notes.append(f"Look-ups are cached per token ({', '.join(cached)}), so a warm proxy skips them.")
    zone = settings.get("translate", "timezone")
    if zone:
        notes.append(f"[translate] timezone = {zone!r}: the proxy uses that zone instead of the owners'.")
    return notes + seed_notes


async def explain(method: str, path: str, *, make_app: dry_run.AppFactory, body: bytes | str | None = None,
                  content_type: str | None = None, accept: str | None = None, timezone: str | None = None,
                  owners: Mapping[str, int] | None = None, owner_zones: Mapping[str, str] | None = None,
                  categories: Mapping[str, int] | None = None, settings: Settings | None = None,
                  upstream_base: str = DEFAULT_UPSTREAM, proxy_base: str = DEFAULT_PROXY) -> dict[str, Any]:
    """Run one v1 request through the real proxy and a seeded emulator; the explanation.

    Raises ExplainError for a request that cannot be explained (the proxy's own refusals, such
    as a 400 for a bad body, are part of the explanation instead)."""
    method = _check_request(method, path)
    zone = _zone(timezone)
    for name, value in (owner_zones or {}).items():
        _zone(value)
    settings = settings or load_settings(environ={})
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body and not content_type:
        content_type = _guess_content_type(body)
    found = ROUTER.resolve(method, urlsplit(path).path)
    match = found if isinstance(found, Match) else Match(None, None, {}, found.label)
    query = _query(path)
    document = _document(match, body, content_type)
    account = accounts.build(match, query, document, zone=zone, owners=owners, owner_zones=owner_zones,
                             categories=categories, max_pages=settings.get("upstream", "max_pages"))
    seed, seed_notes = seeding.make_seed(account)
    headers = {name: value for name, value in (("Content-Type", content_type), ("Accept", accept)) if value}
    try:
        async with asyncio.timeout(EXPLAIN_TIMEOUT):
            outcome = await dry_run.run(seed, make_app, dry_run.dry_run_settings(settings, proxy_base),
                                        method, path, body=body, headers=headers)
    except TimeoutError:
        raise ExplainError(f"the dry run did not finish in {EXPLAIN_TIMEOUT:.0f} seconds") from None
    override = settings.get("translate", "timezone")
    claims = claims_for(match, document, query, outcome.calls, account, zone_fixed=bool(override))
    base, seen = upstream_base.rstrip("/"), set()
    calls = []
    for step, call in enumerate(outcome.calls, 1):
        role, purpose = role_and_purpose(match, call, claims, account, seen, outcome.calls[step:])
        calls.append({"step": step, "role": role, "purpose": purpose, "method": call.method,
                      "path": call.path, "url": base + call.path, "body": call.body,
                      "answer": {"status": call.status, "body": call.answer,
                                 "summary": summary(call).replace(outcome.emulator_url, base)}})
    assumptions: dict[str, Any] = {
        "timezone": override or zone.key,
        "timezoneFrom": "[translate] timezone" if override else "the owner (every user of the synthetic "
                                                                "account is in this zone unless ownerZones says)",
        "upstream": base, "proxy": proxy_base.rstrip("/"),
        "owners": {user["username"]: user["id"] for user in account.lists["users"]},
        "categories": {c["name"]: c["id"] for c in account.lists.get("categories", [])},
        "records": account.shown_records()}
    if owner_zones:
        assumptions["ownerZones"] = dict(owner_zones)
    others = {name: {r[account.keys[name]]: r["id"] for r in records}
              for name, records in account.lists.items() if name not in ("users", "categories") and records}
    if others:
        assumptions["lookups"] = others
    return {
        "request": {"method": method, "path": path, "contentType": content_type, "accept": accept,
                    "body": body.decode("utf-8", "replace") if body else None},
        "assumptions": assumptions,
        "calls": calls,
        "lookups": [f"{c['method']} {c['path']}: {c['purpose']}" for c in calls if c["role"] == "look-up"],
        "answer": outcome.answer,
        "notes": _notes(settings, calls, seed_notes) + account.notes,
    }


# --- POST /_proxy/explain ---------------------------------------------------------------------

EXPLAIN_SLOTS = web.AppKey("capsule_explain_slots", asyncio.Semaphore)
EXPLAIN_APP_FACTORY = web.AppKey("capsule_explain_app_factory", object)


def _id_map(value: Any, what: str) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
            for k, v in value.items()):
        raise ExplainError(f'"{what}" must be an object of name -> positive id')
    return value or None


def _zone_map(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ExplainError('"ownerZones" must be an object of username -> IANA time zone')
    return value or None


async def explain_handler(request: web.Request) -> web.Response:
    """`POST /_proxy/explain` with `{"method", "path", "body"?, "contentType"?, "accept"?,
    "timezone"?, "owners"?, "ownerZones"?, "categories"?}` -> the explanation as JSON (400 for
    a bad request). The running proxy's settings apply; its upstream is never called."""
    slots = request.app[EXPLAIN_SLOTS]
    if slots.locked():
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
        async with slots:
            result = await explain(
                data["method"], data["path"], make_app=request.app[EXPLAIN_APP_FACTORY], body=data.get("body"),
                content_type=data.get("contentType"), accept=data.get("accept"), timezone=data.get("timezone"),
                owners=_id_map(data.get("owners"), "owners"), owner_zones=_zone_map(data.get("ownerZones")),
                categories=_id_map(data.get("categories"), "categories"), settings=services.settings,
                upstream_base=services.upstream.base_url, proxy_base=public_base(request, services.settings))
    except ExplainError as exc:
        return web.json_response({"message": str(exc)}, status=400)
    return web.json_response(result, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def install(app: web.Application, make_app: dry_run.AppFactory) -> None:
    """Route `POST /_proxy/explain` on a proxy app (before it starts); `make_app` builds the
    proxy each explanation runs (proxy.app.create_app, passed in: no import cycle)."""
    if EXPLAIN_SLOTS in app:
        return
    app[EXPLAIN_SLOTS] = asyncio.Semaphore(MAX_CONCURRENT)
    app[EXPLAIN_APP_FACTORY] = make_app
    app.router.add_post("/_proxy/explain", explain_handler)
