"""`capsule-proxy convert`: stored v1 task documents <-> v2 task bodies, offline.

The rules are the proxy's own: documents are read by the v1 codecs (`proxy.v1.xml_codec`,
`proxy.v1.json_codec`: same XSD validation, same messages) and translated by
`proxy.translate.tasks.task_to_v2` / `task_to_v1`. Only the look-ups differ: the owner and
category maps given on the command line stand in for `GET /api/v2/users` and
`GET /api/v2/categories`, and a name (or id) missing from them is an error for that task.

Two steps exist here and not in the proxy, because stored documents differ from requests:

* **Links** (`stored_links`, v1 -> v2): a stored task carries its `partyId`, `opportunityId`
  or `caseId`. The proxy ignores those read-only elements in a `PUT` (a task's link never
  changes in v1); a converted task keeps its link, as `{"party": {"id": N}}` built by
  `translate.tasks.link_for_parent`. A task linked to more than one is an error.
  `--no-links` leaves links out.
* **Names** (`named_links`, v2 -> v1): a v2 *request* body names its owner and category by id
  only, and `task_to_v1` reads `owner.username` / `category.name` as v2 *answers* have them;
  the maps, read backwards (id -> name), fill them in.

Decisions:

* Input: files, folders (searched recursively, in name order, for `*.xml` and `*.json` with
  `--to v2`, `*.json` and `*.jsonl` with `--to v1`; other files are skipped), or `-` for
  stdin. XML or JSON is told from the content (first character `<` or `{`), not the name.
  A v1 document is one `<task>` / `{"task": ...}` or a `<tasks>` / `{"tasks": ...}` list.
  A v2 document is `{"task": {...}}`, `{"tasks": [...]}`, or JSON Lines of `{"task": ...}`
  (an extra `"source"` member, as written by this command, is ignored).
* `--timezone`: there is no default. A v1 `dueDateTime` becomes v2 `dueOn` + `dueTime` in the
  owner's zone, and guessing it would shift every time silently; so a task with a time of day
  is an error without `--timezone` (use `--timezone UTC` when that is right). Tasks with only
  a `dueDate` need no zone.
* Maps (`--owner-map`, `--category-map`): a JSON or TOML (by the `.toml` suffix) object of
  name -> id, or a saved v2 answer: `{"users": [...]}` (username -> id) or
  `{"categories": [...]}` (name -> id). Names match as in the proxy (exact, then one
  case-insensitive match).
* Output without `--output`: JSON Lines on stdout, one line per converted task:
  `{"source": "FILE[#N]", "task": {...}}` (N counts the tasks of a list from 1). With
  `--to v1 --format xml` the line is `{"source": ..., "xml": "<?xml ...><task>...</task>"}`.
  With `--output DIR`: one file per input, named after it (a folder's files keep their
  relative paths): `{"task": {...}}` or `{"tasks": [...]}` (`--to v2`), or a v1 `<task>` /
  `<tasks>` document (`--to v1`, `--format xml` by default, or `json`). A list input is written
  with the tasks that converted; an input none of whose tasks could be read is not written.
* Read-only v1 elements other than the links (id, names, status, timestamps) are dropped:
  v2 assigns them.
* Progress: a one-line meter on stderr, only when stderr is a terminal and there is more than
  one input. Summary on stderr: tasks converted, and each failure with its reason. The exit
  status is 1 when anything failed, 0 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Mapping, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ..resources.base import PARENTS
from ..resources.task import TASK_SHAPE
from ..translate.errors import InvalidField, UpstreamDataError
from ..translate.fields import Context, NameIndex, to_v1, to_v2
from ..v1 import codec, json_codec, xml_codec
from ..v1.documents import DocumentError

#: Largest document read (stored exports can be far larger than a request body).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
V1_SUFFIXES = (".xml", ".json")
V2_SUFFIXES = (".json", ".jsonl")
#: v1 read-only id element -> the v2 link it stands for (from the one parent table).
LINK_ELEMENTS = {parent.id_element: parent.link for parent in PARENTS.values()}
_UTC = ZoneInfo("UTC")


class UsageError(Exception):
    """A bad option (map file, zone): nothing was converted; exit status 2."""


# --- options ----------------------------------------------------------------------------------

def parse_zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone: unknown IANA time zone {name!r}") from None


def load_map(path: str | os.PathLike[str], option: str) -> dict[str, int]:
    """A name -> id map from JSON or TOML, or from a saved v2 users/categories answer."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8")) if path.suffix.lower() == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path}: not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'} "
                         f"({exc})") from None
    return map_from_data(data, f"{option} {path}")


def map_from_data(data: Any, where: str) -> dict[str, int]:
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        (key, items), = data.items()
        name_key = {"users": "username", "categories": "name"}.get(key)
        if name_key is None:
            raise UsageError(f"{where}: expected an object of name -> id, or a v2 "
                             f'{{"users": [...]}} or {{"categories": [...]}} answer; got {key!r}')
        data = {item.get(name_key): item.get("id") for item in items if isinstance(item, dict)}
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected an object of name -> id")
    mapping: dict[str, int] = {}
    for name, ident in data.items():
        if isinstance(ident, str) and ident.isascii() and ident.isdigit():
            ident = int(ident)
        if not isinstance(name, str) or not name.strip() or isinstance(ident, bool) \
                or not isinstance(ident, int) or ident <= 0:
            raise UsageError(f"{where}: entry {name!r}: expected a name and a positive whole-number id, "
                             f"got {ident!r}")
        mapping[name] = ident
    return mapping


@dataclass
class Maps:
    """The look-up maps that stand in for v2's users and categories."""

    owners: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    owner_source: str | None = None
    category_source: str | None = None

    def ids(self, what: str) -> dict[str, int]:
        return self.owners if what == "owner" else self.categories

    def missing(self, what: str, shown: str) -> str:
        """The message for a name or id (`shown`, e.g. "owner 'a.user'") the map lacks."""
        source = self.owner_source if what == "owner" else self.category_source
        if source:
            return f"{shown} is not in the {what} map {source}"
        option = "--owner-map" if what == "owner" else "--category-map"
        return f"the task names {shown}, but no {option} FILE was given to look it up"

    @classmethod
    def load(cls, owner_map: str | None, category_map: str | None) -> "Maps":
        return cls(load_map(owner_map, "--owner-map") if owner_map else {},
                   load_map(category_map, "--category-map") if category_map else {},
                   owner_map, category_map)


# --- v1 -> v2 ---------------------------------------------------------------------------------

class TaskError(Exception):
    """One task could not be converted; the message says why."""


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


def read_v1(body: bytes) -> tuple[list[dict[str, str]], bool]:
    """A stored v1 document -> (its tasks in neutral form, whether it is a list).

    Raises DocumentError (the codec's message) or TaskError (not a task document).
    """
    first = _first_byte(body)
    if first == b"<":
        root, one, many, shown = _xml_root(body), xml_codec.decode, xml_codec.decode_list, "<{}>"
    elif first == b"{":
        root, one, many, shown = _json_root(body), json_codec.decode, json_codec.decode_list, '"{}"'
    elif not first:
        raise TaskError("the document is empty")
    else:
        raise TaskError("neither XML (starting with <) nor JSON (starting with {)")
    if root == "tasks":
        return [record for _, record in many(body, ("tasks",), max_bytes=MAX_DOCUMENT_BYTES)[1]], True
    if root not in (None, "task"):
        raise TaskError(f"not a v1 task document: its root is {shown.format(root)}, "
                        f"expected {shown.format('task')} or {shown.format('tasks')}")
    return [one(body, ("task",), max_bytes=MAX_DOCUMENT_BYTES)[1]], False


def stored_links(v1: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """The v2 link of a stored v1 task (`partyId` -> `{"party": {"id": N}}`, ...).

    The separate step described in the module doc: the proxy itself never reads these ids.
    """
    given = [(element, v1[element]) for element in LINK_ELEMENTS if (v1.get(element) or "").strip()]
    if len(given) > 1:
        raise TaskError(f"the task is linked to {' and '.join(e for e, _ in given)}; "
                        "a v2 task can be linked to only one party, opportunity or kase")
    if not given:
        return {}
    element, raw = given[0]
    if not (raw.strip().isascii() and raw.strip().isdigit()) or int(raw) == 0:
        raise TaskError(f"{element} must be a positive whole number, got {raw!r}")
    return {LINK_ELEMENTS[element]: {"id": int(raw)}}


def _check_names(v1: Mapping[str, str], maps: Maps) -> None:
    """A name the map does not have is this command's error (the map's name in the message)."""
    problems = []
    for what in ("owner", "category"):
        name = (v1.get(what) or "").strip()
        if not name:
            continue
        ids = maps.ids(what)
        if NameIndex(_records(what, ids), _NAME_KEYS[what]).find(name) is not None:
            continue
        same = sorted(known for known in ids if known.strip().casefold() == name.casefold())
        if len(same) > 1:
            problems.append(f"{what} {name!r} matches several entries of the {what} map that differ "
                            f"only in case ({', '.join(same)}); use the exact name")
        else:
            problems.append(maps.missing(what, f"{what} {name!r}"))
    if problems:
        raise TaskError("; ".join(problems))


_NAME_KEYS = {"owner": "username", "category": "name"}


def _records(what: str, ids: Mapping[str, int]) -> list[dict[str, Any]]:
    """A map given on the command line, as the v2 list it stands in for."""
    return [{"id": ident, _NAME_KEYS[what]: name} for name, ident in ids.items()]


def v1_to_v2(v1: Mapping[str, str], *, zone: ZoneInfo | None, maps: Maps,
             links: bool = True) -> dict[str, Any]:
    """One stored v1 task -> the v2 `task` object for `POST /api/v2/tasks`."""
    if (v1.get("dueDateTime") or "").strip() and zone is None:
        raise TaskError("the task has a dueDateTime, whose v2 dueTime is the owner's local time: "
                        "pass --timezone ZONE (the owner's zone in Capsule)")
    _check_names(v1, maps)
    try:
        ctx = Context(creating=True, zone_override=zone or _UTC,
                      lists={"users": _records("owner", maps.owners),
                             "categories": _records("category", maps.categories)})
        return to_v2(TASK_SHAPE, v1, ctx) | (stored_links(v1) if links else {})
    except InvalidField as exc:
        raise TaskError(exc.message) from None


# --- v2 -> v1 ---------------------------------------------------------------------------------

def _v2_items(data: Any, where: str) -> tuple[list[Any], bool]:
    if isinstance(data, dict):
        extra = set(data) - {"task", "tasks", "source"}
        if "task" in data and "tasks" not in data and not extra:
            return [data["task"]], False
        if "tasks" in data and "task" not in data and not extra and isinstance(data["tasks"], list):
            return list(data["tasks"]), True
    raise TaskError(f"{where}not a v2 task document: expected {{\"task\": {{...}}}} or {{\"tasks\": [...]}}")


def read_v2(body: bytes) -> tuple[list[Any], bool]:
    """A v2 document (one JSON value, or JSON Lines) -> (its task objects, whether a list)."""
    text = body.removeprefix(b"\xef\xbb\xbf")
    if not text.strip():
        raise TaskError("the document is empty")
    try:
        return _v2_items(orjson.loads(text), "")
    except orjson.JSONDecodeError as whole:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise TaskError(f"malformed JSON: {whole}") from None
    items: list[Any] = []
    for number, line in enumerate(lines, 1):
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise TaskError(f"line {number}: malformed JSON: {exc}") from None
        items.extend(_v2_items(data, f"line {number}: ")[0])
    return items, True


def named_links(v2: Mapping[str, Any], maps: Maps) -> dict[str, Any]:
    """`owner`/`category` given by id only get their username/name from the maps (id -> name)."""
    task = dict(v2)
    for what, name_key in (("owner", "username"), ("category", "name")):
        link = task.get(what)
        if not isinstance(link, dict) or isinstance(link.get(name_key), str):
            continue
        ident = link.get("id")
        names = [name for name, known in maps.ids(what).items() if known == ident]
        if not names:
            raise TaskError(maps.missing(what, f"{what} id {ident!r}"))
        task[what] = {**link, name_key: names[0]}
    return task


def v2_to_v1(v2: Any, *, zone: ZoneInfo | None, maps: Maps) -> dict[str, str]:
    """One v2 task object -> the neutral v1 task dict (the codec writes it)."""
    if not isinstance(v2, dict):
        raise TaskError("a task must be a JSON object")
    if v2.get("dueTime") and zone is None:
        raise TaskError("the task has a dueTime, the owner's local time: pass --timezone ZONE "
                        "(the owner's zone in Capsule) to turn it into a v1 dueDateTime")
    try:
        return to_v1(TASK_SHAPE, named_links(v2, maps), Context(zone_override=zone or _UTC))
    except UpstreamDataError as exc:
        raise TaskError(str(exc)) from None


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
    converted: int = 0
    failures: list[Failure] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return 1 if self.failures else 0

    def summary(self) -> str:
        files = f"{self.inputs} file{'s' if self.inputs != 1 else ''}"
        tasks = f"{self.converted} task{'s' if self.converted != 1 else ''}"
        if not self.failures:
            return f"converted {tasks} from {files}; none failed\n"
        lines = [f"converted {tasks} from {files}; {len(self.failures)} failed:"]
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


def _suffix(options: Options) -> str:
    return ".json" if options.to == "v2" or options.fmt == codec.JSON else ".xml"


def _convert_input(data: bytes, source: str, options: Options,
                   report: Report) -> tuple[list[tuple[str, Any]], bool, int] | None:
    """(the converted tasks with their sources, whether the input is a list, how many tasks it
    holds) for one input; None if it cannot be read at all."""
    try:
        items, is_list = read_v1(data) if options.to == "v2" else read_v2(data)
    except DocumentError as exc:
        report.failures.append(Failure(source, exc.message))
        return None
    except TaskError as exc:
        report.failures.append(Failure(source, str(exc)))
        return None
    converted: list[tuple[str, Any]] = []
    for number, item in enumerate(items, 1):
        where = f"{source}#{number}" if is_list else source
        try:
            if options.to == "v2":
                converted.append((where, v1_to_v2(item, zone=options.zone, maps=options.maps, links=options.links)))
            else:
                converted.append((where, v2_to_v1(item, zone=options.zone, maps=options.maps)))
        except TaskError as exc:
            report.failures.append(Failure(where, str(exc)))
    report.converted += len(converted)
    return converted, is_list, len(items)


def _line(where: str, task: Any, options: Options) -> bytes:
    if options.to == "v1" and options.fmt == codec.XML:
        return orjson.dumps({"source": where, "xml": xml_codec.encode("task", task).decode("utf-8")}) + b"\n"
    return orjson.dumps({"source": where, "task": task}) + b"\n"


def _document(tasks: list[Any], is_list: bool, options: Options) -> bytes:
    if options.to == "v2":
        data = {"tasks": tasks} if is_list else {"task": tasks[0]}
        return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
    if is_list:
        return codec.encode_list("tasks", [("task", t) for t in tasks], options.fmt, always_list=True,
                                 item="task") + b"\n"
    return codec.encode("task", tasks[0], options.fmt) + b"\n"


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
                tasks, is_list, held = result
                if options.output is None:
                    stdout.write(b"".join(_line(where, task, options) for where, task in tasks))
                elif tasks or not held:  # an empty list is written; a list of failures is not
                    target = options.output / item.relative.with_suffix(_suffix(options))
                    if target in outputs:
                        report.failures.append(Failure(item.name, f"its output {target} would overwrite "
                                                                  f"the one written for {outputs[target]}"))
                    else:
                        outputs[target] = item.name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(_document([task for _, task in tasks], is_list, options))
                        report.written.append(target)
            meter.advance()
    finally:
        meter.close()
    stdout.flush()
    stderr.write(report.summary())
    stderr.flush()
    return report
