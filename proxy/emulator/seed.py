"""The seed file: TOML describing the account the emulator starts with.

Parsing is strict because a seed is written by hand: an unknown key, a duplicate id, a
reference to a record that does not exist or an unknown time zone is an error whose message
names the entry (`users[2].timezone`), and the emulator refuses to start.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEMO_SEED = "demo_seed.toml"
DEFAULT_REQUESTS_PER_HOUR = 4000
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}\Z")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")


class SeedError(Exception):
    """The seed is invalid; the message names the entry and the problem."""


@dataclass
class Seed:
    source: str
    subdomain: str = "sample"
    site_name: str = "Sample Ltd"
    requests_per_hour: int = DEFAULT_REQUESTS_PER_HOUR
    users: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    parties: list[dict[str, Any]] = field(default_factory=list)
    opportunities: list[dict[str, Any]] = field(default_factory=list)
    kases: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


# Allowed keys per table: key -> (type, required). Types are checked before anything else.
_SCHEMAS: dict[str, dict[str, tuple[type | tuple[type, ...], bool]]] = {
    "site": {"subdomain": (str, False), "name": (str, False)},
    "limits": {"requests_per_hour": (int, False)},
    "users": {"id": (int, False), "username": (str, True), "name": (str, False),
              "timezone": (str, False), "token": (str, True)},
    "categories": {"id": (int, False), "name": (str, True), "colour": (str, False)},
    "parties": {"id": (int, False), "type": (str, True), "firstName": (str, False),
                "lastName": (str, False), "name": (str, False)},
    "opportunities": {"id": (int, False), "name": (str, True), "party": (int, True)},
    "kases": {"id": (int, False), "name": (str, True), "party": (int, True)},
    "tasks": {"id": (int, False), "description": (str, True), "detail": (str, False),
              "dueOn": ((str, date), True), "dueTime": (str, False), "status": (str, False),
              "owner": ((int, str), False), "category": ((int, str), False),
              "party": (int, False), "opportunity": (int, False), "kase": (int, False)},
}
_LISTS = ("users", "categories", "parties", "opportunities", "kases", "tasks")


def _check_keys(where: str, entry: Any, table: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise SeedError(f"{where}: expected a table, got {entry!r}")
    schema = _SCHEMAS[table]
    for key, value in entry.items():
        if key not in schema:
            raise SeedError(f"{where}: unknown key {key!r}; allowed: {', '.join(schema)}")
        kind, _ = schema[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise SeedError(f"{where}.{key}: wrong type, got {value!r}")
    for key, (_, required) in schema.items():
        if required and key not in entry:
            raise SeedError(f"{where}: missing required key {key!r}")
    return dict(entry)


def _assign_ids(table: str, entries: list[dict[str, Any]]) -> None:
    """Give entries without an id the next free one, after checking given ids are unique."""
    seen: dict[int, int] = {}
    for index, entry in enumerate(entries, 1):
        if "id" in entry:
            if entry["id"] < 1:
                raise SeedError(f"{table}[{index}].id: must be a positive integer, got {entry['id']}")
            if entry["id"] in seen:
                raise SeedError(f"{table}[{index}].id: duplicate id {entry['id']} "
                                f"(also {table}[{seen[entry['id']]}])")
            seen[entry["id"]] = index
    next_id = max(seen, default=0) + 1
    for entry in entries:
        if "id" not in entry:
            entry["id"] = next_id
            next_id += 1


def _unique(table: str, entries: list[dict[str, Any]], key: str) -> None:
    seen: dict[Any, int] = {}
    for index, entry in enumerate(entries, 1):
        value = entry.get(key)
        if value is None:
            continue
        if value in seen:
            raise SeedError(f"{table}[{index}].{key}: duplicate value {value!r} (also {table}[{seen[value]}])")
        seen[value] = index


def parse_seed(text: str, source: str) -> Seed:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SeedError(f"seed {source}: not valid TOML ({exc})") from None
    allowed = {"site", "limits", *_LISTS}
    for key in data:
        if key not in allowed:
            raise SeedError(f"seed {source}: unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")
    try:
        return _build(data, source)
    except SeedError as exc:
        raise SeedError(f"seed {source}: {exc}") from None


def _build(data: dict[str, Any], source: str) -> Seed:
    seed = Seed(source=source)
    site = _check_keys("site", data.get("site", {}), "site")
    seed.subdomain = site.get("subdomain", seed.subdomain)
    seed.site_name = site.get("name", seed.site_name)
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", seed.subdomain):
        raise SeedError(f"site.subdomain: not a valid host name label: {seed.subdomain!r}")
    limits = _check_keys("limits", data.get("limits", {}), "limits")
    seed.requests_per_hour = limits.get("requests_per_hour", seed.requests_per_hour)
    if seed.requests_per_hour < 1:
        raise SeedError(f"limits.requests_per_hour: must be at least 1, got {seed.requests_per_hour}")

    for table in _LISTS:
        entries = data.get(table, [])
        if not isinstance(entries, list):
            raise SeedError(f"{table}: expected an array of tables ([[{table}]])")
        checked = [_check_keys(f"{table}[{i}]", e, table) for i, e in enumerate(entries, 1)]
        _assign_ids(table, checked)
        setattr(seed, table, checked)

    if not seed.users:
        raise SeedError("users: at least one user is needed (its token is how clients sign in)")
    _unique("users", seed.users, "username")
    _unique("users", seed.users, "token")
    for index, user in enumerate(seed.users, 1):
        user.setdefault("name", user["username"])
        user.setdefault("timezone", "UTC")
        if not user["token"].strip():
            raise SeedError(f"users[{index}].token: must not be empty")
        try:
            ZoneInfo(user["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise SeedError(f"users[{index}].timezone: unknown IANA time zone {user['timezone']!r}") from None

    _unique("categories", seed.categories, "name")
    for index, category in enumerate(seed.categories, 1):
        category.setdefault("colour", "#999999")
        if not COLOUR.match(category["colour"]):
            raise SeedError(f"categories[{index}].colour: expected '#' and six hex digits, "
                            f"got {category['colour']!r}")

    for index, party in enumerate(seed.parties, 1):
        where = f"parties[{index}]"
        if party["type"] == "person":
            if "name" in party:
                raise SeedError(f"{where}: a person has firstName/lastName, not name")
            if not (party.get("firstName") or party.get("lastName")):
                raise SeedError(f"{where}: a person needs firstName or lastName")
        elif party["type"] == "organisation":
            if "firstName" in party or "lastName" in party:
                raise SeedError(f"{where}: an organisation has name, not firstName/lastName")
            if not party.get("name"):
                raise SeedError(f"{where}: an organisation needs name")
        else:
            raise SeedError(f"{where}.type: must be 'person' or 'organisation', got {party['type']!r}")

    party_ids = {p["id"] for p in seed.parties}
    for table in ("opportunities", "kases"):
        for index, entry in enumerate(getattr(seed, table), 1):
            if entry["party"] not in party_ids:
                raise SeedError(f"{table}[{index}].party: no party with id {entry['party']}")

    _check_tasks(seed)
    return seed


def _check_tasks(seed: Seed) -> None:
    user_ids = {u["id"] for u in seed.users}
    usernames = {u["username"]: u["id"] for u in seed.users}
    categories = {c["name"]: c["id"] for c in seed.categories}
    category_ids = set(categories.values())
    links = {"party": {p["id"] for p in seed.parties},
             "opportunity": {o["id"] for o in seed.opportunities},
             "kase": {k["id"] for k in seed.kases}}
    for index, task in enumerate(seed.tasks, 1):
        where = f"tasks[{index}]"
        due = task["dueOn"]
        if isinstance(due, datetime):
            raise SeedError(f"{where}.dueOn: expected a date (YYYY-MM-DD), got the date-time {due.isoformat()}")
        if isinstance(due, str):
            try:
                due = date.fromisoformat(due)
            except ValueError:
                raise SeedError(f"{where}.dueOn: expected YYYY-MM-DD, got {task['dueOn']!r}") from None
        task["dueOn"] = due.isoformat()
        if "dueTime" in task:
            if not TIME.match(task["dueTime"]):
                raise SeedError(f"{where}.dueTime: expected HH:MM:SS, got {task['dueTime']!r}")
            if len(task["dueTime"]) == 5:
                task["dueTime"] += ":00"
        status = task.setdefault("status", "OPEN").upper()
        if status not in ("OPEN", "COMPLETED", "PENDING"):
            raise SeedError(f"{where}.status: must be OPEN, COMPLETED or PENDING, got {task['status']!r}")
        task["status"] = status
        owner = task.get("owner", seed.users[0]["id"])
        if isinstance(owner, str):
            if owner not in usernames:
                raise SeedError(f"{where}.owner: no user named {owner!r}")
            owner = usernames[owner]
        elif owner not in user_ids:
            raise SeedError(f"{where}.owner: no user with id {owner}")
        task["owner"] = owner
        if "category" in task:
            category = task["category"]
            if isinstance(category, str):
                if category not in categories:
                    raise SeedError(f"{where}.category: no category named {category!r}")
                category = categories[category]
            elif category not in category_ids:
                raise SeedError(f"{where}.category: no category with id {category}")
            task["category"] = category
        present = [name for name in links if name in task]
        if len(present) > 1:
            raise SeedError(f"{where}: a task links to at most one of party, opportunity and kase; "
                            f"got {' and '.join(present)}")
        for name in present:
            if task[name] not in links[name]:
                raise SeedError(f"{where}.{name}: no {name} with id {task[name]}")


def load_seed(path: str | Path | None) -> Seed:
    """Read a seed file, or the demo seed shipped in the package when path is empty."""
    if not path:
        text = resources.files(__package__).joinpath(DEMO_SEED).read_text("utf-8")
        return parse_seed(text, f"(built-in {DEMO_SEED})")
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise SeedError(f"seed {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"seed {path}: cannot be read ({exc})") from None
    return parse_seed(text, str(path))
