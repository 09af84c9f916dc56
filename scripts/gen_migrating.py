#!/usr/bin/env python3
"""Generate docs/migrating.md: every v1 task endpoint explained by `explain`, every v1 task field
mapped with examples computed by `proxy/translate`, and `convert` and `usage` output.

    .venv/bin/python scripts/gen_migrating.py           # rewrite docs/migrating.md
    .venv/bin/python scripts/gen_migrating.py --check   # exit 1 if it is out of date

Nothing in the examples is typed by hand: they are produced by the same code the proxy runs, with
fixed addresses (`http://proxy`, `https://api.capsulecrm.com`), a fixed zone and fixed times, so
the output is the same on every machine. tests/migrate/test_docs.py fails when the committed file
differs from this script's output.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from zoneinfo import ZoneInfo  # noqa: E402

from proxy.config import load_settings  # noqa: E402
from proxy.migrate import convert as converting  # noqa: E402
from proxy.migrate import explain as explaining  # noqa: E402
from proxy.migrate import usage  # noqa: E402
from proxy.translate import tasks as translate  # noqa: E402
from proxy.v1.documents import TASK_FIELDS  # noqa: E402

TARGET = ROOT / "docs" / "migrating.md"
ZONE = "America/New_York"
XML = "application/xml"
JSON = "application/json"

# (heading, method, path, content type, body, accept): one example per v1 task endpoint.
ENDPOINTS: list[tuple[str, str, str, str | None, str | None, str | None]] = [
    ("Read a task", "GET", "/api/task/59", None, None, None),
    ("Read a task as v1 JSON", "GET", "/api/task/59", None, None, "json"),
    ("List tasks (a window)", "GET", "/api/tasks?start=0&limit=10", None, None, None),
    ("List tasks far into the list", "GET", "/api/tasks?start=150&limit=10&status=open,completed", None, None, None),
    ("List tasks by category and user", "GET", "/api/tasks?category=Call&user=sofia", None, None, None),
    ("List a party's tasks", "GET", "/api/party/7/tasks", None, None, None),
    ("List an opportunity's tasks", "GET", "/api/opportunity/3/tasks?limit=1", None, None, None),
    ("List a case's completed tasks", "GET", "/api/kase/5/tasks?status=completed", None, None, None),
    ("Create a task", "POST", "/api/task", XML,
     "<task><description>Call customer</description><detail>About the renewal</detail>"
     "<category>Meeting</category><dueDateTime>2026-04-21T15:00:00Z</dueDateTime>"
     "<owner>sofia</owner></task>", None),
    ("Create a task for a party (v1 JSON)", "POST", "/api/party/7/task", JSON,
     '{"task": {"description": "Send the proposal", "dueDate": "2026-05-01"}}', None),
    ("Create a task for a case", "POST", "/api/kase/5/task", XML,
     "<task><description>Chase the invoice</description><dueDate>2026-05-04</dueDate></task>", None),
    ("Update a task", "PUT", "/api/task/59", XML,
     "<task><detail>Now 30 seats</detail><dueDate>2026-04-22</dueDate><category></category></task>", None),
    ("Update a task with the document a GET returned", "PUT", "/api/task/59", JSON,
     '{"task": {"id": "59", "description": "Call Eric", "status": "OPEN", "partyId": "7", '
     '"partyName": "Example Person", "createdOn": "2026-04-01T09:00:00Z"}}', None),
    ("Complete a task", "POST", "/api/task/59/complete", None, None, None),
    ("Reopen a task", "POST", "/api/task/59/reopen", None, None, None),
    ("Delete a task", "DELETE", "/api/task/59", None, None, None),
    ("List the users", "GET", "/api/users", None, None, None),
    ("List the task categories", "GET", "/api/task/categories", None, None, None),
    ("A body the proxy refuses", "POST", "/api/task", XML,
     "<task><description>No due date</description><category>Call</category></task>", None),
]

# How each v1 <task> element maps. Writable ones get an example computed by task_to_v2 (as in
# a PUT: only that field); read-only ones an example computed by task_to_v1 from SAMPLE_V2.
FIELDS: dict[str, tuple[str, str]] = {
    "id": ("`id`", "Read-only. Ignored when sent in a body."),
    "description": ("`description`", "Required on create; never blank. Sent as written."),
    "detail": ("`detail`", "Blank clears it (`null`)."),
    "category": ("`category.id`", "By name, looked up in `GET /api/v2/categories` (exact, then one "
                 "case-insensitive match); unknown: 400. Blank clears it."),
    "dueDate": ("`dueOn` (and `dueTime: null` on update)", "A calendar day, never shifted by a zone. "
                "A time other than midnight is a 400 (use `dueDateTime`)."),
    "dueDateTime": ("`dueOn` + `dueTime`", "A UTC instant, kept as wall-clock time in the caller's "
                    "zone (`GET /api/v2/users/current`, or `[translate] timezone`)."),
    "owner": ("`owner.id`", "By username, looked up in `GET /api/v2/users`; unknown: 400. Blank: "
              "left out on create (the caller owns it), 400 on update."),
    "partyId": ("`party.id`", "Read-only; set by creating under `/api/party/{id}/task`."),
    "partyName": ("`party.name`, or `party.firstName lastName`", "Read-only."),
    "opportunityId": ("`opportunity.id`", "Read-only; set by creating under `/api/opportunity/{id}/task`."),
    "opportunityName": ("`opportunity.name`", "Read-only."),
    "caseId": ("`kase.id`", "Read-only; set by creating under `/api/kase/{id}/task`."),
    "caseName": ("`kase.name`", "Read-only."),
    "status": ("`status`", "Read-only (OPEN, COMPLETED; v2's PENDING passes through). Changed by "
               "`/complete` and `/reopen`."),
    "createdOn": ("`createdAt`", "Read-only; UTC, whole seconds."),
    "updatedOn": ("`updatedAt`", "Read-only; UTC, whole seconds."),
    "completedOn": ("`completedAt`", "Read-only; UTC, whole seconds."),
}
WRITE_EXAMPLES = {"description": "Call Eric", "detail": "", "category": "Meeting",
                  "dueDate": "2026-04-22T00:00:00Z", "dueDateTime": "2026-04-21T15:00:00Z", "owner": "sofia"}
SAMPLE_V2 = {"id": 59, "description": "Call Eric", "status": "COMPLETED",
             "dueOn": "2026-04-21", "dueTime": "11:00:00",
             "party": {"id": 7, "type": "person", "firstName": "Eric", "lastName": "Jones"},
             "opportunity": {"id": 3, "name": "CRM System"}, "kase": {"id": 5, "name": "Invoicing"},
             "createdAt": "2026-04-01T09:00:00.000Z", "updatedAt": "2026-04-02T10:30:00+00:00",
             "completedAt": "2026-04-20T16:45:12Z"}
V2_SOURCE = {"id": "id", "partyId": "party", "partyName": "party", "opportunityId": "opportunity",
             "opportunityName": "opportunity", "caseId": "kase", "caseName": "kase", "status": "status",
             "createdOn": "createdAt", "updatedOn": "updatedAt", "completedOn": "completedAt"}


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{text}`" if text else "`\"\"`"


def field_table() -> str:
    if set(FIELDS) != set(TASK_FIELDS):
        raise SystemExit(f"the field table and proxy.v1.documents.TASK_FIELDS differ: "
                         f"{sorted(set(FIELDS) ^ set(TASK_FIELDS))}")
    zone = ZoneInfo(ZONE)
    v1_back = translate.task_to_v1(SAMPLE_V2, zone=zone)
    rows = ["| v1 element | v2 field | example (zone " + ZONE + ") | rule |", "|---|---|---|---|"]
    for name in TASK_FIELDS:
        v2_field, rule = FIELDS[name]
        if name in translate.WRITABLE:
            sent = translate.task_to_v2({name: WRITE_EXAMPLES[name]}, zone=zone, owner_ids={"sofia": 2},
                                        category_ids={"Meeting": 4}, creating=False)
            example = f"{_code(WRITE_EXAMPLES[name])} → {_code(sent)}"
        else:
            source = V2_SOURCE[name]
            example = f"{_code({source: SAMPLE_V2[source]})} → {_code(v1_back.get(name, ''))}"
        rows.append(f"| `{name}` | {v2_field} | {example} | {rule} |")
    return "\n".join(rows)


def _command(method: str, path: str, content_type: str | None, body: str | None, accept: str | None) -> str:
    parts = ["capsule-proxy explain", method, f"'{path}'" if any(c in path for c in "?&,") else path]
    if body is not None:
        parts.append("--body task." + ("json" if content_type == JSON else "xml"))
    if accept:
        parts.append(f"--accept {accept}")
    parts.append(f"--timezone {ZONE}")
    return " ".join(parts)


def _calls_cell(explanation: dict[str, Any]) -> str:
    cells = []
    for call in explanation["calls"]:
        text = f"`{call['method']} {call['path']}`"
        cells.append(text + (" (look-up)" if call["role"] == "look-up" else ""))
    return "<br>".join(cells) or "none"


async def _explanations() -> list[dict[str, Any]]:
    settings = load_settings(environ={})
    results = []
    for _, method, path, content_type, body, accept in ENDPOINTS:
        results.append(await explaining.explain(
            method, path, body=body, content_type=content_type,
            accept={"json": JSON, "xml": XML}.get(accept or "", accept), timezone=ZONE, settings=settings))
    return results


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


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(ch for ch in heading.lower() if ch.isalnum() or ch in " -")
    return kept.replace(" ", "-")


def _endpoint_table(explanations: list[dict[str, Any]]) -> str:
    rows = ["| example | v1 request | v2 calls, in order | v1 answer |", "|---|---|---|---|"]
    for (heading, method, path, *_), explanation in zip(ENDPOINTS, explanations):
        answer = explanation["answer"]
        shown = f"{answer['status']} {answer['reason']}"
        if "Location" in answer["headers"]:
            shown += f", `Location: {answer['headers']['Location']}`"
        rows.append(f"| [{heading}](#{_anchor(heading)}) | `{method} {path}` | {_calls_cell(explanation)} "
                    f"| {shown} |")
    return "\n".join(rows)


def render() -> str:
    explanations = asyncio.run(_explanations())
    out = [
        "# Migrating from Capsule API v1 to v2",
        "",
        "<!-- Generated by scripts/gen_migrating.py from `capsule-proxy explain`, `convert` and `usage`."
        " Do not edit: run `.venv/bin/python scripts/gen_migrating.py`. -->",
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
        "what the proxy does, not what someone remembered. `explain` runs the real proxy in front of "
        f"a dry-run upstream that records each v2 request and answers it with made-up data (time zone "
        f"`{ZONE}`, tasks due 2026-04-21 at 15:00 local time). Nothing is sent to Capsule.",
        "",
        "## The v1 task endpoints in v2",
        "",
        "Look-ups are cached per token (`[cache]`), so a warm proxy makes them once in a while, not on "
        "every request. The time zone is looked up only when a time of day has to be translated.",
        "",
        _endpoint_table(explanations),
        "",
        "## The v1 task fields in v2",
        "",
        "The examples are computed by `proxy/translate/tasks.py`: writable fields as a `PUT` sends "
        "them (only the fields given), read-only ones from a v2 answer.",
        "",
        field_table(),
        "",
        "v2-only task fields (`repeat`, `hasTrack`, `nextTask`, `taskDelayRule`, `daysAfter`, "
        "`completedBy`, `active`, ...) have no v1 element and are not shown to v1 clients.",
        "",
        "## Each endpoint, explained",
        "",
        "`capsule-proxy explain` takes the v1 method and path, and the body from a file (`--body FILE`, "
        "or `-` for stdin). It prints each v2 request, marked *look-up* or *call*, with its JSON body "
        "and the dry-run answer, then the v1 answer the proxy makes from it. `--json` prints the same "
        "as JSON; `--owner-map`/`--category-map` give the look-ups your account's real ids.",
        "",
    ]
    for (heading, method, path, content_type, body, accept), explanation in zip(ENDPOINTS, explanations):
        out += [f"### {heading}", "", "```console", "$ " + _command(method, path, content_type, body, accept),
                explaining.render_text(explanation).rstrip(), "```", ""]
    delete = explanations[[e[1] for e in ENDPOINTS].index("DELETE")]
    out += [
        "### The same from a running proxy",
        "",
        "```console",
        "$ curl -s -X POST http://127.0.0.1:8080/_proxy/explain -H 'Content-Type: application/json' \\",
        f"    -d '{{\"method\": \"DELETE\", \"path\": \"/api/task/59\", \"timezone\": \"{ZONE}\"}}'",
        json.dumps(delete, indent=2, ensure_ascii=False),
        "```",
        "",
        "The request may also carry `body`, `contentType`, `accept`, `owners` and `categories` "
        "(objects of name → id). The running proxy's settings apply, its upstream is never called, "
        "and the URLs shown name its real upstream and its own address.",
        "",
        "## Converting stored v1 data",
        "",
        "`capsule-proxy convert` reads v1 task documents (XML or v1 JSON, one `<task>` or a `<tasks>` "
        "list; files, folders, or `-` for stdin) and writes v2 task bodies with the proxy's own rules. "
        "It works offline: `--owner-map` and `--category-map` (JSON or TOML objects of name → id, or "
        "a saved `GET /api/v2/users` / `GET /api/v2/categories` answer) stand in for the look-ups. A "
        "stored task keeps its party, opportunity or kase link (`--no-links` drops it); ids, names, "
        "status and timestamps are dropped, since v2 assigns them. `--timezone` is required for tasks "
        "with a `dueDateTime` (v2 keeps the owner's local time).",
        "",
        "Each task is one JSON Lines record on stdout (`source` is the file, and `#N` the task's place "
        "in a list); `--output DIR` writes one file per input instead. Failures are listed on stderr "
        "and make the exit status 1; the other tasks are still converted. A progress bar is shown on "
        "a terminal for more than one file.",
        "",
        _convert_example(),
        "",
        "`--to v1` goes back: it reads v2 bodies (`{\"task\": ...}`, `{\"tasks\": [...]}` or JSON "
        "Lines, such as the output above) and writes v1 documents (`--format xml`, the default, or "
        "`json`), naming owners and categories from the same maps.",
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
    args = parser.parse_args(argv)
    text = render()
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
