"""The synthetic account `explain` seeds the emulator with, built for one v1 request (M1).

It holds what the request needs, taken from the route the router resolves and the family's
declaration, never from a list of paths:

* users: the caller (token: a placeholder), then the owners of the owner map, or else the names
  the body and the list filters use; every user is in the zone given, unless the map says;
* look-up lists (categories, and any other a family resolves names in): the map given, or else
  the defaults plus the names used and the records the route's `example_lookups` option names.
  Which key a look-up is searched by is learnt by watching the family's own rules read it
  (samples.SpyContext);
* records: the one the path names (`{id}`: the parent of a `{kind}/{id}` path), holding what the
  route's `example` option says; the item named under it (`{item}`), which belongs to that
  parent unless the route moves it there; and for a list `start` + 2 records that match its
  filters, so the window shows two (`start` counted up to 500). Each is a sample made by its
  family's rules; a parent whose family is not declared is a copy of the emulator demo
  account's first record of that kind.

Route example data may name the path's parameters: `{name}` in a text is the name the path
gives, a whole `{item}` the id (filled).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ..emulator import seed as seeds
from ..http.router import Match
from ..resources import RESOURCES
from ..resources.base import PARENTS, Parent, Resource
from ..resources.lookups import LOOKUPS
from ..translate.errors import InvalidField, UpstreamDataError
from ..translate.fields import Context, Field, NameIndex, Shape, UnknownName, to_v2
from ..translate.ids import parse_id
from ..translate.paging import parse_limit, parse_start
from .convert import NAME_KEYS
from .samples import Sampler, SpyContext, seed_entry

PLACEHOLDER_TOKEN = "explain-placeholder-token"
CALLER = "api.user"
DEFAULT_CATEGORIES = ("Call", "Email", "Follow-up", "Meeting")
MAX_SEEDED_START = 500          # a window further down is shown empty: the calls are the same
SHOWN = 2                       # records a list window shows
_LINKS = {parent.link: parent for parent in PARENTS.values()}
_NAME_ROUNDS = 8
PARENT_SAMPLE_ID = 9001   # the parent a sample record is created under, out of the way of path ids


def _user(ident: int, username: str, zone: str, token: str | None = None) -> dict[str, Any]:
    return {"id": ident, "username": username, "name": "API User" if username == CALLER else username.title(),
            "timezone": zone, "token": token or f"explain-user-{ident}"}


@dataclass
class Account:
    zone: ZoneInfo
    lists: dict[str, list[dict[str, Any]]]            # look-up -> v2-like records
    keys: dict[str, str]                               # look-up -> the key names are searched by
    fixed: set[str]                                    # look-ups given by a map: nothing is added
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)   # table -> id -> entry
    copies: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)    # the same, from the demo
    filtered: bool = False                             # the list keeps matches locally
    notes: list[str] = field(default_factory=list)     # what the explanation must say about it

    @property
    def caller(self) -> dict[str, Any]:
        return self.lists["users"][0]

    def add_name(self, lookup: str, key: str, name: str) -> bool:
        """Add a record named ``name`` to a look-up list; False when it cannot or need not."""
        return self.add_record(lookup, key, {key: name})

    def add_record(self, lookup: str, key: str, record: Mapping[str, Any]) -> bool:
        """Add a record (named by ``record[key]``) to a look-up list, unless a map fixed that list
        or it holds that name already; False when nothing was added."""
        if lookup in self.fixed or lookup not in LOOKUPS or LOOKUPS[lookup].single:
            return False
        records = self.lists.get(lookup, [])
        name = record[key]
        if self.keys.setdefault(lookup, key) != key or NameIndex(records, key).find(name) is not None:
            return False
        ident = max((r["id"] for r in records), default=0) + 1
        # A new list, not an append: the engine caches each list's name index by identity.
        self.lists[lookup] = [*records, _user(ident, name, self.zone.key) if lookup == "users"
                              else {"id": ident, **record}]
        return True

    def sampler(self, resource: Resource, shape: Shape | None = None) -> Sampler:
        return Sampler(shape or resource.shapes[0], list_root=resource.list_root, noun=resource.noun,
                       lists=self.lists, keys=self.keys, zone=self.zone)

    def shown_records(self) -> dict[str, str]:
        """Which records the account holds, for the explanation's assumptions."""
        shown = {}
        for table, entries in sorted(self.records.items()):
            ids = sorted(entries)
            shown[table] = (", ".join(map(str, ids)) if len(ids) <= 3 or ids != list(range(ids[0], ids[-1] + 1))
                            else f"{ids[0]}-{ids[-1]}")
        return shown


def new_account(zone: ZoneInfo, *, owners: Mapping[str, int] | None, owner_zones: Mapping[str, str] | None,
                categories: Mapping[str, int] | None) -> Account:
    owner_zones = owner_zones or {}
    if owners:
        users = [_user(ident, name, owner_zones.get(name, zone.key)) for name, ident in owners.items()]
        users[0]["token"] = PLACEHOLDER_TOKEN     # the caller is the map's first user
    else:
        users = [_user(1, CALLER, zone.key, PLACEHOLDER_TOKEN)]
    if categories:
        named = [{"id": ident, "name": name} for name, ident in categories.items()]
    else:
        named = [{"id": index, "name": name} for index, name in enumerate(DEFAULT_CATEGORIES, 1)]
    fixed = ({"users"} if owners else set()) | ({"categories"} if categories else set())
    return Account(zone, {"users": users, "categories": named}, dict(NAME_KEYS), fixed)


def learn_names(account: Account, attempt: Callable[[Context], Any], source: Mapping[str, Any], *,
                creating: bool = False) -> None:
    """Run a family's rule over the document or query; each name it cannot resolve is added to
    the look-up it was searched in (unless a map fixed that look-up), until it resolves."""
    for _ in range(_NAME_ROUNDS):
        ctx = SpyContext(creating=creating, lists=account.lists, zone_override=account.zone)
        try:
            attempt(ctx)
            return
        except UnknownName as exc:
            name = source.get(exc.field)
            key = ctx.asked.get(exc.lookup)
            if not isinstance(name, str) or key is None or not account.add_name(exc.lookup, key, name.strip()):
                return
        except (InvalidField, UpstreamDataError):
            return                    # the proxy will answer this itself


def build(match: Match, query: Mapping[str, str], document: tuple[str, dict[str, Any]] | None, *,
          zone: ZoneInfo, owners: Mapping[str, int] | None = None, owner_zones: Mapping[str, str] | None = None,
          categories: Mapping[str, int] | None = None, max_pages: int = 200) -> Account:
    """The account for one routed v1 request (see the module doc)."""
    account = new_account(zone, owners=owners, owner_zones=owner_zones, categories=categories)
    resource, route, params = match.resource, match.route, match.params
    if resource is None or route is None:
        return account
    for template, records in (route.options.get("example_lookups") or {}).items():
        for record in filled(records, params):
            # Each record is named by its first key (a definition by its name).
            account.add_record(filled(template, params), next(iter(record)), record)
    if document is not None and document[0] in resource.roots:
        root, v1 = document
        shape = resource.shape(root)
        learn_names(account, lambda ctx: to_v2(shape, v1, ctx), v1, creating=route.op == "create")
    parent: tuple[Parent, int] | None = None
    if params.get("kind") in PARENTS:
        ident = parse_id(params.get("id", ""))
        if ident is not None:
            parent = (PARENTS[params["kind"]], ident)
    example = filled(route.options.get("example") or {}, params)
    if "item" in params:        # the record a path names after its parent: moved, linked, removed
        ident = parse_id(params["item"])
        family = _family(route.options.get("sub") or resource.v2.collection)
        if ident is not None and family is not None:
            # It belongs to that parent where its family is made under one (a party's history
            # item, which the route checks); a record the route moves there starts elsewhere.
            under = parent if (parent is not None and route.options.get("parent") != "move"
                               and _creatable_under(family, parent[0])) else None
            _add_record(account, family, ident, under=under)
    if parent is not None:
        _add_parent(account, *parent, example=example)
    elif "id" in params and resource.shapes:
        ident = parse_id(params["id"])
        if ident is not None:
            roots = route.options.get("roots")
            _add_record(account, resource, ident, resource.shape(roots[0]) if roots else None, example)
    if route.op == "list":
        _add_window(account, resource, query, parent, max_pages)
    return account


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TEXT_PARAMS = ("kind", "name")          # the other path parameters are ids (examples.py fills them so)


def filled(value: Any, params: Mapping[str, str]) -> Any:
    """Route example data with the path's parameters in place of `{kind}`, `{name}`, ...: a
    text that is one id parameter (`{item}`) becomes the id, as seed links are."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole[1] in params and whole[1] not in _TEXT_PARAMS and parse_id(params[whole[1]]):
            return parse_id(params[whole[1]])
        return _PLACEHOLDER.sub(lambda m: params.get(m[1], m[0]), value)
    if isinstance(value, Mapping):
        return {filled(key, params): filled(item, params) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [filled(item, params) for item in value]
    return value


def _family(collection: str) -> Resource | None:
    return next((r for r in RESOURCES if r.v2.collection == collection and r.shapes
                 and any(shape.writable for shape in r.shapes)), None)


def _add_record(account: Account, resource: Resource, ident: int, shape: Shape | None = None,
                example: Mapping[str, Any] | None = None, under: tuple[Parent, int] | None = None) -> None:
    """The record a path names: the family's sample (of the route's root), under ``under`` or a
    parent of its own where it needs one, plus what the route's `example` option says it holds:
    its family's v1 elements (a party's contact, for the route that removes one), written by
    the family's rules, and anything v1 keeps apart from it (tags, custom field values), in the
    emulator seed's terms."""
    shape = shape or resource.shapes[0]
    example = example or {}
    written = {key: value for key, value in example.items() if key in shape.element_names}
    kept = {key: value for key, value in example.items() if key not in written}
    made = account.sampler(resource, shape).body(ident) if any(s.writable for s in resource.shapes) else None
    if made is not None:
        body = made[0] | ({under[0].link: {"id": under[1]}} if under else _created_under(account, resource))
        if written:
            ctx = Context(lists=account.lists, zone_override=account.zone)
            body = body | to_v2(shape, written, ctx)
        account.records.setdefault(resource.v2.collection, {})[ident] = seed_entry(body, ident) | kept
    _add_copy(account.copies, resource.v2.collection, ident)


def _creatable_under(resource: Resource, parent: Parent) -> bool:
    return any(route.op == "create" and route.options.get("parent") == "link"
               and re.search(rf"\{{kind:[^}}]*\b{parent.word}\b", route.path) for route in resource.routes)


def _created_under(account: Account, resource: Resource) -> dict[str, Any]:
    """A family created only under a parent (an opportunity under a party) needs one: the link to
    a sample parent, added to the account."""
    creates = [route for route in resource.routes if route.op == "create"]
    if any(route.options.get("parent") != "link" for route in creates):
        return {}                               # it can be created on its own (a task)
    for route in creates:
        if route.op == "create" and route.options.get("parent") == "link":
            word = re.search(r"\{kind:(\w+)", route.path)
            parent = PARENTS.get(word[1]) if word else None
            if parent is not None and parent.collection != resource.v2.collection:
                if PARENT_SAMPLE_ID not in account.records.get(parent.collection, {}):
                    _add_parent(account, parent, PARENT_SAMPLE_ID)
                return {parent.link: {"id": PARENT_SAMPLE_ID}}
    return {}


def _add_parent(account: Account, parent: Parent, ident: int, *,
                example: Mapping[str, Any] | None = None) -> None:
    family = _family(parent.collection)
    if family is not None:
        _add_record(account, family, ident, example=example)
    else:
        _add_copy(account.records, parent.collection, ident)
        if example and ident in account.records.get(parent.collection, {}):
            account.records[parent.collection][ident] |= dict(example)


@functools.lru_cache(maxsize=1)
def _demo() -> seeds.Seed:
    return seeds.load_seed(None)


def _add_copy(tables: dict[str, dict[int, dict[str, Any]]], table: str, ident: int, *,
              keep_id: bool = False) -> None:
    """A copy of the demo account's first record of ``table`` (or the one with ``ident``, for a
    record another copy links to) under ``ident``, with the records it links to."""
    entries = getattr(_demo(), table, None)
    if not isinstance(entries, list) or not entries:
        return
    source = next((e for e in entries if e.get("id") == ident), None) if keep_id else entries[0]
    if source is None:
        return
    # Only what a seed entry takes as written: plain values and links by id. Users (owners) and
    # the lists the demo resolved (tags, fields, contacts) are not the synthetic account's.
    entry = {key: value for key, value in source.items()
             if isinstance(value, (str, int, float)) and key not in ("owner", "creator", "organisation")}
    entry["id"] = ident
    tables.setdefault(table, {})[ident] = entry
    for key, value in entry.items():
        linked = _LINKS.get(key)
        if linked is not None and type(value) is int and value not in tables.get(linked.collection, {}):
            _add_copy(tables, linked.collection, value, keep_id=True)


def _add_window(account: Account, resource: Resource, query: Mapping[str, str],
                parent: tuple[Parent, int] | None, max_pages: int) -> None:
    if resource.planner is None:
        return
    try:
        start, limit = parse_start(query.get("start")), parse_limit(query.get("limit"))
        ctx = Context(lists=account.lists, zone_override=account.zone)
        plan = resource.planner(query, (parent[0].word, parent[1]) if parent else None, ctx)
    except UnknownName as exc:
        # A filter's name is not made up (`?user=nobody`): a filter selects among what exists, and
        # the proxy answers a name the account lacks with an empty list, which is what is shown (M1).
        account.notes.append(
            f"{exc.field}={query.get(exc.field)!r} names none of the synthetic account's {exc.lookup}: the "
            "proxy reads that list once more, then answers an empty list, as shown. To explain with your "
            "own names, give them: --owner-map / --category-map (\"owners\" / \"categories\" in a "
            "/_proxy/explain body)")
        return
    except InvalidField:
        return                                  # the proxy answers 400 itself
    if not any(s.writable for s in resource.shapes):
        return
    account.filtered = plan.keep is not None
    if limit == 0 or start >= max_pages * plan.page_size:
        return                                  # answered without reading a page
    count = min(start, MAX_SEEDED_START) + (SHOWN if limit is None else min(limit, SHOWN))
    shape = resource.shapes[0]
    # The window's records are linked to the parent when the family is linked by that field (a
    # task or an opportunity of a party); a list v2 keeps under the parent in a way of its own
    # (people, additional parties) cannot be met that way, and shows no records.
    linked = parent is not None and (plan.keep is not None or _creatable_under(resource, parent[0]))
    extra: dict[str, Any] = {parent[0].link: {"id": parent[1]}} if linked else _created_under(account, resource)
    # A v2 query parameter named after a field the shape reads (status=) is met by that field.
    sources = {column.source for column in shape.columns if isinstance(column, Field)}
    for key, value in plan.params.items():
        first = value.split(",")[0].strip()
        if key in sources and first:
            extra[key] = first.upper()
    sampler = account.sampler(resource, shape)
    made = sampler.body(1, keep=plan.keep, extra=extra)
    if made is None:
        return
    table = account.records.setdefault(resource.v2.collection, {})
    for ident in range(1, count + 1):
        body = made[0] if ident == 1 else sampler.body_like(ident, made[1], extra)
        if body is not None:
            table[ident] = seed_entry(body, ident)
