"""The seed file: TOML describing the account the emulator starts with.

Parsing is strict because a seed is written by hand: an unknown key, a duplicate id, a
reference to a record that does not exist or an unknown time zone is an error whose message
names the entry (`users[2].timezone`, `parties[2].emailAddresses[1].type`), and the emulator
refuses to start. Users, categories and tasks are checked here; the rest of the account
(parties, pipelines, opportunities, kases, tags, fields, entries) in seed_records.py.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import seed_records
from .seed_checks import SeedError, Schema, as_date, assign_ids, check_keys, unique, user_id
from .task_model import parse_due_time

__all__ = ["COLOUR", "DEMO_SEED", "Seed", "SeedError", "load_seed", "parse_seed", "seed_from_dict"]

DEMO_SEED = "demo_seed.toml"
DEFAULT_REQUESTS_PER_HOUR = 4000
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}\Z")


@dataclass
class Seed:
    source: str
    subdomain: str = "sample"
    site_name: str = "Sample Ltd"
    requests_per_hour: int = DEFAULT_REQUESTS_PER_HOUR
    users: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    trackdefinitions: list[dict[str, Any]] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    milestones: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    parties: list[dict[str, Any]] = field(default_factory=list)
    opportunities: list[dict[str, Any]] = field(default_factory=list)
    kases: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


_SCHEMAS: dict[str, Schema] = {
    "site": {"subdomain": (str, False), "name": (str, False)},
    "limits": {"requests_per_hour": (int, False)},
    "users": {"id": (int, False), "username": (str, True), "name": (str, False),
              "timezone": (str, False), "token": (str, True)},
    "categories": {"id": (int, False), "name": (str, True), "colour": (str, False)},
    "tasks": {"id": (int, False), "description": (str, True), "detail": (str, False),
              "dueOn": ((str, date), True), "dueTime": (str, False), "status": (str, False),
              "owner": ((int, str), False), "category": ((int, str), False),
              "party": (int, False), "opportunity": (int, False), "kase": (int, False)},
    **seed_records.SCHEMAS,
}
_LISTS = ("users", "categories", "trackdefinitions", "pipelines", "milestones", "tags", "fields",
          "parties", "opportunities", "kases", "entries", "tasks")


def parse_seed(text: str, source: str) -> Seed:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SeedError(f"seed {source}: not valid TOML ({exc})") from None
    return seed_from_dict(data, source)


def seed_from_dict(data: dict[str, Any], source: str) -> Seed:
    """A Seed from already-parsed TOML-like data (tables as dicts, arrays of tables as lists)."""
    if not isinstance(data, dict):
        raise SeedError(f"seed {source}: expected a table at the top, got {type(data).__name__}")
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
    site = check_keys("site", data.get("site", {}), _SCHEMAS["site"])
    seed.subdomain = site.get("subdomain", seed.subdomain)
    seed.site_name = site.get("name", seed.site_name)
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", seed.subdomain):
        raise SeedError(f"site.subdomain: not a valid host name label: {seed.subdomain!r}")
    limits = check_keys("limits", data.get("limits", {}), _SCHEMAS["limits"])
    seed.requests_per_hour = limits.get("requests_per_hour", seed.requests_per_hour)
    if seed.requests_per_hour < 1:
        raise SeedError(f"limits.requests_per_hour: must be at least 1, got {seed.requests_per_hour}")

    for table in _LISTS:
        entries = data.get(table, [])
        if not isinstance(entries, list):
            raise SeedError(f"{table}: expected an array of tables ([[{table}]])")
        checked = [check_keys(f"{table}[{i}]", e, _SCHEMAS[table]) for i, e in enumerate(entries, 1)]
        if table != "milestones":  # milestone ids wait for the default pipeline (seed_records)
            assign_ids(table, checked)
        setattr(seed, table, checked)

    _check_users(seed)
    _check_categories(seed)
    seed_records.check(seed)
    _check_tasks(seed)
    return seed


def _check_users(seed: Seed) -> None:
    if not seed.users:
        raise SeedError("users: at least one user is needed (its token is how clients sign in)")
    unique("users", seed.users, "username")
    unique("users", seed.users, "token")
    for index, user in enumerate(seed.users, 1):
        user.setdefault("name", user["username"])
        user.setdefault("timezone", "UTC")
        if not user["token"].strip():
            raise SeedError(f"users[{index}].token: must not be empty")
        try:
            ZoneInfo(user["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise SeedError(f"users[{index}].timezone: unknown IANA time zone {user['timezone']!r}") from None


def _check_categories(seed: Seed) -> None:
    unique("categories", seed.categories, "name")
    for index, category in enumerate(seed.categories, 1):
        category.setdefault("colour", "#999999")
        if not COLOUR.match(category["colour"]):
            raise SeedError(f"categories[{index}].colour: expected '#' and six hex digits, "
                            f"got {category['colour']!r}")


def _check_tasks(seed: Seed) -> None:
    categories = {c["name"]: c["id"] for c in seed.categories}
    category_ids = set(categories.values())
    links = {"party": {p["id"] for p in seed.parties},
             "opportunity": {o["id"] for o in seed.opportunities},
             "kase": {k["id"] for k in seed.kases}}
    for index, task in enumerate(seed.tasks, 1):
        where = f"tasks[{index}]"
        task["dueOn"] = as_date(f"{where}.dueOn", task["dueOn"])
        if "dueTime" in task:
            due_time = parse_due_time(task["dueTime"])        # kept to the minute, as Capsule does
            if due_time is None:
                raise SeedError(f"{where}.dueTime: expected HH:MM:SS, got {task['dueTime']!r}")
            task["dueTime"] = due_time
        status = task.setdefault("status", "OPEN").upper()
        if status not in ("OPEN", "COMPLETED", "PENDING"):
            raise SeedError(f"{where}.status: must be OPEN, COMPLETED or PENDING, got {task['status']!r}")
        task["status"] = status
        task["owner"] = user_id(f"{where}.owner", task.get("owner", seed.users[0]["id"]), seed.users)
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
