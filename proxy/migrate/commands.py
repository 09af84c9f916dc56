"""The `convert`, `explain` and `usage` subcommands of `capsule-proxy`.

`proxy/cli.py` adds them with `add_commands(subparsers)` and hands a parsed command in
`COMMANDS` to `run(args)`, which returns the exit status:

* convert: 0 all converted, 1 something failed (listed on stderr), 2 bad options;
* explain: 0 explained (whatever the v1 answer would be), 2 bad request or options;
* usage: 0 shown, 1 the proxy or file could not be read, 2 bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from ..app import create_app
from ..config import ConfigError, load_settings
from . import convert as converting
from . import explain as explaining
from . import usage as inventory

COMMANDS = ("convert", "explain", "usage")


def add_commands(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the three subcommands to the `capsule-proxy` parser's subparsers."""
    convert = subparsers.add_parser(
        "convert", help="convert stored v1 documents to v2 bodies, or back (offline)",
        description="Convert stored v1 documents of any family the proxy translates (XML or v1 JSON; one "
                    "record or a list, e.g. <task> or <tasks>) to v2 bodies with the proxy's own translation "
                    "rules, or v2 bodies back to v1 (--to v1). Works offline: files stand in for Capsule's "
                    "look-up lists (users, categories, ...). Writes JSON Lines to stdout, or one file per "
                    "input (--output DIR); a summary goes to stderr. Exit status 1 if any record failed.")
    convert.add_argument("paths", nargs="+", metavar="PATH",
                         help="files, folders (searched recursively) or - for stdin")
    convert.add_argument("--to", choices=("v2", "v1"), default="v2", help="direction (default v2)")
    convert.add_argument("--timezone", metavar="ZONE",
                         help="IANA zone of the records' owners; required for records with a time of day")
    convert.add_argument("--owner-map", metavar="FILE",
                         help="JSON or TOML object username -> v2 user id (or a saved GET /api/v2/users answer)")
    convert.add_argument("--category-map", metavar="FILE",
                         help="JSON or TOML object category name -> v2 id (or a saved GET /api/v2/categories answer)")
    convert.add_argument("--lookup", metavar="NAME=FILE", action="append", default=[],
                         help="any other look-up list, e.g. milestones=milestones.json: a name -> id object or "
                              "a saved v2 answer (repeatable)")
    convert.add_argument("--format", choices=("xml", "json"), default="xml",
                         help="v1 output format with --to v1 (default xml)")
    convert.add_argument("--output", metavar="DIR", help="write one file per input into DIR")
    convert.add_argument("--no-links", action="store_true",
                         help="leave out the party/opportunity/kase link a stored v1 record carries")

    explain = subparsers.add_parser(
        "explain", help="show the v2 calls the proxy makes for a v1 request (nothing is sent)",
        description="Run a v1 request through the real proxy in front of the embedded emulator, seeded "
                    "with a synthetic account made for the request, and print the v2 requests it makes "
                    "(method, URL, JSON body, and the look-ups) and the v1 answer it makes from the v2 "
                    "answers. Nothing is sent to Capsule.")
    explain.add_argument("method", metavar="METHOD", help="GET, POST, PUT or DELETE")
    explain.add_argument("path", metavar="PATH", help="the v1 path and query, e.g. '/api/tasks?start=0&limit=10'")
    explain.add_argument("--body", metavar="FILE", help="the v1 request body (a file, or - for stdin)")
    explain.add_argument("--content-type", metavar="TYPE",
                         help="the body's Content-Type (default: guessed from the body)")
    explain.add_argument("--accept", metavar="TYPE",
                         help="the request's Accept header; 'json' and 'xml' are short for the v1 types")
    explain.add_argument("--timezone", metavar="ZONE", help="the users' Capsule time zone (default UTC)")
    explain.add_argument("--owner-map", metavar="FILE",
                         help="the account's users: username -> v2 id (a saved GET /api/v2/users answer also "
                              "gives each user's time zone); the first is the caller")
    explain.add_argument("--category-map", metavar="FILE", help="the account's categories: name -> v2 id")
    explain.add_argument("--config", metavar="FILE", help="the proxy's TOML config (its [translate] etc. apply)")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON")

    usage = subparsers.add_parser(
        "usage", help="show which v1 calls clients still make (the proxy's usage inventory)",
        description="Print the running proxy's usage inventory (GET /_proxy/usage) as a table: calls "
                    "per v1 route, status and client, most-called first. A client is its User-Agent "
                    "and a salted hash of its token.")
    source = usage.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="the proxy's base URL, e.g. http://127.0.0.1:8080; its ops listener's "
                                      "when [ops] port is set")
    source.add_argument("--file", metavar="FILE", help="read a [usage] file instead of asking a proxy")
    usage.add_argument("--json", action="store_true", help="print the inventory as JSON")
    usage.add_argument("--limit", type=int, metavar="N",
                       help="show only the N most-called rows (a proxy sends 100 unless asked; at most "
                            f"{inventory.MAX_LIMIT})")


def run(args: argparse.Namespace, *, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None,
        stderr: TextIO | None = None) -> int:
    """Run a parsed `convert`, `explain` or `usage` command; the exit status."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    stderr = stderr if stderr is not None else sys.stderr
    handler = {"convert": _convert, "explain": _explain, "usage": _usage}[args.command]
    return handler(args, stdin, stdout, stderr)


def _fail(stderr: TextIO, message: str, status: int) -> int:
    stderr.write(f"capsule-proxy {message}\n")
    stderr.flush()
    return status


def _convert(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    try:
        options = converting.Options(
            to=args.to, zone=converting.parse_zone(args.timezone),
            maps=converting.Maps.load(args.owner_map, args.category_map, args.lookup), fmt=args.format,
            output=Path(args.output) if args.output else None, links=not args.no_links)
        if options.output is not None and options.output.exists() and not options.output.is_dir():
            raise converting.UsageError(f"--output {options.output}: not a folder")
        if args.paths.count("-") > 1:
            raise converting.UsageError("stdin (-) can be read only once")
    except converting.UsageError as exc:
        return _fail(stderr, f"convert: {exc}", 2)
    report = converting.convert(args.paths, options, stdin=stdin, stdout=stdout, stderr=stderr)
    return report.exit_status


_ACCEPT = {"json": "application/json", "xml": "application/xml"}


def _explain(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        return _fail(stderr, f"explain: configuration error: {exc}", 2)
    try:
        owners = owner_zones = categories = None
        if args.owner_map:                    # read once: the ids, and the zones a saved answer has
            users = converting.load_lookup(args.owner_map, "users", "--owner-map")
            owners, owner_zones = converting.ids_of(users, "users"), converting.zones_of(users)
        if args.category_map:
            categories = converting.ids_of(converting.load_lookup(args.category_map, "categories",
                                                                  "--category-map"), "categories")
        body = None
        if args.body == "-":
            body = stdin.read()
        elif args.body:
            try:
                body = Path(args.body).read_bytes()
            except OSError as exc:
                raise converting.UsageError(f"--body {args.body}: cannot be read ({exc.strerror or exc})") from None
        accept = _ACCEPT.get((args.accept or "").strip().lower(), args.accept)
        # The addresses shown: the configured upstream and public URL, when there are any.
        upstream = settings.get("upstream", "url")
        explanation = asyncio.run(explaining.explain(
            args.method, args.path, make_app=create_app, body=body, content_type=args.content_type,
            accept=accept, timezone=args.timezone, owners=owners, owner_zones=owner_zones,
            categories=categories, settings=settings,
            upstream_base=explaining.DEFAULT_UPSTREAM if upstream == "embedded" else upstream,
            proxy_base=settings.get("server", "public_url") or explaining.DEFAULT_PROXY))
    except (converting.UsageError, explaining.ExplainError) as exc:
        return _fail(stderr, f"explain: {exc}", 2)
    if args.json:
        stdout.write(json.dumps(explanation, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")
    else:
        stdout.write(explaining.render_text(explanation).encode("utf-8"))
    stdout.flush()
    return 0


def fetch_usage(url: str, limit: int | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """The inventory a running proxy serves at `url` (its base URL, or the full /_proxy/usage URL):
    totals and the `limit` most-called rows (the proxy's default when None)."""
    target = url.rstrip("/")
    if not target.endswith(inventory.PATH):
        target += inventory.PATH
    if limit is not None:
        target += f"?limit={limit}"
    request = urllib.request.Request(target, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - an operator's URL
        return json.loads(response.read())


def _usage(args: argparse.Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    if args.limit is not None and not 1 <= args.limit <= inventory.MAX_LIMIT:
        return _fail(stderr, f"usage: --limit must be from 1 to {inventory.MAX_LIMIT}", 2)
    if args.url and not args.url.startswith(("http://", "https://")):
        return _fail(stderr, f"usage: --url must be an http(s) URL, got {args.url!r}", 2)
    try:
        if args.url:
            snapshot = fetch_usage(args.url, args.limit)
        else:
            snapshot = inventory.file_snapshot(args.file)
            if snapshot is None:
                return _fail(stderr, f"usage: {args.file}: no such file", 1)
    except urllib.error.HTTPError as exc:
        hint = (" (is the usage inventory wired into this proxy? With [ops] port set, ask the ops listener)"
                if exc.code == 404 else "")
        return _fail(stderr, f"usage: {args.url} answered {exc.code}{hint}", 1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        return _fail(stderr, f"usage: cannot read the inventory: {reason}", 1)
    except (ValueError, inventory.UsageFileError) as exc:
        return _fail(stderr, f"usage: not a usage inventory: {exc}", 1)
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("calls"), list):
        return _fail(stderr, "usage: not a usage inventory (no 'calls' list)", 1)
    if args.json:
        stdout.write(json.dumps(snapshot, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")
    else:
        stdout.write(inventory.table(snapshot, args.limit).encode("utf-8"))
    stdout.flush()
    return 0
