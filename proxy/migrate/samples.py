"""Sample records of any declared family, made by the family's own rules (decision M1).

A sample is a v1 document filled from a shape: every required element, every element that
names a record of a look-up (a name from the account's lists), and every rule that acts on
each create (the due pair) get the first value that their XSD type accepts and the family's
writer takes. `to_v2` then turns it into the v2 body a v1 create would send. `explain` seeds
the emulator with such bodies, and scripts/gen_migrating.py shows them as example requests, so
neither holds a field list of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ..translate.errors import InvalidField
from ..translate.fields import Column, Context, Field, NameIndex, Shape, to_v2
from ..v1.schemas import SIMPLE_TYPES, STRUCTURE

#: Sample dates and times: 21 April 2026 at 15:00 in the account's zone.
SAMPLE_DAY = date(2026, 4, 21)
SAMPLE_TIME = time(15, 0)
MAX_COMBINATIONS = 64          # name choices tried to meet a list's filter


@dataclass
class SpyContext(Context):
    """A Context that notes which key each look-up is searched by (`users` by `username`), so
    names can be added to a look-up without knowing its records' shape."""

    asked: dict[str, str] = field(default_factory=dict)

    def index(self, lookup: str, key: str) -> NameIndex:
        self.asked[lookup] = key
        return super().index(lookup, key)


def label(column: Column, shape: Shape) -> str:
    """How explanations and docs name a column: `<owner>`, `<dueDate|dueDateTime>`; a rule of
    no element acts on the whole document, so it is named by the root (`<person>`)."""
    return "<" + "|".join(column.names or (shape.root,)) + ">"


def leaf_type(shape: Shape, list_root: str, name: str) -> str | None:
    """The XSD simple type of one element of the shape, or None for a nested element."""
    decl = STRUCTURE.roots.get(shape.root) or STRUCTURE.find([list_root, shape.root])
    child = decl.children.get(name) if decl is not None else None
    return child.leaf_type if child is not None and child.is_leaf else None


def sample_values(noun: str, ident: int, zone: ZoneInfo) -> list[str]:
    """The values a sample element may take, best first; its XSD type picks the first it accepts."""
    local = datetime.combine(SAMPLE_DAY, SAMPLE_TIME, tzinfo=zone)
    instant = local.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [f"Example {noun} {ident}", instant, SAMPLE_DAY.isoformat(), "1", "true"]


def _accepts(type_name: str, value: str) -> bool:
    check = SIMPLE_TYPES.get(type_name)
    return check(value) if check is not None else False


class Sampler:
    """Sample v1 documents and v2 bodies for one shape, with names from look-up lists.

    ``lists`` are the look-ups the writers resolve names in (v2-like records) and ``keys`` the
    key each is searched by; ``zone`` is every user's zone."""

    def __init__(self, shape: Shape, *, list_root: str, noun: str, lists: Mapping[str, list[Any]],
                 keys: Mapping[str, str], zone: ZoneInfo):
        self.shape, self.list_root, self.noun, self.zone = shape, list_root, noun, zone
        self.lists, self.keys = dict(lists), dict(keys)
        self.columns = [column for column in shape.columns if column.write is not None
                        and (_required(column) or _named(column) or getattr(column, "always", False))]

    def _ctx(self, creating: bool) -> Context:
        return Context(creating=creating, lists=self.lists, zone_override=self.zone)

    def names(self, lookup: str) -> list[str]:
        key = self.keys.get(lookup)
        return [record[key] for record in self.lists.get(lookup, []) if key and isinstance(record.get(key), str)]

    def options(self, column: Column, ident: int) -> list[dict[str, str]]:
        """The ways to fill one column, best first; the last is to leave it out."""
        if isinstance(column, Field) and column.lookups:
            return [{column.name: name} for lookup in sorted(column.lookups) for name in self.names(lookup)] + [{}]
        found = []
        for value in sample_values(self.noun, ident, self.zone):
            for name in column.names:
                type_name = leaf_type(self.shape, self.list_root, name)
                if type_name is not None and _accepts(type_name, value):
                    found.append({name: value})
        return found + [{}]

    def _writes(self, document: Mapping[str, str], creating: bool) -> dict[str, Any] | None:
        try:
            return to_v2(self.shape, document, self._ctx(creating))
        except InvalidField:
            return None

    def document(self, ident: int, picks: Mapping[int, int] | None = None) -> dict[str, str]:
        """A v1 document the family's writers accept: ``picks`` fixes the option of the
        look-up columns (by column index); every other column takes its first good option."""
        document: dict[str, str] = {}
        for index, column in enumerate(self.columns):
            options = self.options(column, ident)
            if picks is not None and index in picks:
                document.update(options[min(picks[index], len(options) - 1)])
                continue
            for option in options:
                if option and self._writes(document | option, creating=False) is None:
                    continue
                document.update(option)
                break
        return self._complete(document, ident)

    def _complete(self, document: dict[str, str], ident: int) -> dict[str, str]:
        """Fill what a create still asks for (an element a rule names in its 400)."""
        for _ in range(len(self.shape.columns)):
            try:
                to_v2(self.shape, document, self._ctx(creating=True))
                return document
            except InvalidField as exc:
                if exc.field in document or exc.field not in self.shape.writable:
                    return document
                column = self.shape.column(exc.field)
                document.update(next((o for o in self.options(column, ident) if o), {exc.field: ""}))
        return document

    def body(self, ident: int, *, keep: Callable[[Mapping[str, Any]], bool] | None = None,
             extra: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[int, int]] | None:
        """(the v2 body of a create, the picks that made it), the first whose body with
        ``extra`` passes ``keep`` (a list's local filter); None when no sample can be made."""
        named = [index for index, column in enumerate(self.columns) if _named(column)]
        ranges = [range(len(self.options(self.columns[index], ident))) for index in named]
        first = None
        for combination in itertools.islice(itertools.product(*ranges), MAX_COMBINATIONS):
            picks = dict(zip(named, combination))
            written = self._writes(self.document(ident, picks), creating=True)
            if written is None:
                continue
            written |= dict(extra or {})
            if keep is None or keep(written):
                return written, picks
            first = first or (written, picks)
        return first

    def body_like(self, ident: int, picks: Mapping[int, int], extra: Mapping[str, Any] | None = None
                  ) -> dict[str, Any] | None:
        written = self._writes(self.document(ident, picks), creating=True)
        return None if written is None else written | dict(extra or {})


def _required(column: Column) -> bool:
    return isinstance(column, Field) and column.required


def _named(column: Column) -> bool:
    return isinstance(column, Field) and bool(column.lookups)


def seed_entry(body: Mapping[str, Any], ident: int) -> dict[str, Any]:
    """A v2 body as an emulator seed entry: each link `{"id": N}` given as N, nulls left out."""
    entry: dict[str, Any] = {"id": ident}
    for key, value in body.items():
        if value is None:
            continue
        if isinstance(value, dict) and set(value) == {"id"}:
            value = value["id"]
        entry[key] = value
    return entry
