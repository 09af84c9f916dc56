#!/usr/bin/env python3
"""Generate docs/migrating.md from the resource declarations and the migration tools.

    .venv/bin/python scripts/gen_migrating.py           # rewrite docs/migrating.md
    .venv/bin/python scripts/gen_migrating.py --check   # exit 1 if it is out of date

The endpoint table lists every declared route (proxy/resources) and every v1 call the proxy
does not translate; the field tables are every shape's columns (`source`, `note`, writable or
read-only); each route's example is `explain` run on a request made from its declaration
(proxy/migrate/examples.py), plus a few illustrations listed below. Nothing about a family is
typed here. Addresses, zone and the emulator's clock are fixed, so the page is the same on every
machine; tests/migrate/test_docs.py fails when the committed file differs from this output.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from zoneinfo import ZoneInfo  # noqa: E402

from proxy.app import create_app  # noqa: E402
from proxy.config import load_settings  # noqa: E402
from proxy.migrate import convert as converting  # noqa: E402
from proxy.migrate import examples  # noqa: E402
from proxy.migrate import explain as explaining  # noqa: E402
from proxy.migrate import usage  # noqa: E402
from proxy.resources import RESOURCES, UNTRANSLATED  # noqa: E402
from proxy.resources.base import Resource  # noqa: E402
from proxy.resources.lookups import LOOKUPS  # noqa: E402
from proxy.translate.fields import Field  # noqa: E402

TARGET = ROOT / "docs" / "migrating.md"
ZONE = "America/New_York"
XML = "application/xml"
JSON = "application/json"

# Illustrations beyond one example per route: (heading, method, path, content type, body, accept).
# They are requests, not rules: what each does is whatever `explain` finds.
ILLUSTRATIONS: list[tuple[str, str, str, str | None, str | None, str | None]] = [
    ("Read a task as v1 JSON", "GET", "/api/task/59", None, None, "json"),
    ("List tasks far into the list", "GET", "/api/tasks?start=150&limit=10&status=open,completed", None, None, None),
    ("List tasks by category and user", "GET", "/api/tasks?category=Call&user=sofia", None, None, None),
    ("A filter naming a user the account does not have", "GET", "/api/tasks?user=nobody", None, None, None),
    ("List a case's completed tasks", "GET", "/api/kase/5/tasks?status=completed", None, None, None),
    ("Create a task for an opportunity (v1 JSON)", "POST", "/api/opportunity/3/task", JSON,
     '{"task": {"description": "Send the proposal", "dueDate": "2026-05-01", "owner": "sofia"}}', None),
    ("Update a task with the document a GET returned", "PUT", "/api/task/59", JSON,
     '{"task": {"id": "59", "description": "Call Eric", "status": "OPEN", "partyId": "7", '
     '"partyName": "Eric Jones", "createdOn": "2026-04-01T09:00:00Z"}}', None),
    ("Move a due time across a daylight-saving change", "PUT", "/api/task/59", XML,
     "<task><dueDateTime>2026-03-08T15:00:00Z</dueDateTime></task>", None),
    ("A body the proxy refuses", "POST", "/api/task", XML,
     "<task><description>No due date</description><category>Call</category></task>", None),
    # One of the calls proxy/resources/untranslated.py lists, whichever comes first there.
    ("A v1 call the proxy does not translate", *next(examples.untranslated()), None, None, None),
]
# The account's users for the illustrations (`--owner-map owners.json`): a filter's names are not
# made up (decision M1), so the user filter above needs sofia here to match anything.
OWNERS = {"api.user": 1, "sofia": 2}


def shown(path: str) -> str:
    """A route template as people read it: `{kind:party|kase}` -> `{party|kase}`."""
    return re.sub(r"\{\w+:([^{}]+)\}", r"{\1}", path)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")          # a pipe splits a table cell, even in code


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(ch for ch in heading.lower() if ch.isalnum() or ch in " -")
    return kept.replace(" ", "-")


# --- the requests and their explanations ------------------------------------------------------

def _requests() -> list[dict[str, Any]]:
    """Every example request, one per declared route first, then the illustrations."""
    found = []
    for example in examples.every_route(ZoneInfo(ZONE)):
        heading = f"{example.method} {shown(example.route.path)}"
        found.append({"heading": heading, "method": example.method, "path": example.path,
                      "contentType": example.content_type, "body": example.body, "accept": None,
                      "route": (example.route.method, example.route.path)})
    for heading, method, path, content_type, body, accept in ILLUSTRATIONS:
        found.append({"heading": heading, "method": method, "path": path, "contentType": content_type,
                      "body": body, "accept": accept, "route": None, "owners": OWNERS})
    return found


async def _explanations(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    settings = load_settings(environ={})
    results = []
    for request in requests:
        results.append(await explaining.explain(
            request["method"], request["path"], make_app=create_app, body=request["body"],
            content_type=request["contentType"], accept={"json": JSON, "xml": XML}.get(request["accept"] or ""),
            timezone=ZONE, owners=request.get("owners"), settings=settings))
    return results


def _command(request: dict[str, Any]) -> str:
    path = request["path"]
    parts = ["capsule-proxy explain", request["method"], f"'{path}'" if any(c in path for c in "?&,{}") else path]
    if request["body"] is not None:
        parts.append("--body record." + ("json" if request["contentType"] == JSON else "xml"))
    if request["accept"]:
        parts.append(f"--accept {request['accept']}")
    parts.append(f"--timezone {ZONE}")
    if request.get("owners"):
        parts.append("--owner-map owners.json")
    return " ".join(parts)


def _calls_cell(explanation: dict[str, Any]) -> str:
    cells = []
    for call in explanation["calls"]:
        text = f"`{call['method']} {call['path']}`"
        cells.append(text + (" (look-up)" if call["role"] == "look-up" else ""))
    return "<br>".join(cells) or "none"


def _answer_cell(explanation: dict[str, Any]) -> str:
    answer = explanation["answer"]
    shown = f"{answer['status']} {answer['reason']}"
    if "Location" in answer["headers"]:
        shown += f", `Location: {answer['headers']['Location']}`"
    return shown


# --- the tables -------------------------------------------------------------------------------

def endpoint_table(requests: list[dict[str, Any]], explanations: list[dict[str, Any]]) -> str:
    by_route = {request["route"]: (request, explanation) for request, explanation in zip(requests, explanations)
                if request["route"] is not None}
    rows = ["| v1 route | family | v2 calls of the example, in order | v1 answer |", "|---|---|---|---|"]
    for resource in RESOURCES:
        for route in resource.routes:
            request, explanation = by_route[(route.method, route.path)]
            rows.append(f"| [`{route.method} {_cell(shown(route.path))}`](#{_anchor(request['heading'])}) "
                        f"| {resource.noun} "
                        f"| {_calls_cell(explanation)} | {_answer_cell(explanation)} |")
    for methods, path in UNTRANSLATED:
        methods_shown = "any method" if methods == "*" else methods.replace("|", ", ")
        rows.append(f"| `{_cell(shown(path))}` ({methods_shown}) | | not translated | 501 Not Implemented |")
    return "\n".join(rows)


def _write_rule(column: Any) -> str:
    return "writable" if column.write is not None else "read-only"


def field_tables() -> str:
    """Each family's v1 elements, from its shapes' columns, in the order v1 writes them."""
    out = []
    for resource in RESOURCES:
        roots = ", ".join(f"`<{shape.root}>`" for shape in resource.shapes) or f"`<{resource.list_root}>`"
        out += [f"### {resource.noun.capitalize()} ({roots})", "", resource.doc, ""]
        if not resource.shapes:
            out += [_text_items(resource), ""]
            continue
        for shape in resource.shapes:
            if len(resource.shapes) > 1:
                out += [f"`<{shape.root}>`:", ""]
            out += ["| v1 element | v2 field | on write | rule |", "|---|---|---|---|"]
            for column in shape.columns:
                needs = sorted(column.lookups) if isinstance(column, Field) else []
                note = column.note + (f" (look-up: {', '.join(needs)})" if needs else "")
                for name in column.names:
                    out.append(f"| `{name}` | {column.source or '—'} | {_write_rule(column)} | {note} |")
            out.append("")
    return "\n".join(out).rstrip("\n")


def _text_items(resource: Resource) -> str:
    """A family answered as names only (task categories): where the names come from."""
    for route in resource.routes:
        lookup = route.options.get("lookup")
        if route.op == "reference" and lookup in LOOKUPS:
            source = LOOKUPS[lookup]
            pages = ", every page" if source.paged else ""
            return (f"Each `<{route.options['item']}>` of `{route.method} {route.path}` is the name of one record "
                    f"of `GET {source.path}`{pages}; nothing is written.")
    return "Read-only."


# --- convert and usage examples ---------------------------------------------------------------

def _convert_example() -> str:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "tasks.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<tasks size="3">\n'
            "  <task><id>100</id><description>Meet with customer</description><category>Meeting</category>"
            "<dueDate>2012-02-24T00:00:00Z</dueDate><owner>a.user</owner><partyId>1</partyId>"
            "<partyName>Eric Jones</partyName><status>OPEN</status></task>\n"
            "  <task><id>101</id><description>Call customer</description>"
            "<dueDateTime>2012-04-21T15:00:00Z</dueDateTime><owner>a.user</owner><caseId>3</caseId></task>\n"
            "  <task><id>102</id><description>Lunch</description><category>Lunch</category>"
            "<dueDate>2012-02-25T00:00:00Z</dueDate></task>\n</tasks>\n")
        (base / "owners.json").write_text('{"a.user": 7}\n')
        (base / "categories.toml").write_text('Meeting = 4\nCall = 1\n')
        maps = converting.Maps.load(str(base / "owners.json"), str(base / "categories.toml"))
        out, err = io.BytesIO(), io.StringIO()
        converting.convert([str(base / "tasks.xml")], converting.Options(zone=ZoneInfo("Europe/London"), maps=maps),
                           stdout=out, stderr=err)
        sources = {"tasks": (base / "tasks.xml").read_text(), "owners": (base / "owners.json").read_text(),
                   "categories": (base / "categories.toml").read_text()}
        output = (out.getvalue().decode() + err.getvalue()).replace(f"{base}/", "")
    return "\n".join([
        "```console", "$ cat tasks.xml", sources["tasks"].rstrip(), "$ cat owners.json", sources["owners"].rstrip(),
        "$ cat categories.toml", sources["categories"].rstrip(),
        "$ capsule-proxy convert --timezone Europe/London --owner-map owners.json "
        "--category-map categories.toml tasks.xml",
        output.rstrip(), "$ echo $?", "1", "```"])


def _usage_example() -> str:
    clock = [1_776_000_000.0]
    inventory = usage.UsageInventory(salt="docs-example", clock=lambda: clock[0])

    def calls(count: int, route: str, agent: str, token: str | None, method: str = "GET", status: int = 200) -> None:
        from proxy.observe import RequestRecord
        for _ in range(count):
            clock[0] += 7
            inventory(RequestRecord("id", "10.0.0.7", agent, method, route, status, 0.01, 1, 0, 0, token))

    calls(4000, "/api/party/{id}/tasks", "invoicing-job/1.2", "token-of-the-invoicing-job")
    calls(310, "/api/tasks", "crm-sync/4.1 (ruby)", "token-of-crm-sync")
    calls(42, "/api/task/{id}", "crm-sync/4.1 (ruby)", "token-of-crm-sync", "PUT")
    calls(9, "/api/task", "crm-sync/4.1 (ruby)", "token-of-crm-sync", "POST", 400)
    calls(3, "/api/task/categories", "curl/8.5.0", None, status=401)
    snapshot = inventory.snapshot()
    return "\n".join(["```console", "$ capsule-proxy usage --url http://127.0.0.1:8080",
                      usage.table(snapshot).rstrip(), "```", "",
                      "`GET /_proxy/usage` answers the same as JSON; one entry of `calls`:", "",
                      "```json", json.dumps(snapshot["calls"][0], indent=2), "```"])


# --- the page ---------------------------------------------------------------------------------

def render() -> str:
    """The page (http/handlers.fill fetches a request's look-ups in a fixed order, so it is the same
    in every process)."""
    requests = _requests()
    explanations = asyncio.run(_explanations(requests))
    out = [
        "# Migrating from Capsule API v1 to v2",
        "",
        "<!-- Generated by scripts/gen_migrating.py from the resource declarations (proxy/resources) and "
        "`capsule-proxy explain`, `convert` and `usage`. Do not edit: run "
        "`.venv/bin/python scripts/gen_migrating.py`. -->",
        "",
        "Three questions, three commands, no Capsule account needed:",
        "",
        "| question | command |",
        "|---|---|",
        "| What does this v1 call do in v2? | `capsule-proxy explain METHOD PATH [--body FILE]`, "
        "or `POST /_proxy/explain` on a running proxy |",
        "| How do we convert our stored v1 data? | `capsule-proxy convert [--to v2\\|v1] PATH...` |",
        "| Which v1 calls does our fleet still make? | `capsule-proxy usage --url URL` "
        "(`GET /_proxy/usage`) |",
        "",
        "Every example below was produced by these commands when this page was generated, so it shows "
        "what the proxy does, not what someone remembered. `explain` runs the real proxy in front of the "
        "embedded emulator, seeded for each request with a small synthetic account: the caller, the users, "
        "categories and other names the request uses, and the records its path names, made by each family's "
        f"own rules (every user in `{ZONE}`, due 2026-04-21 at 15:00 local time). Nothing is sent to Capsule.",
        "",
        "## The v1 endpoints in v2",
        "",
        "One row per v1 route the proxy serves, then every v1 call it knows and does not translate (it "
        "answers 501 naming the call, never a 404 a client could read as \"that record does not exist\"). "
        "Look-ups are cached per token (`[cache]`), so a warm proxy makes them once in a while, not on "
        "every request.",
        "",
        endpoint_table(requests, explanations),
        "",
        "## The v1 fields in v2",
        "",
        "Each family's v1 elements in the order v1 writes them, with the v2 field each is read from and "
        "written to. Read-only elements are ignored when a body sends them, so GET → edit → PUT works.",
        "",
        field_tables(),
        "",
        "## Each endpoint, explained",
        "",
        "`capsule-proxy explain` takes the v1 method and path, and the body from a file (`--body FILE`, "
        "or `-` for stdin). It prints each v2 request, marked *look-up* or *call* with what it is for, its "
        "JSON body and the emulator's answer, then the v1 answer the proxy makes from it. `--json` prints "
        "the same as JSON; `--owner-map`/`--category-map` give the synthetic account your account's "
        "users and categories (a saved `GET /api/v2/users` answer also gives each user's time zone). "
        "Names a body uses are added to the synthetic account; a list filter's are not, since the proxy "
        f"answers a name the account lacks with an empty list. The examples after the per-route ones use "
        f"`owners.json` = `{json.dumps(OWNERS)}`.",
        "",
    ]
    for request, explanation in zip(requests, explanations):
        out += [f"### {request['heading']}", "", "```console", "$ " + _command(request),
                explaining.render_text(explanation).rstrip(), "```", ""]
    delete = next(e for r, e in zip(requests, explanations) if r["method"] == "DELETE" and r["route"])
    out += [
        "### The same from a running proxy",
        "",
        "```console",
        "$ curl -s -X POST http://127.0.0.1:8080/_proxy/explain -H 'Content-Type: application/json' \\",
        f"    -d '{{\"method\": \"DELETE\", \"path\": \"{delete['request']['path']}\", \"timezone\": \"{ZONE}\"}}'",
        json.dumps(delete, indent=2, ensure_ascii=False),
        "```",
        "",
        "The request may also carry `body`, `contentType`, `accept`, `owners` and `categories` "
        "(objects of name → id) and `ownerZones` (username → time zone). The running proxy's settings "
        "apply, its upstream is never called, and the URLs shown name its real upstream and its own address.",
        "",
        "## Converting stored v1 data",
        "",
        "`capsule-proxy convert` reads v1 documents of any family the proxy translates (XML or v1 JSON, one "
        "record such as `<task>` or a list such as `<tasks>`; files, folders, or `-` for stdin) and writes "
        "v2 bodies with the proxy's own rules. It works offline: files stand in for the look-ups: "
        "`--owner-map` and `--category-map` (JSON or TOML objects of name → id, or a saved "
        "`GET /api/v2/users` / `GET /api/v2/categories` answer), and `--lookup NAME=FILE` for any other "
        f"look-up list ({', '.join(name for name, source in LOOKUPS.items() if not source.single)}). A "
        "stored record keeps its party, opportunity or kase link (`--no-links` drops it); ids, names, "
        "status and timestamps are dropped, since v2 assigns them. `--timezone` is required for records "
        "with a time of day (v2 keeps the owner's local time).",
        "",
        "Each record is one JSON Lines record on stdout (`source` is the file, and `#N` the record's place "
        "in a list); `--output DIR` writes one file per input instead. Failures are listed on stderr "
        "and make the exit status 1; the other records are still converted. A progress bar is shown on "
        "a terminal for more than one file.",
        "",
        _convert_example(),
        "",
        "`--to v1` goes back: it reads v2 bodies (`{\"task\": ...}`, `{\"tasks\": [...]}` or JSON "
        "Lines, such as the output above, or any other family's) and writes v1 documents (`--format xml`, "
        "the default, or `json`), naming owners, categories and other linked records from the same files.",
        "",
        "## Which v1 calls are still made",
        "",
        "The proxy counts every v1 call by route template, method, status and client. A client is "
        "its `User-Agent` and the first 8 hex digits of a salted HMAC-SHA256 of its token (never the "
        "token itself); a call without a token is `#anonymous`. Set `[usage] file` to keep the counts "
        "across restarts (and to share them between `--workers`); `[usage] salt` fixes the salt, "
        "otherwise one is made and kept in the file.",
        "",
        _usage_example(),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/migrating.md is out of date")
    parser.add_argument("--stdout", action="store_true", help="print the page instead of writing it")
    args = parser.parse_args(argv)
    text = render()
    if args.stdout:
        sys.stdout.buffer.write(text.encode("utf-8"))
        return 0
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run scripts/gen_migrating.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
