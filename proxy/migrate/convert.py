"""`capsule-proxy convert`: stored v1 documents of every declared family <-> v2 bodies, offline
(decision M2).

Documents are read by the v1 codecs (the proxy's XSD validation and messages) and translated by
the engine's `to_v2` / `to_v1` over the family's shapes (proxy/resources). Only the look-ups
differ: files stand in for v2's lists (`--owner-map` for users, `--category-map` for categories,
`--lookup NAME=FILE` for any look-up), and a name they lack is an error for that record. Two
steps exist here and not in the proxy, because stored documents differ from requests:
`stored_links` (a stored `partyId`, ... becomes the v2 link, from PARENTS) and `named_links`
(a v2 body that gives a linked record by id only gets its name from the same files).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ..resources import RESOURCES
from ..resources.base import PARENTS, Resource
from ..resources.lookups import LOOKUPS
from ..translate.errors import InvalidField, UpstreamDataError
from ..translate.fields import Field, NameIndex, Shape, UnknownName, index_of, to_v1, to_v2
from ..v1 import codec, json_codec, xml_codec
from ..v1.documents import DocumentError
from .samples import SpyContext

#: Largest document read (stored exports can be far larger than a request body).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
V1_SUFFIXES = (".xml", ".json")
V2_SUFFIXES = (".json", ".jsonl")
#: The look-ups the two named options give; `--lookup NAME=FILE` gives any.
MAP_OPTIONS = {"users": "--owner-map", "categories": "--category-map"}
_MAP_NAMES = {"users": "owner", "categories": "category"}
#: Two zones 14 hours apart: a record that converts differently in them depends on a zone.
_PROBE_ZONES = (ZoneInfo("UTC"), ZoneInfo("Pacific/Kiritimati"))

#: The families convert reads, by v1 root, v1 list root, v2 item and v2 collection.
FAMILIES = tuple(resource for resource in RESOURCES if resource.shapes)
ROOTS = {shape.root: resource for resource in FAMILIES for shape in resource.shapes}
LIST_ROOTS = {resource.list_root: resource for resource in FAMILIES}
V2_KEYS = {key: resource for resource in FAMILIES for key in (resource.v2.item, resource.v2.collection)}


class UsageError(Exception):
    """A bad option (map file, zone): nothing was converted; exit status 2."""


class RecordError(Exception):
    """One record could not be converted; the message says why."""


def plural(resource: Resource, count: int) -> str:
    word = resource.v2.collection if resource.noun == resource.v2.item else resource.noun + "s"
    return f"{count} {resource.noun if count == 1 else word}"


# --- look-ups given offline ---------------------------------------------------------------------

def parse_zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone: unknown IANA time zone {name!r}") from None


def _read(path: Path, option: str) -> Any:
    where = f"{option}{path}" if option.endswith("=") else f"{option} {path}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    toml = path.suffix.lower() == ".toml"
    try:
        return tomllib.loads(raw.decode("utf-8")) if toml else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: not valid {'TOML' if toml else 'JSON'} ({exc})") from None


@dataclass
class Lookup:
    """One look-up given offline: v2 records (a saved answer) or a name -> id map."""

    name: str                                   # users, categories, milestones, ...
    path: str                                   # the file, for messages
    records: list[dict[str, Any]] | None = None
    ids: dict[str, int] | None = None
    _by_key: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def records_by(self, key: str) -> list[dict[str, Any]]:
        """The records, with a map's names under ``key`` (the key the rule searches by)."""
        if self.records is not None:
            return self.records
        if key not in self._by_key:
            self._by_key[key] = [{"id": ident, key: name} for name, ident in (self.ids or {}).items()]
        return self._by_key[key]

    def name_of(self, ident: Any, key: str) -> str | None:
        found = [r.get(key) for r in self.records_by(key) if r.get("id") == ident and isinstance(r.get(key), str)]
        return found[0] if found else None


def lookup_from_data(data: Any, lookup: str, path: str, option: str) -> Lookup:
    """A saved v2 answer (`{"users": [...]}`) or an object of name -> id, as one look-up."""
    where = f"{option}{path}" if option.endswith("=") else f"{option} {path}"
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        (key, items), = data.items()
        if key != LOOKUPS[lookup].key:
            raise UsageError(f"{where}: expected an object of name -> id, or a saved v2 "
                             f'{{"{LOOKUPS[lookup].key}": [...]}} answer; got {key!r}')
        records = [item for item in items if isinstance(item, dict)]
        bad = next((r for r in records if isinstance(r.get("id"), bool) or not isinstance(r.get("id"), int)
                    or r["id"] <= 0), None)
        if bad is not None or len(records) != len(items):
            raise UsageError(f"{where}: every entry of {key!r} must be an object with a positive id")
        return Lookup(lookup, path, records=records)
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected an object of name -> id")
    ids: dict[str, int] = {}
    for name, ident in data.items():
        if isinstance(ident, str) and ident.isascii() and ident.isdigit():
            ident = int(ident)
        if not isinstance(name, str) or not name.strip() or isinstance(ident, bool) \
                or not isinstance(ident, int) or ident <= 0:
            raise UsageError(f"{where}: entry {name!r}: expected a name and a positive whole-number id, "
                             f"got {ident!r}")
        ids[name] = ident
    return Lookup(lookup, path, ids=ids)


def load_lookup(path: str | os.PathLike[str], lookup: str, option: str) -> Lookup:
    path = Path(path)
    return lookup_from_data(_read(path, option), lookup, str(path), option)


#: The account's directory, as `explain` takes it: users by username, categories by name.
NAME_KEYS = {"users": "username", "categories": "name"}


def ids_of(found: Lookup, lookup: str) -> dict[str, int]:
    """A name -> id map for `explain` (--owner-map / --category-map)."""
    if found.ids is not None:
        return found.ids
    key = NAME_KEYS[lookup]
    return {r[key]: r["id"] for r in found.records or [] if isinstance(r.get(key), str)}


def zones_of(users: Lookup) -> dict[str, str] | None:
    """Each user's time zone, when --owner-map is a saved `{"users": [...]}` answer."""
    zones = {r["username"]: r["timezone"] for r in users.records or []
             if isinstance(r.get("username"), str) and isinstance(r.get("timezone"), str)}
    return zones or None


@dataclass
class Maps:
    """The look-ups given on the command line, by look-up name."""

    lookups: dict[str, Lookup] = field(default_factory=dict)

    def missing(self, lookup: str, shown: str, noun: str) -> str:
        """The message for a name or id (`shown`, e.g. "owner 'a.user'") a look-up lacks."""
        given = self.lookups.get(lookup)
        if given is not None:
            return f"{shown} is not in the {_MAP_NAMES.get(lookup, lookup)} map {given.path}"
        option = MAP_OPTIONS.get(lookup, f"--lookup {lookup}=")
        return f"the {noun} names {shown}, but no {option}{'' if option.endswith('=') else ' '}FILE was given " \
               "to look it up"

    @classmethod
    def load(cls, owner_map: str | None = None, category_map: str | None = None,
             lookups: Iterable[str] = ()) -> "Maps":
        found: dict[str, Lookup] = {}
        for lookup, path in (("users", owner_map), ("categories", category_map)):
            if path:
                found[lookup] = load_lookup(path, lookup, MAP_OPTIONS[lookup])
        for given in lookups:
            name, sep, path = given.partition("=")
            name = name.strip()
            if not sep or not path or not name:
                raise UsageError(f"--lookup {given!r}: expected NAME=FILE")
            if name not in LOOKUPS or LOOKUPS[name].single:
                known = ", ".join(n for n, source in LOOKUPS.items() if not source.single)
                raise UsageError(f"--lookup {name}: not a look-up list; known: {known}")
            if name in found:
                raise UsageError(f"--lookup {name}: given twice")
            found[name] = load_lookup(path, name, f"--lookup {name}=")
        return cls(found)


@dataclass
class OfflineContext(SpyContext):
    """A Context whose look-ups are the files given: a map's names are searched under whatever
    key the family's rule asks for, so no rule's record shape is repeated here."""

    offline: Mapping[str, Lookup] = field(default_factory=dict)

    def index(self, lookup: str, key: str) -> NameIndex:
        self.asked[lookup] = key
        given = self.offline.get(lookup)
        return index_of(given.records_by(key), key) if given is not None else index_of([], key)


def _context(maps: Maps, zone: ZoneInfo, creating: bool = False) -> OfflineContext:
    return OfflineContext(creating=creating, zone_override=zone, offline=maps.lookups)


# --- v1 -> v2 -----------------------------------------------------------------------------------

def _first_byte(body: bytes) -> bytes:
    return body.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1]


_XML_PROLOG = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)
_XML_ROOT = re.compile(rb"<([A-Za-z_][A-Za-z0-9_.\-]*)")


def _xml_root(body: bytes) -> str | None:
    body = body.removeprefix(b"\xef\xbb\xbf")
    match = _XML_ROOT.match(body, _XML_PROLOG.match(body).end())
    return match.group(1).decode("ascii") if match else None


def _json_root(body: bytes) -> str | None:
    try:
        data = orjson.loads(body.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError:
        return None
    return next(iter(data)) if isinstance(data, dict) and len(data) == 1 else None


@dataclass
class V1Document:
    family: Resource
    items: list[tuple[str, dict[str, Any]]]     # (root, record)
    is_list: bool


def read_v1(body: bytes) -> V1Document:
    """A stored v1 document -> its family and records in neutral form.

    Raises DocumentError (the codec's message) or RecordError (not a document convert reads)."""
    first = _first_byte(body)
    if first == b"<":
        root, one, many, shown = _xml_root(body), xml_codec.decode, xml_codec.decode_list, "<{}>"
    elif first == b"{":
        root, one, many, shown = _json_root(body), json_codec.decode, json_codec.decode_list, '"{}"'
    elif not first:
        raise RecordError("the document is empty")
    else:
        raise RecordError("neither XML (starting with <) nor JSON (starting with {)")
    if root in LIST_ROOTS:
        family = LIST_ROOTS[root]
        _, items = many(body, (root,), max_bytes=MAX_DOCUMENT_BYTES)
        return V1Document(family, [(name, record) for name, record in items], True)
    if root in ROOTS:
        return V1Document(ROOTS[root], [one(body, (root,), max_bytes=MAX_DOCUMENT_BYTES)], False)
    if root is None:                                # the codec says what is wrong with it
        found, record = one(body, tuple(ROOTS), max_bytes=MAX_DOCUMENT_BYTES)
        return V1Document(ROOTS[found], [(found, record)], False)
    textual = next((r for r in RESOURCES if r.list_root == root and not r.shapes), None)
    if textual is not None:
        raise RecordError(f"{shown.format(root)} holds {textual.noun} names, not records: nothing to convert")
    expected = sorted([*ROOTS, *LIST_ROOTS])
    raise RecordError(f"not a v1 document of a translated family: its root is {shown.format(root)}; expected "
                      + ", ".join(shown.format(name) for name in expected[:-1]) + f" or {shown.format(expected[-1])}")


def stored_links(v1: Mapping[str, Any], shape: Shape, noun: str) -> dict[str, dict[str, int]]:
    """The v2 link of a stored record's read-only parent id (`partyId` -> `{"party": {"id": N}}`).

    The separate step of M2: the proxy itself never reads these ids."""
    parents = [p for p in PARENTS.values() if p.id_element in shape.read_only]
    given = [(p, v1[p.id_element]) for p in parents
             if isinstance(v1.get(p.id_element), str) and v1[p.id_element].strip()]
    if len(given) > 1:
        words = [p.word for p in parents]
        raise RecordError(f"the {noun} is linked to {' and '.join(p.id_element for p, _ in given)}; a v2 {noun} "
                          f"can be linked to only one {', '.join(words[:-1])} or {words[-1]}")
    if not given:
        return {}
    parent, raw = given[0]
    if not (raw.strip().isascii() and raw.strip().isdigit()) or int(raw) == 0:
        raise RecordError(f"{parent.id_element} must be a positive whole number, got {raw!r}")
    return {parent.link: {"id": int(raw)}}


def _zone_columns(shape: Shape, convert: Any) -> list[Any]:
    """The columns whose result differs between two zones 14 hours apart."""
    return [column for column in shape.columns
            if convert(column, _PROBE_ZONES[0]) != convert(column, _PROBE_ZONES[1])]


def v1_to_v2(v1: Mapping[str, Any], *, root: str, zone: ZoneInfo | None, maps: Maps,
             links: bool = True) -> dict[str, Any]:
    """One stored v1 record (of root ``root``) -> the v2 object a create sends."""
    family = ROOTS[root]
    shape = family.shape(root)
    if not shape.writable:
        raise RecordError(f"every element of <{root}> is read-only: there is nothing to send v2")
    document, problems = dict(v1), []
    while True:
        try:
            body = to_v2(shape, document, _context(maps, zone or _PROBE_ZONES[0], creating=True))
            break
        except UnknownName as exc:                # every name the files lack, then the rest
            if exc.field not in document:
                raise RecordError("; ".join([*problems, exc.message])) from None
            name = document.pop(exc.field)
            problems.append(maps.missing(exc.lookup, f"{exc.field} {str(name).strip()!r}", family.noun))
        except InvalidField as exc:
            problems.append(exc.message)
            raise RecordError("; ".join(problems)) from None
    if problems:
        raise RecordError("; ".join(problems))
    if zone is None:
        def write(column: Any, probe: ZoneInfo) -> Any:
            present = column.write is not None and any(name in v1 for name in column.names)
            return column.write(v1, _context(maps, probe, creating=True)) if present else None
        moving = _zone_columns(shape, write)
        if moving:
            column = moving[0]
            given = " and ".join(name for name in column.names if name in v1)
            raise RecordError(f"the {family.noun} has a {given}, which v2 keeps as the owner's local time: "
                              "pass --timezone ZONE (the owner's zone in Capsule)")
    return body | (stored_links(v1, shape, family.noun) if links else {})


# --- v2 -> v1 -----------------------------------------------------------------------------------

@dataclass
class V2Document:
    family: Resource
    items: list[Any]
    is_list: bool


def _v2_items(data: Any, where: str) -> tuple[Resource, list[Any], bool]:
    if isinstance(data, dict):
        keys = [key for key in data if key != "source"]
        if len(keys) == 1 and keys[0] in V2_KEYS:
            family, value = V2_KEYS[keys[0]], data[keys[0]]
            if keys[0] == family.v2.item:
                return family, [value], False
            if isinstance(value, list):
                return family, list(value), True
    items = sorted({f'{{"{r.v2.item}": {{...}}}}' for r in FAMILIES} | {f'{{"{r.v2.collection}": [...]}}' for r in FAMILIES})
    raise RecordError(f"{where}not a v2 document of a translated family: expected " + ", ".join(items[:-1])
                      + f" or {items[-1]}")


def read_v2(body: bytes) -> V2Document:
    """A v2 document (one JSON value, or JSON Lines) -> its family and objects."""
    text = body.removeprefix(b"\xef\xbb\xbf")
    if not text.strip():
        raise RecordError("the document is empty")
    try:
        return V2Document(*_v2_items(orjson.loads(text), ""))
    except orjson.JSONDecodeError as whole:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise RecordError(f"malformed JSON: {whole}") from None
    family, items = None, []
    for number, line in enumerate(lines, 1):
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"line {number}: malformed JSON: {exc}") from None
        found, found_items, _ = _v2_items(data, f"line {number}: ")
        if family is not None and found is not family:
            raise RecordError(f"line {number}: a {found.noun} among {family.noun}s: one family per input")
        family = found
        items.extend(found_items)
    assert family is not None
    return V2Document(family, items, True)


@functools.cache
def link_keys(shape: Shape) -> dict[str, tuple[str, str, str]]:
    """v2 key -> (look-up, name key, v1 element) for each element written by name: found by
    running the element's own writer on a probe name, not by a list of links."""
    found = {}
    for column in shape.columns:
        if not (isinstance(column, Field) and column.lookups and column.write is not None):
            continue
        probe = {lookup: Lookup(lookup, "", ids={"probe": 1}) for lookup in column.lookups}
        ctx = OfflineContext(zone_override=_PROBE_ZONES[0], offline=probe)
        try:
            written = column.write({column.name: "probe"}, ctx)
        except InvalidField:
            continue
        for key, value in written.items():
            if isinstance(value, dict) and value.get("id") == 1 and ctx.asked:
                lookup, name_key = next(iter(ctx.asked.items()))
                found[key] = (lookup, name_key, column.name)
    return found


def named_links(v2: Mapping[str, Any], shape: Shape, maps: Maps, noun: str) -> dict[str, Any]:
    """Links given by id only (`"owner": {"id": 7}`) get their name from the files (id -> name)."""
    record = dict(v2)
    for key, (lookup, name_key, element) in link_keys(shape).items():
        link = record.get(key)
        if not isinstance(link, dict) or isinstance(link.get(name_key), str):
            continue
        ident = link.get("id")
        given = maps.lookups.get(lookup)
        name = given.name_of(ident, name_key) if given is not None else None
        if name is None:
            raise RecordError(maps.missing(lookup, f"{element} id {ident!r}", noun))
        record[key] = {**link, name_key: name}
    return record


def v2_to_v1(v2: Any, *, family: Resource, zone: ZoneInfo | None, maps: Maps) -> tuple[str, dict[str, Any]]:
    """One v2 object -> (its v1 root, the neutral v1 record the codec writes)."""
    if not isinstance(v2, dict):
        raise RecordError(f"a {family.noun} must be a JSON object")
    try:
        shape = family.answer_shape(v2)
        record = named_links(v2, shape, maps, family.noun)
        if zone is None:
            def read(column: Any, probe: ZoneInfo) -> Any:
                return column.read(record, _context(maps, probe)) if column.read is not None else None
            moving = _zone_columns(shape, read)
            if moving:
                column = moving[0]
                raise RecordError(f"the {family.noun} has a time of day, the owner's local time in v2: pass "
                                  "--timezone ZONE (the owner's zone in Capsule) to turn it into a v1 "
                                  + "/".join(column.names))
        return shape.root, to_v1(shape, record, _context(maps, zone or _PROBE_ZONES[0]))
    except UpstreamDataError as exc:
        raise RecordError(str(exc)) from None


# --- inputs, outputs, progress ----------------------------------------------------------------

@dataclass
class Input:
    name: str                      # as shown in messages and "source"
    path: Path | None              # None: stdin
    relative: Path                 # where its output goes, under --output


def find_inputs(arguments: Iterable[str], suffixes: tuple[str, ...]) -> tuple[list[Input], list[tuple[str, str]]]:
    """The files to read, in order, and (argument, reason) for arguments that are neither."""
    found: list[Input] = []
    missing: list[tuple[str, str]] = []
    for argument in arguments:
        if argument == "-":
            found.append(Input("stdin", None, Path("stdin")))
            continue
        path = Path(argument)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes):
                found.append(Input(str(file), file, file.relative_to(path)))
        elif path.is_file():
            found.append(Input(str(path), path, Path(path.name)))
        elif path.exists():
            missing.append((argument, "not a regular file or folder"))
        else:
            missing.append((argument, "no such file or folder"))
    return found, missing


class Progress:
    """`converting 12/40 files` on one line, redrawn with \\r; only on a terminal, only for > 1."""

    def __init__(self, stream: TextIO, total: int, enabled: bool | None = None):
        if enabled is None:
            isatty = getattr(stream, "isatty", None)
            enabled = bool(isatty and isatty()) and total > 1
        self.stream, self.total, self.enabled, self.done = stream, total, enabled, 0
        self._width = 0

    def advance(self) -> None:
        self.done += 1
        if self.enabled:
            filled = (20 * self.done) // max(self.total, 1)
            text = f"converting [{'#' * filled}{' ' * (20 - filled)}] {self.done}/{self.total} files"
            self._width = max(self._width, len(text))
            self.stream.write("\r" + text)
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


@dataclass
class Failure:
    source: str
    reason: str


@dataclass
class Report:
    inputs: int = 0
    converted: dict[str, int] = field(default_factory=dict)      # family name -> records converted
    failures: list[Failure] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return 1 if self.failures else 0

    def summary(self) -> str:
        files = f"{self.inputs} file{'s' if self.inputs != 1 else ''}"
        families = {resource.name: resource for resource in FAMILIES}
        counts = [plural(families[name], count) for name, count in self.converted.items()]
        records = " and ".join(counts) or "0 records"
        if not self.failures:
            return f"converted {records} from {files}; none failed\n"
        lines = [f"converted {records} from {files}; {len(self.failures)} failed:"]
        lines += [f"  {failure.source}: {failure.reason}" for failure in self.failures]
        return "\n".join(lines) + "\n"


@dataclass
class Options:
    to: str = "v2"                       # "v2" or "v1"
    zone: ZoneInfo | None = None
    maps: Maps = field(default_factory=Maps)
    fmt: str = codec.XML                 # v1 output format
    output: Path | None = None
    links: bool = True


@dataclass
class Converted:
    family: Resource
    records: list[tuple[str, str, Any]]  # (source, v1 root or v2 item, record)
    is_list: bool
    held: int                            # records the input holds


def _suffix(options: Options) -> str:
    return ".json" if options.to == "v2" or options.fmt == codec.JSON else ".xml"


def _convert_input(data: bytes, source: str, options: Options, report: Report) -> Converted | None:
    """The records of one input, converted (failures go to the report); None if it cannot be read."""
    try:
        document: V1Document | V2Document = read_v1(data) if options.to == "v2" else read_v2(data)
    except DocumentError as exc:
        report.failures.append(Failure(source, exc.message))
        return None
    except RecordError as exc:
        report.failures.append(Failure(source, str(exc)))
        return None
    family = document.family
    done: list[tuple[str, str, Any]] = []
    for number, item in enumerate(document.items, 1):
        where = f"{source}#{number}" if document.is_list else source
        try:
            if isinstance(document, V1Document):
                root, record = item
                done.append((where, family.v2.item, v1_to_v2(record, root=root, zone=options.zone,
                                                             maps=options.maps, links=options.links)))
            else:
                done.append((where, *v2_to_v1(item, family=family, zone=options.zone, maps=options.maps)))
        except RecordError as exc:
            report.failures.append(Failure(where, str(exc)))
    report.converted[family.name] = report.converted.get(family.name, 0) + len(done)
    return Converted(family, done, document.is_list, len(document.items))


def _line(where: str, key: str, record: Any, options: Options) -> bytes:
    if options.to == "v1" and options.fmt == codec.XML:
        return orjson.dumps({"source": where, "xml": xml_codec.encode(key, record).decode("utf-8")}) + b"\n"
    return orjson.dumps({"source": where, key: record}) + b"\n"


def _document(result: Converted, options: Options) -> bytes:
    family, records = result.family, [(key, record) for _, key, record in result.records]
    if options.to == "v2":
        data = ({family.v2.collection: [record for _, record in records]} if result.is_list
                else {family.v2.item: records[0][1]})
        return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
    if result.is_list:
        return codec.encode_list(family.list_root, records, options.fmt, always_list=True,
                                 item=family.shapes[0].root) + b"\n"
    return codec.encode(records[0][0], records[0][1], options.fmt) + b"\n"


def convert(arguments: Iterable[str], options: Options, *, stdin: BinaryIO | None = None,
            stdout: BinaryIO | None = None, stderr: TextIO | None = None,
            progress: bool | None = None) -> Report:
    """Convert every input; write the results and the summary. The Report says what happened."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    stderr = stderr if stderr is not None else sys.stderr
    inputs, missing = find_inputs(arguments, V2_SUFFIXES if options.to == "v1" else V1_SUFFIXES)
    report = Report(inputs=len(inputs))
    report.failures.extend(Failure(argument, reason) for argument, reason in missing)
    if options.output is not None:
        options.output.mkdir(parents=True, exist_ok=True)
    outputs: dict[Path, str] = {}
    meter = Progress(stderr, len(inputs), progress)
    try:
        for item in inputs:
            try:
                data = stdin.read() if item.path is None else item.path.read_bytes()
            except OSError as exc:
                report.failures.append(Failure(item.name, f"cannot be read ({exc.strerror or exc})"))
                meter.advance()
                continue
            if len(data) > MAX_DOCUMENT_BYTES:
                report.failures.append(Failure(item.name, f"larger than {MAX_DOCUMENT_BYTES} bytes"))
                meter.advance()
                continue
            result = _convert_input(data, item.name, options, report)
            if result is not None:
                if options.output is None:
                    stdout.write(b"".join(_line(where, key, record, options) for where, key, record in result.records))
                elif result.records or not result.held:  # an empty list is written; a list of failures is not
                    target = options.output / item.relative.with_suffix(_suffix(options))
                    if target in outputs:
                        report.failures.append(Failure(item.name, f"its output {target} would overwrite "
                                                                  f"the one written for {outputs[target]}"))
                    else:
                        outputs[target] = item.name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(_document(result, options))
                        report.written.append(target)
            meter.advance()
    finally:
        meter.close()
    stdout.flush()
    stderr.write(report.summary())
    stderr.flush()
    return report
