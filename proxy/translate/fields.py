"""The translation engine: v1 records <-> v2 objects, driven by a table of fields.

A family's shape (one v1 root, e.g. ``<task>`` or ``<person>``) is a tuple of fields. Each
field is one documented difference between v1 and v2, as data, in the manner of Cadwyn's
``VersionChange``: its v1 element, how it is read from v2, how it is written to v2 (``None``:
read-only, ignored on write), and the look-ups writing it needs. The few rules a row cannot say
(the due-date pair, money, contacts) are a ``Rule`` over several elements, written by hand once.

Nothing here does I/O. The HTTP layer asks ``needs()`` which look-ups a document wants, fetches
them, and hands them over in a ``Context``; ``to_v2`` and ``to_v1`` then only read what they
are given. Errors: ``InvalidField`` (the client's fault, a 400) and ``UpstreamDataError``
(v2 sent something unreadable, a 502).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from . import v2_data
from .compiled import compile_reader
from .dates import calendar_day_to_v1, calendar_day_to_v2, timestamp_to_v1
from .errors import InvalidField

V1Value = Any          # str, a nested record (dict) or a list of them
Reader = Callable[[Mapping[str, Any], "Context"], V1Value]
Writer = Callable[[Mapping[str, Any], "Context"], dict[str, Any]]
Needs = Callable[[Mapping[str, Any], "Context"], Iterable[str]]


# --- look-ups ------------------------------------------------------------------------------------

class UnknownName(InvalidField):
    """A name that matches nothing in a look-up list. The HTTP layer reads the list once more
    (it may be stale: a user renamed, a category added) before it answers (P3)."""

    def __init__(self, field: str, message: str, lookup: str):
        super().__init__(field, message)
        self.lookup = lookup


def _fold(name: str) -> str:
    return name.strip().casefold()


class NameIndex:
    """name -> id over v2 records, with the project's one matching rule (decision T4): the exact
    name first, then a single case-insensitive match."""

    def __init__(self, records: Iterable[Any], key: str):
        self.ids: dict[str, int] = {}
        self.records: dict[int, Mapping[str, Any]] = {}
        folded: dict[str, list[str]] = {}
        for record in records:
            if not isinstance(record, dict):
                continue
            name, ident = record.get(key), record.get("id")
            if isinstance(name, str) and name and type(ident) is int and ident > 0:
                self.ids.setdefault(name, ident)
                self.records[ident] = record
                folded.setdefault(_fold(name), []).append(name)
        self._folded = folded

    def find(self, name: str) -> int | None:
        """The id for ``name``, or None (the caller may refresh a stale list and try again)."""
        if name in self.ids:
            return self.ids[name]
        found = self._folded.get(_fold(name), [])
        return self.ids[found[0]] if len(found) == 1 else None

    def several(self, name: str) -> list[str]:
        """The names that differ from ``name`` only in case, when more than one does."""
        found = self._folded.get(_fold(name), [])
        return found if len(found) > 1 else []


_INDEXES: dict[tuple[int, str], tuple[object, NameIndex]] = {}
_NO_RECORDS: list[Any] = []   # one empty list, so a missing look-up is indexed once, not per call


def index_of(records: list[Any], key: str) -> NameIndex:
    """The NameIndex of a cached list, built once per list object (the caches hand out the same
    list until they refresh it)."""
    entry = _INDEXES.get((id(records), key))
    if entry is not None and entry[0] is records:
        return entry[1]
    if len(_INDEXES) >= 256:
        _INDEXES.pop(next(iter(_INDEXES)))
    index = NameIndex(records, key)
    _INDEXES[(id(records), key)] = (records, index)
    return index


@dataclass
class Context:
    """What one translation may read besides the document: filled by the HTTP layer with the
    look-ups that ``needs()`` asked for, and nothing else."""

    creating: bool = False
    lists: dict[str, list[Any]] = field(default_factory=dict)   # "users", "categories", ...
    caller: Mapping[str, Any] | None = None                     # GET /users/current
    current: Mapping[str, Any] | None = None                    # the v2 record being updated
    zone_override: ZoneInfo | None = None                       # [translate] timezone
    warnings: list[str] = field(default_factory=list)           # answered in a Warning header

    def index(self, lookup: str, key: str) -> NameIndex:
        return index_of(self.lists.get(lookup, _NO_RECORDS), key)


# --- fields --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One v1 element: read from v2, written to v2 (None: read-only), and documented.

    ``source`` is the v2 side in words (``owner.username``) and ``note`` the rule, both for
    `explain` and docs/migrating.md. ``lookups`` are what writing a non-blank value needs;
    ``read_lookups(v2)`` what reading one needs. A ``required`` field must be in a create.
    """

    name: str
    read: Reader | None = None
    write: Writer | None = None
    source: str = ""
    note: str = ""
    lookups: frozenset[str] = frozenset()
    read_lookups: Callable[[Mapping[str, Any]], Iterable[str]] | None = None
    required: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,)

    def needs(self, v1: Mapping[str, Any], ctx: Context) -> Iterable[str]:
        value = v1.get(self.name)
        return self.lookups if isinstance(value, str) and value.strip() else ()


@dataclass(frozen=True)
class Rule:
    """Several v1 elements translated together, by hand: ``read`` returns a dict of them,
    ``write`` gets the whole document. Called on write when any of ``names`` is present, or
    always when ``always`` (a rule that must act on a create, or on a change elsewhere)."""

    names: tuple[str, ...]
    read: Callable[[Mapping[str, Any], Context], dict[str, V1Value]] | None = None
    write: Writer | None = None
    source: str = ""
    note: str = ""
    needs_fn: Needs | None = None
    read_lookups: Callable[[Mapping[str, Any]], Iterable[str]] | None = None
    always: bool = False

    def needs(self, v1: Mapping[str, Any], ctx: Context) -> Iterable[str]:
        return self.needs_fn(v1, ctx) if self.needs_fn is not None else ()


Column = Field | Rule


@dataclass(frozen=True, eq=False)   # hashed by identity: lists group their items by shape
class Shape:
    """One v1 root and its columns, compiled once for the hot path."""

    root: str
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        names = [name for column in self.columns for name in column.names]
        if len(names) != len(set(names)):
            raise ValueError(f"<{self.root}>: an element is declared twice: {names}")
        readers = tuple((column.name if isinstance(column, Field) else None, column.read)
                        for column in self.columns if column.read is not None)
        object.__setattr__(self, "_readers", readers)
        object.__setattr__(self, "_read", compile_reader(self.root, readers))
        # (column, its one name or None, all its names, required, always): what to_v2 tests
        # per column, worked out once rather than per document.
        object.__setattr__(self, "_writers", tuple(
            (column, column.name if isinstance(column, Field) else None, column.names,
             isinstance(column, Field) and column.required, getattr(column, "always", False))
            for column in self.columns if column.write is not None))
        object.__setattr__(self, "_read_lookups", tuple(
            column.read_lookups for column in self.columns if column.read_lookups is not None))

    @property
    def element_names(self) -> tuple[str, ...]:
        """Every v1 element, in the order the v1 record is written."""
        return tuple(name for column in self.columns for name in column.names)

    @property
    def writable(self) -> tuple[str, ...]:
        return tuple(name for column in self.columns if column.write is not None for name in column.names)

    @property
    def read_only(self) -> tuple[str, ...]:
        return tuple(name for column in self.columns if column.write is None for name in column.names)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if name in column.names)


def to_v1(shape: Shape, v2: Mapping[str, Any], ctx: Context) -> dict[str, V1Value]:
    """A v2 object -> the ordered neutral v1 record; empty values are left out. The columns'
    readers in order, compiled into one function (compiled.py)."""
    return shape._read(v2, ctx)  # type: ignore[attr-defined, no-any-return]


def read_needs(shape: Shape, v2_records: Iterable[Mapping[str, Any]]) -> set[str]:
    """The look-ups reading these v2 records needs (e.g. the users' zones for due times)."""
    wanted: set[str] = set()
    for lookups in shape._read_lookups:  # type: ignore[attr-defined]
        for record in v2_records:
            wanted.update(lookups(record))
    return wanted


def needs(shape: Shape, v1: Mapping[str, Any], ctx: Context) -> set[str]:
    """The look-ups writing this v1 document needs."""
    wanted: set[str] = set()
    for column in columns_to_write(shape, v1, ctx, check_required=False):
        wanted.update(column.needs(v1, ctx))
    return wanted


def columns_to_write(shape: Shape, v1: Mapping[str, Any], ctx: Context, *,
                      check_required: bool = True) -> Iterable[Column]:
    """The writable columns this document holds, and the ``always`` ones; InvalidField for a
    required one a create lacks."""
    for column, name, names, required, always in shape._writers:  # type: ignore[attr-defined]
        if name in v1 if name is not None else not v1.keys().isdisjoint(names):
            yield column
        elif required and check_required and ctx.creating:
            raise InvalidField(name, f"{name} is required for a new {shape.root}")
        elif always:
            yield column


def to_v2(shape: Shape, v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """The v2 object for a create (``ctx.creating``) or a partial update: only the elements the
    document holds are sent, so an update may be ``{}``. Read-only elements are ignored, so
    GET -> edit -> PUT works. Raises InvalidField for the first element that cannot be sent."""
    body: dict[str, Any] = {}
    for column in columns_to_write(shape, v1, ctx):
        body.update(column.write(v1, ctx))
    return body


# --- readers ---------------------------------------------------------------------------------------

def _spec(reader: Reader, *spec: str) -> Reader:
    reader.spec = spec  # type: ignore[attr-defined]   # what compiled.py inlines
    return reader


def ident(key: str = "id") -> Reader:
    return _spec(lambda v2, ctx: v2_data.ident(v2, key), "ident", key)


def text(key: str) -> Reader:
    return _spec(lambda v2, ctx: v2_data.text(v2, key), "text", key)


def number(key: str) -> Reader:
    """A v2 number (probability, duration) as v1 text."""
    return lambda v2, ctx: v2_data.number(v2, key)


def boolean(key: str) -> Reader:
    return lambda v2, ctx: v2_data.boolean(v2, key)


def stamp(key: str) -> Reader:
    """A v2 timestamp (``createdAt``) as v1 writes every timestamp: ``YYYY-MM-DDTHH:MM:SSZ``."""
    def read(v2: Mapping[str, Any], ctx: Context) -> str | None:
        value = v2_data.text(v2, key)
        return timestamp_to_v1(value) if value else None
    return _spec(read, "stamp", key)


def nested(link: str, read: Callable[[Mapping[str, Any]], Any]) -> Reader:
    """A value of a nested v2 object: ``nested("owner", username)`` reads ``owner.username``."""
    def reader(v2: Mapping[str, Any], ctx: Context) -> Any:
        record = v2_data.record(v2, link)
        return read(record) if record else None
    return reader


def nested_text(link: str, key: str) -> Reader:
    return _spec(nested(link, lambda record: v2_data.text(record, key)), "nested_text", link, key)


def nested_id(link: str) -> Reader:
    return _spec(nested(link, v2_data.ident), "nested_id", link)


# --- writers ---------------------------------------------------------------------------------------

def _text(v1: Mapping[str, Any], key: str) -> str:
    value = v1.get(key)
    return value if isinstance(value, str) else ""


def blank(value: str) -> bool:
    return not value.strip()


def text_in(key: str, v2_key: str | None = None, *, blank_is: str = "null") -> Writer:
    """Free text, sent as written (not trimmed). Blank: ``"null"`` clears the v2 field,
    ``"error"`` is a 400 (the field can never be empty)."""
    target = v2_key or key

    def write(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        value = _text(v1, key)
        if blank(value):
            if blank_is == "error":
                raise InvalidField(key, f"{key} cannot be empty")
            return {target: None}
        return {target: value}
    return write


def choice_in(key: str, values: tuple[str, ...], v2_key: str | None = None) -> Writer:
    """One of a fixed set of words (any case, answered as v2 spells them); blank clears."""
    target = v2_key or key
    by_fold = {value.casefold(): value for value in values}

    def write(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        value = _text(v1, key).strip()
        if not value:
            return {target: None}
        if value.casefold() not in by_fold:
            raise InvalidField(key, f"{key} must be one of {', '.join(values)}, got {value!r}")
        return {target: by_fold[value.casefold()]}
    return write


def whole_number_in(key: str, v2_key: str | None = None, *, low: int = 0, high: int = 10**9) -> Writer:
    target = v2_key or key

    def write(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        value = _text(v1, key).strip()
        if not value:
            return {target: None}
        number = int(value)                            # the XSD let only digits through
        if not low <= number <= high:
            raise InvalidField(key, f"{key} must be between {low} and {high}, got {value!r}")
        return {target: number}
    return write


def plural(noun: str) -> str:
    """English plural for the nouns in messages: category -> categories, user -> users."""
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"


def resolve(ctx: Context, field_name: str, name: str, lookup: str, key: str, what: str,
            listing: str) -> int:
    """A name -> its v2 id through a look-up list; a 400 naming the value when it matches none
    or several (T4)."""
    index = ctx.index(lookup, key)
    found = index.find(name)
    if found is not None:
        return found
    several = index.several(name)
    if several:
        raise InvalidField(field_name, f"{field_name} {name!r} matches several {plural(what)} that differ only "
                                       f"in case ({', '.join(sorted(several))}); send the exact name")
    raise UnknownName(field_name, f"unknown {field_name} {name!r}: no {what} has that name (see GET {listing})",
                      lookup)


def by_name_in(key: str, *, lookup: str, name_key: str, what: str, listing: str,
               v2_key: str | None = None, blank_is: str = "null", why: str = "") -> Writer:
    """v1 names a linked record, v2 links it by id: ``{"owner": {"id": N}}``. Blank: ``"null"``
    clears the link; ``"omit"`` leaves it out on a create (v2's default applies) and is a 400 on
    an update (``why`` says why it cannot be cleared)."""
    target = v2_key or key

    def write(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        value = _text(v1, key)
        if blank(value):
            if blank_is == "null":
                return {target: None}
            if ctx.creating:
                return {}
            raise InvalidField(key, f"{key} cannot be empty: {why}")
        return {target: {"id": resolve(ctx, key, value.strip(), lookup, name_key, what, listing)}}
    return write


# --- calendar days and names that several records may share (opportunities, kases) ------------

def day(key: str) -> Reader:
    """A v2 date (`expectedCloseOn`) as v1 wrote every day: midnight UTC, never shifted."""
    def read(v2: Mapping[str, Any], ctx: Context) -> str | None:
        value = v2_data.text(v2, key)
        return calendar_day_to_v1(value, key) if value else None
    return read


def day_in(key: str, v2_key: str | None = None) -> Writer:
    """A v1 day (`YYYY-MM-DD` or midnight UTC) -> a v2 date, as written; blank clears it."""
    target = v2_key or key

    def write(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        value = _text(v1, key)
        return {target: None} if blank(value) else {target: calendar_day_to_v2(value, key)}
    return write


def resolve_one(ctx: Context, field_name: str, name: str, lookup: str, key: str, what: str,
                listing: str) -> int:
    """As ``resolve``, where two records of the list may carry the very same name (milestones):
    that name is a 400 listing their ids, never the first one silently."""
    index = ctx.index(lookup, key)
    found = index.find(name)
    if found is not None:
        exact = v2_data.text(index.records[found], key)
        same = sorted(ident for ident, record in index.records.items() if record.get(key) == exact)
        if len(same) > 1:
            raise InvalidField(field_name, f"{field_name} {name!r} names {len(same)} {what}s (ids "
                                           f"{', '.join(map(str, same))}); send the id instead")
        return found
    return resolve(ctx, field_name, name, lookup, key, what, listing)


def precheck(shape: Shape, v1: Mapping[str, Any], ctx: Context) -> None:
    """Raise what the columns that need no look-up find wrong, before any upstream call, so an
    invalid document costs none. A column that needs a look-up (or the stored record) is left
    to ``to_v2``; what this run writes and warns is thrown away."""
    dry = Context(creating=ctx.creating, zone_override=ctx.zone_override)
    for column in columns_to_write(shape, v1, dry):
        if not set(column.needs(v1, dry)):
            column.write(v1, dry)
